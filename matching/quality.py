"""Linkage quality by group (issue 9): does linkage work as well for every community, age band,
sex and area? Groups too small to report safely are suppressed, and groups whose records are
left on their own far more often than their agencies' records are elsewhere are flagged as
possibly under-linked."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .ethnicity import to_ons_2021
from .linkage import LinkageResult

AGE_BANDS = [(-1, 4, "0-4"), (5, 10, "5-10"), (11, 15, "11-15"), (16, 17, "16-17"), (18, 24, "18-24"),
             (25, 44, "25-44"), (45, 64, "45-64"), (65, 200, "65+")]
LINK_STATUSES = ("link", "clerical match")
# A group is flagged as possibly under-linked when its single-record share is at least this many
# times the share expected from the agencies its records come from, and at least this much
# above it: a ratio alone would flag a tiny group for one stray record.
UNDER_LINKED_RATIO = 1.5
UNDER_LINKED_EXCESS = 0.02


def quality_by_group(records: pd.DataFrame, result: LinkageResult, min_group: int = 10) -> pd.DataFrame:
    """One row per (group_type, group): records, persons, share of persons known to more than
    one agency, share of records left as single-record persons, the share expected from the
    agencies the group's records come from, mean match weight of accepted links, share of scored
    pairs in the review band, and `possibly_under_linked`. Groups with fewer than `min_group`
    persons are left out.

    Expected single-record share: each agency's records are left on their own at some rate
    across the whole population (a school sees most children every term; the police see many
    people once), so a group seen mostly by one agency has that agency's rate. The group's
    expected share is the mean of those rates over its records; a group is flagged when its
    observed share is at least UNDER_LINKED_RATIO times the expected one and UNDER_LINKED_EXCESS
    above it: its people are split into several persons more often than their agencies explain."""
    cols = ["group_type", "group", "records", "persons", "multi_agency_share", "single_record_share",
            "expected_single_record_share", "possibly_under_linked", "mean_link_weight", "review_share"]
    records = records.reset_index(drop=True)
    rl = result.record_links
    per, rec = _persons(records, result)

    pairs = result.pairs
    # Persons as integer positions in `per`; pairs as positions of their two persons.
    pos = pd.Series(np.arange(len(per)), index=per.index)
    rid_pos = pos.reindex(rl["person_id"].to_numpy()).to_numpy()
    # 32-bit positions and codes: these arrays are as long as the pairs, the largest of a run.
    position = np.int32 if len(per) < (1 << 31) else np.int64
    groups = []
    for gtype in GROUP_TYPES:
        codes, labels = pd.factorize(per[gtype], sort=True)
        if len(labels):
            groups.append((gtype, codes.astype(position), labels))
    counted = _PairCounts(groups)
    positions = RecordPositions(pairs, rl, rid_pos)     # the records' keys looked up once
    # The pairs a slice at a time: every per-pair array is as long as the slice, not the pairs.
    for lo in range(0, len(pairs), PAIRS_A_SLICE):
        counted.add(pairs.iloc[lo:lo + PAIRS_A_SLICE], positions, position)

    rows = []
    for (gtype, codes, labels), (touched, reviewed, link_n, link_w) in zip(groups, counted.totals()):
        k = len(labels)
        sizes = np.bincount(codes[codes >= 0], minlength=k)
        recs = per["records"].to_numpy()
        multi = (per["agencies"].to_numpy() > 1)
        in_g = codes >= 0
        rec_sum = np.bincount(codes[in_g], weights=recs[in_g], minlength=k)
        multi_sum = np.bincount(codes[in_g], weights=multi[in_g], minlength=k)
        single_sum = np.bincount(codes[in_g], weights=(recs[in_g] == 1), minlength=k)
        expected_sum = np.bincount(codes[in_g], weights=per["expected_single"].to_numpy()[in_g], minlength=k)
        for i in sorted(range(k), key=lambda j: _group_order(gtype, str(labels[j]))):
            if sizes[i] < min_group:
                continue
            single = float(single_sum[i] / max(rec_sum[i], 1))
            expected = float(expected_sum[i] / max(rec_sum[i], 1))
            rows.append({
                "group_type": gtype, "group": str(labels[i]), "records": int(rec_sum[i]),
                "persons": int(sizes[i]),
                "multi_agency_share": round(float(multi_sum[i] / sizes[i]), 4),
                "single_record_share": round(single, 4),
                "expected_single_record_share": round(expected, 4),
                "possibly_under_linked": bool(single >= UNDER_LINKED_RATIO * expected
                                              and single - expected >= UNDER_LINKED_EXCESS),
                "mean_link_weight": round(float(link_w[i] / link_n[i]), 3) if link_n[i] else np.nan,
                "review_share": round(float(reviewed[i] / touched[i]), 4) if touched[i] else np.nan,
            })
    return pd.DataFrame(rows, columns=cols)


GROUP_TYPES = ("ethnicity", "age band", "sex", "postcode district")
PAIRS_A_SLICE = 1 << 22


class _PairCounts:
    """Per group: pairs touching it, those in the review band, and its persons' own links with
    their weights, added up a slice of pairs at a time. Counts are whole numbers (any slicing
    gives the same); the weights of the links are kept, in pair order, and summed once at the
    end, so that the sums are exactly those of one pass over every pair."""

    def __init__(self, groups):
        self.groups = groups
        self.touched = [np.zeros(len(labels), np.int64) for _, _, labels in groups]
        self.reviewed = [np.zeros(len(labels), np.int64) for _, _, labels in groups]
        self.link_group: list[list[np.ndarray]] = [[] for _ in groups]
        self.link_weight: list[np.ndarray] = []

    def add(self, pairs: pd.DataFrame, positions: RecordPositions, position) -> None:
        pl, pr = positions(pairs)
        known = ~(np.isnan(pl) | np.isnan(pr))
        pl = np.where(known, pl, 0).astype(position)
        pr = np.where(known, pr, 0).astype(position)
        is_link = pairs["status"].isin(LINK_STATUSES).to_numpy() & known
        is_review = (pairs["status"] == "review").to_numpy() & known
        weight = pairs["match_weight"].to_numpy()      # float32 from linking, widened exactly where summed
        if weight.dtype.kind != "f":
            weight = weight.astype(float)
        own_link = is_link & (pl == pr)
        self.link_weight.append(weight[own_link])
        for g, (_, codes, labels) in enumerate(self.groups):
            k = len(labels)
            # A pair touches a group when either of its persons is in it (counted once per pair).
            gl, gr = codes[pl], codes[pr]
            touch_l = known & (gl >= 0)
            touch_r = known & (gr >= 0) & (gr != gl)
            self.touched[g] += np.bincount(gl[touch_l], minlength=k) + np.bincount(gr[touch_r], minlength=k)
            self.reviewed[g] += (np.bincount(gl[touch_l & is_review], minlength=k)
                                 + np.bincount(gr[touch_r & is_review], minlength=k))
            # the group of each own link's person, -1 outside every group of this type
            self.link_group[g].append(gl[own_link])

    def totals(self):
        """(touched, reviewed, links, link weight sum) per group type, in the order given."""
        weight = np.concatenate(self.link_weight) if self.link_weight else np.empty(0)
        for g, (_, _, labels) in enumerate(self.groups):
            k = len(labels)
            gl = np.concatenate(self.link_group[g]) if self.link_group[g] else np.empty(0, np.int64)
            own = gl >= 0
            yield (self.touched[g], self.reviewed[g], np.bincount(gl[own], minlength=k),
                   np.bincount(gl[own], weights=weight[own], minlength=k))


def _persons(records: pd.DataFrame, result: LinkageResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per person: records, agencies, expected single records and the group of each
    GROUP_TYPES; one row per record: person_id, source, ethnicity, sex)."""
    rl = result.record_links
    src, rid = records["source"].astype(str).to_numpy(), records["record_id"].astype(str).to_numpy()
    if len(rl) == len(records) and (rl["source"].astype(str).to_numpy() == src).all() \
            and (rl["record_id"].astype(str).to_numpy() == rid).all():
        person = rl["person_id"].to_numpy()       # record_links come in the records' order
    else:
        key = pd.MultiIndex.from_arrays([src, rid])
        person = rl.set_index(["source", "record_id"])["person_id"].reindex(key).to_numpy()
    rec = pd.DataFrame({"person_id": person, "source": records["source"].astype(str).to_numpy(),
                        # one scheme (ONS 2021), so that a group is a community, not an agency's codes
                        "ethnicity": to_ons_2021(records["ethnicity"]).to_numpy() if "ethnicity" in records else None,
                        "sex": records["sex"].to_numpy() if "sex" in records else None})
    members = result.members.set_index("person_id")
    per = pd.DataFrame(index=members.index)
    per["records"] = rec.groupby("person_id").size().reindex(per.index).fillna(0).astype(int)
    per["agencies"] = rec.groupby("person_id")["source"].nunique().reindex(per.index).fillna(0)
    per["age band"] = _age_bands(members["age"])
    per["sex"] = _modes(rec, "sex").reindex(per.index)
    per["ethnicity"] = _modes(rec, "ethnicity").reindex(per.index)
    # Each agency's rate of records left as single-record persons, over the whole population.
    rec_single = (per["records"].reindex(rec["person_id"]).to_numpy() == 1)
    src_rate = pd.Series(rec_single, index=rec["source"].to_numpy()).groupby(level=0).mean()
    per["expected_single"] = pd.Series(src_rate.reindex(rec["source"]).to_numpy(), index=rec["person_id"].to_numpy()) \
        .groupby(level=0).sum().reindex(per.index).fillna(0).to_numpy()
    per["postcode district"] = members["postcode"].astype("string").str.split(" ").str[0].astype(object)
    per.loc[per["postcode district"].isna(), "postcode district"] = None
    return per, rec


def record_groups(records: pd.DataFrame, result: LinkageResult) -> pd.DataFrame:
    """Per record (in the order of `records`): the group of each GROUP_TYPES that its person is
    counted in by quality_by_group (None where unknown). For checking the table against a
    ground truth."""
    records = records.reset_index(drop=True)
    per, rec = _persons(records, result)
    return per.reindex(rec["person_id"].to_numpy())[list(GROUP_TYPES)].reset_index(drop=True)


class RecordPositions:
    """Each pair's two records as the positions of their persons (NaN where unknown), by
    integer keys: pairs hold source and record_id as categoricals, so no string is compared
    per pair. Built once on the whole pairs frame (its records' keys looked up once), then
    used on any slice of it."""

    def __init__(self, pairs: pd.DataFrame, rl: pd.DataFrame, rid_pos: np.ndarray):
        def cats(col: str) -> pd.Index:
            c = pairs[col]
            return c.cat.categories if isinstance(c.dtype, pd.CategoricalDtype) else pd.Index(pd.unique(c.astype(str)))

        self.src_cats = cats("source_l").union(cats("source_r"))
        self.rid_cats = cats("record_id_l").union(cats("record_id_r"))
        self.width = len(self.rid_cats) + 1
        lookup = pd.Series(rid_pos, index=self._keys(rl["source"], rl["record_id"]))
        lookup = lookup[lookup.index >= 0]
        self.lookup = lookup[~lookup.index.duplicated()]

    @staticmethod
    def _codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values.cat.set_categories(categories).cat.codes.to_numpy(dtype=np.int64)
        return pd.Categorical(values.astype(str), categories=categories).codes.astype(np.int64)

    def _keys(self, source: pd.Series, record_id: pd.Series) -> np.ndarray:
        s, r = self._codes(source, self.src_cats), self._codes(record_id, self.rid_cats)
        return np.where((s < 0) | (r < 0), -1, s * self.width + r)

    def __call__(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        pl = self.lookup.reindex(self._keys(pairs["source_l"], pairs["record_id_l"])).to_numpy(dtype=float)
        pr = self.lookup.reindex(self._keys(pairs["source_r"], pairs["record_id_r"])).to_numpy(dtype=float)
        return pl, pr


def pair_positions(pairs: pd.DataFrame, rl: pd.DataFrame, rid_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RecordPositions of these pairs, for one frame of pairs."""
    return RecordPositions(pairs, rl, rid_pos)(pairs)


def _group_order(gtype: str, label: str) -> tuple:
    """Rows in reading order: age bands youngest first (unknown last), postcode districts
    BD3 before BD10, other groups by name."""
    if gtype == "age band":
        bands = [b for _, _, b in AGE_BANDS]
        return (bands.index(label) if label in bands else len(bands), label)
    if gtype == "postcode district":
        m = re.match(r"([A-Z]+)(\d+)(.*)$", label)
        if m:
            return (0, m.group(1), int(m.group(2)), m.group(3))
    return (1, label)


def _age_bands(age: pd.Series) -> pd.Series:
    bins = [-np.inf] + [hi + 0.5 for _, hi, _ in AGE_BANDS]
    labels = [label for _, _, label in AGE_BANDS]
    bands = pd.cut(pd.to_numeric(age, errors="coerce"), bins=bins, labels=labels).astype(object)
    return bands.where(pd.notna(bands), "unknown")


def _modes(rec: pd.DataFrame, column: str) -> pd.Series:
    """Each person's commonest value of a column (ties: the first in text order)."""
    if column not in rec or rec[column].isna().all():
        return pd.Series(dtype=object)
    counts = rec.dropna(subset=[column]).assign(_v=lambda f: f[column].astype(str)) \
        .groupby(["person_id", "_v"]).size().rename("n").reset_index()
    counts = counts.sort_values(["person_id", "n", "_v"], ascending=[True, False, True])
    return counts.drop_duplicates("person_id").set_index("person_id")["_v"]

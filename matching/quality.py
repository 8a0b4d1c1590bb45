"""Linkage quality by group (issue 9): does linkage work as well for every community, age band,
sex and area? Groups too small to report safely are suppressed."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .linkage import LinkageResult

AGE_BANDS = [(-1, 4, "0-4"), (5, 10, "5-10"), (11, 15, "11-15"), (16, 17, "16-17"), (18, 24, "18-24"),
             (25, 44, "25-44"), (45, 64, "45-64"), (65, 200, "65+")]
LINK_STATUSES = ("link", "clerical match")


def _age_band(age) -> str:
    if pd.isna(age):
        return "unknown"
    for lo, hi, label in AGE_BANDS:
        if lo <= age <= hi:
            return label
    return "unknown"


def _mode(s: pd.Series):
    s = s.dropna()
    if s.empty:
        return None
    counts = s.value_counts()
    return sorted(counts.index[counts == counts.max()].astype(str))[0]


def quality_by_group(records: pd.DataFrame, result: LinkageResult, min_group: int = 10) -> pd.DataFrame:
    """One row per (group_type, group): records, persons, share of persons known to more than
    one agency, share of records left as single-record persons, mean match weight of accepted
    links, share of scored pairs in the review band. Groups with fewer than `min_group`
    persons are left out."""
    cols = ["group_type", "group", "records", "persons", "multi_agency_share", "single_record_share",
            "mean_link_weight", "review_share"]
    records = records.reset_index(drop=True)
    rl = result.record_links
    key = pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])
    person = rl.set_index(["source", "record_id"])["person_id"].reindex(key).to_numpy()
    rec = pd.DataFrame({"person_id": person, "source": records["source"].astype(str).to_numpy(),
                        "ethnicity": records["ethnicity"].to_numpy() if "ethnicity" in records else None,
                        "sex": records["sex"].to_numpy() if "sex" in records else None})
    members = result.members.set_index("person_id")
    per = pd.DataFrame(index=members.index)
    per["records"] = rec.groupby("person_id").size().reindex(per.index).fillna(0).astype(int)
    per["agencies"] = rec.groupby("person_id")["source"].nunique().reindex(per.index).fillna(0)
    per["age band"] = _age_bands(members["age"])
    per["sex"] = _modes(rec, "sex").reindex(per.index)
    per["ethnicity"] = _modes(rec, "ethnicity").reindex(per.index)
    per["postcode district"] = members["postcode"].astype("string").str.split(" ").str[0].astype(object)
    per.loc[per["postcode district"].isna(), "postcode district"] = None

    pairs = result.pairs
    rid_person = rl.set_index(["source", "record_id"])["person_id"]
    pl = rid_person.reindex(pd.MultiIndex.from_arrays([pairs["source_l"].astype(str), pairs["record_id_l"].astype(str)])).to_numpy()
    pr = rid_person.reindex(pd.MultiIndex.from_arrays([pairs["source_r"].astype(str), pairs["record_id_r"].astype(str)])).to_numpy()
    is_link = pairs["status"].isin(LINK_STATUSES).to_numpy()
    is_review = (pairs["status"] == "review").to_numpy()
    weight = pairs["match_weight"].to_numpy()

    rows = []
    for gtype in ("ethnicity", "age band", "sex", "postcode district"):
        g = per[gtype].dropna()
        sizes = g.groupby(g).size()
        shown = sizes[sizes >= min_group].index
        if not len(shown):
            continue
        sub = per.loc[g.index].assign(_g=g)
        stats = sub.groupby("_g").agg(records=("records", "sum"), persons=("records", "size"),
                                      multi=("agencies", lambda a: float((a > 1).mean())),
                                      single=("records", lambda r: float((r == 1).sum() / max(r.sum(), 1))))
        # A pair touches a group when either of its persons is in it (counted once per pair).
        gl = pd.Series(pl).map(g).to_numpy(dtype=object)
        gr = pd.Series(pr).map(g).to_numpy(dtype=object)
        idx = np.arange(len(pl))
        sides = pd.DataFrame({"pair": np.concatenate([idx, idx]), "group": np.concatenate([gl, gr])}).dropna()
        sides = sides.drop_duplicates()
        review_share = pd.Series(is_review[sides["pair"].to_numpy()]).groupby(sides["group"].to_numpy()).mean()
        own = is_link & (pl == pr) & pd.notna(gl)
        link_weight = pd.Series(weight[own]).groupby(gl[own]).mean()
        for value in sorted(shown, key=str):
            st = stats.loc[value]
            rows.append({
                "group_type": gtype, "group": str(value), "records": int(st["records"]),
                "persons": int(st["persons"]),
                "multi_agency_share": round(float(st["multi"]), 4),
                "single_record_share": round(float(st["single"]), 4),
                "mean_link_weight": round(float(link_weight[value]), 3) if value in link_weight.index else np.nan,
                "review_share": round(float(review_share[value]), 4) if value in review_share.index else np.nan,
            })
    return pd.DataFrame(rows, columns=cols)


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

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
    per["age band"] = members["age"].map(_age_band)
    per["sex"] = rec.groupby("person_id")["sex"].agg(_mode).reindex(per.index)
    per["ethnicity"] = rec.groupby("person_id")["ethnicity"].agg(_mode).reindex(per.index)
    per["postcode district"] = members["postcode"].map(lambda p: p.split(" ")[0] if isinstance(p, str) else None)

    pairs = result.pairs
    rid_person = rl.set_index(["source", "record_id"])["person_id"]
    pl = rid_person.reindex(pd.MultiIndex.from_arrays([pairs["source_l"].astype(str), pairs["record_id_l"].astype(str)])).to_numpy()
    pr = rid_person.reindex(pd.MultiIndex.from_arrays([pairs["source_r"].astype(str), pairs["record_id_r"].astype(str)])).to_numpy()
    is_link = pairs["status"].isin(LINK_STATUSES).to_numpy()
    is_review = (pairs["status"] == "review").to_numpy()
    weight = pairs["match_weight"].to_numpy()

    rows = []
    for gtype in ("ethnicity", "age band", "sex", "postcode district"):
        g = per[gtype]
        for value, idx in g.dropna().groupby(g.dropna()).groups.items():
            sub = per.loc[idx]
            if len(sub) < min_group:
                continue
            inside = set(idx)
            touch_l = pd.Series(pl).isin(inside).to_numpy()
            touch_r = pd.Series(pr).isin(inside).to_numpy()
            touch = touch_l | touch_r
            links = is_link & touch_l & (pl == pr)
            rows.append({
                "group_type": gtype, "group": str(value), "records": int(sub["records"].sum()),
                "persons": int(len(sub)),
                "multi_agency_share": round(float((sub["agencies"] > 1).mean()), 4),
                "single_record_share": round(float((sub["records"] == 1).sum() / max(sub["records"].sum(), 1)), 4),
                "mean_link_weight": round(float(weight[links].mean()), 3) if links.any() else np.nan,
                "review_share": round(float(is_review[touch].mean()), 4) if touch.any() else np.nan,
            })
    return pd.DataFrame(rows, columns=cols)

"""families.csv: one row per family that a key worker recognises, eligible families first and then
by criteria met: its lead adult, address, members with their roles and ages, the agencies that
know it and the criteria it meets, beside the need matrix's family_id.

The lead adult is the oldest adult member (the oldest member where the family has no adult): a
way to name a family, not a judgement of who heads it."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

FAMILY_COLUMNS = ["family_id", "eligible", "criteria_met", "criteria", "lead_adult", "lead_adult_age", "address",
                  "postcode", "postcode_district", "members", "adults", "children", "members_by_age", "agencies",
                  "last_record_date"]


def _mode(values: pd.Series) -> str:
    """The commonest non-blank text (ties: the first in sort order), or ""."""
    v = values.dropna().astype(str).str.strip()
    v = v[v != ""]
    if not len(v):
        return ""
    counts = v.value_counts()
    return sorted(counts.index[counts == counts.max()])[0]


def _modes(family: pd.Series, values: pd.Series) -> pd.Series:
    """_mode of each family's values, for every family at once (one sort, not a count per
    family): the commonest non-blank text, ties to the first in sort order. Families with no
    such value are left out (read as "")."""
    family, values = family.reset_index(drop=True), values.reset_index(drop=True)
    text = values.astype(object).dropna().astype(str).str.strip()
    text = text[text != ""]
    if not len(text):
        return pd.Series(dtype=object)
    counts = (pd.DataFrame({"family_id": family.loc[text.index].to_numpy(), "value": text.to_numpy()})
              .groupby(["family_id", "value"], sort=False).size().rename("n").reset_index())
    counts["neg"] = -counts["n"]
    top = counts.sort_values(["family_id", "neg", "value"], kind="stable").drop_duplicates("family_id")
    return top.set_index("family_id")["value"]


def _agencies(family: pd.Series, agencies: pd.Series) -> pd.Series:
    """Each family's agencies: every member's (";"-separated), each once, in sort order."""
    family, agencies = family.reset_index(drop=True), agencies.reset_index(drop=True)
    each = agencies.fillna("").astype(str).str.split(";").explode()
    each = each[each != ""]
    pairs = pd.DataFrame({"family_id": family.loc[each.index].to_numpy(), "agency": each.to_numpy()})
    pairs = pairs.drop_duplicates().sort_values(["family_id", "agency"], kind="stable")
    joined = pairs.groupby("family_id", sort=False)["agency"].agg(";".join)
    # Families whose members name no agency get "" (as the sorted, empty set joined gives).
    return joined.reindex(pd.unique(family), fill_value="")


def family_profiles(need_matrix: pd.DataFrame, members: pd.DataFrame, criteria: Sequence[str]) -> pd.DataFrame:
    """families.csv from the need matrix and members.csv (names and addresses as the members
    file holds them: the shareable profile drops them as it does there)."""
    m = members.copy()
    m["_age"] = pd.to_numeric(m["age"], errors="coerce") if "age" in m else pd.Series(float("nan"), index=m.index)
    m["_adult"] = (m["role"].astype(str) == "adult") if "role" in m else False
    name = (m.get("forename", pd.Series("", index=m.index)).fillna("").astype(str).str.strip() + " "
            + m.get("surname", pd.Series("", index=m.index)).fillna("").astype(str).str.strip()).str.strip()
    m["_name"] = name
    # lead adult: adults first, then the oldest, then by person ID
    lead = (m.sort_values(["family_id", "_adult", "_age", "person_id"], ascending=[True, False, False, True],
                          na_position="last", kind="stable")
            .drop_duplicates("family_id").set_index("family_id"))
    ordered = m.sort_values(["family_id", "_age", "person_id"], ascending=[True, False, True], na_position="last",
                            kind="stable")
    role = ordered["role"].fillna("member").astype(str) if "role" in ordered else pd.Series("member", index=ordered.index)
    age = ordered["_age"].map(lambda a: "" if pd.isna(a) else f" {int(a)}")
    by_age = (role + age).groupby(ordered["family_id"]).agg(", ".join)
    agencies = _agencies(m["family_id"], m["agencies"]) if "agencies" in m else pd.Series(dtype=object)
    addresses = _modes(m["family_id"], m["address"]) if "address" in m else pd.Series(dtype=object)
    postcodes = _modes(m["family_id"], m["postcode"]) if "postcode" in m else pd.Series(dtype=object)

    nm = need_matrix.copy()
    flags = nm[list(criteria)].apply(pd.to_numeric, errors="coerce").eq(1) if criteria else pd.DataFrame(index=nm.index)
    out = pd.DataFrame({"family_id": nm["family_id"].to_numpy()})
    out["eligible"] = pd.to_numeric(nm["eligible"], errors="coerce").fillna(0).astype(int).to_numpy()
    out["criteria_met"] = pd.to_numeric(nm["criteria_met"], errors="coerce").fillna(0).astype(int).to_numpy()
    out["criteria"] = [";".join(c for c, on in zip(criteria, row) if on) for row in flags.to_numpy()] \
        if len(criteria) else ""
    fid = out["family_id"]
    out["lead_adult"] = fid.map(lead["_name"]).fillna("").to_numpy()
    out["lead_adult_age"] = fid.map(lead["_age"]).astype("Int64").to_numpy()
    out["address"] = fid.map(addresses).fillna("").to_numpy()
    out["postcode"] = fid.map(postcodes).fillna("").to_numpy()
    for c in ("postcode_district", "members", "adults", "children", "last_record_date"):
        out[c] = nm[c].to_numpy() if c in nm else ""
    out["members_by_age"] = fid.map(by_age).fillna("").to_numpy()
    out["agencies"] = fid.map(agencies).fillna("").to_numpy()
    out = out.assign(_n=range(len(out))).sort_values(["eligible", "criteria_met", "_n"], ascending=[False, False, True],
                                                     kind="stable")
    return out.drop(columns="_n").reset_index(drop=True)[FAMILY_COLUMNS]

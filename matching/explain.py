"""Why each link exists (link_explanations.csv): every accepted record pair that holds a person
together, with its weights, and for every person the rule that placed them in their family."""
from __future__ import annotations

import pandas as pd

# members.placed_by, in words: the rule of docs/linkage.md ("Families") that placed the person.
PLACEMENT_RULES = {
    "uprn": "lives at the family's UPRN (their own latest record)",
    "address": "lives at the family's address (their own latest record)",
    "moved_with_household": "moved with their household to its new address",
    "household_home": "lives at their household's home (their latest record gives an address the household left)",
    "postcode_and_surname": "no address: joined the one household at their postcode with their surname",
    "incident": "no address: recorded in one incident with the household (same day, postcode and surname)",
    "hint": "no address: joined by a household hint (tenancy or claim) alone",
    "none": "no address and no hint: a family of one",
}
LINKED = ("link", "clerical match")
EXPLANATION_COLUMNS = ["kind", "person_id", "family_id", "source_l", "record_id_l", "source_r", "record_id_r",
                       "status", "match_weight", "match_probability", "rule"]


def explain_links(pairs: pd.DataFrame, record_links: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """One row per accepted record pair inside a person (kind `person_link`: the pair, its status,
    match weight and probability and each comparison's weight `w_<field>`), then one row per
    person (kind `family`: the rule that placed them in their family, with the household hints
    they share and the date of the address used). Pairs accepted but kept apart by clustering
    (a conflict further along the chain) hold nobody together and are left out."""
    weights = [c for c in pairs.columns if c.startswith("w_")]
    linked = pairs[pairs["status"].isin(LINKED).to_numpy()]     # not as text: a copy as long as the pairs
    keys = pd.MultiIndex.from_arrays([record_links["source"].astype(str), record_links["record_id"].astype(str)])
    person = pd.Series(record_links["person_id"].to_numpy(), index=keys)
    family = pd.Series(record_links["family_id"].to_numpy(), index=keys)
    at = {side: pd.MultiIndex.from_arrays([linked[f"source_{side}"].astype(str),
                                           linked[f"record_id_{side}"].astype(str)]) for side in ("l", "r")}
    p_l, p_r = person.reindex(at["l"]).to_numpy(), person.reindex(at["r"]).to_numpy()
    inside = p_l == p_r
    links = pd.DataFrame({
        "kind": "person_link", "person_id": p_l[inside], "family_id": family.reindex(at["l"]).to_numpy()[inside],
        **{c: linked[c].astype(str).to_numpy()[inside] for c in ("source_l", "record_id_l", "source_r", "record_id_r")},
        "status": linked["status"].astype(str).to_numpy()[inside],
        "match_weight": linked["match_weight"].astype(float).round(3).to_numpy()[inside],
        "match_probability": linked["match_probability"].astype(float).round(6).to_numpy()[inside],
        "rule": "",
    })
    for c in weights:
        links[c] = linked[c].to_numpy()[inside]
    links = links.sort_values(["person_id", "match_weight"], ascending=[True, False], kind="stable")

    placed = members["placed_by"].astype(str)
    rule = placed.map(PLACEMENT_RULES).fillna(placed)
    hints = members["joined_by"].fillna("").astype(str)
    seen = members["address_seen_on"].astype(str).where(members["address_seen_on"].notna(), "")
    rule = rule + hints.map(lambda h: f"; shares {h.replace(';', ' and ')} with the family" if h else "")
    rule = rule + seen.map(lambda d: f"; address seen on {d}" if d else "")
    families = pd.DataFrame({"kind": "family", "person_id": members["person_id"].to_numpy(),
                             "family_id": members["family_id"].to_numpy(), "status": placed.to_numpy(),
                             "rule": rule.to_numpy()})
    out = pd.concat([links, families], ignore_index=True)
    return out[EXPLANATION_COLUMNS + weights].sort_values(["family_id", "person_id", "kind"], kind="stable",
                                                         key=lambda s: s.map({"person_link": 0, "family": 1})
                                                         if s.name == "kind" else s).reset_index(drop=True)

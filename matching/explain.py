"""Why each link exists (link_explanations.csv): every accepted record pair that holds a person
together, with its weights, and for every person the rule that placed them in their family."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .quality import pair_positions

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
    (a conflict further along the chain) hold nobody together and are left out.

    Rows are sorted by family, person, kind (a person's links first), and a person's links by
    match weight, highest first. Memory: the pairs are the largest frame of a run; only the
    accepted ones are read, a column at a time, and each record is found by integer codes
    (never a string per pair); the table is put in order once, at the end."""
    weights = [c for c in pairs.columns if c.startswith("w_")]
    linked = np.flatnonzero(_is_any(pairs["status"], LINKED))
    sides = pd.DataFrame({c: pairs[c].iloc[linked].reset_index(drop=True)
                          for c in ("source_l", "record_id_l", "source_r", "record_id_r")})
    at_l, at_r = pair_positions(sides, record_links, np.arange(len(record_links)))
    person_code = pd.factorize(record_links["person_id"])[0]
    known = ~(np.isnan(at_l) | np.isnan(at_r))
    row_l = np.where(known, at_l, 0).astype(np.int64)
    row_r = np.where(known, at_r, 0).astype(np.int64)
    inside = known & (person_code[row_l] == person_code[row_r]) & (person_code[row_l] >= 0)
    take, row_l = linked[inside], row_l[inside]
    del sides, at_l, at_r, row_r, known

    placed = members["placed_by"].astype(str)
    rule = placed.map(PLACEMENT_RULES).fillna(placed)
    hints = members["joined_by"].fillna("").astype(str)
    seen = members["address_seen_on"].astype(str).where(members["address_seen_on"].notna(), "")
    rule = rule + hints.map(lambda h: f"; shares {h.replace(';', ' and ')} with the family" if h else "")
    rule = rule + seen.map(lambda d: f"; address seen on {d}" if d else "")

    n_links, n = len(take), len(take) + len(members)

    def pair_column(c: str) -> np.ndarray:
        return pairs[c].iloc[take].to_numpy()

    def both(links, families, dtype=object) -> np.ndarray:
        out = np.empty(n, dtype=dtype)
        out[:n_links], out[n_links:] = links, families
        return out

    blank = np.full(len(members), np.nan, dtype=object)
    weight = pairs["match_weight"].iloc[take].astype(float).round(3).to_numpy()
    columns = {
        "kind": both("person_link", "family"),
        "person_id": both(record_links["person_id"].to_numpy()[row_l], members["person_id"].to_numpy()),
        "family_id": both(record_links["family_id"].to_numpy()[row_l], members["family_id"].to_numpy()),
        **{c: both(_text(pairs[c].iloc[take]), blank) for c in ("source_l", "record_id_l", "source_r", "record_id_r")},
        "status": both(_text(pairs["status"].iloc[take]), placed.to_numpy()),
        "match_weight": both(weight, np.nan, float),
        "match_probability": both(pairs["match_probability"].iloc[take].astype(float).round(6).to_numpy(), np.nan, float),
        "rule": both("", rule.to_numpy()),
    }
    for c in weights:
        values = pair_column(c)
        columns[c] = both(values, np.nan, values.dtype if values.dtype.kind == "f" else
                          np.float64 if values.dtype.kind in "biu" else object)
    # The order: family, person, a person's links before their family row, links by weight
    # (highest first, none last), then as they came (the pairs' order, the members' order).
    family_code = _sorted_codes(columns["family_id"])
    person_code = _sorted_codes(columns["person_id"])
    kind = np.r_[np.zeros(n_links, np.int8), np.ones(len(members), np.int8)]
    by_weight = np.r_[-_sorted_codes(weight), np.zeros(len(members), np.int64)]
    missing = np.r_[np.isnan(weight), np.zeros(len(members), bool)]
    order = np.lexsort((np.arange(n), by_weight, missing, kind, person_code, family_code))
    del family_code, person_code, kind, by_weight, missing
    # Column by column into the frame, each let go once in order; not gathered into blocks
    # (copy=False), which would hold the whole table twice.
    ordered = {}
    for c in EXPLANATION_COLUMNS + weights:
        ordered[c] = columns.pop(c)[order]
    return pd.DataFrame(ordered, copy=False)


def _is_any(values: pd.Series, wanted) -> np.ndarray:
    """values.isin(wanted), by the codes of a categorical (one pass per value: no sort of the
    longest column of a run)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.isin(list(wanted)).to_numpy()
    codes = values.cat.codes.to_numpy()
    hit = np.zeros(len(codes), dtype=bool)
    for at in values.cat.categories.get_indexer(list(wanted)):
        if at >= 0:
            hit |= codes == at
    return hit


def _text(values: pd.Series) -> np.ndarray:
    """values.astype(str) as an array. A categorical's cells point at its categories' text
    rather than each being a new string (at 1M records, 3.6M accepted pairs' four keys are a
    gigabyte of strings)."""
    if not isinstance(values.dtype, pd.CategoricalDtype) or not len(values):
        return values.astype(str).to_numpy()
    codes = values.cat.codes.to_numpy()
    text = np.asarray(values.cat.categories.astype(str), dtype=object)[np.maximum(codes, 0)]
    if (codes < 0).any():
        text[codes < 0] = "nan"           # as astype(str) writes a missing value
    return text


def _sorted_codes(values: np.ndarray) -> np.ndarray:
    """Each value's rank among the distinct values, in sort order; missing values last."""
    codes, uniques = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64)

"""Do the data show households? The vetoes guard twins and household members, who share a
surname and an address; in a register of individuals (no households) those guards only stop
true matches whose forename or date of birth was badly mis-keyed. The evidence is read from
the records themselves: the share of records (with an address and a year of birth) living at
an address shared with someone born many years apart from them, who cannot be the same person.
Council extracts give about 0.6 (parents and children); the FEBRL registers about 0.02."""
from __future__ import annotations

import numpy as np
import pandas as pd


def household_share(std: pd.DataFrame, min_age_gap_years: int) -> float:
    """Share of records, among those with an address and a birth year, at an address whose
    records' birth years span at least `min_age_gap_years`."""
    if not len(std):
        return 0.0
    uprn = std["uprn"].astype("string")
    text = std["addr_key"].astype("string") + "|" + std["postcode"].astype("string")
    key = uprn.where(uprn.notna() & (uprn != ""), text)
    year = pd.to_numeric(std["birth_year"], errors="coerce")
    known = key.notna() & year.notna()
    if not known.any():
        return 0.0
    codes, _ = pd.factorize(key[known])
    years = year[known].to_numpy(dtype=np.float64)
    lo = np.full(codes.max() + 1, np.inf)
    hi = np.full(codes.max() + 1, -np.inf)
    np.minimum.at(lo, codes, years)
    np.maximum.at(hi, codes, years)
    spread = (hi - lo)[codes] >= min_age_gap_years
    return float(spread.mean())

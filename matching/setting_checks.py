"""The standardised columns a linkage setting may name, and the checks of a comparison-level
test's arguments (matching.levels) with the error that names their key. Below both
matching.settings and matching.levels, so that neither imports the other's caller."""
from __future__ import annotations

import math
from typing import Any

from schemas.config_models import KeyedError, trail_of

# Standardised columns a blocking key or a comparison may name (made by matching.standardise).
STANDARD_COLUMNS = {
    "fore_std", "fore1", "fore_canon", "fore_tokens", "fore_mp", "fore_initial", "fore1_tokens",
    "sur_std", "sur_whole", "sur_canon", "sur_tokens", "sur_mp", "sur_nysiis", "sur_shared", "sur_chain_name", "sur_initial",
    "name_pair_key", "name_sort_key",
    "dob_key", "dob_year", "dob_month", "dob_day", "dob_placeholder", "dob_miskeyed", "birth_year",
    "sex", "postcode", "postcode_outward", "addr_key", "addr_house_street", "addr_street",
    "addr_flat_house", "addr_sorted",
    "uprn", "nhs_number", "ni_number", "upn", "tenancy_ref", "claim_ref",
}
# Columns that hold a tuple of tokens (only the token tests read them).
TOKEN_COLUMNS = {"fore_tokens", "fore1_tokens", "sur_tokens"}
FLAG_COLUMNS = {"sur_shared", "sur_chain_name", "dob_placeholder", "dob_miskeyed"}


class SettingError(KeyedError):
    """A level test's argument that is wrong: `key` says where (t.threshold), `reason` what is
    wrong; matching.settings places it under the level's key."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}", trail_of(key), reason)


def number(v: Any, key: str, lo: float | None = None, hi: float | None = None, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SettingError(key, "must be a number")
    if integer and int(v) != v:
        raise SettingError(key, "must be a whole number")
    if lo is not None and v < lo or hi is not None and v > hi:
        raise SettingError(key, f"must be between {lo} and {hi}")
    return int(v) if integer else float(v)


def column(v: Any, key: str) -> str:
    if not isinstance(v, str) or v not in STANDARD_COLUMNS:
        raise SettingError(key, "unknown standardised column (see docs/linkage.md)")
    return v

"""UK identifier checks and normalisation (reference: criteria-and-identifiers.md, section 5).

Each function takes a pandas Series of text and returns a normalised Series, with a boolean
Series saying which non-blank values were valid. Invalid values are never "repaired".
"""
from __future__ import annotations


import numpy as np
import pandas as pd

_SPACES = r"[\s\-]+"

# NI number: two prefix letters, six digits, suffix A-D. D F I Q U V never as either prefix
# letter, O never second; BG GB KN NK NT TN ZZ are not allocated (HMRC NIM39110).
_NINO = r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"
_NINO_UNALLOCATED = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"]

_POSTCODE = (
    r"^(GIR 0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY]) [0-9][ABD-HJLNP-UW-Z]{2})$"
)
# NHS and other pseudo-postcodes (ZZ99 3VZ: no fixed abode) break the inward rule: classify, keep.
_PSEUDO_POSTCODE = r"^ZZ99 [0-9][A-Z]{2}$"

_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


# Value of each character in a UPN body: digits are themselves, letters their place in the table.
_UPN_VALUE = np.zeros(128, dtype=np.int64)
_UPN_VALUE[ord("0"):ord("9") + 1] = np.arange(10)
for _i, _c in enumerate(_UPN_LETTERS):
    _UPN_VALUE[ord(_c)] = _i


def _char_matrix(values: pd.Series, width: int) -> np.ndarray:
    """Fixed-width ASCII strings as an (n, width) array of byte values."""
    joined = "".join(values.tolist()).encode("ascii")
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, width).astype(np.int64)


def _clean(s: pd.Series) -> pd.Series:
    return s.astype("string[pyarrow]").str.upper().str.replace(_SPACES, "", regex=True)


def nhs_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Modulus 11 check: weights 10..2 on digits 1-9; 11 - (sum mod 11), 11 -> 0, 10 invalid."""
    v = _clean(s)
    digits_ok = v.str.fullmatch(r"[0-9]{10}").fillna(False).astype(bool)
    valid = pd.Series(False, index=s.index)
    if digits_ok.any():
        d = _char_matrix(v[digits_ok], 10) - ord("0")
        total = d[:, :9] @ np.arange(10, 1, -1)
        check = 11 - total % 11
        check = np.where(check == 11, 0, check)
        valid.loc[digits_ok] = (check != 10) & (check == d[:, 9])
    return v.where(valid), valid


def ni_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    v = _clean(s)
    valid = (v.str.fullmatch(_NINO) & ~v.str[:2].isin(_NINO_UNALLOCATED)).fillna(False).astype(bool)
    return v.where(valid), valid


def upn(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """UPN: check letter over positions 2-13 (weights = position), mod 23; a temporary UPN's
    final letter takes its value from the same letter table."""
    v = _clean(s)
    shape = v.str.fullmatch(r"[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]").fillna(False).astype(bool)
    valid = pd.Series(False, index=s.index)
    if shape.any():
        chars = _char_matrix(v[shape], 13)
        values = _UPN_VALUE[chars[:, 1:]]
        total = values @ np.arange(2, 14)
        check = np.frombuffer(_UPN_LETTERS.encode(), dtype=np.uint8)[total % 23]
        valid.loc[shape] = check == chars[:, 0]
    return v.where(valid), valid


def upn_check_letter(body12: str) -> str:
    """The check letter for the 12 characters after it (used by the sample generator's tests)."""
    total = sum((int(c) if c.isdigit() else _UPN_LETTERS.index(c)) * pos
                for pos, c in enumerate(body12, start=2))
    return _UPN_LETTERS[total % 23]


def uprn(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Up to 12 digits, 1..999,999,999,999; leading zeros dropped. Excel may have turned it
    into '1234.0': accept a trailing '.0'."""
    v = s.astype("string[pyarrow]").str.strip().str.replace(r"\.0$", "", regex=True)
    ok = v.str.fullmatch(r"[0-9]{1,12}").fillna(False).astype(bool)
    out = v.where(ok).str.lstrip("0")
    ok = ok & (out.fillna("") != "")
    return out.where(ok), ok


def postcode(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Upper-case, strip spaces, put one space before the inward code; valid if it matches the
    UK format or is a recognised pseudo-postcode (ZZ99 ...)."""
    v = _clean(s)
    n = v.str.len()
    spaced = v.where(~n.between(5, 7), v.str[:-3] + " " + v.str[-3:])
    valid = (spaced.str.fullmatch(_POSTCODE) | spaced.str.fullmatch(_PSEUDO_POSTCODE)).fillna(False).astype(bool)
    return spaced.where(valid), valid


CHECKS = {
    "nhs_number": nhs_number,
    "ni_number": ni_number,
    "upn": upn,
    "uprn": uprn,
    "postcode": postcode,
}

REASONS = {
    "nhs_number": "NHS number fails its modulus 11 check or is not 10 digits",
    "ni_number": "not a valid National Insurance number (two allowed prefix letters, six digits, suffix A-D)",
    "upn": "UPN check letter does not match, or not 13 characters",
    "uprn": "UPRN is not 1 to 12 digits",
    "postcode": "not a UK postcode format",
}

"""The council's area lookup (`report: {area_lookup: FILE}`): postcode -> area code and name (a
ward or an LSOA, as the ONS postcode directories give them), read and checked before any work.
Every error names the file, the row and the column, never a value."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from schemas.errors import InputDataError

AREA_COLUMNS = ["postcode", "area_code", "area_name"]
# A full UK postcode, spaces removed: outward code (2-4) + inward code (digit and two letters).
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}$")


def compact_postcode(values: pd.Series) -> pd.Series:
    """Postcodes as the lookup is keyed: upper case, no spaces."""
    return values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)


def read_area_lookup(path: Path | None) -> pd.DataFrame | None:
    """postcode (compact), area_code, area_name (the code where the file gives no name); None
    without a file. A file that cannot be read, lacks a column, has a blank or malformed
    postcode, a blank area code, or gives one postcode two areas stops the run (exit 3)."""
    if path is None:
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # an unreadable lookup stops the run with its name
        raise InputDataError(f"{path}: cannot read the area lookup ({type(exc).__name__})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("postcode", "area_code") if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path}: the area lookup lacks column(s) {', '.join(missing)} "
                             "(it needs postcode and area_code, and may give area_name)")
    if not len(frame):
        raise InputDataError(f"{path}: the area lookup has no data rows (a header only)")
    postcode = compact_postcode(frame["postcode"]).fillna("")
    code = frame["area_code"].astype(str).str.strip()
    name = frame["area_name"].astype(str).str.strip() if "area_name" in frame.columns else code
    for column, bad, why in (("postcode", postcode == "", "blank"),
                             ("postcode", (postcode != "") & ~postcode.str.fullmatch(_POSTCODE.pattern).fillna(False),
                              "not a full UK postcode"),
                             ("area_code", code == "", "blank")):
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise InputDataError(f"{path}, row {row}, column {column}: {why}")
    out = pd.DataFrame({"postcode": postcode.astype(object), "area_code": code,
                        "area_name": name.where(name != "", code)})
    twice = out.duplicated("postcode", keep=False) & ~out.duplicated(["postcode", "area_code"], keep=False)
    clash = out["postcode"].isin(out.loc[twice, "postcode"]) & out.duplicated("postcode", keep="first")
    if clash.any():
        row = int(clash.to_numpy().nonzero()[0][0]) + 2
        raise InputDataError(f"{path}, row {row}, column postcode: the postcode is given another area on an "
                             "earlier row; each postcode must be in one area")
    return out.drop_duplicates("postcode").reset_index(drop=True)

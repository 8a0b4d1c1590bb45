"""CSV writers for outputs that open well in Excel: stable column order, ISO dates, counts as
whole numbers, no index column, UTF-8 (optionally with a byte-order mark so Excel shows
accents), and text cells that Excel would run as formulas made inert."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

# A cell starting with one of these is a formula to Excel/LibreOffice (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: str) -> str:
    """Prefix a formula-like text cell with an apostrophe so a spreadsheet shows it as text."""
    if value and value.startswith(_FORMULA_START):
        # A plain negative number is data, not a formula.
        if value[0] == "-" and value[1:].replace(".", "", 1).isdigit():
            return value
        return "'" + value
    return value


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), "")
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.map({True: "1", False: "0"}).astype(object).where(s.notna(), "")
        elif pd.api.types.is_integer_dtype(s):
            out[col] = s.astype("Int64").astype(str).replace("<NA>", "")
        elif pd.api.types.is_float_dtype(s):
            whole = s.dropna()
            if len(whole) and (whole == whole.round()).all() and col not in _KEEP_FLOAT:
                out[col] = s.astype("Int64").astype(str).replace("<NA>", "")
            else:
                out[col] = s.map(lambda v: "" if pd.isna(v) else f"{v:.6g}")
        else:
            out[col] = _defuse_column(s)
    return out


def _defuse_column(s: pd.Series) -> pd.Series:
    """Text of a column, vectorised: dates as ISO, missing as empty, formula-like cells made inert."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = pd.Series(s.cat.categories.astype(str)).map(defuse).to_numpy()
        codes = s.cat.codes.to_numpy()
        return pd.Series(pd.array(cats, dtype=object)[codes.clip(0)], index=s.index).where(codes >= 0, "")
    values = s.astype(object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("date", "datetime", "datetime64", "mixed"):
        text = values.map(lambda v: v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v)).where(s.notna(), "")
    else:
        text = values.where(s.notna(), "").astype(str)
    first = text.str[:1]
    risky = first.isin(list(_FORMULA_START))
    if risky.any():
        text = text.where(~risky, text[risky].map(defuse))
    return text


# Columns that are probabilities or weights and must stay decimal even when they happen to be whole.
_KEEP_FLOAT = {"match_score", "match_probability", "match_weight", "score", "weight", "rent_arrears_gbp"}


def dir_mode(file_mode: int) -> int:
    """The folder mode that goes with a file mode: execute (enter) wherever read is allowed."""
    return file_mode | ((file_mode & 0o444) >> 2) | 0o700


def _make_parent(path: Path, mode: int) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=dir_mode(mode))
        os.chmod(path.parent, dir_mode(mode))


def write_csv(frame: pd.DataFrame, path: Path, *, bom: bool = False, mode: int = 0o600) -> None:
    _make_parent(path, mode)
    text = _prepare(frame).to_csv(index=False, lineterminator="\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(path, mode)


def write_text(text: str, path: Path, *, mode: int = 0o600) -> None:
    _make_parent(path, mode)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(path, mode)


def write_json(data, path: Path, *, mode: int = 0o600) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", path, mode=mode)

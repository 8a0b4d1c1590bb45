"""CSV writers for outputs that open well in Excel: stable column order, ISO dates, counts as
whole numbers, no index column, UTF-8 (optionally with a byte-order mark so Excel shows
accents), and text cells that Excel would run as formulas made inert."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
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


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the CSV shows it (ISO dates, whole numbers as such, blanks for missing)."""
    return _prepare(frame)


def _prepare(frame: pd.DataFrame, whole_floats: set[int] | None = None,
             date_columns: set[int] | None = None) -> pd.DataFrame:
    """`whole_floats` and `date_columns`: the float columns (by position) written as whole
    numbers and the text columns whose dates are written as ISO dates, when decided on a
    larger frame than this one (a slice of it); by default decided on this frame."""
    out = {}
    for i, col in enumerate(frame.columns):
        s = frame.iloc[:, i]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[i] = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), "")
        elif pd.api.types.is_bool_dtype(s):
            out[i] = s.map({True: "1", False: "0"}).astype(object).where(s.notna(), "")
        elif pd.api.types.is_integer_dtype(s):
            out[i] = s.astype("Int64").astype(str).replace("<NA>", "")
        elif pd.api.types.is_float_dtype(s):
            if i in (whole_floats if whole_floats is not None else _whole_floats(frame, [i])):
                out[i] = s.astype("Int64").astype(str).replace("<NA>", "")
            else:
                out[i] = _on_distinct(s, lambda v: "" if pd.isna(v) else f"{v:.6g}")
        else:
            out[i] = _defuse_column(s, None if date_columns is None else i in date_columns)
    # Built at once: a wide frame (families-as-columns) column by column is slow and fragmented.
    frame_out = pd.DataFrame(out, index=frame.index)
    frame_out.columns = frame.columns
    return frame_out


def _whole_floats(frame: pd.DataFrame, positions=None) -> set[int]:
    """The float columns (by position) holding only whole numbers, written as such (not the
    columns of probabilities and weights, which stay decimal)."""
    found = set()
    for i in (range(frame.shape[1]) if positions is None else positions):
        s = frame.iloc[:, i]
        if not pd.api.types.is_float_dtype(s) or pd.api.types.is_bool_dtype(s) or frame.columns[i] in _KEEP_FLOAT:
            continue
        whole = s.dropna()
        if len(whole) and (whole == whole.round()).all():
            found.add(i)
    return found


def _holds_dates(values: pd.Series) -> bool:
    """Is a column of Python objects written with its dates as ISO dates?"""
    return pd.api.types.infer_dtype(values, skipna=True) in ("date", "datetime", "datetime64", "mixed")


def _date_columns(frame: pd.DataFrame) -> set[int]:
    """The text columns (by position) _defuse_column writes with ISO dates, decided on the whole
    frame (a slice of a column may hold other kinds of values than the column)."""
    return {i for i in range(frame.shape[1])
            if not isinstance(frame.iloc[:, i].dtype, pd.CategoricalDtype)
            and not any(check(frame.iloc[:, i]) for check in (pd.api.types.is_datetime64_any_dtype,
                                                               pd.api.types.is_bool_dtype,
                                                               pd.api.types.is_integer_dtype,
                                                               pd.api.types.is_float_dtype))
            and _holds_dates(frame.iloc[:, i].astype(object))}


def _defuse_column(s: pd.Series, dates: bool | None = None) -> pd.Series:
    """Text of a column, vectorised: dates as ISO, missing as empty, formula-like cells made
    inert. `dates`: whether its dates are written as such, when decided on a larger frame."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = pd.Series(s.cat.categories.astype(str)).map(defuse).to_numpy()
        codes = s.cat.codes.to_numpy()
        return pd.Series(pd.array(cats, dtype=object)[codes.clip(0)], index=s.index).where(codes >= 0, "")
    values = s.astype(object)
    if _holds_dates(values) if dates is None else dates:
        text = values.map(lambda v: "" if v is pd.NaT else v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v)).where(s.notna(), "")
    else:
        text = values.where(s.notna(), "").astype(str)
    risky = _starts_like_formula(text)
    if risky.any():
        text = text.where(~risky, text[risky].map(defuse))
    return text


def _on_distinct(s: pd.Series, fn) -> pd.Series:
    """fn of each value, computed once per distinct value (NaN included)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    done = np.array([fn(v) for v in uniques] + [fn(np.nan)], dtype=object)
    return pd.Series(done[np.where(codes < 0, len(uniques), codes)], index=s.index)


def _starts_like_formula(text: pd.Series) -> pd.Series:
    """Does each text cell start with a character in _FORMULA_START?"""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(text):
        return pd.Series(False, index=text.index)
    try:
        arr = pa.array(text.to_numpy(dtype=object), type=pa.large_string())
    except (pa.ArrowException, UnicodeError):   # text pyarrow cannot hold: look cell by cell
        return text.str[:1].isin(list(_FORMULA_START))
    hit = pc.match_substring_regex(arr, pattern=_FORMULA_PATTERN)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=text.index, dtype=bool)


_FORMULA_PATTERN = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in _FORMULA_START) + "]"

# Columns that are probabilities or weights and must stay decimal even when they happen to be whole.
_KEEP_FLOAT = {"match_score", "match_probability", "match_weight", "score", "weight", "rent_arrears_gbp"}


def _holds_bytes(arr, chars: bytes) -> bool:
    """Does any cell of a pyarrow string array hold one of these ASCII characters? (Read from
    the UTF-8 data buffer: ASCII bytes never occur inside a multi-byte character.)"""
    data = arr.buffers()[2]
    if data is None:
        return False
    return bool(np.isin(np.frombuffer(data, dtype=np.uint8), list(chars)).any())


def _csv_text(prepared: pd.DataFrame) -> str:
    """The CSV text pandas writes (minimal quoting, "\n" line ends). Where no cell or heading
    needs quotes, pyarrow writes the rows: the same bytes, many times faster."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def slow() -> str:
        return prepared.to_csv(index=False, lineterminator="\n")

    names = [str(c) for c in prepared.columns]
    # One column: pandas quotes an empty cell so that the row is not a blank line.
    if len(prepared) == 0 or len(names) < 2 or len(set(names)) != len(names) \
            or any(any(ch in n for ch in ',"\r\n') for n in names):
        return slow()
    try:
        arrays = [pa.array(prepared[c].to_numpy(dtype=object), type=pa.large_string()) for c in prepared.columns]
    except (pa.ArrowException, UnicodeError, TypeError):
        return slow()
    if any(a.null_count or _holds_bytes(a, b',"\r\n') for a in arrays):
        return slow()
    sink = io.BytesIO()
    pacsv.write_csv(pa.table(arrays, names=names), sink,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return ",".join(names) + "\n" + sink.getvalue().decode("utf-8")


def dir_mode(file_mode: int) -> int:
    """The folder mode that goes with a file mode: execute (enter) wherever read is allowed."""
    return file_mode | ((file_mode & 0o444) >> 2) | 0o700


def _make_parent(path: Path, mode: int) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=dir_mode(mode))
        os.chmod(path.parent, dir_mode(mode))


ROWS_A_SLICE = 200_000     # a long frame is written this many rows at a time


def write_csv(frame: pd.DataFrame, path: Path, *, bom: bool = False, mode: int = 0o600) -> None:
    """The frame as CSV. A long one is made into text a slice of rows at a time (the same bytes:
    every cell's text depends on its column's type and its own value, and which float columns
    are whole numbers is decided on the whole frame), so that memory holds the text of one
    slice, not of the whole file twice over."""
    _make_parent(path, mode)
    names = [str(c) for c in frame.columns]
    sliced = len(frame) > ROWS_A_SLICE and len(names) >= 2 and len(set(names)) == len(names) \
        and not any(any(ch in n for ch in ',"\r\n') for n in names)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        if not sliced:
            fh.write(_csv_text(_prepare(frame)))
        else:
            whole, dates = _whole_floats(frame), _date_columns(frame)
            header = ",".join(names) + "\n"
            for start in range(0, len(frame), ROWS_A_SLICE):
                text = _csv_text(_prepare(frame.iloc[start:start + ROWS_A_SLICE], whole, dates))
                if not text.startswith(header):    # never: the headings need no quotes
                    raise AssertionError("CSV heading written differently for a slice")
                fh.write(text if start == 0 else text[len(header):])
                del text
    os.chmod(path, mode)


def write_text(text: str, path: Path, *, mode: int = 0o600) -> None:
    _make_parent(path, mode)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(path, mode)


def write_json(data, path: Path, *, mode: int = 0o600) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", path, mode=mode)

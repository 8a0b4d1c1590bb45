"""need_matrix.xlsx: the need matrix, the evidence and the members on separate sheets, written so
that Excel keeps what the CSVs lose when opened there: IDs and codes stored as text (a school's
record ID keeps its leading zeros, a 12-digit UPRN stays 100012345678, not 1.00012E+11), dates as
date cells shown YYYY-MM-DD, a frozen header row and a column filter on every sheet.

A column is written as numbers only when the frame holds numbers in it and it is not an
identifier or a code; every other cell is text, and a text cell is never read as a formula."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

# Excel's limits: 1,048,576 rows (one is the header) and 16,384 columns a sheet.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
# Never numbers, whatever the frame holds: identifiers and codes.
TEXT_COLUMNS = {"family_id", "person_id", "record_id", "uprn", "upn", "nhs_number", "ni_number", "postcode",
                "postcode_district", "tenancy_ref", "claim_ref", "person_id_l", "person_id_r", "record_id_l",
                "record_id_r", "old_id", "new_id", "lsoa", "ward", "area_code"}
# A sheet name: at most 31 characters, none of these.
_SHEET_FORBIDDEN = set('[]:*?/\\')


def sheet_parts(rows: int, limit: int = MAX_ROWS - 1) -> list[tuple[int, int]]:
    """[start, stop) row ranges of at most `limit` rows each (one, empty, for no rows)."""
    if rows <= limit:
        return [(0, rows)]
    return [(i, min(i + limit, rows)) for i in range(0, rows, limit)]


def _kind(frame: pd.DataFrame, column: str) -> str:
    s = frame[column]
    if str(column) in TEXT_COLUMNS:
        return "text"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if pd.api.types.is_bool_dtype(s):
        return "flag"
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    values = s.dropna()
    values = values[values.astype(str) != ""]
    if len(values) and values.map(lambda v: isinstance(v, (dt.date, pd.Timestamp))).all():
        return "date"
    # counts held beside blanks ("" for a family not in that quarter): numbers, the blanks empty
    if len(values) and values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                                  and not isinstance(v, bool)).all():
        return "number"
    return "text"


def _cells(frame: pd.DataFrame, column: str, kind: str) -> list:
    s = frame[column]
    if kind == "date":
        d = pd.to_datetime(s, errors="coerce")
        return [None if pd.isna(v) else v.date() for v in d]
    if kind == "flag":
        return [None if pd.isna(v) else int(bool(v)) for v in s]
    if kind == "number":
        out = []
        for v in s.tolist():
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v == "":
                out.append(None)
            elif isinstance(v, float) and v.is_integer():
                out.append(int(v))
            else:
                out.append(v)
        return out
    return [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT
            else _text(v) for v in s.astype(object).tolist()]


def _text(value) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    if isinstance(value, (dt.date, pd.Timestamp)):
        value = value.strftime("%Y-%m-%d")
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def sheet_name(title: str, part: int) -> str:
    name = "".join(ch for ch in title if ch not in _SHEET_FORBIDDEN)
    suffix = f" ({part})" if part > 1 else ""
    return name[:31 - len(suffix)] + suffix


def _as_text_cell(make, ws, value: str):
    cell = make(ws, value=value)
    cell.data_type = "s"        # never a formula, whatever it starts with
    return cell


def write_workbook(path: Path, sheets: Sequence[tuple[str, pd.DataFrame]], *, mode: int = 0o600,
                   max_rows: int = MAX_ROWS) -> list[str]:
    """Write the sheets (title, frame) in order; a frame longer than a sheet holds goes on as
    "title (2)", ... Returns the sheet names written. Columns past Excel's 16,384 are refused
    (a bug: our frames never have that many)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    names = []
    bold = Font(bold=True)
    for title, frame in sheets:
        if frame.shape[1] > MAX_COLUMNS:
            raise ValueError(f"sheet {title}: {frame.shape[1]} columns, more than Excel's {MAX_COLUMNS}")
        columns = [str(c) for c in frame.columns]
        kinds = [_kind(frame, c) for c in frame.columns]
        values = [_cells(frame, c, k) for c, k in zip(frame.columns, kinds)]
        for part, (start, stop) in enumerate(sheet_parts(len(frame), max_rows - 1), start=1):
            ws = book.create_sheet(sheet_name(title, part))
            names.append(ws.title)
            ws.freeze_panes = "A2"
            last = get_column_letter(max(len(columns), 1))
            ws.auto_filter.ref = f"A1:{last}{max(stop - start + 1, 1)}"
            for i, c in enumerate(columns, start=1):
                ws.column_dimensions[get_column_letter(i)].width = min(max(len(c) + 2, 10), 40)
            header = []
            for c in columns:
                cell = WriteOnlyCell(ws, value=_text(c))
                cell.data_type = "s"
                cell.font = bold
                header.append(cell)
            ws.append(header)
            # Plain values, except the text cells openpyxl would take for a formula: a cell
            # object for every value is many times slower. A str is stored as text and a
            # datetime.date gets the format yyyy-mm-dd by itself.
            for row in zip(*(col[start:stop] for col in values)):
                if any(isinstance(v, str) and v.startswith("=") for v in row):
                    row = [_as_text_cell(WriteOnlyCell, ws, v) if isinstance(v, str) and v.startswith("=") else v
                           for v in row]
                ws.append(row)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        book.save(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return names

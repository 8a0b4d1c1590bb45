"""Read one agency extract (CSV, Excel or Parquet) into a frame of text, with each row's number
as it appears in the file, the council's columns mapped onto the canonical fields.

Nothing is typed or checked here beyond the file's shape: validation does that. Rows whose
shape is broken (a CSV line with the wrong number of fields) are returned as shape rejects so
that every row read is accounted for.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import SourceConfig
from schemas.errors import InputDataError
from schemas.fields import fields_for

csv.field_size_limit(16 * 1024 * 1024)

_ARROW_TEXT = pd.StringDtype("pyarrow")
_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}

# An .xlsx is a zip of XML that openpyxl inflates as it reads (the shared strings whole, even
# in read-only mode), so a small file can hold gigabytes: a 1.5 MB workbook was seen to expand
# to 4.7 GB in memory. Before opening one we add up its members' declared sizes (zipfile never
# inflates a member past its declared size) and refuse a workbook over this...
MAX_XLSX_UNCOMPRESSED_BYTES = 2 * 1024 ** 3
# ...or one whose big member inflates more than this many times: real worksheets compress
# about 5 to 15 times, even a sheet of one row repeated; only a crafted file gets to hundreds.
MAX_XLSX_EXPANSION = 100
_XLSX_EXPANSION_CHECKED_FROM = 16 * 1024 ** 2


@dataclass
class RawExtract:
    """The extract as text. `frame` holds canonical columns + row_number; `shape_rejects` holds
    rows that could not be split into the header's columns (row_number, reason)."""
    source: str
    path: Path
    frame: pd.DataFrame
    shape_rejects: pd.DataFrame
    rows_read: int
    encoding: str | None = None
    delimiter: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _open_regular(path: Path):
    """Open a source for reading, refusing anything but a regular file: a FIFO would hang the
    run, a device such as /dev/zero never ends, a folder is not an extract."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for a file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket or other special file")
        raise InputDataError(f"{path}: not a regular file (it is {kind}); name a CSV, Excel or Parquet file")
    return os.fdopen(fd, "rb")


def _norm_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _decode(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise InputDataError(
                f"{path}: cannot be read as {encoding} (byte {exc.start}); check `encoding:` in the config"
            ) from None
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" as Windows-1252; every byte but five decodes in it.
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    head = text[:65536]
    first = head.splitlines()[0] if head else ""
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _read_csv(src: SourceConfig) -> tuple[list[str], pd.DataFrame, list[tuple[int, str]], str, str]:
    with _open_regular(src.path) as fh:
        try:
            raw = fh.read()
        except OSError as exc:
            raise InputDataError(f"{src.path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    text, encoding = _decode(src.path, raw, src.encoding)
    if "\x00" in text:
        raise InputDataError(f"{src.path}: contains NUL bytes; it is not a text (CSV) file or is damaged")
    delimiter = src.delimiter or _sniff_delimiter(text)
    fast = _read_csv_fast(text, delimiter)
    if fast is not None:
        header, frame = fast
        return header, frame, [], encoding, delimiter
    header, rows, numbers, bad = _read_csv_careful(src, text, delimiter)
    frame = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    frame.index = pd.Index(numbers)
    return header, frame, bad, encoding, delimiter


def _read_csv_fast(text: str, delimiter: str) -> tuple[list[str], pd.DataFrame] | None:
    """pyarrow's CSV reader, for well-formed files: every row has the header's number of
    fields and there are no blank lines. Index = row number (header is row 1). None for any
    other file: the careful reader then numbers, skips and rejects rows one by one."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    first = next(csv.reader(io.StringIO(text[:1 << 20], newline=""), delimiter=delimiter), None)
    if not first or len(set(first)) != len(first):
        return None
    misfits = []

    def misfit(row):
        misfits.append(row)
        return "skip"
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=first, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             ignore_empty_lines=False, invalid_row_handler=misfit),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in first},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if misfits:
        return None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    empty = pd.Series(True, index=frame.index)
    for col in frame.columns:
        empty &= frame[col].str.strip() == ""
    # A row of empty cells a spreadsheet left is not a record (as in the careful reader).
    return first, frame[~empty] if empty.any() else frame


def _read_csv_careful(src: SourceConfig, text: str, delimiter: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputDataError(f"{src.path}: the file is empty (no header row)") from None
    except csv.Error as exc:
        raise InputDataError(f"{src.path}, row 1: cannot be parsed as CSV ({exc})") from None
    rows: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    width = len(header)
    record = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            record += 1
            bad.append((record, f"cannot be parsed as CSV ({exc})"))
            continue
        record += 1
        if not any(c.strip() for c in row):
            continue  # a blank line, or a row of empty cells a spreadsheet left: not a record
        if len(row) != width:
            # Trailing empty cells (a common spreadsheet export habit) are harmless.
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]
            else:
                bad.append((record, f"has {len(row)} fields where the header has {width}"))
                continue
        rows.append(row)
        numbers.append(record)
    return header, rows, numbers, bad


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_workbook_size(path: Path, fh) -> None:
    """Refuse a workbook that would inflate past MAX_XLSX_UNCOMPRESSED_BYTES or whose big member
    inflates more than MAX_XLSX_EXPANSION times (a zip bomb), before openpyxl opens it."""
    try:
        members = zipfile.ZipFile(fh).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise InputDataError(f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: not a zip archive)") from None
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise InputDataError(
            f"{path}: the workbook would expand to {total / 1024 ** 3:.1f} GiB when opened, over the limit of "
            f"{MAX_XLSX_UNCOMPRESSED_BYTES / 1024 ** 3:.0f} GiB; export the sheet as CSV instead")
    for m in members:
        if m.file_size > _XLSX_EXPANSION_CHECKED_FROM and m.file_size > MAX_XLSX_EXPANSION * max(m.compress_size, 1):
            raise InputDataError(
                f"{path}: a part of the workbook expands {m.file_size / max(m.compress_size, 1):,.0f} times when "
                f"opened (more than {MAX_XLSX_EXPANSION} times is not a real worksheet); refused as unsafe to open")
    fh.seek(0)


def _read_excel(src: SourceConfig) -> tuple[list[str], list[list[str]], list[int]]:
    with _open_regular(src.path) as fh:
        _check_workbook_size(src.path, fh)
        return _read_workbook(src, fh)


def _read_workbook(src: SourceConfig, fh) -> tuple[list[str], list[list[str]], list[int]]:
    import openpyxl
    try:
        book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file; a stop signal is no Exception
        raise InputDataError(f"{src.path}: cannot be read as an Excel workbook ({type(exc).__name__})") from None
    try:
        if src.sheet is not None:
            if src.sheet not in book.sheetnames:
                raise InputDataError(f"{src.path}: no sheet named '{src.sheet}' (sheets: {', '.join(book.sheetnames)})")
            sheet = book[src.sheet]
        else:
            sheet = book.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        header_row = next(it, None)
        if header_row is None:
            raise InputDataError(f"{src.path}: the sheet is empty (no header row)")
        header = [_cell_text(v).strip() for v in header_row]
        while header and not header[-1]:
            header.pop()
        width = len(header)
        rows, numbers = [], []
        for n, values in enumerate(it, start=2):
            cells = [_cell_text(v) for v in values[:width]]
            cells += [""] * (width - len(cells))
            if not any(c.strip() for c in cells):
                continue
            rows.append(cells)
            numbers.append(n)
        return header, rows, numbers
    finally:
        book.close()


def _read_parquet(src: SourceConfig) -> tuple[list[str], pd.DataFrame]:
    import pyarrow.parquet as pq
    with _open_regular(src.path) as fh:
        try:
            table = pq.read_table(fh)
        except Exception as exc:  # ArrowInvalid, OSError, ... for a damaged file; a stop signal is no Exception
            raise InputDataError(f"{src.path}: cannot be read as Parquet ({type(exc).__name__})") from None
    frame = table.to_pandas()
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.map({True: "true", False: "false"}).fillna("")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.map(lambda v: "" if pd.isna(v) else _cell_text(float(v)))
        else:
            out[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else _cell_text(v))
    return [str(c) for c in frame.columns], out


def read_extract(src: SourceConfig) -> RawExtract:
    """Read the file named by a source into text, map columns, apply value mappings."""
    suffix = src.path.suffix.lower()
    encoding = delimiter = None
    bad: list[tuple[int, str]] = []
    if suffix in _EXCEL_SUFFIXES:
        header, rows, numbers = _read_excel(src)
        frame = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    elif suffix in _PARQUET_SUFFIXES:
        header, frame = _read_parquet(src)
        numbers = list(range(1, len(frame) + 1))
    elif suffix in _CSV_SUFFIXES or suffix == "":
        header, frame, bad, encoding, delimiter = _read_csv(src)
        numbers = frame.index.tolist()
    else:
        raise InputDataError(f"{src.path}: unsupported file type '{suffix}'; use CSV, Excel (.xlsx) or Parquet")

    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputDataError(f"{src.path}: column heading repeated: {', '.join(dup)}")

    known = [f.name for f in fields_for(src.kind)]
    rename: dict[str, str] = {}
    for col in header:
        if col in src.columns:
            rename[col] = src.columns[col]
        elif col.strip() in src.columns:
            rename[col] = src.columns[col.strip()]
        elif _norm_header(col) in known and _norm_header(col) not in src.columns.values():
            rename[col] = _norm_header(col)
    mapped_targets = list(rename.values())
    if len(set(mapped_targets)) != len(mapped_targets):
        dup = sorted({t for t in mapped_targets if mapped_targets.count(t) > 1})
        raise InputDataError(f"{src.path}: more than one column maps to field {', '.join(dup)}")
    for theirs in src.columns:
        if theirs not in header and theirs.strip() not in [h.strip() for h in header]:
            raise InputDataError(f"{src.path}: the config maps column '{theirs}', which is not in the file's header")
    required = [f.name for f in fields_for(src.kind) if f.required]
    missing = [f for f in required if f not in mapped_targets]
    if missing:
        raise InputDataError(
            f"{src.path}: required column missing: {', '.join(missing)} "
            f"(map the council's heading to it under `columns:` in the config)"
        )
    ignored = [c for c in header if c not in rename]
    frame = frame[list(rename)].rename(columns=rename)
    # Data minimisation: columns we do not use are not carried further.
    for name in known:
        if name not in frame.columns:
            frame[name] = ""
    frame = frame[known]
    text = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in known:
        s = frame[col]
        # Columns pyarrow read are already pyarrow text: no round trip through Python objects.
        arr = s.array if s.dtype == _ARROW_TEXT else pd.array(s.to_numpy(dtype=object), dtype=_ARROW_TEXT)
        text[col] = pd.Series(arr, index=text.index).fillna("").str.strip()
    frame = text
    for fname, table in src.values.items():
        lowered = frame[fname].str.lower()
        hit = lowered.isin(table.keys())
        frame.loc[hit, fname] = lowered[hit].map(table)
    frame.insert(0, "row_number", pd.array(numbers, dtype="int64"))
    shape = pd.DataFrame(bad, columns=["row_number", "reason"])
    notes = []
    if encoding == "cp1252" and src.encoding is None:
        notes.append("not UTF-8: read as Windows-1252")
    return RawExtract(source=src.name, path=src.path, frame=frame, shape_rejects=shape,
                      rows_read=len(frame) + len(shape), encoding=encoding, delimiter=delimiter,
                      ignored_columns=ignored, notes=notes)

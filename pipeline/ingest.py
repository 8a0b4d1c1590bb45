"""Read one agency extract (CSV, Excel, Parquet or a folder or glob of Parquet parts) into a frame of text, with each row's number
as it appears in the file, the council's columns mapped onto the canonical fields.

Nothing is typed or checked here beyond the file's shape: validation does that. Rows whose
shape is broken (a CSV line with the wrong number of fields) are returned as shape rejects so
that every row read is accounted for.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
    rows that could not be split into the header's columns (row_number, reason). rows_read is
    len(frame) + len(shape_rejects): every record of the file, reconciled to its lines."""
    source: str
    path: Path
    frame: pd.DataFrame
    shape_rejects: pd.DataFrame
    rows_read: int
    encoding: str | None = None
    delimiter: str | None = None
    unused_columns: list[int] = field(default_factory=list)   # positions (1 = first), never headings
    notes: list[str] = field(default_factory=list)
    parts: list[tuple[str, int]] = field(default_factory=list)   # a source of parts: (part, its first row number)


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


def column_positions(positions: list[int]) -> str:
    """Column positions (1 = first) for a message, runs shortened: "3, 5 and 8-12". Messages
    name columns by position: a heading can be a value when the header is missing."""
    runs: list[str] = []
    i = 0
    while i < len(positions):
        j = i
        while j + 1 < len(positions) and positions[j + 1] == positions[j] + 1:
            j += 1
        runs.append(str(positions[i]) if j - i < 2 else f"{positions[i]}-{positions[j]}")
        if j - i == 1:
            runs.append(str(positions[j]))
        i = j + 1
    return runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]


_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T][\d:.]+)?")
_POSTCODE_LIKE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", re.I)
_NI_LIKE = re.compile(r"[A-Z]{2}\d{6}[A-D]", re.I)


def _looks_like_a_value(cell: str) -> bool:
    """A date, a postcode, an NI number or a long number (UPRN, NHS number): not a heading."""
    compact = re.sub(r"\s+", "", str(cell))
    return bool(_DATE_LIKE.fullmatch(str(cell).strip()) or _POSTCODE_LIKE.fullmatch(compact)
                or _NI_LIKE.fullmatch(compact) or (compact.isdigit() and len(compact) >= 6))


def _check_headings(path: Path, header: list[str]) -> None:
    """Headings that repeat, named by position: a heading may be a data value."""
    at: dict[str, list[int]] = {}
    for i, h in enumerate(header, start=1):
        at.setdefault(h, []).append(i)
    repeated = [(h, p) for h, p in at.items() if len(p) > 1]
    if repeated:
        raise InputDataError(f"{path}: " + "; ".join(
            f"columns {column_positions(p)} have {'no heading' if not str(h).strip() else 'the same heading'}"
            for h, p in repeated))


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


# A line ends in CRLF, LF or a lone CR (old Mac files), as csv and pyarrow both read them.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Characters Unicode calls line ends that neither csv nor pyarrow ends a line on: a file whose
# lines end in them reads as a single line, its records all in the header.
_FOREIGN_LINE_ENDS = {"\x85": "NEL (U+0085)", "\u2028": "LINE SEPARATOR (U+2028)",
                      "\u2029": "PARAGRAPH SEPARATOR (U+2029)"}
# The pyarrow path scans a file's bytes for its layout this much at a time (bounded memory).
_LAYOUT_CHUNK = 1 << 24


def _first_line(text: str) -> str:
    m = _LINE_BREAK.search(text)
    return text[:m.start()] if m else text


def _last_line(text: str) -> str:
    body = text.rstrip("\r\n")
    return body[max(body.rfind("\n"), body.rfind("\r")) + 1:]


def _sniff_delimiter(text: str) -> str:
    first = _first_line(text[:65536])
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _count_lines(text: str) -> int:
    """The file's physical lines, counted without parsing it: what every record is reconciled to."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (1 if text and text[-1] not in "\r\n" else 0)


def _foreign_line_ends(text: str) -> list[tuple[str, str]]:
    return [(ch, name) for ch, name in _FOREIGN_LINE_ENDS.items() if ch in text]


def _refuse_foreign_line_ends(path: Path, line: str, number: int, found: list[tuple[str, str]]) -> None:
    for ch, name in found:
        if ch in line:
            raise InputDataError(
                f"{path}, line {number}: holds {name} characters where lines seem to end; CSV readers end "
                f"lines only on CR or LF, so the file would read as one line: save it again with CRLF or LF line ends")


def _quote_left_open(text: str, delimiter: str) -> bool:
    """Whether a record's text ends inside a quoted cell: a line put after it is swallowed."""
    probe = text if text.endswith(("\n", "\r")) else text + "\n"
    sentinel = "x" if delimiter != "x" else "y"
    rows = list(csv.reader(io.StringIO(probe + sentinel + "\n", newline=""), delimiter=delimiter))
    return not rows or rows[-1] != [sentinel]


def _swallowed(first: int, last: int) -> str:
    return (f"unbalanced quote: a quote opened on this line runs on to line {last}, taking in "
            f"{last - first} line break(s); this line is rejected and the lines after it are read on their own")


def _read_header(path: Path, text: str, delimiter: str) -> tuple[list[str], int, int]:
    """The header record, the physical lines it takes (a heading may hold a quoted line break)
    and its length in characters."""
    seen: list[str] = []

    def lines():
        for m in _PHYSICAL_LINE.finditer(text):
            seen.append(m.group())
            yield m.group()
    source = lines()
    reader = csv.reader(source, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputDataError(f"{path}: the file is empty (no header row)") from None
    except csv.Error as exc:
        raise InputDataError(f"{path}, line 1: the header cannot be parsed as CSV ({exc})") from None
    span = reader.line_num
    own = "".join(seen[:span])
    if span > 1:
        after = next(source, None)
        if after is None and _quote_left_open(own, delimiter):
            raise InputDataError(f"{path}, line 1: a quote in the header is never closed, so the whole file "
                                 f"reads as the header; check the quotes on line 1")
        # Every line of the header as long as the record after it: the header swallowed records.
        widths = {line.count(delimiter) for line in seen[:span + 1]}
        if after is not None and len(widths) == 1 and widths != {0}:
            raise InputDataError(f"{path}, line 1: a quote in the header runs on to line {span}, taking in lines "
                                 f"that look like records; check the quotes on line 1")
    return header, span, len(own)


def _read_csv(src: SourceConfig) -> tuple[list[str], pd.DataFrame, list[tuple[int, str]], str, str]:
    with _open_regular(src.path) as fh:
        try:
            raw = fh.read()
        except OSError as exc:
            raise InputDataError(f"{src.path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    text, encoding = _decode(src.path, raw, src.encoding)
    if "\x00" in text:
        raise InputDataError(f"{src.path}: contains NUL bytes; it is not a text (CSV) file or is damaged")
    foreign = _foreign_line_ends(text)
    if foreign:
        _refuse_foreign_line_ends(src.path, _first_line(text), 1, foreign)
    delimiter = src.delimiter or _sniff_delimiter(text)
    header, first, head_chars = _read_header(src.path, text, delimiter)
    frame = None if foreign else _read_csv_fast(text, delimiter, header, first, head_chars)
    if frame is not None:
        return header, frame, [], encoding, delimiter
    rows, numbers, bad = _read_csv_careful(src.path, text, delimiter, header, first)
    frame = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    frame.index = pd.Index(numbers, dtype="int64")
    return header, frame, bad, encoding, delimiter


def _read_csv_fast(text: str, delimiter: str, header: list[str], first: int, head_chars: int) -> pd.DataFrame | None:
    """pyarrow's CSV reader, for well-formed files. Index = each record's first line number
    (the header is line 1). None for any file where that is in doubt (the careful reader then
    takes it): a row with the wrong number of fields, a quote left open, or a record over
    several lines that does not read as one record with a quoted line break."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not header or len(set(header)) != len(header) or len(delimiter.encode("utf-8")) != 1 or delimiter in "\"\r\n":
        return None
    data = text.encode("utf-8")
    skip = len(text[:head_chars].encode("utf-8"))
    body = np.frombuffer(data, dtype=np.uint8)[skip:]
    lines, lone_cr, quotes_placed = _scan_lines(body, delimiter)
    misfits = []

    def misfit(row):
        misfits.append(row)
        return "skip"
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)[skip:]),
            read_options=pacsv.ReadOptions(column_names=header, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             ignore_empty_lines=False, invalid_row_handler=misfit),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if misfits:
        return None
    n = table.num_rows
    if n == lines:
        # A record a line: nothing spans lines. A quote inside a field (5'10") is text, but the
        # last line may still end inside a quote that took in its line end: the careful
        # reader rejects that line.
        if not quotes_placed and _quote_left_open(_last_line(text), delimiter):
            return None
        numbers = np.arange(first + 1, first + 1 + n, dtype=np.int64)
    elif n < lines and quotes_placed:
        # Records over several lines, which quote parity can place only when every quote is
        # where a CSV quote may be; else the careful reader matches records to lines.
        starts = _record_starts(data, skip, body, delimiter, len(header), n, lone_cr)
        if starts is None:
            return None
        numbers = starts + (first + 1)
    else:
        return None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.index = pd.Index(numbers)
    empty = pd.Series(True, index=frame.index)
    for col in frame.columns:
        empty &= frame[col].str.strip() == ""
    # A row of empty cells a spreadsheet left is not a record (as in the careful reader).
    return frame[~empty] if empty.any() else frame


def _scan_lines(body: np.ndarray, delimiter: str) -> tuple[int, bool, bool]:
    """A file's physical lines, counted on its bytes (numpy, a chunk at a time); whether any
    line ends in a lone CR; and whether its quotes are all where a CSV quote may be, so that
    the count of quotes before a line end tells whether it is inside a quoted cell: a quote
    that opens a cell (at the start of a field, or the second of a doubled quote) and one that
    closes it (before a delimiter, a line end or another quote), and an even number of them."""
    lf = cr = crlf = quotes = 0
    placed = True
    edges = np.array([ord(delimiter), 10, 13, 34], dtype=np.uint8)
    for lo in range(0, body.size, _LAYOUT_CHUNK):
        c = body[lo:lo + _LAYOUT_CHUNK]
        lf += int(np.count_nonzero(c == 10))
        at = np.flatnonzero(c == 13) + (lo + 1)
        if at.size:
            cr += at.size
            crlf += int(np.count_nonzero(body[at[at < body.size]] == 10))
        q = np.flatnonzero(c == 34) + lo
        if q.size and placed:
            before = np.isin(body[np.maximum(q - 1, 0)], edges) | (q == 0)
            after = np.isin(body[np.minimum(q + 1, body.size - 1)], edges) | (q == body.size - 1)
            opens = (np.arange(quotes, quotes + q.size) & 1) == 0
            placed = bool(np.all(np.where(opens, before, after)))
        quotes += q.size
    last_open = body.size > 0 and body[-1] not in (10, 13)
    return lf + cr - crlf + last_open, cr > crlf, placed and quotes % 2 == 0


def _chunk_end(data: bytes, skip: int, lo: int, size: int) -> int:
    """Where the layout chunk starting at lo ends: just past the first line end after
    _LAYOUT_CHUNK bytes, so that no line is split between chunks."""
    target = lo + _LAYOUT_CHUNK
    if target >= size:
        return size
    lf = data.find(b"\n", skip + target)
    cr = data.find(b"\r", skip + target, lf if lf >= 0 else len(data))
    at = cr if cr >= 0 else lf
    if at < 0:
        return size
    if data[at:at + 2] == b"\r\n":
        at += 1
    return at - skip + 1


def _record_starts(data: bytes, skip: int, body: np.ndarray, delimiter: str, width: int, n: int,
                   lone_cr: bool) -> np.ndarray | None:
    """For a file whose records are fewer than its lines: each record's first line (0 = the
    first line after the header), from the quote parity at each line end (a line end after an
    odd number of quotes is inside a quoted cell). None when that layout does not give pyarrow's
    n records, or when a record over several lines has lines that each hold the header's
    number of fields: a stray quote swallowed whole records there."""
    size = body.size
    quote, delim = ord('"'), ord(delimiter)
    inside_parts, whole_parts = [], []
    carry = 0
    lo = 0
    while lo < size:
        hi = _chunk_end(data, skip, lo, size)
        c = body[lo:hi]
        breaks = np.flatnonzero(c == 10)
        if lone_cr:
            cr = np.flatnonzero(c == 13)
            lone = cr[(cr + 1 >= c.size) | (c[np.minimum(cr + 1, c.size - 1)] != 10)]
            breaks = np.sort(np.concatenate([breaks, lone]))
        if hi == size and c[-1] not in (10, 13):      # the last line has no line end: end it past its last byte
            breaks = np.append(breaks, c.size)
        quotes = np.flatnonzero(c == quote)
        inside_parts.append(((np.searchsorted(quotes, breaks) + carry) & 1).astype(bool))
        carry = (carry + quotes.size) & 1
        delimiters = np.searchsorted(np.flatnonzero(c == delim), breaks)   # before each line end
        whole_parts.append(np.diff(delimiters, prepend=0) + 1 == width)
        lo = hi
    inside = np.concatenate(inside_parts)
    whole = np.concatenate(whole_parts)
    ends = np.flatnonzero(~inside)
    if ends.size != n or inside[-1]:
        return None
    starts = np.concatenate([[0], ends[:-1] + 1])
    span = ends - starts + 1
    several = span > 1
    if width > 1 and several.any():
        every_line_whole = np.add.reduceat(whole, starts, dtype=np.int64) == span
        if (several & every_line_whole).any():
            return None
    return starts


def _quote_swallowed(lines: list[str], start: int, end: int, row: list[str], width: int, delimiter: str,
                     at_end: bool) -> str | None:
    """Why the record on lines start..end-1 (0-based) is not one record, or None when it is. A
    record over several lines is one when a quoted cell holds the line breaks: the quote closes,
    the record has the header's number of fields, and its lines do not each hold that many
    fields on their own (which is what records swallowed by a stray quote look like)."""
    own = lines[start:end]
    if at_end and _quote_left_open("".join(own), delimiter):
        if end - start > 1:
            return (f"unbalanced quote: a quote opened on this line is never closed and would take in the rest "
                    f"of the file (to line {end}); this line is rejected and the lines after it are read on their own")
        return "unbalanced quote: a quote opened on this line is never closed"
    if end - start == 1:
        return None
    fits = len(row) == width or (len(row) > width and not any(c.strip() for c in row[width:]))
    if fits and not (width > 1 and all(line.count(delimiter) + 1 == width for line in own)):
        return None
    return _swallowed(start + 1, end)


_HEADER, _RECORD, _CONTINUED, _BLANK = 1, 2, 3, 4


def _read_csv_careful(path: Path, text: str, delimiter: str, header: list[str], first: int):
    """csv's reader, record by record over the physical lines; each record is numbered by its
    first line. A quote that swallows line breaks it should not rejects its own line only, and
    reading starts again on the next line, so the records it took in are read as they are.
    Every line ends up the header's, a record's (accepted or rejected) or blank: checked."""
    # str.splitlines also ends lines on a few control characters (and NEL, U+2028, U+2029):
    # faster, so used when the text has none of them.
    odd_ends = any(ch in text for ch in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    lines = _PHYSICAL_LINE.findall(text) if odd_ends else text.splitlines(keepends=True)
    total = len(lines)
    if total != _count_lines(text):
        raise InputDataError(f"{path}: the file's lines cannot be counted consistently; it cannot be reconciled")
    foreign = _foreign_line_ends(text)
    width = len(header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    role = bytearray(total)
    role[:first] = bytes([_HEADER]) * first
    pos, reader, base = first, None, first
    while pos < total:
        if reader is None:
            # After a swallowing quote reading starts again mid-file: map over a range starts
            # there at no cost, where islice would step over every line before it.
            rest = itertools.islice(lines, pos, None) if pos == first else map(lines.__getitem__, range(pos, total))
            reader, base = csv.reader(rest, delimiter=delimiter), pos
        start = pos
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:      # a field over the size limit: most often a quote left open
            end = max(base + reader.line_num, start + 1)
            reader = None
            bad.append((start + 1, _swallowed(start + 1, end) if end - start > 1
                        else f"cannot be parsed as CSV ({exc})"))
            role[start] = _RECORD
            pos = start + 1
            continue
        end = base + reader.line_num
        pos = end
        if end - start > 1 or end == total:
            reason = _quote_swallowed(lines, start, end, row, width, delimiter, at_end=end == total)
            if reason:
                bad.append((start + 1, reason))
                role[start] = _RECORD
                pos, reader = start + 1, None
                continue
            if end - start > 1:
                role[start + 1:end] = bytes([_CONTINUED]) * (end - start - 1)
        if not any(c.strip() for c in row):
            role[start:end] = bytes([_BLANK]) * (end - start)
            continue   # a blank line, or a row of empty cells a spreadsheet left: not a record
        role[start] = _RECORD
        if len(row) != width:
            # Trailing empty cells (a common spreadsheet export habit) are harmless.
            if len(row) > width and not any(c.strip() for c in row[width:]):
                row = row[:width]
            else:
                if foreign:
                    _refuse_foreign_line_ends(path, "".join(lines[start:end]), start + 1, foreign)
                bad.append((start + 1, f"has {len(row)} fields where the header has {width}"))
                continue
        rows.append(row)
        numbers.append(start + 1)
    _reconcile(path, lines, role, delimiter, len(rows) + len(bad))
    return rows, numbers, bad


def _reconcile(path: Path, lines: list[str], role: bytearray, delimiter: str, read: int) -> None:
    """Every physical line is the header's, a record's or blank, and the records read are the
    lines that start one: else the file cannot be reconciled (read = accepted + rejected)."""
    unread = role.find(0)
    if unread >= 0:
        raise InputDataError(f"{path}, line {unread + 1}: the reader lost track of the file's lines here; "
                             f"the file cannot be reconciled (read = accepted + rejected)")
    at = role.find(_BLANK)
    while at >= 0:
        if lines[at].replace(delimiter, "").replace('"', "").strip():
            raise InputDataError(f"{path}, line {at + 1}: the line holds text but was read as blank; "
                                 f"the file cannot be reconciled (read = accepted + rejected)")
        at = role.find(_BLANK, at + 1)
    if role.count(_RECORD) != read:
        raise InputDataError(f"{path}: {read} records read where {role.count(_RECORD)} lines start one; "
                             f"the file cannot be reconciled (read = accepted + rejected)")


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
        raise InputDataError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: not a zip archive)") from None
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


def _read_parquet(path: Path):
    """One Parquet file as (its arrow schema, its columns as text)."""
    import pyarrow.parquet as pq
    with _open_regular(path) as fh:
        try:
            table = pq.read_table(fh)
        except Exception as exc:  # ArrowInvalid, OSError, ... for a damaged file; a stop signal is no Exception
            raise InputDataError(f"{path}: cannot be read as Parquet ({type(exc).__name__})") from None
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
    return table.schema, out


def part_label(src: SourceConfig, part: Path) -> str:
    """How messages and the rejected/warnings files name a part: its path from the source's
    folder (the folder named, or the one the glob looks in), with that folder's name."""
    base = src.path if src.path.is_dir() else Path(os.path.commonpath([p.parent for p in src.parts]))
    return str(Path(base.name) / part.relative_to(base))


def _read_parquet_parts(src: SourceConfig) -> tuple[list[str], pd.DataFrame, list[tuple[str, int]]]:
    """The parts of a folder or glob source, in order, as one frame; each part's label and the
    source row number of its first row. Parts must have the same columns of the same types:
    a part that differs is an error naming it and the column, never merged with blanks."""
    import pyarrow as pa
    names: list = []
    types: dict = {}
    first_label = ""
    frames, starts, rows = [], [], 0
    for part in src.parts:
        label = part_label(src, part)
        schema, frame = _read_parquet(part)
        theirs = {name: (schema.field(name).type if name in schema.names else None) for name in frame.columns}
        if not frames:
            names, types, first_label = list(frame.columns), theirs, label
        else:
            for name in names:
                if name not in theirs:
                    raise InputDataError(f"{part}: column {name} is missing; {first_label} has it. "
                                         "All parts of a source must have the same columns")
                mine, other = types[name], theirs[name]
                if other != mine and not any(t is None or pa.types.is_null(t) for t in (mine, other)):
                    raise InputDataError(f"{part}: column {name} is of type {other}, but {mine} in "
                                         f"{first_label}. All parts of a source must have the same column types")
            extra = [name for name in theirs if name not in types]
            if extra:
                raise InputDataError(f"{part}: column {extra[0]} is not in {first_label}. "
                                     "All parts of a source must have the same columns")
            frame = frame[names]
        starts.append((label, rows + 1))
        rows += len(frame)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return [str(c) for c in names], frame, starts


def where_rows(starts: list[tuple[str, int]], row_numbers) -> tuple[np.ndarray, np.ndarray]:
    """For source row numbers: each row's part label and its row within that part (1 = first)."""
    firsts = np.array([first for _, first in starts], dtype=np.int64)
    labels = np.array([label for label, _ in starts], dtype=object)
    rows = np.asarray(row_numbers, dtype=np.int64)
    at = np.searchsorted(firsts, rows, side="right") - 1
    return labels[at], rows - firsts[at] + 1


def read_extract(src: SourceConfig) -> RawExtract:
    """Read the file named by a source into text, map columns, apply value mappings."""
    suffix = src.path.suffix.lower()
    encoding = delimiter = None
    bad: list[tuple[int, str]] = []
    starts: list[tuple[str, int]] = []
    if src.parts:
        header, frame, starts = _read_parquet_parts(src)
        numbers = list(range(1, len(frame) + 1))
    elif suffix in _EXCEL_SUFFIXES:
        header, rows, numbers = _read_excel(src)
        frame = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    elif suffix in _PARQUET_SUFFIXES:
        frame = _read_parquet(src.path)[1]
        header = [str(c) for c in frame.columns]
        numbers = list(range(1, len(frame) + 1))
    elif suffix in _CSV_SUFFIXES or suffix == "":
        header, frame, bad, encoding, delimiter = _read_csv(src)
        numbers = frame.index.to_numpy(dtype=np.int64)
    else:
        raise InputDataError(f"{src.path}: unsupported file type '{suffix}'; use CSV, Excel (.xlsx) or Parquet")

    known = [f.name for f in fields_for(src.kind)]
    rename: dict[str, str] = {}
    for col in header:
        if col in src.columns:
            rename[col] = src.columns[col]
        elif col.strip() in src.columns:
            rename[col] = src.columns[col.strip()]
        elif _norm_header(col) in known and _norm_header(col) not in src.columns.values():
            rename[col] = _norm_header(col)
    if not rename and any(_looks_like_a_value(h) for h in header):
        # The header is a record: say so without quoting any of it.
        raise InputDataError(f"{src.path}: the first line does not look like a header (no known column heading, "
                             f"and cells that look like dates, postcodes or reference numbers): is the header missing?")
    _check_headings(src.path, header)
    mapped_targets = list(rename.values())
    if len(set(mapped_targets)) != len(mapped_targets):
        twice = sorted({t for t in mapped_targets if mapped_targets.count(t) > 1})
        raise InputDataError(f"{src.path}: " + "; ".join(
            f"columns {column_positions([i for i, h in enumerate(header, 1) if rename.get(h) == t])} "
            f"all map to field {t}" for t in twice))
    for theirs in src.columns:
        if theirs not in header and theirs.strip() not in [h.strip() for h in header]:
            raise InputDataError(f"{src.path}: the config maps column '{theirs}', which is not in the file's header")
    required = [f.name for f in fields_for(src.kind) if f.required or f.in_header]
    missing = [f for f in required if f not in mapped_targets]
    if missing:
        raise InputDataError(
            f"{src.path}: required column missing: {', '.join(missing)} "
            f"(map the council's heading to it under `columns:` in the config)"
        )
    unused = [i for i, c in enumerate(header, start=1) if c not in rename]
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
                      unused_columns=unused, notes=notes, parts=starts)

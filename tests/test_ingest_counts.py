"""Ingest accounts for every line of a file: read = accepted + rejected = the file's own count of
records, row numbers are physical line numbers (the header is line 1), and a source that is not
a plain file, or a workbook that would inflate past the limits, is refused before it is read."""
import os
import zipfile

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.ingest
from pipeline.cli import main
from pipeline.config import SourceConfig, load_config
from pipeline.ingest import read_extract
from pipeline.stages import ingest_and_validate
from schemas.errors import EXIT_INPUT, InputDataError
from tests.conftest import HOUSING_HEADER, housing_row, write_config


def source_for(tmp_path, name="housing.csv", spec=None, agency="housing"):
    cfg = load_config(write_config(tmp_path, {agency: spec or {"path": name}}))
    return cfg.sources[agency]


# ---- sources that must never be read -------------------------------------------------------
# The config loader refuses a path that is not a file when it loads; the reader checks again as
# it opens, because the path can change between the two (and not every caller loads a config).

def direct_source(path, agency="housing"):
    return SourceConfig(name=agency, kind=agency, path=path)


def test_a_folder_named_as_the_source_is_refused_as_not_a_regular_file(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    (tmp_path / "housing.csv").mkdir()
    with pytest.raises(InputDataError, match=r"housing.csv: not a regular file \(it is a folder\)") as exc:
        read_extract(src)
    assert exc.value.exit_code == EXIT_INPUT


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    os.mkfifo(tmp_path / "housing.csv")
    with pytest.raises(InputDataError, match=r"not a regular file \(it is a named pipe"):
        read_extract(src)          # returns at once: opening never blocks on the FIFO


def test_a_device_is_refused_without_reading_it(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    os.symlink("/dev/zero", tmp_path / "housing.csv")
    with pytest.raises(InputDataError, match=r"not a regular file \(it is a device\)"):
        read_extract(src)


def test_a_device_named_as_an_excel_or_parquet_source_is_refused(tmp_path):
    os.symlink("/dev/zero", tmp_path / "police.xlsx")
    with pytest.raises(InputDataError, match="police.xlsx: not a regular file"):
        read_extract(direct_source(tmp_path / "police.xlsx", "police"))
    os.symlink("/dev/zero", tmp_path / "schools.parquet")
    with pytest.raises(InputDataError, match="schools.parquet: not a regular file"):
        read_extract(direct_source(tmp_path / "schools.parquet", "schools"))


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_a_workbook_that_would_inflate_hundreds_of_times_is_refused_before_opening(tmp_path):
    # 32 MiB of one repeated byte compresses to a few tens of KB: a zip bomb in miniature.
    _zip(tmp_path / "police.xlsx", {"[Content_Types].xml": b"<Types/>",
                                    "xl/worksheets/sheet1.xml": b" " * (32 * 1024 ** 2)})
    with pytest.raises(InputDataError, match=r"police.xlsx: a part of the workbook expands [\d,]+ times") as exc:
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))
    assert exc.value.exit_code == EXIT_INPUT


def test_a_workbook_over_the_total_size_limit_is_refused_naming_the_file(tmp_path, monkeypatch):
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.append(["Ref", "Forename", "Surname", "Offence Type", "Role", "Offence Date"])
    wb.save(tmp_path / "police.xlsx")
    total = sum(m.file_size for m in zipfile.ZipFile(tmp_path / "police.xlsx").infolist())
    monkeypatch.setattr(pipeline.ingest, "MAX_XLSX_UNCOMPRESSED_BYTES", total - 1)
    with pytest.raises(InputDataError, match=r"police.xlsx: the workbook would expand to .* over the limit"):
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))


def test_a_file_that_is_not_a_zip_is_not_an_excel_workbook(tmp_path):
    (tmp_path / "police.xlsx").write_bytes(b"Ref,Forename\n")
    with pytest.raises(InputDataError, match="police.xlsx: cannot be read as an Excel workbook"):
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))


def test_a_stop_signal_inside_the_excel_or_parquet_reader_is_not_taken_for_a_bad_file(tmp_path, monkeypatch):
    # The readers catch Exception for a damaged file; a signal (InterruptedRun) is no Exception.
    import openpyxl
    import pyarrow.parquet as pq
    from schemas.errors import InterruptedRun

    def stopped(*args, **kwargs):
        raise InterruptedRun("stopped by signal")
    wb = openpyxl.Workbook()
    wb.save(tmp_path / "police.xlsx")
    (tmp_path / "schools.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr(openpyxl, "load_workbook", stopped)
    monkeypatch.setattr(pq, "read_table", stopped)
    with pytest.raises(InterruptedRun):
        read_extract(direct_source(tmp_path / "police.xlsx", "police"))
    with pytest.raises(InterruptedRun):
        read_extract(direct_source(tmp_path / "schools.parquet", "schools"))

# ---- every line accounted for ----------------------------------------------------------------
# Synthetic housing rows, written by hand (not by the csv module) so that a test can put a quote
# exactly where a hand-edited or badly exported file has one. Line 1 is the header.

def data_lines(count, delimiter=";"):
    return [delimiter.join(housing_row(f"H{i}", uprn=str(100000 + i), tenancy_ref=f"T{i}").values())
            for i in range(count)]


def with_quote(line, field, delimiter=";", at="start"):
    cells = line.split(delimiter)
    cells[field] = '"' + cells[field] if at == "start" else cells[field] + '"'
    return delimiter.join(cells)


def write_lines(path, lines, delimiter=";", end="\n", header=None):
    header = delimiter.join(HOUSING_HEADER) if header is None else header
    path.write_bytes((end.join([header] + lines) + end).encode("utf-8"))
    return path


def numbers(raw):
    """(accepted row numbers, rejected row numbers) of a RawExtract."""
    return raw.frame.row_number.tolist(), raw.shape_rejects.row_number.tolist()


def fast_reader_took_it(monkeypatch) -> list[bool]:
    """Records, for each CSV read, whether pyarrow's path read it (True) or handed it over."""
    took = []
    real = pipeline.ingest._read_csv_fast

    def spy(*args):
        frame = real(*args)
        took.append(frame is not None)
        return frame
    monkeypatch.setattr(pipeline.ingest, "_read_csv_fast", spy)
    return took


def assert_every_line_once(raw, first, last):
    accepted, rejected = numbers(raw)
    assert sorted(accepted + rejected) == list(range(first, last + 1))
    assert raw.rows_read == len(accepted) + len(rejected) == last - first + 1


def test_stray_quote_in_row_30_rejects_only_that_row_and_accounts_for_every_line(tmp_path):
    lines = data_lines(65)
    lines[29] = with_quote(lines[29], 1)            # data row 30 is line 31
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert_every_line_once(raw, 2, 66)
    assert numbers(raw)[1] == [31]
    assert "unbalanced quote" in raw.shape_rejects.reason[0] and "line 66" in raw.shape_rejects.reason[0]
    # The records after it are read as they are, not as parts of one long cell.
    assert raw.frame.set_index("row_number").loc[32:66, "record_id"].tolist() == [f"H{i}" for i in range(30, 65)]
    v = ingest_and_validate(load_config(tmp_path / "config.yaml"))["housing"]
    assert v.counts()["read"] == len(v.accepted) + len(v.rejected) == 65
    assert v.rejected.row_number.tolist() == [31] and len(v.accepted) == 64


def test_stray_quote_in_row_30_end_to_end_validate_and_run_account_for_every_line(tmp_path):
    lines = data_lines(65)
    lines[29] = with_quote(lines[29], 1)
    write_lines(tmp_path / "housing.csv", lines)
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}})
    r = CliRunner().invoke(main, ["validate", "--config", str(config)], catch_exceptions=False)
    assert r.exit_code == 0, r.output               # 1 of 65 rejected: under the limit
    row = next(x for x in r.output.splitlines() if x.startswith("housing"))
    assert row.split()[1:4] == ["65", "64", "1"] and row.split()[-1] == "ok"
    rejected = (tmp_path / "out-validation" / "rejected" / "housing.csv").read_text().splitlines()
    assert len(rejected) == 2 and rejected[1].startswith("31,") and "unbalanced quote" in rejected[1]

    r = CliRunner().invoke(main, ["run", "--config", str(config), "--out", str(tmp_path / "full")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    links = (tmp_path / "full" / "record_links.csv").read_text().splitlines()
    assert len(links) == 1 + 64                      # every accepted record is linked
    assert (tmp_path / "full" / "rejected" / "housing.csv").read_text().splitlines()[1].startswith("31,")


def test_quote_opened_in_the_last_field_does_not_absorb_the_next_line(tmp_path):
    lines = data_lines(10)
    lines[4] = with_quote(lines[4], len(HOUSING_HEADER) - 1)      # `...;"0` then a line end
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert_every_line_once(raw, 2, 11)
    assert numbers(raw)[1] == [6]


def test_quote_that_closes_in_a_later_record_is_not_one_merged_record(tmp_path, monkeypatch):
    # Opened in field 2 of line 4, closed at the end of field 2 of line 6: pyarrow reads lines
    # 4-6 as one record with exactly the header's 15 fields. Each of those lines holds 15 on
    # its own, so they are records a stray quote swallowed, not one record.
    lines = data_lines(8)
    lines[2] = with_quote(lines[2], 1, at="start")
    lines[4] = with_quote(lines[4], 1, at="end")
    write_lines(tmp_path / "housing.csv", lines)
    took = fast_reader_took_it(monkeypatch)
    raw = read_extract(source_for(tmp_path))
    assert took == [False]                       # pyarrow's merged record is handed over
    assert_every_line_once(raw, 2, 9)
    accepted, rejected = numbers(raw)
    assert rejected == [4]                       # the line the quote opened on
    assert 5 in accepted and 6 in accepted       # read on their own (line 6's quote closes nothing there)


def test_quote_left_open_on_the_last_line_is_rejected_not_read_into_the_cell(tmp_path):
    lines = data_lines(5)
    lines[-1] = with_quote(lines[-1], len(HOUSING_HEADER) - 1)    # the last line's last cell opens a quote
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert_every_line_once(raw, 2, 6)
    assert numbers(raw)[1] == [6] and "never closed" in raw.shape_rejects.reason[0]


def test_quoted_line_break_in_a_cell_is_one_record_numbered_by_its_first_line(tmp_path, monkeypatch):
    lines = data_lines(6)
    cells = lines[2].split(";")
    cells[5] = '"1 Example Road\nSecond Line"'          # a spreadsheet cell with a line break
    lines[2] = ";".join(cells)
    write_lines(tmp_path / "housing.csv", lines)
    took = fast_reader_took_it(monkeypatch)
    raw = read_extract(source_for(tmp_path))
    assert took == [True]                        # a well-formed file stays on pyarrow's path
    accepted, rejected = numbers(raw)
    assert accepted == [2, 3, 4, 6, 7, 8] and rejected == []    # lines 4-5 are one record, numbered 4
    assert raw.rows_read == 6                                     # 7 non-blank lines after the header, one continued
    assert raw.frame.address[2] == "1 Example Road\nSecond Line"


def test_both_readers_number_records_by_their_first_physical_line(tmp_path, monkeypatch):
    lines = data_lines(6)
    for i in (1, 4):
        cells = lines[i].split(";")
        cells[5] = '"Flat 1\r\nExample House\r\nExample Road"'
        lines[i] = ";".join(cells)
    write_lines(tmp_path / "housing.csv", lines, end="\r\n")
    src = source_for(tmp_path)
    took = fast_reader_took_it(monkeypatch)
    fast = read_extract(src)
    assert took == [True]
    monkeypatch.setattr(pipeline.ingest, "_read_csv_fast", lambda *a: None)
    careful = read_extract(src)
    assert numbers(fast) == numbers(careful) == ([2, 3, 6, 7, 8, 11], [])
    assert fast.frame.address.tolist() == careful.frame.address.tolist()


def test_header_with_a_quoted_line_break_is_one_record_and_adds_no_phantom_row(tmp_path):
    header = ";".join(HOUSING_HEADER).replace("address", '"address\n(first line)"')
    lines = data_lines(4)
    write_lines(tmp_path / "housing.csv", lines, header=header)
    spec = {"path": "housing.csv", "columns": {"address\n(first line)": "address"}}
    raw = read_extract(source_for(tmp_path, spec=spec))
    assert numbers(raw) == ([3, 4, 5, 6], [])            # the header is lines 1-2
    assert raw.rows_read == 4 and raw.frame.address[0] == "1 Example Road"


def test_header_whose_quote_never_closes_is_refused_naming_line_1(tmp_path):
    header = ";".join(HOUSING_HEADER).replace("address", '"address')
    write_lines(tmp_path / "housing.csv", data_lines(4), header=header)
    with pytest.raises(InputDataError, match=r"housing.csv, line 1: a quote in the header is never closed") as exc:
        read_extract(source_for(tmp_path))
    assert exc.value.exit_code == EXIT_INPUT


def test_header_whose_quote_swallows_records_is_refused_naming_line_1(tmp_path):
    header = ";".join(HOUSING_HEADER).replace("address", '"address')
    lines = data_lines(6)
    lines[2] = with_quote(lines[2], 3, at="end")          # a later quote closes it
    write_lines(tmp_path / "housing.csv", lines, header=header)
    with pytest.raises(InputDataError, match=r"housing.csv, line 1: a quote in the header runs on to line 4"):
        read_extract(source_for(tmp_path))


def test_blank_lines_and_rows_of_empty_cells_are_not_records_and_keep_the_numbering(tmp_path):
    lines = data_lines(4)
    lines.insert(2, "")
    lines.insert(4, ";" * (len(HOUSING_HEADER) - 1))
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert numbers(raw) == ([2, 3, 5, 7], [])
    assert raw.rows_read == 4


def test_many_stray_quotes_each_reject_only_their_own_line(tmp_path):
    lines = data_lines(300)
    strays = {10, 11, 57, 58, 200, 299}
    for i in strays:
        lines[i] = with_quote(lines[i], 2)
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert_every_line_once(raw, 2, 301)
    assert numbers(raw)[1] == sorted(i + 2 for i in strays)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quotes=st.lists(st.tuples(st.integers(0, 11), st.integers(0, len(HOUSING_HEADER) - 1),
                                 st.sampled_from(["start", "end"])), min_size=1, max_size=4),
       delimiter=st.sampled_from([";", ",", "\t", "|"]), end=st.sampled_from(["\n", "\r\n", "\r"]))
def test_stray_quotes_anywhere_leave_every_line_read_once_and_reject_only_their_lines(tmp_path, quotes,
                                                                                       delimiter, end):
    lines = data_lines(12, delimiter)
    for row, field, at in quotes:
        lines[row] = with_quote(lines[row], field, delimiter, at)
    write_lines(tmp_path / "housing.csv", lines, delimiter, end)
    raw = read_extract(source_for(tmp_path))
    assert_every_line_once(raw, 2, 13)
    assert set(numbers(raw)[1]) <= {row + 2 for row, _, _ in quotes}


def test_lines_that_cannot_be_reconciled_stop_the_file_naming_the_line(tmp_path):
    from pipeline.ingest import _reconcile
    lines = ["h\n", "a\n", "b\n", "c\n"]
    with pytest.raises(InputDataError, match=r"x.csv, line 3: the reader lost track") as exc:
        _reconcile(tmp_path / "x.csv", lines, bytearray([1, 2, 0, 2]), ";", 2)
    assert exc.value.exit_code == EXIT_INPUT
    with pytest.raises(InputDataError, match=r"x.csv, line 2: the line holds text but was read as blank"):
        _reconcile(tmp_path / "x.csv", lines, bytearray([1, 4, 2, 2]), ";", 2)


# ---- line ends ---------------------------------------------------------------------------------

def test_lone_cr_line_ends_are_read_as_line_ends(tmp_path):
    write_lines(tmp_path / "housing.csv", data_lines(5), end="\r")
    raw = read_extract(source_for(tmp_path))
    assert numbers(raw) == ([2, 3, 4, 5, 6], [])
    assert raw.frame.record_id.tolist() == ["H0", "H1", "H2", "H3", "H4"]


@pytest.mark.parametrize("end, name", [("\x85", "NEL"), ("\u2028", "LINE SEPARATOR"), ("\u2029", "PARAGRAPH SEPARATOR")])
def test_unicode_line_ends_are_refused_naming_the_line_end(tmp_path, end, name):
    write_lines(tmp_path / "housing.csv", data_lines(5), end=end)
    with pytest.raises(InputDataError, match=rf"housing.csv, line 1: holds {name} \(U\+") as exc:
        read_extract(source_for(tmp_path))
    assert exc.value.exit_code == EXIT_INPUT


def test_nel_line_ends_after_an_lf_header_are_refused_at_the_first_such_line(tmp_path):
    path = tmp_path / "housing.csv"
    path.write_bytes((";".join(HOUSING_HEADER) + "\n" + "\x85".join(data_lines(4)) + "\x85").encode("utf-8"))
    with pytest.raises(InputDataError, match=r"housing.csv, line 2: holds NEL \(U\+0085\)"):
        read_extract(source_for(tmp_path))


def test_a_unicode_line_separator_inside_a_cell_is_kept_as_text(tmp_path):
    lines = data_lines(3)
    cells = lines[1].split(";")
    cells[5] = "1 Example Road\u2028Second Line"
    lines[1] = ";".join(cells)
    write_lines(tmp_path / "housing.csv", lines)
    raw = read_extract(source_for(tmp_path))
    assert numbers(raw) == ([2, 3, 4], [])
    assert raw.frame.address[1] == "1 Example Road\u2028Second Line"


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_pyarrow_path_finds_the_same_records_whatever_its_scan_chunk(tmp_path, monkeypatch, end):
    lines = data_lines(40)
    for i in range(0, 40, 3):
        cells = lines[i].split(";")
        cells[5] = f'"Flat {i}{end}Example House{end}Example Road"'
        lines[i] = ";".join(cells)
    write_lines(tmp_path / "housing.csv", lines, end=end)
    src = source_for(tmp_path)
    took = fast_reader_took_it(monkeypatch)
    expected = numbers(read_extract(src))
    for chunk in (5, 64, 1000):
        monkeypatch.setattr(pipeline.ingest, "_LAYOUT_CHUNK", chunk)
        assert numbers(read_extract(src)) == expected
    assert took == [True] * 4
    monkeypatch.setattr(pipeline.ingest, "_read_csv_fast", lambda *a: None)
    assert numbers(read_extract(src)) == expected
    assert expected[0][:3] == [2, 5, 6] and len(expected[0]) == 40


def test_a_quote_inside_a_field_does_not_shift_the_numbers_of_later_multi_line_records(tmp_path, monkeypatch):
    # Two quotes inside fields (a height written 5'10") keep the file's quote count even but
    # make counting quotes say nothing about which line ends are inside cells.
    lines = data_lines(5)
    lines[1] = with_quote(lines[1], 5, at="end")
    cells = lines[2].split(";")
    cells[5] = '"Flat 1\nExample Road"'
    lines[2] = ";".join(cells)
    lines[3] = with_quote(lines[3], 5, at="end")
    write_lines(tmp_path / "housing.csv", lines)
    took = fast_reader_took_it(monkeypatch)
    raw = read_extract(source_for(tmp_path))
    assert took == [False]
    assert numbers(raw) == ([2, 3, 4, 6, 7], [])
    assert raw.frame.address.tolist()[1:3] == ['1 Example Road"', "Flat 1\nExample Road"]


def test_validation_that_does_not_account_for_every_record_read_stops_the_source(tmp_path, monkeypatch):
    import pipeline.stages
    write_lines(tmp_path / "housing.csv", data_lines(5))
    real = pipeline.stages.validate_extract

    def loses_one(*args, **kwargs):
        v = real(*args, **kwargs)
        v.accepted = v.accepted.iloc[1:]
        return v
    monkeypatch.setattr(pipeline.stages, "validate_extract", loses_one)
    with pytest.raises(InputDataError, match=r"housing.csv: 5 records read, but validation accounts for 4 accepted"):
        ingest_and_validate(load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"}})))


def test_a_quote_inside_a_field_is_text_and_keeps_a_one_line_a_record_file_on_pyarrows_path(tmp_path, monkeypatch):
    lines = data_lines(6)
    lines[2] = with_quote(lines[2], 5, at="end")          # one quote, inside a field: the count is odd
    write_lines(tmp_path / "housing.csv", lines)
    took = fast_reader_took_it(monkeypatch)
    raw = read_extract(source_for(tmp_path))
    assert took == [True]
    assert numbers(raw) == ([2, 3, 4, 5, 6, 7], []) and raw.frame.address[2] == '1 Example Road"'

"""No personal data in ingest's messages: when the header line holds a record (a file without
its header, or lines that end in NEL so the whole file is line 1), errors and notes name the
file, the line and column positions, never a cell, on the console, in the log file and in the
exception. Every value here is synthetic."""
import datetime as dt

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.ingest import read_extract
from schemas.errors import EXIT_INPUT, InputDataError
from tests.conftest import HOUSING_HEADER, write_config

# One synthetic person, as a housing record, and the strings that must never be echoed.
RECORD = {"record_id": "HX90817", "forename": "Zebadiah", "surname": "Quillfeather", "dob": "14/07/1983",
          "sex": "M", "address": "17 Synthetic Row", "postcode": "ZZ9 9ZZ", "uprn": "200004567891",
          "nhs_number": "9434765919", "ni_number": "QQ123456C", "upn": "", "event_type": "tenancy",
          "event_date": "2025-01-02", "tenancy_ref": "TN44021", "rent_arrears_gbp": "12.50"}
SECRETS = [v for k, v in RECORD.items() if k not in ("sex", "upn", "event_type")] + ["ZZ99ZZ", "1983-07-14"]


def other(i):
    return {**RECORD, "record_id": f"HX{i}", "forename": f"Ottoline{i}", "surname": f"Brackenridge{i}",
            "uprn": f"20000456{i:04d}", "tenancy_ref": f"TN{i}"}


def cells(row, delimiter=";"):
    return delimiter.join(row.values())


def assert_nothing_echoed(*texts, secrets=SECRETS):
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a data value appears in: {text[:200]!r}"


def run_validate(config, log):
    r = CliRunner().invoke(main, ["validate", "--config", str(config), "--log-file", str(log)],
                           catch_exceptions=False)
    return r, r.output + (r.stderr if r.stderr_bytes is not None else ""), log.read_text() if log.exists() else ""


def test_a_file_whose_first_line_is_a_record_is_refused_without_echoing_any_cell(tmp_path):
    lines = [cells(RECORD)] + [cells(other(i)) for i in range(5)]
    (tmp_path / "housing.csv").write_text("\n".join(lines) + "\n")
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}})
    with pytest.raises(InputDataError, match="the first line does not look like a header") as exc:
        read_extract(load_config(config).sources["housing"])
    assert "is the header missing?" in exc.value.message
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == EXIT_INPUT
    assert "housing.csv: the first line does not look like a header" in output
    assert "the first line does not look like a header" in log
    assert_nothing_echoed(exc.value.message, output, log)


def test_a_headerless_file_with_a_columns_mapping_does_not_echo_the_record_either(tmp_path):
    lines = [cells(RECORD, ",")] + [cells(other(i), ",") for i in range(3)]
    (tmp_path / "housing.csv").write_text("\n".join(lines) + "\n")
    spec = {"path": "housing.csv", "columns": {"Tenancy Number": "tenancy_ref", "Ref": "record_id"}}
    config = write_config(tmp_path, {"housing": spec})
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == EXIT_INPUT and "is the header missing?" in output
    assert_nothing_echoed(output, log)


@pytest.mark.parametrize("end", ["\x85", "\u2028"])
def test_a_file_whose_lines_end_in_nel_is_refused_without_echoing_any_cell(tmp_path, end):
    lines = [";".join(HOUSING_HEADER), cells(RECORD)] + [cells(other(i)) for i in range(3)]
    (tmp_path / "housing.csv").write_bytes((end.join(lines) + end).encode("utf-8"))
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}})
    with pytest.raises(InputDataError, match=r"housing.csv, line 1: holds .* characters where lines seem to end") as exc:
        read_extract(load_config(config).sources["housing"])
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == EXIT_INPUT and "line 1: holds" in output and "line 1: holds" in log
    assert_nothing_echoed(exc.value.message, output, log)


def test_a_nel_file_without_its_header_is_refused_without_echoing_any_cell(tmp_path):
    lines = [cells(RECORD)] + [cells(other(i)) for i in range(3)]
    (tmp_path / "housing.csv").write_bytes(("\x85".join(lines) + "\x85").encode("utf-8"))
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}})
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == EXIT_INPUT
    assert_nothing_echoed(output, log)


def test_repeated_headings_are_named_by_position_not_by_heading(tmp_path):
    # A header with two headings the same (here values, as in a file whose header is a record
    # that also has some known headings), and two blank ones.
    header = HOUSING_HEADER + ["Quillfeather", "Quillfeather", "", ""]
    row = list(RECORD.values()) + ["a", "b", "", ""]
    (tmp_path / "housing.csv").write_text(";".join(header) + "\n" + ";".join(row) + "\n")
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}})
    with pytest.raises(InputDataError) as exc:
        read_extract(load_config(config).sources["housing"])
    assert exc.value.message.endswith("columns 16 and 17 have the same heading; columns 18 and 19 have no heading")
    assert_nothing_echoed(exc.value.message)


def test_two_columns_mapping_to_one_field_are_named_by_position(tmp_path):
    header = ["record_id", "Given Name", "Known As"] + HOUSING_HEADER[2:]
    row = [RECORD["record_id"], RECORD["forename"], "Zeb"] + list(RECORD.values())[2:]
    (tmp_path / "housing.csv").write_text(";".join(header) + "\n" + ";".join(row) + "\n")
    spec = {"path": "housing.csv", "columns": {"Given Name": "forename", "Known As": "forename"}}
    config = write_config(tmp_path, {"housing": spec})
    with pytest.raises(InputDataError, match=r"housing.csv: columns 2 and 3 all map to field forename"):
        read_extract(load_config(config).sources["housing"])


def test_columns_not_used_are_noted_by_position_not_by_heading(tmp_path):
    # Extra columns whose headings are values (a stray record pasted over part of the header).
    header = HOUSING_HEADER[:5] + ["Zebadiah"] + HOUSING_HEADER[5:] + ["ZZ9 9ZZ", "14/07/1983"]
    rows = [list(other(i).values()) for i in range(4)]
    rows = [r[:5] + ["x"] + r[5:] + ["y", "z"] for r in rows]
    (tmp_path / "housing.csv").write_text("\n".join(";".join(r) for r in [header] + rows) + "\n")
    # The synthetic rows' identifiers do not pass their checks: not what this test is about.
    config = write_config(tmp_path, {"housing": {"path": "housing.csv"}}, max_warning_share=1.0)
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == 0, output
    assert "note: housing: columns not used: 3 (positions 6, 17 and 18)" in output
    assert_nothing_echoed(output, log, secrets=["Zebadiah", "ZZ9 9ZZ", "14/07/1983"])


def test_an_excel_sheet_whose_first_row_is_a_record_is_refused_without_echoing_any_cell(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([RECORD["record_id"], RECORD["forename"], RECORD["surname"], dt.datetime(1983, 7, 14),
               RECORD["postcode"], RECORD["uprn"], "offence", "offender", dt.datetime(2026, 3, 1)])
    ws.append(["HX2", "Ottoline", "Brackenridge", dt.datetime(1990, 1, 2), "ZZ9 9ZY", "200004560002",
               "offence", "victim", dt.datetime(2026, 3, 2)])
    wb.save(tmp_path / "police.xlsx")
    config = write_config(tmp_path, {"police": {"path": "police.xlsx"}})
    with pytest.raises(InputDataError, match="police.xlsx: the first line does not look like a header") as exc:
        read_extract(load_config(config).sources["police"])
    r, output, log = run_validate(config, tmp_path / "run.log")
    assert r.exit_code == EXIT_INPUT
    assert_nothing_echoed(exc.value.message, output, log)

"""Ingest: the shapes and encodings councils' extracts arrive in, and every way a file can be bad."""
import datetime as dt

import pandas as pd
import pytest

from pipeline.config import load_config
from schemas.errors import InputDataError
from pipeline.ingest import read_extract
from pipeline.stages import ingest_and_validate
from tests.conftest import HOUSING_HEADER, housing_row, write_config, write_csv


def source(tmp_path, spec=None, name="housing"):
    cfg = load_config(write_config(tmp_path, {name: spec or {"path": "housing.csv"}}))
    return cfg.sources[name]


def test_reads_csv_and_numbers_rows_as_in_the_file(tmp_path):
    write_csv(tmp_path / "housing.csv", [housing_row("H1"), housing_row("H2")], HOUSING_HEADER)
    raw = read_extract(source(tmp_path))
    assert raw.frame.row_number.tolist() == [2, 3]
    assert raw.rows_read == 2


def test_windows_1252_text_is_read(tmp_path):
    # Excel on Windows writes "CSV" in Windows-1252: an accented name must survive.
    write_csv(tmp_path / "housing.csv", [housing_row("H1", forename="Zoë", surname="Wiśniewska".replace("ś", "s"))],
              HOUSING_HEADER, encoding="cp1252")
    raw = read_extract(source(tmp_path))
    assert raw.frame.forename[0] == "Zoë"
    assert "Windows-1252" in raw.notes[0]


def test_utf8_bom_and_semicolon_delimiter(tmp_path):
    write_csv(tmp_path / "housing.csv", [housing_row("H1", forename="Łukasz")], HOUSING_HEADER,
              encoding="utf-8-sig", delimiter=";")
    raw = read_extract(source(tmp_path))
    assert raw.frame.forename[0] == "Łukasz" and raw.delimiter == ";"
    assert raw.frame.record_id[0] == "H1"          # the BOM is not glued to the first heading


def test_declared_encoding_that_does_not_fit_is_a_clear_error(tmp_path):
    (tmp_path / "housing.csv").write_bytes(",".join(HOUSING_HEADER).encode() + b"\nH1,\xff\xfe\n")
    with pytest.raises(InputDataError, match="cannot be read as utf-8"):
        read_extract(source(tmp_path, {"path": "housing.csv", "encoding": "utf-8"}))


def test_empty_file_and_header_only(tmp_path):
    (tmp_path / "housing.csv").write_text("")
    with pytest.raises(InputDataError, match="housing.csv: the file is empty"):
        read_extract(source(tmp_path))
    (tmp_path / "housing.csv").write_text(",".join(HOUSING_HEADER) + "\n")
    cfg = load_config(tmp_path / "config.yaml")
    v = ingest_and_validate(cfg)["housing"]
    assert v.rows_read == 0
    from pipeline.run import check_rejected_shares
    with pytest.raises(InputDataError, match="header only"):
        check_rejected_shares(cfg, {"housing": v})


def test_missing_required_column_names_file_and_column(tmp_path):
    header = [h for h in HOUSING_HEADER if h != "event_date"]
    write_csv(tmp_path / "housing.csv", [housing_row("H1")], header)
    with pytest.raises(InputDataError, match=r"housing.csv: required column missing: event_date"):
        read_extract(source(tmp_path))


def test_column_mapping_and_value_mapping(tmp_path):
    rows = [{"Ref": "A1", "First Name": "Sam", "Last Name": "Example", "Role": "Perp", "Intervention": "ABC",
             "Date": "01/06/2026"}]
    write_csv(tmp_path / "asb.csv", rows)
    spec = {"path": "asb.csv", "columns": {"Ref": "record_id", "First Name": "forename", "Last Name": "surname",
                                            "Date": "event_date"},
            "values": {"role": {"Perp": "perpetrator"}}}
    cfg = load_config(write_config(tmp_path, {"asb": spec}))
    v = ingest_and_validate(cfg)["asb"]
    assert len(v.rejected) == 0
    assert v.accepted.role[0] == "perpetrator" and v.accepted.intervention[0] == "abc"
    assert v.accepted.event_date[0] == pd.Timestamp(2026, 6, 1)
    assert v.notes == []


def test_mapping_a_column_the_file_lacks_is_an_error(tmp_path):
    write_csv(tmp_path / "housing.csv", [housing_row("H1")], HOUSING_HEADER)
    with pytest.raises(InputDataError, match="maps column 'Tenancy Number'"):
        read_extract(source(tmp_path, {"path": "housing.csv", "columns": {"Tenancy Number": "tenancy_ref"}}))


def test_ragged_row_is_rejected_not_lost(tmp_path):
    text = ",".join(HOUSING_HEADER) + "\n" + ",".join(housing_row("H1").values()) + "\nH2,too,few\n"
    (tmp_path / "housing.csv").write_text(text)
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"}}))
    v = ingest_and_validate(cfg)["housing"]
    assert v.rows_read == 2 and len(v.accepted) == 1
    assert v.rejected.row_number.tolist() == [3] and "fields" in v.rejected.reason[0]


def test_excel_extract_with_sheet_and_real_dates(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Offences"
    ws.append(["Ref", "Forename", "Surname", "DOB", "Offence Type", "Role", "Offence Date"])
    ws.append(["P1", "Sam", "Example", dt.datetime(2001, 5, 6), "offence", "offender", dt.datetime(2026, 3, 1)])
    ws.append([None] * 7)
    ws.append(["P2", "Kim", "Example", None, "incident", "victim", "02/03/2026"])
    wb.save(tmp_path / "police.xlsx")
    spec = {"path": "police.xlsx", "sheet": "Offences",
            "columns": {"Ref": "record_id", "Offence Type": "event_type", "Offence Date": "event_date"}}
    cfg = load_config(write_config(tmp_path, {"police": spec}))
    v = ingest_and_validate(cfg)["police"]
    assert v.accepted.row_number.tolist() == [2, 4]      # the sheet's own row numbers
    assert v.accepted.dob[0] == pd.Timestamp(2001, 5, 6)
    assert v.accepted.event_date[1] == pd.Timestamp(2026, 3, 2)


def test_parquet_extract(tmp_path):
    df = pd.DataFrame({"record_id": ["S1"], "forename": ["A"], "surname": ["B"], "academic_year": ["2025/26"],
                       "term": ["Spring"], "sessions_possible": [120], "sessions_unauthorised": [12.0],
                       "permanent_exclusion": [False], "dob": [pd.Timestamp(2014, 1, 2)]})
    df.to_parquet(tmp_path / "schools.parquet")
    cfg = load_config(write_config(tmp_path, {"schools": {"path": "schools.parquet"}}))
    v = ingest_and_validate(cfg)["schools"]
    assert len(v.rejected) == 0
    a = v.accepted.iloc[0]
    assert a.term == "spring" and a.sessions_unauthorised == 12 and a.permanent_exclusion == False  # noqa: E712
    assert a.dob == pd.Timestamp(2014, 1, 2) and a.row_number == 1


def test_damaged_excel_and_parquet_are_clear_errors(tmp_path):
    (tmp_path / "police.xlsx").write_bytes(b"not a workbook")
    cfg = load_config(write_config(tmp_path, {"police": {"path": "police.xlsx"}}))
    with pytest.raises(InputDataError, match="police.xlsx: cannot be read as an Excel workbook"):
        ingest_and_validate(cfg)
    (tmp_path / "s.parquet").write_bytes(b"PAR1garbage")
    cfg = load_config(write_config(tmp_path, {"schools": {"path": "s.parquet"}}))
    with pytest.raises(InputDataError, match="s.parquet: cannot be read as Parquet"):
        ingest_and_validate(cfg)


def test_binary_file_as_csv_is_a_clear_error(tmp_path):
    (tmp_path / "housing.csv").write_bytes(b"record_id,forename\x00\x01\x02")
    with pytest.raises(InputDataError, match="NUL bytes"):
        read_extract(source(tmp_path))

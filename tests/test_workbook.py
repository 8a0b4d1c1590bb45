"""need_matrix.xlsx keeps what Excel loses from the CSVs (IDs and codes as text, leading zeros,
12-digit UPRNs, dates as dates), and the families-as-columns layout never passes Excel's
16,384 columns and writes ISO dates."""
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from criteria.matrix import transpose
from pipeline.cli import main
from pipeline.quarters import read_need_matrix
from reports.outputs import columns_layout_parts
from reports.workbook import write_workbook
from reports.writers import as_text, write_csv

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "quarters"


def frame():
    return pd.DataFrame({
        "family_id": ["F000001", "F000002", "F000003"],
        "record_id": ["00123", "0042", "7"],
        "uprn": ["100012345678", "010001234567", ""],
        "members": [3, 2, 1],
        "crime": [1.0, float("nan"), 0.0],
        "last_record_date": pd.to_datetime(["2026-01-02", None, "2025-12-31"]),
        "note": ["=1+1", "+44 1234", "plain"],
        "eligible_before": [1, "", 0],
    })


def test_ids_stay_text_dates_are_dates_and_formulas_stay_text(tmp_path):
    names = write_workbook(tmp_path / "w.xlsx", [("Need matrix", frame())])
    assert names == ["Need matrix"]
    ws = openpyxl.load_workbook(tmp_path / "w.xlsx")["Need matrix"]
    rows = [[c for c in row] for row in ws.iter_rows()]
    header = [c.value for c in rows[0]]
    assert header == list(frame().columns)
    col = {h: i for i, h in enumerate(header)}
    first, second, third = rows[1], rows[2], rows[3]
    assert first[col["record_id"]].value == "00123" and first[col["record_id"]].data_type == "s"
    assert second[col["record_id"]].value == "0042"
    assert first[col["uprn"]].value == "100012345678" and first[col["uprn"]].data_type == "s"
    assert second[col["uprn"]].value == "010001234567"
    assert first[col["members"]].value == 3 and first[col["crime"]].value == 1
    assert second[col["crime"]].value is None                         # no data stays blank, never 0
    assert first[col["last_record_date"]].value == dt.datetime(2026, 1, 2)
    assert first[col["last_record_date"]].number_format == "yyyy-mm-dd"
    assert first[col["note"]].value == "=1+1" and first[col["note"]].data_type == "s"   # not a formula
    assert first[col["eligible_before"]].value == 1 and second[col["eligible_before"]].value is None
    assert third[col["eligible_before"]].value == 0
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H4"


def test_a_frame_longer_than_a_sheet_goes_on_to_the_next(tmp_path):
    names = write_workbook(tmp_path / "w.xlsx", [("Evidence", frame())], max_rows=3)
    assert names == ["Evidence", "Evidence (2)"]
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    ids = [r[0] for n in names for r in wb[n].iter_rows(min_row=2, values_only=True)]
    assert ids == ["F000001", "F000002", "F000003"]
    assert [c.value for c in wb["Evidence (2)"][1]] == list(frame().columns)   # each part has the header


def test_families_as_columns_is_split_at_excels_column_limit(tmp_path):
    matrix = pd.DataFrame({"family_id": [f"F{i:06d}" for i in range(1, 8)], "members": range(1, 8),
                           "postcode_district": "AB1", "crime": [1.0, 0.0, None, 1.0, 0.0, 0.0, 1.0],
                           "criteria_met": 1, "eligible": [1, 0, 0, 1, 0, 0, 1],
                           "last_record_date": pd.to_datetime(["2026-09-01"] * 7)})
    parts = columns_layout_parts(transpose(as_text(matrix)), limit=4)
    assert [name for name, _ in parts] == ["need_matrix.csv", "need_matrix_2.csv", "need_matrix_3.csv"]
    assert all(part.shape[1] <= 4 and part.columns[0] == "need" for _, part in parts)
    for name, part in parts:
        write_csv(part, tmp_path / name)
    text = (tmp_path / "need_matrix.csv").read_text()
    assert "last_record_date,2026-09-01,2026-09-01,2026-09-01\n" in text    # ISO dates, not 2026-09-01 00:00:00
    assert "crime,1,0,\n" in text                                          # whole numbers, blank for no data
    back = read_need_matrix(tmp_path)
    assert back["family_id"].tolist() == matrix["family_id"].tolist()
    assert back["eligible"].tolist() == ["1", "0", "0", "1", "0", "0", "1"]


@pytest.mark.slow
def test_a_run_writes_the_workbook_when_asked(tmp_path):
    import yaml
    cfg = yaml.safe_load((SAMPLE / "q1" / "config.yaml").read_text())
    for spec in cfg["sources"].values():
        spec["path"] = str(SAMPLE / "q1" / spec["path"])
    cfg.pop("output", None)
    cfg["outputs"] = {"workbook": True, "layout": "families-as-columns"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "o" / "need_matrix.xlsx", read_only=True)
    assert wb.sheetnames == ["Families", "Need matrix", "Evidence", "Members"]
    evidence = pd.read_csv(tmp_path / "o" / "evidence.csv", dtype=str, keep_default_na=False)
    rows = list(wb["Evidence"].iter_rows(values_only=True))
    sheet = pd.DataFrame(rows[1:], columns=rows[0])
    assert len(sheet) == len(evidence)
    # school record IDs keep their leading zeros, as in the CSV
    schools = evidence["source"] == "schools"
    assert schools.any() and evidence.loc[schools, "record_id"].str.startswith("0").any()
    assert sheet["record_id"].tolist() == evidence["record_id"].tolist()
    members = list(wb["Members"].iter_rows(values_only=True))
    uprn = members[0].index("uprn")
    assert {type(r[uprn]) for r in members[1:]} <= {str, type(None)}
    # the CSV in the families-as-columns layout: ISO dates, and the same families as the sheet
    turned = (tmp_path / "o" / "need_matrix.csv").read_text().splitlines()
    dates = next(line for line in turned if line.startswith("last_record_date,")).split(",")[1:]
    assert all(d == "" or len(d) == 10 for d in dates)
    matrix = list(wb["Need matrix"].iter_rows(values_only=True))
    assert [r[0] for r in matrix[1:]] == turned[0].split(",")[1:]


def test_pseudonymised_ids_in_the_turned_matrix_and_the_workbook(housing_config):
    """The families-as-columns layout heads each column with a family ID: pseudonymised like
    every other ID (before the matrix is turned), and so in the workbook."""
    import os
    key = housing_config.parent / "hnf.key"
    key.write_bytes(os.urandom(32).hex().encode())
    key.chmod(0o600)
    with open(housing_config, "a") as fh:
        fh.write(f"outputs:\n  profile: shareable\n  pseudonymise_key: {key}\n  layout: families-as-columns\n"
                 "  workbook: true\n")
    out = housing_config.parent / "o"
    r = CliRunner().invoke(main, ["run", "--config", str(housing_config), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    heads = (out / "need_matrix.csv").read_text().splitlines()[0].split(",")
    assert heads[0] == "need" and len(heads) > 1 and all(h.startswith("F-") for h in heads[1:])
    wb = openpyxl.load_workbook(out / "need_matrix.xlsx", read_only=True)
    ids = [r[0] for r in wb["Need matrix"].iter_rows(min_row=2, values_only=True)]
    assert ids == heads[1:]
    families = pd.read_csv(out / "families.csv", dtype=str)
    assert not {"lead_adult", "address", "postcode"} & set(families.columns)      # the shareable profile
    assert families["family_id"].str.startswith("F-").all() and set(families["family_id"]) == set(ids)
    members = list(wb["Members"].iter_rows(values_only=True))
    assert "surname" not in members[0] and all(str(r[members[0].index("person_id")]).startswith("P-") for r in members[1:])

"""max_warning_share: a source with too many rows kept with a value blanked stops the run
(exit 3) like too many rejected rows, naming the source, the share, the limit and the columns
(never a value), after writing the rejected and warning files beside the output folder."""
import datetime as dt
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import DEFAULT_MAX_WARNING_SHARE, load_config
from tests.conftest import HOUSING_HEADER, housing_row, write_config, write_csv

BAD_POSTCODE = "NOT-A-POSTCODE"
BAD_NHS = "1234567890"          # fails the modulus-11 check


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def housing_rows(n: int, warned: int, prefix="H", **bad) -> list[dict]:
    """n synthetic rows, the first `warned` of them with the given values blanked as warnings."""
    bad = bad or {"postcode": BAD_POSTCODE}
    return [housing_row(f"{prefix}{i}", uprn=str(100000 + i), **(bad if i < warned else {})) for i in range(n)]


def one_source(tmp_path, rows, source: dict | None = None, **top):
    write_csv(tmp_path / "housing.csv", rows, HOUSING_HEADER)
    return write_config(tmp_path, {"housing": {"path": "housing.csv", **(source or {})}}, **top)


def assert_no_values(output: str) -> None:
    for value in (BAD_POSTCODE, BAD_NHS, "Testperson", "Alex", "03/04/1980", "1 Example Road"):
        assert value not in output


def test_config_reads_max_warning_share_top_level_and_per_source(tmp_path):
    write_csv(tmp_path / "housing.csv", housing_rows(2, 0), HOUSING_HEADER)
    write_csv(tmp_path / "north.csv", housing_rows(2, 0), HOUSING_HEADER)
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"},
                                              "north": {"path": "north.csv", "kind": "housing", "max_warning_share": 0.25}},
                                   max_warning_share=0.1))
    assert cfg.max_warning_share == 0.1
    assert cfg.warning_limit("housing") == 0.1 and cfg.warning_limit("north") == 0.25
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"}}))
    assert cfg.warning_limit("housing") == DEFAULT_MAX_WARNING_SHARE == 0.05


@pytest.mark.parametrize("where", ["top", "source"])
def test_max_warning_share_outside_0_to_1_is_a_config_error_exit_2(tmp_path, where):
    config = (one_source(tmp_path, housing_rows(2, 0), max_warning_share=5) if where == "top"
              else one_source(tmp_path, housing_rows(2, 0), {"max_warning_share": "lots"}))
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 2
    assert "config.yaml, line" in r.output and "max_warning_share: must be a number between 0 and 1" in r.output


@pytest.mark.parametrize("command", ["run", "validate"])
def test_warning_share_over_limit_stops_with_exit_3_and_writes_warning_files(tmp_path, command):
    config = one_source(tmp_path, housing_rows(20, 3))
    r = invoke(command, "--config", str(config))
    assert r.exit_code == 3, r.output
    assert "housing: 15.0% of 20 rows had a value blanked as a warning, over the limit of 5.0%" in r.output
    assert "rows warned, by column: postcode 3" in r.output
    assert "out-validation/warnings" in r.output and "max_warning_share" in r.output and "date_format" in r.output
    assert_no_values(r.output)
    folder = tmp_path / "out-validation"
    warnings = pd.read_csv(folder / "warnings" / "housing.csv")
    assert warnings["row_number"].tolist() == [2, 3, 4] and set(warnings["column"]) == {"postcode"}
    assert (folder / "rejected" / "housing.csv").exists()
    reconciliation = pd.read_csv(folder / "reconciliation.csv")
    assert list(reconciliation.columns) == ["source", "agency", "read", "accepted", "rejected", "warnings"]
    assert not (tmp_path / "out").exists()
    if command == "run":
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["status"].startswith("failed (exit 3)")
        assert manifest["inputs"][0]["rows_with_warnings"] == 3


def test_warning_share_at_the_limit_passes(tmp_path):
    config = one_source(tmp_path, housing_rows(20, 1))          # 5.0%: not over 5%
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 0, r.output
    assert "5.0%" in r.output                                   # the rows warned % column


def test_warning_share_counts_rows_not_warnings(tmp_path):
    # one row with two values blanked is one row of 20 (5%), under the limit though it has 2 warnings
    config = one_source(tmp_path, housing_rows(20, 1, postcode=BAD_POSTCODE, nhs_number=BAD_NHS))
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "out-validation" / "warnings" / "housing.csv")) == 2


def test_columns_with_most_warnings_are_named_first(tmp_path):
    rows = housing_rows(20, 4, nhs_number=BAD_NHS)
    for row in rows[:2]:
        row["postcode"] = BAD_POSTCODE
    r = invoke("validate", "--config", str(one_source(tmp_path, rows)))
    assert r.exit_code == 3
    assert "rows warned, by column: nhs_number 4, postcode 2" in r.output
    assert_no_values(r.output)


def test_warning_share_per_source_override(tmp_path):
    write_csv(tmp_path / "housing.csv", housing_rows(20, 3), HOUSING_HEADER)
    write_csv(tmp_path / "north.csv", housing_rows(20, 3, prefix="N"), HOUSING_HEADER)
    sources = {"housing": {"path": "housing.csv", "max_warning_share": 0.2},
               "north": {"path": "north.csv", "kind": "housing"}}
    r = invoke("validate", "--config", str(write_config(tmp_path, sources)))
    assert r.exit_code == 3
    assert "north: 15.0% of 20 rows" in r.output and "housing: 15.0%" not in r.output
    r = invoke("validate", "--config", str(write_config(tmp_path, sources, max_warning_share=0.15)))
    assert r.exit_code == 0, r.output                           # top-level limit for north, own for housing


def test_top_level_max_warning_share_applies_to_every_source(tmp_path):
    config = one_source(tmp_path, housing_rows(20, 3), max_warning_share=0.2)
    assert invoke("validate", "--config", str(config)).exit_code == 0
    config = one_source(tmp_path, housing_rows(20, 1), max_warning_share=0.0)
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 3 and "over the limit of 0.0%" in r.output


def test_too_many_rejected_and_warned_rows_are_both_reported(tmp_path):
    rows = housing_rows(20, 3) + [housing_row(f"X{i}", uprn="1", event_date="someday") for i in range(2)]
    r = invoke("validate", "--config", str(one_source(tmp_path, rows)))
    assert r.exit_code == 3
    assert "too many rejected rows" in r.output and "too many rows with values blanked" in r.output


def test_mixed_order_dates_over_the_warning_limit_stop_with_exit_3(tmp_path):
    days = [dt.date(1971, 1, 1) + dt.timedelta(days=37 * i) for i in range(40)]
    dobs = [d.strftime("%d/%m/%Y") for d in days]
    swapped = [i for i, d in enumerate(days) if d.day > 12][:6]       # 6 of 40 keyed month first
    for i in swapped:
        dobs[i] = days[i].strftime("%m/%d/%Y")
    rows = [housing_row(f"H{i}", uprn=str(100000 + i), dob=dobs[i]) for i in range(40)]
    r = invoke("run", "--config", str(one_source(tmp_path, rows, {"date_format": "dmy"})))
    assert r.exit_code == 3, r.output
    assert "housing: 15.0% of 40 rows had a value blanked" in r.output and "dob 6" in r.output
    for text in dobs:
        assert text not in r.output
    warnings = pd.read_csv(tmp_path / "out-validation" / "warnings" / "housing.csv")
    assert warnings["row_number"].tolist() == [i + 2 for i in swapped]

"""The command line as a user and a scheduler meet it: exit codes and messages."""
import json

from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import HOUSING_HEADER, housing_row, write_config, write_csv


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_help_lists_commands_and_exit_codes():
    r = invoke("--help")
    assert r.exit_code == 0
    for word in ("run", "validate", "Exit codes"):
        assert word in r.output


def test_validate_prints_reconciliation_and_writes_rejected_files(housing_config):
    folder = housing_config.parent
    rows = [housing_row(f"H{i}") for i in range(40)] + [housing_row("H99", event_type="flood")]
    write_csv(folder / "housing.csv", rows, HOUSING_HEADER)
    r = invoke("validate", "--config", str(housing_config))
    assert r.exit_code == 0, r.output
    assert "housing" in r.output and "41" in r.output and "40" in r.output
    rejected = (folder / "out-validation" / "rejected" / "housing.csv").read_text()
    assert "42," in rejected and "event_type" in rejected       # row 42 of the file, column named


def test_too_many_rejected_rows_exit_3_naming_agency_and_share(housing_config):
    folder = housing_config.parent
    rows = [housing_row(f"H{i}") for i in range(10)] + [housing_row("H99", event_date="someday")]
    write_csv(folder / "housing.csv", rows, HOUSING_HEADER)
    r = invoke("validate", "--config", str(housing_config))
    assert r.exit_code == 3
    assert "housing: 9.1% of 11 rows rejected, over the limit of 5.0%" in r.output


def test_config_error_exit_2(tmp_path):
    write_config(tmp_path, {"housing": {"path": "missing.csv"}})
    r = invoke("validate", "--config", str(tmp_path / "config.yaml"))
    assert r.exit_code == 2
    assert "config.yaml, line" in r.output and "file not found" in r.output


def test_missing_config_file_exit_2(tmp_path):
    r = invoke("validate", "--config", str(tmp_path / "none.yaml"))
    assert r.exit_code == 2 and "config file not found" in r.output


def test_bad_as_of_option_exit_2(housing_config):
    r = invoke("validate", "--config", str(housing_config), "--as-of", "yesterday")
    assert r.exit_code == 2 and "--as-of" in r.output


def test_unreadable_input_exit_3_names_file(housing_config):
    (housing_config.parent / "housing.csv").write_bytes(b"\x00\x01garbage")
    r = invoke("validate", "--config", str(housing_config))
    assert r.exit_code == 3 and "housing.csv" in r.output


def test_json_log_lines_for_schedulers(housing_config, tmp_path):
    log = tmp_path / "run.log"
    r = invoke("validate", "--config", str(housing_config), "--log-format", "json", "--log-file", str(log))
    assert r.exit_code == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines and all({"time", "level", "message"} <= set(x) for x in lines)


def test_internal_error_is_reported_without_its_message(housing_config, monkeypatch):
    import pipeline.run

    def boom(*a, **k):
        raise ValueError("secret-value-from-a-row")
    monkeypatch.setattr(pipeline.run, "run_validation", boom)
    r = CliRunner().invoke(main, ["validate", "--config", str(housing_config)])
    assert r.exit_code == 1
    assert "internal error (ValueError" in r.output
    assert "secret-value-from-a-row" not in r.output


def test_run_stopped_by_rejected_rows_leaves_a_failed_manifest_beside_the_output(housing_config):
    folder = housing_config.parent
    rows = [housing_row(f"H{i}") for i in range(5)] + [housing_row("H99", event_date="someday")]
    write_csv(folder / "housing.csv", rows, HOUSING_HEADER)
    r = invoke("run", "--config", str(housing_config))
    assert r.exit_code == 3
    assert not (folder / "out").exists()
    m = json.loads((folder / "out-validation" / "manifest.json").read_text())
    assert m["status"].startswith("failed (exit 3)")
    assert m["inputs"][0]["rejected"] == 1

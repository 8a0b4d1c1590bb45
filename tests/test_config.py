"""The run config: every mistake an analyst can make gets a message with file, line and key."""
import datetime as dt

import pytest

from pipeline.config import load_config
from schemas.errors import ConfigError
from tests.conftest import load_config_text as load


GOOD = """as_of: 2026-09-30
criteria: troubled-families-2012
sources:
  housing: {path: housing.csv}
output: out/2026Q3
"""


def test_good_config_resolves_paths_against_its_folder(folder):
    cfg = load(folder, GOOD)
    assert cfg.as_of == dt.date(2026, 9, 30)
    assert cfg.sources["housing"].path == folder / "housing.csv"
    assert cfg.output == folder.resolve() / "out/2026Q3"
    assert cfg.max_rejected_share == 0.05


@pytest.mark.parametrize("text,match", [
    (GOOD.replace("housing: {path", "housng: {path"), r"line 4: sources.housng: unknown agency 'housng'"),
    (GOOD.replace("housing.csv", "nope.csv"), r"line 4: sources.housing.path: file not found"),
    (GOOD.replace("2026-09-30", "30/09/2026"), r"line 1: as_of: not a date"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, columns: {Tenancy: tenancy_number}}"),
     r"sources.housing.columns.Tenancy: maps to unknown field 'tenancy_number'"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, values: {event_type: {EV: evicted}}}"),
     r"sources.housing.values.event_type.EV: 'evicted' is not an allowed event_type"),
    (GOOD + "max_rejected_share: 5\n", r"line 6: max_rejected_share: must be a number between 0 and 1"),
    (GOOD + "treshold: 1\n", r"line 6: treshold: unknown key"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, date_format: ymd}"), "date_format: must be one of"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, encoding: klingon}"), "unknown text encoding"),
    ("as_of: [", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    (GOOD.replace("output: out/2026Q3\n", ""), "no `output:` folder"),
    (GOOD.replace("criteria: troubled-families-2012", "criteria: local/my-set.yaml"), "criteria file not found"),
])
def test_config_errors_name_file_line_and_key(folder, text, match):
    with pytest.raises(ConfigError, match=match) as err:
        load(folder, text)
    assert "c.yaml" in err.value.message
    assert err.value.exit_code == 2


def test_kind_lets_two_sources_share_an_agency_schema(folder):
    cfg = load(folder, GOOD.replace("housing: {path: housing.csv}",
                                    "housing: {path: housing.csv}\n  housing_ta: {path: housing.csv, kind: housing}"))
    assert cfg.sources["housing_ta"].kind == "housing"


def test_cli_overrides(folder):
    (folder / "c.yaml").write_text(GOOD)
    cfg = load_config(folder / "c.yaml", as_of=dt.date(2026, 6, 30), output=folder / "x")
    assert cfg.as_of == dt.date(2026, 6, 30) and cfg.output == folder / "x"

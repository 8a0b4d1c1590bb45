"""Every key of the run config refuses every wrong-typed value with exit 2, naming the file, the
line and the key: generated from a config that sets every key, one value replaced at a time."""
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline import cli
from pipeline.config import OUTPUT_KEYS, SOURCE_KEYS, TOP_KEYS, load_config
from schemas.errors import ConfigError
from tests.conftest import HOUSING_HEADER, housing_row, write_csv
from tests.conftest import load_config_text as load

FULL = """\
as_of: 2026-09-30
criteria: troubled-families-2015
criteria_settings:
  count_needs_by: criteria
outcome_settings:
  sustain_months: 6
baselines: baselines.csv
review_decisions: decisions.csv
previous: previous
max_rejected_share: 0.05
max_warning_share: 0.05
workers: 2
engine: local
spark:
  master: local[2]
  conf:
    spark.sql.shuffle.partitions: 4
sources:
  housing:
    path: housing.csv
    kind: housing
    columns:
      Tenancy Ref: tenancy_ref
    values:
      event_type:
        EV: eviction
    sheet: Sheet1
    delimiter: ","
    encoding: utf-8
    date_format: iso
    max_rejected_share: 0.1
    max_warning_share: 0.1
output: out
linkage:
  thresholds:
    match_probability: 0.99
outputs:
  profile: full
  pseudonymise_key: hnf.key
  file_mode: "0600"
  csv_bom: false
  layout: families-as-rows
  workbook: true
  key_permissions: warn
report:
  min_group_size: 10
  area_lookup: areas.csv
  headline_labels:
    education: Getting a good education
demand:
  window_months: 12
  costs: unit-costs-uk
  price_year: 2024
"""

# Wrong values, as YAML text. "text" is a word no key takes as it stands.
WRONG = {
    "list": "[a, b]",
    "map": "{a: 1}",
    "number": "2026",
    "fraction": "1.5",
    "bool": "true",
    "null": "",
    "date": "2026-01-01",
    "binary": "!!binary aGVsbG8=",
    "set": "!!set {a, b}",
    "empty": '""',
    "text": "nonsense",
}

# For each key: which of the values above are right for it (stated here, not read from the code).
ACCEPTS = {
    ("as_of",): {"date"},
    ("criteria",): set(),
    ("criteria_settings",): set(),
    ("criteria_settings", "count_needs_by"): set(),
    ("outcome_settings",): {"map"},          # the names a set's rules take are checked with them
    ("outcome_settings", "sustain_months"): {"number"},
    ("baselines",): set(),
    ("review_decisions",): set(),
    ("previous",): {"text"},
    ("max_rejected_share",): set(),
    ("max_warning_share",): set(),
    ("workers",): set(),                     # a whole number from 1 to 256: 2026 is too many
    ("engine",): set(),                      # local or spark
    ("spark",): set(),
    ("spark", "master"): {"text"},           # a master URL: any text
    ("spark", "conf"): {"map"},              # Spark properties: names to text, numbers or flags
    ("sources",): set(),
    ("sources", "housing"): set(),
    ("sources", "housing", "path"): set(),
    ("sources", "housing", "kind"): set(),
    ("sources", "housing", "columns"): set(),
    ("sources", "housing", "values"): set(),
    ("sources", "housing", "sheet"): {"text"},
    ("sources", "housing", "delimiter"): set(),
    ("sources", "housing", "encoding"): set(),
    ("sources", "housing", "date_format"): set(),
    ("sources", "housing", "max_rejected_share"): set(),
    ("sources", "housing", "max_warning_share"): set(),
    ("output",): {"text"},
    ("linkage",): set(),
    ("linkage", "thresholds"): set(),
    ("linkage", "thresholds", "match_probability"): set(),
    ("outputs",): set(),
    ("outputs", "profile"): set(),
    ("outputs", "pseudonymise_key"): set(),
    ("outputs", "file_mode"): set(),
    ("outputs", "csv_bom"): {"bool"},
    ("outputs", "layout"): set(),
    ("outputs", "workbook"): {"bool"},
    ("outputs", "key_permissions"): set(),
    ("report",): set(),
    ("report", "min_group_size"): {"number"},
    ("demand",): set(),
    ("demand", "window_months"): set(),        # 2026 months is over the 120 allowed
    ("demand", "costs"): set(),
    ("demand", "price_year"): set(),           # 2026: no deflator for it in the built-in table
    ("report", "area_lookup"): set(),
    ("report", "headline_labels"): {"text", "list"},
}


@pytest.fixture
def folder(tmp_path):
    write_csv(tmp_path / "housing.csv", [housing_row()], HOUSING_HEADER)
    (tmp_path / "baselines.csv").write_text("family_id,baseline_date\n")
    (tmp_path / "areas.csv").write_text("postcode,area_code,area_name\n")
    (tmp_path / "decisions.csv").write_text("source_l,record_id_l,source_r,record_id_r,decision\n")
    (tmp_path / "previous").mkdir()
    key = tmp_path / "hnf.key"
    key.write_bytes(os.urandom(48).hex().encode())
    key.chmod(0o600)
    return tmp_path


def replace_value(text: str, trail: tuple, value: str) -> tuple[str, int]:
    """`text` with the value of the key at `trail` (and any block under it) replaced by
    `value`; and the key's line."""
    lines = text.splitlines()
    start, depth = 0, 0
    for key in trail:
        for i in range(start, len(lines)):
            if re.fullmatch(rf"{' ' * depth}{re.escape(key)}:.*", lines[i]):
                start = i
                break
        else:
            raise AssertionError(f"no key {trail} in the config")
        start, depth = start + 1, depth + 2
    at = start - 1
    end = at + 1
    while end < len(lines) and (lines[end].startswith(" " * depth) or not lines[end].strip()):
        end += 1
    indent = " " * (depth - 2)
    new = lines[:at] + [f"{indent}{trail[-1]}: {value}".rstrip()] + lines[end:]
    return "\n".join(new) + "\n", at + 1


CASES = [(trail, kind) for trail, ok in ACCEPTS.items() for kind in WRONG if kind not in ok]


def test_every_key_is_in_the_generated_test():
    sections = {(): TOP_KEYS, ("sources", "housing"): SOURCE_KEYS, ("outputs",): OUTPUT_KEYS,
                ("report",): {"min_group_size", "area_lookup", "headline_labels"}, ("criteria_settings",): {"count_needs_by"},
                ("demand",): {"window_months", "costs", "price_year"}}
    for prefix, keys in sections.items():
        assert {t[len(prefix)] for t in ACCEPTS if t[:len(prefix)] == prefix and len(t) > len(prefix)} == keys


def test_the_full_config_is_valid(folder):
    (folder / "c.yaml").write_text(FULL)
    cfg = load_config(folder / "c.yaml")
    src = cfg.sources["housing"]
    assert src.columns == {"Tenancy Ref": "tenancy_ref"} and src.values == {"event_type": {"ev": "eviction"}}
    assert (src.sheet, src.delimiter, src.encoding, src.date_format) == ("Sheet1", ",", "utf-8", "iso")
    assert cfg.warning_limit("housing") == 0.1 and cfg.max_warning_share == 0.05
    assert cfg.outputs.key_permissions == "warn" and cfg.outputs.file_mode == 0o600
    assert cfg.report.min_group_size == 10 and cfg.outcome_settings == {"sustain_months": 6}
    assert cfg.previous == folder / "previous" and cfg.baselines == folder / "baselines.csv"
    assert (cfg.demand.window_months, cfg.demand.costs, cfg.demand.price_year) == (12, "unit-costs-uk", 2024)
    assert cfg.workers == 2
    assert cfg.report.headline_labels == {"education": "Getting a good education"}


def test_workers_default_to_every_core(folder):
    from matching.workers import all_cores
    (folder / "c.yaml").write_text(FULL.replace("workers: 2\n", ""))
    assert load_config(folder / "c.yaml").workers == all_cores()
    (folder / "c.yaml").write_text(FULL.replace("workers: 2\n", "workers: 0\n"))
    with pytest.raises(ConfigError, match="line 12.*workers"):
        load_config(folder / "c.yaml")


@pytest.mark.parametrize("trail,kind", CASES, ids=[f"{'.'.join(t)}={k}" for t, k in CASES])
def test_a_wrong_value_is_refused_naming_file_line_and_key(folder, trail, kind):
    text, line = replace_value(FULL, trail, WRONG[kind])
    assert yaml.safe_load(text) is not None
    (folder / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(folder / "c.yaml")
    message = err.value.message
    assert err.value.exit_code == 2
    assert message.startswith(f"{folder / 'c.yaml'}, line {line}: "), message
    assert ".".join(trail) in message, message


CLI_CASES = [(("output",), "list"), (("output",), "binary"), (("max_rejected_share",), "bool"),
             (("outputs", "csv_bom"), "text"), (("sources", "housing", "sheet"), "number"),
             (("linkage", "thresholds", "match_probability"), "set"), (("as_of",), "null"),
             (("report", "min_group_size"), "date"), (("sources", "housing", "columns"), "list")]


@pytest.mark.parametrize("trail,kind", CLI_CASES, ids=[f"{'.'.join(t)}={k}" for t, k in CLI_CASES])
def test_the_run_command_exits_2_before_any_work(folder, trail, kind):
    text, line = replace_value(FULL, trail, WRONG[kind])
    (folder / "c.yaml").write_text(text)
    r = CliRunner().invoke(cli.main, ["run", "--config", str(folder / "c.yaml")])
    assert r.exit_code == 2, r.output
    assert f"line {line}: {'.'.join(trail)}" in r.output
    assert not (folder / "out").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["areas.csv", "baselines.csv", "c.yaml", "decisions.csv", "hnf.key",
                                                         "housing.csv", "previous"]


# ---------------------------------------------------------------------------------------------
# linkage: every setting of matching/defaults.yaml

def _leaves(d: dict, trail=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, trail + (k,))
        else:
            yield trail + (k,), v


DEFAULTS = dict(_leaves(yaml.safe_load((Path(__file__).parents[1] / "matching" / "defaults.yaml").read_text())))


def _accepts(trail, default) -> set[str]:
    if isinstance(default, bool):
        return {"bool"}
    if isinstance(default, (int, float)):
        return {"number", "fraction"}    # a number of the right type may still be out of range
    if default is None:
        return {"null", "number", "fraction"}
    if trail[-1] in ("vetoes", "strong_agreement"):
        return {"list", "null"}          # null: none
    return {"list"}


LINKAGE_CASES = [(t, k) for t, v in DEFAULTS.items() for k in WRONG if k not in _accepts(t, v)]


def _linkage_config(trail: tuple, value: str) -> tuple[str, int]:
    base = FULL.split("linkage:\n")[0]
    block = "linkage:\n" + "".join(f"{'  ' * (i + 1)}{k}:\n" for i, k in enumerate(trail[:-1]))
    block += f"{'  ' * len(trail)}{trail[-1]}: {value}".rstrip() + "\n"
    return base + block, base.count("\n") + len(trail) + 1


@pytest.mark.parametrize("trail,kind", LINKAGE_CASES, ids=[f"{'.'.join(t)}={k}" for t, k in LINKAGE_CASES])
def test_a_wrong_linkage_setting_is_refused_on_its_line(folder, trail, kind):
    text, line = _linkage_config(trail, WRONG[kind])
    (folder / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(folder / "c.yaml")
    assert err.value.exit_code == 2
    assert f", line {line}: linkage.{'.'.join(trail)}" in err.value.message, err.value.message


LIST_ITEMS = ["[[1]]", "[{a: 1}]", "[1]", "[null]", "[!!binary aGVsbG8=]", "[{name: x, keys: [[1]]}]",
              "[{comparison: [1], levels: [else]}]", "[{comparison: {a: 1}, levels: [else]}]"]
LIST_CASES = [(t, v) for t, d in DEFAULTS.items() if isinstance(d, list) for v in LIST_ITEMS]


@pytest.mark.parametrize("trail,value", LIST_CASES, ids=[f"{'.'.join(t)}={v}" for t, v in LIST_CASES])
def test_wrong_items_in_a_linkage_list_are_config_errors(folder, trail, value):
    text, line = _linkage_config(trail, value)
    (folder / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(folder / "c.yaml")
    assert f", line {line}: linkage.{'.'.join(trail)}" in err.value.message, err.value.message


# ---------------------------------------------------------------------------------------------
# Values read properly, names that become file names

GOOD = """as_of: 2026-09-30
criteria: troubled-families-2012
sources:
  housing: {path: housing.csv}
output: out/2026Q3
"""


def test_values_are_read_as_written(folder):
    cfg = load(folder, GOOD + "outputs: {file_mode: 0640, csv_bom: no}\n")
    assert cfg.outputs.file_mode == 0o640 and cfg.outputs.csv_bom is False
    cfg = load(folder, GOOD.replace("{path: housing.csv}", "{path: housing.csv, columns: {01: surname, Yes: forename},"
                                    " values: {event_type: {Yes: eviction, 7: tenancy}}}"))
    assert cfg.sources["housing"].columns == {"01": "surname", "Yes": "forename"}
    assert cfg.sources["housing"].values == {"event_type": {"yes": "eviction", "7": "tenancy"}}
    assert load(folder, GOOD.replace("out/2026Q3", '"2026"')).output == folder.resolve() / "2026"


@pytest.mark.parametrize("text,words", [
    (GOOD + "max_rejected_share: true\n", "line 6: max_rejected_share: must be a number between 0 and 1, not true/false"),
    (GOOD + "outputs: {csv_bom: 'no'}\n", "line 6: outputs.csv_bom: must be true or false"),
    (GOOD.replace("out/2026Q3", "2026"), "line 5: output: must be the path of a folder (text), not a number: "
                                        "write it in quotes if it is a folder name"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, sheet: 2}"), "write it in quotes if it is a sheet name"),
    (GOOD.replace("2026-09-30", "2026-09-30 10:00:00"), "line 1: as_of: not a date"),
    (GOOD.replace("2026-09-30", "2026-02-30"), "line 1: as_of: a value YAML cannot read"),
    (GOOD + "as_of: 2026-06-30\n", "line 6: as_of: given twice"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, columns: {Surname: 3}}"),
     "sources.housing.columns.Surname: must be one of our field names (text), not a number"),
    (GOOD.replace("{path: housing.csv}", "{path: housing.csv, values: {event_type: {EV: [a]}}}"),
     "sources.housing.values.event_type.EV: must be a value of event_type (text), not a list"),
    (GOOD + "report: {min_group_size: 0}\n", "line 6: report.min_group_size: must be a whole number, 1 or more"),
    (GOOD + "report: {min_groups: 5}\n", "line 6: report.min_groups: unknown key"),
    (GOOD.replace("troubled-families-2012", "troubled-families-2099"), "line 2: criteria: unknown criteria set"),
])
def test_wrong_values_read_by_the_old_code_are_refused(folder, text, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        load(folder, text)


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "a..b", "x" * 65, "_x", "a b", "rejected\\x", "-x", "naïve"])
def test_a_source_name_that_is_not_a_plain_file_name_is_refused(folder, name):
    text = GOOD.replace("  housing: {path: housing.csv}", f"  housing: {{path: housing.csv}}\n  '{name}': "
                        "{path: housing.csv, kind: housing}")
    with pytest.raises(ConfigError, match=r"line 5: sources: .* is not a plain name"):
        load(folder, text)


def test_plain_source_names_are_accepted(folder):
    text = GOOD.replace("  housing: {path: housing.csv}", "  housing: {path: housing.csv}\n"
                        "  housing.ta-2_b: {path: housing.csv, kind: housing}\n"
                        f"  {'h' * 64}: {{path: housing.csv, kind: housing}}")
    assert len(load(folder, text).sources) == 3


def test_two_source_names_differing_only_in_case_are_refused(folder):
    text = GOOD.replace("  housing: {path: housing.csv}", "  housing: {path: housing.csv}\n"
                        "  Housing: {path: housing.csv, kind: housing}")
    with pytest.raises(ConfigError, match=r"line 5: sources.Housing: differs from source housing only in case"):
        load(folder, text)


def test_a_yaml_merge_key_still_works(folder):
    cfg = load(folder, GOOD.replace("{path: housing.csv}", "{<<: {date_format: dmy}, path: housing.csv}"))
    assert cfg.sources["housing"].date_format == "dmy"


# ---------------------------------------------------------------------------------------------
# Criteria files: `hnf-match criteria show FILE` with wrong types exits 2

CRITERIA = """\
name: test-set
indicators:
  offence:
    title: An offence
    agency: police
    where:
      event_type: offence
    window: {last_months: 12}
    members: any
    per: person
  absence:
    agency: schools
    members: children
    threshold: {share_of: sessions_unauthorised, out_of: sessions_possible, at_least_percent: 15}
    window: {last_complete_terms: 3}
criteria:
  crime:
    title: Crime
    any_of: [offence]
  education:
    any_of: absence
rule:
  at_least: 1
  of: [crime, education]
"""
CRITERIA_KEYS = [("name",), ("indicators", "offence", "title"), ("indicators", "offence", "agency"),
                 ("indicators", "offence", "where"), ("indicators", "offence", "where", "event_type"),
                 ("indicators", "offence", "window"), ("indicators", "offence", "members"),
                 ("indicators", "offence", "per"), ("indicators", "absence", "threshold"),
                 ("criteria", "crime", "title"), ("criteria", "crime", "any_of"), ("rule", "at_least"), ("rule", "of")]
CRITERIA_ACCEPTS = {("indicators", "offence", "where"): {"map"}, ("criteria", "crime", "any_of"): set(),
                    ("indicators", "offence", "title"): {"text", "number", "fraction"}, ("name",): {"text"},
                    ("criteria", "crime", "title"): {"text"}, ("rule", "at_least"): set()}
CRITERIA_CASES = [(t, k) for t in CRITERIA_KEYS for k in WRONG
                  if k not in CRITERIA_ACCEPTS.get(t, set()) and not (k == "number" and t == ("rule", "at_least"))]


def _criteria_text(trail, value):
    # The criteria fixture writes flow mappings on one line: replace the key's whole line.
    return replace_value(CRITERIA, trail, value)


@pytest.mark.parametrize("trail,kind", CRITERIA_CASES, ids=[f"{'.'.join(t)}={k}" for t, k in CRITERIA_CASES])
def test_criteria_show_exits_2_for_a_wrong_value(tmp_path, trail, kind):
    text, _ = _criteria_text(trail, WRONG[kind])
    path = tmp_path / "set.yaml"
    path.write_text(text)
    r = CliRunner().invoke(cli.main, ["criteria", "show", str(path)])
    assert r.exit_code == 2, r.output
    assert f"{path}, line " in r.output


def test_criteria_fixture_is_valid(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text(CRITERIA)
    r = CliRunner().invoke(cli.main, ["criteria", "show", str(path)])
    assert r.exit_code == 0, r.output

"""Loading criteria sets: built-ins, settings, and an error with file, line and key for each
kind of mistake."""
import re
import textwrap

import pytest

from criteria import list_builtin, load_criteria
from criteria.language import AllOf, AnyOf, AtLeast
from schemas.errors import ConfigError

VALID = """\
name: test-set
title: A test set
indicators:
  offence:
    agency: police
    where:
      event_type: offence
    window: {last_months: 12}
  absence:
    agency: schools
    window: {last_complete_terms: 3}
    members: children
    threshold: {share_of: sessions_unauthorised, out_of: sessions_possible, at_least_percent: 15}
criteria:
  crime:
    any_of: [offence]
  education:
    any_of: absence
rule:
  at_least: 1
  of: [crime, education]
"""


def write(tmp_path, text):
    path = tmp_path / "my-set.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_criteria(str(path))
    assert info.value.exit_code == 2
    message = info.value.message
    assert message.startswith(str(path) + ", line ")
    return message


def where(message):
    m = re.match(r".*?, line (\d+): ([^:]+):", message)
    return int(m.group(1)), m.group(2)


def test_valid_custom_set_loads(tmp_path):
    cs = load_criteria(str(write(tmp_path, VALID)))
    assert cs.name == "test-set" and list(cs.criteria) == ["crime", "education"]
    assert cs.criteria["education"].indicators == ("absence",)
    assert cs.indicators["absence"].threshold.at_least == pytest.approx(0.15)
    assert isinstance(cs.rule, AtLeast) and cs.rule.n == 1


def test_builtin_sets_are_listed_and_load():
    names = dict(list_builtin())
    assert set(names) == {"troubled-families-2012", "troubled-families-2015", "supporting-families-2022"}
    tf12 = load_criteria("troubled-families-2012")
    assert list(tf12.criteria) == ["crime_asb", "education", "work", "local"]
    assert isinstance(tf12.rule, AnyOf) and isinstance(tf12.rule.items[0], AllOf)
    tf15 = load_criteria("troubled-families-2015")
    assert len(tf15.criteria) == 6 and tf15.rule.n == 2
    sf = load_criteria("supporting-families-2022")
    assert len(sf.criteria) == 10 and sf.settings["count_needs_by"] == "criteria"
    assert sf.rule.items[1].counting == "criteria"
    assert load_criteria("supporting-families-2022", settings={"count_needs_by": "indicators"}) \
        .rule.items[1].counting == "indicators"


def test_unknown_builtin_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="troubled-families-2012"):
        load_criteria("troubled-families-1999")


def test_bad_setting_override_is_refused():
    with pytest.raises(ConfigError, match="count_needs_by"):
        load_criteria("supporting-families-2022", settings={"count_needs_by": "headlines"})
    with pytest.raises(ConfigError, match="unknown criteria setting"):
        load_criteria("supporting-families-2022", settings={"colour": "red"})


@pytest.mark.parametrize("old,new,line,key,words", [
    ("agency: police", "agency: probation", 5, "indicators.offence.agency", "unknown agency kind probation"),
    ("event_type: offence", "offence_type: offence", 7, "indicators.offence.where.offence_type",
     "unknown field offence_type for agency kind police"),
    ("event_type: offence", "event_type: burglary", 7, "indicators.offence.where.event_type",
     "burglary is not a value of event_type"),
    ("event_type: offence", "event_type: {like: off}", 7, "indicators.offence.where.event_type.like",
     "unknown key; operators are equals, max, min, not_one_of, one_of"),
    ("event_type: offence", "event_type: {min: 3}", 7, "indicators.offence.where.event_type.min",
     "min needs a number field"),
    ("window: {last_months: 12}", "window: {last_weeks: 12}", 8, "indicators.offence.window.last_weeks",
     "unknown key; a window takes last_complete_terms, last_days, last_months"),
    ("window: {last_months: 12}", "window: {last_months: -1}", 8, "indicators.offence.window.last_months",
     "must be a whole number, 1 or more"),
    ("window: {last_months: 12}", "window: {last_complete_terms: 3}", 8,
     "indicators.offence.window.last_complete_terms", "only schools records are dated by term"),
    ("window: {last_months: 12}", "window: open_on_reference_date", 8, "indicators.offence.window",
     "no start and end"),
    ("window: {last_months: 12}", "window: recently", 8, "indicators.offence.window", "unknown window"),
    ("members: children", "members: teenagers", 12, "indicators.absence.members", "must be one of"),
    ("out_of: sessions_possible", "out_of: school_urn", 13, "indicators.absence.threshold.out_of",
     "not a number field"),
    ("at_least_percent: 15", "at_least_percent: 150", 13, "indicators.absence.threshold.at_least_percent",
     "at most 100"),
    ("any_of: [offence]", "any_of: [offense]", 16, "criteria.crime.any_of[0]", "unknown indicator offense"),
    ("of: [crime, education]", "of: [crime, truancy]", 21, "rule.of[1]", "unknown criterion or condition truancy"),
    ("at_least: 1\n", "at_least: 3\n", 20, "rule.at_least", "asks for 3 of only 2"),
    ("  education:\n", "  crime:\n", 17, "criteria.crime", "given twice"),
    ("  absence:\n", "  offence:\n", 9, "indicators.offence", "given twice"),
    ("    members: children", "    member: children", 12, "indicators.absence.member", "unknown key; an indicator takes"),
])
def test_each_mistake_is_reported_with_file_line_and_key(tmp_path, old, new, line, key, words):
    assert old in VALID
    message = load_error(tmp_path, VALID.replace(old, new, 1))
    assert where(message) == (line, key), message
    assert words in message


def test_record_role_for_an_agency_without_roles(tmp_path):
    text = VALID.replace("    members: children\n", "    members: children\n    record_role: victim\n")
    message = load_error(tmp_path, text)
    assert where(message) == (13, "indicators.absence.record_role")
    assert "schools records carry no role" in message


def test_unused_indicator_is_an_error(tmp_path):
    text = VALID.replace("criteria:\n", "  spare:\n    agency: dv\n    window: any_time\ncriteria:\n")
    message = load_error(tmp_path, text)
    assert where(message) == (14, "indicators.spare") and "not used" in message


def test_missing_rule_and_invalid_yaml(tmp_path):
    message = load_error(tmp_path, VALID.split("rule:")[0])
    assert where(message) == (1, "rule") and "missing" in message
    message = load_error(tmp_path, VALID.replace("any_of: [offence]", "any_of: [offence"))
    assert "not valid YAML" in message


def test_condition_and_counting_errors(tmp_path):
    text = VALID + "conditions:\n  crime:\n    children_under: 18\n"
    message = load_error(tmp_path, text)
    assert where(message) == (23, "conditions.crime") and "already a criterion" in message
    text = VALID.replace("  of: [crime, education]", "  of: [crime, {any: [education]}]\n  counting: indicators")
    message = load_error(tmp_path, text)
    assert where(message)[1] == "rule.of" and "list of criterion names" in message

"""`criteria list` and `criteria show` through click's CliRunner."""
from click.testing import CliRunner

from pipeline.criteria_command import criteria


def test_list_names_every_builtin_set_with_its_title():
    result = CliRunner().invoke(criteria, ["list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == \
        ["supporting-families-2022", "troubled-families-2012", "troubled-families-2015"]
    assert "Troubled Families phase 1 (2012-2015)" in result.output


def test_show_builtin_in_plain_english_with_actual_dates():
    result = CliRunner().invoke(criteria, ["show", "troubled-families-2012", "--as-of", "2026-09-30"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Criterion crime_asb: Crime and anti-social behaviour" in out
    assert ("From police records (every police source in the run), where event type is offence; and outcome is "
            "one of charged, convicted, cautioned or youth caution; and the person's role in the record is offender, "
            "dated in the 12 months up to and including the reference date, i.e. 1 Oct 2025 to 30 Sep 2026. "
            "Counts records of children (under 18 on the record's date).") in out
    assert ("in the last 3 complete school terms (autumn 1 Aug-31 Dec, spring 1 Jan-Easter Sunday, summer "
            "Easter Monday-31 Jul), i.e. autumn 2025/26, spring 2025/26, summer 2025/26 "
            "(1 Aug 2025 to 31 Jul 2026)") in out
    assert ("Met when (sessions unauthorised) divided by sessions possible, each summed over one member's "
            "records in the window, is at least 15%.") in out
    assert "on a claim open on the reference date" in out and "Counts records of adults (18 or over" in out
    assert ("Family rule: a family is eligible when it meets any of [all of [crime_asb (Crime and anti-social "
            "behaviour); education") in out
    assert "at least 2 of [crime_asb" in out


def test_show_without_date_and_with_setting_override():
    result = CliRunner().invoke(criteria, ["show", "supporting-families-2022", "--count-needs-by", "indicators"])
    assert result.exit_code == 0, result.output
    assert "i.e." not in result.output
    assert "at least 3 needs (indicators) within [education" in result.output
    assert "Family condition dependent_children" in result.output
    assert "a member under 18 on the reference date; or expectant_parent: From the health extract" in result.output
    assert "Settings: count_needs_by = indicators" in result.output


def test_show_a_custom_file_and_errors_exit_2(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text("title: Local set\nindicators:\n  dv:\n    agency: dv\n    record_role: perpetrator\n"
                    "    window: {last_days: 90}\n    threshold: {at_least_records: 2}\n    per: family\n"
                    "criteria:\n  abuse:\n    any_of: [dv]\nrule: abuse\n", encoding="utf-8")
    result = CliRunner().invoke(criteria, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "Local set (local)" in result.output
    assert ("where the person's role in the record is perpetrator, dated in the 90 days up to and including "
            "the reference date. Counts records of any family member. Met when the family's records together "
            "number at least 2.") in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("agency: dv", "agency: dvx"), encoding="utf-8")
    result = CliRunner().invoke(criteria, ["show", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}, line 4: indicators.dv.agency: unknown agency kind dvx" in result.output
    result = CliRunner().invoke(criteria, ["show", "no-such-set"])
    assert result.exit_code == 2 and "no such built-in set" in result.output

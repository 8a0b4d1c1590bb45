"""What a project group reads of a quarter run with --previous: changes.csv written by the run
(with each family's eligibility then and now), the report's "Since last quarter" and "Outcomes
and claims" sections agreeing with changes.csv and outcomes.csv, and `compare` refusing two runs
whose IDs were not carried forward."""
import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from reports.changes import compare_quarters

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "quarters"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def quarters(tmp_path_factory):
    out = tmp_path_factory.mktemp("quarters")
    runner = CliRunner()
    r1 = runner.invoke(main, ["run", "--config", str(SAMPLE / "q1" / "config.yaml"), "--out", str(out / "q1"), "-q"])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(main, ["run", "--config", str(SAMPLE / "q2" / "config.yaml"), "--out", str(out / "q2"),
                              "--previous", str(out / "q1"), "-q"])
    assert r2.exit_code == 0, r2.output
    return out


def section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}".*?</section>', html, re.S)
    assert m, sid
    return m.group(0)


def card(text: str, label: str) -> int:
    m = re.search(rf'<div class="card-label">{label}</div><div class="card-value">([\d,]+)</div>', text)
    assert m, label
    return int(m.group(1).replace(",", ""))


def table_rows(text: str, caption_start: str) -> dict[str, list[str]]:
    """The rows of the table whose caption starts so: first cell -> the other cells."""
    m = re.search(rf"<caption>{re.escape(caption_start)}.*?</caption>(.*?)</table>", text, re.S)
    assert m, caption_start
    rows = {}
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
def test_a_quarter_run_writes_changes_with_eligibility(quarters):
    ch = read(quarters / "q2" / "changes.csv")
    assert list(ch.columns[:3]) == ["family_id", "status", "eligibility_status"]
    assert set(ch["eligibility_status"]) <= {"newly_eligible", "still_eligible", "no_longer_eligible", "not_eligible"}
    was, now = ch["eligible_before"] == "1", ch["eligible_now"] == "1"
    expected = pd.Series("not_eligible", index=ch.index)
    expected[now & ~was], expected[now & was], expected[~now & was] = "newly_eligible", "still_eligible", "no_longer_eligible"
    assert (ch["eligibility_status"] == expected).all()
    # every family of both quarters' need matrices, once
    m1, m2 = read(quarters / "q1" / "need_matrix.csv"), read(quarters / "q2" / "need_matrix.csv")
    assert set(ch.loc[ch["status"] != "new", "family_id"]) <= set(m1["family_id"])
    assert set(ch.loc[ch["status"] != "left", "family_id"]) == set(m2["family_id"])
    assert ch["family_id"].is_unique
    # on the sample: families newly eligible (by criteria gained) and still eligible
    assert (ch["eligibility_status"] == "newly_eligible").sum() >= 1
    assert (ch["eligibility_status"] == "still_eligible").sum() >= 1
    gained = ch[(ch["eligibility_status"] == "newly_eligible") & (ch["status"] == "continuing")]
    assert gained["eligibility_reason"].str.startswith("criteria gained: ").all()
    # the first quarter, with no --previous, has no changes.csv
    assert not (quarters / "q1" / "changes.csv").exists()


@pytest.mark.slow
def test_the_manifest_records_the_previous_record_links(quarters):
    m1 = json.loads((quarters / "q1" / "manifest.json").read_text())
    m2 = json.loads((quarters / "q2" / "manifest.json").read_text())
    assert m1["previous_record_links_sha256"] is None
    assert m2["previous_record_links_sha256"] == hashlib.sha256((quarters / "q1" / "record_links.csv").read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_report_shows_the_quarter_as_changes_csv_has_it(quarters):
    html = (quarters / "q2" / "report.html").read_text()
    q = section(html, "quarter")
    ch = read(quarters / "q2" / "changes.csv")
    n = ch["eligibility_status"].value_counts()
    assert card(q, "Newly eligible") == n.get("newly_eligible", 0)
    assert card(q, "Still eligible") == n.get("still_eligible", 0)
    assert card(q, "No longer eligible") == n.get("no_longer_eligible", 0)
    rows = table_rows(q, "Families by eligibility")
    for label, status in (("Newly eligible", "newly_eligible"), ("Still eligible", "still_eligible"),
                          ("No longer eligible", "no_longer_eligible"), ("Not eligible, then or now", "not_eligible")):
        part = ch[ch["eligibility_status"] == status]
        assert rows[label] == [str((part["status"] == p).sum()) for p in ("new", "continuing", "left")] + [str(len(part))]
    assert rows["All families"][-1] == str(len(ch))
    # the movement table: families meeting each criterion then and now, as the need matrices have them
    m1, m2 = read(quarters / "q1" / "need_matrix.csv"), read(quarters / "q2" / "need_matrix.csv")
    movement = table_rows(q, "Families meeting each criterion, last quarter and this")
    for criterion in ("crime_asb", "education", "worklessness", "domestic_abuse"):
        before, now = int((m1[criterion] == "1").sum()), int((m2[criterion] == "1").sum())
        cells = movement[criterion]
        assert cells[1:4] == [str(before), str(now), f"{now - before:+,}"], criterion
        cont = ch[ch["status"] == "continuing"]
        assert cells[4] == str(cont["criteria_gained"].str.split(";").map(lambda m: criterion in m).sum())
        assert cells[5] == str(cont["criteria_lost"].str.split(";").map(lambda m: criterion in m).sum())
    assert movement["health"][1:3] == ["no data", "no data"]      # no extract: unknown, never 0
    assert movement["eligible"][1:3] == [str((m1["eligible"] == "1").sum()), str((m2["eligible"] == "1").sum())]
    assert 'aria-label="How each criterion moved since last quarter"' in q


@pytest.mark.slow
def test_the_report_summarises_outcomes_and_claims(quarters):
    o = section((quarters / "q2" / "report.html").read_text(), "outcomes")
    outcomes = read(quarters / "q2" / "outcomes.csv")
    claims = read(quarters / "q2" / "claims.csv")
    manifest = json.loads((quarters / "q2" / "manifest.json").read_text())
    assert card(o, "Families tracked") == manifest["counts"]["families_tracked_for_outcomes"] > 0
    assert card(o, "With a measure met") == outcomes.loc[outcomes["met"] == "1", "family_id"].nunique() > 0
    assert card(o, "With a measure sustained") == outcomes.loc[outcomes["sustained"] == "1", "family_id"].nunique()
    assert card(o, "Qualifying for a claim") == claims["family_id"].nunique()
    rows = table_rows(o, "Outcome measures")
    assert set(rows) - {"Measure"} == set(outcomes["measure"])
    for measure, part in outcomes.groupby("measure"):
        assert rows[measure][1:4] == [str(part["family_id"].nunique()), str((part["met"] == "1").sum()),
                                      str((part["sustained"] == "1").sum())], measure


@pytest.mark.slow
def test_a_first_run_says_how_to_get_the_quarter_section(quarters):
    q = section((quarters / "q1" / "report.html").read_text(), "quarter")
    assert "was not given last quarter" in q and "--previous" in q


@pytest.mark.slow
def test_compare_gives_what_the_run_wrote(quarters, tmp_path):
    r = CliRunner().invoke(main, ["compare", str(quarters / "q1"), str(quarters / "q2"), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(read(tmp_path / "c.csv"), read(quarters / "q2" / "changes.csv"))
    assert "newly eligible" in r.output


@pytest.mark.slow
def test_compare_refuses_runs_whose_ids_were_not_carried_forward(quarters, tmp_path):
    runner = CliRunner()
    # the first quarter was not run with --previous: its IDs came from nowhere
    r = runner.invoke(main, ["compare", str(quarters / "q2"), str(quarters / "q1"), "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 2 and "was not run with --previous" in r.output
    assert not (tmp_path / "a.csv").exists()
    # a folder whose record links are not the ones the newer run was given
    other = tmp_path / "other"
    shutil.copytree(quarters / "q1", other)
    with open(other / "record_links.csv", "a") as fh:
        fh.write("housing,999999,P999999,F999999\n")
    r = runner.invoke(main, ["compare", str(other), str(quarters / "q2"), "--out", str(tmp_path / "b.csv")])
    assert r.exit_code == 2 and "carried forward from another run" in r.output
    assert not (tmp_path / "b.csv").exists()


def matrix(rows, criteria=("crime", "education", "work")):
    cols = ["family_id", "members", "adults", "children", "postcode_district", *criteria, "criteria_met", "eligible"]
    return pd.DataFrame(rows, columns=cols).astype(str)


def test_eligibility_status_and_why_a_family_is_no_longer_eligible():
    old = matrix([["F000001", 3, 2, 1, "AB1", 1, 1, 0, 2, 1],     # loses crime: no longer eligible
                  ["F000002", 2, 2, 0, "AB1", 1, 1, 0, 2, 1],     # left
                  ["F000003", 2, 2, 0, "AB1", 1, 1, 0, 2, 1],     # still eligible
                  ["F000004", 1, 1, 0, "AB2", 0, 0, 0, 0, 0]])    # not eligible, then or now
    new = matrix([["F000001", 3, 2, 1, "AB1", 0, 1, 0, 1, 0],
                  ["F000003", 2, 2, 0, "AB1", 1, 1, 1, 3, 1],
                  ["F000004", 1, 1, 0, "AB2", 0, 0, 0, 0, 0],
                  ["F000005", 4, 2, 2, "AB3", 1, 0, 1, 2, 1]])    # new and eligible
    result = compare_quarters(old, new)
    c = result.changes.set_index("family_id")
    assert c["eligibility_status"].to_dict() == {"F000001": "no_longer_eligible", "F000002": "no_longer_eligible",
                                                 "F000003": "still_eligible", "F000004": "not_eligible",
                                                 "F000005": "newly_eligible"}
    assert c.loc["F000001", "eligibility_reason"] == "criteria lost: crime"
    assert c.loc["F000002", "eligibility_reason"].startswith("left")
    assert c.loc["F000005", "eligibility_reason"] == "new family"
    m = result.movement.set_index("criterion")
    # crime: 3 families before, 2 now = 3 - 1 lost - 1 left + 1 new
    assert m.loc["crime", ["families_before", "families_now", "lost_by_continuing_families",
                           "met_by_families_left", "met_by_new_families"]].tolist() == [3, 2, 1, 1, 1]
    assert m.loc["eligible", ["families_before", "families_now", "met_by_families_left"]].tolist() == [3, 2, 1]


def test_compare_reads_flags_as_the_run_holds_them():
    """The run compares its in-memory matrix (1, 1.0, blanks as NA) with last quarter's CSV."""
    old = matrix([["F000001", 3, 2, 1, "AB1", 1, 1, 0, 2, 1]])
    new = pd.DataFrame({"family_id": ["F000001"], "members": [3], "adults": [2], "children": [1],
                        "postcode_district": ["AB1"], "crime": [1.0], "education": [1.0], "work": [float("nan")],
                        "criteria_met": [2], "eligible": [1],
                        "last_record_date": pd.to_datetime(["2026-11-02"])})
    c = compare_quarters(old, new, old_as_of="2026-09-30").changes.iloc[0]
    assert c["eligibility_status"] == "still_eligible" and c["criteria_now"] == "crime;education"
    assert c["last_record_date"] == "2026-11-02" and c["seen_since_last_quarter"] == 1


@pytest.mark.slow
def test_families_csv_names_each_family_eligible_first(quarters):
    fam = read(quarters / "q2" / "families.csv")
    matrix = read(quarters / "q2" / "need_matrix.csv")
    members = read(quarters / "q2" / "members.csv")
    assert sorted(fam["family_id"]) == sorted(matrix["family_id"])
    # eligible families first, then by criteria met
    keys = list(zip(fam["eligible"].astype(int), fam["criteria_met"].astype(int)))
    assert keys == sorted(keys, reverse=True) and keys[0][0] == 1
    m = matrix.set_index("family_id")
    for row in fam.itertuples():
        mine = members[members["family_id"] == row.family_id]
        assert len(row.members_by_age.split(", ")) == len(mine) == int(m.loc[row.family_id, "members"])
        assert set(row.agencies.split(";")) == {a for x in mine["agencies"] for a in x.split(";") if a}
        adults = mine[mine["role"] == "adult"]
        adults = adults.assign(age=pd.to_numeric(adults["age"], errors="coerce")).dropna(subset=["age"])
        if len(adults):
            lead = adults.sort_values("age", ascending=False).iloc[0]
            assert row.lead_adult_age == str(int(lead["age"]))
            assert row.lead_adult in {f"{a} {b}".strip() for a, b in zip(adults["forename"], adults["surname"])}
        crit = [c for c in ("crime_asb", "education", "worklessness", "domestic_abuse") if m.loc[row.family_id, c] == "1"]
        assert row.criteria == ";".join(crit)


@pytest.mark.slow
def test_ethnicity_groups_in_the_sample_collapse_to_ons_categories(quarters):
    from matching.ethnicity import ONS_2021, is_mapped
    q = read(quarters / "q2" / "linkage_quality_by_group.csv")
    groups = q.loc[q["group_type"] == "ethnicity", "group"].tolist()
    assert groups and all(is_mapped(g) for g in groups)
    # the schools' WBRI and the police's "White - British" are one group
    assert "White: English, Welsh, Scottish, Northern Irish or British" in groups
    assert not {"WBRI", "White - British", "APKN"} & set(groups)
    assert set(groups) <= set(ONS_2021)
    html = (quarters / "q2" / "report.html").read_text()
    assert "Ethnicity values with no ONS 2021 category" not in html

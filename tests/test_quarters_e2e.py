"""Quarters of one synthetic population run one after another with --previous: IDs carry over,
`compare` finds the families that arrived and left, decisions persist."""
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quarters(tmp_path_factory):
    import datetime as dt

    from synth import generate_quarters
    folder = tmp_path_factory.mktemp("quarters")
    generate_quarters(folder, families=200, seed=5, formats="csv",
                      as_ofs=(dt.date(2026, 6, 30), dt.date(2026, 9, 30), dt.date(2026, 12, 31)))
    out = tmp_path_factory.mktemp("outs")
    runner = CliRunner()
    r1 = runner.invoke(main, ["run", "--config", str(folder / "q1" / "config.yaml"), "--out", str(out / "q1")])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(main, ["run", "--config", str(folder / "q2" / "config.yaml"), "--out", str(out / "q2"),
                              "--previous", str(out / "q1")])
    assert r2.exit_code == 0, r2.output
    r3 = runner.invoke(main, ["run", "--config", str(folder / "q3" / "config.yaml"), "--out", str(out / "q3"),
                              "--previous", str(out / "q2")])
    assert r3.exit_code == 0, r3.output
    return folder, out


def _person_of(folder, out, q):
    links = pd.read_csv(out / q / "record_links.csv", dtype=str)
    truth = pd.read_csv(folder / q / "truth.csv", dtype=str)
    return links.merge(truth, on=["source", "record_id"], suffixes=("", "_true"))


def test_unchanged_people_keep_their_ids(quarters):
    folder, out = quarters
    changed = set(pd.read_csv(folder / "truth_changes.csv", dtype=str)["person_id"].dropna())
    q1, q2 = _person_of(folder, out, "q1"), _person_of(folder, out, "q2")
    # A person's ID in a quarter: the one most of their records carry.
    ids1 = q1.groupby("person_id_true")["person_id"].agg(lambda s: s.mode().iloc[0])
    ids2 = q2.groupby("person_id_true")["person_id"].agg(lambda s: s.mode().iloc[0])
    keys1 = q1.groupby("person_id_true")["record_id"].apply(frozenset)
    keys2 = q2.groupby("person_id_true")["record_id"].apply(frozenset)
    # unchanged: no change recorded, and every record of last quarter sent again
    unchanged = [p for p in ids1.index if p in ids2.index and p not in changed and keys1[p] <= keys2[p]]
    assert len(unchanged) > 200
    kept = sum(ids1[p] == ids2[p] for p in unchanged)
    assert kept / len(unchanged) >= 0.999, f"{len(unchanged) - kept} of {len(unchanged)} unchanged people got a new ID"


def test_compare_reports_arrivals_and_departures(quarters):
    folder, out = quarters
    r = CliRunner().invoke(main, ["compare", str(out / "q1"), str(out / "q2")])
    assert r.exit_code == 0, r.output
    changes = pd.read_csv(out / "q2" / "changes.csv", dtype=str, keep_default_na=False).set_index("family_id")
    truth = pd.read_csv(folder / "truth_changes.csv", dtype=str)
    truth = truth[truth["quarter"] == "q2"]          # what changed between q1 and q2 (not q3's)
    left = set(truth.loc[truth["kind"] == "family_left_area", "family_id"])
    new = set(truth.loc[truth["kind"] == "family_new", "family_id"])
    assert left and new
    q1, q2 = _person_of(folder, out, "q1"), _person_of(folder, out, "q2")
    left_pred = set(q1.loc[q1["family_id_true"].isin(left), "family_id"])
    new_pred = set(q2.loc[q2["family_id_true"].isin(new), "family_id"])
    # rolling extracts keep a departed family's old records: it continues, unseen since, or has left
    for f in left_pred:
        assert changes.loc[f, "status"] == "left" or changes.loc[f, "seen_since_last_quarter"] == "0"
    assert {changes.loc[f, "status"] for f in new_pred} == {"new"}
    continuing = changes[changes["status"] == "continuing"]
    assert len(continuing) > 0.8 * len(changes)


def test_baselines_carry_over_and_outcomes_are_written(quarters):
    folder, out = quarters
    b1 = pd.read_csv(out / "q1" / "baselines.csv", dtype=str)
    b2 = pd.read_csv(out / "q2" / "baselines.csv", dtype=str).set_index("family_id")
    assert len(b1) > 0 and (b1["baseline_source"] == "first_eligible").all()
    # a family first eligible last quarter keeps its baseline date (under its carried ID)
    ids = pd.read_csv(out / "q2" / "id_changes.csv", dtype=str, keep_default_na=False)
    gone = set(ids.loc[(ids["id_type"] == "family") & ids["kind"].isin(["retired", "merged"]), "old_id"])
    for fid, date in zip(b1["family_id"], b1["baseline_date"]):
        if fid not in gone:
            assert b2.loc[fid, "baseline_date"] == date
    outcomes = pd.read_csv(out / "q2" / "outcomes.csv", dtype=str)
    assert set(outcomes["family_id"]) <= set(b1["family_id"]) | set(ids["new_id"])
    assert {"measure", "baseline_value", "current_value", "met", "sustained"} <= set(outcomes.columns)
    assert (out / "q2" / "claims.csv").exists() and (out / "q2" / "claims_evidence.csv").exists()


def test_case_start_file_sets_a_baseline(quarters, tmp_path):
    import yaml
    folder, out = quarters
    fam = pd.read_csv(out / "q2" / "need_matrix.csv", dtype=str)["family_id"].iloc[0]
    (tmp_path / "baseline.csv").write_text(f"family_id,baseline_date\n{fam},01/03/2026\n")
    cfg = yaml.safe_load((folder / "q2" / "config.yaml").read_text())
    for spec in cfg["sources"].values():
        spec["path"] = str(folder / "q2" / spec["path"])
    cfg["baselines"] = str(tmp_path / "baseline.csv")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o"),
                                  "--previous", str(out / "q1")])
    assert r.exit_code == 0, r.output
    b = pd.read_csv(tmp_path / "o" / "baselines.csv", dtype=str).set_index("family_id")
    assert b.loc[fam, "baseline_date"] == "2026-03-01" and b.loc[fam, "baseline_source"] == "case_start"
    (tmp_path / "baseline.csv").write_text("family_id,baseline_date\nF000001,someday\n")
    r = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o2")])
    assert r.exit_code == 3 and "row 2, column baseline_date" in r.output


def test_incremental_runs_equal_a_full_run(quarters, tmp_path):
    """The second and third quarters above were linked incrementally, the third from the state
    the incremental second left; linking the third again with --full gives the same files."""
    import json
    folder, out = quarters
    r = CliRunner().invoke(main, ["run", "--config", str(folder / "q3" / "config.yaml"), "--out", str(tmp_path / "q3full"),
                                  "--previous", str(out / "q2"), "--full"])
    assert r.exit_code == 0, r.output
    for q in ("q2", "q3"):
        inc = json.loads((out / q / "manifest.json").read_text())["counts"]["linkage"]
        assert inc["mode"] == "incremental" and inc["incremental"]["pairs_reused"] > inc["incremental"]["pairs_compared"]
    full = json.loads((tmp_path / "q3full" / "manifest.json").read_text())["counts"]["linkage"]
    assert full["mode"] == "full" and full["full_because"] == "--full was given"
    # the report says how much was compared afresh
    assert "Pairs compared in this run" in (out / "q3" / "report.html").read_text()
    assert "Pairs compared in this run" not in (tmp_path / "q3full" / "report.html").read_text()
    for name in ("record_links.csv", "members.csv", "review_pairs.csv", "need_matrix.csv", "id_changes.csv",
                 "evidence.csv", "outcomes.csv", "claims.csv"):
        assert (out / "q3" / name).read_bytes() == (tmp_path / "q3full" / name).read_bytes(), name


def test_a_damaged_linkage_state_means_a_full_run_with_the_reason(quarters, tmp_path):
    """A previous folder whose linkage state is damaged still carries IDs forward; the run links
    in full, says why, and gives the same files as a full run."""
    import json
    import shutil
    folder, out = quarters
    prev = tmp_path / "q1"
    shutil.copytree(out / "q1", prev)
    (prev / "linkage_state" / "pairs.parquet").write_bytes(b"\0" * 64)
    r = CliRunner().invoke(main, ["run", "--config", str(folder / "q2" / "config.yaml"), "--out", str(tmp_path / "q2"),
                                  "--previous", str(prev)])
    assert r.exit_code == 0, r.output
    link = json.loads((tmp_path / "q2" / "manifest.json").read_text())["counts"]["linkage"]
    assert link["mode"] == "full" and "damaged" in link["full_because"]
    for name in ("record_links.csv", "members.csv", "id_changes.csv"):
        assert (tmp_path / "q2" / name).read_bytes() == (out / "q2" / name).read_bytes(), name

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

    from pipeline.synth import generate_quarters
    folder = tmp_path_factory.mktemp("quarters")
    generate_quarters(folder, families=200, seed=5, formats="csv",
                      as_ofs=(dt.date(2026, 6, 30), dt.date(2026, 9, 30)))
    out = tmp_path_factory.mktemp("outs")
    runner = CliRunner()
    r1 = runner.invoke(main, ["run", "--config", str(folder / "q1" / "config.yaml"), "--out", str(out / "q1")])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(main, ["run", "--config", str(folder / "q2" / "config.yaml"), "--out", str(out / "q2"),
                              "--previous", str(out / "q1")])
    assert r2.exit_code == 0, r2.output
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
    left = set(truth.loc[truth["kind"] == "family_left_area", "family_id"])
    new = set(truth.loc[truth["kind"] == "family_new", "family_id"])
    assert left and new
    q1, q2 = _person_of(folder, out, "q1"), _person_of(folder, out, "q2")
    left_pred = set(q1.loc[q1["family_id_true"].isin(left), "family_id"])
    new_pred = set(q2.loc[q2["family_id_true"].isin(new), "family_id"])
    # rolling extracts keep a departed family's old records: it shows as inactive, or left
    assert {changes.loc[f, "status"] for f in left_pred} <= {"left", "inactive"}
    assert {changes.loc[f, "status"] for f in new_pred} == {"new"}
    continuing = changes[changes["status"].isin(["continuing", "inactive"])]
    assert len(continuing) > 0.8 * len(changes)

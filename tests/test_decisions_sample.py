"""The review queue and clerical decisions on the sample data, run as a user runs them."""
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
DECISION_COLUMNS = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]


def run(config: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["run", "--config", str(config), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    for path in SAMPLE.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    out = folder / "first"
    result = run(folder / "config.yaml", out)
    assert result.exit_code == 0, result.output
    return folder, out


def with_decisions(folder: Path, rows: list[dict], name: str) -> Path:
    pd.DataFrame(rows, columns=DECISION_COLUMNS).to_csv(folder / f"{name}.csv", index=False)
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["review_decisions"] = f"{name}.csv"
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name, dtype=str, keep_default_na=False)


def test_the_queue_asks_each_person_pair_once_and_none_within_a_person(sample):
    _, out = sample
    queue, links = read(out, "review_pairs.csv"), read(out, "record_links.csv")
    assert len(queue)
    person = links.set_index(["source", "record_id"])["person_id"]
    left = person.reindex(pd.MultiIndex.from_frame(queue[["source_l", "record_id_l"]])).to_numpy()
    right = person.reindex(pd.MultiIndex.from_frame(queue[["source_r", "record_id_r"]])).to_numpy()
    assert (left == queue["person_id_l"]).all() and (right == queue["person_id_r"]).all()
    assert (left != right).all()
    assert len({frozenset(p) for p in zip(left, right)}) == len(queue)
    assert queue["record_pairs"].astype(int).sum() >= len(queue)
    # Pairs a match would change a family's eligibility for come first, then most probable first.
    flag = queue["eligibility_if_match"].astype(int)
    assert flag.is_monotonic_decreasing and set(flag) == {0, 1}
    for value in (0, 1):
        assert queue.loc[flag == value, "match_probability"].astype(float).is_monotonic_decreasing


def test_the_queue_shows_families_recorded_values_weights_and_levels(sample):
    _, out = sample
    queue, links = read(out, "review_pairs.csv"), read(out, "record_links.csv")
    family = links.set_index(["source", "record_id"])["family_id"]
    for side in ("l", "r"):
        keys = pd.MultiIndex.from_frame(queue[[f"source_{side}", f"record_id_{side}"]])
        assert (family.reindex(keys).to_numpy() == queue[f"family_id_{side}"]).all()
    # The recorded forename is the agency's own spelling; the standardised one is lower case.
    recorded, std = queue["forename_recorded_l"], queue["forename_l"]
    assert (recorded != std).any()
    assert all(s.split()[0] in r.lower() for r, s in zip(recorded, std))
    assert {c[2:] for c in queue.columns if c.startswith("w_")} == {c[6:] for c in queue.columns
                                                                     if c.startswith("level_")}
    assert (queue["level_forename"] != "").all()
    # The weights and the prior add up to the match weight.
    weights = queue[[c for c in queue.columns if c.startswith("w_")]].astype(float).sum(axis=1)
    prior = queue["match_weight"].astype(float) - weights
    # (each weight is written rounded to 3 decimals, so the sums may differ by a few thousandths)
    assert prior.max() - prior.min() < 0.01


def test_eligibility_if_match_says_what_a_match_decision_then_does(sample, tmp_path):
    """A flagged pair, decided a match, changes a family's eligibility in the next run; an
    unflagged pair leaves the eligibility of both families as it was."""
    folder, out = sample
    queue = read(out, "review_pairs.csv")
    before = read(out, "need_matrix.csv").set_index("family_id")["eligible"]
    for flag in ("1", "0"):
        shown = queue[queue["eligibility_if_match"] == flag].iloc[0]
        config = with_decisions(folder, [{**{c: shown[c] for c in DECISION_COLUMNS[:4]}, "decision": "match"}],
                                f"what_if_{flag}")
        result = run(config, tmp_path / flag, "--previous", str(out))
        assert result.exit_code == 0, result.output
        after = read(tmp_path / flag, "need_matrix.csv").set_index("family_id")["eligible"]
        families = [shown["family_id_l"], shown["family_id_r"]]
        changed = before.reindex(families).fillna("0").tolist() != after.reindex(families).fillna("0").tolist()
        assert changed == (flag == "1"), (flag, before.reindex(families).tolist(), after.reindex(families).tolist())


def test_a_decisions_file_saved_by_excel_still_applies(sample, tmp_path):
    folder, out = sample
    queue = read(out, "review_pairs.csv")
    zeros = queue[queue["record_id_r"].str.startswith("0") | queue["record_id_l"].str.startswith("0")]
    assert len(zeros), "the sample's queue should hold a record ID with leading zeros"
    shown = zeros.iloc[0]
    row = {c: shown[c] for c in DECISION_COLUMNS[:4]}
    for side in ("l", "r"):
        row[f"record_id_{side}"] = row[f"record_id_{side}"].lstrip("0")
    config = with_decisions(folder, [{**row, "decision": "match"}], "excel_decisions")
    log = tmp_path / "run.log"
    result = run(config, tmp_path / "second", "--log-file", str(log))
    assert result.exit_code == 0, result.output
    text = log.read_text()
    assert "excel_decisions.csv, row(s) 2:" in text and "leading zeros" in text
    links = read(tmp_path / "second", "record_links.csv").set_index(["source", "record_id"])["person_id"]
    assert links[(shown["source_l"], shown["record_id_l"])] == links[(shown["source_r"], shown["record_id_r"])]
    # The person pair is settled: it is not asked again, and the decision is kept with the
    # run's own record IDs for the next quarter.
    again = read(tmp_path / "second", "review_pairs.csv")
    assert not ((again["record_id_l"] == shown["record_id_l"]) & (again["record_id_r"] == shown["record_id_r"])).any()
    kept = read(tmp_path / "second", "clerical_decisions.csv")
    assert kept[["record_id_l", "record_id_r"]].values.tolist() == [[shown["record_id_l"], shown["record_id_r"]]]


def test_an_unknown_record_in_the_decisions_file_is_exit_3_naming_the_file_and_row(sample, tmp_path):
    folder, out = sample
    shown = read(out, "review_pairs.csv").iloc[0]
    rows = [{**{c: shown[c] for c in DECISION_COLUMNS[:4]}, "decision": "non-match"},
            {**{c: shown[c] for c in DECISION_COLUMNS[:4]}, "record_id_r": "NOT-A-RECORD", "decision": "match"}]
    config = with_decisions(folder, rows, "unknown_decisions")
    result = run(config, tmp_path / "third")
    assert result.exit_code == 3, result.output
    assert "unknown_decisions.csv, row 3" in result.output and "NOT-A-RECORD" not in result.output
    assert not (tmp_path / "third").exists()


def test_review_page_round_trips_two_decisions_in_headless_chromium(sample, tmp_path):
    """Mark the first pair a match, skip one, mark the next a non-match, undo and redo it, save:
    the saved file is a decisions file the next run applies."""
    from browser import headless_chromium, wait_for_file
    folder, out = sample
    queue = read(out, "review_pairs.csv")
    assert len(queue) >= 3
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome = headless_chromium(downloads)
    try:
        from selenium.webdriver.common.by import By
        chrome.get((out / "review.html").as_uri())
        body = chrome.find_element(By.TAG_NAME, "body")
        first = chrome.find_element(By.CSS_SELECTOR, "#fields tbody tr td").text
        assert first == f"{queue['source_l'][0]} {queue['record_id_l'][0]}"
        assert chrome.find_elements(By.CSS_SELECTOR, "tr.agree") and chrome.find_elements(By.CSS_SELECTOR, "svg.waterfall rect")
        body.send_keys("m")
        assert chrome.find_element(By.ID, "progress").text.startswith("Pair 2 of")
        body.send_keys("s")
        body.send_keys("n")
        body.send_keys("u")                               # the non-match on pair 3 is taken back...
        assert chrome.find_element(By.ID, "progress").text.startswith("Pair 3 of")
        assert chrome.find_element(By.ID, "decision").text == "not decided"
        body.send_keys("n")                               # ...and made again
        chrome.find_element(By.ID, "save").click()
        saved = wait_for_file(downloads / "review_decisions.csv")
    finally:
        chrome.quit()
    decided = pd.read_csv(saved, dtype=str, keep_default_na=False)
    assert list(decided.columns) == DECISION_COLUMNS
    assert decided["decision"].tolist() == ["match", "non-match"]
    for k, row in zip((0, 2), decided.itertuples(index=False)):
        assert [getattr(row, c) for c in DECISION_COLUMNS[:4]] == queue.loc[k, DECISION_COLUMNS[:4]].tolist()
    # The next run reads it as its decisions: the match joins, the non-match keeps apart, and
    # neither is asked again.
    shutil.copy(saved, folder / "from_the_page.csv")
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["review_decisions"] = "from_the_page.csv"
    (folder / "from_the_page.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    result = run(folder / "from_the_page.yaml", tmp_path / "next", "--previous", str(out))
    assert result.exit_code == 0, result.output
    links = read(tmp_path / "next", "record_links.csv").set_index(["source", "record_id"])["person_id"]
    person = [[links[(queue.loc[k, f"source_{s}"], queue.loc[k, f"record_id_{s}"])] for s in "lr"] for k in (0, 2)]
    assert person[0][0] == person[0][1] and person[1][0] != person[1][1]
    kept = read(tmp_path / "next", "clerical_decisions.csv")
    assert len(kept) == 2
    again = read(tmp_path / "next", "review_pairs.csv")
    asked = {tuple(r) for r in again[DECISION_COLUMNS[:4]].itertuples(index=False)}
    assert not asked & {tuple(queue.loc[k, DECISION_COLUMNS[:4]]) for k in (0, 2)}


def test_accuracy_from_decisions_made_by_the_ground_truth(sample, tmp_path):
    """The queue's pairs and twenty linked pairs decided as the sample's truth has them: the run
    reports the band's precision and the threshold's precision and recall those decisions give."""
    import json
    folder, out = sample
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str, keep_default_na=False)
    truth = truth[truth["expect_reject"] != "1"]           # rejected rows (a duplicated ID) are not linked
    person = dict(zip(zip(truth["source"], truth["record_id"]), truth["person_id"]))
    queue = read(out, "review_pairs.csv")
    links = read(out, "link_explanations.csv")
    linked = links[links["kind"] == "person_link"].iloc[::50].head(20)
    rows = []
    for frame in (queue, linked):
        for r in frame.itertuples(index=False):
            same = person[(r.source_l, r.record_id_l)] == person[(r.source_r, r.record_id_r)]
            rows.append({c: getattr(r, c) for c in DECISION_COLUMNS[:4]} | {"decision": "match" if same else "non-match"})
    band_matches = sum(r["decision"] == "match" for r in rows[:len(queue)])
    linked_matches = sum(r["decision"] == "match" for r in rows[len(queue):])
    config = with_decisions(folder, rows, "truth_decisions")
    result = run(config, tmp_path / "judged")
    assert result.exit_code == 0, result.output
    acc = json.loads((tmp_path / "judged" / "manifest.json").read_text())["counts"]["linkage"]["accuracy_from_decisions"]
    assert acc["decided_pairs"] == len(rows) == len(queue) + 20
    assert acc["decided_matches"] == band_matches + linked_matches
    assert acc["band_decided_pairs"] == len(queue)
    assert acc["band_precision"] == round(band_matches / len(queue), 4)
    assert acc["precision_at_threshold"] == round(linked_matches / 20, 4)
    assert acc["recall_at_threshold"] == round(linked_matches / (band_matches + linked_matches), 4)
    assert f"Accuracy from {len(rows)} clerical decisions" in result.output
    report = (tmp_path / "judged" / "report.html").read_text()
    assert "Accuracy from clerical decisions" in report and "Precision and recall against the decisions" in report

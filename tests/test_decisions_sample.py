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
    probability = queue["match_probability"].astype(float)
    assert probability.is_monotonic_decreasing


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

"""End to end on the committed sample data: ingest, validate and link, then check accuracy
against the generator's ground truth (the targets in docs/linkage.md)."""
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

pytestmark = pytest.mark.skipif(not (SAMPLE / "truth.csv").exists() or not (SAMPLE / "config.yaml").exists(),
                                reason="sample_data not generated yet")


@pytest.fixture(scope="module")
def evaluation():
    from tools.evaluate import run_config
    ev, stats, _ = run_config(SAMPLE / "config.yaml")
    return ev, stats


def test_persons_accuracy(evaluation):
    ev, _ = evaluation
    assert ev["persons_pairwise"]["precision"] >= 0.995
    assert ev["persons_pairwise"]["recall"] >= 0.98


def test_families_accuracy(evaluation):
    ev, _ = evaluation
    assert ev["families_pairwise"]["precision"] >= 0.98
    assert ev["families_pairwise"]["recall"] >= 0.95


def test_every_record_is_linked_once(evaluation):
    ev, stats = evaluation
    assert stats["records"] == ev["records"]
    assert ev["predicted_persons"] == stats["persons"]


def test_every_community_is_linked_about_as_well(evaluation):
    """B-cubed person recall of the best- and worst-served communities. The goal is 0.005
    (issue 14) and is not met: on the harder sample of issue 14, where the smallest
    communities have 30 to 100 records and one split person moves a community's recall by
    0.01 to 0.03, the gap is 0.037 (Arabic and Eastern European, each with a person whose
    records lack a date of birth and give another address). This holds it from getting worse;
    `make accuracy` measures it on 200,000 rows (0.021)."""
    ev, _ = evaluation
    assert len(ev["persons_by_community"]) >= 5
    assert ev["persons_community_recall_gap"] <= 0.04
    for row in ev["persons_by_community"]:
        assert row["precision"] >= 0.98, row["community"]

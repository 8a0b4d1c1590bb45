"""Accuracy measures (tools.evaluate) and linkage quality by group (matching.quality)."""
import datetime as dt

import pandas as pd
import pytest

from tools.evaluate import bcubed, by_community, evaluate, pairwise_scores
from matching.linkage import link_records, records_frame
from matching.quality import quality_by_group
from matching.settings import LinkageSettings


def test_pairwise_scores_by_hand():
    true = ["a", "a", "a", "b", "b", "c"]
    pred = [1, 1, 2, 3, 3, 3]
    s = pairwise_scores(pred, true)
    # true pairs: 3 (a) + 1 (b) = 4; predicted: 1 + 3 = 4; correct: (0,1) and (3,4) = 2
    assert s["true_pairs"] == 4 and s["predicted_pairs"] == 4 and s["correct_pairs"] == 2
    assert s["precision"] == 0.5 and s["recall"] == 0.5


def test_bcubed_by_hand():
    b = bcubed([1, 1, 2], ["a", "a", "a"])
    assert b["precision"] == 1.0 and b["recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    perfect = bcubed([5, 5, 6], ["x", "x", "y"])
    assert perfect == {"precision": 1.0, "recall": 1.0}


def test_by_community_gap():
    c = by_community([1, 1, 2, 3], ["a", "a", "b", "b"], ["x", "x", "y", "y"])
    c = c.set_index("community")
    assert c.loc["x", "recall"] == 1.0 and c.loc["y", "recall"] == 0.5


def _people(n=40):
    rows = []
    for i in range(n):
        for k, src in enumerate(["police", "housing"]):
            rows.append({"source": src, "record_id": f"r{i}", "forename": f"Name{chr(65 + i % 26)}{i}",
                         "surname": f"Fam{i // 2}", "dob": f"19{50 + i}-0{1 + i % 9}-1{i % 9}", "sex": "MF"[i % 2],
                         "address": f"{i // 2 + 1} Long Road", "postcode": f"AB{i // 2 + 1} 1AA",
                         "ethnicity": ["A", "B"][i % 2], "seen_date": "2025-01-01"})
    return records_frame(rows)


def test_evaluate_and_quality_on_a_small_run():
    rec = _people()
    res = link_records(rec, LinkageSettings.defaults(), dt.date(2026, 9, 30))
    truth = pd.DataFrame({"source": rec["source"], "record_id": rec["record_id"],
                          "person_id": rec["record_id"], "family_id": rec["surname"],
                          "community": rec["ethnicity"], "expect_reject": "0"})
    ev = evaluate(rec, res, truth, LinkageSettings.defaults())
    assert ev["persons_pairwise"]["precision"] == 1.0 and ev["persons_pairwise"]["recall"] == 1.0
    assert ev["families_bcubed"]["recall"] == 1.0
    assert ev["persons_community_recall_gap"] == 0.0
    assert ev["blocking_recall"][-1]["recall"] == 1.0
    q = quality_by_group(rec, res, min_group=10)
    assert set(q["group_type"]) >= {"ethnicity", "sex", "age band"}
    eth = q[q["group_type"] == "ethnicity"].set_index("group")
    assert eth.loc["A", "persons"] == 20 and eth.loc["A", "records"] == 40
    assert eth.loc["A", "multi_agency_share"] == 1.0 and eth.loc["A", "single_record_share"] == 0.0
    assert eth.loc["A", "mean_link_weight"] > 0
    # postcode districts hold 2 persons each: all suppressed
    assert (q["group_type"] == "postcode district").sum() == 0
    assert (q["persons"] >= 10).all()

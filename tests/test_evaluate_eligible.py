"""Eligible-family precision and recall (tools.evaluate): each side's family mapped to the other
side's family holding most of its persons, on hand-made record assignments."""
import pytest

from tools.evaluate import eligible_scores, majority_map, split_families


def test_majority_map_counts_distinct_persons_and_breaks_ties_by_smallest_id():
    # predicted family P1 holds two records of person a (family T2) and one each of b, c (T1)
    got = majority_map(["P1", "P1", "P1", "P1", "P2", "P2"],
                       ["T2", "T2", "T1", "T1", "T3", "T4"],
                       ["a", "a", "b", "c", "d", "e"])
    assert got.to_dict() == {"P1": "T1", "P2": "T3"}


def test_eligible_precision_and_recall_by_hand():
    # T1 (persons a, b, c) is split: a and b in P1, c alone in P2.
    # T2 (d, e) and T3 (f) were merged into P3; T4 (g) is P4.
    pred = ["P1", "P1", "P1", "P2", "P3", "P3", "P3", "P4"]
    true = ["T1", "T1", "T1", "T1", "T2", "T2", "T3", "T4"]
    person = ["a", "a", "b", "c", "d", "e", "f", "g"]
    # truly eligible: T1 and T3; found eligible: P2 (the split-off part of T1) and P3 (the merge)
    s = eligible_scores(pred, true, person, pred_eligible={"P2", "P3"}, true_eligible={"T1", "T3"})
    # P2 -> T1 (eligible): right; P3 -> T2 (two persons against one): wrong
    assert s["precision"] == pytest.approx(0.5)
    # T1 -> P1 (two of its three persons), not eligible: missed; T3 -> P3, eligible: found
    assert s["recall"] == pytest.approx(0.5)
    assert s["true_eligible"] == 2 and s["predicted_eligible"] == 2


def test_eligible_family_with_no_records_found_counts_as_missed():
    s = eligible_scores(["P1"], ["T1"], ["a"], pred_eligible={"P1"}, true_eligible={"T1", "T9"})
    assert s["precision"] == 1.0 and s["recall"] == 0.5


def test_nothing_eligible_on_either_side_scores_one():
    s = eligible_scores(["P1"], ["T1"], ["a"], pred_eligible=set(), true_eligible=set())
    assert s["precision"] == 1.0 and s["recall"] == 1.0


def test_split_families_counts_multi_member_families_spread_over_predicted_ones():
    pred = ["P1", "P1", "P2", "P3", "P3", "P4"]
    true = ["T1", "T1", "T1", "T2", "T2", "T3"]
    person = ["a", "b", "c", "d", "e", "f"]
    s = split_families(pred, true, person)
    assert s["multi_member_families"] == 2 and s["split"] == 1
    assert s["split_share"] == 0.5 and s["persons_placed_apart"] == 1

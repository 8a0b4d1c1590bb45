"""One-to-one evidence between two one-record-per-person sources (matching/exclusive.py),
checked by hand on small frames."""
import math

import numpy as np
import pytest

from matching.exclusive import one_to_one


def _run(source, l, r, bits, prob=None, eligible=None, single=("a", "b")):
    source = np.array(source, dtype=object)
    l, r = np.array(l), np.array(r)
    bits = np.array(bits, dtype=float)
    prob = np.full(len(l), 0.5) if prob is None else np.array(prob, dtype=float)
    eligible = np.ones(len(l), bool) if eligible is None else np.array(eligible)
    return one_to_one(source, list(single), l, r, bits, prob, eligible)


def test_a_lone_candidate_is_judged_against_no_match_at_all():
    # Two records in each source, one candidate pair per record, each pair expected to match
    # with chance 0.5: the rate starts at 0.5 and EM moves it to where the chances agree.
    out = _run(["a", "a", "b", "b"], [0, 1], [2, 3], [10.0, 10.0])
    assert out is not None and list(out.pairs) == [0, 1]
    pi = out.match_rate[("a", "b")]
    assert 0 < pi <= 0.5                       # at most 1 - 1/n, n = 2
    share = pi / 2
    expected = math.log2(share * 2 ** 10) - math.log2(1 - pi)
    assert out.total == pytest.approx([expected, expected])


def test_two_candidates_with_the_same_evidence_share_it():
    # Record 0 (a) has two candidates in b with the same evidence; record 1 (a) has one.
    out = _run(["a", "a", "b", "b", "b"], [0, 0, 1], [2, 3, 4], [12.0, 12.0, 12.0])
    shared, alone = out.total[0], out.total[2]
    assert out.total[0] == pytest.approx(out.total[1])
    assert shared < alone - 0.9                # a rival halves the chance at least
    assert shared < 0.5                        # neither of the two is likely: below even odds


def test_the_pair_keeps_the_lower_of_its_two_sides():
    # Record 2 (b) has candidates 0 and 1 in a; record 0 (a) has only record 2: from 0's side
    # the pair is likely, from 2's side it competes with the strong pair 1-2.
    out = _run(["a", "a", "b"], [0, 1], [2, 2], [8.0, 20.0])
    assert out.total[0] < 0 < out.total[1]


def test_pairs_within_one_source_or_not_eligible_or_outside_the_single_sources_are_left():
    out = _run(["a", "a", "b", "c"], [0, 0, 0, 1], [1, 2, 3, 2], [9.0, 9.0, 9.0, 9.0],
               eligible=[True, False, True, True])
    # 0-1 within a; 0-2 not eligible (an identifier conflict); 0-3 with c, not a single source.
    assert list(out.pairs) == [3]


def test_nothing_to_rescore_gives_none():
    assert _run(["a", "a"], [0], [1], [9.0]) is None
    assert _run(["a", "b"], [0], [1], [9.0], single=("a",)) is None
    assert _run(["a", "b"], [], [], []) is None


def test_three_sources_keep_a_rate_for_each_direction():
    out = _run(["a", "b", "c", "c"], [0, 1, 0], [2, 3, 1], [15.0, 15.0, 15.0], single=("a", "b", "c"))
    assert set(out.match_rate) == {("a", "c"), ("c", "a"), ("b", "c"), ("c", "b"), ("a", "b"), ("b", "a")}
    assert np.isfinite(out.total).all()


def test_huge_evidence_stays_finite():
    out = _run(["a", "b"], [0], [1], [500.0], prob=[1.0])
    assert np.isfinite(out.total).all() and out.total[0] > 0

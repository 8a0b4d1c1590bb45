"""The longest arrays of a run (one value per candidate pair) are read a slice at a time where
they are summarised: the result must not depend on the slice."""
import numpy as np

from matching.linkage import _rounded32
from reports import charts


def _weights(n=5_000, seed=3):
    w = np.random.default_rng(seed).normal(-8, 10, n).astype(np.float32)
    w[:4] = [np.inf, -np.inf, np.nan, 60.0]      # never drawn, and one past the cut
    return w


def test_the_match_weight_histogram_is_the_same_counted_in_slices(monkeypatch):
    w = _weights()
    whole = charts.match_weight_histogram(w, 6.0, 2.0)
    monkeypatch.setattr(charts, "WEIGHTS_A_SLICE", 7)
    assert charts.match_weight_histogram(w, 6.0, 2.0) == whole
    assert charts.weight_range(w, 6.0, 2.0) == charts.weight_range(w.astype(float)[np.isfinite(w)], 6.0, 2.0)


def test_the_weights_counted_are_the_finite_ones_and_those_beyond_the_cut(monkeypatch):
    monkeypatch.setattr(charts, "WEIGHTS_A_SLICE", 11)
    w = _weights()
    lo, hi = charts.weight_range(w, 6.0, 2.0)
    finite = w[np.isfinite(w)].astype(float)
    assert charts.weight_counts(w, lo, hi) == (len(finite), int((finite < lo).sum()), int((finite > hi).sum()))
    assert charts.weight_counts(w, lo, hi)[2] >= 1               # 60 lies past hi


def test_match_weights_are_rounded_as_a_whole_array_would_be():
    total = np.random.default_rng(5).normal(0, 15, 10_001)
    assert np.array_equal(_rounded32(total, 4, chunk=64), np.round(total, 4).astype(np.float32))
    assert _rounded32(np.empty(0), 4).dtype == np.float32


def test_record_positions_built_once_give_each_slice_what_the_slice_alone_gives():
    import pandas as pd

    from matching.quality import RecordPositions, pair_positions
    rl = pd.DataFrame({"source": ["a", "a", "b", "b"], "record_id": ["1", "2", "1", "9"]})
    keys = pd.Categorical(["a", "b"]), pd.Categorical(["1", "2", "9", "7"])
    pairs = pd.DataFrame({"source_l": keys[0].take([0, 0, 1, 0]), "record_id_l": keys[1].take([0, 0, 0, 3]),
                          "source_r": keys[0].take([0, 1, 1, 1]), "record_id_r": keys[1].take([1, 2, 2, 0])})
    rid_pos = np.array([10, 11, 12, 13])
    positions = RecordPositions(pairs, rl, rid_pos)
    whole = positions(pairs)
    # a-1 is 10, a-2 is 11, b-1 is 12, b-9 is 13; a-7 is no record: NaN
    assert np.array_equal(whole[0], [10, 10, 12, np.nan], equal_nan=True)
    assert np.array_equal(whole[1], [11, 13, 13, 12])
    for lo in range(0, 4, 3):
        part = pairs.iloc[lo:lo + 3]
        for got, alone in zip(positions(part), pair_positions(part, rl, rid_pos)):
            assert np.array_equal(got, alone, equal_nan=True)

"""matching.blocking._union: the distinct candidate pairs of every pass, each with the OR of the
passes that found it, however the passes overlap (it works in place on large arrays)."""
import numpy as np

from matching.blocking import BITS_DTYPE, _union


def reference(codes, bits):
    out = {}
    for c, b in zip(codes, bits):
        for code, bit in zip(c.tolist(), b.tolist()):
            out[code] = out.get(code, 0) | bit
    keys = sorted(out)
    return np.array(keys, dtype=np.int64), np.array([out[k] for k in keys], dtype=BITS_DTYPE)


def test_union_of_overlapping_passes_gives_each_pair_once_with_all_its_passes():
    rng = np.random.default_rng(5)
    n = 3000
    codes, bits = [], []
    for k in range(16):                       # every bit of the mask in use, the top one too
        c = np.unique(rng.integers(0, n * n, 4000 if k % 3 else 40))
        codes.append(c.astype(np.int64))
        bits.append(np.full(len(c), 1 << k, dtype=BITS_DTYPE))
    want = reference(codes, bits)
    pair, passes = _union(codes, bits, n)
    assert np.array_equal(pair, want[0]) and np.array_equal(passes, want[1])
    assert passes.dtype == BITS_DTYPE and codes == [] and bits == []      # the inputs were consumed


def test_union_of_no_pass_and_of_empty_passes():
    pair, passes = _union([], [], 10)
    assert len(pair) == 0 and len(passes) == 0
    pair, passes = _union([np.empty(0, np.int64), np.array([7], np.int64)],
                          [np.empty(0, BITS_DTYPE), np.array([2], BITS_DTYPE)], 10)
    assert pair.tolist() == [7] and passes.tolist() == [2]

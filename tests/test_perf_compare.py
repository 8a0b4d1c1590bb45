"""The vectorised string tests in matching.compare (bounds, token matrices, memo) give exactly
the answers of the plain per-pair definitions."""
import jellyfish
import numpy as np
import pandas as pd

from matching.compare import Columns, run_test

LETTERS = list("aeinorstlmbcdhy")


def _words(rng, n):
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 9))
        out.append("".join(rng.choice(LETTERS, size=k)))
    # close variants, so that every level is reached
    for w in list(out[: n // 2]):
        if len(w) > 2:
            i = int(rng.integers(0, len(w) - 1))
            out.append(w[:i] + w[i + 1] + w[i] + w[i + 2:])
            out.append(w[:i] + w[i + 1:])
    out += ["é" + out[0], "a", "b", "ab"]
    return out


def _frame(rng, n_rec=400):
    words = _words(rng, 120)
    fore = [words[int(i)] if rng.random() > 0.1 else None for i in rng.integers(0, len(words), n_rec)]
    sur = [words[int(i)] if rng.random() > 0.1 else None for i in rng.integers(0, len(words), n_rec)]

    def toks(v):
        return tuple(sorted({v, v[:3]})) if v else ()
    return pd.DataFrame({"fore1": fore, "sur_whole": sur,
                         "fore_tokens": [toks(v) for v in fore], "sur_tokens": [toks(v) for v in sur]})


def _all_pairs(n):
    l, r = np.triu_indices(n, 1)
    return l.astype(np.int64), r.astype(np.int64)


def _plain(std, l, r, col, fn):
    vals = std[col].to_numpy()
    return np.array([vals[a] is not None and vals[b] is not None and bool(fn(vals[a], vals[b]))
                     for a, b in zip(l, r)])


def test_jaro_winkler_edit_initial_and_overlap_match_the_definitions():
    rng = np.random.default_rng(5)
    std = _frame(rng)
    cols = Columns(std)
    l, r = _all_pairs(len(std))
    for th in (0.92, 0.8, 0.7):
        got = run_test({"jaro_winkler": "fore1", "threshold": th}, cols, l, r)
        want = _plain(std, l, r, "fore1", lambda a, b: a == b or jellyfish.jaro_winkler_similarity(a, b) >= th)
        assert (got == want).all()
    for mx in (1, 2):
        got = run_test({"edit_distance": "sur_whole", "max": mx}, cols, l, r)
        want = _plain(std, l, r, "sur_whole", lambda a, b: min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) <= mx
                      and jellyfish.damerau_levenshtein_distance(a, b) <= mx)
        assert (got == want).all()
    got = run_test({"initial": "fore1"}, cols, l, r)
    want = _plain(std, l, r, "fore1", lambda a, b: (len(a) == 1 or len(b) == 1) and a[0] == b[0])
    assert (got == want).all()
    got = run_test({"overlap": "fore_tokens"}, cols, l, r)
    tok = std["fore_tokens"].to_numpy()
    want = np.array([bool(tok[a]) and bool(tok[b]) and not set(tok[a]).isdisjoint(tok[b]) for a, b in zip(l, r)])
    assert (got == want).all()


def test_swapped_tests_match_the_definitions():
    rng = np.random.default_rng(11)
    std = _frame(rng, 300)
    cols = Columns(std)
    l, r = _all_pairs(len(std))
    f, s = std["fore1"].to_numpy(), std["sur_whole"].to_numpy()
    jw = jellyfish.jaro_winkler_similarity
    got = run_test({"swapped_similar": ["fore1", "sur_whole"], "threshold": 0.8}, cols, l, r)
    want = np.array([bool(f[a] and s[a] and f[b] and s[b]) and jw(f[a], s[b]) >= 0.8 and jw(s[a], f[b]) >= 0.8
                     for a, b in zip(l, r)])
    assert (got == want).all()
    ft, st = std["fore_tokens"].to_numpy(), std["sur_tokens"].to_numpy()
    got = run_test({"overlap_across": ["sur_tokens", "fore_tokens"]}, cols, l, r)
    want = np.array([bool(st[a] or ft[a]) and bool(st[b] or ft[b])
                     and (not set(st[a]).isdisjoint(ft[b]) or not set(ft[a]).isdisjoint(st[b])) for a, b in zip(l, r)])
    assert (got == want).all()

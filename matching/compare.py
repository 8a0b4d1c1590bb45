"""Comparisons: for each candidate pair and each comparison in the settings, the first level
(top to bottom) whose test holds. Tests run on whole arrays of pairs; string similarity and
token overlap are computed once per distinct pair of values.

String similarity is the costly part, so each distinct pair of values is first checked
against a bound computed on whole arrays (letters in common, length, shared prefix): a pair
that cannot reach the threshold is settled without calling jellyfish; the rest are computed
exactly, so results are the same as computing every pair."""
from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd

from .settings import Comparison

_BLOCK = 250_000      # distinct value pairs handled at once by the bounds (memory stays flat)
_MARGIN = 1e-9        # bounds are compared with this slack so rounding never drops a pair


class Columns:
    """Standardised columns turned into arrays the tests need, each made once and cached."""

    def __init__(self, std: pd.DataFrame):
        self.std = std
        self._codes: dict = {}
        self._cache: dict = {}

    def codes(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """(integer code per record, -1 where missing; array of distinct values)."""
        if col not in self._codes:
            s = self.std[col]
            if s.dtype == object and len(s) and isinstance(s.dropna().iloc[0] if s.notna().any() else None, tuple):
                # an empty tuple is missing
                codes, uniq = self._value_codes(col)
                filled = np.fromiter((bool(t) for t in uniq), dtype=bool, count=len(uniq))
                renumber = np.full(len(uniq), -1, dtype=np.int64)
                renumber[filled] = np.arange(int(filled.sum()))
                codes = np.where(codes >= 0, renumber[codes], -1)
                uniq = _objects(list(uniq[filled]))
            else:
                codes, uniq = self._value_codes(col)
            self._codes[col] = (codes.astype(np.int64), np.asarray(uniq, dtype=object))
        return self._codes[col]

    def joint_codes(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes of two columns in one shared value space (for swapped-field tests)."""
        key = ("joint", a, b)
        if key not in self._cache:
            n = len(self.std)
            both = pd.concat([self.std[a], self.std[b]], ignore_index=True)
            codes, _ = pd.factorize(both, use_na_sentinel=True)
            self._cache[key] = (codes[:n].astype(np.int64), codes[n:].astype(np.int64))
        return self._cache[key]

    def token_pair(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes and values of the pair of token columns (a, b) taken together."""
        key = ("pair", a, b)
        if key not in self._cache:
            # Distinct (a, b) combinations found from the two columns' codes; each combination's
            # values are read from its first record (records sharing codes share values).
            ca, va = self._value_codes(a)
            cb, vb = self._value_codes(b)
            combo = (ca + 1) * (len(vb) + 1) + (cb + 1)
            uniq, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
            sa, sb = self.std[a].to_numpy(dtype=object), self.std[b].to_numpy(dtype=object)
            values = np.fromiter(((sa[i], sb[i]) for i in first), dtype=object, count=len(first))
            keep = np.fromiter(((isinstance(x, (str, tuple)) and bool(x)) or (isinstance(y, (str, tuple)) and bool(y))
                                for x, y in values), dtype=bool, count=len(values))
            new_code = np.full(len(values), -1, dtype=np.int64)
            new_code[keep] = np.arange(int(keep.sum()))
            self._cache[key] = (new_code[inverse.reshape(-1)], values[keep])
        return self._cache[key]

    def record_key(self, columns: tuple[str, ...]) -> np.ndarray:
        """Per record, one code for its combination of values in these columns: records with
        one code hold the same values, so any test on these columns treats them alike."""
        key = ("record_key", columns)
        if key not in self._cache:
            k = np.zeros(len(self.std), dtype=np.int64)
            for col in columns:
                codes, uniq = self._value_codes(col)
                k = pd.factorize(k * (len(uniq) + 1) + codes + 1)[0].astype(np.int64)
            self._cache[key] = k
        return self._cache[key]

    def _value_codes(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes of a column's values exactly as held (empty tuples and strings included;
        missing values -1)."""
        key = ("value_codes", col)
        if key not in self._cache:
            codes, uniq = pd.factorize(self.std[col], use_na_sentinel=True)
            self._cache[key] = (codes.astype(np.int64), uniq)
        return self._cache[key]

    def text_features(self, key, values: np.ndarray) -> "_TextFeatures":
        """Letter counts, lengths and prefixes of an array of distinct values (cached by key)."""
        k = ("text", key)
        if k not in self._cache:
            self._cache[k] = _TextFeatures(values if values is not None else self.codes(key)[1])
        return self._cache[k]

    def token_matrix(self, key, values: np.ndarray, part: int | None = None):
        """Sparse (distinct value x token) membership matrix of a column of token tuples, or of
        one part of a column of (tokens, tokens) pairs (both parts in one token vocabulary);
        None where a value is not text or a tuple of text."""
        k = ("tokens", key, part)
        if k not in self._cache:
            if part is None:
                self._cache[k] = _token_matrix(values)
            else:
                n = len(values)
                both = np.empty(2 * n, dtype=object)
                both[:n] = [v[0] for v in values]
                both[n:] = [v[1] for v in values]
                m = _token_matrix(both)
                self._cache[("tokens", key, 0)] = None if m is None else m[:n]
                self._cache[("tokens", key, 1)] = None if m is None else m[n:]
        return self._cache[k]

    def flag(self, col: str) -> np.ndarray:
        key = ("flag", col)
        if key not in self._cache:
            self._cache[key] = self.std[col].fillna(False).to_numpy(dtype=bool)
        return self._cache[key]

    def ints(self, col: str) -> np.ndarray:
        key = ("int", col)
        if key not in self._cache:
            self._cache[key] = self.std[col].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
        return self._cache[key]


def _objects(items: list) -> np.ndarray:
    """An object array holding the items as they are (tuples stay whole)."""
    return np.fromiter(items, dtype=object, count=len(items))


class _TextFeatures:
    """Per distinct value: length, ASCII letter counts and first four characters, for bounds
    on edit distance and Jaro-Winkler. A value that is not ASCII text gets no bound (`exact`):
    its pairs are always computed."""

    def __init__(self, values: np.ndarray):
        n = len(values)
        # "\r\n" is one grapheme: keep it out of the bound to be safe
        is_text = np.fromiter((isinstance(v, str) and v.isascii() and "\r" not in v for v in values), dtype=bool, count=n)
        texts = [v if ok else "" for v, ok in zip(values, is_text)]
        self.exact = ~is_text
        self.length = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        raw = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
        letters, dense = np.unique(raw, return_inverse=True)
        rows = np.repeat(np.arange(n), self.length)
        counts = np.zeros((n, max(len(letters), 1)), dtype=np.uint16)
        np.add.at(counts, (rows, dense.reshape(-1)), 1)
        self.counts = counts
        prefix = np.zeros((n, 4), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(self.length)[:-1]]).astype(np.int64)
        for k in range(4):
            has = self.length > k
            prefix[has, k] = raw[starts[has] + k]
        self.prefix = prefix

    def common_letters(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(self.counts[a], self.counts[b]).sum(axis=1, dtype=np.int64)

    def letter_difference(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ca, cb = self.counts[a].astype(np.int32), self.counts[b].astype(np.int32)
        return np.abs(ca - cb).sum(axis=1, dtype=np.int64)

    def jaro_winkler_bound(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """An upper bound of jellyfish's Jaro-Winkler similarity for value pairs (a, b): the
        matching characters are at most the letters in common, transpositions at best none,
        and the prefix bonus at most the shared prefix (up to four characters)."""
        la, lb = self.length[a], self.length[b]
        common = self.common_letters(a, b).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            jaro = np.where((la > 0) & (lb > 0), (common / la + common / lb + 1.0) / 3.0, 0.0)
        shortest = np.minimum(np.minimum(la, lb), 4)
        same = (self.prefix[a] == self.prefix[b]) & (np.arange(4)[None, :] < shortest[:, None])
        shared_prefix = np.cumprod(same, axis=1).sum(axis=1)
        bound = np.where(jaro > 0.7, jaro + 0.1 * shared_prefix * (1.0 - jaro), jaro)
        return np.where(self.exact[a] | self.exact[b], np.inf, bound)


def _token_matrix(values: np.ndarray):
    from scipy.sparse import csr_matrix

    if not all(isinstance(v, (str, tuple)) and all(isinstance(t, str) for t in v) for v in values):
        return None
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    flat = [t for v in values for t in v]
    codes, uniq = pd.factorize(pd.Series(flat, dtype=object)) if flat else (np.empty(0, np.int64), [])
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    m = csr_matrix((np.ones(len(flat), dtype=np.int8), codes.astype(np.int64), indptr),
                   shape=(len(values), max(len(uniq), 1)))
    m.sum_duplicates()
    m.data[:] = 1
    return m


def _distinct_pairs(cl: np.ndarray, cr: np.ndarray, k: int):
    """(mask of pairs with both codes present, distinct left codes, distinct right codes,
    inverse mapping each present pair to its distinct pair)."""
    ok = (cl >= 0) & (cr >= 0)
    pair = cl[ok] * k + cr[ok]
    uniq, inv = np.unique(pair, return_inverse=True)
    return ok, uniq // k, uniq % k, inv


def _blocks(n: int):
    for start in range(0, n, _BLOCK):
        yield slice(start, min(start + _BLOCK, n))


def _jaro_winkler_at_least(cols: Columns, col: str, cl: np.ndarray, cr: np.ndarray, threshold: float) -> np.ndarray:
    """Equal, or jellyfish Jaro-Winkler similarity >= threshold, per pair (missing: False). Each
    distinct value pair is computed once, and remembered for the column's other thresholds."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.codes(col)
    k = len(values) + 1
    ok, ua, ub, inv = _distinct_pairs(cl, cr, k)
    if not len(ua):
        return out
    feats = cols.text_features(col, values)
    res = ua == ub
    todo = np.flatnonzero(~res)
    cand = np.concatenate([todo[s][feats.jaro_winkler_bound(ua[todo[s]], ub[todo[s]]) >= threshold - _MARGIN]
                           for s in _blocks(len(todo))]) if len(todo) else todo
    if len(cand):
        sims = _similarities(cols, col, values, ua[cand], ub[cand], k)
        res[cand] = sims >= threshold
    out[ok] = res[inv]
    return out


def _similarities(cols: Columns, col: str, values: np.ndarray, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """jellyfish Jaro-Winkler similarity of value pairs (a, b), taken from or added to the
    column's memo."""
    memo_key = ("jw_memo", col)
    keys, sims = cols._cache.get(memo_key, (np.empty(0, np.int64), np.empty(0, float)))
    q = a * k + b
    pos = np.searchsorted(keys, q)
    known = pos < len(keys)
    known[known] = keys[pos[known]] == q[known]
    out = np.empty(len(q), dtype=float)
    out[known] = sims[pos[known]]
    new = np.flatnonzero(~known)
    if len(new):
        jw = jellyfish.jaro_winkler_similarity
        va, vb = values[a[new]], values[b[new]]
        out[new] = np.fromiter((jw(x, y) for x, y in zip(va, vb)), dtype=float, count=len(new))
        all_keys = np.concatenate([keys, q[new]])
        order = np.argsort(all_keys, kind="stable")
        cols._cache[memo_key] = (all_keys[order], np.concatenate([sims, out[new]])[order])
    return out


def _within_edits(cols: Columns, col: str, cl: np.ndarray, cr: np.ndarray, mx: int) -> np.ndarray:
    """Both at least three characters, and a Damerau-Levenshtein distance of at most mx."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.codes(col)
    key = col
    if not all(isinstance(v, str) for v in values):
        # digits too: a date of birth as its 8-digit key, one digit mis-keyed
        values = _objects([v if isinstance(v, str) else str(v) for v in values])
        key = (col, "as text")
    k = len(values) + 1
    ok, ua, ub, inv = _distinct_pairs(cl, cr, k)
    if not len(ua):
        return out
    f = cols.text_features(key, values)
    la, lb = f.length[ua], f.length[ub]
    exact = f.exact[ua] | f.exact[ub]
    # Each edit changes the letter counts by at most two (a transposition by none).
    maybe = np.flatnonzero(exact | ((np.minimum(la, lb) >= 3) & (np.abs(la - lb) <= mx)))
    if len(maybe):
        keep = np.concatenate([maybe[s][exact[maybe[s]] | (f.letter_difference(ua[maybe[s]], ub[maybe[s]]) <= 2 * mx)]
                               for s in _blocks(len(maybe))])
        maybe = keep
    res = np.zeros(len(ua), dtype=bool)
    if len(maybe):
        dl = jellyfish.damerau_levenshtein_distance
        res[maybe] = np.fromiter((min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) <= mx and dl(a, b) <= mx
                                  for a, b in zip(values[ua[maybe]], values[ub[maybe]])), dtype=bool, count=len(maybe))
    out[ok] = res[inv]
    return out


def _any_shared_token(left, right, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows a of `left` and rows b of `right` (sparse token matrices) share a token."""
    out = np.zeros(len(a), dtype=bool)
    for s in _blocks(len(a)):
        out[s] = np.asarray(left[a[s]].multiply(right[b[s]]).sum(axis=1)).reshape(-1) > 0
    return out


def _overlap(cols: Columns, col: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    codes, values = cols.codes(col)
    m = cols.token_matrix(col, values)
    if m is None:
        return None
    out = np.zeros(len(cl), dtype=bool)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, len(values) + 1)
    out[ok] = _any_shared_token(m, m, ua, ub)[inv]
    return out


def _overlap_across(cols: Columns, a: str, b: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    codes, values = cols.token_pair(a, b)
    m0, m1 = cols.token_matrix(("pair", a, b), values, 0), cols.token_matrix(("pair", a, b), values, 1)
    if m0 is None or m1 is None or m0.shape[1] != m1.shape[1]:
        return None
    out = np.zeros(len(cl), dtype=bool)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, len(values) + 1)
    out[ok] = (_any_shared_token(m0, m1, ua, ub) | _any_shared_token(m1, m0, ua, ub))[inv]
    return out


def _swapped_similar(cols: Columns, a: str, b: str, cl: np.ndarray, cr: np.ndarray, threshold: float, similar) -> np.ndarray:
    """similar(x, y) per pair of (a, b) values, computed only where both Jaro-Winkler bounds
    (x's a against y's b, x's b against y's a) reach the threshold."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.token_pair(a, b)
    n = len(values)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, n + 1)
    if not len(ua):
        return out
    key = ("pair", a, b)
    if ("filled", key) not in cols._cache:
        both = np.empty(2 * n, dtype=object)
        both[:n] = [v[0] for v in values]
        both[n:] = [v[1] for v in values]
        cols._cache[("filled", key)] = np.fromiter((bool(x) for x in both), dtype=bool, count=2 * n)
        cols.text_features(key, both)
    filled, feats = cols._cache[("filled", key)], cols.text_features(key, None)
    present = np.flatnonzero(filled[ua] & filled[ua + n] & filled[ub] & filled[ub + n])
    parts = []
    for s in _blocks(len(present)):
        x, y = ua[present[s]], ub[present[s]]
        reach = ((feats.jaro_winkler_bound(x, y + n) >= threshold - _MARGIN)
                 & (feats.jaro_winkler_bound(x + n, y) >= threshold - _MARGIN))
        parts.append(present[s][reach])
    cand = np.concatenate(parts) if parts else present
    res = np.zeros(len(ua), dtype=bool)
    if len(cand):
        res[cand] = np.fromiter((similar(x, y) for x, y in zip(values[ua[cand]], values[ub[cand]])),
                                dtype=bool, count=len(cand))
    out[ok] = res[inv]
    return out


def _initial(cols: Columns, col: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    """One side is a single letter and both start with it (None unless every value is text)."""
    codes, values = cols.codes(col)
    key = ("initial", col)
    if key not in cols._cache:
        fine = all(isinstance(v, str) and v for v in values)
        cols._cache[key] = (np.fromiter((ord(v[0]) for v in values), dtype=np.int64, count=len(values)),
                            np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))) if fine else None
    if cols._cache[key] is None:
        return None
    first, length = cols._cache[key]
    ok = (cl >= 0) & (cr >= 0)
    a, b = cl[ok], cr[ok]
    out = np.zeros(len(cl), dtype=bool)
    out[ok] = ((length[a] == 1) | (length[b] == 1)) & (first[a] == first[b])
    return out


def _on_unique_pairs(cl: np.ndarray, cr: np.ndarray, values: np.ndarray, fn) -> np.ndarray:
    """Evaluate fn(value_l, value_r) once per distinct pair of codes (both codes >= 0)."""
    out = np.zeros(len(cl), dtype=bool)
    ok = (cl >= 0) & (cr >= 0)
    if not ok.any():
        return out
    k = len(values) + 1
    pair = cl[ok] * k + cr[ok]
    uniq, inv = np.unique(pair, return_inverse=True)
    res = np.fromiter((fn(values[u // k], values[u % k]) for u in uniq), dtype=bool, count=len(uniq))
    out[ok] = res[inv]
    return out


def run_test(test: dict, cols: Columns, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Boolean array: does the test hold for each pair (l[i], r[i])?"""
    if "all" in test:
        res = np.ones(len(l), dtype=bool)
        for t in test["all"]:
            idx = np.flatnonzero(res)
            if not len(idx):
                break
            res[idx] = run_test(t, cols, l[idx], r[idx])
        return res
    if "missing" in test:
        res = np.zeros(len(l), dtype=bool)
        for c in test["missing"]:
            codes, _ = cols.codes(c)
            res |= (codes[l] < 0) | (codes[r] < 0)
        return res
    if "equal" in test:
        codes, _ = cols.codes(test["equal"])
        cl, cr = codes[l], codes[r]
        return (cl >= 0) & (cl == cr)
    if "swapped" in test:
        a, b = test["swapped"]
        ca, cb = cols.joint_codes(a, b)
        return (ca[l] >= 0) & (cb[l] >= 0) & (ca[l] == cb[r]) & (cb[l] == ca[r]) & (ca[l] != cb[l])
    if "flag_both" in test:
        f = cols.flag(test["flag_both"])
        return f[l] & f[r]
    if "flag_any" in test:
        f = cols.flag(test["flag_any"])
        return f[l] | f[r]
    if "date_swapped" in test:
        y, m, d = (cols.ints(c) for c in test["date_swapped"])
        return (y[l] >= 0) & (y[l] == y[r]) & (m[l] == d[r]) & (d[l] == m[r]) & (m[l] != d[l])
    if "parts_equal" in test:
        y, m, d = (cols.ints(c) for c in test["parts_equal"])
        ok = (y[l] >= 0) & (y[r] >= 0)
        n_eq = (y[l] == y[r]).astype(int) + (m[l] == m[r]) + (d[l] == d[r])
        return ok & (n_eq >= test.get("at_least", 2))
    if "jaro_winkler" in test:
        codes, _ = cols.codes(test["jaro_winkler"])
        return _jaro_winkler_at_least(cols, test["jaro_winkler"], codes[l], codes[r], test["threshold"])
    if "edit_distance" in test:
        # Damerau-Levenshtein: one slip of the keyboard (a letter dropped, added, changed or
        # two swapped); values shorter than three characters must agree exactly.
        codes, _ = cols.codes(test["edit_distance"])
        return _within_edits(cols, test["edit_distance"], codes[l], codes[r], test.get("max", 1))
    if "swapped_similar" in test:
        # forename and surname swapped and each then similar to the other record's (a family
        # name written first, and transliterated differently)
        codes, values = cols.token_pair(*test["swapped_similar"])
        th = test["threshold"]

        def similar(x, y):
            if not (x[0] and x[1] and y[0] and y[1]):
                return False
            return (jellyfish.jaro_winkler_similarity(x[0], y[1]) >= th
                    and jellyfish.jaro_winkler_similarity(x[1], y[0]) >= th)
        return _swapped_similar(cols, *test["swapped_similar"], codes[l], codes[r], th, similar)
    if "overlap_across" in test:
        # a word of one record's column a among the other record's column b, either way round
        # (a Somali or Arabic family name recorded as a second forename elsewhere)
        codes, values = cols.token_pair(*test["overlap_across"])
        fast = _overlap_across(cols, *test["overlap_across"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda x, y: not set(x[0]).isdisjoint(y[1]) or not set(x[1]).isdisjoint(y[0]))
    if "overlap" in test:
        codes, values = cols.codes(test["overlap"])
        fast = _overlap(cols, test["overlap"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values, lambda a, b: not set(a).isdisjoint(b))
    if "initial" in test:
        codes, values = cols.codes(test["initial"])
        fast = _initial(cols, test["initial"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda a, b: (len(a) == 1 or len(b) == 1) and a[0] == b[0])
    raise ValueError(f"unknown level test {sorted(test)}")


def comparison_levels(comp: Comparison, cols: Columns, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Level index per pair for one comparison: the first level whose test holds."""
    levels = np.full(len(l), len(comp.levels) - 1, dtype=np.int8)
    todo = np.arange(len(l))
    for i, lv in enumerate(comp.levels[:-1]):
        if not len(todo):
            break
        hit = run_test(lv.test, cols, l[todo], r[todo])
        levels[todo[hit]] = i
        todo = todo[~hit]
    return levels


_COLUMN_KEYS = ("missing", "equal", "swapped", "overlap", "jaro_winkler", "initial", "flag_both", "flag_any",
                "date_swapped", "parts_equal", "edit_distance", "overlap_across", "swapped_similar")
_CHEAP_TESTS = {"missing", "equal", "flag_both", "flag_any"}


def _test_columns(test: dict, into: set) -> bool:
    """Add the standardised columns a test reads to `into`; False for a test not known here."""
    for key, value in test.items():
        if key == "all":
            if not all(_test_columns(t, into) for t in value):
                return False
        elif key in _COLUMN_KEYS:
            into.update([value] if isinstance(value, str) else value)
        elif key not in ("threshold", "max", "at_least"):
            return False
    return True


def _worth_deduplicating(comp: Comparison) -> tuple[str, ...] | None:
    """The columns a comparison reads, when its levels are costly enough to be worth computing
    once per distinct pair of those columns' values (None otherwise)."""
    cols: set = set()
    kinds: set = set()
    for lv in comp.levels[:-1]:
        if not _test_columns(lv.test, cols):
            return None
        stack = [lv.test]
        while stack:
            t = stack.pop()
            kinds.update(k for k in t if k in _COLUMN_KEYS)
            stack.extend(t.get("all", []))
    if len(comp.levels) <= 4 and kinds <= _CHEAP_TESTS:
        return None
    return tuple(sorted(cols))


def compare_pairs(comparisons: list[Comparison], cols: Columns, l: np.ndarray, r: np.ndarray,
                  chunk: int = 1_000_000) -> np.ndarray:
    """Level matrix (pairs x comparisons, int8), computed chunk by chunk to keep memory flat.

    A comparison reads a few columns, and candidate pairs repeat the same values (a person's
    records agree with each other's names): each distinct pair of those values is compared
    once, through one representative pair, and its level given to every pair sharing it."""
    out = np.empty((len(l), len(comparisons)), dtype=np.int8)
    reads = [_worth_deduplicating(comp) for comp in comparisons]
    for start in range(0, len(l), chunk):
        sl = slice(start, start + chunk)
        lc, rc = l[sl], r[sl]
        for j, comp in enumerate(comparisons):
            if reads[j] is None or len(lc) < 2:
                out[sl, j] = comparison_levels(comp, cols, lc, rc)
                continue
            key = cols.record_key(reads[j])
            width = int(key.max()) + 1
            which, distinct = pd.factorize(key[lc] * width + key[rc])
            if len(distinct) > 0.7 * len(lc):
                out[sl, j] = comparison_levels(comp, cols, lc, rc)
                continue
            rep = np.empty(len(distinct), dtype=np.int64)
            rep[which] = np.arange(len(lc))      # any pair of a group stands for all of it
            out[sl, j] = comparison_levels(comp, cols, lc[rep], rc[rep])[which]
    return out

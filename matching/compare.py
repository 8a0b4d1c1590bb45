"""Comparisons: for each candidate pair and each comparison in the settings, the first level
(top to bottom) whose test holds. The tests themselves are the kinds in matching.levels; this
module holds the arrays they read (Columns) and walks the levels.

Columns also holds the text features (letter counts, lengths, prefixes) from which the string
tests bound Jaro-Winkler similarity and edit distance on whole arrays before calling jellyfish."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import levels
from .levels import object_array
from .settings import Comparison
from .workers import each_slice

PAIRS_A_SLICE = 2_000     # fewer pairs than this are not worth sending to another process
# Compared here before the rest go to the workers: enough pairs to reach nearly every level test.
PAIRS_BEFORE_FORK = 20_000


class Columns:
    """Standardised columns turned into arrays the tests need, each made once and cached."""

    def __init__(self, std: pd.DataFrame):
        self.std = std
        self._codes: dict = {}
        self._cache: dict = {}
        self.memo: dict = {}      # arrays a kind of level test derives for itself (matching.levels)

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
                uniq = object_array(list(uniq[filled]))
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


def run_test(test: dict, cols: Columns, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Boolean array: does the test hold for each pair (l[i], r[i])? (See matching.levels.)"""
    return levels.evaluate(test, cols, l, r)


def comparison_levels(comp: Comparison, cols: Columns, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Level index per pair for one comparison: the first level whose test holds."""
    out = np.full(len(l), len(comp.levels) - 1, dtype=np.int8)
    todo = np.arange(len(l))
    for i, lv in enumerate(comp.levels[:-1]):
        if not len(todo):
            break
        hit = run_test(lv.test, cols, l[todo], r[todo])
        out[todo[hit]] = i
        todo = todo[~hit]
    return out


def _worth_deduplicating(comp: Comparison) -> tuple[str, ...] | None:
    """The columns a comparison reads, when its levels are costly enough to be worth computing
    once per distinct pair of those columns' values (None otherwise)."""
    tests = [lv.test for lv in comp.levels[:-1]]
    if len(comp.levels) <= 4 and all(levels.is_cheap(t) for t in tests):
        return None
    return tuple(sorted({c for t in tests for c in levels.columns(t)}))


def compare_pairs(comparisons: list[Comparison], cols: Columns, l: np.ndarray, r: np.ndarray,
                  chunk: int = 1_000_000, workers: int = 1) -> np.ndarray:
    """Level matrix (pairs x comparisons, int8), computed chunk by chunk to keep memory flat,
    the chunks shared among `workers` processes (a pair's levels depend on it alone, so the
    matrix is the same for any number).

    A comparison reads a few columns, and candidate pairs repeat the same values (a person's
    records agree with each other's names): each distinct pair of those values is compared
    once, through one representative pair, and its level given to every pair sharing it."""
    reads = [_worth_deduplicating(comp) for comp in comparisons]

    def levels_of(first: int, stop: int) -> np.ndarray:
        out = np.empty((stop - first, len(comparisons)), dtype=np.int8)
        for start in range(first, stop, chunk):
            sl = slice(start - first, min(start + chunk, stop) - first)
            lc, rc = l[start:min(start + chunk, stop)], r[start:min(start + chunk, stop)]
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

    if workers <= 1:
        return levels_of(0, len(l))
    out = np.empty((len(l), len(comparisons)), dtype=np.int8)
    # The tests read arrays made per record on first use (codes, text features), and a forked
    # worker inherits only those made before the fork. The first pairs are compared here, so
    # those arrays are made once, here, for every worker and every later fork (the random
    # pairs of estimation), not again in each worker: on 200,000 records that is about 1.4 s
    # a fork. Each pair's levels depend on it alone, so the matrix is the same either way.
    head = min(len(l), PAIRS_BEFORE_FORK)
    out[:head] = levels_of(0, head)
    for (start, stop), part in each_slice(lambda a, b: levels_of(head + a, head + b), len(l) - head, workers,
                                          smallest=PAIRS_A_SLICE):
        out[head + start:head + stop] = part
    return out

"""Comparisons: for each candidate pair and each comparison in the settings, the first level
(top to bottom) whose test holds. Tests run on whole arrays of pairs; string similarity and
token overlap are computed once per distinct pair of values."""
from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd

from .settings import Comparison


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
                s = s.map(lambda t: t if t else None)
            codes, uniq = pd.factorize(s, use_na_sentinel=True)
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
            both = pd.Series(list(zip(self.std[a], self.std[b])), index=self.std.index)
            both = both.map(lambda t: t if (isinstance(t[0], (str, tuple)) and t[0]) or (isinstance(t[1], (str, tuple)) and t[1]) else None)
            codes, uniq = pd.factorize(both, use_na_sentinel=True)
            self._cache[key] = (codes.astype(np.int64), np.asarray(list(uniq) + [None], dtype=object)[:-1])
        return self._cache[key]

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
        codes, values = cols.codes(test["jaro_winkler"])
        th = test["threshold"]
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda a, b: a == b or jellyfish.jaro_winkler_similarity(a, b) >= th)
    if "edit_distance" in test:
        # Damerau-Levenshtein: one slip of the keyboard (a letter dropped, added, changed or
        # two swapped); values shorter than three characters must agree exactly.
        codes, values = cols.codes(test["edit_distance"])
        # digits too: a date of birth as its 8-digit key, one digit mis-keyed
        values = np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)
        mx = test.get("max", 1)
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda a, b: min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) <= mx
                                and jellyfish.damerau_levenshtein_distance(a, b) <= mx)
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
        return _on_unique_pairs(codes[l], codes[r], values, similar)
    if "overlap_across" in test:
        # a word of one record's column a among the other record's column b, either way round
        # (a Somali or Arabic family name recorded as a second forename elsewhere)
        codes, values = cols.token_pair(*test["overlap_across"])
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda x, y: not set(x[0]).isdisjoint(y[1]) or not set(x[1]).isdisjoint(y[0]))
    if "overlap" in test:
        codes, values = cols.codes(test["overlap"])
        return _on_unique_pairs(codes[l], codes[r], values, lambda a, b: not set(a).isdisjoint(b))
    if "initial" in test:
        codes, values = cols.codes(test["initial"])
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


def compare_pairs(comparisons: list[Comparison], cols: Columns, l: np.ndarray, r: np.ndarray,
                  chunk: int = 1_000_000) -> np.ndarray:
    """Level matrix (pairs x comparisons, int8), computed chunk by chunk to keep memory flat."""
    out = np.empty((len(l), len(comparisons)), dtype=np.int8)
    for start in range(0, len(l), chunk):
        sl = slice(start, start + chunk)
        for j, comp in enumerate(comparisons):
            out[sl, j] = comparison_levels(comp, cols, l[sl], r[sl])
    return out

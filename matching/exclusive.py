"""One-to-one evidence between two sources that each hold at most one record per person.

When two extracts each list a person at most once (`clustering.single_record_sources`: two
registers linked to each other, a school roll against a child register), a record of one can
be the same person as at most one record of the other. The pairwise model ignores that: it
prices every candidate pair against the same prior, as if a record could match any number of
the other's. Given that a record has a match in the other source with probability pi, and
that the match is any one of its records with equal chance beforehand, the chance that it is
candidate j is

    P(i = j) = (pi / n) BF_ij / ((1 - pi) + (pi / n) sum_k BF_ik)

where BF is each candidate's Bayes factor (2 ** the comparison weights), n the other source's
records and the sum runs over i's candidates there (pairs that were not candidates carry a
negligible factor). A lone candidate with fair evidence becomes likely; two candidates with
the same evidence share it. The pair keeps the lower of the two records' chances, so a pair is
linked only when each is the other's clear best. pi is estimated from the pairwise model (the
matches it expects between the two sources over the records of the side), never taken as 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MAX_BITS = 60.0
_ITERATIONS = 50


@dataclass(frozen=True)
class Exclusive:
    """Which pairs were rescored and the match rate each side was given."""
    pairs: np.ndarray                         # positions of the rescored candidate pairs
    total: np.ndarray                         # their match weight (log2 odds) under one-to-one
    match_rate: dict[tuple[str, str], float]  # (source, other source) -> pi


def one_to_one(source: np.ndarray, single: list[str], l: np.ndarray, r: np.ndarray, evidence_bits: np.ndarray,
               probability: np.ndarray, eligible: np.ndarray) -> Exclusive | None:
    """Match weights under one-to-one for the candidate pairs (l, r) between two different
    single-record sources. `evidence_bits` is each pair's comparison weight sum (no prior),
    `probability` its pairwise match probability, `eligible` the pairs that may match at all
    (not impossible, no identifier conflict). None when no pair joins two such sources."""
    single_set = {str(s) for s in single}
    if len(single_set) < 2 or not len(l):
        return None
    src_l, src_r = source[l], source[r]
    is_single = np.isin(source, list(single_set))
    across = is_single[l] & is_single[r] & (src_l != src_r) & eligible
    if not across.any():
        return None
    pos = np.flatnonzero(across)
    names = sorted(single_set)
    code = {s: k for k, s in enumerate(names)}
    counts = np.array([int((source == s).sum()) for s in names], dtype=np.float64)
    ca = np.array([code[s] for s in src_l[pos]], dtype=np.int64)
    cb = np.array([code[s] for s in src_r[pos]], dtype=np.int64)
    bf = np.exp2(np.clip(evidence_bits[pos], -_MAX_BITS, _MAX_BITS))
    k = len(names)
    # The pairwise model's expected matches between each two sources start the match rates.
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    expected = np.bincount(lo * k + hi, probability[pos], k * k)
    rates: dict[tuple[str, str], float] = {}
    total = np.full(len(pos), np.inf)
    for rec, mine, theirs in ((l[pos], ca, cb), (r[pos], cb, ca)):
        n_self, n_other = counts[mine], counts[theirs]
        key = rec.astype(np.int64) * k + theirs
        uniq, at = np.unique(key, return_inverse=True)
        mass = np.bincount(at, bf, len(uniq))[at]
        direction = mine * k + theirs
        # The share of this side's records that have a match over there: the mean chance that
        # a record is one of its candidates (EM for the rate), never all of them for certain.
        cap = 1.0 - 1.0 / np.maximum(n_self, 2.0)
        pi = np.minimum(expected[lo * k + hi] / n_self, cap)
        for _ in range(_ITERATIONS):
            share = pi / n_other
            chance = share * bf / ((1.0 - pi) + share * mass)
            new = np.minimum(np.bincount(direction, chance, k * k)[direction] / n_self, cap)
            done = np.abs(new - pi).max() < 1e-6
            pi = new
            if done:
                break
        share = pi / n_other
        # log2 odds that this side's record is that candidate: against it, no match at all or
        # one of its other candidates.
        against = (1.0 - pi) + share * np.maximum(mass - bf, 0.0)
        total = np.minimum(total, np.log2(share * bf) - np.log2(against))
        combos, first = np.unique(direction, return_index=True)
        for c, i in zip(combos, first):
            rates[(names[c // k], names[c % k])] = round(float(pi[i]), 6)
    total = np.clip(total, -_MAX_BITS, _MAX_BITS)
    return Exclusive(pairs=pos, total=total, match_rate=rates)

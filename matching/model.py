"""Fellegi–Sunter scoring: u-probabilities from random record pairs, m-probabilities by EM
over the candidate pairs' level patterns, a match weight per comparison and pair (with
term-frequency adjustment), and the prior that turns total weight into a probability."""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .compare import Columns, compare_pairs
from .settings import LinkageSettings


@dataclass
class FittedModel:
    """Everything needed to score a pair, and to explain the score."""
    comparisons: list[str]
    labels: list[list[str]]
    null_levels: list[list[bool]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    weights: list[np.ndarray]
    match_share_in_candidates: float
    prior_weight: float
    em_iterations: int
    em_converged: bool
    u_sample_pairs: int
    tf: dict = field(default_factory=dict)   # level -> tf settings, for the record
    # (comparison, level) -> typical term frequency of the values agreeing at that level among
    # random pairs; a pair's adjustment is measured from it
    tf_reference: dict = field(default_factory=dict)
    # column -> (term frequency per record, average agreeing share), kept for scoring the
    # same standardised frame (tf_frame: a weak reference to it)
    tf_arrays: dict = field(default_factory=dict, repr=False)
    tf_frame: object = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "prior_weight": round(self.prior_weight, 6),
            "match_share_in_candidates": round(self.match_share_in_candidates, 8),
            "em_iterations": self.em_iterations,
            "em_converged": self.em_converged,
            "u_sample_pairs": self.u_sample_pairs,
            "term_frequency": {k: {"column": v, "reference_share": self.tf_reference.get(k)} for k, v in self.tf.items()},
            "comparisons": [
                {"name": name, "levels": [
                    {"label": lab, "is_null_level": nl,
                     "m": None if nl else round(float(mm), 8),
                     "u": None if nl else round(float(uu), 8),
                     "weight": round(float(w), 4)}
                    for lab, nl, mm, uu, w in zip(self.labels[i], self.null_levels[i], self.m[i], self.u[i], self.weights[i])]}
                for i, name in enumerate(self.comparisons)],
        }


def _level_shares(levels: np.ndarray, counts: np.ndarray, n_levels: int, null: np.ndarray, floor: float) -> np.ndarray:
    """Share of each non-null level among comparable pairs (null levels get 1.0, unused)."""
    tot = np.bincount(levels, weights=counts, minlength=n_levels).astype(float)
    comparable = tot[~null].sum()
    out = np.ones(n_levels)
    if comparable > 0:
        out[~null] = tot[~null] / comparable
    out[~null] = np.clip(out[~null], floor, 1 - floor)
    return out


def estimate_u(settings: LinkageSettings, cols: Columns, n_records: int,
               tf_arrays: dict | None = None, workers: int = 1) -> tuple[list[np.ndarray], int, dict]:
    """u-probabilities: level shares among random record pairs (almost all non-matches); and
    for each term-frequency adjusted level the typical (geometric mean) share of the values
    agreeing at that level among those pairs."""
    est = settings.estimation
    rng = np.random.default_rng(int(est["seed"]))
    k = int(est["u_sample_pairs"])
    if n_records < 2:
        return [np.ones(len(c.levels)) * 0.5 for c in settings.comparisons], 0, {}
    i = rng.integers(0, n_records, size=k)
    j = rng.integers(0, n_records, size=k)
    keep = i != j
    i, j = i[keep], j[keep]
    levels_random = compare_pairs(settings.comparisons, cols, i, j, workers=workers)
    out = []
    for c, comp in enumerate(settings.comparisons):
        null = np.array([x.is_null for x in comp.levels])
        tot = np.bincount(levels_random[:, c], minlength=len(comp.levels)).astype(float)
        comparable = max(tot[~null].sum(), 1.0)
        # A level never seen among random pairs (e.g. identifiers agreeing) gets half a pair.
        u = np.ones(len(comp.levels))
        u[~null] = np.maximum(tot[~null], 0.5) / comparable
        u[~null] = np.clip(u[~null], float(est["probability_floor"]), 1 - float(est["probability_floor"]))
        out.append(u)
    ref = {}
    for c, comp in enumerate(settings.comparisons):
        for lvi, lv in enumerate(comp.levels):
            if lv.tf_adjust and tf_arrays is not None:
                f, mean_tf = tf_arrays[lv.tf_adjust]
                hit = np.flatnonzero(levels_random[:, c] == lvi)
                # with too few random pairs at the level, the average agreeing value stands in
                ref[f"{comp.name}.{lv.label}"] = (float(np.exp(np.log(np.maximum(f[i[hit]], f[j[hit]])).mean()))
                                                  if len(hit) >= 30 else mean_tf)
    return out, int(len(i)), ref


def level_patterns(levels: np.ndarray, n_levels: list[int], chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the level matrix and how often each occurs (rows packed into one
    integer each, so that this is one sort of a flat array). Packed a chunk of rows at a time:
    the level matrix widened to 64 bits whole would be eight times its size."""
    radix = np.cumprod([1] + n_levels[:-1]).astype(np.int64)
    space = float(np.prod(np.array(n_levels, dtype=float)))
    if space < 2 ** 62:
        chunks = (levels[start:start + chunk].astype(np.int64) @ radix for start in range(0, len(levels), chunk))
        if space <= 16 * len(levels) + 1_000_000:
            # few possible patterns: count them directly (no sort of the pairs)
            tally = np.zeros(int(space), dtype=np.int64)
            for packed in chunks:
                tally += np.bincount(packed, minlength=int(space))
            uniq = np.flatnonzero(tally).astype(np.int64)
            counts = tally[uniq]
        else:
            parts = [np.unique(packed, return_counts=True) for packed in chunks]
            if len(parts) == 1:
                uniq, counts = parts[0]
            else:
                uniq, at = np.unique(np.concatenate([u for u, _ in parts]), return_inverse=True)
                counts = np.bincount(at.reshape(-1), weights=np.concatenate([c for _, c in parts]),
                                     minlength=len(uniq)).astype(np.int64)
        pats = (uniq[:, None] // radix[None, :]) % np.array(n_levels, dtype=np.int64)[None, :]
        return pats.astype(np.int64), counts
    pats, counts = np.unique(levels, axis=0, return_counts=True)
    return pats.astype(np.int64), counts


def estimate_m(settings: LinkageSettings, levels: np.ndarray, u_random: list[np.ndarray]) -> tuple[list[np.ndarray], float, int, bool]:
    """EM over level patterns of the candidate pairs: m (and, within the candidates, u and the
    match share) re-estimated until stable. Returns (m, match share, iterations, converged)."""
    est = settings.estimation
    floor = float(est["probability_floor"])
    m_floor = float(est["m_floor"])
    comps = settings.comparisons
    nulls = [np.array([x.is_null for x in c.levels]) for c in comps]
    m = []
    for c in comps:
        start = np.array([x.m if x.m is not None else 0.05 for x in c.levels], dtype=float)
        null = np.array([x.is_null for x in c.levels])
        start[null] = 1.0
        s = start[~null].sum()
        start[~null] = start[~null] / s if s > 0 else 1.0 / max((~null).sum(), 1)
        m.append(start)
    if len(levels) == 0:
        return m, float(est["initial_match_share"]), 0, True
    patterns, counts = level_patterns(levels, [len(c.levels) for c in comps])
    counts = counts.astype(float)
    u = [x.copy() for x in u_random]
    lam = float(est["initial_match_share"])
    fixed = set(est["fixed_m"])
    iters, converged = 0, False
    for iters in range(1, int(est["em_max_iterations"]) + 1):
        lm = np.zeros(len(patterns))
        lu = np.zeros(len(patterns))
        for c in range(len(comps)):
            lm += np.log(m[c][patterns[:, c]])
            lu += np.log(u[c][patterns[:, c]])
        # posterior that a pattern is a match, computed in log space for stability
        a = math.log(lam) + lm
        b = math.log(1 - lam) + lu
        post = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        wm, wu = post * counts, (1 - post) * counts
        delta = 0.0
        for c, comp in enumerate(comps):
            nl = len(comp.levels)
            if comp.name not in fixed:
                new_m = _level_shares(patterns[:, c], wm, nl, nulls[c], m_floor)
                delta = max(delta, float(np.abs(new_m - m[c]).max()))
                m[c] = new_m
            u[c] = _level_shares(patterns[:, c], wu, nl, nulls[c], floor)
        new_lam = float(np.clip(wm.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        delta = max(delta, abs(new_lam - lam))
        lam = new_lam
        if delta < float(est["em_tolerance"]):
            converged = True
            break
    return m, lam, iters, converged


def fit(settings: LinkageSettings, cols: Columns, levels: np.ndarray, n_records: int,
        possible_pairs: float | None = None, workers: int = 1) -> FittedModel:
    """The model from the candidate pairs that can be matches (`levels`): u from random pairs,
    m and the match share by EM, and the prior over `possible_pairs` (all record pairs that
    can be one person; every pair of `n_records` when not given)."""
    tf_arrays: dict = {}
    for comp in settings.comparisons:
        for lv in comp.levels:
            if lv.tf_adjust and lv.tf_adjust not in tf_arrays:
                tf_arrays[lv.tf_adjust] = term_frequencies(cols.std, lv.tf_adjust, cols._value_codes(lv.tf_adjust)[0])
    u, n_u, tf_ref = estimate_u(settings, cols, n_records, tf_arrays, workers)
    m, lam, iters, conv = estimate_m(settings, levels, u)
    weights = []
    for c, comp in enumerate(settings.comparisons):
        w = np.log2(m[c] / u[c])
        for i, lv in enumerate(comp.levels):
            lo, hi = lv.weight_bounds
            if lo is not None:
                w[i] = max(w[i], lo)
            if hi is not None:
                w[i] = min(w[i], hi)
            if lv.is_null:
                w[i] = 0.0
        for i, lv in enumerate(comp.levels):
            if lv.weight_at_most is not None:
                w[i] = min(w[i], w[lv.weight_at_most])
        weights.append(w)
    n_pairs_all = n_records * (n_records - 1) / 2 if possible_pairs is None else possible_pairs
    expected_matches = max(lam * len(levels), 1.0)
    p = min(expected_matches / max(n_pairs_all, 1.0), 0.5)
    tf = {f"{comp.name}.{lv.label}": lv.tf_adjust for comp in settings.comparisons for lv in comp.levels if lv.tf_adjust}
    return FittedModel([c.name for c in settings.comparisons],
                       [[x.label for x in c.levels] for c in settings.comparisons],
                       [[x.is_null for x in c.levels] for c in settings.comparisons],
                       m, u, weights, lam, math.log2(p / (1 - p)), iters, conv, n_u, tf, tf_ref, tf_arrays,
                       weakref.ref(cols.std))


def term_frequencies(std: pd.DataFrame, column: str, codes: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Per record: the share of records (with a value) holding this record's value; and the
    chance that two random records agree on the column (the average agreeing value's share).
    `codes`, when given, are pd.factorize codes of the column already made."""
    s = std[column]
    if codes is None:
        codes, _ = pd.factorize(s, use_na_sentinel=True)
    ok = codes >= 0
    counts = np.bincount(codes[ok]) if ok.any() else np.zeros(1)
    total = max(ok.sum(), 1)
    out = np.ones(len(s))
    out[ok] = counts[codes[ok]] / total
    share = counts / total
    return out, float(max((share ** 2).sum(), 1e-12))


def pair_weights(settings: LinkageSettings, model: FittedModel, std: pd.DataFrame, levels: np.ndarray,
                 l: np.ndarray, r: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """Match weight per pair and comparison (float32), term-frequency adjusted; computed chunk
    by chunk of pairs (the same arithmetic per pair, on arrays that stay in cache)."""
    out = np.empty(levels.shape, dtype=np.float32)
    tfs = settings.term_frequency
    same_frame = model.tf_frame is not None and model.tf_frame() is std
    tf_cache: dict[str, tuple[np.ndarray, float]] = dict(model.tf_arrays) if same_frame else {}
    for start in range(0, len(levels), chunk):
        sl = slice(start, start + chunk)
        _weights_of(settings, model, std, levels[sl], l[sl], r[sl], tf_cache, out[sl])
    return out


def _weights_of(settings, model, std, levels, l, r, tf_cache, out) -> None:
    tfs = settings.term_frequency
    for c, comp in enumerate(settings.comparisons):
        level = np.ascontiguousarray(levels[:, c])
        w = model.weights[c][level]
        if tfs["enabled"] and float(tfs["strength"]) > 0:
            lo, hi = (float(x) for x in tfs["bounds"])
            for i, lv in enumerate(comp.levels):
                if not lv.tf_adjust:
                    continue
                sel = np.flatnonzero(level == i)
                if not len(sel):
                    continue
                if lv.tf_adjust not in tf_cache:
                    tf_cache[lv.tf_adjust] = term_frequencies(std, lv.tf_adjust)
                f, mean_tf = tf_cache[lv.tf_adjust]
                freq = np.maximum(f[l[sel]], f[r[sel]])
                # Agreement on a value shared by more records than the values typically agreeing
                # at this level counts for less, on a rarer one for more.
                ref = model.tf_reference.get(f"{comp.name}.{lv.label}", mean_tf)
                adj = float(tfs["strength"]) * np.log2(ref / freq)
                adj = np.clip(adj, lo, hi)
                ws = w[sel] + adj
                b_lo, b_hi = lv.weight_bounds
                if b_lo is not None:
                    ws = np.maximum(ws, b_lo)
                if b_hi is not None:
                    ws = np.minimum(ws, b_hi)
                w[sel] = ws
        out[:, c] = w


def probability(total_weight: np.ndarray) -> np.ndarray:
    """1 / (1 + 2 ** -weight), worked in place on one array (for all pairs: one array, not five)."""
    p = np.clip(total_weight, -60, 60)
    if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
        return 1.0 / (1.0 + np.exp2(-p))        # one value, or whole numbers
    np.negative(p, out=p)
    np.exp2(p, out=p)
    p += 1.0
    np.divide(1.0, p, out=p)
    return p

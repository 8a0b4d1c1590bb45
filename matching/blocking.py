"""Blocking: candidate record pairs from several passes (declared in the settings), each a
key on standardised columns or a sorted neighbourhood; the union is what gets compared.
Blocks bigger than the cap are skipped and reported instead of exploding the pair count."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .settings import BlockingPass, LinkageSettings


def key_codes(std: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """One integer code per record for the combined key; -1 where any part is missing."""
    combined = np.zeros(len(std), dtype=np.int64)
    missing = np.zeros(len(std), dtype=bool)
    for c in columns:
        codes, uniq = pd.factorize(std[c], use_na_sentinel=True)
        missing |= codes < 0
        combined = combined * (len(uniq) + 1) + np.where(codes < 0, 0, codes)
        combined, _ = pd.factorize(combined)
    return np.where(missing, -1, combined).astype(np.int64)


def _pairs_in_groups(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lefts, rights = [], []
    for s in np.unique(sizes):
        if s < 2:
            continue
        st = starts[sizes == s]
        iu, ju = np.triu_indices(int(s), 1)
        lefts.append(order[(st[:, None] + iu[None, :]).ravel()])
        rights.append(order[(st[:, None] + ju[None, :]).ravel()])
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)


def pass_pairs(std: pd.DataFrame, bp: BlockingPass, max_block_size: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Candidate pairs (left < right, record positions) of one blocking pass, and its report."""
    n = len(std)
    info = {"blocks_skipped": 0, "records_in_skipped_blocks": 0}
    if bp.sorted_on is not None:
        vals = std[bp.sorted_on]
        valid = np.flatnonzero(vals.notna().to_numpy())
        order = valid[np.lexsort((valid, vals.to_numpy()[valid].astype(str)))]
        ls, rs = [], []
        for k in range(1, bp.window):
            ls.append(order[:-k] if k < len(order) else order[:0])
            rs.append(order[k:] if k < len(order) else order[:0])
        left = np.concatenate(ls) if ls else np.empty(0, np.int64)
        right = np.concatenate(rs) if rs else np.empty(0, np.int64)
    else:
        codes = key_codes(std, bp.keys)
        valid = np.flatnonzero(codes >= 0)
        order = valid[np.argsort(codes[valid], kind="stable")]
        sc = codes[order]
        if len(sc):
            bounds = np.flatnonzero(np.diff(sc)) + 1
            starts = np.concatenate(([0], bounds))
            sizes = np.diff(np.concatenate((starts, [len(sc)])))
        else:
            starts = sizes = np.empty(0, np.int64)
        big = sizes > max_block_size
        info["blocks_skipped"] = int(big.sum())
        info["records_in_skipped_blocks"] = int(sizes[big].sum())
        left, right = _pairs_in_groups(order, starts[~big], sizes[~big])
    lo = np.minimum(left, right).astype(np.int64)
    hi = np.maximum(left, right).astype(np.int64)
    keep = lo != hi
    code = np.unique(lo[keep] * n + hi[keep])
    return code // max(n, 1), code % max(n, 1), info


def candidate_pairs(std: pd.DataFrame, settings: LinkageSettings) -> tuple[np.ndarray, np.ndarray, dict]:
    """Union of all passes: (left, right) record positions sorted, and per-pass counts."""
    n = max(len(std), 1)
    per_pass: dict[str, dict] = {}
    codes = []
    for bp in settings.passes:
        t0 = time.perf_counter()
        l, r, info = pass_pairs(std, bp, settings.max_block_size)
        per_pass[bp.name] = {"pairs": int(len(l)), "new_pairs": 0, **info,
                             "seconds": round(time.perf_counter() - t0, 3)}
        codes.append(l * n + r)
        del l, r
    if not codes:
        return np.empty(0, np.int64), np.empty(0, np.int64), per_pass
    # Pass number packed into the low bits: one in-place sort of one array finds the union and
    # credits each pair to the first pass (in settings order) that found it.
    bits = max(1, int(np.ceil(np.log2(len(settings.passes) + 1))))
    allc = np.concatenate([(c << bits) | k for k, c in enumerate(codes)])
    del codes
    allc.sort()
    pair = allc >> bits
    first = np.ones(len(allc), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    counts = np.bincount((allc[first] & ((1 << bits) - 1)).astype(np.int64), minlength=len(settings.passes))
    pair = pair[first]
    del allc, first
    for k, bp in enumerate(settings.passes):
        per_pass[bp.name]["new_pairs"] = int(counts[k])
    return pair // n, pair % n, per_pass

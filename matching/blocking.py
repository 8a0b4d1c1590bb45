"""Blocking: candidate record pairs from several passes (declared in the settings), each a
key on standardised columns or a sorted neighbourhood; the union is what gets compared.
Blocks bigger than the cap are skipped and reported instead of exploding the pair count.

Every candidate pair carries a bit mask of the passes that found it, and every record a bit
mask of the passes whose block it sat in was skipped for size: together they let a later
quarter block only its new and changed records and still get exactly the pairs a full run
would (see `incremental_candidates` and docs/linkage.md)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .settings import BlockingPass, LinkageSettings

BITS_DTYPE = np.uint16          # one bit per pass; settings allow at most 16 passes


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


@dataclass
class _Blocks:
    """One key pass's blocks: records with a key in key order, and each block's extent."""
    order: np.ndarray       # record positions sorted by key
    starts: np.ndarray      # first index into `order` of each block
    sizes: np.ndarray       # records in each block
    block_of: np.ndarray    # block number of each record, -1 without a key


def _blocks(codes: np.ndarray) -> _Blocks:
    valid = np.flatnonzero(codes >= 0)
    order = valid[np.argsort(codes[valid], kind="stable")]
    sc = codes[order]
    if len(sc):
        bounds = np.flatnonzero(np.diff(sc)) + 1
        starts = np.concatenate(([0], bounds))
        sizes = np.diff(np.concatenate((starts, [len(sc)])))
    else:
        starts = sizes = np.empty(0, np.int64)
    block_of = np.full(len(codes), -1, dtype=np.int64)
    block_of[order] = np.repeat(np.arange(len(starts)), sizes)
    return _Blocks(order, starts, sizes, block_of)


def _key_blocks(std: pd.DataFrame, bp: BlockingPass, cap: int) -> tuple[_Blocks, np.ndarray, np.ndarray, dict]:
    """A key pass's blocks, which of them are over the cap, the records in those, and the
    pass's report."""
    blocks = _blocks(key_codes(std, bp.keys))
    big = blocks.sizes > cap
    over = blocks.order[np.repeat(big, blocks.sizes)]
    return blocks, big, over, {"blocks_skipped": int(big.sum()), "records_in_skipped_blocks": int(len(over))}


def _pairs_in_groups(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs within each group (groups of one size at a time, as index arithmetic)."""
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


def _pairs_of_members(blocks: _Blocks, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each given record paired with every other record of its block (blocks already capped)."""
    b = blocks.block_of[members]
    members, b = members[b >= 0], b[b >= 0]
    counts = blocks.sizes[b]
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    left = np.repeat(members, counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    right = blocks.order[np.repeat(blocks.starts[b], counts) + (np.arange(total) - first)]
    keep = left != right
    return left[keep], right[keep]


def _sorted_neighbourhood(std: pd.DataFrame, bp: BlockingPass) -> tuple[np.ndarray, np.ndarray]:
    vals = std[bp.sorted_on]
    valid = np.flatnonzero(vals.notna().to_numpy())
    order = valid[np.lexsort((valid, vals.to_numpy()[valid].astype(str)))]
    ls, rs = [], []
    for k in range(1, bp.window):
        ls.append(order[:-k] if k < len(order) else order[:0])
        rs.append(order[k:] if k < len(order) else order[:0])
    left = np.concatenate(ls) if ls else np.empty(0, np.int64)
    right = np.concatenate(rs) if rs else np.empty(0, np.int64)
    return left, right


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's own takes a much slower hash path on large int arrays)."""
    v = np.sort(values)
    keep = np.ones(len(v), dtype=bool)
    keep[1:] = v[1:] != v[:-1]
    return v[keep]


def _ordered_codes(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    lo = np.minimum(left, right).astype(np.int64)
    hi = np.maximum(left, right).astype(np.int64)
    keep = lo != hi
    return lo[keep] * n + hi[keep]


def pass_pairs(std: pd.DataFrame, bp: BlockingPass, max_block_size: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Candidate pairs (left < right, record positions) of one blocking pass, and its report."""
    n = max(len(std), 1)
    info = {"blocks_skipped": 0, "records_in_skipped_blocks": 0}
    if bp.sorted_on is not None:
        left, right = _sorted_neighbourhood(std, bp)
    else:
        blocks, big, _, info = _key_blocks(std, bp, max_block_size)
        left, right = _pairs_in_groups(blocks.order, blocks.starts[~big], blocks.sizes[~big])
    code = sorted_unique(_ordered_codes(left, right, n))
    return code // n, code % n, info


@dataclass
class Candidates:
    """The union of all passes: pairs (left < right, sorted), the passes that found each pair,
    the passes whose block skipped each record, and a report per pass."""
    left: np.ndarray
    right: np.ndarray
    passes: np.ndarray        # bit k set: pass k (in settings order) found the pair
    skipped: np.ndarray       # per record, bit k set: its block in pass k was over the cap
    per_pass: dict
    reused: np.ndarray | None = None   # incremental only: index of the pair in the earlier run's pairs, or -1


def _union(codes: list[np.ndarray], bits: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct codes and, for each, the OR of the pass bits of its copies. The lists are
    consumed (emptied), and their arrays changed in place: at 5M rows they hold some 300 million
    codes (2.4 GB), so no step here holds more than one other copy of them."""
    if not codes:
        return np.empty(0, np.int64), np.empty(0, BITS_DTYPE)
    width = 8 * np.dtype(BITS_DTYPE).itemsize
    if n * n < (1 << (63 - width)):
        # The bits packed below the code: one in-place sort of one array does it all. Each
        # pass's codes are packed and copied into place, then let go.
        allc = np.empty(sum(len(c) for c in codes), dtype=np.int64)
        at = 0
        while codes:
            c, b = codes.pop(0), bits.pop(0)
            np.left_shift(c, width, out=c)
            np.bitwise_or(c, b.astype(np.int64), out=c)
            allc[at:at + len(c)] = c
            at += len(c)
            del c, b
        allc.sort()
        allb = allc.astype(BITS_DTYPE)          # the low bits: the pass bits
        np.right_shift(allc, width, out=allc)
        pair = allc
        del allc
    else:
        pair = np.concatenate(codes)
        allb = np.concatenate(bits)
        codes.clear(), bits.clear()
        order = np.argsort(pair, kind="stable")
        pair, allb = pair[order], allb[order]
        del order
    first = np.empty(len(pair), dtype=bool)
    first[:1] = True
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    merged = np.bitwise_or.reduceat(allb, starts) if len(starts) else allb[:0]
    del allb
    return pair[starts], merged.astype(BITS_DTYPE)


def _report(settings: LinkageSettings, passes: np.ndarray, infos: dict) -> dict:
    """Pairs each pass found, and pairs it found first (settings order): from the bit masks,
    so a full and an incremental run report the same."""
    per_pass = {}
    lowest = passes & (~passes + 1) if len(passes) else passes   # lowest set bit
    for k, bp in enumerate(settings.passes):
        bit = BITS_DTYPE(1 << k)
        per_pass[bp.name] = {"pairs": int(np.count_nonzero(passes & bit)),
                             "new_pairs": int(np.count_nonzero(lowest == bit)), **infos[bp.name]}
    return per_pass


def positions(pair: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair codes (left * n + right) back to record positions: 32-bit where the records allow
    (half the memory of the largest arrays of a run; arithmetic on them widens first)."""
    dtype = np.int32 if n < (1 << 31) else np.int64
    return (pair // n).astype(dtype), (pair % n).astype(dtype)


def _check(settings: LinkageSettings) -> None:
    if len(settings.passes) > 8 * np.dtype(BITS_DTYPE).itemsize:
        raise ValueError(f"at most {8 * np.dtype(BITS_DTYPE).itemsize} blocking passes are supported")


def block(std: pd.DataFrame, settings: LinkageSettings) -> Candidates:
    """All candidate pairs of a full run."""
    _check(settings)
    n = max(len(std), 1)
    skipped = np.zeros(len(std), dtype=BITS_DTYPE)
    codes, bits, infos = [], [], {}
    for k, bp in enumerate(settings.passes):
        t0 = time.perf_counter()
        info = {"blocks_skipped": 0, "records_in_skipped_blocks": 0}
        if bp.sorted_on is not None:
            left, right = _sorted_neighbourhood(std, bp)
        else:
            blocks, big, over, info = _key_blocks(std, bp, settings.max_block_size)
            skipped[over] |= BITS_DTYPE(1 << k)
            left, right = _pairs_in_groups(blocks.order, blocks.starts[~big], blocks.sizes[~big])
        c = _ordered_codes(left, right, n)
        del left, right
        codes.append(c)
        bits.append(np.full(len(c), 1 << k, dtype=BITS_DTYPE))
        infos[bp.name] = {**info, "seconds": round(time.perf_counter() - t0, 3)}
    pair, passes = _union(codes, bits, n)
    del codes, bits
    return Candidates(*positions(pair, n), passes, skipped, _report(settings, passes, infos))


def incremental_candidates(std: pd.DataFrame, settings: LinkageSettings, dirty: np.ndarray,
                           earlier_skipped: np.ndarray, kept_left: np.ndarray, kept_right: np.ndarray,
                           kept_passes: np.ndarray) -> Candidates:
    """Exactly the pairs `block` would find, working only around new and changed records.

    `dirty` marks records new or changed since the earlier run; `earlier_skipped` is each
    unchanged record's skipped-pass mask from that run (0 for dirty records); `kept_*` are the
    earlier run's pairs between unchanged records, in this run's positions, with their pass
    masks. Key passes: a pair of two unchanged records keeps its bit unless its block has now
    outgrown the cap; pairs touching a dirty record, and every pair of a block that was over
    the cap before and no longer is, are made afresh. Sorted-neighbourhood passes are cheap and
    depend on every record's neighbours, so they are recomputed whole.
    The result's `reused` gives, per pair, its index among the kept pairs (or -1: compare it)."""
    _check(settings)
    n = max(len(std), 1)
    skipped = np.zeros(len(std), dtype=BITS_DTYPE)
    kept_passes = kept_passes.astype(BITS_DTYPE).copy()
    codes, bits, infos = [], [], {}
    for k, bp in enumerate(settings.passes):
        t0 = time.perf_counter()
        bit = BITS_DTYPE(1 << k)
        info = {"blocks_skipped": 0, "records_in_skipped_blocks": 0}
        if bp.sorted_on is not None:
            kept_passes &= ~bit
            left, right = _sorted_neighbourhood(std, bp)
        else:
            blocks, big, over, info = _key_blocks(std, bp, settings.max_block_size)
            skipped[over] |= bit
            # Earlier pairs whose block is now over the cap lose this pass.
            if len(over):
                in_big = np.zeros(len(std), dtype=bool)
                in_big[over] = True
                grown = in_big[kept_left]
                grown &= (kept_passes & bit) != 0
                kept_passes[grown] &= ~bit
            # Blocks under the cap holding a dirty record, or a record skipped here before.
            active = (dirty | ((earlier_skipped & bit) != 0)) & (blocks.block_of >= 0)
            members = np.flatnonzero(active)
            members = members[~big[blocks.block_of[members]]]
            left, right = _pairs_of_members(blocks, members)
        c = _ordered_codes(left, right, n)
        del left, right
        codes.append(c)
        bits.append(np.full(len(c), bit, dtype=BITS_DTYPE))
        infos[bp.name] = {**info, "seconds": round(time.perf_counter() - t0, 3)}
    kept_code = kept_left.astype(np.int64) * n + kept_right.astype(np.int64)
    live = kept_passes != 0
    codes.append(kept_code[live])
    bits.append(kept_passes[live])
    pair, passes = _union(codes, bits, n)
    del codes, bits
    reused = np.full(len(pair), -1, dtype=np.int64)
    if len(kept_code):
        # Earlier pairs come in code order already (positions map in order); sort if not.
        in_order = bool(np.all(kept_code[1:] > kept_code[:-1]))
        kept_sorted = None if in_order else np.argsort(kept_code, kind="stable")
        sorted_code = kept_code if in_order else kept_code[kept_sorted]
        pos = np.minimum(np.searchsorted(sorted_code, pair), len(kept_code) - 1)
        hit = sorted_code[pos] == pair
        reused[hit] = pos[hit] if in_order else kept_sorted[pos[hit]]
    return Candidates(*positions(pair, n), passes, skipped, _report(settings, passes, infos), reused)


def candidate_pairs(std: pd.DataFrame, settings: LinkageSettings) -> tuple[np.ndarray, np.ndarray, dict]:
    """Union of all passes: (left, right) record positions sorted, and per-pass counts."""
    cand = block(std, settings)
    return cand.left, cand.right, cand.per_pass

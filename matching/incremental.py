"""Linking quarter after quarter without comparing everything again (docs/linkage.md).

A run leaves `linkage_state/` in its output folder: for each record its key (source,
record_id), a fingerprint of its fields and the blocking passes whose block skipped it for size;
for each candidate pair the passes that found it and its comparison levels. No names, dates or
identifiers are stored: only record keys, one-way fingerprints and level numbers.

The next run, given that folder by --previous, blocks and compares only around records that are
new or changed (their fingerprint differs) and takes the levels of every other candidate pair
from the state. Everything after comparison (estimating the model, scoring, clerical decisions,
clustering, families) runs on all pairs as in a full run, so the result is exactly the full
run's. The state is used only when it was made with the same blocking and comparison settings,
name tables and software; otherwise the run links in full and says why.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .settings import LinkageSettings

STATE_FOLDER = "linkage_state"
FORMAT = 1
# Everything standardisation reads of a record, other than its key, and other than `held_until`,
# which only forming families reads (an open claim's moves with each reference date: counting it
# would mark every open claim changed every quarter). `dob_keyed` (a date of birth keyed as no
# calendar date) decides the date-of-birth level when `dob` is blank.
FINGERPRINT_FIELDS = ("forename", "surname", "dob", "sex", "address", "postcode", "uprn", "nhs_number",
                      "ni_number", "upn", "ethnicity", "tenancy_ref", "claim_ref", "seen_date", "dob_keyed")
# The code and tables that decide a pair's comparison levels: a change to any of them makes the
# stored levels stale.
_HERE = Path(__file__).parent
_LEVEL_SOURCES = ("standardise.py", "compare.py", "levels.py", "setting_checks.py", "blocking.py", "incremental.py",
                  "settings.py")


@dataclass
class LinkageState:
    """What one run leaves for the next. Records in the run's (source, record_id) order."""
    keys: pd.DataFrame            # source, record_id
    fingerprint: np.ndarray       # uint64 per record
    skipped: np.ndarray           # uint16 per record: passes whose block skipped it
    left: np.ndarray              # candidate pairs (record positions, left < right)
    right: np.ndarray
    passes: np.ndarray            # uint16 per pair: passes that found it
    levels: np.ndarray            # int8, pairs x comparisons
    comparisons: list[str]
    settings_hash: str

    def drop_pairs(self) -> None:
        """Release the pair arrays (once planned, a run needs only the levels)."""
        empty = np.empty(0, np.int64)
        self.left, self.right, self.passes = empty, empty, np.empty(0, np.uint16)


@dataclass
class Plan:
    """This run's records against the earlier run's."""
    dirty: np.ndarray             # new or changed records
    earlier_skipped: np.ndarray   # unchanged records' skipped-pass masks, 0 for dirty ones
    kept_left: np.ndarray         # earlier pairs between unchanged records, in this run's positions
    kept_right: np.ndarray
    kept_passes: np.ndarray
    kept_index: np.ndarray        # their index in the earlier state
    counts: dict


def settings_hash(settings: LinkageSettings) -> str:
    """Fingerprint of what decides comparison levels: blocking and comparison settings, the
    name and address tables, and the code that standardises, blocks and compares."""
    h = hashlib.sha256()
    h.update(f"format {FORMAT}\n".encode())
    relevant = {k: settings.raw.get(k) for k in ("blocking", "comparisons")}
    h.update(json.dumps(relevant, sort_keys=True, default=str).encode())
    for path in sorted((_HERE / "data").glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    for name in _LEVEL_SOURCES:
        h.update(name.encode())
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()


def fingerprints(records: pd.DataFrame) -> np.ndarray:
    """A 64-bit one-way hash of each record's fields (each column hashed per distinct value,
    the columns then mixed in a fixed order). Equal fields give equal fingerprints; a field
    stored differently (a different dtype, stray spaces) only makes the record count as
    changed, which costs comparisons, never a wrong result."""
    h = np.zeros(len(records), dtype=np.uint64)
    for c in FINGERPRINT_FIELDS:
        s = records[c] if c in records else pd.Series(pd.NA, index=records.index, dtype="string")
        v = pd.util.hash_pandas_object(s, index=False, categorize=True).to_numpy(dtype=np.uint64)
        h = (h * np.uint64(1_000_003)) ^ v      # wraps around: uint64 arithmetic is modular
    return h


def _joined_keys(source, record_id) -> pd.Index:
    return pd.Index(pd.Series(source, dtype=str).to_numpy(dtype=object) + "\x1f"
                    + pd.Series(record_id, dtype=str).to_numpy(dtype=object))


def plan(records: pd.DataFrame, fingerprint: np.ndarray, state: LinkageState) -> Plan:
    """Which records are new, changed, unchanged or gone, and the earlier pairs still valid.
    `records` are in this run's (source, record_id) order."""
    n = len(records)
    earlier = _joined_keys(state.keys["source"], state.keys["record_id"])
    now = _joined_keys(records["source"], records["record_id"])
    at = earlier.get_indexer(now)
    seen = at >= 0
    unchanged = seen.copy()
    unchanged[seen] = state.fingerprint[at[seen]] == fingerprint[seen]
    dirty = ~unchanged
    here = np.full(len(state.keys), -1, dtype=np.int32 if n < (1 << 31) else np.int64)
    here[at[unchanged]] = np.flatnonzero(unchanged)
    earlier_skipped = np.zeros(n, dtype=state.skipped.dtype)
    earlier_skipped[unchanged] = state.skipped[at[unchanged]]
    kl, kr = here[state.left], here[state.right]
    keep = (kl >= 0) & (kr >= 0)
    kept_index = np.flatnonzero(keep)
    lo, hi = np.minimum(kl[keep], kr[keep]), np.maximum(kl[keep], kr[keep])
    counts = {"records_unchanged": int(unchanged.sum()), "records_new": int((~seen).sum()),
              "records_changed": int((seen & ~unchanged).sum()),
              "records_gone": int(len(state.keys) - seen.sum()),
              "earlier_pairs": int(len(state.left)), "earlier_pairs_kept": int(len(kept_index))}
    return Plan(dirty, earlier_skipped, lo, hi, state.passes[keep], kept_index, counts)


def _private_file(path: Path, mode: int):
    """A file opened for writing, created with `mode` from the start (never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb")


def write_state(folder: Path, state: LinkageState, mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Write the state into `folder` (made if need be): files with `mode`, the folder with
    `dir_mode`."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, dir_mode)
    records = pa.table({"source": pa.array(state.keys["source"].astype(str).to_numpy(), pa.string()),
                        "record_id": pa.array(state.keys["record_id"].astype(str).to_numpy(), pa.string()),
                        "fingerprint": pa.array(state.fingerprint, pa.uint64()),
                        "skipped": pa.array(state.skipped.astype(np.uint16), pa.uint16())})
    small = len(state.keys) < (1 << 31)
    # copy=False: the positions are int32 already at most sizes, and as long as the pairs.
    cols = {"left": pa.array(state.left.astype(np.int32 if small else np.int64, copy=False)),
            "right": pa.array(state.right.astype(np.int32 if small else np.int64, copy=False)),
            "passes": pa.array(state.passes.astype(np.uint16, copy=False), pa.uint16())}
    for j, name in enumerate(state.comparisons):
        cols[f"level_{name}"] = pa.array(state.levels[:, j].astype(np.int8), pa.int8())
    files = {"records.parquet": records, "pairs.parquet": pa.table(cols)}
    for name, table in files.items():
        with _private_file(folder / name, mode) as fh:
            # No dictionary pages: level numbers and positions gain nothing from them but time.
            pq.write_table(table, fh, compression="zstd", use_dictionary=False)
    meta = {"format": FORMAT, "settings_hash": state.settings_hash, "comparisons": state.comparisons,
            "records": int(len(state.keys)), "pairs": int(len(state.left))}
    with _private_file(folder / "state.json", mode) as fh:
        fh.write((json.dumps(meta, indent=2) + "\n").encode("utf-8"))


def read_state(folder: Path, settings: LinkageSettings) -> tuple[LinkageState | None, str]:
    """The earlier run's state if it can be used with these settings, else None and the reason
    (which names no person)."""
    meta_path = folder / "state.json"
    if not meta_path.exists():
        return None, f"{folder.parent} has no linkage state (made by an earlier version, or not a full-profile output)"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{meta_path}: unreadable ({type(exc).__name__})"
    if meta.get("format") != FORMAT:
        return None, f"{meta_path}: state format {meta.get('format')} is not this version's {FORMAT}"
    wanted = settings_hash(settings)
    names = [c.name for c in settings.comparisons]
    if meta.get("settings_hash") != wanted or meta.get("comparisons") != names:
        return None, ("the blocking or comparison settings, the name tables or the hnf-match version changed "
                      "since the earlier run")
    try:
        rec = pq.read_table(folder / "records.parquet")
        pairs = pq.read_table(folder / "pairs.parquet")
        keys = pd.DataFrame({"source": rec.column("source").to_numpy(zero_copy_only=False).astype(object),
                             "record_id": rec.column("record_id").to_numpy(zero_copy_only=False).astype(object)})
        levels = np.empty((pairs.num_rows, len(names)), dtype=np.int8)
        for j, name in enumerate(names):
            levels[:, j] = pairs.column(f"level_{name}").to_numpy()
        state = LinkageState(
            keys=keys, fingerprint=rec.column("fingerprint").to_numpy().astype(np.uint64),
            skipped=rec.column("skipped").to_numpy().astype(np.uint16),
            left=pairs.column("left").to_numpy(),
            right=pairs.column("right").to_numpy(),
            passes=pairs.column("passes").to_numpy().astype(np.uint16),
            levels=levels, comparisons=names, settings_hash=wanted)
    except Exception as exc:  # a damaged state means a full run, never a wrong one
        return None, f"{folder}: damaged linkage state ({type(exc).__name__})"
    n = len(keys)
    if (meta.get("records") != n or meta.get("pairs") != len(state.left)
            or (len(state.left) and (state.left.min() < 0 or state.right.max() >= n))):
        return None, f"{folder}: inconsistent linkage state"
    return state, "ok"

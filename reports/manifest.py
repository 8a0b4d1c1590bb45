"""The audit record of a run and the reconciliation of every source: `manifest.json`,
`reconciliation.csv`, and the rejected and warning files. No personal data: counts, hashes,
settings and timings only (the rejected rows themselves are written as read, owner-only)."""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import platform
import sys
from pathlib import Path

import pandas as pd

from reports.writers import write_csv
from schemas.errors import ConfigError
from schemas.validate import Validated


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def reconciliation(validated: dict[str, Validated]) -> pd.DataFrame:
    rows = [{"source": name, "agency": v.kind, **v.counts()} for name, v in validated.items()]
    return pd.DataFrame(rows, columns=["source", "agency", "read", "accepted", "rejected", "warnings"])


def write_validation_files(validated: dict[str, Validated], folder: Path, mode: int, bom: bool) -> None:
    for name, v in validated.items():
        if Path(name).name != name or name in (".", ".."):   # a source name is a plain file name, never a path
            raise ConfigError(f"source name {name!r} cannot be used as a file name in rejected/ and warnings/")
        write_csv(v.rejected, folder / "rejected" / f"{name}.csv", bom=bom, mode=mode)
        write_csv(v.warnings, folder / "warnings" / f"{name}.csv", bom=bom, mode=mode)


def manifest(cfg, validated: dict[str, Validated], counts: dict, times, *, criteria_hash: str | None,
             thresholds: dict, started: dt.datetime, status: str, demand: dict | None = None,
             previous_record_links_sha256: str | None = None) -> dict:
    """The audit record of a run: what went in, with what settings, what came out. No personal
    data: counts, hashes, settings and timings only. `cfg`: the run config; `times`: the
    stages' StageTimes (reports.record). `previous_record_links_sha256`: of the record_links.csv
    of the --previous folder the run carried its IDs from (`compare` checks it)."""
    inputs = []
    for name, src in cfg.sources.items():
        v = validated.get(name)
        files = getattr(src, "parts", ())
        if files:   # a folder or glob of Parquet parts: each part's hash, in reading order
            parts = [{"path": str(p), "sha256": sha256_of(p), "bytes": p.stat().st_size} for p in files]
            inputs.append({"source": name, "agency": src.kind, "path": str(src.path), "parts": parts,
                           "bytes": sum(p["bytes"] for p in parts), **(v.counts() if v else {})})
            continue
        inputs.append({"source": name, "agency": src.kind, "path": str(src.path), "sha256": sha256_of(src.path),
                       "bytes": src.path.stat().st_size, **(v.counts() if v else {})})
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers): record the uid instead
        import os
        user = f"uid {os.getuid()}"
    return {
        "tool": "hnf-match",
        "version": _version(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "run_by": user,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": status,
        "as_of": cfg.as_of.isoformat(),
        "config_file": str(cfg.path),
        "config": cfg.raw,
        "criteria": {"set": cfg.criteria, "sha256": criteria_hash},
        "demand": demand,
        "thresholds": thresholds,
        "inputs": inputs,
        "counts": counts,
        "previous_record_links_sha256": previous_record_links_sha256,
        "timings_seconds": times.seconds,
        "peak_memory_mb": times.peak_memory_mb,
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("hnf-match")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+source"

"""`make bench`: generate (once, cached outside git) synthetic sets of 100,000 and 1,000,000 rows
and run the whole pipeline on each in a fresh process, printing wall time and peak memory for
every stage. Timings are noisy on shared machines: compare runs on one machine."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("HNF_CACHE", ".cache")) / "bench"


STAGES = ["ingest and validate", "stack records", "link", "carry IDs forward", "linkage quality by group",
          "criteria", "outcomes", "write outputs"]


def dataset(rows: int, seed: int = 7) -> Path:
    folder = CACHE / f"rows-{rows}-seed-{seed}"
    if not (folder / "config.yaml").exists():
        from pipeline.synth import generate
        t0 = time.perf_counter()
        print(f"generating {rows:,} rows into {folder} (cached for next time) ...", flush=True)
        generate(folder, rows=rows, seed=seed, formats="csv")
        print(f"  generated in {time.perf_counter() - t0:.1f}s", flush=True)
    return folder


def run_once(folder: Path, out: Path) -> dict:
    log = out.parent / f"{out.name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config", str(folder / "config.yaml"),
                                 "--out", str(out), "--quiet"], stdout=fh, stderr=subprocess.STDOUT)
        # wait4 gives this child's own peak resident memory
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(f"the run on {folder} failed with exit code {code}")
    peak = usage.ru_maxrss
    manifest = json.loads((out / "manifest.json").read_text())
    return {"wall": wall, "peak_mb": peak / 1024, "manifest": manifest}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = ap.parse_args(argv)
    for rows in args.rows:
        folder = dataset(rows)
        res = run_once(folder, CACHE / f"out-{rows}")
        m = res["manifest"]
        print(f"\n== {rows:,} rows: {m['counts']['records']:,} accepted records, {m['counts']['persons']:,} persons, "
              f"{m['counts']['families']:,} families")
        print(f"{'stage':<24}{'seconds':>10}{'peak MB so far':>16}")
        for stage, secs in sorted(m["timings_seconds"].items(), key=lambda kv: STAGES.index(kv[0]) if kv[0] in STAGES else 99):
            print(f"{stage:<24}{secs:>10.1f}{m['peak_memory_mb'].get(stage, 0):>16.0f}")
        link = m["counts"].get("linkage", {}).get("timings_seconds", {})
        if link:
            print("  link steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in link.items()))
        print(f"{'end to end (process)':<24}{res['wall']:>10.1f}{res['peak_mb']:>16.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: generate (once, cached outside git) synthetic sets of 100,000, 1,000,000 and 5,000,000 rows
and run the whole pipeline on each in a fresh process, printing wall time and peak memory for
every stage (each stage's own peak resident memory, and each linking step's). Timings are noisy
on shared machines: compare runs on one machine.

`make bench-quarters` (`--quarters`): two quarters of one population instead; runs the first,
then the second incrementally (--previous) and in full (--previous --full), and prints both."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("HNF_CACHE", ".cache")) / "bench"


STAGES = ["ingest and validate", "stack records", "link", "carry IDs forward", "linkage quality by group",
          "criteria", "review queue: what a match would change", "outcomes", "write outputs"]


def dataset(rows: int, seed: int = 7) -> Path:
    folder = CACHE / f"rows-{rows}-seed-{seed}"
    if not (folder / "config.yaml").exists():
        from synth import generate
        t0 = time.perf_counter()
        print(f"generating {rows:,} rows into {folder} (cached for next time) ...", flush=True)
        generate(folder, rows=rows, seed=seed, formats="csv")
        print(f"  generated in {time.perf_counter() - t0:.1f}s", flush=True)
    return folder


def quarters_dataset(rows: int, seed: int = 7) -> Path:
    folder = CACHE / f"quarters-{rows}-seed-{seed}"
    if not (folder / "q2" / "config.yaml").exists():
        import datetime as dt

        from synth import generate_quarters
        t0 = time.perf_counter()
        print(f"generating two quarters of {rows:,} rows into {folder} (cached for next time) ...", flush=True)
        generate_quarters(folder, rows=rows, seed=seed, formats="csv",
                          as_ofs=(dt.date(2026, 6, 30), dt.date(2026, 9, 30)))
        print(f"  generated in {time.perf_counter() - t0:.1f}s", flush=True)
    return folder


def run_once(folder: Path, out: Path, extra: tuple[str, ...] = ()) -> dict:
    log = out.parent / f"{out.name}.log"
    events = out.parent / f"{out.name}.events.log"   # the run's own log: the stage after the manifest
    events.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(folder / "config.yaml"),
                                 "--out", str(out), "--quiet", "--log-file", str(events), *extra],
                                stdout=fh, stderr=subprocess.STDOUT)
        # wait4 gives this child's own peak resident memory
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(f"the run on {folder} failed with exit code {code}")
    manifest = json.loads((out / "manifest.json").read_text())
    # Writing the outputs ends after the manifest is written: its time and peak are in the log.
    for stage, secs, mb in _LOGGED_STAGE.findall(events.read_text() if events.exists() else ""):
        if stage not in manifest["timings_seconds"]:
            manifest["timings_seconds"][stage] = float(secs)
            manifest["peak_memory_mb"][stage] = float(mb)
    # The run sets its high-water mark back at each stage (to measure each stage's own peak),
    # which the kernel's lifetime figure then misses: the run's peak is its highest stage's.
    peak = max([usage.ru_maxrss / 1024, *manifest["peak_memory_mb"].values(),
                *manifest["counts"].get("linkage", {}).get("peak_memory_mb", {}).values()])
    return {"wall": wall, "peak_mb": peak, "manifest": manifest}


_LOGGED_STAGE = re.compile(r"stage (.+?): done in ([\d.]+)s \(peak memory (\d+) MB\)")


def _stage_order(name: str) -> int:
    return STAGES.index(name) if name in STAGES else 99


def report(title: str, runs: dict[str, dict]) -> None:
    """One table: a column of seconds per run, then each run's link steps and end to end."""
    first = next(iter(runs.values()))["manifest"]
    print(f"\n== {title}: {first['counts']['records']:,} accepted records, {first['counts']['persons']:,} persons, "
          f"{first['counts']['families']:,} families")
    stages = sorted({s for r in runs.values() for s in r["manifest"]["timings_seconds"]}, key=_stage_order)
    names = list(runs)
    print(f"{'stage':<42}" + "".join(f"{n + ' (s)':>20}{'peak MB':>10}" for n in names))
    for stage in stages:
        cells = []
        for n in names:
            m = runs[n]["manifest"]
            secs = m["timings_seconds"].get(stage)
            cells.append(f"{secs:>20.1f}{m['peak_memory_mb'].get(stage, 0):>10.0f}" if secs is not None else f"{'-':>20}{'':>10}")
        print(f"{stage:<42}" + "".join(cells))
    print(f"{'end to end (process)':<42}" + "".join(f"{runs[n]['wall']:>20.1f}{runs[n]['peak_mb']:>10.0f}" for n in names))
    for n in names:
        link = runs[n]["manifest"]["counts"].get("linkage", {})
        steps, step_mb = link.get("timings_seconds", {}), link.get("peak_memory_mb", {})
        if steps:
            print(f"  {n} link steps: " + ", ".join(
                f"{k} {v:.1f}s" + (f" {step_mb[k]:,.0f} MB" if k in step_mb else "") for k, v in steps.items()))
        if link.get("incremental"):
            print(f"  {n}: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in link["incremental"].items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=None,
                    help="row counts (default 100000, 1000000 and 5000000; with --quarters, 1000000)")
    ap.add_argument("--quarters", action="store_true",
                    help="two quarters: the second linked incrementally and in full")
    args = ap.parse_args(argv)
    rows_list = args.rows or ([1_000_000] if args.quarters else [100_000, 1_000_000, 5_000_000])
    for rows in rows_list:
        if args.quarters:
            folder = quarters_dataset(rows)
            q1_out = CACHE / f"out-quarters-{rows}-q1"
            runs = {"q1": run_once(folder / "q1", q1_out)}
            runs["q2 incremental"] = run_once(folder / "q2", CACHE / f"out-quarters-{rows}-q2-incremental",
                                              ("--previous", str(q1_out)))
            runs["q2 full"] = run_once(folder / "q2", CACHE / f"out-quarters-{rows}-q2-full",
                                       ("--previous", str(q1_out), "--full"))
            report(f"{rows:,} rows a quarter", runs)
            same = all((CACHE / f"out-quarters-{rows}-q2-incremental" / f).read_bytes()
                       == (CACHE / f"out-quarters-{rows}-q2-full" / f).read_bytes()
                       for f in ("record_links.csv", "members.csv", "review_pairs.csv", "need_matrix.csv"))
            print(f"  q2 incremental and full outputs identical: {'yes' if same else 'NO'}")
        else:
            folder = dataset(rows)
            report(f"{rows:,} rows", {"run": run_once(folder, CACHE / f"out-{rows}")})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench-spark`: the whole pipeline on generated sets (200,000 and 1,000,000 rows by default,
cached as `make bench` caches them), once with the embedded engine and once with `--engine
spark` on local[2], each in a fresh process: wall time and peak memory per stage side by side,
the link steps of each, and whether record_links.csv, need_matrix.csv and evidence.csv are
byte-identical. Hold /work/fam/bigrun.lock (or the machine to yourself) for sets this big.

The peak memory is the run's process and what it waited for (the JVM the Spark session
started is its child); Spark's own executor memory is not split out."""
from __future__ import annotations

import argparse
import sys

from tools.bench import CACHE, dataset, report, run_once

COMPARED = ("record_links.csv", "need_matrix.csv", "evidence.csv")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000], help="row counts")
    args = ap.parse_args(argv)
    for rows in args.rows:
        folder = dataset(rows)
        outs = {"local": CACHE / f"out-{rows}-local", "spark": CACHE / f"out-{rows}-spark"}
        runs = {"local": run_once(folder, outs["local"], ("--engine", "local")),
                "spark": run_once(folder, outs["spark"], ("--engine", "spark"))}
        report(f"{rows:,} rows, local and spark (local[2])", runs)
        same = {f: (outs["local"] / f).read_bytes() == (outs["spark"] / f).read_bytes() for f in COMPARED}
        print("  identical: " + ", ".join(f"{f} {'yes' if ok else 'NO'}" for f, ok in same.items()), flush=True)
        if not all(same.values()):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

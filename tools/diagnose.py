"""What the fitted model makes of data with known truth: each level's EM m beside the m the
true pairs show, how many pairs in each probability band are true (calibration), and the true
pairs not linked, grouped by their level pattern with their mean match weight and status.

    python -m tools.diagnose febrl 4                     # a FEBRL benchmark
    python -m tools.diagnose config sample_data/config.yaml   # a run config with truth.csv beside it
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from matching import linkage
from matching.blocking import _pairs_in_groups
from matching.compare import compare_pairs
from matching.model import fit
from matching.settings import LinkageSettings

BANDS = [0.0, 0.01, 0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.01]


def load(kind: str, what: str):
    """(run config, records, true person per record) for a FEBRL set or a run config."""
    from pipeline.stages import load_records
    if kind == "febrl":
        from tools.febrl import true_entity, write_run
        cfg, _, records = load_records(write_run(int(what), Path(tempfile.mkdtemp())))
        return cfg, records, true_entity(records["record_id"].astype(str)).to_numpy()
    from tools.evaluate import align_truth
    cfg, _, records = load_records(what)
    truth = pd.read_csv(Path(what).parent / "truth.csv", dtype=str, keep_default_na=False, na_values=[""])
    return cfg, records, align_truth(records.reset_index(drop=True), truth)["person_id"].to_numpy()


def true_pairs(person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.factorize(pd.Series(person, dtype=object))[0]
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes[order])) + 1))
    sizes = np.diff(np.concatenate((starts, [len(codes)])))
    a, b = _pairs_in_groups(order, starts, sizes)
    return np.minimum(a, b), np.maximum(a, b)


def diagnose(cfg, records, person, top: int = 30, out=sys.stdout) -> None:
    w = out.write
    settings = LinkageSettings.from_dict(getattr(cfg, "linkage", None))
    prep = linkage.standardise_records(records)
    person = np.asarray(person, dtype=object)[np.argsort(prep.input_order, kind="stable")]
    pairs, stored = linkage.find_candidates(prep, settings, None, None)
    levels = linkage.compare_candidates(prep, settings, pairs, stored, None).levels
    possible = linkage.possible_pairs(prep, settings, pairs)
    model = fit(settings, prep.cols, levels if possible.mask is None else levels[possible.mask], prep.n,
                possible_pairs=possible.count)
    scores = linkage.score_pairs(prep, settings, model, pairs, levels, possible)
    tl, tr = true_pairs(person)
    true_levels = compare_pairs(settings.comparisons, prep.cols, tl, tr)
    w(f"prior {model.prior_weight:+.2f} bits (true pairs give {np.log2(len(tl) / max(possible.count - len(tl), 1)):+.2f}); "
      f"household share {scores.household_share:.3f}, vetoes applied: {scores.vetoes_applied}\n")
    for c, comp in enumerate(settings.comparisons):
        null = np.array([lv.is_null for lv in comp.levels])
        seen = np.bincount(true_levels[:, c], minlength=len(comp.levels)).astype(float)
        if not seen[~null].sum():
            continue
        w(f"{comp.name}\n")
        for i, lv in enumerate(comp.levels):
            if not null[i]:
                m_true = seen[i] / seen[~null].sum()
                w(f"  {lv.label:<28} m EM {model.m[c][i]:.4f}  m truth {m_true:.4f}  u {model.u[c][i]:.3g}  "
                  f"weight {model.weights[c][i]:+6.2f} (truth {np.log2(max(m_true, 1e-6) / model.u[c][i]):+6.2f})\n")
    same = person[pairs.left] == person[pairs.right]
    held = scores.conflict | scores.vetoed_high
    if possible.mask is not None:
        held |= ~possible.mask
    for c, vetoes in settings.vetoes if scores.vetoes_applied else []:
        held |= np.isin(levels[:, c], list(vetoes))
    w("calibration (pairs that can match and that no veto or identifier conflict holds back):\n")
    band = np.digitize(scores.probability, BANDS)
    for k in range(1, len(BANDS)):
        sel = (band == k) & ~held
        if sel.any():
            w(f"  p {BANDS[k - 1]:<5}-{BANDS[k]:<5} pairs {sel.sum():>9}  true {same[sel].mean():.3f}  "
              f"mean p {scores.probability[sel].mean():.3f}\n")
    status = np.array(linkage.STATUSES)[scores.status]
    w(f"true pairs {len(tl)}: missed by blocking {len(tl) - int(same.sum())}; among candidates "
      f"{pd.Series(status[same]).value_counts().to_dict()}\n")
    missed = np.flatnonzero(same & ~scores.accept)
    names = [c.name for c in settings.comparisons]

    def pattern(i: int) -> str:
        return " ".join(f"{names[c]}={comp.levels[levels[i, c]].label}" for c, comp in enumerate(settings.comparisons)
                        if not comp.levels[levels[i, c]].is_null)
    frame = pd.DataFrame({"pattern": [pattern(i) for i in missed], "weight": scores.total[missed],
                          "status": status[missed]})
    table = frame.groupby("pattern").agg(pairs=("weight", "size"), mean_weight=("weight", "mean"),
                                         status=("status", lambda s: ",".join(sorted(set(s)))))
    w("true pairs not linked, by level pattern:\n")
    w(table.sort_values("pairs", ascending=False).head(top).round(2).to_string() + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.diagnose", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["febrl", "config"])
    ap.add_argument("what", help="FEBRL set (1-4) or a run config path")
    ap.add_argument("--top", type=int, default=30, help="level patterns to list")
    args = ap.parse_args(argv)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 160)
    diagnose(*load(args.kind, args.what), top=args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

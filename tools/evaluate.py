"""Linkage accuracy against ground truth: pairwise and B-cubed precision/recall for persons and
families, eligible-family precision/recall under a criteria set, blocking recall per pass, and
B-cubed by community with the best-worst gap.

    python -m tools.evaluate --sample sample_data/config.yaml --generated 200000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from matching.blocking import pass_pairs
from matching.linkage import LinkageResult, link_records
from matching.settings import LinkageSettings
from matching.standardise import standardise


def _contingency(pred, true) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cell sizes n_ij, predicted cluster size per record, true cluster size per record,
    cell size per record, cell id per record)."""
    p = pd.factorize(pd.Series(pred, dtype=object))[0]
    t = pd.factorize(pd.Series(true, dtype=object))[0]
    cell = p.astype(np.int64) * (t.max() + 1 if len(t) else 1) + t
    cell_id, cell_size = np.unique(cell, return_inverse=True, return_counts=True)[1:]
    return cell_size, np.bincount(p)[p], np.bincount(t)[t], cell_size[cell_id], cell_id


def _pairs_within(labels) -> float:
    sizes = np.bincount(pd.factorize(pd.Series(labels, dtype=object))[0]).astype(float)
    return float((sizes * (sizes - 1) / 2).sum())


def pairwise_scores(pred, true) -> dict:
    """Precision, recall and F1 over record pairs placed together."""
    cells = _contingency(pred, true)[0].astype(float)
    tp = float((cells * (cells - 1) / 2).sum())
    p_pairs = _pairs_within(pred)
    t_pairs = _pairs_within(true)
    precision = tp / p_pairs if p_pairs else 1.0
    recall = tp / t_pairs if t_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": int(t_pairs),
            "predicted_pairs": int(p_pairs), "correct_pairs": int(tp)}


def bcubed_per_record(pred, true) -> tuple[np.ndarray, np.ndarray]:
    """B-cubed precision and recall of each record."""
    _, psize, tsize, csize, _ = _contingency(pred, true)
    return csize / psize, csize / tsize


def bcubed(pred, true) -> dict:
    p, r = bcubed_per_record(pred, true)
    return {"precision": float(p.mean()) if len(p) else 1.0, "recall": float(r.mean()) if len(r) else 1.0}


def by_community(pred, true, community) -> pd.DataFrame:
    """B-cubed precision and recall of the records of each community."""
    p, r = bcubed_per_record(pred, true)
    f = pd.DataFrame({"community": pd.Series(community).fillna("unknown").to_numpy(), "precision": p, "recall": r})
    out = f.groupby("community").agg(records=("recall", "size"), precision=("precision", "mean"), recall=("recall", "mean"))
    return out.reset_index()


def majority_map(from_cluster, to_cluster, unit) -> pd.Series:
    """Each `from` cluster -> the `to` cluster holding most of its distinct units (ties: the
    smallest id). A unit seen in several cells (a person split over two families) counts in each."""
    cells = pd.DataFrame({"f": from_cluster, "t": to_cluster, "u": unit}).dropna().drop_duplicates()
    counts = cells.groupby(["f", "t"]).size().rename("n").reset_index()
    best = counts.sort_values(["f", "n", "t"], ascending=[True, False, True], kind="stable")
    return best.drop_duplicates("f").set_index("f")["t"]


def eligible_scores(pred_family, true_family, true_person, pred_eligible: set, true_eligible: set) -> dict:
    """Eligible-family precision and recall through a one-way mapping each side.

    A predicted family stands for the true family holding most of its records' persons, a true
    family for the predicted family holding most of its members. Precision: the share of predicted
    eligible families whose true family is eligible; recall: the share of truly eligible families
    whose predicted family is eligible (an eligible family with no record found counts as missed)."""
    to_true = majority_map(pred_family, true_family, true_person)
    to_pred = majority_map(true_family, pred_family, true_person)
    hits_p = sum(1 for f in pred_eligible if to_true.get(f) in true_eligible)
    hits_r = sum(1 for f in true_eligible if to_pred.get(f) in pred_eligible)
    return {"precision": hits_p / len(pred_eligible) if pred_eligible else 1.0,
            "recall": hits_r / len(true_eligible) if true_eligible else 1.0,
            "true_eligible": len(true_eligible), "predicted_eligible": len(pred_eligible)}


def true_members(truth_persons: pd.DataFrame) -> pd.DataFrame:
    """The truth's own persons as the criteria engine reads members: family, role, age, dob."""
    age = pd.to_numeric(truth_persons["age"], errors="coerce").astype("Int64")
    return pd.DataFrame({"family_id": truth_persons["family_id"].astype(str),
                         "person_id": truth_persons["person_id"].astype(str),
                         "role": truth_persons["role"], "age": age,
                         "dob": pd.to_datetime(truth_persons["dob"], errors="coerce"), "postcode": None})


def eligible_families(extracts: dict, kinds: dict, record_links: pd.DataFrame, members: pd.DataFrame,
                      criteria_set, as_of) -> set:
    """The family IDs the criteria engine finds eligible for this assignment of records."""
    from criteria import score_families
    matrix = score_families(extracts, kinds, record_links, members, criteria_set, as_of).need_matrix
    return set(matrix.loc[matrix["eligible"] == 1, "family_id"])


def split_families(pred_family, true_family, true_person) -> dict:
    """How many true families of two or more persons with records are spread over several
    predicted families, and the persons placed away from their family's main predicted family."""
    f = pd.DataFrame({"p": pred_family, "t": true_family, "u": true_person}).drop_duplicates(["t", "u", "p"])
    main = majority_map(f["t"], f["p"], f["u"])
    persons = f.groupby("t")["u"].nunique()
    multi = persons.index[persons >= 2]
    spread = f.groupby("t")["p"].nunique()
    away = f[f["p"] != f["t"].map(main)]["u"].nunique()
    return {"multi_member_families": int(len(multi)),
            "split": int((spread.reindex(multi) > 1).sum()),
            "split_share": float((spread.reindex(multi) > 1).mean()) if len(multi) else 0.0,
            "persons_placed_apart": int(away)}


def blocking_recall(records: pd.DataFrame, settings: LinkageSettings, true_person) -> pd.DataFrame:
    """Per pass (and for their union): true same-person pairs found and missed."""
    std = standardise(records.reset_index(drop=True))
    n = len(std)
    t = pd.factorize(pd.Series(true_person, dtype=object))[0]
    order = np.argsort(t, kind="stable")
    st = t[order]
    bounds = np.flatnonzero(np.diff(st)) + 1
    starts = np.concatenate(([0], bounds)) if n else np.empty(0, np.int64)
    sizes = np.diff(np.concatenate((starts, [n]))) if n else np.empty(0, np.int64)
    from matching.blocking import _pairs_in_groups
    tl, tr = _pairs_in_groups(order, starts, sizes)
    true_codes = np.unique(np.minimum(tl, tr).astype(np.int64) * n + np.maximum(tl, tr))
    rows, union = [], np.empty(0, np.int64)
    for bp in settings.passes:
        l, r, info = pass_pairs(std, bp, settings.max_block_size)
        c = l * n + r
        found = np.intersect1d(c, true_codes, assume_unique=True)
        union = np.union1d(union, found)
        rows.append({"pass": bp.name, "pairs": int(len(c)), "true_pairs_found": int(len(found)),
                     "true_pairs_missed": int(len(true_codes) - len(found)),
                     "recall": len(found) / len(true_codes) if len(true_codes) else 1.0,
                     "blocks_skipped": info["blocks_skipped"]})
    rows.append({"pass": "ALL PASSES", "pairs": None, "true_pairs_found": int(len(union)),
                 "true_pairs_missed": int(len(true_codes) - len(union)),
                 "recall": len(union) / len(true_codes) if len(true_codes) else 1.0, "blocks_skipped": None})
    return pd.DataFrame(rows)


def align_truth(records: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Truth rows in the order of `records` (by source and record_id)."""
    t = truth.assign(source=truth["source"].astype(str), record_id=truth["record_id"].astype(str))
    if "expect_reject" in t:
        # a row written to be rejected may share its record_id with an accepted one
        t = t.assign(_rej=t["expect_reject"].astype(str).isin(["1", "True", "true"]))
        t = t.sort_values("_rej", kind="stable").drop(columns="_rej")
    t = t.drop_duplicates(["source", "record_id"]).set_index(["source", "record_id"])
    key = pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])
    out = t.reindex(key).reset_index()
    if out["person_id"].isna().any():
        missing = int(out["person_id"].isna().sum())
        raise ValueError(f"{missing} records have no row in the truth file")
    return out


def evaluate(records: pd.DataFrame, result: LinkageResult, truth: pd.DataFrame,
             settings: LinkageSettings | None = None, eligible: tuple[set, set] | None = None) -> dict:
    """All accuracy measures of one linkage run against truth. `eligible`: (predicted, true)
    eligible family IDs, for eligible-family precision and recall."""
    records = records.reset_index(drop=True)
    t = align_truth(records, truth)
    rl = result.record_links.set_index(["source", "record_id"]).reindex(
        pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)]))
    pp, pf = rl["person_id"].to_numpy(), rl["family_id"].to_numpy()
    out = {
        "records": len(records),
        "true_persons": int(t["person_id"].nunique()), "predicted_persons": int(pd.Series(pp).nunique()),
        "true_families": int(t["family_id"].nunique()), "predicted_families": int(pd.Series(pf).nunique()),
        "persons_pairwise": pairwise_scores(pp, t["person_id"].to_numpy()),
        "persons_bcubed": bcubed(pp, t["person_id"].to_numpy()),
        "families_pairwise": pairwise_scores(pf, t["family_id"].to_numpy()),
        "families_bcubed": bcubed(pf, t["family_id"].to_numpy()),
        "families_split": split_families(pf, t["family_id"].to_numpy(), t["person_id"].to_numpy()),
    }
    if eligible is not None:
        out["eligible_families"] = eligible_scores(pf, t["family_id"].to_numpy(), t["person_id"].to_numpy(),
                                                   *eligible)
    if "community" in t:
        com = by_community(pp, t["person_id"].to_numpy(), t["community"])
        out["persons_by_community"] = com.to_dict("records")
        out["persons_community_recall_gap"] = float(com["recall"].max() - com["recall"].min())
        out["persons_community_precision_gap"] = float(com["precision"].max() - com["precision"].min())
        fcom = by_community(pf, t["family_id"].to_numpy(), t["community"])
        out["families_by_community"] = fcom.to_dict("records")
        out["families_community_recall_gap"] = float(fcom["recall"].max() - fcom["recall"].min())
    if settings is not None:
        out["blocking_recall"] = blocking_recall(records, settings, t["person_id"].to_numpy()).to_dict("records")
    return out


def _fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def print_report(name: str, ev: dict, stats: dict, seconds: float, out=sys.stdout) -> None:
    w = out.write
    w(f"\n=== {name}: {ev['records']} records, linkage {seconds:.1f}s ===\n")
    w(f"persons   true={ev['true_persons']} predicted={ev['predicted_persons']}\n")
    w(f"  pairwise  {_fmt(ev['persons_pairwise'])}\n  b-cubed   {_fmt(ev['persons_bcubed'])}\n")
    w(f"families  true={ev['true_families']} predicted={ev['predicted_families']}\n")
    w(f"  pairwise  {_fmt(ev['families_pairwise'])}\n  b-cubed   {_fmt(ev['families_bcubed'])}\n")
    w(f"  split     {_fmt(ev['families_split'])}\n")
    if "eligible_families" in ev:
        w(f"eligible families ({ev['criteria']})\n  mapped    {_fmt(ev['eligible_families'])}\n")
    if "persons_by_community" in ev:
        w("persons b-cubed by community:\n")
        for row in ev["persons_by_community"]:
            w(f"  {row['community']:<22} records={row['records']:<7} precision={row['precision']:.4f} recall={row['recall']:.4f}\n")
        w(f"  recall gap best-worst = {ev['persons_community_recall_gap']:.4f}; "
          f"precision gap = {ev['persons_community_precision_gap']:.4f}\n")
        w("families b-cubed by community:\n")
        for row in ev["families_by_community"]:
            w(f"  {row['community']:<22} records={row['records']:<7} precision={row['precision']:.4f} recall={row['recall']:.4f}\n")
        w(f"  recall gap best-worst = {ev['families_community_recall_gap']:.4f}\n")
    if "blocking_recall" in ev:
        w("blocking recall of true same-person pairs:\n")
        for row in ev["blocking_recall"]:
            w(f"  {row['pass']:<28} pairs={row['pairs']!s:<9} found={row['true_pairs_found']:<7} "
              f"missed={row['true_pairs_missed']:<7} recall={row['recall']:.4f}\n")
    w(f"linkage: candidate pairs={stats['candidate_pairs']} links={stats['links_accepted']} "
      f"review={stats['review_pairs']} vetoed={stats['links_vetoed']} split components={stats['components_split']}\n")
    w(f"timings: {json.dumps(stats['timings_seconds'])}\n")


def run_config(config_path: str | Path, truth_path: str | Path | None = None,
               criteria: str | None = None) -> tuple[dict, dict, float]:
    """Ingest, validate and link the sources of a run config, and evaluate against its truth.
    Eligible families come from the config's criteria set (or `criteria`), scored as a run
    scores them on the linked result, and on the truth's own persons and families (with
    truth_persons.csv beside truth.csv), so that the difference is linkage error alone."""
    from criteria import load_criteria
    from pipeline.stages import load_records
    cfg, validated, records = load_records(config_path)
    settings = LinkageSettings.from_dict(getattr(cfg, "linkage", None))
    t0 = time.perf_counter()
    res = link_records(records, settings, cfg.as_of)
    secs = time.perf_counter() - t0
    truth_path = Path(truth_path) if truth_path else Path(config_path).parent / "truth.csv"
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False, na_values=[""])
    eligible = None
    persons_path = truth_path.with_name("truth_persons.csv")
    name = criteria or cfg.criteria
    if persons_path.is_file():
        criteria_set = load_criteria(name, settings=cfg.criteria_settings or None)
        extracts = {src: v.accepted for src, v in validated.items()}
        kinds = {src: v.kind for src, v in validated.items()}
        persons = pd.read_csv(persons_path, dtype=str, keep_default_na=False, na_values=[""])
        true_links = align_truth(records, truth)[["source", "record_id", "person_id", "family_id"]]
        eligible = (eligible_families(extracts, kinds, res.record_links, res.members, criteria_set, cfg.as_of),
                    eligible_families(extracts, kinds, true_links, true_members(persons), criteria_set, cfg.as_of))
    ev = evaluate(records, res, truth, settings, eligible=eligible)
    ev["criteria"] = Path(str(name)).stem
    return ev, res.stats, secs


def generator_fingerprint() -> str:
    """A short hash of the generator's code and data (synth/): a cached set made by another
    version of the generator is not the set this version would make."""
    import hashlib
    root = Path(__file__).resolve().parents[1] / "synth"
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def generated_config(rows: int, cache: Path = Path(".cache")) -> Path:
    """Generate a synthetic set of about `rows` rows into .cache once per version of the
    generator; reuse it afterwards."""
    out = cache / f"generated_{rows}_{generator_fingerprint()}"
    cfg = out / "config.yaml"
    if not cfg.exists():
        import synth
        families = max(rows // 12, 50)
        synth.generate(out, families=families, seed=2026, formats="csv", rows=rows)
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--sample", help="run config of the sample data (truth.csv beside it)")
    ap.add_argument("--generated", type=int, default=0, help="also generate (once, into .cache/) and evaluate about this many rows")
    ap.add_argument("--criteria", help="criteria set for eligible families (default: the run config's)")
    ap.add_argument("--json", help="write all measures to this JSON file")
    args = ap.parse_args(argv)
    results = {}
    if args.sample:
        ev, stats, secs = run_config(args.sample, criteria=args.criteria)
        print_report("sample", ev, stats, secs)
        results["sample"] = {"evaluation": ev, "stats": stats, "seconds": secs}
    if args.generated:
        cfg = generated_config(args.generated)
        ev, stats, secs = run_config(cfg, criteria=args.criteria)
        print_report(f"generated {args.generated}", ev, stats, secs)
        results["generated"] = {"evaluation": ev, "stats": stats, "seconds": secs}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

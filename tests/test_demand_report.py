"""The report's section on service demand, on a whole run of the sample: its figures are those of
family_demand.csv and need_matrix.csv; the top 3% are listed in the full profile only."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path(os.environ.get("HNF_SAMPLE_DIR", Path(__file__).resolve().parents[1] / "sample_data"))

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (SAMPLE / "config.yaml").is_file(), reason="sample data not generated yet")]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from pipeline.config import load_config
    from pipeline.run import run_pipeline
    out = tmp_path_factory.mktemp("demand") / "out"
    cfg = load_config(SAMPLE / "config.yaml", output=out)
    record = run_pipeline(cfg)
    read = lambda name: pd.read_csv(out / name, dtype={"family_id": str, "person_id": str}, keep_default_na=False)
    return record, out, read("family_demand.csv"), read("need_matrix.csv"), read("member_demand.csv")


def visible(html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text.replace("&amp;", "&").replace("&#39;", "'"))


def test_the_outputs_agree(sample_run):
    record, out, demand, matrix, members = sample_run
    assert len(demand) == len(matrix) == matrix["family_id"].nunique()
    both = matrix.set_index("family_id").join(demand.set_index("family_id"), rsuffix="_d")
    assert (both["estimated_cost"] == both["estimated_cost_d"]).all()
    # Members' counts add up to their family's.
    summed = members.groupby("family_id")[["asb_warnings", "police_offences", "unauthorised_sessions"]].sum()
    assert (summed == demand.set_index("family_id")[summed.columns].reindex(summed.index)).all().all()
    assert sorted(matrix["rank"]) == list(range(1, len(matrix) + 1))
    assert (matrix["agencies_involved"] == matrix["agencies"].map(lambda s: len(s.split(";")) if s else 0)).all()
    manifest = json.loads((out / "manifest.json").read_text())
    from criteria.demand import COSTS_DIR
    import hashlib
    assert manifest["demand"]["costs"]["sha256"] == hashlib.sha256((COSTS_DIR / "unit-costs-uk.yaml").read_bytes()).hexdigest()
    assert manifest["demand"]["window"] == ["2025-10-01", "2026-09-30"]


def test_the_report_section_tells_the_figures_of_family_demand(sample_run):
    record, out, demand, matrix, _ = sample_run
    text = visible((out / "report.html").read_text(encoding="utf-8"))
    n = len(matrix)
    total = demand["estimated_cost"].sum()
    by_rank = matrix.sort_values("rank")
    top3 = by_rank.head(math.ceil(n * 3 / 100))
    top3 = top3[top3["estimated_cost"] > 0]
    share = top3["estimated_cost"].sum() / total
    assert f"Carried by the top 3% {share:.1%} of all estimated cost, by {len(top3):,} families" in text
    assert f"Estimated annual cost £{total:,.0f}" in text
    assert f"Top 3% {len(top3):,} £{top3['estimated_cost'].sum():,.0f} {share:.1%}" in text
    counts = matrix["agencies_involved"].value_counts().sort_index()
    table = re.search(r"Agencies involved Families Share ((?:\d+ [\d,]+ [\d.]+% )+)", text).group(1).strip()
    assert table == " ".join(f"{k} {v:,} {v / n:.1%}" for k, v in counts.items())
    assert "not a prediction and not a risk score" in text and "carries no judgement of the family" in text
    # The top 3%, listed with their agencies and criteria, in rank order.
    listed = re.findall(r"\b(\d+) (F\d{6}) £([\d,]+) ", text.split("The top 3% of families by estimated annual cost")[1])
    assert [(int(r), f) for r, f, _ in listed] == list(zip(top3["rank"], top3["family_id"]))
    first = top3.iloc[0]
    assert f"{first['agencies'].replace(';', ', ')}" in text


def test_the_top_families_are_not_listed_in_the_shareable_profile(sample_run):
    from reports.html import render_report
    record = sample_run[0]
    cfg = dataclasses.replace(record.config, outputs=record.config.outputs.model_copy(update={"profile": "shareable"}))
    text = visible(render_report(dataclasses.replace(record, config=cfg)))
    assert "Not listed in this output profile" in text
    assert not re.search(r"\bF\d{6}\b", text)
    assert "Carried by the top 3%" in text


def test_a_local_top_three_percent_rule_on_the_sample(sample_run):
    """Westminster's "top 3%" written as a local criterion: eligible are exactly the families in
    need_matrix.csv's top 3% (by rank) known to three agencies or more."""
    from criteria import parse_criteria, score_families
    record, _, _, matrix, _ = sample_run
    cs = parse_criteria("""
indicators:
  asb_any: {agency: asb, window: {last_months: 12}}
criteria:
  asb: {any_of: [asb_any]}
conditions:
  top3: {estimated_cost: {top_percent: 3}}
  known_to_three: {agencies_involved: {at_least: 3}}
rule: {all: [top3, known_to_three]}
""", "top3.yaml")
    demand = record.demand
    scored = score_families({n: v.accepted for n, v in record.validated.items()},
                            {n: v.kind for n, v in record.validated.items()}, record.linkage.record_links,
                            record.linkage.members, cs, record.config.as_of,
                            demand=demand.agencies.merge(demand.family_demand[["family_id", "estimated_cost"]]))
    eligible = set(scored.need_matrix.loc[scored.need_matrix["eligible"] == 1, "family_id"])
    cut = math.ceil(len(matrix) * 3 / 100)
    want = set(matrix[(matrix["rank"] <= cut) & (matrix["estimated_cost"] > 0) & (matrix["agencies_involved"] >= 3)]
               ["family_id"])
    assert eligible == want and len(want) == 9

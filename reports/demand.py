"""The report's section on service demand: how concentrated the estimated cost is (the share the
top 1%, 3% and 10% of families carry), the agencies involved, the cost by agency and measure and,
in the full profile without pseudonyms only, the top 3% of families as need_matrix.csv shows them."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from criteria.demand import MEASURES, TOP_SHARES
from reports import charts
from reports.record import RunRecord

LISTED_SHARE = 3          # the families listed: the top 3%
COST_BANDS = ((0, 0, "£0"), (1, 999, "£1 to £999"), (1000, 4999, "£1,000 to £4,999"),
              (5000, 9999, "£5,000 to £9,999"), (10000, None, "£10,000 or more"))


@dataclass(frozen=True)
class DemandFacts:
    available: bool
    window: str = ""
    terms: str = ""
    table_name: str = ""
    price_year: int = 0
    families: int = 0
    with_cost: int = 0
    total_cost: float = 0.0
    top3_share: float = 0.0          # of all estimated cost, carried by the top 3% of families
    top3_families: int = 0
    concentration: object = None     # Table: band, families, estimated cost, share of all cost
    agencies_table: object = None    # Table: agencies involved, families, share
    agencies_chart: object = None    # Figure
    cost_bands: object = None        # Table
    by_agency: object = None         # Table
    measures: object = None          # Table
    top_families: object = None      # Table, full profile without pseudonyms only
    top_listed: bool = False         # whether the list may be shown in this profile
    not_costed: tuple = ()
    cards: tuple = ()                # (label, value, note)


def demand_facts(record: RunRecord, table, figure) -> DemandFacts:
    """`table` and `figure` make the report's Table and Figure (reports.html)."""
    demand = record.demand
    matrix = record.scored.need_matrix
    if demand is None or "estimated_cost" not in matrix:
        return DemandFacts(available=False)
    fd = demand.family_demand
    n = len(fd)
    cost = pd.to_numeric(fd["estimated_cost"], errors="coerce").fillna(0.0)
    total = float(cost.sum())
    ranked = matrix.assign(_cost=pd.to_numeric(matrix["estimated_cost"], errors="coerce").fillna(0.0),
                           _rank=pd.to_numeric(matrix["rank"], errors="coerce")).sort_values("_rank")

    rows = []
    for share in TOP_SHARES:
        cut = math.ceil(n * share / 100)
        top = ranked.head(cut)
        top = top[top["_cost"] > 0]
        carried = float(top["_cost"].sum())
        rows.append([f"Top {share}%", f"{len(top):,}", _gbp(carried), _pct(carried, total)])
    rows.append(["All families", f"{n:,}", _gbp(total), _pct(total, total) if total else ""])
    concentration = table(["Families", "Number", "Estimated annual cost", "Share of all estimated cost"], rows,
                          numeric={1, 2, 3}, caption="How concentrated the estimated cost is", last_row_total=True)
    cut3 = math.ceil(n * LISTED_SHARE / 100)
    top3 = ranked.head(cut3)
    top3 = top3[top3["_cost"] > 0]

    involved = pd.to_numeric(matrix["agencies_involved"], errors="coerce").fillna(0).astype(int)
    dist = involved.value_counts().sort_index()
    labels = [str(k) for k in dist.index]
    agencies_table = table(["Agencies involved", "Families", "Share"],
                           [[k, f"{v:,}", _pct(v, n)] for k, v in zip(labels, dist.tolist())], numeric={0, 1, 2},
                           caption="Families by the number of agencies whose records name any member")
    agencies_chart = figure(charts.count_bars(labels, dist.tolist(), xlabel="agencies involved", ylabel="families",
                                              title="Families by number of agencies involved"),
                            "Families by the number of agencies (agency kinds) whose records name any member, "
                            "at any time.") if len(dist) else None

    band_rows = []
    for lo, hi, label in COST_BANDS:
        inside = (cost >= lo) & ((cost <= hi) if hi is not None else True)
        if lo == 0:
            inside = cost == 0
        band_rows.append([label, f"{int(inside.sum()):,}", _pct(int(inside.sum()), n)])
    cost_bands = table(["Estimated annual cost", "Families", "Share"], band_rows, numeric={1, 2},
                       caption="Families by estimated annual cost")

    agency_cols = [c for c in fd.columns if c.startswith("cost_")]
    by_agency = table(["Agency", "Estimated annual cost", "Share"],
                      [[c.removeprefix("cost_"), _gbp(float(fd[c].sum())), _pct(float(fd[c].sum()), total)]
                       for c in agency_cols], numeric={1, 2}, caption="Estimated annual cost by agency") \
        if agency_cols else None

    costs = demand.costs
    measure_rows = []
    for m in MEASURES:
        values = pd.to_numeric(fd[m.name], errors="coerce").fillna(0)
        uc = costs.costs.get(m.name)
        unit = (f"£{uc.uplifted_gbp * (12 if uc.per == 'year' else 1):,.2f} "
                f"{'a year' if uc.per == 'year' else 'each'}" if uc else "not costed")
        total_m = f"{values.sum():,.1f}" if m.count == "claim_months" else f"{int(values.sum()):,}"
        measure_rows.append([m.title, m.agency, total_m, f"{int((values > 0).sum()):,}", unit])
    measures = table(["Measure", "Agency", "Recorded", "Families", f"Unit cost ({costs.price_year} prices)"],
                     measure_rows, numeric={2, 3}, caption="Recorded demand by measure, all families")

    opts = record.config.outputs
    listed = opts.profile == "full" and opts.pseudonymise_key is None
    top_families = None
    if listed and len(top3):
        names = [c for c in record.criteria_set.criteria if c in ranked.columns]
        top_rows = []
        for r in top3.to_dict("records"):
            met = [c for c in names if not pd.isna(r[c]) and int(r[c]) == 1]
            top_rows.append([f"{int(r['_rank']):,}", r["family_id"], _gbp(r["_cost"]),
                             str(r["agencies"]).replace(";", ", "), ", ".join(met) or "none",
                             "yes" if int(r["eligible"] or 0) == 1 else "no"])
        top_families = table(["Rank", "Family", "Estimated annual cost", "Agencies involved", "Criteria met",
                              "Eligible"], top_rows, numeric={0, 2},
                             caption=f"The top {LISTED_SHARE}% of families by estimated annual cost")

    share3 = float(top3["_cost"].sum()) / total if total else 0.0
    with_cost = int((cost > 0).sum())
    cards = (("Carried by the top 3%", f"{share3:.1%}", f"of all estimated cost, by {_families(len(top3))}"),
             ("Estimated annual cost", _gbp(total), f"of recorded demand, {costs.price_year} prices"),
             ("Families with any cost", f"{with_cost:,}", f"of {_families(n)}"),
             ("Three agencies or more", f"{int((involved >= 3).sum()):,}", f"of {_families(n)}"))
    first, last = demand.window
    return DemandFacts(
        available=True, window=f"{first:%-d %B %Y} to {last:%-d %B %Y}", terms=", ".join(demand.terms),
        table_name=costs.title, price_year=costs.price_year, families=n, with_cost=with_cost,
        total_cost=total, top3_share=share3, cards=cards,
        top3_families=len(top3), concentration=concentration, agencies_table=agencies_table,
        agencies_chart=agencies_chart, cost_bands=cost_bands, by_agency=by_agency, measures=measures,
        top_families=top_families, top_listed=listed, not_costed=tuple(m.title for m in MEASURES
                                                                         if m.name in costs.not_costed))


def _families(n: int) -> str:
    return f"{n:,} famil{'y' if n == 1 else 'ies'}"


def _gbp(value: float) -> str:
    return f"£{value:,.0f}"


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else ""

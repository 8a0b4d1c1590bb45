"""Service demand: what each agency recorded about each family's members over the run's window,
counted per member and per family; the agencies involved; an estimated annual cost from a table
of published unit costs (criteria/costs); and the families ranked by it.

A transparent count of recorded demand priced at published unit costs: not a prediction, not a
risk score, and a family's rank carries no judgement of the family."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import pandas as pd
from pydantic import AfterValidator, ValidationInfo

from criteria.language import Window, rules_data, window_bounds
from criteria.terms import last_complete_terms, term_of
from schemas.config_models import Choice, ConfigModel, Number, Text, Whole, check, invalid
from schemas.errors import ConfigError
from schemas.fields import AGENCY_KINDS
from schemas.yaml_loading import builtin_or_path, load_yaml_file

COSTS_DIR = Path(__file__).parent / "costs"
DEFLATORS = COSTS_DIR / "gdp_deflators.csv"
DEFAULT_COSTS = "unit-costs-uk"
DEFAULT_WINDOW_MONTHS = 12
DEFAULT_PRICE_YEAR = 2024
SCHOOL_TERMS = 3          # the programmes' "last three consecutive terms": one school year
TOP_SHARES = (1, 3, 10)   # the top_share bands, per cent of families


@dataclass(frozen=True)
class Measure:
    """One count of recorded demand. `count`: records (one a matching record), sum (of `field`),
    flag (records with `field` true) or claim_months (months of a claim open in the window)."""
    name: str
    agency: str
    title: str
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    count: str = "records"
    field: str | None = None

    @property
    def by_term(self) -> bool:
        return self.agency == "schools"


_ENFORCEMENT = ("cpn", "injunction", "cbo", "asbo", "closure_order")
MEASURES: tuple[Measure, ...] = (
    Measure("police_offences", "police", "offences (as offender or suspect)",
            (("event_type", ("offence",)), ("role", ("offender", "suspect")))),
    Measure("police_incidents", "police", "police incidents", (("event_type", ("incident",)),)),
    Measure("asb_cases", "asb", "ASB cases (as perpetrator)", (("role", ("perpetrator",)),)),
    Measure("asb_warnings", "asb", "ASB warning letters", (("role", ("perpetrator",)), ("intervention", ("warning",)))),
    Measure("asb_abcs", "asb", "acceptable behaviour contracts", (("role", ("perpetrator",)), ("intervention", ("abc",)))),
    Measure("asb_enforcement", "asb", "ASB enforcement (CPN, injunction, CBO, ASBO, closure order)",
            (("role", ("perpetrator",)), ("intervention", _ENFORCEMENT))),
    Measure("dv_standard", "dv", "DV incidents, standard risk", (("risk_level", ("standard",)),)),
    Measure("dv_medium", "dv", "DV incidents, medium risk", (("risk_level", ("medium",)),)),
    Measure("dv_high", "dv", "DV incidents, high risk", (("risk_level", ("high",)),)),
    Measure("dv_unknown_risk", "dv", "DV incidents, risk not recorded", (("risk_level", (None,)),)),
    Measure("housing_actions", "housing", "housing actions (arrears, notices, evictions, homelessness)",
            (("event_type", ("arrears", "nosp", "eviction", "asb_eviction", "homeless_application",
                             "temporary_accommodation")),)),
    Measure("fixed_term_exclusions", "schools", "fixed-term exclusions", count="sum", field="fixed_term_exclusions"),
    Measure("permanent_exclusions", "schools", "permanent exclusions", count="flag", field="permanent_exclusion"),
    Measure("unauthorised_sessions", "schools", "unauthorised sessions", count="sum", field="sessions_unauthorised"),
    Measure("out_of_work_benefit_months", "benefits", "months on out-of-work benefits (as claimant)",
            (("role", ("claimant", None)),), count="claim_months", field="out_of_work"),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)
_BY_NAME = {m.name: m for m in MEASURES}
DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------------------------------------
# The unit-cost table and the deflators

@dataclass(frozen=True)
class UnitCost:
    measure: str
    gbp: float               # as published, in its price year
    per: str                 # unit (one counted unit) | year (a year of a measure counted in months)
    unit: str
    price_year: int
    source: str
    uplifted_gbp: float      # in the run's price year, per counted unit


@dataclass(frozen=True)
class CostTable:
    title: str
    origin: str
    sha256: str
    price_year: int
    costs: dict[str, UnitCost]
    not_costed: dict[str, str]          # measure -> why it carries no cost


class _Cost(ConfigModel):
    takes = "a unit cost takes"
    required_keys = frozenset({"gbp", "per", "price_year", "source"})
    gbp: Number(0, above=True)
    per: Choice("unit", "year")
    unit: Optional[Text] = None
    price_year: Whole(1900, 2100)
    price_year_note: Optional[Text] = None
    source: Text
    url: Optional[Text] = None


class _CostFile(ConfigModel):
    takes = "a unit-cost table takes"
    required_keys = frozenset({"costs"})
    title: Optional[Text] = None
    costs: dict[str, _Cost]
    not_costed: dict[str, Text] = {}


def _cost_table(f: _CostFile, info: ValidationInfo) -> CostTable:
    ctx = info.context
    deflators: dict[int, float] = ctx["deflators"]
    for section, names in (("costs", f.costs), ("not_costed", f.not_costed)):
        for name in names:
            if name not in _BY_NAME:
                raise invalid(f"unknown measure (measures: {', '.join(MEASURE_NAMES)})", (section, name))
    for name in f.not_costed:
        if name in f.costs:
            raise invalid("both costed and listed as not costed; keep one", ("not_costed", name))
    costs = {}
    for name, c in f.costs.items():
        if c.per == "year" and _BY_NAME[name].count != "claim_months":
            raise invalid(f"per: year is for a measure counted in months; {name} is counted in units",
                          ("costs", name, "per"))
        if c.price_year not in deflators:
            raise invalid(f"no GDP deflator for {c.price_year} in {DEFLATORS.name} "
                          f"(years: {deflator_years(deflators)})", ("costs", name, "price_year"))
        per_unit = c.gbp / 12 if c.per == "year" else c.gbp
        uplift = deflators[ctx["price_year"]] / deflators[c.price_year]
        costs[name] = UnitCost(name, float(c.gbp), c.per, c.unit or "", c.price_year, c.source,
                               per_unit * uplift)
    not_costed = {n: f.not_costed.get(n, "not in the unit-cost table") for n in MEASURE_NAMES if n not in costs}
    return CostTable(title=f.title or ctx["origin"], origin=ctx["origin"], sha256=ctx["sha256"],
                     price_year=ctx["price_year"], costs=costs, not_costed=not_costed)


_CostTable = Annotated[_CostFile, AfterValidator(_cost_table)]


def deflator_years(deflators: dict[int, float]) -> str:
    years = sorted(deflators)
    runs, start = [], years[0]
    for a, b in zip(years, years[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(runs)


def load_deflators(path: Path = DEFLATORS) -> dict[int, float]:
    """Year -> GDP deflator index, one chained series: the first series in the file as published,
    each later one rescaled to it at the latest year both hold and used for the years the first
    lacks (calendar and financial years are taken as alike: an approximation of a quarter year)."""
    series: dict[str, dict[int, float]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                series.setdefault(row["series"], {})[int(row["year"])] = float(row["index"])
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"{path}, row {n}: series, year and index must be given, year and index "
                                  "as numbers") from None
    names = list(series)
    out = dict(series[names[0]])
    for name in names[1:]:
        common = sorted(set(out) & set(series[name]))
        if not common:
            raise ConfigError(f"{path}: series {name} shares no year with the series before it, so cannot be linked")
        link = common[-1]
        scale = out[link] / series[name][link]
        for year, value in series[name].items():
            out.setdefault(year, value * scale)
    return out


def load_costs(name_or_path: str | Path = DEFAULT_COSTS, price_year: int = DEFAULT_PRICE_YEAR) -> CostTable:
    """A built-in unit-cost table by name, or a council's YAML file by path, uplifted to
    `price_year` with the GDP deflators."""
    deflators = load_deflators()
    if price_year not in deflators:
        raise ConfigError(f"demand.price_year {price_year}: no GDP deflator for that year in "
                          f"{DEFLATORS} (years: {deflator_years(deflators)})")
    path, origin = builtin_or_path(name_or_path, COSTS_DIR, "unit-cost table", list_builtin_costs())
    doc = load_yaml_file(path, "unit-cost table", origin)
    context = {"deflators": deflators, "price_year": price_year, "origin": origin,
               "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return check(_CostTable, rules_data(doc), doc, context=context)


def list_builtin_costs() -> list[str]:
    return sorted(p.stem for p in COSTS_DIR.glob("*.yaml"))


# ---------------------------------------------------------------------------------------------
# Counting

@dataclass(frozen=True)
class DemandSettings:
    window_months: int = DEFAULT_WINDOW_MONTHS
    costs: str = DEFAULT_COSTS
    price_year: int = DEFAULT_PRICE_YEAR


@dataclass(frozen=True)
class DemandResult:
    family_demand: pd.DataFrame      # one row per family: each measure, cost by agency, estimated_cost
    member_demand: pd.DataFrame      # one row per member: family_id, person_id, each measure
    agencies: pd.DataFrame           # family_id, agencies_involved, agencies
    costs: CostTable
    settings: DemandSettings
    window: tuple[dt.date, dt.date]
    terms: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)


def _mask(frame: pd.DataFrame, where) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for f_name, values in where:
        if f_name not in frame.columns:
            col = pd.Series(pd.NA, index=frame.index, dtype="string")
        else:
            col = frame[f_name].astype("string").str.strip().str.lower()
        wanted = [v for v in values if v is not None]
        ok = col.isin(wanted).fillna(False).astype(bool)
        if None in values:
            ok |= col.isna() | (col == "")
        mask &= ok
    return mask


def _claim_days(rows: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.Series:
    """Per person, days in [first, last] covered by any of their claims (overlaps counted once)."""
    start = rows["start"].clip(lower=first)
    end = rows["end"].fillna(last).clip(upper=last)
    spans = pd.DataFrame({"person_id": rows["person_id"], "start": start, "end": end})
    spans = spans[spans["end"] >= spans["start"]].sort_values(["person_id", "start", "end"])
    if spans.empty:
        return pd.Series(dtype=float)
    # A new block starts where a claim begins after every earlier claim of the person has ended.
    reach = spans.groupby("person_id")["end"].cummax()
    prev_reach = reach.groupby(spans["person_id"]).shift()
    new_block = prev_reach.isna() | (spans["start"] > prev_reach)
    block = new_block.cumsum()
    blocks = spans.groupby(block).agg(person_id=("person_id", "first"), start=("start", "min"), end=("end", "max"))
    days = (blocks["end"] - blocks["start"]).dt.days + 1
    return days.groupby(blocks["person_id"]).sum().astype(float)


def count_demand(extracts: dict[str, pd.DataFrame], kinds: dict[str, str], record_links: pd.DataFrame,
                 members: pd.DataFrame, as_of: dt.date, settings: DemandSettings, costs: CostTable) -> DemandResult:
    """Each member's and each family's recorded demand over the window, the agencies that know
    them, and the estimated annual cost. A member's records count with the family they are in on
    the reference date, including records from before they joined it."""
    first, last = window_bounds(Window("months", settings.window_months), as_of)
    lo, hi = pd.Timestamp(first), pd.Timestamp(last)
    terms = last_complete_terms(as_of, SCHOOL_TERMS)
    persons = members.drop_duplicates("person_id")[["family_id", "person_id"]]
    links = record_links[["source", "record_id", "person_id"]].astype({"source": str, "record_id": str})
    links = links.merge(persons, on="person_id", how="inner")
    families = pd.Index(pd.unique(members["family_id"]), name="family_id")

    parts = []
    claims = []
    wanted_terms = set(terms)
    for source, frame in extracts.items():
        kind = kinds.get(source)
        if frame.empty or kind is None:
            continue
        in_terms = None
        if kind == "schools":
            # Few distinct (year, term) pairs: each looked up once.
            keys = list(zip(frame["academic_year"], frame["term"]))
            inside = {k: term_of(*k) in wanted_terms for k in set(keys)}
            in_terms = pd.Series([inside[k] for k in keys], index=frame.index, dtype=bool)
        for m in (m for m in MEASURES if m.agency == kind):
            mask = _mask(frame, m.where)
            if m.by_term:
                mask &= in_terms
            elif m.count == "claim_months":
                start = pd.to_datetime(frame["claim_start"], errors="coerce")
                end = (pd.to_datetime(frame["claim_end"], errors="coerce") if "claim_end" in frame
                       else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
                flag = (frame[m.field].astype("boolean").fillna(False).astype(bool) if m.field in frame
                        else pd.Series(False, index=frame.index))
                mask &= (flag & (start <= hi) & (end.isna() | (end >= lo))).fillna(False).astype(bool)
                claims.append(pd.DataFrame({"source": source, "record_id": frame.loc[mask, "record_id"].astype(str),
                                            "start": start[mask], "end": end[mask]}))
                continue
            else:
                date = pd.to_datetime(frame[AGENCY_KINDS[kind].date_field], errors="coerce")
                mask &= ((date >= lo) & (date <= hi)).fillna(False).astype(bool)
            if not mask.any():
                continue
            if m.count == "sum":
                value = pd.to_numeric(frame.loc[mask, m.field], errors="coerce").fillna(0).astype(float)
            elif m.count == "flag":
                value = frame.loc[mask, m.field].astype("boolean").fillna(False).astype(float)
            else:
                value = pd.Series(1.0, index=frame.index[mask])
            parts.append(pd.DataFrame({"source": source, "record_id": frame.loc[mask, "record_id"].astype(str),
                                       "measure": m.name, "value": value.to_numpy()}))

    counted = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["source", "record_id", "measure", "value"])
    counted = counted.merge(links, on=["source", "record_id"], how="inner")
    per_person = counted.groupby(["person_id", "measure"])["value"].sum().unstack(fill_value=0.0)
    if claims:
        c = pd.concat(claims, ignore_index=True).merge(links, on=["source", "record_id"], how="inner")
        days = _claim_days(c, lo, hi)
        per_person = per_person.reindex(per_person.index.union(days.index), fill_value=0.0)
        per_person["out_of_work_benefit_months"] = (days / DAYS_PER_MONTH).round(1).reindex(per_person.index).fillna(0.0)
    per_person = per_person.reindex(columns=list(MEASURE_NAMES), fill_value=0.0)

    member = persons.set_index("person_id").join(per_person).fillna(0.0)
    member = member.reset_index()[["family_id", "person_id", *MEASURE_NAMES]]
    family = member.groupby("family_id")[list(MEASURE_NAMES)].sum().reindex(families, fill_value=0.0)
    member = _as_counts(member)

    # Annual cost: dated measures cover window_months; schools' three terms are one school year.
    annual = 12 / settings.window_months
    cost_by_agency = {}
    for name, uc in costs.costs.items():
        m = _BY_NAME[name]
        factor = 1.0 if m.by_term else annual
        cost_by_agency.setdefault(m.agency, 0.0)
        cost_by_agency[m.agency] = cost_by_agency[m.agency] + family[name] * uc.uplifted_gbp * factor
    family = _as_counts(family.reset_index())
    agencies_costed = sorted(cost_by_agency)
    for agency in agencies_costed:
        family[f"cost_{agency}"] = cost_by_agency[agency].round(0).to_numpy()
    family["estimated_cost"] = (sum(cost_by_agency.values()).round(0).to_numpy()
                                if cost_by_agency else 0.0)

    # Agencies involved: the agency kinds of the sources whose records name any member, at any time.
    known = links.assign(agency=links["source"].map(kinds)).dropna(subset=["agency"])
    sets = _agency_sets(known["family_id"], known["agency"])
    involved = pd.DataFrame({"family_id": families})
    involved["agencies"] = involved["family_id"].map(sets).fillna("")
    involved["agencies_involved"] = involved["agencies"].map(lambda s: len(s.split(";")) if s else 0).astype("Int64")
    return DemandResult(family_demand=family, member_demand=member,
                        agencies=involved[["family_id", "agencies_involved", "agencies"]], costs=costs,
                        settings=settings, window=(first, last), terms=tuple(str(t) for t in terms))


def _agency_sets(family: pd.Series, agency: pd.Series) -> pd.Series:
    """Per family, its agencies sorted and joined by ';'. The agencies are few: each is a bit,
    a family's set the sum of its distinct agencies' bits, and each distinct set is spelt once
    (no Python call per family)."""
    names = sorted(pd.unique(agency.astype(str)))
    if not names:
        return pd.Series(dtype=object)
    if len(names) > 62:                 # more kinds than bits: one join per family
        return agency.astype(str).groupby(family.to_numpy()).agg(lambda s: ";".join(sorted(set(s))))
    bit = {a: 1 << i for i, a in enumerate(names)}
    pairs = pd.DataFrame({"family_id": family.to_numpy(), "agency": agency.astype(str).to_numpy()}).drop_duplicates()
    mask = pairs["agency"].map(bit).astype("int64").groupby(pairs["family_id"]).sum()
    spelt = {m: ";".join(a for a in names if m & bit[a]) for m in pd.unique(mask.to_numpy())}
    return mask.map(spelt)


def _as_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number measures as integers; months keep one decimal."""
    out = frame.copy()
    for name in MEASURE_NAMES:
        if name == "out_of_work_benefit_months":
            out[name] = out[name].astype(float).round(1)
        else:
            out[name] = out[name].round(0).astype("int64")
    return out


# ---------------------------------------------------------------------------------------------
# Ranking

def rank_families(family_ids: pd.Series, estimated_cost: pd.Series, agencies_involved: pd.Series,
                  criteria_met: pd.Series) -> pd.DataFrame:
    """family_id, rank (1 = highest estimated cost; ties by agencies involved, then criteria met,
    then family_id, so the order is the same every run) and top_share: 'top 1%', 'top 3%' or
    'top 10%' for the first ceil(p% of families) in rank with any estimated cost, else blank."""
    frame = pd.DataFrame({"family_id": family_ids.astype(str).to_numpy(),
                          "cost": pd.to_numeric(estimated_cost, errors="coerce").fillna(0).to_numpy(),
                          "agencies": pd.to_numeric(agencies_involved, errors="coerce").fillna(0).to_numpy(),
                          "met": pd.to_numeric(criteria_met, errors="coerce").fillna(0).to_numpy()})
    order = frame.sort_values(["cost", "agencies", "met", "family_id"], ascending=[False, False, False, True],
                              kind="stable").index
    rank = pd.Series(0, index=frame.index, dtype="int64")
    rank[order] = np.arange(1, len(frame) + 1)
    band = pd.Series("", index=frame.index, dtype=object)
    for share in sorted(TOP_SHARES, reverse=True):
        cut = math.ceil(len(frame) * share / 100)
        band[(rank <= cut) & (frame["cost"] > 0)] = f"top {share}%"
    return pd.DataFrame({"family_id": family_ids.to_numpy(), "rank": rank.to_numpy(), "top_share": band.to_numpy()})


def in_top_percent(rank: pd.Series, cost: pd.Series, percent: float) -> pd.Series:
    """Whether each family is among the first ceil(percent% of families) by rank, with any cost."""
    cut = math.ceil(len(rank) * percent / 100)
    return (rank <= cut) & (pd.to_numeric(cost, errors="coerce").fillna(0) > 0)

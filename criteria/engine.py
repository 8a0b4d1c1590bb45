"""Score families against a criteria set: which indicators each family meets, the criteria that
follow, the family rule, and the evidence (records) behind every need found."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from criteria.language import (SPAN_FIELDS, AllOf, AnyOf, CriteriaSet, Indicator, RuleNode,
                               window_bounds)
from criteria.demand import in_top_percent, rank_families
from criteria.terms import last_complete_terms, term_of
from matching.workers import each_slice
from schemas.fields import AGENCY_KINDS, FLAG, UPPER_CASE_ENUMS, ENUM, TEXT, fields_for
from schemas.people import ADULT_AGE, is_child

EVIDENCE_COLUMNS = ["family_id", "criterion", "indicator", "person_id", "source", "record_id", "event_date",
                    "period", "value"]
# Indicators a slice when shared among processes: each is a few seconds at most at scale.
INDICATORS_A_SLICE = 1
_IND_EVIDENCE = ["family_id", "indicator", "person_id", "source", "record_id", "event_date", "period", "value"]
# What an evidence row says of its record besides the threshold's own fields (`value`): the
# fields a key worker would name it by.
_DESCRIBED_BY = {"police": ("event_type", "offence_category", "outcome", "role"), "asb": ("role", "intervention"),
                 "dv": ("role", "risk_level"), "events": ("event_type", "category"),
                 "housing": ("event_type", "rent_arrears_gbp"), "benefits": ("benefit_type",)}
_SAID = {"rent_arrears_gbp": lambda v: f"£{float(v):,.2f}", "risk_level": lambda v: f"{v} risk"}


@dataclass(frozen=True)
class CriteriaResult:
    need_matrix: pd.DataFrame
    evidence: pd.DataFrame
    no_data: list[str]
    summary: pd.DataFrame
    # family_id x indicator: 1 met, 0 not met, blank when the indicator had no data
    indicators: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)

    @property
    def eligible_families(self) -> list[str]:
        m = self.need_matrix
        return m.loc[m["eligible"] == 1, "family_id"].tolist()


@dataclass
class _IndicatorOutcome:
    has_data: bool
    met: pd.Series            # bool, indexed by family_id (all families)
    evidence: pd.DataFrame    # _IND_EVIDENCE
    sources: list[str]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _persons(members: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """person_id -> family_id, dob, and whether the person is a child on the reference date.
    The age column decides; the role column only where the age is unknown."""
    p = members.drop_duplicates("person_id").set_index("person_id")
    age = pd.to_numeric(p["age"], errors="coerce") if "age" in p else pd.Series(float("nan"), index=p.index)
    dob = pd.to_datetime(p["dob"], errors="coerce") if "dob" in p else pd.Series(pd.NaT, index=p.index)
    # Where no age is given but a dob is, the age on the reference date follows from it.
    age = age.where(age.notna(), _age_on(dob, pd.Series(pd.Timestamp(as_of), index=p.index)))
    role = p["role"].astype("string").str.lower() if "role" in p else pd.Series(pd.NA, index=p.index, dtype="string")
    child = is_child(age).where(age.notna(), role == "child").astype("boolean")
    adult = (age >= ADULT_AGE).where(age.notna(), role == "adult").astype("boolean")
    return pd.DataFrame({"family_id": p["family_id"], "dob": dob, "age": age,
                         "child": child.fillna(False).astype(bool), "adult": adult.fillna(False).astype(bool)})


def _age_on(dob: pd.Series, day: pd.Series) -> pd.Series:
    """Whole years from dob to day (NaN when either is missing)."""
    dob = pd.to_datetime(dob, errors="coerce")
    day = pd.to_datetime(day, errors="coerce")
    years = day.dt.year - dob.dt.year
    before_birthday = (day.dt.month * 100 + day.dt.day) < (dob.dt.month * 100 + dob.dt.day)
    return (years - before_birthday.astype(float)).astype(float)


def _condition_mask(frame: pd.DataFrame, cond, kind_fields: dict) -> pd.Series:
    col = frame[cond.field]
    f = kind_fields[cond.field]
    if f.kind == FLAG:
        values = col.astype("boolean")
    elif f.kind in (ENUM, TEXT):
        s = col.astype("string").str.strip()
        values = s.str.upper() if (f.kind == ENUM and f.name in UPPER_CASE_ENUMS) else s.str.lower()
    else:
        values = pd.to_numeric(col, errors="coerce")
    if cond.op == "equals":
        mask = values == cond.value
    elif cond.op == "one_of":
        mask = values.isin(list(cond.value))
    elif cond.op == "not_one_of":
        mask = ~values.isin(list(cond.value))
    elif cond.op == "min":
        mask = values >= float(cond.value)
    else:
        mask = values <= float(cond.value)
    # A blank field never passes a filter on that field.
    return pd.Series(mask, index=frame.index).astype("boolean").fillna(False).astype(bool) & col.notna()


def _window_rows(frame: pd.DataFrame, ind: Indicator, as_of: dt.date) -> tuple[pd.Series, pd.Series]:
    """(in-window mask, record date) for an extract. The record date is the event date, the claim
    start, or the first day of the school term."""
    kind = ind.agency
    w = ind.window
    if kind == "schools":
        # Few distinct (year, term) pairs: place each pair once, then map the rows onto them.
        cy, uy = pd.factorize(frame["academic_year"].astype(object).fillna(""))
        ct, ut = pd.factorize(frame["term"].astype(object).fillna(""))
        combos, codes = np.unique(cy.astype(np.int64) * max(len(ut), 1) + ct, return_inverse=True)
        codes = codes.reshape(-1)
        uniques = [(uy[c // max(len(ut), 1)], ut[c % max(len(ut), 1)]) for c in combos]
        terms = [term_of(y, t) for y, t in uniques]
        starts = pd.Series([pd.Timestamp(t.start) if t else pd.NaT for t in terms], dtype="datetime64[ns]")
        date = pd.Series(starts.to_numpy()[codes], index=frame.index, dtype="datetime64[ns]")
        if w.kind == "terms":
            wanted = set(last_complete_terms(as_of, w.n))
            inside = pd.Series([t in wanted for t in terms], dtype=bool).to_numpy()
            mask = pd.Series(inside[codes] if len(codes) else [], index=frame.index, dtype=bool)
        else:
            mask = pd.Series(True, index=frame.index)
        return mask, date
    if kind in SPAN_FIELDS:
        start_f, end_f = SPAN_FIELDS[kind]
        start = pd.to_datetime(frame[start_f], errors="coerce")
        end = pd.to_datetime(frame[end_f], errors="coerce")
        if w.kind == "any_time":
            return pd.Series(True, index=frame.index), start
        if w.kind == "open":
            first = last = pd.Timestamp(as_of)
        else:
            lo, hi = window_bounds(w, as_of)
            first, last = pd.Timestamp(lo), pd.Timestamp(hi)
        # A claim counts when it was open at any time in the window.
        mask = (start <= last) & (end.isna() | (end >= first))
        return mask.fillna(False).astype(bool), start
    date = pd.to_datetime(frame[AGENCY_KINDS[kind].date_field], errors="coerce")
    if w.kind == "any_time":
        return pd.Series(True, index=frame.index), date
    lo, hi = window_bounds(w, as_of)
    mask = (date >= pd.Timestamp(lo)) & (date <= pd.Timestamp(hi))
    return mask.fillna(False).astype(bool), date


def _evaluate_indicators(criteria_set: CriteriaSet, extracts: dict, kinds: dict, links: "_Links",
                         persons: pd.DataFrame, families: pd.Index, as_of: dt.date, warnings: list[str],
                         workers: int = 1) -> dict[str, "_IndicatorOutcome"]:
    """Every indicator's outcome, in the set's order, with its warnings added in that order
    whether the indicators were evaluated in this process or shared among `workers` forked
    ones (which inherit the frames; only each indicator's outcome comes back)."""
    names = list(criteria_set.indicators)

    def evaluate_some(start: int, stop: int) -> list[tuple["_IndicatorOutcome", list[str]]]:
        done = []
        for name in names[start:stop]:
            said: list[str] = []
            done.append((_evaluate_indicator(criteria_set.indicators[name], extracts, kinds, links, persons,
                                             families, as_of, said), said))
        return done

    outcomes: dict[str, _IndicatorOutcome] = {}
    for (start, stop), part in each_slice(evaluate_some, len(names), min(workers, len(names)),
                                          smallest=INDICATORS_A_SLICE):
        for name, (outcome, said) in zip(names[start:stop], part):
            outcomes[name] = outcome
            warnings.extend(said)
    return outcomes


def _evaluate_indicator(ind: Indicator, extracts: dict, kinds: dict, links: pd.DataFrame,
                        persons: pd.DataFrame, families: pd.Index, as_of: dt.date,
                        warnings: list[str]) -> _IndicatorOutcome:
    sources = [s for s in extracts if kinds.get(s) == ind.agency and (ind.source is None or s == ind.source)]
    none_met = pd.Series(False, index=families)
    if ind.source and ind.source in kinds and kinds[ind.source] != ind.agency:
        warnings.append(f"indicator {ind.name}: source {ind.source} is of kind {kinds[ind.source]} in this "
                        f"run, not {ind.agency}, so the indicator has no data")
    if not sources:
        return _IndicatorOutcome(False, none_met, pd.DataFrame(columns=_IND_EVIDENCE), [])
    kind_fields = {f.name: f for f in fields_for(ind.agency)}
    value_fields = list(dict.fromkeys(ind.threshold.fields + ((ind.threshold.denominator,)
                                                              if ind.threshold.denominator else ())))
    parts = []
    for s in sources:
        frame = extracts[s]
        if frame.empty:
            continue
        missing = [c for c in [cond.field for cond in ind.where] + value_fields + ["record_id"]
                   if c not in frame.columns]
        if missing:
            raise ValueError(f"extract {s} lacks canonical columns {missing}")
        mask = pd.Series(True, index=frame.index)
        for cond in ind.where:
            mask &= _condition_mask(frame, cond, kind_fields)
        if ind.record_role:
            mask &= frame["role"].astype("string").str.lower().isin(list(ind.record_role)).fillna(False).astype(bool)
        in_window, date = _window_rows(frame, ind, as_of)
        mask &= in_window
        if not mask.any():
            continue
        part = pd.DataFrame({"source": s, "record_id": frame.loc[mask, "record_id"].astype(str),
                             "event_date": date[mask]})
        for f in value_fields:
            part[f] = frame.loc[mask, f]
        part["period"] = _period(frame.loc[mask], ind.agency, date[mask])
        described = [f for f in _DESCRIBED_BY.get(ind.agency, ()) if f in frame.columns and f not in value_fields]
        part["_described"] = _joined(frame.loc[mask, described]) if described else ""
        parts.append(part)
    if not parts:
        return _IndicatorOutcome(True, none_met, pd.DataFrame(columns=_IND_EVIDENCE), sources)
    rows = pd.concat(parts, ignore_index=True)
    before = len(rows)
    rows = _join_links(rows, links)
    if len(rows) < before:
        warnings.append(f"indicator {ind.name}: {before - len(rows)} matching record(s) have no "
                        "person in record_links and were not counted")
    rows = rows[rows["person_id"].isin(persons.index)]

    if ind.members != "any":
        if ind.age_at == "event_date":
            dob = pd.Series(persons["dob"].reindex(rows["person_id"]).to_numpy(), index=rows.index)
            age = _age_on(dob, rows["event_date"])
            # Without a dob (or a record date) the age on the reference date decides.
            fallback = pd.Series(persons["child"].reindex(rows["person_id"]).to_numpy(), index=rows.index)
            child = is_child(age).where(age.notna(), fallback).astype(bool)
            rows = rows[child] if ind.members == "children" else rows[~child]
        else:
            col = "child" if ind.members == "children" else "adult"
            rows = rows[persons[col].reindex(rows["person_id"]).to_numpy()]

    group = "person_id" if ind.per == "person" else "family_id"
    t = ind.threshold
    if rows.empty:
        qualifying = pd.Index([])
        evidence_rows = rows
    elif t.kind == "records":
        counts = rows.groupby(group).size()
        qualifying = counts.index[counts >= int(t.at_least)]
        evidence_rows = rows[rows[group].isin(qualifying)]
    elif t.kind == "sum":
        values = pd.to_numeric(rows[t.fields[0]], errors="coerce").fillna(0)
        sums = values.groupby(rows[group]).sum()
        qualifying = sums.index[sums >= float(t.at_least)]
        evidence_rows = rows[rows[group].isin(qualifying) & (values > 0)]
    elif t.kind == "share":
        num = sum(pd.to_numeric(rows[f], errors="coerce").fillna(0) for f in t.fields)
        den = pd.to_numeric(rows[t.denominator], errors="coerce").fillna(0)
        num_sum = num.groupby(rows[group]).sum()
        den_sum = den.groupby(rows[group]).sum()
        # Exact comparison num/den >= p/q as num*q >= p*den (sums of whole sessions).
        ok = (den_sum > 0) & (num_sum * t.at_least.denominator >= den_sum * t.at_least.numerator)
        qualifying = ok.index[ok]
        evidence_rows = rows[rows[group].isin(qualifying)]
    else:  # any_flag
        flagged = pd.Series(False, index=rows.index)
        for f in t.fields:
            flagged |= rows[f].astype("boolean").fillna(False).astype(bool)
        evidence_rows = rows[flagged]
        qualifying = pd.Index(evidence_rows[group].unique())

    met_families = set(evidence_rows.loc[evidence_rows[group].isin(qualifying), "family_id"])
    met = pd.Series(families.isin(list(met_families)), index=families)
    evidence_rows = evidence_rows.assign(value=_value(evidence_rows, t, kind_fields)) if len(evidence_rows) \
        else evidence_rows.assign(value=pd.Series(dtype=object), period=pd.Series(dtype=object))
    ev = evidence_rows.assign(indicator=ind.name)[_IND_EVIDENCE]
    return _IndicatorOutcome(True, met, ev, sources)


def _period(frame: pd.DataFrame, agency: str, date: pd.Series) -> pd.Series:
    """When a record is, as a person would write it: a school row's term ("2025/26 autumn"), a
    claim's span ("from 2026-01-05", "2025-04-01 to 2026-02-28"), else the event's date."""
    iso = date.dt.strftime("%Y-%m-%d").astype(object).where(date.notna(), "")
    if agency == "schools":
        def term(y, t):
            found = term_of(y, t)
            return f"{found.academic_year} {found.name}" if found else ""
        pairs = pd.Series(list(zip(frame["academic_year"].astype(object), frame["term"].astype(object))),
                          index=frame.index)
        return pairs.map({p: term(*p) for p in set(pairs)})
    if agency in SPAN_FIELDS:
        end = pd.to_datetime(frame[SPAN_FIELDS[agency][1]], errors="coerce")
        end_iso = end.dt.strftime("%Y-%m-%d").astype(object).where(end.notna(), "")
        return ("from " + iso).where(end.isna(), iso + " to " + end_iso)
    return iso


def _joined(frame: pd.DataFrame) -> pd.Series:
    """The non-blank values of each row, joined with ", " (e.g. "offence, violence, charged")."""
    said = frame.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else _SAID[col.name](v))
                       if col.name in _SAID else col)
    text = said.astype("string").fillna("").apply(lambda col: col.str.replace("_", " ").str.strip())
    out = pd.Series("", index=frame.index, dtype=object)
    for col in text.columns:
        v = text[col]
        out = out.where(v == "", out.where(out == "", out + ", ") + v)
    return out


def _value(rows: pd.DataFrame, t, kind_fields: dict) -> pd.Series:
    """The value behind the tick, as a key worker reads it: a term's absence ("12.5% of sessions
    (10 of 80)"), a count or an amount ("fixed term exclusions 2", "rent arrears gbp 1,250.00"),
    the flag that was set, and what the record is (its event type, category, outcome, role)."""
    def name(f: str) -> str:
        return f.replace("_", " ")

    if t.kind == "share":
        num = sum(pd.to_numeric(rows[f], errors="coerce").fillna(0) for f in t.fields)
        den = pd.to_numeric(rows[t.denominator], errors="coerce")
        pct = (100 * num / den.where(den > 0)).round(1)
        text = (pct.map(lambda v: "" if pd.isna(v) else f"{v:.1f}%") + " of " + name(t.denominator) + " ("
                + num.astype("Int64").astype(str) + " of " + den.astype("Int64").astype(str) + ")")
        value = text.where(pct.notna(), "")
    elif t.kind == "sum":
        f = t.fields[0]
        v = pd.to_numeric(rows[f], errors="coerce")
        money = kind_fields.get(f) is not None and kind_fields[f].kind == "money"
        value = (name(f) + " " + v.map(lambda x: "" if pd.isna(x) else (f"{x:,.2f}" if money else f"{x:,.0f}"))
                 ).where(v.notna(), "")
    elif t.kind == "any_flag":
        value = pd.Series("", index=rows.index, dtype=object)
        for f in t.fields:
            on = rows[f].astype("boolean").fillna(False).astype(bool)
            value = value.where(~on, value.where(value == "", value + ", ") + name(f))
    else:
        value = pd.Series("", index=rows.index, dtype=object)
    described = rows["_described"] if "_described" in rows else pd.Series("", index=rows.index)
    both = (value != "") & (described != "")
    return value.where(~both, value + "; " + described).where(value != "", described).astype(object)


class _Links:
    """record_links (source, record_id, person_id, family_id) with a lookup per source, made
    once for all indicators: joining an indicator's rows is then a lookup of their record_ids,
    not a merge that hashes every link again."""

    def __init__(self, links: pd.DataFrame):
        self.frame = links
        self.unique = not links.duplicated(["source", "record_id"]).any()
        self.by_source: dict[str, tuple[pd.Index, np.ndarray]] = {}
        if self.unique:
            codes, names = pd.factorize(links["source"])
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
            rid = links["record_id"].to_numpy()
            for k, name in enumerate(names):
                pos = order[bounds[k]:bounds[k + 1]]
                self.by_source[name] = (pd.Index(rid[pos]), pos)


def _join_links(rows: pd.DataFrame, links: "_Links | pd.DataFrame") -> pd.DataFrame:
    """rows (source, record_id, ...) inner-joined to their person and family: what
    rows.merge(links, on=["source", "record_id"], how="inner") gives."""
    if isinstance(links, pd.DataFrame) or not links.unique:
        frame = links if isinstance(links, pd.DataFrame) else links.frame
        return rows.merge(frame, on=["source", "record_id"], how="inner")
    at = np.full(len(rows), -1, dtype=np.int64)
    src = rows["source"].to_numpy()
    rid = rows["record_id"].to_numpy()
    for name in pd.unique(src):
        if name not in links.by_source:
            continue
        index, pos = links.by_source[name]
        mine = np.flatnonzero(src == name)
        found = index.get_indexer(rid[mine])
        at[mine[found >= 0]] = pos[found[found >= 0]]
    keep = np.flatnonzero(at >= 0)
    out = rows.iloc[keep].reset_index(drop=True)
    extra = [c for c in links.frame.columns if c not in ("source", "record_id")]
    for c in extra:
        out[c] = links.frame[c].to_numpy()[at[keep]]
    return out


def _rule_value(node: RuleNode, crit: pd.DataFrame, cond: dict[str, pd.Series],
                ind_met: pd.DataFrame, criteria_set: CriteriaSet) -> pd.Series:
    if isinstance(node, str):
        if node in cond:
            return cond[node]
        return crit[node].fillna(0).astype(int) == 1  # no data counts as not met
    if isinstance(node, AllOf):
        out = pd.Series(True, index=crit.index)
        for item in node.items:
            out &= _rule_value(item, crit, cond, ind_met, criteria_set)
        return out
    if isinstance(node, AnyOf):
        out = pd.Series(False, index=crit.index)
        for item in node.items:
            out |= _rule_value(item, crit, cond, ind_met, criteria_set)
        return out
    if node.counting == "indicators":
        names = list(dict.fromkeys(i for c in node.items for i in criteria_set.criteria[c].indicators))
        count = ind_met[names].fillna(0).astype(int).sum(axis=1)
    else:
        count = sum(_rule_value(item, crit, cond, ind_met, criteria_set).astype(int) for item in node.items)
    return count >= node.n


def _demand_condition(fc, ranked: pd.DataFrame) -> pd.Series:
    """Every part of a condition on demand that is given, met."""
    value = pd.Series(True, index=ranked.index)
    if fc.agencies_at_least is not None:
        value &= ranked["agencies_involved"].astype(int) >= fc.agencies_at_least
    if fc.cost_at_least is not None:
        value &= ranked["estimated_cost"].astype(float) >= float(fc.cost_at_least)
    if fc.cost_top_percent is not None:
        value &= in_top_percent(ranked["rank"], ranked["estimated_cost"], float(fc.cost_top_percent))
    return value


def _postcode_districts(family_ids: pd.Series, postcodes: pd.Series) -> pd.Series:
    """family_id -> outward code of the family's most common member postcode (ties: the
    alphabetically first)."""
    pc = postcodes.astype("string").str.strip().str.upper()
    df = pd.DataFrame({"family_id": family_ids.to_numpy(), "pc": pc.to_numpy()}).dropna()
    df = df[df["pc"] != ""]
    if df.empty:
        return pd.Series(dtype=object)
    counts = df.groupby(["family_id", "pc"]).size().rename("n").reset_index()
    best = (counts.sort_values(["family_id", "n", "pc"], ascending=[True, False, True])
            .drop_duplicates("family_id").set_index("family_id")["pc"])
    compact = best.str.replace(" ", "", regex=False)
    outward = best.str.split(" ").str[0].where(best.str.contains(" "), compact.str[:-3].where(compact.str.len() > 3, compact))
    return outward.astype(object)


def score_families(extracts: dict[str, pd.DataFrame], kinds: dict[str, str], record_links: pd.DataFrame,
                   members: pd.DataFrame, criteria_set: CriteriaSet, as_of,
                   demand: pd.DataFrame | None = None, workers: int = 1) -> CriteriaResult:
    """The need matrix, evidence, no-data list and summary for every family in `members`.
    `demand` (family_id, agencies_involved, agencies, estimated_cost; criteria.demand) adds
    those columns and each family's rank and top_share band, and is what conditions on demand
    read. The indicators are shared among `workers` processes (each is evaluated on its own:
    the result is the same for any number)."""
    as_of = _as_date(as_of)
    warnings: list[str] = []
    members = members.copy()
    families = pd.Index(pd.unique(members["family_id"]), name="family_id")
    persons = _persons(members, as_of)
    links = record_links[["source", "record_id", "person_id", "family_id"]].copy()
    links["record_id"] = links["record_id"].astype(str)
    links["source"] = links["source"].astype(str)
    # The family comes from members (the family-forming stage); links only name the person.
    links = links.drop(columns="family_id").merge(persons[["family_id"]], left_on="person_id",
                                                  right_index=True, how="inner")
    links = _Links(links)

    outcomes = _evaluate_indicators(criteria_set, extracts, kinds, links, persons, families, as_of, warnings,
                                    workers)
    ind_met = pd.DataFrame(index=families)
    for name, o in outcomes.items():
        ind_met[name] = o.met.astype("Int64") if o.has_data else pd.Series(pd.NA, index=families, dtype="Int64")

    crit = pd.DataFrame(index=families)
    summary_rows = []
    for c_name, c in criteria_set.criteria.items():
        with_data = [i for i in c.indicators if outcomes[i].has_data]
        if with_data:
            crit[c_name] = ind_met[with_data].fillna(0).max(axis=1).astype("Int64")
        else:
            crit[c_name] = pd.Series(pd.NA, index=families, dtype="Int64")
        without = [i for i in c.indicators if not outcomes[i].has_data]
        status = "no data" if not with_data else ("partial data" if without else "data")
        summary_rows.append({
            "criterion": c_name, "title": c.title,
            "families_meeting": int((crit[c_name] == 1).sum()) if with_data else pd.NA,
            "status": status,
            "sources": ";".join(sorted({s for i in with_data for s in outcomes[i].sources})),
            "indicators_without_data": ";".join(without),
        })

    criteria_met = (crit == 1).sum(axis=1).astype("Int64")
    ranked = None
    if demand is not None:
        d = demand.set_index("family_id").reindex(families)
        d["agencies_involved"] = d["agencies_involved"].fillna(0).astype("Int64")
        d["agencies"] = d["agencies"].fillna("")
        d["estimated_cost"] = d["estimated_cost"].fillna(0.0)
        ranked = rank_families(pd.Series(families), d["estimated_cost"], d["agencies_involved"],
                               criteria_met.reindex(families)).set_index("family_id")
        ranked = d[["agencies_involved", "agencies", "estimated_cost"]].join(ranked)
    cond: dict[str, pd.Series] = {}
    age_or_role = persons.reset_index()
    for f_name, fc in criteria_set.conditions.items():
        if fc.on_demand:
            if ranked is None:
                raise ValueError(f"condition {f_name} is on service demand, but no demand was counted")
            cond[f_name] = _demand_condition(fc, ranked)
            continue
        value = pd.Series(False, index=families)
        if fc.children_under is not None:
            under = (age_or_role["age"] < fc.children_under).where(age_or_role["age"].notna(),
                                                                  age_or_role["child"])
            with_child = set(age_or_role.loc[under.astype(bool), "family_id"])
            value |= pd.Series(families.isin(list(with_child)), index=families)
        for i in fc.or_indicators:
            value |= ind_met[i].fillna(0).astype(int) == 1
        cond[f_name] = value

    eligible = _rule_value(criteria_set.rule, crit, cond, ind_met, criteria_set)

    roles = members.drop_duplicates("person_id").set_index("person_id")
    counts = pd.DataFrame({
        "members": roles.groupby("family_id").size(),
        "adults": persons.groupby("family_id")["adult"].sum(),
        "children": persons.groupby("family_id")["child"].sum(),
    }).reindex(families).fillna(0).astype("Int64")
    districts = (_postcode_districts(roles["family_id"], roles["postcode"])
                 if "postcode" in roles else pd.Series(dtype=object))
    matrix = pd.DataFrame({"family_id": families})
    matrix["members"] = counts["members"].to_numpy()
    matrix["adults"] = counts["adults"].to_numpy()
    matrix["children"] = counts["children"].to_numpy()
    matrix["postcode_district"] = districts.reindex(families).to_numpy()
    for c_name in criteria_set.criteria:
        matrix[c_name] = crit[c_name].to_numpy()
    matrix["criteria_met"] = criteria_met.to_numpy()
    matrix["eligible"] = eligible.astype("Int64").to_numpy()
    if ranked is not None:
        for col in ("agencies_involved", "agencies", "estimated_cost", "rank", "top_share"):
            matrix[col] = ranked[col].to_numpy()

    ev_parts = []
    for c_name, c in criteria_set.criteria.items():
        for i in c.indicators:
            ev = outcomes[i].evidence
            if len(ev):
                ev_parts.append(ev.assign(criterion=c_name))
    if ev_parts:
        evidence = pd.concat(ev_parts, ignore_index=True)[EVIDENCE_COLUMNS]
        order = {f: n for n, f in enumerate(families)}
        c_order = {c: n for n, c in enumerate(criteria_set.criteria)}
        evidence = (evidence.assign(_f=evidence["family_id"].map(order), _c=evidence["criterion"].map(c_order))
                    .sort_values(["_f", "_c", "indicator", "source", "record_id"], kind="stable")
                    .drop(columns=["_f", "_c"]).drop_duplicates().reset_index(drop=True))
        evidence["event_date"] = pd.to_datetime(evidence["event_date"])
    else:
        evidence = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "event_date" else object)
                                 for c in EVIDENCE_COLUMNS})

    no_data = [r["criterion"] for r in summary_rows if r["status"] == "no data"]
    summary_rows.append({"criterion": "eligible", "title": "Eligible under the family rule",
                         "families_meeting": int(eligible.sum()), "status": "",
                         "sources": "", "indicators_without_data": ""})
    summary = pd.DataFrame(summary_rows)
    summary["families_meeting"] = summary["families_meeting"].astype("Int64")
    summary.insert(3, "families", len(families))

    return CriteriaResult(need_matrix=matrix, evidence=evidence, no_data=no_data, summary=summary,
                          indicators=ind_met.reset_index(), warnings=warnings)

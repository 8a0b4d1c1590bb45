"""Outcome tracking for payment-by-results claims: outcome measures read from YAML beside a criteria
set, judged for each tracked family from its baseline to the reference date, and the claims they back.

Nothing is stored between quarters but the baselines: agency extracts are rolling (they hold years
of events), so every earlier reference date (the baseline, each month or term end since) is judged
again from the current extracts with the criteria engine."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Optional

import pandas as pd
from pydantic import AfterValidator, BeforeValidator, ValidationInfo, model_validator

from criteria.engine import _as_date, score_families
from criteria.language import (SETS_DIR, SETTINGS_DEFAULTS, CriteriaSet, Criterion, Indicator, IndicatorRules,
                               Names, _Rules, indicators_from_rules, load_criteria, not_empty, rules_data)
from criteria.terms import Term, term_containing
from schemas.config_models import Choice, Text, Whole, check, invalid, under, whole_check, word_or
from schemas.errors import ConfigError, InputDataError
from schemas.yaml_loading import YamlDocument, load_yaml_file, parse_yaml

OUTCOMES_SUFFIX = ".outcomes.yaml"
CHECKED = ("month", "term")
BASELINE_SOURCES = ("first_eligible", "case_start")
BASELINE_COLUMNS = ["family_id", "baseline_date", "baseline_source"]
OUTCOME_COLUMNS = ["family_id", "baseline_date", "measure", "title", "baseline_value", "current_value",
                   "met", "met_since", "sustained", "sustained_since"]
CLAIM_COLUMNS = ["family_id", "baseline_date", "claim_route", "measures"]
EVIDENCE_COLUMNS = ["family_id", "measure", "person_id", "source", "record_id", "event_date"]
_DATE_COLUMNS = {"baseline_date", "met_since", "sustained_since", "event_date"}


# ---------------------------------------------------------------------------------------------
# The parsed definition

@dataclass(frozen=True)
class Sustain:
    """How long a measure must hold without a break: unit none (met on the day is enough),
    months (at every monthly checkpoint over the last n months) or terms (n consecutive terms)."""
    unit: str = "none"
    n: int = 0


@dataclass(frozen=True)
class Measure:
    """One outcome measure. form:
    - state: met when none of `none_of` is met (and, if given, at least one of `any_of` is);
      its value is the number of `none_of` items met;
    - reduce: the records counted by indicator `count` in its window ending on the day are at most
      (1 - by_at_least) times those in the window ending on the baseline date, which had some.
    `applies_when`: items of which at least one must be met on the baseline date for the measure to
    apply to a family (default: the measure's own problem was present at baseline)."""
    name: str
    title: str
    form: str
    description: str = ""
    none_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    count: str | None = None
    by_at_least: Fraction = Fraction(0)
    applies_when: tuple[str, ...] = ()
    checked: str = "month"
    sustain: Sustain = Sustain()


@dataclass(frozen=True)
class ClaimRoute:
    """A way to qualify for a results claim. all_of: every listed measure applies and is sustained.
    every_applicable: every listed measure that applies is sustained, and at least one applies."""
    name: str
    title: str
    form: str
    measures: tuple[str, ...]


@dataclass(frozen=True)
class OutcomeSet:
    name: str
    title: str
    description: str
    criteria_name: str
    indicators: dict[str, Indicator]       # the outcome file's own indicators
    measures: dict[str, Measure]
    routes: dict[str, ClaimRoute]
    settings: dict[str, int] = field(default_factory=dict)
    source_file: str = ""


# ---------------------------------------------------------------------------------------------
# Loading

def outcomes_file(criteria_name_or_path: str | Path) -> tuple[Path, str] | None:
    """(path, origin) of the outcome rules that go with a criteria set, or None when it has none:
    `criteria/sets/<name>.outcomes.yaml` for a built-in set, `X.outcomes.yaml` beside a council's
    `X.yaml`."""
    text = str(criteria_name_or_path)
    if "/" not in text and "\\" not in text and (SETS_DIR / f"{text}.yaml").is_file():
        path = SETS_DIR / f"{text}{OUTCOMES_SUFFIX}"
        return (path, f"built-in outcome rules {text}") if path.is_file() else None
    p = Path(text)
    stem = p.name[: -len(p.suffix)] if p.suffix.lower() in (".yaml", ".yml") else p.name
    path = p.with_name(stem + OUTCOMES_SUFFIX)
    return (path, str(path)) if path.is_file() else None


def load_outcomes(criteria_name_or_path: str | Path, settings: dict[str, Any] | None = None,
                  criteria_set: CriteriaSet | None = None) -> OutcomeSet | None:
    """The outcome rules that go with a criteria set (a built-in name or a path), or None when the
    set has none. Names in the rules are checked against the criteria set (loaded here unless
    given). `settings` override the file's settings (e.g. {"sustain_months": 9})."""
    found = outcomes_file(criteria_name_or_path)
    if found is None:
        return None
    path, origin = found
    doc = load_yaml_file(path, "outcome rules file", origin)   # bounded: size, aliases, nodes
    cs = criteria_set if criteria_set is not None else load_criteria(criteria_name_or_path)
    return parse_outcomes(doc, cs, origin, settings=settings)


def _share_fraction(value: Any) -> Fraction:
    """A fraction above 0 and at most 1 (0.6, 1/3)."""
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        frac = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise invalid("expected a fraction such as 0.6 or 1/3") from None
    if not 0 < frac <= 1:
        raise invalid("must be above 0 and at most 1")
    return frac


class _Reduce(_Rules):
    takes = "reduce takes"
    count: Text
    by_at_least: Annotated[Any, BeforeValidator(_share_fraction)]


def _months_or_setting(value: Any) -> Any:
    """A whole number, or the name of one of the file's settings (sustain_months)."""
    return value if isinstance(value, str) else whole_check(0)(value)


class _Sustain(_Rules):
    takes = "sustain takes"
    months: Optional[Annotated[Any, BeforeValidator(_months_or_setting)]] = None
    terms: Optional[Annotated[Any, BeforeValidator(_months_or_setting)]] = None

    @model_validator(mode="after")
    def _one(self) -> "_Sustain":
        if len(self.model_fields_set) != 1:
            raise invalid("give exactly one of months, terms (or none)")
        return self


class _Measure(_Rules):
    takes = "a measure takes"
    title: Optional[Text] = None
    description: Optional[Text] = None
    applies_when: Optional[Names] = None
    none_of: Optional[Names] = None
    any_of: Optional[Names] = None
    reduce: Optional[_Reduce] = None
    checked: Choice(*CHECKED) = "month"
    sustain: Optional[word_or(_Sustain, Text)] = None

    @model_validator(mode="after")
    def _one_form(self) -> "_Measure":
        state = self.none_of is not None or self.any_of is not None
        if self.reduce is not None and state:
            raise invalid("give none_of/any_of or reduce, not both")
        if self.reduce is None and not state:
            raise invalid("give none_of/any_of or reduce")
        if state and self.none_of is None and self.applies_when is None:
            raise invalid("a measure with only any_of needs applies_when (which problem it answers)")
        return self


class _Route(_Rules):
    takes = "a claim route takes"
    title: Optional[Text] = None
    all_of: Optional[Names] = None
    every_applicable: Optional[Names] = None

    @model_validator(mode="after")
    def _one_form(self) -> "_Route":
        if (self.all_of is None) == (self.every_applicable is None):
            raise invalid("give exactly one of all_of, every_applicable")
        return self


class _OutcomesFile(_Rules):
    takes = "outcome rules take"
    name: Optional[Text] = None
    title: Optional[Text] = None
    description: Optional[Text] = None
    settings: dict[str, Whole(0)] = {}
    # The file's own indicators as the engine reads them, once checked against their agencies.
    indicators: Annotated[dict[str, IndicatorRules], AfterValidator(indicators_from_rules)] = {}
    measures: Annotated[dict[str, _Measure], not_empty("measure")]
    claim_routes: Annotated[dict[str, _Route], not_empty("claim route")]


def parse_outcomes(text: str | YamlDocument, criteria_set: CriteriaSet, origin: str = "<outcomes>",
                   settings: dict[str, Any] | None = None) -> OutcomeSet:
    doc = text if isinstance(text, YamlDocument) else parse_yaml(text, origin)
    context = {"criteria_set": criteria_set, "settings": settings or {}, "origin": origin}
    return check(_OutcomeSet, rules_data(doc), doc, context=context, origin=origin)


def _outcome_set(f: _OutcomesFile, info: ValidationInfo) -> OutcomeSet:
    cs, origin = info.context["criteria_set"], info.context["origin"]
    merged = dict(f.settings)
    for s_name, value in info.context["settings"].items():
        if s_name not in merged:
            raise ConfigError(f"{origin}: unknown outcome setting {s_name} "
                              f"(allowed: {', '.join(merged) or 'none'})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{origin}: outcome setting {s_name} must be a whole number of at least 0")
        merged[s_name] = value
    for i_name in f.indicators:
        if i_name in cs.indicators:
            raise invalid(f"already an indicator of criteria set {cs.name}: choose another name", ("indicators", i_name))
    known = {**cs.indicators, **f.indicators}
    measures = {n: under("measures", under, n, _measure, n, m, cs, known, merged) for n, m in f.measures.items()}
    routes: dict[str, ClaimRoute] = {}
    for r_name, r in f.claim_routes.items():
        form = "all_of" if r.all_of is not None else "every_applicable"
        for i, m_name in enumerate(getattr(r, form)):
            if m_name not in measures:
                raise invalid(f"unknown measure {m_name}", ("claim_routes", r_name, form, i))
        routes[r_name] = ClaimRoute(r_name, r.title or r_name, form, tuple(dict.fromkeys(getattr(r, form))))
    used = {i for m in measures.values() for i in _measure_indicators(m, cs)}
    for i_name in f.indicators:
        if i_name not in used:
            raise invalid("not used by any measure", ("indicators", i_name))
    name = f.name or cs.name
    return OutcomeSet(name=name, title=f.title or name, description=f.description or "", criteria_name=cs.name,
                      indicators=f.indicators, measures=measures, routes=routes, settings=merged,
                      source_file=origin)


_OutcomeSet = Annotated[_OutcomesFile, AfterValidator(_outcome_set)]


def _measure(name: str, m: _Measure, cs: CriteriaSet, indicators: dict[str, Indicator],
             settings: dict[str, int]) -> Measure:
    def items(key: str) -> tuple[str, ...]:
        names = getattr(m, key) or ()
        for i, i_name in enumerate(names):
            if i_name not in cs.criteria and i_name not in indicators:
                raise invalid(f"unknown criterion or indicator {i_name}", (key, i))
        return tuple(dict.fromkeys(names))

    kwargs: dict[str, Any] = {}
    if m.reduce is not None:
        form, count = "reduce", m.reduce.count
        if count not in indicators:
            raise invalid(f"unknown indicator {count}", ("reduce", "count"))
        ind = indicators[count]
        if ind.threshold.kind != "records" or ind.threshold.at_least != 1:
            raise invalid(f"indicator {count} must count records (threshold at_least_records: 1)", ("reduce", "count"))
        if ind.window.kind not in ("months", "days"):
            raise invalid(f"indicator {count} needs a last_months or last_days window to compare periods",
                          ("reduce", "count"))
        kwargs.update(count=count, by_at_least=m.reduce.by_at_least)
    else:
        form = "state"
        kwargs.update(none_of=items("none_of"), any_of=items("any_of"))
    sustain = under("sustain", _sustain, m.sustain, m.checked, settings) if m.sustain is not None else Sustain()
    return Measure(name=name, title=m.title or name, form=form, description=m.description or "",
                   applies_when=items("applies_when"), checked=m.checked, sustain=sustain, **kwargs)


def _sustain(s: _Sustain | str, checked: str, settings: dict[str, int]) -> Sustain:
    if isinstance(s, str):
        if s != "none":
            raise invalid("must be none, {months: N} or {terms: N}")
        return Sustain()
    unit = "months" if s.months is not None else "terms"
    value = getattr(s, unit)
    if (unit == "terms") != (checked == "term"):
        raise invalid(f"a measure checked each {checked} is sustained in {'terms' if checked == 'term' else 'months'}",
                      (unit,))
    if isinstance(value, str):
        if value not in settings:
            raise invalid(f"unknown setting {value}", (unit,))
        value = settings[value]
    return Sustain(unit, value) if value else Sustain()


def _expand(item: str, cs: CriteriaSet) -> tuple[str, ...]:
    """The indicators an item stands for: a criterion of the set (it wins over an indicator of the
    same name) or one indicator."""
    return cs.criteria[item].indicators if item in cs.criteria else (item,)


def _measure_indicators(m: Measure, cs: CriteriaSet) -> list[str]:
    names = [i for item in m.none_of + m.any_of + m.applies_when for i in _expand(item, cs)]
    names += [m.count] if m.count else []
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------------------------
# Baselines

def next_baselines(need_matrix: pd.DataFrame, previous_baselines: pd.DataFrame | None, as_of,
                   case_starts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The baselines to carry to the next quarter: the previous ones, plus every family eligible now
    that has none (baseline_date = as_of, source first_eligible); a council's case starts
    (`family_id, baseline_date`, e.g. from baseline.csv) override both, with source case_start."""
    as_of = pd.Timestamp(_as_date(as_of))
    prev = _empty_baselines() if previous_baselines is None else _normalise_baselines(previous_baselines)
    eligible = need_matrix.loc[pd.to_numeric(need_matrix["eligible"], errors="coerce") == 1, "family_id"]
    new_ids = pd.Index(pd.unique(eligible.astype(str))).difference(pd.Index(prev["family_id"]))
    new = pd.DataFrame({"family_id": list(new_ids), "baseline_date": as_of, "baseline_source": "first_eligible"})
    out = pd.concat([f for f in (prev, new) if len(f)], ignore_index=True) if len(prev) or len(new) else prev
    if case_starts is not None and len(case_starts):
        cases = pd.DataFrame({"family_id": case_starts["family_id"].astype(str),
                              "baseline_date": pd.to_datetime(case_starts["baseline_date"]),
                              "baseline_source": "case_start"}).drop_duplicates("family_id", keep="last")
        out = pd.concat([out[~out["family_id"].isin(cases["family_id"])], cases], ignore_index=True)
    out["baseline_date"] = pd.to_datetime(out["baseline_date"]).astype("datetime64[ns]")
    return out.sort_values("family_id", kind="stable").reset_index(drop=True)[BASELINE_COLUMNS]


def parse_case_starts(frame: pd.DataFrame, origin: str = "baseline.csv") -> pd.DataFrame:
    """A council's case starts as read from a CSV (text columns `family_id, baseline_date`, the
    header on line 1) checked row by row: `family_id, baseline_date`. Errors name the row, never
    a value."""
    missing = [c for c in ("family_id", "baseline_date") if c not in frame.columns]
    if missing:
        raise InputDataError(f"{origin}: missing column(s) {', '.join(missing)}")
    ids = frame["family_id"].astype("string").str.strip()
    text = frame["baseline_date"].astype("string").str.strip()
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    dates = iso.fillna(dmy)
    for i in range(len(frame)):
        row = i + 2
        if pd.isna(ids.iloc[i]) or ids.iloc[i] == "":
            raise InputDataError(f"{origin}, row {row}, column family_id: blank")
        if pd.isna(dates.iloc[i]):
            raise InputDataError(f"{origin}, row {row}, column baseline_date: not a date (use YYYY-MM-DD or dd/mm/yyyy)")
    dup = ids.duplicated(keep="first")
    if dup.any():
        raise InputDataError(f"{origin}, row {int(dup.to_numpy().argmax()) + 2}, column family_id: "
                             "the family is listed twice")
    return pd.DataFrame({"family_id": ids.astype(str).to_numpy(), "baseline_date": dates.to_numpy()})


def _empty_baselines() -> pd.DataFrame:
    return pd.DataFrame({"family_id": pd.Series(dtype=object),
                         "baseline_date": pd.Series(dtype="datetime64[ns]"),
                         "baseline_source": pd.Series(dtype=object)})


def _normalise_baselines(b: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"family_id": b["family_id"].astype(str),
                        "baseline_date": pd.to_datetime(b["baseline_date"]).astype("datetime64[ns]"),
                        "baseline_source": (b["baseline_source"].astype(object) if "baseline_source" in b
                                            else "first_eligible")})
    return out.dropna(subset=["baseline_date"]).drop_duplicates("family_id", keep="last").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Tracking

@dataclass(frozen=True)
class OutcomeResult:
    outcomes: pd.DataFrame
    claims: pd.DataFrame
    evidence: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    # The baselines helper, here too so a caller holding the result finds it.
    next_baselines = staticmethod(next_baselines)


@dataclass
class _Snapshot:
    met: pd.DataFrame         # family_id x indicator: 1, 0, or NA for no data
    evidence: pd.DataFrame    # family_id, indicator, person_id, source, record_id, event_date


class _Judge:
    """Evaluates indicators at any reference date for a subset of the tracked families."""

    def __init__(self, extracts, kinds, record_links, members, indicators: dict[str, Indicator]):
        self.kinds = kinds
        self.indicators = indicators
        self.members = members
        links = record_links[["source", "record_id", "person_id"]].copy()
        links["source"] = links["source"].astype(str)
        links["record_id"] = links["record_id"].astype(str)
        links = links[links["person_id"].isin(set(members["person_id"]))]
        self.links = links.assign(family_id="")
        # Only the tracked families' records: every date is then judged on a small frame.
        self.extracts = {}
        for s, frame in extracts.items():
            keep = set(links.loc[links["source"] == s, "record_id"])
            self.extracts[s] = frame[frame["record_id"].astype(str).isin(keep)] if keep else frame.iloc[0:0]
        self.warnings: list[str] = []

    def at(self, day: dt.date, families: list[str], names: list[str]) -> _Snapshot:
        names = list(dict.fromkeys(names))
        inds = {n: self.indicators[n] for n in names}
        cs = CriteriaSet(name="outcomes", title="", description="", indicators=inds,
                         criteria={n: Criterion(n, n, (n,)) for n in inds}, conditions={}, rule=names[0],
                         settings=dict(SETTINGS_DEFAULTS))
        members, links, extracts = self.members, self.links, self.extracts
        wanted = set(families)
        if len(wanted) < members["family_id"].nunique():
            # Only these families' records, so that none of them is left without its person.
            members = members[members["family_id"].isin(wanted)]
            links = links[links["person_id"].isin(set(members["person_id"]))]
            extracts = {s: f[f["record_id"].astype(str).isin(set(links.loc[links["source"] == s, "record_id"]))]
                        for s, f in extracts.items()}
        res = score_families(extracts, self.kinds, links, members, cs, day)
        for w in res.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        # Each indicator is its own criterion here, so the two evidence columns agree.
        return _Snapshot(res.indicators.set_index("family_id"), res.evidence.drop(columns="criterion"))


def _checkpoints(kind: str, first_baseline: dt.date, as_of: dt.date) -> list[dt.date]:
    """Dates after the earliest baseline at which measures are judged, oldest first: the same day
    of each month going back from the reference date (so 'six months' is exactly six checkpoints
    back), or the last day of each school term."""
    if kind == "month":
        out, k = [], 0
        while True:
            day = (pd.Timestamp(as_of) - pd.DateOffset(months=k)).date()
            if day <= first_baseline:
                break
            out.append(day)
            k += 1
        return out[::-1]
    term = term_containing(first_baseline)
    out = []
    while term.end <= as_of:
        if term.end > first_baseline:
            out.append(term.end)
        term = Term.from_ordinal(term.ordinal + 1)
    return out


def _item_values(snap: _Snapshot, items: tuple[str, ...], cs: CriteriaSet, families) -> pd.DataFrame:
    """family x item: 1, 0 or NA (no data), a criterion being met when any of its indicators is."""
    out = pd.DataFrame(index=pd.Index(families, name="family_id"))
    met = snap.met.reindex(out.index)
    for item in items:
        cols = met[list(_expand(item, cs))]
        known = cols.notna().any(axis=1)
        out[item] = cols.fillna(0).max(axis=1).astype("Int64").where(known, pd.NA)
    return out


class _MeasureJudge:
    """One measure's value and met flag at a snapshot, per family."""

    def __init__(self, m: Measure, cs: CriteriaSet):
        self.m, self.cs = m, cs

    def baseline_names(self) -> list[str]:
        m = self.m
        names = [i for item in m.applies_when + m.none_of + m.any_of for i in _expand(item, self.cs)]
        names += [m.count] if m.count else []
        return names

    def checkpoint_names(self) -> list[str]:
        m = self.m
        names = [i for item in m.none_of + m.any_of for i in _expand(item, self.cs)]
        names += [m.count] if m.count else []
        return names

    def value(self, snap: _Snapshot, families, base: pd.DataFrame | None = None) -> tuple[pd.Series, pd.Series]:
        """(value, met) per family; `base` is the baseline frame (column value) for a reduce measure."""
        m = self.m
        idx = pd.Index(families, name="family_id")
        if m.form == "state":
            v = _item_values(snap, m.none_of, self.cs, idx) if m.none_of else pd.DataFrame(index=idx)
            value = v.fillna(0).sum(axis=1).astype("Int64") if m.none_of else pd.Series(0, index=idx, dtype="Int64")
            known = v.notna().any(axis=1) if m.none_of else pd.Series(False, index=idx)
            ok = value == 0
            if m.any_of:
                a = _item_values(snap, m.any_of, self.cs, idx)
                ok &= (a.fillna(0) == 1).any(axis=1)
                known |= a.notna().any(axis=1)
            return value.where(known, pd.NA), (ok & known).astype(bool)
        known = snap.met.reindex(idx)[m.count].notna()
        ev = snap.evidence[snap.evidence["indicator"] == m.count]
        count = ev.groupby("family_id").size().reindex(idx).fillna(0).astype("Int64")
        if base is None:
            return count.where(known, pd.NA), pd.Series(False, index=idx)
        b = base["value"].reindex(idx)
        by = m.by_at_least
        ok = (count * by.denominator <= b * (by.denominator - by.numerator)) & (b > 0) & known
        return count.where(known, pd.NA), ok.fillna(False).astype(bool)


def track_outcomes(extracts: dict[str, pd.DataFrame], kinds: dict[str, str], record_links: pd.DataFrame,
                   members: pd.DataFrame, criteria_set: CriteriaSet, outcome_set: OutcomeSet, as_of,
                   baselines: pd.DataFrame) -> OutcomeResult:
    """For every family in `baselines` and `members`: each measure that applies to it (its baseline
    value and current value, whether met and since when, whether sustained and since when), the
    families that qualify for a results claim, and the records backing each claim."""
    as_of = _as_date(as_of)
    warnings: list[str] = []
    missing = [n for m in outcome_set.measures.values() for item in m.none_of + m.any_of + m.applies_when
               for n in [item] if n not in criteria_set.criteria and n not in criteria_set.indicators
               and n not in outcome_set.indicators]
    missing += [m.count for m in outcome_set.measures.values()
                if m.count and m.count not in criteria_set.indicators and m.count not in outcome_set.indicators]
    if missing:
        raise ConfigError(f"{outcome_set.source_file}: names not in criteria set {criteria_set.name}: "
                          f"{', '.join(sorted(set(missing)))}")

    b = _normalise_baselines(baselines) if len(baselines) else _empty_baselines()
    known_families = set(members["family_id"].astype(str))
    unknown = ~b["family_id"].isin(known_families)
    if unknown.any():
        warnings.append(f"{int(unknown.sum())} baseline(s) name a family not in this run and are not tracked")
    future = b["baseline_date"].dt.date > as_of
    if (future & ~unknown).any():
        warnings.append(f"{int((future & ~unknown).sum())} baseline(s) fall after the reference date and "
                        "are not tracked yet")
    b = b[~unknown & ~future].reset_index(drop=True)
    if b.empty:
        return OutcomeResult(_empty(OUTCOME_COLUMNS), _empty(CLAIM_COLUMNS), _empty(EVIDENCE_COLUMNS), warnings)

    mem = members[members["family_id"].astype(str).isin(set(b["family_id"]))].copy()
    mem["family_id"] = mem["family_id"].astype(str)
    if "age" in mem.columns and "dob" in mem.columns:
        # Ages are judged at each earlier date from the dob; the run's age column only stands in
        # where no dob is known.
        mem["age"] = mem["age"].astype("Float64").where(pd.to_datetime(mem["dob"], errors="coerce").isna())
    judge = _Judge(extracts, kinds, record_links, mem,
                   {**criteria_set.indicators, **outcome_set.indicators})
    mjudges = {n: _MeasureJudge(m, criteria_set) for n, m in outcome_set.measures.items()}
    base_of = dict(zip(b["family_id"], b["baseline_date"].dt.date))

    # Baseline: each distinct baseline date, for the families with that date.
    base_vals: dict[str, pd.DataFrame] = {}
    applies: dict[str, pd.Series] = {}
    base_ev: list[pd.DataFrame] = []
    base_names = list(dict.fromkeys(n for mj in mjudges.values() for n in mj.baseline_names()))
    parts: dict[str, list[pd.DataFrame]] = {n: [] for n in mjudges}
    for day, group in b.groupby(b["baseline_date"].dt.date):
        fams = group["family_id"].tolist()
        snap = judge.at(day, fams, base_names)
        for n, mj in mjudges.items():
            m = mj.m
            value, _ = mj.value(snap, fams)
            frame = pd.DataFrame({"value": value})
            if m.applies_when:
                app = (_item_values(snap, m.applies_when, criteria_set, fams).fillna(0) == 1).any(axis=1)
            else:
                app = (value.fillna(0) > 0)
            frame["applies"] = app.to_numpy()
            parts[n].append(frame)
            ev_names = [i for item in (m.applies_when or m.none_of) for i in _expand(item, criteria_set)]
            ev_names += [m.count] if m.count else []
            ev = snap.evidence[snap.evidence["indicator"].isin(ev_names)]
            base_ev.append(ev.assign(measure=n))
    for n in mjudges:
        base_vals[n] = pd.concat(parts[n])
        applies[n] = base_vals[n]["applies"]
    # Plain dicts for the per-family look-ups below (a Series look-up per family is slow).
    applies_to = {n: {f for f, a in a_n.items() if bool(a)} for n, a_n in applies.items()}
    base_value = {n: dict(zip(v.index, v["value"].astype(object))) for n, v in base_vals.items()}

    # Checkpoints after the earliest baseline, for the families whose baseline precedes each one.
    first = min(base_of.values())
    timeline: dict[str, dict[dt.date, pd.DataFrame]] = {n: {} for n in mjudges}
    current_ev: dict[str, pd.DataFrame] = {}
    for kind in CHECKED:
        # Only the measures that apply to some family are judged after the baseline.
        judged = [n for n, mj in mjudges.items() if mj.m.checked == kind and applies[n].any()]
        if not judged:
            continue
        names = list(dict.fromkeys(x for n in judged for x in mjudges[n].checkpoint_names()))
        days = _checkpoints(kind, first, as_of)
        for i, day in enumerate(days):
            fams = [f for f, d in base_of.items() if d < day and any(f in applies_to[n] for n in judged)]
            if not fams:
                continue
            snap = judge.at(day, fams, names)
            for n in judged:
                m = mjudges[n].m
                fam_n = [f for f in fams if f in applies_to[n]]
                if not fam_n:
                    continue
                value, met = mjudges[n].value(snap, fam_n, base_vals[n])
                timeline[n][day] = pd.DataFrame({"value": value, "met": met})
                if i == len(days) - 1:
                    # Every family's latest checkpoint is the last one: the records behind its
                    # current value (the records still counted, the school rows now on the roll).
                    names_now = [x for item in m.any_of for x in _expand(item, criteria_set)]
                    names_now += [m.count] if m.count else []
                    ev = snap.evidence[snap.evidence["indicator"].isin(names_now)
                                       & snap.evidence["family_id"].isin(fam_n)]
                    current_ev[n] = ev.assign(measure=n)

    # Each family's checkpoints per measure, oldest first, gathered in one pass per checkpoint.
    points: dict[str, dict] = {}
    for n, by_day in timeline.items():
        per: dict = {}
        for day, fr in sorted(by_day.items()):
            for f, v, ok in zip(fr.index, fr["value"].astype(object), fr["met"].astype(object)):
                per.setdefault(f, []).append((day, {"value": v, "met": ok}))
        points[n] = per
    rows = []
    for f in b["family_id"]:
        for n, mj in mjudges.items():
            if f not in applies_to[n]:
                continue
            rows.append(_judge_series(f, base_of[f], mj.m, base_value[n][f], points[n].get(f, [])))
    outcomes = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)

    claims, claimed = _claims(outcomes, outcome_set, b)
    ev_all = [e for e in base_ev + list(current_ev.values()) if len(e)]
    if ev_all and len(claimed):
        ev = pd.concat(ev_all, ignore_index=True)
        keys = set(claimed)
        ev = ev[[(f, mname) in keys for f, mname in zip(ev["family_id"], ev["measure"])]]
        order = {f: i for i, f in enumerate(b["family_id"])}
        m_order = {n: i for i, n in enumerate(outcome_set.measures)}
        evidence = (ev.assign(_f=ev["family_id"].map(order), _m=ev["measure"].map(m_order))
                    .sort_values(["_f", "_m", "source", "record_id"], kind="stable")[EVIDENCE_COLUMNS]
                    .drop_duplicates().reset_index(drop=True))
        evidence["event_date"] = pd.to_datetime(evidence["event_date"])
    else:
        evidence = _empty(EVIDENCE_COLUMNS)
    warnings += judge.warnings
    return OutcomeResult(_typed(outcomes), claims, evidence, warnings)


def _judge_series(family: str, baseline: dt.date, m: Measure, base_value, series) -> dict:
    """Met, met since, sustained and sustained since from a family's checkpoints (oldest first)."""
    run_start = None
    run_len = 0
    sus_start = None
    for day, point in series:
        if bool(point["met"]):
            if run_start is None:
                run_start, run_len, sus_start = day, 0, None
            run_len += 1
            s = m.sustain
            if s.unit == "none":
                sustained_now = True
            elif s.unit == "months":
                sustained_now = run_start <= (pd.Timestamp(day) - pd.DateOffset(months=s.n)).date()
            else:
                sustained_now = run_len >= s.n
            if sustained_now and sus_start is None:
                sus_start = day
        else:
            run_start, run_len, sus_start = None, 0, None
    current = series[-1][1]["value"] if series else pd.NA
    met = bool(series) and bool(series[-1][1]["met"])
    return {"family_id": family, "baseline_date": pd.Timestamp(baseline), "measure": m.name, "title": m.title,
            "baseline_value": base_value, "current_value": current,
            "met": int(met), "met_since": pd.Timestamp(run_start) if met else pd.NaT,
            "sustained": int(met and sus_start is not None),
            "sustained_since": pd.Timestamp(sus_start) if met and sus_start is not None else pd.NaT}


def _claims(outcomes: pd.DataFrame, os_: OutcomeSet, b: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    applies: dict[str, set] = {}
    sustained: dict[str, set] = {}
    for f, mname, s in zip(outcomes["family_id"], outcomes["measure"], outcomes["sustained"]):
        applies.setdefault(f, set()).add(mname)
        if s == 1:
            sustained.setdefault(f, set()).add(mname)
    rows, claimed = [], []
    base_of = dict(zip(b["family_id"], b["baseline_date"]))
    for f in b["family_id"]:
        app, sus = applies.get(f, set()), sustained.get(f, set())
        for route in os_.routes.values():
            listed = [x for x in route.measures if x in app]
            if route.form == "all_of":
                ok = all(x in app and x in sus for x in route.measures)
            else:
                ok = bool(listed) and all(x in sus for x in listed)
            if ok:
                rows.append({"family_id": f, "baseline_date": base_of[f], "claim_route": route.name,
                             "measures": ";".join(listed)})
                claimed += [(f, x) for x in listed]
                break
    claims = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    claims["baseline_date"] = pd.to_datetime(claims["baseline_date"]).astype("datetime64[ns]")
    return claims, claimed


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in _DATE_COLUMNS else object) for c in columns})


def _typed(outcomes: pd.DataFrame) -> pd.DataFrame:
    out = outcomes.copy()
    for c in ("baseline_value", "current_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    for c in ("met", "sustained"):
        out[c] = out[c].astype("Int64")
    for c in ("baseline_date", "met_since", "sustained_since"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
    return out

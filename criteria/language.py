"""The criteria language: indicators, criteria, family conditions and the family rule, read from
YAML and checked in full (schemas.config_models) before any family is scored. Every error names
the file, line and key."""
from __future__ import annotations

import dataclasses

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import pandas as pd
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from schemas.config_models import (Choice, ConfigModel, Text, Whole, as_written, check, invalid, located, under,
                                   word_or, written_data, wrong)
from schemas.errors import ConfigError
from schemas.fields import (AGENCY_FIELDS, COUNT, DATE, ENUM, FLAG, MONEY, TEXT, UPPER_CASE_ENUMS,
                            fields_for)
from schemas.yaml_loading import YamlDocument, builtin_or_path, is_finite_number, load_yaml_file, parse_yaml

SETS_DIR = Path(__file__).parent / "sets"

# Kinds whose records have a start and an end (a claim), so "open on the reference date" means
# something: the start field and the end field (blank while open).
SPAN_FIELDS: dict[str, tuple[str, str]] = {"benefits": ("claim_start", "claim_end")}

MEMBER_SETS = ("any", "children", "adults")
AGE_AT = ("reference_date", "event_date")
PER = ("person", "family")
COUNTING = ("criteria", "indicators")
WHERE_OPERATORS = ("equals", "one_of", "not_one_of", "min", "max")
SETTINGS_DEFAULTS: dict[str, Any] = {"count_needs_by": "criteria"}


# ---------------------------------------------------------------------------------------------
# The parsed definition

@dataclass(frozen=True)
class Condition:
    """One filter on a record field: equals, one_of, not_one_of (values), min/max (inclusive)."""
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Window:
    """Which records count in time. kind: months, days, terms (last n complete school terms),
    open (claim open on the reference date) or any_time."""
    kind: str
    n: int | None = None


@dataclass(frozen=True)
class Threshold:
    """What a person's (or family's) records in the window must add up to.
    kind: records (at least n records), sum (sum of `fields[0]` at least `at_least`),
    share (sum of `fields` / sum of `denominator` at least `at_least`, a fraction),
    any_flag (at least one record with any of `fields` true)."""
    kind: str
    at_least: Fraction = Fraction(1)
    fields: tuple[str, ...] = ()
    denominator: str | None = None


@dataclass(frozen=True)
class Indicator:
    name: str
    title: str
    agency: str
    source: str | None
    where: tuple[Condition, ...]
    window: Window
    members: str = "any"            # any | children | adults
    age_at: str = "reference_date"  # reference_date | event_date
    record_role: tuple[str, ...] = ()
    per: str = "person"             # person | family
    threshold: Threshold = Threshold("records")


@dataclass(frozen=True)
class Criterion:
    name: str
    title: str
    indicators: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class FamilyCondition:
    """A fact about the family itself: at least one member under `children_under` on the
    reference date, or any of `or_indicators` met (e.g. expectant parents, where data exists).
    Or, on its recorded service demand (criteria.demand), every one given of: at least
    `agencies_at_least` agencies involved, an estimated annual cost of at least `cost_at_least`
    pounds, a place in the top `cost_top_percent` per cent of families by rank."""
    name: str
    title: str
    children_under: int | None
    or_indicators: tuple[str, ...] = ()
    agencies_at_least: int | None = None
    cost_at_least: Fraction | None = None
    cost_top_percent: Fraction | None = None

    @property
    def on_demand(self) -> bool:
        return any(v is not None for v in (self.agencies_at_least, self.cost_at_least, self.cost_top_percent))


@dataclass(frozen=True)
class AllOf:
    items: tuple["RuleNode", ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["RuleNode", ...]


@dataclass(frozen=True)
class AtLeast:
    n: int
    items: tuple["RuleNode", ...]
    counting: str = "criteria"  # criteria | indicators (met indicators within the listed criteria)


RuleNode = Union[str, AllOf, AnyOf, AtLeast]


@dataclass(frozen=True)
class CriteriaSet:
    name: str
    title: str
    description: str
    indicators: dict[str, Indicator]
    criteria: dict[str, Criterion]
    conditions: dict[str, FamilyCondition]
    rule: RuleNode
    settings: dict[str, Any] = field(default_factory=dict)
    source_file: str = ""

    @property
    def agencies(self) -> list[str]:
        return sorted({i.agency for i in self.indicators.values()})

    def relabelled(self, labels: dict[str, str]) -> "CriteriaSet":
        """The same set with some criteria's headline labels (titles) in another wording. A
        name that is not one of its criteria is a KeyError naming it."""
        unknown = sorted(set(labels) - set(self.criteria))
        if unknown:
            raise KeyError(unknown[0])
        criteria = {n: dataclasses.replace(c, title=labels.get(n, c.title)) for n, c in self.criteria.items()}
        return dataclasses.replace(self, criteria=criteria)


# ---------------------------------------------------------------------------------------------
# The models: a criteria set as written. Their validators check what depends on more than one key
# (an agency's fields, the names defined elsewhere in the set) and make the definition above.

def _names(value: Any) -> Any:
    """A name or a list of names."""
    return value if isinstance(value, list) else [value]


Names = Annotated[list[Text], BeforeValidator(_names), Field(min_length=1)]


def _number(value: Any) -> Fraction:
    if not is_finite_number(value):
        raise wrong(value, "a number")
    # Through str() so 0.15 means exactly 15/100: thresholds are compared exactly.
    return Fraction(str(value))


Exact = Annotated[Any, BeforeValidator(_number)]


class _Rules(ConfigModel):
    """A mapping of a rules file: a key given is given a value (null is never a default)."""


class _Window(_Rules):
    takes = "a window takes"
    last_months: Optional[Whole(1)] = None
    last_days: Optional[Whole(1)] = None
    last_complete_terms: Optional[Whole(1)] = None

    @model_validator(mode="after")
    def _one(self) -> "_Window":
        if len(self.model_fields_set) != 1:
            raise invalid("give exactly one of " + ", ".join(type(self).model_fields))
        return self


class _Threshold(_Rules):
    takes = "a threshold takes"
    at_least_records: Optional[Whole(1)] = None
    sum_of: Optional[Text] = None
    at_least: Optional[Exact] = None
    share_of: Optional[Names] = None
    out_of: Optional[Text] = None
    at_least_percent: Optional[Exact] = None
    any_flag: Optional[Names] = None

    @model_validator(mode="after")
    def _one_form(self) -> "_Threshold":
        given = self.model_fields_set
        forms = [f for f in _THRESHOLD_FORMS if f in given]
        if len(forms) != 1:
            raise invalid("give exactly one of " + ", ".join(_THRESHOLD_FORMS))
        takes = _THRESHOLD_FORMS[forms[0]]
        for key in given - set(takes):
            raise invalid(f"unknown key with {forms[0]} (it takes {', '.join(takes)})", (key,))
        for key in set(takes) - given:
            raise invalid(f"missing: {forms[0]} needs {', '.join(takes[1:])}", (key,))
        if self.at_least_percent is not None and not 0 < self.at_least_percent <= 100:
            raise invalid("must be above 0 and at most 100", ("at_least_percent",))
        return self


_THRESHOLD_FORMS = {"at_least_records": ("at_least_records",), "sum_of": ("sum_of", "at_least"),
                    "share_of": ("share_of", "out_of", "at_least_percent"), "any_flag": ("any_flag",)}


class _Operators(_Rules):
    takes = "operators are"
    equals: Any = None
    one_of: Optional[Annotated[list[Any], Field(min_length=1)]] = None
    not_one_of: Optional[Annotated[list[Any], Field(min_length=1)]] = None
    min: Optional[Exact] = None
    max: Optional[Exact] = None


class IndicatorRules(_Rules):
    """An indicator as written (a criteria set's, or an outcome file's own)."""
    takes = "an indicator takes"
    title: Optional[Text] = None
    description: Optional[Text] = None
    agency: Text
    source: Optional[Text] = None
    where: dict[str, word_or(_Operators, Any)] = {}
    window: word_or(_Window, Text)
    members: Choice(*MEMBER_SETS) = "any"
    age_at: Choice(*AGE_AT) = "reference_date"
    record_role: Optional[Names] = None
    per: Choice(*PER) = "person"
    threshold: Optional[_Threshold] = None


class _Criterion(_Rules):
    takes = "a criterion takes"
    title: Optional[Text] = None
    description: Optional[Text] = None
    any_of: Names


class _AgenciesInvolved(_Rules):
    takes = "agencies_involved takes"
    at_least: Whole(1)


class _EstimatedCost(_Rules):
    takes = "estimated_cost takes"
    at_least: Optional[Exact] = None
    top_percent: Optional[Exact] = None

    @model_validator(mode="after")
    def _one(self) -> "_EstimatedCost":
        if len(self.model_fields_set) != 1:
            raise invalid("give exactly one of at_least (pounds a year) or top_percent (of families)")
        if self.at_least is not None and self.at_least <= 0:
            raise invalid("must be a number of pounds above 0", ("at_least",))
        if self.top_percent is not None and not 0 < self.top_percent <= 100:
            raise invalid("must be above 0 and at most 100", ("top_percent",))
        return self


class _Condition(_Rules):
    takes = "a condition takes"
    title: Optional[Text] = None
    children_under: Optional[Whole(1)] = None
    or_indicators: Optional[Names] = None
    agencies_involved: Optional[_AgenciesInvolved] = None
    estimated_cost: Optional[_EstimatedCost] = None


class _Rule(_Rules):
    """all: [...], any: [...] or at_least: N, of: [...] (counting criteria or indicators); each
    item a criterion's or a condition's name, or a rule."""
    takes = "a rule takes"
    all: Optional[list[RuleText]] = None
    any: Optional[list[RuleText]] = None
    at_least: Optional[Whole(1)] = None
    of: Optional[list[RuleText]] = None
    counting: Optional[Choice(*COUNTING)] = None

    @model_validator(mode="after")
    def _one_form(self) -> "_Rule":
        given = self.model_fields_set
        forms = [f for f in ("all", "any", "at_least") if f in given]
        if len(forms) != 1:
            raise invalid("a rule is a criterion name or exactly one of all, any, at_least")
        takes = (forms[0],) if forms[0] in ("all", "any") else ("at_least", "of", "counting")
        for key in given - set(takes):
            raise invalid(f"unknown key with {forms[0]} (it takes {', '.join(takes)})", (key,))
        if forms[0] == "at_least" and self.of is None:
            raise invalid("missing: at_least needs of", ("of",))
        if not (self.all or self.any or self.of):
            raise invalid("expected at least one item", (forms[0] if forms[0] != "at_least" else "of",))
        return self


RuleText = word_or(_Rule, Text)
_Rule.model_rebuild()


class _Settings(_Rules):
    takes = "settings are"
    count_needs_by: Choice(*COUNTING) = SETTINGS_DEFAULTS["count_needs_by"]


def not_empty(what: str) -> BeforeValidator:
    def check_not_empty(value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise invalid(f"define at least one {what}")
        return value
    return BeforeValidator(check_not_empty)


def indicators_from_rules(rules: dict[str, IndicatorRules]) -> dict[str, Indicator]:
    """Each indicator checked against its agency's fields, as the engine reads it."""
    return {name: under(name, _indicator, name, r) for name, r in rules.items()}


class _CriteriaFile(_Rules):
    takes = "a criteria set takes"
    name: Optional[Text] = None
    title: Optional[Text] = None
    description: Optional[Text] = None
    settings: _Settings = _Settings()
    # The indicators as the engine reads them, once checked against their agencies.
    indicators: Annotated[dict[str, IndicatorRules], not_empty("indicator"), AfterValidator(indicators_from_rules)]
    criteria: Annotated[dict[str, _Criterion], not_empty("criterion")]
    conditions: dict[str, _Condition] = {}
    rule: RuleText


# ---------------------------------------------------------------------------------------------
# From the models to the definition

def _indicator(name: str, r: IndicatorRules) -> Indicator:
    if r.agency not in AGENCY_FIELDS:
        raise invalid(f"unknown agency kind {r.agency} (known: {', '.join(AGENCY_FIELDS)})", ("agency",))
    fields = {f.name: f for f in fields_for(r.agency)}
    where = [c for f_name, value in r.where.items()
             for c in under("where", _where, f_name, value, fields, r.agency)]
    record_role: tuple[str, ...] = ()
    if r.record_role is not None:
        if "role" not in fields:
            raise invalid(f"{r.agency} records carry no role", ("record_role",))
        record_role = tuple(under("record_role", _enum_value, fields["role"], v) for v in r.record_role)
    threshold = under("threshold", _threshold, r.threshold, fields, r.agency) if r.threshold else Threshold("records")
    return Indicator(name=name, title=r.title or name, agency=r.agency, source=r.source, where=tuple(where),
                     window=under("window", _window, r.window, r.agency), members=r.members, age_at=r.age_at,
                     record_role=record_role, per=r.per, threshold=threshold)


def _enum_value(f, value: Any) -> str:
    if not isinstance(value, str):
        raise wrong(value, f"a value of {f.name} as text (allowed: {', '.join(f.values)})")
    text = value.strip()
    text = text.upper() if f.name in UPPER_CASE_ENUMS else text.lower()
    if text not in f.values:
        raise invalid(f"{text} is not a value of {f.name} (allowed: {', '.join(f.values)})")
    return text


def _field_value(f, value: Any) -> Any:
    if isinstance(value, (list, dict)):
        raise wrong(value, f"a single value of {f.name}")
    if f.kind == ENUM:
        return _enum_value(f, value)
    if f.kind == FLAG:
        if not isinstance(value, bool):
            raise invalid(f"{f.name} is a yes/no flag: write true or false")
        return value
    if f.kind in (COUNT, MONEY):
        if not is_finite_number(value):
            raise invalid(f"{f.name} is a number")
        return int(value) if isinstance(value, int) else float(value)
    if f.kind == TEXT:
        # A code YAML reads as a number or a date (a URN 012345, 2025/26) is meant as written.
        written = value if isinstance(value, str) else as_written(value)
        if written is None or isinstance(value, bool):
            raise invalid(f"{f.name} is text")
        return written.strip().lower()  # text fields are compared without case
    raise invalid(f"{f.name} is a {f.kind} field; filter dates with a window")


def _where(f_name: str, value: Any, fields: dict, agency: str) -> list[Condition]:
    if f_name not in fields:
        raise invalid(f"unknown field {f_name} for agency kind {agency}", (f_name,))
    f = fields[f_name]
    if f.kind == DATE:
        raise invalid(f"{f_name} is a date: use the indicator's window", (f_name,))
    if isinstance(value, list):
        return [Condition(f_name, "one_of", tuple(under(f_name, _field_value, f, v) for v in value))]
    if not isinstance(value, _Operators):
        return [Condition(f_name, "equals", under(f_name, _field_value, f, value))]
    out = []
    for op in (o for o in WHERE_OPERATORS if o in value.model_fields_set):
        arg = getattr(value, op)
        if op in ("min", "max"):
            if f.kind not in (COUNT, MONEY):
                raise invalid(f"{op} needs a number field; {f_name} is {f.kind}", (f_name, op))
            out.append(Condition(f_name, op, arg))
        elif op == "equals":
            out.append(Condition(f_name, op, under(f_name, under, op, _field_value, f, arg)))
        else:
            out.append(Condition(f_name, op, tuple(under(f_name, under, op, _field_value, f, v) for v in arg)))
    return out


def _window(w: _Window | str, agency: str) -> Window:
    if isinstance(w, str):
        if w == "any_time":
            return Window("any_time")
        if w == "open_on_reference_date":
            if agency not in SPAN_FIELDS:
                raise invalid(f"{agency} records have no start and end: open_on_reference_date needs a claim")
            return Window("open")
        raise invalid("unknown window (use last_months, last_days, last_complete_terms, "
                      "open_on_reference_date or any_time)")
    (w_name, n), = ((k, getattr(w, k)) for k in w.model_fields_set)
    if w_name == "last_complete_terms":
        if agency != "schools":
            raise invalid("only schools records are dated by term", (w_name,))
        return Window("terms", n)
    if agency == "schools":
        raise invalid("schools records are dated by term: use last_complete_terms", (w_name,))
    return Window("months" if w_name == "last_months" else "days", n)


def _threshold(t: _Threshold, fields: dict, agency: str) -> Threshold:
    def number_field(f_name: str, key: str) -> str:
        if f_name not in fields:
            raise invalid(f"unknown field {f_name} for agency kind {agency}", (key,))
        if fields[f_name].kind not in (COUNT, MONEY):
            raise invalid(f"{f_name} is not a number field", (key,))
        return f_name

    if t.at_least_records is not None:
        return Threshold("records", Fraction(t.at_least_records))
    if t.sum_of is not None:
        return Threshold("sum", t.at_least, (number_field(t.sum_of, "sum_of"),))
    if t.share_of is not None:
        nums = tuple(number_field(n, "share_of") for n in t.share_of)
        return Threshold("share", t.at_least_percent / 100, nums, number_field(t.out_of, "out_of"))
    for f_name in t.any_flag:
        if f_name not in fields:
            raise invalid(f"unknown field {f_name} for agency kind {agency}", ("any_flag",))
        if fields[f_name].kind != FLAG:
            raise invalid(f"{f_name} is not a yes/no flag", ("any_flag",))
    return Threshold("any_flag", Fraction(1), tuple(t.any_flag))


def _criterion(name: str, r: _Criterion, indicators: dict[str, Indicator]) -> Criterion:
    names: list[str] = []
    for i, i_name in enumerate(r.any_of):
        if i_name not in indicators:
            raise invalid(f"unknown indicator {i_name}", ("any_of", i))
        if i_name in names:
            raise invalid(f"indicator {i_name} listed twice", ("any_of", i))
        names.append(i_name)
    return Criterion(name, r.title or name, tuple(names), r.description or "")


def _condition(name: str, r: _Condition, criteria: dict, indicators: dict[str, Indicator]) -> FamilyCondition:
    if name in criteria:
        raise invalid("duplicate name: already a criterion")
    for i, i_name in enumerate(r.or_indicators or ()):
        if i_name not in indicators:
            raise invalid(f"unknown indicator {i_name}", ("or_indicators", i))
    on_demand = r.agencies_involved is not None or r.estimated_cost is not None
    if on_demand and (r.children_under is not None or r.or_indicators):
        key = "children_under" if r.children_under is not None else "or_indicators"
        raise invalid("a condition is on the family's members (children_under, or_indicators) or on its "
                      "service demand (agencies_involved, estimated_cost), not both: make two conditions", (key,))
    if not on_demand and r.children_under is None and not r.or_indicators:
        raise invalid("give children_under, or_indicators or both; or agencies_involved, estimated_cost or both")
    cost = r.estimated_cost
    return FamilyCondition(name, r.title or name, r.children_under, tuple(r.or_indicators or ()),
                           agencies_at_least=r.agencies_involved.at_least if r.agencies_involved else None,
                           cost_at_least=cost.at_least if cost else None,
                           cost_top_percent=cost.top_percent if cost else None)


def _rule(r: _Rule | str, criteria: dict, conditions: dict, counting_default: str) -> RuleNode:
    if isinstance(r, str):
        if r not in criteria and r not in conditions:
            raise invalid(f"unknown criterion or condition {r}")
        return r
    form = next(f for f in ("all", "any", "at_least") if f in r.model_fields_set)
    key = "of" if form == "at_least" else form
    items = tuple(under(key, under, i, _rule, x, criteria, conditions, counting_default)
                  for i, x in enumerate(getattr(r, key)))
    if form == "all":
        return AllOf(items)
    if form == "any":
        return AnyOf(items)
    counting = r.counting or counting_default
    if counting == "indicators" and not all(isinstance(i, str) and i in criteria for i in items):
        raise invalid("counting indicators needs a list of criterion names", ("of",))
    if r.at_least > len(items) and counting == "criteria":
        raise invalid(f"asks for {r.at_least} of only {len(items)} items", ("at_least",))
    return AtLeast(r.at_least, items, counting)


def _criteria_set(f: _CriteriaFile, info: ValidationInfo) -> CriteriaSet:
    settings = {**SETTINGS_DEFAULTS, **f.settings.model_dump(exclude_unset=True), **info.context["settings"]}
    criteria = {n: under("criteria", under, n, _criterion, n, r, f.indicators) for n, r in f.criteria.items()}
    conditions = {n: under("conditions", under, n, _condition, n, r, criteria, f.indicators)
                  for n, r in f.conditions.items()}
    rule = under("rule", _rule, f.rule, criteria, conditions, settings["count_needs_by"])
    used = {i for cr in criteria.values() for i in cr.indicators}
    used |= {i for fc in conditions.values() for i in fc.or_indicators}
    for i_name in f.indicators:
        if i_name not in used:
            raise invalid("not used by any criterion or condition", ("indicators", i_name))
    name = f.name or info.context["default_name"]
    return CriteriaSet(name=name, title=f.title or name, description=f.description or "",
                       indicators=f.indicators, criteria=criteria, conditions=conditions, rule=rule,
                       settings=settings, source_file=info.context["origin"])


# ---------------------------------------------------------------------------------------------
# Loading

def list_builtin() -> list[tuple[str, str]]:
    """(name, title) of every built-in criteria set."""
    out = []
    for path in sorted(SETS_DIR.glob("*.yaml")):
        if path.name.endswith(".outcomes.yaml"):
            continue  # a set's outcome rules, not a criteria set
        data = load_yaml_file(path, "criteria set").data or {}
        out.append((path.stem, str(data.get("title", path.stem))))
    return out


def load_criteria(name_or_path: str | Path, settings: dict[str, Any] | None = None) -> CriteriaSet:
    """A built-in set by name, or a YAML file by path. `settings` override the set's own
    settings (e.g. {"count_needs_by": "indicators"})."""
    path, origin = builtin_or_path(name_or_path, SETS_DIR, "criteria set", [n for n, _ in list_builtin()])
    # A regular file of bounded size only: a pipe or a device named here must not hang the run.
    doc = load_yaml_file(path, "criteria file", origin)
    return _parse(doc, default_name=path.stem, settings=settings)


def parse_criteria(text: str, origin: str = "<criteria>", default_name: str = "custom",
                   settings: dict[str, Any] | None = None) -> CriteriaSet:
    return _parse(parse_yaml(text, origin), default_name, settings)


def rules_data(doc: YamlDocument) -> Any:
    """A rules file's data as written, for its models; a key given twice is refused."""
    if doc.duplicates:
        trail, line = doc.duplicates[0]
        raise located(trail, "given twice; keep one", doc, line=line)
    if doc.root is None:
        raise located((), "the file is empty", doc, line=1)
    return written_data(doc)


def _parse(doc: YamlDocument, default_name: str, settings: dict[str, Any] | None) -> CriteriaSet:
    for s_name, value in (settings or {}).items():
        if s_name not in SETTINGS_DEFAULTS:
            raise ConfigError(f"{doc.origin}: unknown criteria setting {s_name} "
                              f"(allowed: {', '.join(SETTINGS_DEFAULTS)})")
        if value not in COUNTING:
            raise ConfigError(f"{doc.origin}: setting {s_name} must be one of {', '.join(COUNTING)}")
    context = {"settings": settings or {}, "default_name": default_name, "origin": doc.origin}
    return check(_CriteriaSet, rules_data(doc), doc, context=context)


_CriteriaSet = Annotated[_CriteriaFile, AfterValidator(_criteria_set)]


def window_bounds(window: Window, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """First and last day of a months/days window, both inclusive: the period that ends on the
    reference date (12 months to 30 Sep 2026 is 1 Oct 2025 - 30 Sep 2026)."""
    if window.kind == "months":
        first = (pd.Timestamp(as_of) - pd.DateOffset(months=window.n)).date() + dt.timedelta(days=1)
        return first, as_of
    if window.kind == "days":
        return as_of - dt.timedelta(days=window.n - 1), as_of
    return None

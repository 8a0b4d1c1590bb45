"""The criteria language: indicators, criteria, family conditions and the family rule, read from
YAML and checked in full before any family is scored. Every error names the file, line and key."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

import pandas as pd
import yaml

from schemas.errors import ConfigError
from schemas.fields import (AGENCY_FIELDS, COUNT, DATE, ENUM, FLAG, MONEY, TEXT, UPPER_CASE_ENUMS,
                            fields_for)
from schemas.yaml_loading import (YamlDocument, file_problem, is_finite_number, load_yaml_file, node_value,
                                  parse_yaml, written_text)

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
    line: int = 0


@dataclass(frozen=True)
class Criterion:
    name: str
    title: str
    indicators: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class FamilyCondition:
    """A fact about the family itself: at least one member under `children_under` on the
    reference date, or any of `or_indicators` met (e.g. expectant parents, where data exists)."""
    name: str
    title: str
    children_under: int | None
    or_indicators: tuple[str, ...] = ()


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


# ---------------------------------------------------------------------------------------------
# YAML nodes with their line numbers

class _Checker:
    """Walks PyYAML's composed node tree so every complaint can point at a line and a key."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, node: yaml.Node | None, key: str, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ConfigError(f"{self.origin}, line {line}, key {key}: {message}")

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key, "expected a single value")
        return node_value(node)

    def text(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, key, "expected text")
        return value.strip()

    def integer(self, node: yaml.Node, key: str, minimum: int = 1) -> int:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(node, key, f"expected a whole number of at least {minimum}")
        return value

    def number(self, node: yaml.Node, key: str) -> Fraction:
        value = self.scalar(node, key)
        if not is_finite_number(value):
            raise self.fail(node, key, "expected a number")
        # Through str() so 0.15 means exactly 15/100: thresholds are compared exactly.
        return Fraction(str(value))

    def mapping(self, node: yaml.Node, key: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node), refusing duplicate keys (PyYAML keeps the last)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "expected a mapping of names to values")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k_node, v_node in node.value:
            name = str(self.scalar(k_node, key))
            if name in out:
                raise self.fail(k_node, f"{key}.{name}" if key else name, "duplicate name")
            out[name] = (k_node, v_node)
        return out

    def sequence(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, "expected a list")
        return list(node.value)

    def names(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]]:
        """A name or a list of names."""
        items = [node] if isinstance(node, yaml.ScalarNode) else self.sequence(node, key)
        if not items:
            raise self.fail(node, key, "expected at least one name")
        return [(self.text(n, key), n) for n in items]

    def only_keys(self, mapping: dict, allowed: tuple[str, ...], key: str, what: str) -> None:
        for name, (k_node, _) in mapping.items():
            if name not in allowed:
                raise self.fail(k_node, f"{key}.{name}", f"unknown {what} key (allowed: {', '.join(allowed)})")

    def require(self, mapping: dict, name: str, node: yaml.Node, key: str) -> yaml.Node:
        if name not in mapping:
            raise self.fail(node, f"{key}.{name}", "missing")
        return mapping[name][1]


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
    text_name = str(name_or_path)
    builtin = SETS_DIR / f"{text_name}.yaml"
    if "/" not in text_name and "\\" not in text_name and builtin.is_file():
        path, origin = builtin, f"built-in criteria set {text_name}"
    else:
        path, origin = Path(text_name), text_name
        if file_problem(path) == "file not found":
            names = ", ".join(n for n, _ in list_builtin())
            raise ConfigError(f"criteria set {text_name}: no such built-in set ({names}) or file")
    # A regular file of bounded size only: a pipe or a device named here must not hang the run.
    doc = load_yaml_file(path, "criteria file", origin)
    return _parse(doc, default_name=path.stem, settings=settings)


def compose_top(source: str | YamlDocument, origin: str) -> tuple["_Checker", yaml.Node, dict]:
    """Parse a YAML rules file (text, or a document read by schemas.yaml_loading within its
    limits of size, aliases and nodes) into its root node and top-level mapping of nodes (with
    line numbers), with errors naming the file and line."""
    c = _Checker(origin)
    root = (source if isinstance(source, YamlDocument) else parse_yaml(source, origin)).root
    if root is None:
        raise ConfigError(f"{origin}, line 1, key (top): the file is empty")
    return c, root, c.mapping(root, "")


def parse_criteria(text: str, origin: str = "<criteria>", default_name: str = "custom",
                   settings: dict[str, Any] | None = None) -> CriteriaSet:
    return _parse(parse_yaml(text, origin), default_name, settings)


def _parse(doc: YamlDocument, default_name: str, settings: dict[str, Any] | None) -> CriteriaSet:
    origin = doc.origin
    c, root, top = compose_top(doc, origin)
    c.only_keys(top, ("name", "title", "description", "settings", "indicators", "criteria",
                      "conditions", "rule"), "", "top-level")
    name = c.text(top["name"][1], "name") if "name" in top else default_name
    title = c.text(top["title"][1], "title") if "title" in top else name
    description = c.text(top["description"][1], "description") if "description" in top else ""

    merged = dict(SETTINGS_DEFAULTS)
    if "settings" in top:
        s_map = c.mapping(top["settings"][1], "settings")
        c.only_keys(s_map, tuple(SETTINGS_DEFAULTS), "settings", "setting")
        for s_name, (_, v_node) in s_map.items():
            merged[s_name] = _setting(c, s_name, c.scalar(v_node, f"settings.{s_name}"), v_node)
    for s_name, value in (settings or {}).items():
        if s_name not in SETTINGS_DEFAULTS:
            raise ConfigError(f"{origin}: unknown criteria setting {s_name} "
                              f"(allowed: {', '.join(SETTINGS_DEFAULTS)})")
        merged[s_name] = _setting(c, s_name, value, None)

    ind_node = c.require(top, "indicators", root, "")
    indicators = {n: _indicator(c, n, k, v) for n, (k, v) in c.mapping(ind_node, "indicators").items()}
    if not indicators:
        raise c.fail(ind_node, "indicators", "define at least one indicator")

    crit_node = c.require(top, "criteria", root, "")
    criteria: dict[str, Criterion] = {}
    # A criterion may share an indicator's name: the two namespaces are separate.
    for c_name, (k_node, v_node) in c.mapping(crit_node, "criteria").items():
        criteria[c_name] = _criterion(c, c_name, k_node, v_node, indicators)
    if not criteria:
        raise c.fail(crit_node, "criteria", "define at least one criterion")

    conditions: dict[str, FamilyCondition] = {}
    if "conditions" in top:
        for f_name, (k_node, v_node) in c.mapping(top["conditions"][1], "conditions").items():
            if f_name in criteria:
                raise c.fail(k_node, f"conditions.{f_name}", "duplicate name: already a criterion")
            conditions[f_name] = _condition(c, f_name, v_node, indicators)

    rule_node = c.require(top, "rule", root, "")
    rule = _rule(c, rule_node, "rule", criteria, conditions, merged["count_needs_by"])

    used = {i for cr in criteria.values() for i in cr.indicators}
    used |= {i for fc in conditions.values() for i in fc.or_indicators}
    for i_name, ind in indicators.items():
        if i_name not in used:
            raise ConfigError(f"{origin}, line {ind.line}, key indicators.{i_name}: "
                              "not used by any criterion or condition")
    return CriteriaSet(name=name, title=title, description=description, indicators=indicators,
                       criteria=criteria, conditions=conditions, rule=rule, settings=merged,
                       source_file=origin)


def _setting(c: _Checker, name: str, value: Any, node: yaml.Node | None) -> Any:
    if name == "count_needs_by" and value not in COUNTING:
        if node is None:
            raise ConfigError(f"{c.origin}: setting count_needs_by must be one of {', '.join(COUNTING)}")
        raise c.fail(node, f"settings.{name}", f"must be one of {', '.join(COUNTING)}")
    return value


_INDICATOR_KEYS = ("title", "description", "agency", "source", "where", "window", "members",
                   "age_at", "record_role", "per", "threshold")


def _indicator(c: _Checker, name: str, k_node: yaml.Node, node: yaml.Node) -> Indicator:
    key = f"indicators.{name}"
    m = c.mapping(node, key)
    c.only_keys(m, _INDICATOR_KEYS, key, "indicator")
    agency_node = c.require(m, "agency", node, key)
    agency = c.text(agency_node, f"{key}.agency")
    if agency not in AGENCY_FIELDS:
        raise c.fail(agency_node, f"{key}.agency",
                     f"unknown agency kind {agency} (known: {', '.join(AGENCY_FIELDS)})")
    fields = {f.name: f for f in fields_for(agency)}
    title = c.text(m["title"][1], f"{key}.title") if "title" in m else name
    source = c.text(m["source"][1], f"{key}.source") if "source" in m else None

    where: list[Condition] = []
    if "where" in m:
        for f_name, (fk, fv) in c.mapping(m["where"][1], f"{key}.where").items():
            where.extend(_where(c, f"{key}.where.{f_name}", f_name, fk, fv, fields, agency))

    window = _window(c, c.require(m, "window", node, key), f"{key}.window", agency)

    members = "any"
    if "members" in m:
        members = c.text(m["members"][1], f"{key}.members")
        if members not in MEMBER_SETS:
            raise c.fail(m["members"][1], f"{key}.members", f"must be one of {', '.join(MEMBER_SETS)}")
    age_at = "reference_date"
    if "age_at" in m:
        age_at = c.text(m["age_at"][1], f"{key}.age_at")
        if age_at not in AGE_AT:
            raise c.fail(m["age_at"][1], f"{key}.age_at", f"must be one of {', '.join(AGE_AT)}")
    record_role: tuple[str, ...] = ()
    if "record_role" in m:
        r_node = m["record_role"][1]
        if "role" not in fields:
            raise c.fail(r_node, f"{key}.record_role", f"{agency} records carry no role")
        record_role = tuple(_enum_value(c, fields["role"], v, n, f"{key}.record_role")
                            for v, n in c.names(r_node, f"{key}.record_role"))
    per = "person"
    if "per" in m:
        per = c.text(m["per"][1], f"{key}.per")
        if per not in PER:
            raise c.fail(m["per"][1], f"{key}.per", f"must be one of {', '.join(PER)}")
    threshold = Threshold("records")
    if "threshold" in m:
        threshold = _threshold(c, m["threshold"][1], f"{key}.threshold", fields, agency)
    return Indicator(name=name, title=title, agency=agency, source=source, where=tuple(where),
                     window=window, members=members, age_at=age_at, record_role=record_role,
                     per=per, threshold=threshold, line=k_node.start_mark.line + 1)


def _enum_value(c: _Checker, f, value: Any, node: yaml.Node, key: str) -> str:
    if not isinstance(value, str):
        raise c.fail(node, key, f"expected a value of {f.name} as text (allowed: {', '.join(f.values)})")
    text = value.strip()
    text = text.upper() if f.name in UPPER_CASE_ENUMS else text.lower()
    if text not in f.values:
        raise c.fail(node, key, f"{text} is not a value of {f.name} (allowed: {', '.join(f.values)})")
    return text


def _field_value(c: _Checker, f, node: yaml.Node, key: str) -> Any:
    value = c.scalar(node, key)
    if f.kind == ENUM:
        return _enum_value(c, f, value, node, key)
    if f.kind == FLAG:
        if not isinstance(value, bool):
            raise c.fail(node, key, f"{f.name} is a yes/no flag: write true or false")
        return value
    if f.kind in (COUNT, MONEY):
        if not is_finite_number(value):
            raise c.fail(node, key, f"{f.name} is a number")
        return value
    if f.kind == TEXT:
        # A code YAML reads as a number or a date (a URN 012345, 2025/26) is meant as written.
        written = value if isinstance(value, str) else written_text(node)
        if written is None or value is None or isinstance(value, bool):
            raise c.fail(node, key, f"{f.name} is text")
        return written.strip().lower()  # text fields are compared without case
    raise c.fail(node, key, f"{f.name} is a {f.kind} field; filter dates with a window")


def _where(c: _Checker, key: str, f_name: str, k_node: yaml.Node, node: yaml.Node,
           fields: dict, agency: str) -> list[Condition]:
    if f_name not in fields:
        raise c.fail(k_node, key, f"unknown field {f_name} for agency kind {agency}")
    f = fields[f_name]
    if f.kind == DATE:
        raise c.fail(k_node, key, f"{f_name} is a date: use the indicator's window")
    if isinstance(node, yaml.ScalarNode):
        return [Condition(f_name, "equals", _field_value(c, f, node, key))]
    if isinstance(node, yaml.SequenceNode):
        return [Condition(f_name, "one_of", tuple(_field_value(c, f, n, key) for n in c.sequence(node, key)))]
    out = []
    for op, (op_k, op_v) in c.mapping(node, key).items():
        op_key = f"{key}.{op}"
        if op not in WHERE_OPERATORS:
            raise c.fail(op_k, op_key, f"unknown operator {op} (allowed: {', '.join(WHERE_OPERATORS)})")
        if op in ("min", "max"):
            if f.kind not in (COUNT, MONEY):
                raise c.fail(op_k, op_key, f"{op} needs a number field; {f_name} is {f.kind}")
            out.append(Condition(f_name, op, c.number(op_v, op_key)))
        elif op == "equals":
            out.append(Condition(f_name, op, _field_value(c, f, op_v, op_key)))
        else:
            items = c.sequence(op_v, op_key)
            if not items:
                raise c.fail(op_v, op_key, "expected at least one value")
            out.append(Condition(f_name, op, tuple(_field_value(c, f, n, op_key) for n in items)))
    return out


def _window(c: _Checker, node: yaml.Node, key: str, agency: str) -> Window:
    if isinstance(node, yaml.ScalarNode):
        value = c.scalar(node, key)
        if value == "any_time":
            return Window("any_time")
        if value == "open_on_reference_date":
            if agency not in SPAN_FIELDS:
                raise c.fail(node, key, f"{agency} records have no start and end: "
                                        "open_on_reference_date needs a claim")
            return Window("open")
        raise c.fail(node, key, "unknown window (use last_months, last_days, last_complete_terms, "
                                "open_on_reference_date or any_time)")
    m = c.mapping(node, key)
    allowed = ("last_months", "last_days", "last_complete_terms")
    c.only_keys(m, allowed, key, "window")
    if len(m) != 1:
        raise c.fail(node, key, "give exactly one of " + ", ".join(allowed))
    (w_name, (_, v_node)), = m.items()
    n = c.integer(v_node, f"{key}.{w_name}")
    if w_name == "last_complete_terms":
        if agency != "schools":
            raise c.fail(v_node, f"{key}.{w_name}", "only schools records are dated by term")
        return Window("terms", n)
    if agency == "schools":
        raise c.fail(v_node, f"{key}.{w_name}", "schools records are dated by term: use last_complete_terms")
    return Window("months" if w_name == "last_months" else "days", n)


def _threshold(c: _Checker, node: yaml.Node, key: str, fields: dict, agency: str) -> Threshold:
    m = c.mapping(node, key)
    forms = ("at_least_records", "sum_of", "share_of", "any_flag")
    present = [f for f in forms if f in m]
    if len(present) != 1:
        raise c.fail(node, key, "give exactly one of " + ", ".join(forms))
    form = present[0]

    def number_field(n: yaml.Node, k: str) -> str:
        f_name = c.text(n, k)
        if f_name not in fields:
            raise c.fail(n, k, f"unknown field {f_name} for agency kind {agency}")
        if fields[f_name].kind not in (COUNT, MONEY):
            raise c.fail(n, k, f"{f_name} is not a number field")
        return f_name

    if form == "at_least_records":
        c.only_keys(m, ("at_least_records",), key, "threshold")
        return Threshold("records", Fraction(c.integer(m[form][1], f"{key}.{form}")))
    if form == "sum_of":
        c.only_keys(m, ("sum_of", "at_least"), key, "threshold")
        f_name = number_field(m[form][1], f"{key}.sum_of")
        at_least = c.number(c.require(m, "at_least", node, key), f"{key}.at_least")
        return Threshold("sum", at_least, (f_name,))
    if form == "share_of":
        c.only_keys(m, ("share_of", "out_of", "at_least_percent"), key, "threshold")
        nums = tuple(number_field(n, f"{key}.share_of") for _, n in c.names(m[form][1], f"{key}.share_of"))
        den = number_field(c.require(m, "out_of", node, key), f"{key}.out_of")
        p_node = c.require(m, "at_least_percent", node, key)
        pct = c.number(p_node, f"{key}.at_least_percent")
        if not 0 < pct <= 100:
            raise c.fail(p_node, f"{key}.at_least_percent", "must be above 0 and at most 100")
        return Threshold("share", pct / 100, nums, den)
    c.only_keys(m, ("any_flag",), key, "threshold")
    flags = []
    for f_name, n in c.names(m[form][1], f"{key}.any_flag"):
        if f_name not in fields:
            raise c.fail(n, f"{key}.any_flag", f"unknown field {f_name} for agency kind {agency}")
        if fields[f_name].kind != FLAG:
            raise c.fail(n, f"{key}.any_flag", f"{f_name} is not a yes/no flag")
        flags.append(f_name)
    return Threshold("any_flag", Fraction(1), tuple(flags))


def _criterion(c: _Checker, name: str, k_node: yaml.Node, node: yaml.Node,
               indicators: dict[str, Indicator]) -> Criterion:
    key = f"criteria.{name}"
    m = c.mapping(node, key)
    c.only_keys(m, ("title", "description", "any_of"), key, "criterion")
    title = c.text(m["title"][1], f"{key}.title") if "title" in m else name
    description = c.text(m["description"][1], f"{key}.description") if "description" in m else ""
    names = []
    for i_name, i_node in c.names(c.require(m, "any_of", node, key), f"{key}.any_of"):
        if i_name not in indicators:
            raise c.fail(i_node, f"{key}.any_of", f"unknown indicator {i_name}")
        if i_name in names:
            raise c.fail(i_node, f"{key}.any_of", f"indicator {i_name} listed twice")
        names.append(i_name)
    return Criterion(name, title, tuple(names), description)


def _condition(c: _Checker, name: str, node: yaml.Node, indicators: dict[str, Indicator]) -> FamilyCondition:
    key = f"conditions.{name}"
    m = c.mapping(node, key)
    c.only_keys(m, ("title", "children_under", "or_indicators"), key, "condition")
    title = c.text(m["title"][1], f"{key}.title") if "title" in m else name
    under = c.integer(m["children_under"][1], f"{key}.children_under") if "children_under" in m else None
    ors = []
    if "or_indicators" in m:
        for i_name, i_node in c.names(m["or_indicators"][1], f"{key}.or_indicators"):
            if i_name not in indicators:
                raise c.fail(i_node, f"{key}.or_indicators", f"unknown indicator {i_name}")
            ors.append(i_name)
    if under is None and not ors:
        raise c.fail(node, key, "give children_under, or_indicators or both")
    return FamilyCondition(name, title, under, tuple(ors))


def _rule(c: _Checker, node: yaml.Node, key: str, criteria: dict, conditions: dict,
          counting_default: str) -> RuleNode:
    if isinstance(node, yaml.ScalarNode):
        name = c.text(node, key)
        if name not in criteria and name not in conditions:
            raise c.fail(node, key, f"unknown criterion or condition {name}")
        return name
    m = c.mapping(node, key)
    forms = [f for f in ("all", "any", "at_least") if f in m]
    if len(forms) != 1:
        raise c.fail(node, key, "a rule is a criterion name or exactly one of all, any, at_least")
    form = forms[0]
    if form in ("all", "any"):
        c.only_keys(m, (form,), key, "rule")
        items_node = m[form][1]
        items = tuple(_rule(c, n, f"{key}.{form}", criteria, conditions, counting_default)
                      for n in c.sequence(items_node, f"{key}.{form}"))
        if not items:
            raise c.fail(items_node, f"{key}.{form}", "expected at least one item")
        return AllOf(items) if form == "all" else AnyOf(items)
    c.only_keys(m, ("at_least", "of", "counting"), key, "rule")
    n = c.integer(m["at_least"][1], f"{key}.at_least")
    of_node = c.require(m, "of", node, key)
    counting = counting_default
    if "counting" in m:
        counting = c.text(m["counting"][1], f"{key}.counting")
        if counting not in COUNTING:
            raise c.fail(m["counting"][1], f"{key}.counting", f"must be one of {', '.join(COUNTING)}")
    items = tuple(_rule(c, x, f"{key}.of", criteria, conditions, counting_default)
                  for x in c.sequence(of_node, f"{key}.of"))
    if counting == "indicators" and not all(isinstance(i, str) and i in criteria for i in items):
        raise c.fail(of_node, f"{key}.of", "counting indicators needs a list of criterion names")
    if n > len(items) and counting == "criteria":
        raise c.fail(m["at_least"][1], f"{key}.at_least", f"asks for {n} of only {len(items)} items")
    return AtLeast(n, items, counting)


def window_bounds(window: Window, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """First and last day of a months/days window, both inclusive: the period that ends on the
    reference date (12 months to 30 Sep 2026 is 1 Oct 2025 - 30 Sep 2026)."""
    if window.kind == "months":
        first = (pd.Timestamp(as_of) - pd.DateOffset(months=window.n)).date() + dt.timedelta(days=1)
        return first, as_of
    if window.kind == "days":
        return as_of - dt.timedelta(days=window.n - 1), as_of
    return None

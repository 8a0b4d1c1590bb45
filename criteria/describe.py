"""Criteria sets in plain English, for analysts and project group members: for each indicator,
which agency, which records, the window, the threshold and which members."""
from __future__ import annotations

import datetime as dt

from criteria.language import (AllOf, AnyOf, CriteriaSet, Indicator, RuleNode, Window,
                               window_bounds)
from criteria.terms import last_complete_terms
from schemas.people import ADULT_AGE

_OPS = {"equals": "is", "one_of": "is one of", "not_one_of": "is not one of",
        "min": "is at least", "max": "is at most"}


def _words(name: str) -> str:
    return name.replace("_", " ")


def _value(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, tuple):
        items = [_value(x) for x in v]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
    return _words(str(v)) if isinstance(v, str) else f"{float(v):g}"


def _fmt(d: dt.date) -> str:
    return f"{d.day} {d:%b %Y}"


def describe_window(window: Window, as_of: dt.date | None = None) -> str:
    if window.kind == "any_time":
        return "at any date"
    if window.kind == "open":
        text = "on a claim open on the reference date (started on or before it, not ended before it)"
        return text + (f", i.e. open on {_fmt(as_of)}" if as_of else "")
    if window.kind == "terms":
        text = (f"in the last {window.n} complete school term{'s' if window.n > 1 else ''} "
                "(autumn 1 Aug-31 Dec, spring 1 Jan-Easter Sunday, summer Easter Monday-31 Jul)")
        if as_of:
            terms = last_complete_terms(as_of, window.n)
            text += f", i.e. {', '.join(str(t) for t in terms)} ({_fmt(terms[0].start)} to {_fmt(terms[-1].end)})"
        return text
    unit = "month" if window.kind == "months" else "day"
    text = f"dated in the {window.n} {unit}{'s' if window.n > 1 else ''} up to and including the reference date"
    if as_of:
        first, last = window_bounds(window, as_of)
        text += f", i.e. {_fmt(first)} to {_fmt(last)}"
    return text


def describe_indicator(ind: Indicator, as_of: dt.date | None = None) -> str:
    source = f"the {ind.source} extract ({ind.agency} kind)" if ind.source else f"{ind.agency} records (every {ind.agency} source in the run)"
    parts = [f"From {source}"]
    conds = [f"{_words(c.field)} {_OPS[c.op]} {_value(c.value)}" for c in ind.where]
    if ind.record_role:
        conds.append(f"the person's role in the record is {_value(ind.record_role)}")
    if conds:
        parts.append("where " + "; and ".join(conds))
    parts.append(describe_window(ind.window, as_of))
    text = ", ".join(parts) + "."
    when = "on the record's date" if ind.age_at == "event_date" else "on the reference date"
    who = {"any": "any family member",
           "children": f"children (under {ADULT_AGE} {when})",
           "adults": f"adults ({ADULT_AGE} or over {when})"}[ind.members]
    text += f" Counts records of {who}."
    t = ind.threshold
    scope = "one member's records" if ind.per == "person" else "the family's records together"
    if t.kind == "records":
        n = int(t.at_least)
        text += f" Met when {scope} number at least {n}." if n > 1 else f" Met by a single such record."
    elif t.kind == "sum":
        text += f" Met when {_words(t.fields[0])} on {scope} add up to at least {float(t.at_least):g}."
    elif t.kind == "share":
        num = " + ".join(_words(f) for f in t.fields)
        text += (f" Met when ({num}) divided by {_words(t.denominator)}, each summed over {scope} "
                 f"in the window, is at least {float(t.at_least * 100):g}%.")
    else:
        text += f" Met when any such record has {_value(t.fields)} set."
    return text


def describe_rule(node: RuleNode, cs: CriteriaSet) -> str:
    if isinstance(node, str):
        item = cs.criteria.get(node) or cs.conditions.get(node)
        return f"{node} ({item.title})" if item.title != node else node
    inner = [describe_rule(i, cs) for i in node.items]
    if isinstance(node, AllOf):
        return "all of [" + "; ".join(inner) + "]"
    if isinstance(node, AnyOf):
        return "any of [" + "; ".join(inner) + "]"
    unit = "needs (indicators) within" if node.counting == "indicators" else "of"
    return f"at least {node.n} {unit} [" + "; ".join(inner) + "]"


def describe(cs: CriteriaSet, as_of: dt.date | None = None) -> str:
    lines = [f"{cs.title} ({cs.name})"]
    if cs.description:
        lines += ["", cs.description]
    if as_of:
        lines += ["", f"Reference date: {_fmt(as_of)}."]
    lines += ["", "A criterion with no extract of the agency it needs in a run is shown blank (no data), "
                  "never 0, and is not counted towards the family rule."]
    for c in cs.criteria.values():
        lines += ["", f"Criterion {c.name}: {c.title}"]
        if c.description:
            lines.append(f"  {c.description}")
        lines.append("  Met when any of these indicators is met:" if len(c.indicators) > 1 else
                     "  Met when this indicator is met:")
        for i in c.indicators:
            ind = cs.indicators[i]
            lines.append(f"  - {i}: {ind.title}")
            lines.append(f"    {describe_indicator(ind, as_of)}")
    for f in cs.conditions.values():
        lines += ["", f"Family condition {f.name}: {f.title}"]
        ways = []
        if f.children_under is not None:
            ways.append(f"a member under {f.children_under} on the reference date")
        for i in f.or_indicators:
            ways.append(f"{i}: {describe_indicator(cs.indicators[i], as_of)}")
        if f.on_demand:
            demand = []
            if f.agencies_at_least is not None:
                demand.append(f"at least {f.agencies_at_least} agencies involved with its members")
            if f.cost_at_least is not None:
                demand.append(f"an estimated annual cost of recorded demand of at least £{float(f.cost_at_least):,.0f}")
            if f.cost_top_percent is not None:
                demand.append(f"a place in the top {float(f.cost_top_percent):g}% of families by estimated cost")
            lines.append("  Met by a family with " + " and ".join(demand))
        else:
            lines.append("  Met by " + "; or ".join(ways))
    lines += ["", "Family rule: a family is eligible when it meets " + describe_rule(cs.rule, cs) + "."]
    if cs.settings:
        lines += ["", "Settings: " + ", ".join(f"{k} = {v}" for k, v in cs.settings.items())]
    return "\n".join(lines)

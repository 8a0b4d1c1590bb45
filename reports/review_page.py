"""review.html: the clerical review queue as one offline page (no network, no server). One
person pair a screen, both sides field by field with agreements marked and the weights as a
waterfall; the analyst marks match / non-match / skip with the keyboard and saves a decisions
CSV (source_l, record_id_l, source_r, record_id_r, decision) that the next run reads.

Python works out what each pair shows (this module); the markup is `templates/review.html.j2`
(autoescaped), the styles `templates/review.css` and the behaviour `templates/review.js`, all
inlined. The page holds names and identifiers: it is written in the full profile only.
"""
from __future__ import annotations

import datetime as dt
import functools
import math

import jinja2
import pandas as pd

from schemas.columns import DECISION_COLUMNS

# The fields shown side by side, in the queue's column names (the standardised value; the value
# as the agency recorded it where the queue has one).
FIELDS = (("forename", "Forename"), ("surname", "Surname"), ("dob", "Date of birth"), ("sex", "Sex"),
          ("address", "Address"), ("postcode", "Postcode"), ("uprn", "UPRN"), ("nhs_number", "NHS number"),
          ("ni_number", "NI number"), ("upn", "UPN"))
DECISIONS_FILE = "review_decisions.csv"


def _text(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _agreement(left: str, right: str) -> str:
    """agree, differ, or blank where either side has no value (a blank is never evidence)."""
    if not left or not right:
        return "blank"
    return "agree" if left == right else "differ"


def pair_facts(row: pd.Series) -> dict:
    """What the page shows of one queue row."""
    fields = []
    for name, title in FIELDS:
        left, right = _text(row.get(f"{name}_l")), _text(row.get(f"{name}_r"))
        fields.append({"name": name, "title": title, "l": left, "r": right,
                       "l_recorded": _text(row.get(f"{name}_recorded_l")),
                       "r_recorded": _text(row.get(f"{name}_recorded_r")),
                       "agreement": _agreement(left, right)})
    comparisons = [c[2:] for c in row.index if c.startswith("w_")]
    weights = [{"name": c, "level": _text(row.get(f"level_{c}")), "weight": round(float(row[f"w_{c}"]), 3)}
               for c in comparisons]
    total = float(row["match_weight"])
    return {
        "keys": {c: _text(row[c]) for c in DECISION_COLUMNS[:4]},
        "person_l": _text(row.get("person_id_l")), "person_r": _text(row.get("person_id_r")),
        "family_l": _text(row.get("family_id_l")), "family_r": _text(row.get("family_id_r")),
        "agencies_l": _text(row.get("agencies_l")), "agencies_r": _text(row.get("agencies_r")),
        "record_pairs": int(row.get("record_pairs", 1)),
        "eligibility_if_match": int(row.get("eligibility_if_match", 0) or 0),
        "probability": float(row["match_probability"]), "total": round(total, 3),
        # The prior: what the weights start from before any field is compared.
        "prior": round(total - sum(w["weight"] for w in weights), 3),
        "fields": fields, "weights": weights,
    }


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("review.html.j2")


def _asset(name: str) -> str:
    loader = jinja2.PackageLoader("reports", "templates")
    return loader.get_source(jinja2.Environment(), name)[0]


def render_review_page(queue: pd.DataFrame, *, run_id: str, match_weight: float, review_weight: float) -> str:
    """The whole page as one HTML document (str). `run_id` names the run the queue is from: the
    page keeps the analyst's progress in the browser under it."""
    pairs = [pair_facts(row) for _, row in queue.iterrows()]
    return _template().render(
        pairs=pairs, run_id=run_id, decisions_file=DECISIONS_FILE, decision_columns=DECISION_COLUMNS,
        thresholds={"match": match_weight, "review": review_weight},
        css=_asset("review.css"), js=_asset("review.js"))

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
    return queue_facts(row.to_frame().T)[0]


def queue_facts(queue: pd.DataFrame) -> list[dict]:
    """What the page shows of each queue row, in order: each column turned to text once, then
    a row's facts put together from those lists (no per-row Series lookups: the queue of a
    1M-row run holds some 18,000 pairs)."""
    n = len(queue)
    blank = [""] * n

    def text(column: str) -> list[str]:
        return [_text(v) for v in queue[column].to_numpy(dtype=object)] if column in queue else blank

    def values(column: str, default) -> list:
        return queue[column].tolist() if column in queue else [default] * n

    sides = {f"{name}_{k}{side}": text(f"{name}_{k}{side}")
             for name, _ in FIELDS for k in ("", "recorded_") for side in ("l", "r")}
    comparisons = [c[2:] for c in queue.columns if c.startswith("w_")]
    level_text = {c: text(f"level_{c}") for c in comparisons}
    weight = {c: [round(float(w), 3) for w in queue[f"w_{c}"].tolist()] for c in comparisons}
    keys = {c: text(c) for c in DECISION_COLUMNS[:4]}
    ids = {c: text(c) for c in ("person_id_l", "person_id_r", "family_id_l", "family_id_r",
                                "agencies_l", "agencies_r")}
    record_pairs = values("record_pairs", 1)
    if_match = values("eligibility_if_match", 0)
    probability = queue["match_probability"].tolist()
    totals = queue["match_weight"].tolist()
    out = []
    for i in range(n):
        fields = []
        for name, title in FIELDS:
            left, right = sides[f"{name}_l"][i], sides[f"{name}_r"][i]
            fields.append({"name": name, "title": title, "l": left, "r": right,
                           "l_recorded": sides[f"{name}_recorded_l"][i],
                           "r_recorded": sides[f"{name}_recorded_r"][i],
                           "agreement": _agreement(left, right)})
        weights = [{"name": c, "level": level_text[c][i], "weight": weight[c][i]} for c in comparisons]
        total = float(totals[i])
        out.append({
            "keys": {c: keys[c][i] for c in keys},
            "person_l": ids["person_id_l"][i], "person_r": ids["person_id_r"][i],
            "family_l": ids["family_id_l"][i], "family_r": ids["family_id_r"][i],
            "agencies_l": ids["agencies_l"][i], "agencies_r": ids["agencies_r"][i],
            "record_pairs": int(record_pairs[i]),
            "eligibility_if_match": int(if_match[i] or 0),
            "probability": float(probability[i]), "total": round(total, 3),
            # The prior: what the weights start from before any field is compared.
            "prior": round(total - sum(w["weight"] for w in weights), 3),
            "fields": fields, "weights": weights,
        })
    return out


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
    pairs = queue_facts(queue)
    return _template().render(
        pairs=pairs, run_id=run_id, decisions_file=DECISIONS_FILE, decision_columns=DECISION_COLUMNS,
        thresholds={"match": match_weight, "review": review_weight},
        css=_asset("review.css"), js=_asset("review.js"))

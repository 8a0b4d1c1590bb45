"""The match model in report.html: every comparison level's fitted m and u and its weight, as a
chart (as Splink draws match weights) and a table, with a warning wherever a partial level of a
comparison outweighs its exact agreement (a level too rare for EM to learn its m)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from reports import charts


@dataclass(frozen=True)
class ModelTable:
    """Shaped as reports.html.Table, which the report's table macro reads."""
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: frozenset[int] = frozenset({2, 3, 4})
    caption: str = ""
    total: bool = False


@dataclass(frozen=True)
class MatchModel:
    table: ModelTable
    chart: str                                   # inline SVG from reports.charts
    warnings: list[str] = field(default_factory=list)
    prior_weight: float = 0.0


def oddities(comparisons: list[dict]) -> list[tuple[str, str, float, str, float]]:
    """(comparison, level, its weight, exact level, its weight) wherever a partial level (one
    below the comparison's `exact` level, or its first agreement level where none is called
    exact) weighs more than exact agreement: a partial agreement is never better evidence than a
    full one, so the level was probably too rare for EM to learn its m. Null levels and the last
    level (`else`, everything left) are not agreements and are left out."""
    found = []
    for comp in comparisons:
        levels = [lv for lv in comp["levels"][:-1] if not lv.get("is_null_level")]
        if not levels:
            continue
        labels = [lv["label"] for lv in levels]
        k = labels.index("exact") if "exact" in labels else 0
        exact = levels[k]
        found += [(comp["name"], lv["label"], lv["weight"], exact["label"], exact["weight"])
                  for lv in levels[k + 1:] if lv["weight"] > exact["weight"]]
    return found


def _num(v, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}g}" if digits else str(v)


def match_model(model: dict) -> MatchModel | None:
    """What the report shows of the fitted model (LinkageResult.model); None without one."""
    comparisons = model.get("comparisons") if isinstance(model, dict) else None
    if not comparisons:
        return None
    odd = oddities(comparisons)
    flagged = {(c, lv) for c, lv, *_ in odd}
    rows, bars = [], []
    for comp in comparisons:
        for lv in comp["levels"]:
            note = "weighs more than exact agreement" if (comp["name"], lv["label"]) in flagged else ""
            if lv.get("is_null_level"):
                note = "a blank on either side: no evidence"
            rows.append([comp["name"], lv["label"], _num(lv["m"], 3), _num(lv["u"], 3), f"{lv['weight']:+.2f}", note])
            if not lv.get("is_null_level"):
                bars.append((comp["name"], lv["label"], float(lv["weight"]), (comp["name"], lv["label"]) in flagged))
    warnings = [f"{c}: the partial level '{weak}' ({w:+.2f}) weighs more than '{strong}' ({s:+.2f}). It is "
                "probably too rare in these data for its m to be learnt: check links that rest on it, or fix its m "
                "in the linkage settings." for c, weak, w, strong, s in odd]
    table = ModelTable(headers=["Comparison", "Level", "m", "u", "Weight", "Note"], rows=rows,
                       caption="m: the share of true matches at the level; u: the share of non-matches; "
                               "weight: log2(m/u), what the level adds to a pair's match weight")
    return MatchModel(table=table, chart=charts.match_weights_chart(bars), warnings=warnings,
                      prior_weight=float(model.get("prior_weight", 0.0)))


@dataclass(frozen=True)
class DecisionAccuracy:
    table: ModelTable
    chart: str


def decision_accuracy(pairs, match_weight: float, review_weight: float) -> DecisionAccuracy | None:
    """How the model fares against the clerical decisions in force (the run's pairs decided a
    clerical match or non-match, by their model weight); None without decisions."""
    from matching.accuracy import accuracy_from_decisions
    # Not as text: the pairs are the longest frame of a run, their status a categorical.
    decided = pairs["status"].isin(["clerical match", "clerical non-match"]).to_numpy()
    if not decided.any():
        return None
    acc = accuracy_from_decisions(pairs["match_weight"].to_numpy()[decided].astype(float),
                                  (pairs["status"][decided].astype(str).to_numpy() == "clerical match"),
                                  match_weight, review_weight)

    def share(v):
        return "n/a" if v is None else f"{v:.1%}"
    rows = [["Record pairs decided (match / non-match)", f"{acc.decided:,} ({acc.matches:,} / {acc.decided - acc.matches:,})"],
            ["Of those in the review band, decided a match (the band's precision, were it linked)",
             f"{share(acc.band_precision)} of {acc.band_decided:,}"],
            [f"Precision of the link threshold ({match_weight:.1f}) against the decisions", share(acc.precision)],
            ["Recall of the link threshold: decided matches it links", share(acc.recall)]]
    table = ModelTable(headers=["", "Value"], rows=rows, numeric=frozenset({1}),
                       caption="Decisions are mostly on the review band, so they judge the band better than the "
                               "pairs far above it")
    curve = acc.curve
    return DecisionAccuracy(table=table, chart=charts.threshold_chart(
        curve["threshold"].to_numpy(float), curve["precision"].to_numpy(float),
        curve["recall"].to_numpy(float), match_weight, review_weight))

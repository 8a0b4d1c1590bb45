"""The match model section of report.html (reports.match_model): weights per level, and the
warning when a partial level outweighs exact agreement."""
from reports.match_model import match_model, oddities


def level(label, weight, m=0.5, u=0.01, null=False):
    return {"label": label, "is_null_level": null, "m": None if null else m, "u": None if null else u,
            "weight": weight}


MODEL = {"prior_weight": -9.0, "comparisons": [
    {"name": "forename", "levels": [level("missing", 0.0, null=True), level("exact", 6.7), level("one_edit", 2.0),
                                    level("initial", 8.6, m=0.0005, u=1.25e-6), level("else", -10.9)]},
    # A level above exact (a fixed weight for a shared surname) is not compared with it.
    {"name": "surname", "levels": [level("shared_surname_exact", 4.0), level("exact", 6.0), level("variant", 4.3),
                                   level("else", -9.0)]},
    # Without a level called exact, the first agreement level is the reference; `else` never counts.
    {"name": "sex", "levels": [level("equal", 1.0), level("else", 3.0)]},
]}


def test_a_partial_level_weighing_more_than_exact_is_flagged():
    assert oddities(MODEL["comparisons"]) == [("forename", "initial", 8.6, "exact", 6.7)]


def test_the_section_has_every_level_a_warning_and_a_chart():
    facts = match_model(MODEL)
    assert [r[:2] for r in facts.table.rows][:5] == [["forename", "missing"], ["forename", "exact"],
                                                     ["forename", "one_edit"], ["forename", "initial"],
                                                     ["forename", "else"]]
    initial = facts.table.rows[3]
    assert initial[4] == "+8.60" and initial[5] == "weighs more than exact agreement"
    assert len(facts.warnings) == 1 and "'initial' (+8.60) weighs more than 'exact' (+6.70)" in facts.warnings[0]
    assert facts.chart.startswith("<svg") and "forename: initial  (!)" in facts.chart
    assert facts.prior_weight == -9.0


def test_no_model_no_section():
    assert match_model({}) is None

"""Outcome tracking on hand-built families: improvements that last and improvements that lapse,
the exact edges of each measure (60%, a third, 13 weeks, three terms, six months), baselines and
case starts, claims and their evidence, and the loader's errors."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from criteria import load_criteria
from criteria.outcomes import (load_outcomes, next_baselines, outcomes_file, parse_case_starts,
                               parse_outcomes, track_outcomes)
from schemas.errors import ConfigError, InputDataError
from tests.conftest import typed_extract

ADULT = dt.date(1985, 5, 5)
CHILD = dt.date(2013, 3, 3)      # 13 in 2026
BASE = dt.date(2026, 9, 30)
D = dt.date.fromisoformat


extract = typed_extract


class World:
    """Families, their members, and the records agencies hold about them."""

    def __init__(self):
        self.people: dict[str, tuple[str, dt.date]] = {}
        self.rows: dict[str, list[dict]] = {}

    def person(self, pid, fid, dob):
        self.people[pid] = (fid, dob)
        return pid

    def add(self, kind, pid, **fields):
        rows = self.rows.setdefault(kind, [])
        rows.append({"record_id": f"{kind}-{len(rows) + 1}", "forename": "A", "surname": "B", "_p": pid, **fields})

    def asb(self, pid, day, intervention="warning"):
        self.add("asb", pid, role="perpetrator", intervention=intervention, event_date=day)

    def offence(self, pid, day, outcome="charged"):
        self.add("police", pid, event_type="offence", role="offender", outcome=outcome, event_date=day)

    def claim(self, pid, start, end=None, out_of_work=True, role="claimant"):
        self.add("benefits", pid, benefit_type="UC", out_of_work=out_of_work, role=role,
                 claim_start=start, claim_end=end)

    def term(self, pid, year, term, unauthorised, possible=100, fte=0, perm=False):
        self.add("schools", pid, academic_year=year, term=term, sessions_possible=possible,
                 sessions_unauthorised=unauthorised, sessions_authorised=0, fixed_term_exclusions=fte,
                 permanent_exclusion=perm, alternative_provision=False)

    def inputs(self):
        extracts = {k: extract(k, rows) for k, rows in self.rows.items()}
        links = pd.DataFrame([{"source": k, "record_id": r["record_id"], "person_id": r["_p"],
                               "family_id": self.people[r["_p"]][0]}
                              for k, rows in self.rows.items() for r in rows])
        members = pd.DataFrame([{"family_id": f, "person_id": p, "dob": pd.Timestamp(d)}
                                for p, (f, d) in self.people.items()])
        return extracts, {k: k for k in self.rows}, links, members

    def track(self, programme, as_of, baselines, settings=None):
        cs = load_criteria(programme)
        os_ = load_outcomes(programme, settings=settings)
        extracts, kinds, links, members = self.inputs()
        if isinstance(baselines, dict):
            baselines = pd.DataFrame({"family_id": list(baselines), "baseline_date": pd.to_datetime(list(baselines.values())),
                                      "baseline_source": "first_eligible"})
        return track_outcomes(extracts, kinds, links, members, cs, os_, as_of, baselines)


def row(result, family, measure):
    o = result.outcomes
    hit = o[(o["family_id"] == family) & (o["measure"] == measure)]
    assert len(hit) == 1, f"{len(hit)} rows for {family} {measure}"
    return hit.iloc[0]


def day(value):
    return None if pd.isna(value) else value.date()


# --- education: three terms -------------------------------------------------------------------

PRE = [("2025/26", "autumn"), ("2025/26", "spring"), ("2025/26", "summer")]     # the baseline window
POST = [("2026/27", "autumn"), ("2026/27", "spring"), ("2026/27", "summer"), ("2027/28", "autumn")]
TERM_ENDS = [D("2026-12-31"), D("2027-03-28"), D("2027-07-31"), D("2027-12-31")]  # Easter 2027: 28 Mar


def school_family(w, fid, post_rates, **last_term):
    kid = w.person(f"{fid}-c", fid, CHILD)
    w.person(f"{fid}-a", fid, ADULT)
    for y, t in PRE:
        w.term(kid, y, t, 45)
    for i, ((y, t), rate) in enumerate(zip(POST, post_rates)):
        extra = last_term if i == len(post_rates) - 1 else {}
        w.term(kid, y, t, rate, **extra)
    return kid


def test_absence_below_15_for_three_terms_is_met_and_a_return_in_the_last_term_lapses():
    w = World()
    school_family(w, "F1", [5, 5, 5, 5])
    school_family(w, "F2", [5, 5, 5, 50])      # back to half the sessions missed in the fourth term
    school_family(w, "F3", [5, 5, 5, 25])      # a smaller return is absorbed by the 3-term sum: 35/300
    school_family(w, "F4", [5, 5, 5, 5], fte=3)
    school_family(w, "F5", [5])                # no school rows in the last 3 terms: not on a roll
    r = w.track("troubled-families-2012", D("2027-12-31"), {f: BASE for f in ["F1", "F2", "F3", "F4", "F5"]})
    f1 = row(r, "F1", "education_attendance")
    # (45 + 5 + 5) / 300 at the end of spring 2027 is 18%; (5 + 5 + 5) / 300 at the end of summer.
    assert (f1["met"], day(f1["met_since"]), f1["sustained"], day(f1["sustained_since"])) == (1, TERM_ENDS[2], 1, TERM_ENDS[2])
    assert (f1["baseline_value"], f1["current_value"]) == (1, 0)
    f2 = row(r, "F2", "education_attendance")
    assert (f2["met"], f2["sustained"], f2["current_value"]) == (0, 0, 1)
    assert pd.isna(f2["met_since"]) and pd.isna(f2["sustained_since"])
    assert row(r, "F3", "education_attendance")["sustained"] == 1
    assert (row(r, "F4", "education_attendance")["met"], row(r, "F4", "education_attendance")["current_value"]) == (0, 1)
    assert row(r, "F5", "education_attendance")["met"] == 0
    assert set(r.claims["family_id"]) == {"F1", "F3"}
    assert r.claims.set_index("family_id").loc["F1", "claim_route"] == "education_and_crime"
    # Evidence: the problem terms before the baseline, and the terms on roll in the last window.
    ev = r.evidence[r.evidence["family_id"] == "F1"]
    assert set(ev["measure"]) == {"education_attendance"} and set(ev["source"]) == {"schools"}
    starts = sorted(ev["event_date"].dt.date)
    assert starts == [D("2025-08-01"), D("2026-01-01"), D("2026-04-06"),
                      D("2027-01-01"), D("2027-03-29"), D("2027-08-01")]


def test_education_lapse_shows_as_met_at_the_quarter_before():
    w = World()
    school_family(w, "F2", [5, 5, 5, 50])
    r = w.track("troubled-families-2012", D("2027-09-30"), {"F2": BASE})
    f2 = row(r, "F2", "education_attendance")
    assert (f2["met"], f2["sustained"], day(f2["met_since"])) == (1, 1, TERM_ENDS[2])


# --- crime and ASB: 60% and a third -------------------------------------------------------------

AS_OF = D("2027-03-31")     # six months after the baseline


def asb_family(w, fid, before, after, after_from=D("2026-10-10")):
    p = w.person(f"{fid}-a", fid, ADULT)
    for i in range(before):
        w.asb(p, D("2026-04-10") + dt.timedelta(days=10 * i))
    for i in range(after):
        w.asb(p, after_from + dt.timedelta(days=5 * i))


def test_asb_down_exactly_60_percent_is_met_and_just_under_is_not():
    w = World()
    asb_family(w, "G1", 5, 2)        # down 60%
    asb_family(w, "G2", 5, 3)        # down 40%
    asb_family(w, "G3", 10, 4)       # down 60%
    asb_family(w, "G4", 10, 5)       # down 50%
    asb_family(w, "G5", 0, 0)        # nothing to reduce: the measure does not apply
    r = w.track("troubled-families-2012", AS_OF, {f: BASE for f in ["G1", "G2", "G3", "G4", "G5"]})
    got = {f: (row(r, f, "asb_down_60")["baseline_value"], row(r, f, "asb_down_60")["current_value"],
               row(r, f, "asb_down_60")["sustained"]) for f in ["G1", "G2", "G3", "G4"]}
    assert got == {"G1": (5, 2, 1), "G2": (5, 3, 0), "G3": (10, 4, 1), "G4": (10, 5, 0)}
    assert "G5" not in set(r.outcomes["family_id"])
    assert set(r.claims["family_id"]) == {"G1", "G3"}


def test_asb_improvement_that_lapses_is_not_met():
    w = World()
    asb_family(w, "G1", 5, 0)
    asb_family(w, "G2", 5, 3, after_from=D("2027-03-01"))      # quiet for five months, then back
    r = w.track("troubled-families-2012", AS_OF, {"G1": BASE, "G2": BASE})
    g1, g2 = row(r, "G1", "asb_down_60"), row(r, "G2", "asb_down_60")
    # G1's last record before the baseline falls out of the 6-month window at the end of October.
    assert (g1["met"], day(g1["met_since"])) == (1, D("2026-10-31"))
    assert (g2["met"], g2["sustained"], g2["current_value"]) == (0, 0, 3)


def test_youth_offending_down_a_third():
    w = World()
    for fid, after in [("Y1", 2), ("Y2", 3)]:
        kid = w.person(f"{fid}-c", fid, D("2010-01-01"))   # 16 at the baseline
        adult = w.person(f"{fid}-a", fid, ADULT)
        for i in range(3):
            w.offence(kid, D("2026-05-01") + dt.timedelta(days=20 * i))
        for i in range(after):
            w.offence(kid, D("2026-11-01") + dt.timedelta(days=20 * i), outcome="youth_caution")
        w.offence(adult, D("2026-12-01"))          # an adult's offence is not youth offending
        w.offence(kid, D("2026-12-15"), outcome="nfa")   # nor is no further action
    r = w.track("troubled-families-2012", AS_OF, {"Y1": BASE, "Y2": BASE})
    assert (row(r, "Y1", "youth_offending_down_33")["current_value"], row(r, "Y1", "youth_offending_down_33")["sustained"]) == (2, 1)
    assert (row(r, "Y2", "youth_offending_down_33")["current_value"], row(r, "Y2", "youth_offending_down_33")["sustained"]) == (3, 0)


def test_crime_result_needs_every_applicable_part():
    w = World()
    kid = w.person("C1-c", "C1", D("2010-01-01"))
    for i in range(3):
        w.offence(kid, D("2026-05-01") + dt.timedelta(days=20 * i))
        w.asb(kid, D("2026-05-05") + dt.timedelta(days=20 * i))
    w.asb(kid, D("2026-12-01"))                # ASB down two thirds, offending stopped
    w.asb(kid, D("2026-12-02"))                # ... now down only a third
    r = w.track("troubled-families-2012", AS_OF, {"C1": BASE})
    assert row(r, "C1", "youth_offending_down_33")["sustained"] == 1
    assert row(r, "C1", "asb_down_60")["sustained"] == 0
    assert r.claims.empty


# --- employment: 13 weeks -------------------------------------------------------------------------

def test_out_of_work_claim_ended_13_weeks_ago_is_met_and_12_weeks_is_not():
    w = World()
    for fid, weeks in [("H1", 13), ("H2", 12)]:
        a = w.person(f"{fid}-a", fid, ADULT)
        w.claim(a, D("2025-01-01"), AS_OF - dt.timedelta(weeks=weeks))
    r = w.track("troubled-families-2012", AS_OF, {"H1": BASE, "H2": BASE})
    h1, h2 = row(r, "H1", "into_work"), row(r, "H2", "into_work")
    assert (h1["met"], h1["sustained"], h1["baseline_value"], h1["current_value"]) == (1, 1, 1, 0)
    assert day(h1["met_since"]) == AS_OF
    assert (h2["met"], h2["sustained"], h2["current_value"]) == (0, 0, 1)
    claims = r.claims.set_index("family_id")
    assert list(claims.index) == ["H1"] and claims.loc["H1", "claim_route"] == "continuous_work"
    ev = r.evidence
    assert ev["family_id"].tolist() == ["H1"] and ev["measure"].tolist() == ["into_work"]
    assert ev["source"].tolist() == ["benefits"]


def test_employment_judged_for_the_family_and_in_work_claims_do_not_count():
    w = World()
    a, b = w.person("H3-a", "H3", ADULT), w.person("H3-b", "H3", ADULT)
    w.claim(a, D("2025-01-01"), D("2026-10-15"))
    w.claim(b, D("2025-01-01"), D("2026-10-15"), role="partner")
    w.claim(a, D("2027-02-01"))                       # back on an out-of-work claim: lapsed
    c = w.person("H4-a", "H4", ADULT)
    w.claim(c, D("2025-01-01"), D("2026-10-15"))
    w.claim(c, D("2026-11-01"), out_of_work=False)    # in-work Universal Credit
    d = w.person("H5-a", "H5", ADULT)                 # never on an out-of-work claim: not tracked for it
    w.claim(d, D("2025-01-01"), out_of_work=False)
    r = w.track("troubled-families-2012", AS_OF, {"H3": BASE, "H4": BASE, "H5": BASE})
    assert row(r, "H3", "into_work")["met"] == 0
    h4 = row(r, "H4", "into_work")
    assert (h4["met"], day(h4["met_since"])) == (1, D("2027-01-31"))   # 15 Oct + 91 days = 14 Jan
    assert "H5" not in set(r.outcomes["family_id"])


# --- baselines ------------------------------------------------------------------------------------

def test_a_family_without_a_baseline_is_not_tracked():
    w = World()
    asb_family(w, "G1", 5, 0)
    asb_family(w, "G2", 5, 0)
    r = w.track("troubled-families-2012", AS_OF, {"G1": BASE})
    assert set(r.outcomes["family_id"]) == {"G1"}
    r = w.track("troubled-families-2012", AS_OF, {"G9": BASE})      # not in this run
    assert r.outcomes.empty and r.claims.empty and r.evidence.empty
    assert r.warnings == ["1 baseline(s) name a family not in this run and are not tracked"]


def test_next_baselines_keeps_previous_adds_newly_eligible_and_case_starts_override():
    matrix = pd.DataFrame({"family_id": ["F1", "F2", "F3", "F4"], "eligible": [1, 1, 0, 1]})
    previous = pd.DataFrame({"family_id": ["F1", "F0"], "baseline_date": ["2026-06-30", "2026-03-31"],
                             "baseline_source": ["first_eligible", "case_start"]})
    cases = parse_case_starts(pd.DataFrame({"family_id": ["F4", "F3"], "baseline_date": ["2026-08-15", "01/07/2026"]}))
    out = next_baselines(matrix, previous, D("2026-09-30"), cases)
    got = {f: (d.date().isoformat(), s) for f, d, s in zip(out["family_id"], out["baseline_date"], out["baseline_source"])}
    assert got == {"F0": ("2026-03-31", "case_start"), "F1": ("2026-06-30", "first_eligible"),
                   "F2": ("2026-09-30", "first_eligible"), "F3": ("2026-07-01", "case_start"),
                   "F4": ("2026-08-15", "case_start")}
    assert list(out.columns) == ["family_id", "baseline_date", "baseline_source"]
    first = next_baselines(matrix, None, D("2026-09-30"))
    assert first["family_id"].tolist() == ["F1", "F2", "F4"]


def test_a_case_start_baseline_moves_the_comparison():
    w = World()
    asb_family(w, "G1", 5, 2)
    as_of = D("2027-03-31")
    eligible = w.track("troubled-families-2012", as_of, {"G1": BASE})
    # A case start on 1 May: its 6 months before hold 3 of the 5 records (10 Apr - 20 May), and
    # October's two are 40% of 5 but not of 3.
    matrix = pd.DataFrame({"family_id": ["G1"], "eligible": [1]})
    b = next_baselines(matrix, None, BASE, pd.DataFrame({"family_id": ["G1"], "baseline_date": ["2026-05-01"]}))
    case = w.track("troubled-families-2012", as_of, b)
    assert row(eligible, "G1", "asb_down_60")["sustained"] == 1
    r = row(case, "G1", "asb_down_60")
    assert day(r["baseline_date"]) == D("2026-05-01")
    assert r["baseline_value"] == 3 and r["sustained"] == 0


def test_case_starts_are_checked_row_by_row_without_values():
    with pytest.raises(InputDataError, match=r"baseline.csv, row 3, column baseline_date"):
        parse_case_starts(pd.DataFrame({"family_id": ["F1", "F2"], "baseline_date": ["2026-01-01", "31/02/2026"]}))
    with pytest.raises(InputDataError, match=r"row 2, column family_id: blank"):
        parse_case_starts(pd.DataFrame({"family_id": [None], "baseline_date": ["2026-01-01"]}))
    with pytest.raises(InputDataError, match=r"row 3, column family_id: the family is listed twice"):
        parse_case_starts(pd.DataFrame({"family_id": ["F1", "F1"], "baseline_date": ["2026-01-01", "2026-02-01"]}))
    with pytest.raises(InputDataError, match="missing column"):
        parse_case_starts(pd.DataFrame({"family": ["F1"]}))


# --- sustained for six months (phase 2, Supporting Families) --------------------------------------

def dv_family(w, fid, last_incident, child=True):
    a = w.person(f"{fid}-a", fid, ADULT)
    if child:
        w.person(f"{fid}-c", fid, CHILD)
    w.add("dv", a, role="victim", risk_level="high", event_date=last_incident)
    w.add("housing", a, event_type="nosp", event_date=last_incident)
    return a


def test_needs_no_longer_present_for_six_months_vs_five():
    w = World()
    dv_family(w, "S1", D("2025-10-30"))
    base = D("2026-03-31")
    # Out of the 12-month windows from 30 Oct 2026. Checkpoints fall on the reference date's day of
    # each month: the 30th going back from 30 Apr, the month's last day going back from 31 Mar.
    five = w.track("supporting-families-2022", D("2027-03-31"), {"S1": base})
    six = w.track("supporting-families-2022", D("2027-04-30"), {"S1": base})
    for r, since, sustained in [(five, D("2026-10-31"), 0), (six, D("2026-10-30"), 1)]:
        for measure in ("domestic_abuse", "housing"):
            x = row(r, "S1", measure)
            assert (x["met"], day(x["met_since"]), x["sustained"]) == (1, since, sustained)
    assert day(row(six, "S1", "housing")["sustained_since"]) == D("2027-04-30")
    assert set(six.outcomes["measure"]) == {"domestic_abuse", "housing"}    # only the needs present
    assert six.claims["claim_route"].tolist() == ["every_need_sustained"]
    assert six.claims["measures"].tolist() == ["domestic_abuse;housing"]
    assert five.claims.empty
    ev = six.evidence
    assert set(zip(ev["measure"], ev["source"])) == {("domestic_abuse", "dv"), ("housing", "housing")}


def test_a_need_that_returns_breaks_the_run():
    w = World()
    a = dv_family(w, "S2", D("2025-10-30"))
    w.add("housing", a, event_type="eviction", event_date=D("2027-01-15"))
    r = w.track("supporting-families-2022", D("2027-06-30"), {"S2": D("2026-03-31")})
    assert row(r, "S2", "housing")["met"] == 0
    assert row(r, "S2", "domestic_abuse")["sustained"] == 1
    assert r.claims.empty                       # every need must be sustained


def test_phase_2_sustain_period_is_a_setting():
    w = World()
    dv_family(w, "P1", D("2025-10-30"))
    args = ("troubled-families-2015", D("2027-04-30"), {"P1": D("2026-03-31")})
    assert row(w.track(*args), "P1", "domestic_abuse")["sustained"] == 1
    assert row(w.track(*args, settings={"sustain_months": 9}), "P1", "domestic_abuse")["sustained"] == 0
    assert w.track(*args).claims["claim_route"].tolist() == ["significant_and_sustained_progress"]


def test_outcomes_columns_and_types():
    w = World()
    dv_family(w, "S1", D("2025-10-31"))
    r = w.track("supporting-families-2022", D("2027-04-30"), {"S1": D("2026-03-31")})
    assert list(r.outcomes.columns) == ["family_id", "baseline_date", "measure", "title", "baseline_value",
                                        "current_value", "met", "met_since", "sustained", "sustained_since"]
    assert list(r.claims.columns) == ["family_id", "baseline_date", "claim_route", "measures"]
    assert list(r.evidence.columns) == ["family_id", "measure", "person_id", "source", "record_id", "event_date"]
    for c in ("baseline_date", "met_since", "sustained_since"):
        assert str(r.outcomes[c].dtype) == "datetime64[ns]"
    assert r.outcomes["title"].str.len().min() > 10


# --- loading --------------------------------------------------------------------------------------

def test_every_built_in_set_has_outcome_rules_and_a_councils_file_is_found_beside_it(tmp_path):
    for name in ("troubled-families-2012", "troubled-families-2015", "supporting-families-2022"):
        os_ = load_outcomes(name)
        assert os_ is not None and os_.criteria_name == name and os_.routes
    src = load_criteria("troubled-families-2012").source_file
    assert src
    (tmp_path / "ours.yaml").write_text(
        "indicators:\n  asb:\n    agency: asb\n    window: {last_months: 6}\n    per: family\n"
        "criteria:\n  asb:\n    any_of: [asb]\nrule: asb\n", encoding="utf-8")
    assert load_outcomes(tmp_path / "ours.yaml") is None
    (tmp_path / "ours.outcomes.yaml").write_text(
        "measures:\n  asb_down:\n    reduce: {count: asb, by_at_least: 1/2}\n"
        "claim_routes:\n  asb:\n    all_of: [asb_down]\n", encoding="utf-8")
    assert outcomes_file(tmp_path / "ours.yaml")[0] == tmp_path / "ours.outcomes.yaml"
    os_ = load_outcomes(str(tmp_path / "ours.yaml"))
    assert os_.measures["asb_down"].form == "reduce" and str(os_.measures["asb_down"].by_at_least) == "1/2"


BAD = [
    ("measures: {m: {none_of: education, colour: red}}\nclaim_routes: {r: {all_of: m}}",
     "line 1: measures.m.colour: unknown key; a measure takes"),
    ("measures:\n  m:\n    none_of: [nothing_like_this]\nclaim_routes: {r: {all_of: m}}",
     "line 3: measures.m.none_of[0]: unknown criterion or indicator nothing_like_this"),
    ("measures:\n  m:\n    reduce: {count: unauthorised_absence, by_at_least: 0.6}\nclaim_routes: {r: {all_of: m}}",
     "line 3: measures.m.reduce.count: indicator unauthorised_absence must count records"),
    ("measures:\n  m:\n    reduce: {count: youth_offence, by_at_least: 1.5}\nclaim_routes: {r: {all_of: m}}",
     "measures.m.reduce.by_at_least: must be above 0 and at most 1"),
    ("measures:\n  m:\n    reduce: {count: youth_offence, by_at_least: lots}\nclaim_routes: {r: {all_of: m}}",
     "expected a fraction"),
    ("measures:\n  m:\n    none_of: education\n    sustain: {terms: 3}\nclaim_routes: {r: {all_of: m}}",
     "line 4: measures.m.sustain.terms: a measure checked each month is sustained in months"),
    ("measures:\n  m:\n    none_of: education\n    sustain: {months: how_long}\nclaim_routes: {r: {all_of: m}}",
     "measures.m.sustain.months: unknown setting how_long"),
    ("measures:\n  m:\n    none_of: education\n    checked: week\nclaim_routes: {r: {all_of: m}}",
     "measures.m.checked: must be one of month, term"),
    ("measures:\n  m:\n    none_of: education\n    reduce: {count: youth_offence, by_at_least: 0.5}\nclaim_routes: {r: {all_of: m}}",
     "measures.m: give none_of/any_of or reduce, not both"),
    ("measures:\n  m:\n    none_of: education\nclaim_routes:\n  r:\n    all_of: [n]",
     "line 6: claim_routes.r.all_of[0]: unknown measure n"),
    ("measures:\n  m:\n    none_of: education\nclaim_routes:\n  r:\n    any_of: [m]",
     "claim_routes.r.any_of: unknown key; a claim route takes"),
    ("indicators:\n  work:\n    agency: benefits\n    window: any_time\nmeasures:\n  m:\n    none_of: education\n"
     "claim_routes: {r: {all_of: m}}", "line 2: indicators.work: not used by any measure"),
    ("indicators:\n  youth_offence:\n    agency: police\n    window: any_time\nmeasures: {m: {none_of: youth_offence}}\n"
     "claim_routes: {r: {all_of: m}}", "line 2: indicators.youth_offence: already an indicator"),
    ("indicators:\n  x:\n    agency: police\n    window: {last_terms: 3}\nmeasures: {m: {none_of: x}}\n"
     "claim_routes: {r: {all_of: m}}", "line 4: indicators.x.window.last_terms: unknown key; a window takes"),
    ("measures:\n  m:\n    any_of: education\nclaim_routes: {r: {all_of: m}}",
     "measures.m: a measure with only any_of needs applies_when"),
    ("measures: {}\nclaim_routes: {r: {all_of: m}}", "measures: define at least one measure"),
    ("measures: {m: {none_of: education}}\nclaim_routes: {r: {all_of: m}}\nclaims: x",
     "line 3: claims: unknown key; outcome rules take"),
    ("name: x\nname: y\nmeasures: {m: {none_of: education}}\nclaim_routes: {r: {all_of: m}}",
     "line 2: name: given twice"),
    ("measures: [oops", "not valid YAML"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_loader_errors_name_the_file_line_and_key(text, message):
    cs = load_criteria("troubled-families-2012")
    with pytest.raises(ConfigError) as exc:
        parse_outcomes(text, cs, "ours.outcomes.yaml")
    assert str(exc.value.message).startswith("ours.outcomes.yaml")
    assert message in str(exc.value.message)


def test_setting_overrides_are_checked():
    with pytest.raises(ConfigError, match="unknown outcome setting sustain_weeks"):
        load_outcomes("troubled-families-2015", settings={"sustain_weeks": 3})
    with pytest.raises(ConfigError, match="whole number"):
        load_outcomes("troubled-families-2015", settings={"sustain_months": "six"})
    assert load_outcomes("troubled-families-2015", settings={"sustain_months": 0}).measures["education"].sustain.unit == "none"

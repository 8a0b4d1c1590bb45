"""The criteria engine on hand-built families: window edges, thresholds, ages, rules, no data,
evidence and the transposed layout."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from tests.conftest import typed_extract

from criteria import load_criteria, parse_criteria, score_families, transpose

AS_OF = dt.date(2026, 9, 30)


extract = typed_extract


def age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


class World:
    """People in families and the records agencies hold about them."""

    def __init__(self):
        self.people: dict[str, tuple[str, dt.date | None, str]] = {}
        self.rows: dict[str, list[dict]] = {}
        self.kinds: dict[str, str] = {}
        self.unlinked: set[tuple[str, str]] = set()

    def person(self, pid, fid, dob, postcode="AB1 2CD"):
        self.people[pid] = (fid, dob, postcode)
        return self

    def add(self, source, kind, pid, linked=True, **fields):
        self.kinds[source] = kind
        rows = self.rows.setdefault(source, [])
        record_id = f"{source}-{len(rows) + 1}"
        rows.append({"record_id": record_id, "forename": "A", "surname": "B", "_person": pid, **fields})
        if not linked:
            self.unlinked.add((source, record_id))
        return record_id

    def inputs(self, as_of=AS_OF):
        extracts = {s: extract(self.kinds[s], rows) for s, rows in self.rows.items()}
        links = [{"source": s, "record_id": r["record_id"], "person_id": r["_person"],
                  "family_id": self.people[r["_person"]][0], "match_score": None}
                 for s, rows in self.rows.items() for r in rows if (s, r["record_id"]) not in self.unlinked]
        record_links = pd.DataFrame(links, columns=["source", "record_id", "person_id", "family_id", "match_score"])
        members = pd.DataFrame([
            {"family_id": fid, "person_id": pid,
             "age": age_on(dob, as_of) if dob else None,
             "role": None if dob is None else ("child" if age_on(dob, as_of) < 18 else "adult"),
             "dob": pd.Timestamp(dob) if dob else pd.NaT, "postcode": pc}
            for pid, (fid, dob, pc) in self.people.items()])
        members["age"] = members["age"].astype("Int64")
        return extracts, dict(self.kinds), record_links, members

    def score(self, cs, as_of=AS_OF):
        extracts, kinds, links, members = self.inputs(as_of)
        return score_families(extracts, kinds, links, members, cs, as_of)


def criterion(result, family, name):
    m = result.need_matrix.set_index("family_id")
    value = m.loc[family, name]
    return None if pd.isna(value) else int(value)


def single(indicator_yaml: str):
    """A one-indicator, one-criterion set named `need`."""
    return parse_criteria("indicators:\n  ind:\n" + indicator_yaml +
                          "criteria:\n  need:\n    any_of: [ind]\nrule: need\n", "test.yaml")


ADULT = dt.date(1985, 5, 5)
CHILD = dt.date(2012, 3, 3)


def assert_evidence_backs_every_one(result):
    m = result.need_matrix.set_index("family_id")
    crits = [c for c in m.columns if c not in ("members", "adults", "children", "postcode_district",
                                               "criteria_met", "eligible")]
    backed = set(zip(result.evidence["family_id"], result.evidence["criterion"]))
    for c in crits:
        for fam in m.index[m[c] == 1]:
            assert (fam, c) in backed
    for fam, c in backed:
        assert m.loc[fam, c] == 1


# --- windows ----------------------------------------------------------------------------------

def test_twelve_month_window_first_and_last_day_and_one_day_outside():
    cs = single("    agency: police\n    window: {last_months: 12}\n")
    w = World()
    for fam, day in [("F1", "2025-10-01"), ("F2", "2026-09-30"), ("F3", "2025-09-30"), ("F4", "2026-10-01")]:
        w.person(f"P{fam}", fam, ADULT)
        w.add("police", "police", f"P{fam}", event_type="offence", role="offender", event_date=day)
    r = w.score(cs)
    assert [criterion(r, f, "need") for f in ["F1", "F2", "F3", "F4"]] == [1, 1, 0, 0]
    assert r.evidence["event_date"].dt.date.astype(str).tolist() == ["2025-10-01", "2026-09-30"]
    assert_evidence_backs_every_one(r)


def test_day_window_edges_and_month_end_clipping():
    cs = single("    agency: asb\n    window: {last_days: 30}\n")
    w = World()
    for fam, day in [("F1", "2026-09-01"), ("F2", "2026-08-31")]:
        w.person(f"P{fam}", fam, ADULT)
        w.add("asb", "asb", f"P{fam}", role="perpetrator", intervention="abc", event_date=day)
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)
    # One month back from 31 March is 28 February: the window starts on 1 March.
    cs = single("    agency: asb\n    window: {last_months: 1}\n")
    w = World()
    for fam, day in [("F1", "2026-03-01"), ("F2", "2026-02-28")]:
        w.person(f"P{fam}", fam, ADULT)
        w.add("asb", "asb", f"P{fam}", role="perpetrator", event_date=day)
    r = w.score(cs, as_of=dt.date(2026, 3, 31))
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)


def test_claim_open_on_the_reference_date():
    cs = single("    agency: benefits\n    where: {out_of_work: true}\n    window: open_on_reference_date\n"
                "    members: adults\n")
    w = World()
    cases = {"F1": ("2026-09-30", None, True), "F2": ("2020-01-01", "2026-09-29", True),
             "F3": ("2020-01-01", "2026-09-30", True), "F4": ("2026-10-01", None, True),
             "F5": ("2020-01-01", None, False), "F6": ("2020-01-01", None, None)}
    for fam, (start, end, ow) in cases.items():
        w.person(f"P{fam}", fam, ADULT)
        w.add("benefits", "benefits", f"P{fam}", benefit_type="UC", out_of_work=ow, claim_start=start, claim_end=end)
    w.person("PF7", "F7", dt.date(2009, 1, 1))  # 17 on the reference date: not an adult
    w.add("benefits", "benefits", "PF7", benefit_type="JSA", out_of_work=True, role="claimant", claim_start="2026-01-01")
    r = w.score(cs)
    assert {f: criterion(r, f, "need") for f in ["F1", "F2", "F3", "F4", "F5", "F6", "F7"]} == \
        {"F1": 1, "F2": 0, "F3": 1, "F4": 0, "F5": 0, "F6": 0, "F7": 0}


def test_school_terms_window_depends_on_easter():
    cs = single("    agency: schools\n    window: {last_complete_terms: 1}\n    members: children\n"
                "    threshold: {any_flag: permanent_exclusion}\n")
    w = World().person("C1", "F1", CHILD).person("C2", "F2", CHILD)
    w.add("schools", "schools", "C1", academic_year="2025/26", term="spring", sessions_possible=100,
          permanent_exclusion=True)
    w.add("schools", "schools", "C2", academic_year="2025/26", term="autumn", sessions_possible=100,
          permanent_exclusion=True)
    # Easter Sunday 2026 is 5 April: on that day spring is complete, the day before it is not.
    on_easter = w.score(cs, as_of=dt.date(2026, 4, 5))
    before = w.score(cs, as_of=dt.date(2026, 4, 4))
    assert (criterion(on_easter, "F1", "need"), criterion(on_easter, "F2", "need")) == (1, 0)
    assert (criterion(before, "F1", "need"), criterion(before, "F2", "need")) == (0, 1)
    assert on_easter.evidence["event_date"].iloc[0] == pd.Timestamp("2026-01-01")


# --- thresholds --------------------------------------------------------------------------------

ABSENCE = ("    agency: schools\n    window: {last_complete_terms: 3}\n    members: children\n"
           "    threshold: {share_of: sessions_unauthorised, out_of: sessions_possible, at_least_percent: 15}\n")


def test_unauthorised_absence_exactly_at_threshold_and_just_below():
    cs = single(ABSENCE)
    w = World()
    for fam, (a, b) in {"F1": (15, 15), "F2": (15, 14)}.items():
        w.person(f"C{fam}", fam, CHILD)
        w.add("schools", "schools", f"C{fam}", academic_year="2025/26", term="autumn",
              sessions_possible=100, sessions_unauthorised=a)
        w.add("schools", "schools", f"C{fam}", academic_year="2025/26", term="summer",
              sessions_possible=100, sessions_unauthorised=b)
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)  # 30/200, 29/200
    assert len(r.evidence) == 2


def test_absence_sums_enrolments_before_dividing_and_ignores_older_terms():
    cs = single(ABSENCE)
    w = World().person("C1", "F1", CHILD).person("C2", "F2", CHILD)
    # Two enrolments in one term: 5/10 and 20/190. Averaging rates gives 30%; summing gives 12.5%.
    w.add("schools", "schools", "C1", academic_year="2025/26", term="spring", sessions_possible=10,
          sessions_unauthorised=5)
    w.add("schools", "schools", "C1", academic_year="2025/26", term="spring", sessions_possible=190,
          sessions_unauthorised=20)
    # A term outside the window (summer 2024/25) would push this pupil over the threshold.
    w.add("schools", "schools", "C2", academic_year="2025/26", term="autumn", sessions_possible=100,
          sessions_unauthorised=10)
    w.add("schools", "schools", "C2", academic_year="2024/25", term="summer", sessions_possible=100,
          sessions_unauthorised=90)
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (0, 0)


def test_absence_any_reason_adds_authorised_sessions():
    cs = single("    agency: schools\n    window: {last_complete_terms: 3}\n    members: children\n"
                "    threshold: {share_of: [sessions_unauthorised, sessions_authorised], out_of: sessions_possible,"
                " at_least_percent: 10}\n")
    w = World().person("C1", "F1", CHILD).person("C2", "F2", CHILD)
    w.add("schools", "schools", "C1", academic_year="2025/26", term="summer", sessions_possible=100,
          sessions_unauthorised=4, sessions_authorised=6)
    w.add("schools", "schools", "C2", academic_year="2025/26", term="summer", sessions_possible=100,
          sessions_unauthorised=4, sessions_authorised=None)
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)


def test_fixed_term_exclusions_sum_over_terms_and_evidence_only_rows_with_exclusions():
    cs = single("    agency: schools\n    window: {last_complete_terms: 3}\n    members: children\n"
                "    threshold: {sum_of: fixed_term_exclusions, at_least: 3}\n")
    w = World().person("C1", "F1", CHILD).person("C2", "F2", CHILD)
    for term, n in [("autumn", 2), ("spring", 1), ("summer", 0)]:
        w.add("schools", "schools", "C1", academic_year="2025/26", term=term, sessions_possible=100,
              fixed_term_exclusions=n)
    w.add("schools", "schools", "C2", academic_year="2025/26", term="autumn", sessions_possible=100,
          fixed_term_exclusions=2)
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)
    assert r.evidence["record_id"].tolist() == ["schools-1", "schools-2"]


def test_records_threshold_per_person_versus_per_family():
    body = ("    agency: police\n    window: {last_months: 12}\n    threshold: {at_least_records: 2}\n")
    w = World().person("A", "F1", ADULT).person("B", "F1", ADULT)
    w.add("police", "police", "A", event_type="incident", role="victim", event_date="2026-05-01")
    w.add("police", "police", "B", event_type="incident", role="victim", event_date="2026-06-01")
    assert criterion(w.score(single(body)), "F1", "need") == 0
    assert criterion(w.score(single(body + "    per: family\n")), "F1", "need") == 1


def test_field_filters_blank_values_never_pass():
    cs = single("    agency: housing\n    where:\n      event_type: arrears\n      rent_arrears_gbp: {min: 500}\n"
                "    window: {last_months: 12}\n")
    w = World()
    for fam, amount in [("F1", 500.0), ("F2", 499.99), ("F3", None)]:
        w.person(f"P{fam}", fam, ADULT)
        w.add("housing", "housing", f"P{fam}", event_type="arrears", event_date="2026-01-01", rent_arrears_gbp=amount)
    r = w.score(cs)
    assert [criterion(r, f, "need") for f in ["F1", "F2", "F3"]] == [1, 0, 0]
    cs = single("    agency: police\n    where: {outcome: {not_one_of: [nfa]}}\n    window: {last_months: 12}\n")
    w = World()
    for fam, outcome in [("F1", "convicted"), ("F2", "nfa"), ("F3", None)]:
        w.person(f"P{fam}", fam, ADULT)
        w.add("police", "police", f"P{fam}", event_type="offence", role="offender", outcome=outcome,
              event_date="2026-01-01")
    r = w.score(cs)
    assert [criterion(r, f, "need") for f in ["F1", "F2", "F3"]] == [1, 0, 0]


# --- ages --------------------------------------------------------------------------------------

def test_child_who_turns_18_inside_the_window():
    turns_18 = dt.date(2008, 6, 15)  # 17 on the offence date, 18 on the reference date
    youth = ("    agency: police\n    where: {event_type: offence}\n    record_role: offender\n"
             "    window: {last_months: 12}\n    members: children\n")
    w = World().person("Y", "F1", turns_18)
    w.add("police", "police", "Y", event_type="offence", role="offender", outcome="convicted", event_date="2026-01-10")
    w.add("schools", "schools", "Y", academic_year="2025/26", term="autumn", sessions_possible=100,
          permanent_exclusion=True)
    assert criterion(w.score(single(youth + "    age_at: event_date\n")), "F1", "need") == 1
    assert criterion(w.score(single(youth)), "F1", "need") == 0
    tf = w.score(load_criteria("troubled-families-2012"))
    assert criterion(tf, "F1", "crime_asb") == 1      # youth crime: under 18 on the offence date
    assert criterion(tf, "F1", "education") == 0      # education: children on the reference date
    m = tf.need_matrix.set_index("family_id")
    assert (m.loc["F1", "adults"], m.loc["F1", "children"]) == (1, 0)


def test_offence_after_the_18th_birthday_is_not_youth_crime():
    w = World().person("Y", "F1", dt.date(2008, 6, 15))
    w.add("police", "police", "Y", event_type="offence", role="offender", outcome="convicted", event_date="2026-06-15")
    assert criterion(w.score(load_criteria("troubled-families-2012")), "F1", "crime_asb") == 0


# --- rules, no data, evidence ---------------------------------------------------------------------

def tf2012_world(include_benefits=True):
    w = World()
    for fam in ["F1", "F2", "F3", "F4", "F5"]:
        pc = f"AB{fam[1]} 1CD"
        w.person(f"{fam}A", fam, ADULT, postcode=pc).person(f"{fam}C", fam, CHILD, postcode=pc)

    def crime(fam):
        w.add("asb", "asb", f"{fam}A", role="perpetrator", intervention="abc", event_date="2026-02-01")

    def education(fam):
        w.add("schools", "schools", f"{fam}C", academic_year="2025/26", term="spring", sessions_possible=100,
              sessions_unauthorised=20)

    def work(fam):
        if include_benefits:
            w.add("benefits", "benefits", f"{fam}A", benefit_type="ESA", out_of_work=True, role="claimant", claim_start="2024-01-01")

    def local(fam):
        w.add("dv", "dv", f"{fam}A", role="victim", event_date="2026-03-03")

    crime("F1"), education("F1"), work("F1")            # all three
    crime("F2"), education("F2"), local("F2")           # two of three plus local
    crime("F3"), education("F3")                        # two of three, no local
    education("F4"), local("F4")                        # one of three plus local
    w.add("housing", "housing", "F5A", event_type="tenancy", event_date="2026-01-01")  # nothing
    w.add("benefits" if include_benefits else "housing", "benefits" if include_benefits else "housing", "F5A",
          **({"benefit_type": "HB", "out_of_work": False, "role": "claimant", "claim_start": "2024-01-01"} if include_benefits
             else {"event_type": "tenancy", "event_date": "2026-01-01"}))
    return w


def test_two_of_three_with_and_without_local_discretion():
    r = tf2012_world().score(load_criteria("troubled-families-2012"))
    m = r.need_matrix.set_index("family_id")
    assert m["eligible"].tolist() == [1, 1, 0, 0, 0]
    assert m["criteria_met"].tolist() == [3, 3, 2, 2, 0]
    assert m.loc["F2", ["crime_asb", "education", "work", "local"]].tolist() == [1, 1, 0, 1]
    assert r.no_data == []
    assert list(r.need_matrix.columns) == ["family_id", "members", "adults", "children", "postcode_district",
                                          "crime_asb", "education", "work", "local", "criteria_met", "eligible"]
    assert m["postcode_district"].tolist() == ["AB1", "AB2", "AB3", "AB4", "AB5"]
    assert (m["members"].tolist(), m["adults"].tolist(), m["children"].tolist()) == ([2] * 5, [1] * 5, [1] * 5)
    summary = r.summary.set_index("criterion")
    assert summary.loc["crime_asb", "families_meeting"] == 3
    assert summary.loc["eligible", "families_meeting"] == 2
    assert summary.loc[["education", "work", "local"], "status"].tolist() == ["data"] * 3
    assert summary.loc["crime_asb", "status"] == "partial data"  # no police extract in this run
    assert summary.loc["crime_asb", "indicators_without_data"] == "youth_offence"
    assert_evidence_backs_every_one(r)


def test_agency_missing_from_the_run_is_no_data_not_zero():
    r = tf2012_world(include_benefits=False).score(load_criteria("troubled-families-2012"))
    m = r.need_matrix.set_index("family_id")
    assert m["work"].isna().all()
    assert r.no_data == ["work"]
    summary = r.summary.set_index("criterion")
    assert summary.loc["work", "status"] == "no data" and pd.isna(summary.loc["work", "families_meeting"])
    assert summary.loc["local", "status"] == "data"
    # Only known criteria count: F2 still qualifies through two of three plus local; F1 no longer
    # meets all three, and has no local need.
    assert m["eligible"].tolist() == [0, 1, 0, 0, 0]
    assert m["criteria_met"].tolist() == [2, 3, 2, 2, 0]
    # Written out, the blank stays blank.
    csv = r.need_matrix.to_csv(index=False).splitlines()
    assert csv[1].split(",")[7] == ""


def test_partial_data_when_some_of_a_criterions_agencies_are_missing():
    w = World().person("A", "F1", ADULT)
    w.add("housing", "housing", "A", event_type="eviction", event_date="2026-04-04")
    r = w.score(load_criteria("troubled-families-2012"))
    summary = r.summary.set_index("criterion")
    assert summary.loc["local", "status"] == "partial data"
    assert summary.loc["local", "indicators_without_data"] == "domestic_abuse"
    assert criterion(r, "F1", "local") == 1
    assert summary.loc["crime_asb", "status"] == "partial data"   # housing ASB action only
    assert sorted(r.no_data) == ["education", "work"]


def test_indicator_restricted_to_one_source_of_a_kind():
    cs = single("    agency: police\n    source: yos\n    window: {last_months: 12}\n")
    w = World().person("A", "F1", CHILD).person("B", "F2", CHILD)
    w.add("police", "police", "A", event_type="offence", role="offender", event_date="2026-01-01")
    w.add("yos", "police", "B", event_type="offence", role="offender", event_date="2026-01-01")
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (0, 1)
    assert r.evidence["source"].tolist() == ["yos"]
    # Without the restriction both police-kind sources count.
    r = w.score(single("    agency: police\n    window: {last_months: 12}\n"))
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 1)


def test_events_sources_feed_tf2015_children_who_need_help_else_no_data():
    w = World().person("A", "F1", ADULT).person("C", "F1", CHILD)
    w.add("dv", "dv", "A", role="victim", event_date="2026-01-01")
    r = w.score(load_criteria("troubled-families-2015"))
    assert set(r.no_data) >= {"children_need_help", "health"}
    assert criterion(r, "F1", "eligible") == 0
    w.add("social_care", "events", "C", event_type="child_in_need", event_date="2026-02-02")
    r = w.score(load_criteria("troubled-families-2015"))
    assert criterion(r, "F1", "children_need_help") == 1 and criterion(r, "F1", "eligible") == 1
    assert "health" in r.no_data and "children_need_help" not in r.no_data


def test_unlinked_records_are_not_counted_and_say_so():
    cs = single("    agency: dv\n    window: {last_months: 12}\n")
    w = World().person("A", "F1", ADULT)
    w.add("dv", "dv", "A", linked=False, role="victim", event_date="2026-01-01")
    r = w.score(cs)
    assert criterion(r, "F1", "need") == 0
    assert r.warnings == ["indicator ind: 1 matching record(s) have no person in record_links and were not counted"]


def sf_world():
    w = World()
    # F1: children; education through two needs (exclusion, absence) and housing: 2 headlines, 3 needs.
    w.person("F1A", "F1", ADULT).person("F1C", "F1", CHILD)
    w.add("schools", "schools", "F1C", academic_year="2025/26", term="summer", sessions_possible=100,
          sessions_unauthorised=12, permanent_exclusion=True)
    w.add("housing", "housing", "F1A", event_type="homeless_application", event_date="2026-05-05")
    # F2: three headlines but no children.
    w.person("F2A", "F2", ADULT)
    w.add("housing", "housing", "F2A", event_type="eviction", event_date="2026-05-05")
    w.add("dv", "dv", "F2A", role="perpetrator", event_date="2026-05-05")
    w.add("benefits", "benefits", "F2A", benefit_type="JSA", out_of_work=True, role="claimant", claim_start="2026-01-01")
    # F3: three headlines with a child.
    w.person("F3A", "F3", ADULT).person("F3C", "F3", CHILD)
    w.add("housing", "housing", "F3A", event_type="temporary_accommodation", event_date="2026-05-05")
    w.add("dv", "dv", "F3A", role="victim", event_date="2026-05-05")
    w.add("dv", "dv", "F3C", role="child_in_household", event_date="2026-05-05")
    w.add("police", "police", "F3A", event_type="incident", role="witness", event_date="2026-05-05")
    return w


def test_supporting_families_three_needs_versus_three_headlines():
    w = sf_world()
    by_headline = w.score(load_criteria("supporting-families-2022"))
    by_need = w.score(load_criteria("supporting-families-2022", settings={"count_needs_by": "indicators"}))
    assert by_headline.need_matrix["eligible"].tolist() == [0, 0, 1]
    assert by_need.need_matrix["eligible"].tolist() == [1, 0, 1]
    assert criterion(by_headline, "F3", "children_safe") == 1
    assert set(by_headline.no_data) == {"early_years", "health", "substance_use", "family_relationships"}
    assert_evidence_backs_every_one(by_headline)


def test_expectant_parents_meet_the_family_condition_where_data_exists():
    w = World().person("A", "F1", ADULT)
    w.add("housing", "housing", "A", event_type="eviction", event_date="2026-05-05")
    w.add("dv", "dv", "A", role="victim", event_date="2026-05-05")
    w.add("benefits", "benefits", "A", benefit_type="ESA", out_of_work=True, role="claimant", claim_start="2026-01-01")
    assert criterion(w.score(load_criteria("supporting-families-2022")), "F1", "eligible") == 0
    w.add("health", "events", "A", event_type="pregnancy", event_date="2026-06-01")
    assert criterion(w.score(load_criteria("supporting-families-2022")), "F1", "eligible") == 1


def test_missing_dob_falls_back_on_the_members_role():
    cs = single("    agency: police\n    window: {last_months: 12}\n    members: children\n    age_at: event_date\n")
    w = World().person("A", "F1", None)
    w.add("police", "police", "A", event_type="offence", role="offender", event_date="2026-01-01")
    extracts, kinds, links, members = w.inputs()
    members["role"] = "child"
    r = score_families(extracts, kinds, links, members, cs, AS_OF)
    assert criterion(r, "F1", "need") == 1
    members["role"] = "adult"
    r = score_families(extracts, kinds, links, members, cs, AS_OF)
    assert criterion(r, "F1", "need") == 0


def test_empty_run_gives_all_no_data():
    w = World().person("A", "F1", ADULT)
    extracts, kinds, links, members = w.inputs()
    r = score_families({}, {}, links, members, load_criteria("troubled-families-2012"), AS_OF)
    assert r.no_data == ["crime_asb", "education", "work", "local"]
    assert r.need_matrix["eligible"].tolist() == [0] and r.evidence.empty
    assert list(r.evidence.columns) == ["family_id", "criterion", "indicator", "person_id", "source",
                                        "record_id", "event_date", "period", "value"]


# --- layout ---------------------------------------------------------------------------------------

def test_transposed_layout_puts_needs_down_the_side():
    r = tf2012_world(include_benefits=False).score(load_criteria("troubled-families-2012"))
    t = transpose(r.need_matrix)
    assert list(t.columns) == ["need", "F1", "F2", "F3", "F4", "F5"]
    assert t["need"].tolist() == ["members", "adults", "children", "postcode_district", "crime_asb",
                                  "education", "work", "local", "criteria_met", "eligible"]
    rows = t.set_index("need")
    assert rows.loc["eligible"].tolist() == [0, 1, 0, 0, 0]
    assert rows.loc["work"].isna().all()
    assert rows.loc["postcode_district", "F3"] == "AB3"


def test_adult_dependant_on_an_out_of_work_claim_is_not_workless():
    w = World().person("A", "F1", ADULT).person("B", "F2", ADULT)
    w.add("benefits", "benefits", "A", benefit_type="ESA", out_of_work=True, role="dependant", claim_start="2026-01-01")
    w.add("benefits", "benefits", "B", benefit_type="ESA", out_of_work=True, role="partner", claim_start="2026-01-01")
    r = w.score(load_criteria("troubled-families-2012"))
    assert (criterion(r, "F1", "work"), criterion(r, "F2", "work")) == (0, 1)


def test_events_source_filters_text_without_case_and_warns_on_a_kind_mismatch():
    cs = single("    agency: events\n    source: health\n    where: {category: substance_misuse}\n"
                "    window: {last_months: 12}\n")
    w = World().person("A", "F1", ADULT).person("B", "F2", ADULT)
    w.add("health", "events", "A", event_type="Referral", category=" Substance_Misuse ", event_date="2026-02-02")
    w.add("health", "events", "B", event_type="Referral", category="mental_health", event_date="2026-02-02")
    r = w.score(cs)
    assert (criterion(r, "F1", "need"), criterion(r, "F2", "need")) == (1, 0)
    w2 = World().person("A", "F1", ADULT)
    w2.add("health", "dv", "A", role="victim", event_date="2026-02-02")
    r = w2.score(cs)
    assert r.no_data == ["need"] and criterion(r, "F1", "need") is None
    assert r.warnings == ["indicator ind: source health is of kind dv in this run, not events, so the indicator "
                          "has no data"]


# --- what each evidence row says -------------------------------------------------------------

def test_evidence_gives_the_term_and_the_value_behind_the_tick():
    """A school row is dated by its term as a person writes it (an autumn term is "2025/26
    autumn", never 1 August); the value is the absence share, the exclusions or the arrears, and
    a police record says what it was."""
    cs = load_criteria("troubled-families-2015")
    w = World().person("C", "F1", CHILD).person("A", "F1", ADULT)
    for term, unauth in (("autumn", 20), ("spring", 12), ("summer", 10)):
        w.add("schools", "schools", "C", academic_year="2025/26", term=term, sessions_possible=120,
              sessions_unauthorised=unauth, sessions_authorised=0, fixed_term_exclusions=3 if term == "spring" else 0)
    w.add("housing", "housing", "A", event_type="arrears", event_date="2026-05-17", rent_arrears_gbp=1440.66)
    w.add("police", "police", "A", event_type="offence", offence_category="criminal_damage", outcome="charged",
          role="offender", event_date="2026-02-18")
    ev = w.score(cs).evidence
    absence = ev[ev["indicator"] == "persistent_absence"].set_index("period")
    assert list(absence.index) == ["2025/26 autumn", "2025/26 spring", "2025/26 summer"]
    assert absence.loc["2025/26 autumn", "value"] == "16.7% of sessions possible (20 of 120)"
    assert absence.loc["2025/26 autumn", "event_date"] == pd.Timestamp("2025-08-01")   # the census term start, for windows
    exclusions = ev[ev["indicator"] == "fixed_term_exclusions"]
    assert exclusions[["period", "value"]].values.tolist() == [["2025/26 spring", "fixed term exclusions 3"]]
    arrears = ev[ev["indicator"] == "rent_arrears"].iloc[0]
    assert arrears["period"] == "2026-05-17" and arrears["value"] == "arrears, £1,440.66"
    offence = ev[ev["source"] == "police"].iloc[0]
    assert offence["value"] == "offence, criminal damage, charged, offender"


def test_a_claim_is_dated_by_its_span():
    cs = single("    agency: benefits\n    window: {last_months: 12}\n")
    w = World().person("A", "F1", ADULT)
    w.add("benefits", "benefits", "A", benefit_type="ESA", out_of_work=True, claim_start="2023-09-14", role="claimant")
    w.add("benefits", "benefits", "A", benefit_type="JSA", out_of_work=True, claim_start="2026-01-05",
          claim_end="2026-03-31", role="claimant")
    ev = w.score(cs).evidence
    ev = ev[ev["source"] == "benefits"].sort_values("record_id")
    assert ev["period"].tolist() == ["from 2023-09-14", "2026-01-05 to 2026-03-31"]
    assert ev["value"].tolist() == ["ESA", "JSA"]

"""Property tests: on random records the engine agrees with a plain record-by-record reading of
the same indicator, and every need it finds is backed by evidence."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria import parse_criteria, score_families

AS_OF = dt.date(2026, 9, 30)
FIRST = dt.date(2025, 10, 1)  # 12 months to 30 Sep 2026

YOUTH = parse_criteria("""\
indicators:
  youth:
    agency: police
    where: {event_type: offence}
    record_role: offender
    window: {last_months: 12}
    members: children
    age_at: event_date
    threshold: {at_least_records: 2}
criteria:
  need: {any_of: [youth]}
rule: need
""", "property.yaml")

dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 1, 1))
record = st.tuples(st.integers(0, 5), dates, st.sampled_from(["offence", "incident"]),
                   st.sampled_from(["offender", "victim"]))


def age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dobs=st.lists(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2016, 1, 1)), min_size=6, max_size=6),
       records=st.lists(record, max_size=25))
def test_youth_indicator_agrees_with_a_record_by_record_reading(dobs, records):
    people = [f"P{i}" for i in range(6)]
    family = {p: f"F{i // 2}" for i, p in enumerate(people)}  # three families of two
    rows = [{"record_id": f"R{n}", "forename": "A", "surname": "B", "event_type": et, "role": role,
             "event_date": pd.Timestamp(d)} for n, (_, d, et, role) in enumerate(records)]
    police = pd.DataFrame(rows, columns=["record_id", "forename", "surname", "dob", "sex", "address", "postcode",
                                         "uprn", "nhs_number", "ni_number", "upn", "ethnicity", "event_type",
                                         "offence_category", "outcome", "role", "event_date"])
    police["event_date"] = pd.to_datetime(police["event_date"])
    links = pd.DataFrame({"source": "police", "record_id": [r["record_id"] for r in rows],
                          "person_id": [people[p] for p, *_ in records],
                          "family_id": [family[people[p]] for p, *_ in records]})
    members = pd.DataFrame({"family_id": [family[p] for p in people], "person_id": people,
                            "dob": pd.to_datetime(dobs), "age": [age_on(d, AS_OF) for d in dobs]})
    result = score_families({"police": police}, {"police": "police"}, links, members, YOUTH, AS_OF)

    counts: dict[str, int] = {}
    for p, d, et, role in records:
        if et == "offence" and role == "offender" and FIRST <= d <= AS_OF and age_on(dobs[p], d) < 18:
            counts[people[p]] = counts.get(people[p], 0) + 1
    expected = {family[p] for p, n in counts.items() if n >= 2}
    m = result.need_matrix.set_index("family_id")
    assert set(m.index[m["need"] == 1]) == expected
    assert set(result.evidence["family_id"]) == expected
    assert (result.need_matrix["eligible"] == result.need_matrix["need"]).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["2024/25", "2025/26"]),
                               st.sampled_from(["autumn", "spring", "summer"]), st.integers(0, 200),
                               st.integers(0, 60)), max_size=20))
def test_absence_share_agrees_with_summing_then_dividing(rows):
    cs = parse_criteria("indicators:\n  absence:\n    agency: schools\n    window: {last_complete_terms: 3}\n"
                        "    threshold: {share_of: sessions_unauthorised, out_of: sessions_possible, "
                        "at_least_percent: 15}\ncriteria:\n  need: {any_of: [absence]}\nrule: need\n", "p.yaml")
    schools = pd.DataFrame([{"record_id": f"S{n}", "academic_year": y, "term": t, "sessions_possible": poss,
                             "sessions_unauthorised": min(un, poss)} for n, (_, y, t, poss, un) in enumerate(rows)],
                           columns=["record_id", "academic_year", "term", "sessions_possible", "sessions_unauthorised"])
    for c in ("sessions_possible", "sessions_unauthorised"):
        schools[c] = schools[c].astype("Int64")
    people = [f"C{i}" for i in range(4)]
    links = pd.DataFrame({"source": "schools", "record_id": schools["record_id"],
                          "person_id": [people[p] for p, *_ in rows], "family_id": [f"F{p}" for p, *_ in rows]})
    members = pd.DataFrame({"family_id": [f"F{i}" for i in range(4)], "person_id": people, "age": [10] * 4,
                            "dob": pd.NaT})
    result = score_families({"schools": schools}, {"schools": "schools"}, links, members, cs, AS_OF)
    sums: dict[int, list[int]] = {}
    for p, y, t, poss, un in rows:
        if y == "2025/26":  # autumn, spring and summer 2025/26 are the last 3 complete terms
            s = sums.setdefault(p, [0, 0])
            s[0] += min(un, poss)
            s[1] += poss
    expected = {f"F{p}" for p, (u, poss) in sums.items() if poss > 0 and 100 * u >= 15 * poss}
    m = result.need_matrix.set_index("family_id")
    assert set(m.index[m["need"] == 1]) == expected

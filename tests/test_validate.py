"""Validation: one test per kind of bad value; every row is accounted for."""
import datetime as dt

import pandas as pd
import pytest

from schemas.fields import field_names
from schemas.validate import parse_dates, validate_extract
from tests.conftest import housing_row

AS_OF = dt.date(2026, 9, 30)


def frame(kind, rows):
    f = pd.DataFrame(rows)
    for c in field_names(kind):
        if c not in f:
            f[c] = ""
    f = f[field_names(kind)].fillna("").astype(str)
    f.insert(0, "row_number", range(2, len(f) + 2))
    return f


def check(kind, rows):
    v = validate_extract(frame(kind, rows), kind, AS_OF, source=kind)
    assert v.rows_read == len(v.accepted) + len(v.rejected)
    return v


def reasons(v):
    return dict(zip(v.rejected.row_number, v.rejected.reason))


def test_good_housing_rows_are_typed():
    v = check("housing", [housing_row("H1"), housing_row("H2", rent_arrears_gbp="£1,250.50", event_type="Temporary Accommodation")])
    assert len(v.rejected) == 0
    a = v.accepted
    assert a.dob[0] == pd.Timestamp(1980, 4, 3)          # dd/mm/yyyy read day first
    assert a.postcode[0] == "AB1 2XY"
    assert a.rent_arrears_gbp[1] == 1250.5
    assert a.event_type[1] == "temporary_accommodation"


def test_missing_required_field_rejects_row():
    v = check("housing", [housing_row("H1", event_date=""), housing_row("H2")])
    assert reasons(v) == {2: "required event_date is blank"}
    assert v.rejected.column[0] == "event_date"


def test_a_blank_name_alone_keeps_the_row_for_its_event():
    v = check("housing", [housing_row("H1", surname=""), housing_row("H2", forename="", surname=""),
                          housing_row("H3", forename="")])
    assert len(v.rejected) == 0 and len(v.accepted) == 3


def test_a_row_with_nothing_to_link_it_by_is_rejected():
    bare = dict(forename="", surname="", dob="", nhs_number="", ni_number="", upn="", uprn="")
    v = check("housing", [housing_row("H1", **bare), housing_row("H2", **{**bare, "dob": "01/02/1990"}),
                          housing_row("H3", **{**bare, "uprn": "100023"}), housing_row("H4", **{**bare, "dob": "31/02/1990"})])
    assert reasons(v) == {2: "no name, no date of birth and no identifier: nothing to link the record by",
                          5: "dob is not a valid date; blanked; no name, no date of birth and no identifier: "
                             "nothing to link the record by"} or set(reasons(v)) == {2, 5}
    assert len(v.accepted) == 2


def test_duplicate_record_id_rejects_both_rows():
    v = check("housing", [housing_row("H1"), housing_row("H1"), housing_row("H3")])
    assert sorted(v.rejected.row_number) == [2, 3]
    assert "repeated" in v.rejected.reason[0]


def test_bad_event_date_rejects_and_bad_dob_warns():
    v = check("housing", [housing_row("H1", event_date="31/02/2025"), housing_row("H2", dob="1980-13-01")])
    assert list(v.rejected.row_number) == [2] and "event_date" in v.rejected.column[0]
    assert len(v.accepted) == 1 and pd.isna(v.accepted.dob[0])
    assert v.warnings.column.tolist() == ["dob"]


def test_future_and_implausible_dob_blanked():
    v = check("housing", [housing_row("H1", dob="2030-01-01"), housing_row("H2", dob="1850-01-01")])
    assert v.accepted.dob.isna().all()
    assert len(v.warnings) == 2


def test_unknown_enum_value_rejected_case_insensitive_accepted():
    v = check("police", [
        {"record_id": "P1", "forename": "A", "surname": "B", "event_type": "OFFENCE", "role": "Offender",
         "outcome": "Youth Caution", "event_date": "2026-01-01"},
        {"record_id": "P2", "forename": "A", "surname": "B", "event_type": "offence", "role": "bystander",
         "event_date": "2026-01-01"},
    ])
    assert list(v.rejected.row_number) == [3] and v.rejected.column[0] == "role"
    assert v.accepted.outcome[0] == "youth_caution" and v.accepted.role[0] == "offender"


def school(record_id, **over):
    row = {"record_id": record_id, "forename": "A", "surname": "B", "academic_year": "2025/26", "term": "autumn",
           "sessions_possible": "140", "sessions_unauthorised": "10", "sessions_authorised": "5",
           "fixed_term_exclusions": "0", "permanent_exclusion": "N", "alternative_provision": "no"}
    row.update(over)
    return row


def test_negative_and_impossible_sessions_rejected():
    v = check("schools", [school("S1", sessions_unauthorised="-1"), school("S2", sessions_unauthorised="150"),
                          school("S3", sessions_authorised="100", sessions_unauthorised="50"),
                          school("S4", sessions_possible="ten"), school("S5")])
    r = reasons(v)
    assert set(r) == {2, 3, 4, 5}
    assert "negative" in r[2]
    assert "more than sessions_possible" in r[3]
    assert "whole number" in r[5]
    assert v.accepted.permanent_exclusion[0] == False  # noqa: E712


def test_academic_year_forms_normalised_and_checked():
    v = check("schools", [school("S1", academic_year="2025-2026"), school("S2", academic_year="2025/27")])
    assert v.accepted.academic_year.tolist() == ["2025/26"]
    assert "consecutive" in reasons(v)[3]


def test_bad_identifiers_blanked_row_kept():
    v = check("housing", [housing_row("H1", nhs_number="4010232138", ni_number="QQ123456A", uprn="12x",
                                      postcode="NOT A PC")])
    assert len(v.accepted) == 1
    a = v.accepted.iloc[0]
    assert a.nhs_number is None and a.ni_number is None and a.uprn is None and a.postcode is None
    assert sorted(v.warnings.column) == ["nhs_number", "ni_number", "postcode", "uprn"]


def test_benefit_claim_end_before_start_rejected_and_aliases():
    base = {"forename": "A", "surname": "B", "out_of_work": "Y", "claim_start": "01/02/2025"}
    v = check("benefits", [dict(base, record_id="B1", benefit_type="Universal Credit"),
                           dict(base, record_id="B2", benefit_type="esa", claim_end="01/01/2025"),
                           dict(base, record_id="B3", benefit_type="lottery")])
    assert v.accepted.benefit_type.tolist() == ["UC"]
    assert set(reasons(v)) == {3, 4}


def test_huge_field_rejected_not_crashing():
    v = check("housing", [housing_row("H1", address="x" * 5000), housing_row("H2")])
    assert list(v.rejected.row_number) == [2] and "longer than" in v.rejected.reason[0]


def test_rejected_rows_keep_their_text():
    v = check("housing", [housing_row("H1", event_type="flood")])
    assert v.rejected.loc[0, "event_type"] == "flood"     # nothing lost: the row is in the file


@pytest.mark.parametrize("text,expected", [
    ("2025-03-04", "2025-03-04"), ("04/03/2025", "2025-03-04"), ("4.3.2025", "2025-03-04"),
    ("2025-03-04 00:00:00", "2025-03-04"), ("2025-02-30", None), ("03/2025", None), ("25/12/25", None),
])
def test_parse_dates_uk_first(text, expected):
    got = parse_dates(pd.Series([text]))[0]
    assert (pd.isna(got) and expected is None) or got == pd.Timestamp(expected)


def test_parse_dates_month_first_when_configured():
    assert parse_dates(pd.Series(["04/03/2025"]), "mdy")[0] == pd.Timestamp(2025, 4, 3)


def test_cross_field_failure_names_one_column():
    v = check("schools", [school("S1", sessions_unauthorised="150")])
    assert v.rejected.column[0] == "sessions_unauthorised; sessions_possible"

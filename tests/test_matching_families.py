"""Families: UPRN/address households, household hints, movers, roles (matching.families)."""
import datetime as dt

import numpy as np

from matching.families import age_at, form_families
from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from matching.standardise import standardise

AS_OF = dt.date(2026, 9, 30)


def families_of(rows, person=None):
    rec = records_frame(rows)
    std = standardise(rec)
    person = np.arange(len(rec)) if person is None else np.asarray(person)
    labels, info = form_families(std, person, int(person.max()) + 1, LinkageSettings.defaults())
    return labels, info


def row(rid, **kw):
    base = {"source": "housing", "record_id": rid, "forename": "A" + rid, "surname": "Zed", "seen_date": "2025-01-01"}
    base.update(kw)
    return base


def test_same_uprn_is_one_family_even_with_different_address_text():
    lab, _ = families_of([row("1", uprn="100", address="1 High St", postcode="AB1 2CD"),
                          row("2", uprn="100", address="Flat A, 1 High Street", postcode="AB1 2CD"),
                          row("3", uprn="200", address="1 High St", postcode="AB1 2CD")])
    assert lab[0] == lab[1] != lab[2]


def test_address_and_postcode_without_uprn_and_uprn_borrowed_from_another_record():
    lab, _ = families_of([row("1", address="4 Oak Rd", postcode="AB12CD"),
                          row("2", address="4 OAK ROAD", postcode="AB1 2CD", uprn="555"),
                          row("3", uprn="555"),
                          row("4", address="4 Oak Road", postcode="ZZ9 9ZZ")])
    assert lab[0] == lab[1] == lab[2]
    assert lab[3] != lab[0]


def test_mover_lands_at_the_new_home():
    # person 0 has an old record at address X and a newer one at Y; person 1 lives at X, 2 at Y
    lab, info = families_of([row("1", address="1 Old Road", postcode="AB1 1AA", seen_date="2023-01-01"),
                             row("2", address="9 New Road", postcode="AB2 2BB", seen_date="2025-05-01"),
                             row("3", address="1 Old Road", postcode="AB1 1AA", seen_date="2025-01-01"),
                             row("4", address="9 New Road", postcode="AB2 2BB", seen_date="2024-01-01")],
                            person=[0, 0, 1, 2])
    assert lab[0] == lab[2] and lab[0] != lab[1]
    assert info.loc[0, "home"].startswith("A") and "new road" in info.loc[0, "home"]


def test_current_household_hint_joins_but_an_old_one_does_not():
    rows = [
        # 0 and 1 share a current tenancy but the address text of 1 is missing
        row("1", address="3 Elm Close", postcode="CC1 1CC", tenancy_ref="T1", seen_date="2025-01-01"),
        row("2", tenancy_ref="T1", seen_date="2025-01-01"),
        # 2 was on tenancy T9 in 2022 and has since moved to another address
        row("3", address="5 Fir Lane", postcode="DD1 1DD", tenancy_ref="T9", seen_date="2022-01-01"),
        row("4", address="7 Ash Way", postcode="EE1 1EE", seen_date="2025-03-01"),
        # 3 is still on T9 at 5 Fir Lane
        row("5", address="5 Fir Lane", postcode="DD1 1DD", tenancy_ref="T9", seen_date="2025-02-01"),
    ]
    lab, _ = families_of(rows, person=[0, 1, 2, 2, 3])
    assert lab[0] == lab[1]
    assert lab[2] != lab[3]


def test_benefit_claim_joins_partners_recorded_at_different_address_text():
    rows = [row("1", source="benefits", address="12 Long Road", postcode="FF1 1FF", claim_ref="C7"),
            row("2", source="benefits", address="12 Long Rd Flat 1", postcode="FF1 1FG", claim_ref="C7")]
    lab, _ = families_of(rows)
    assert lab[0] == lab[1]


def test_age_at_reference_date():
    import pandas as pd
    ages = age_at(pd.Series(pd.to_datetime(["2008-09-30", "2008-10-01", None])), AS_OF)
    assert ages.tolist()[:2] == [18, 17] and ages.isna().tolist()[2]


def test_roles_and_family_ids_end_to_end():
    rows = [row("1", forename="Karen", surname="Marsh", dob="1980-02-02", uprn="900", address="2 Lake View", postcode="GG1 1GG"),
            row("2", source="schools", forename="Tyler", surname="Marsh", dob="2014-05-05", address="2 Lake View", postcode="GG1 1GG", uprn="900"),
            row("3", source="schools", forename="Jade", surname="Marsh", address="2 Lake View", postcode="GG1 1GG"),
            row("4", source="police", forename="Ron", surname="Marsh", address="2 Lake View", postcode="GG1 1GG"),
            row("5", forename="Lone", surname="Walker", dob="1950-01-09", address="8 Hill Top", postcode="HH1 1HH")]
    res = link_records(records_frame(rows), LinkageSettings.defaults(), AS_OF)
    m = res.members.set_index("forename")
    assert m.loc["Karen", "role"] == "adult" and m.loc["Karen", "age"] == 46
    assert m.loc["Tyler", "role"] == "child"
    assert m.loc["Jade", "role"] == "child"          # unknown age, known only to schools
    assert m.loc["Ron", "role"] == "adult"           # unknown age, known to police
    assert len({m.loc[k, "family_id"] for k in ("Karen", "Tyler", "Jade", "Ron")}) == 1
    assert m.loc["Lone", "family_id"] != m.loc["Karen", "family_id"]
    assert m.loc["Karen", "uprn"] == "900" and m.loc["Karen", "address"] == "2 Lake View"
    assert m.loc["Tyler", "agencies"] == "schools"

"""Family formation that follows the household (issue 14): members left behind by a move whose
agencies have not caught up move with the household; young adults who left, separated parents,
new occupants and older siblings do not lead anyone; a person with a postcode and no address
joins the one household there that shares their surname; the evidence of each placement is in
members.csv and the uncertain ones are listed for review."""
import datetime as dt

import pandas as pd

from matching.families import review_placements
from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from test_matching_linkage import background

AS_OF = dt.date(2026, 9, 30)
BACKGROUND_NAMES = {r["forename"].title() for r in background(600)}
OLD = dict(address="14 Rook Street", postcode="KK1 1KA")
NEW = dict(address="3 Heron Close", postcode="KK2 2KB")


PEOPLE: dict[tuple, str] = {}


def rec(rid, source, forename, surname, dob, seen, where, **kw):
    # One National Insurance number a person, so that these tests are about families, not
    # about whether two records of one person link.
    ni = PEOPLE.setdefault((forename, surname, dob), f"JK{100000 + len(PEOPLE):06d}A")
    return {"source": source, "record_id": rid, "forename": forename, "surname": surname, "dob": dob,
            "seen_date": seen, "ni_number": ni, **where, **kw}


def settings(linkage=None) -> LinkageSettings:
    # The starting m and u, not EM on a handful of records.
    return LinkageSettings.from_dict({"estimation": {"em_max_iterations": 0}, **(linkage or {})})


def records(rows):
    # Among a background population, so that u-probabilities and the prior are those of a
    # town, not of one family.
    return records_frame(background(600) + rows)


def link(rows, linkage=None):
    res = link_records(records(rows), settings(linkage), AS_OF)
    return res.members[~res.members["forename"].isin(BACKGROUND_NAMES)].set_index("forename")


def moved_family(child_rows):
    """Two parents seen at the old address, then both at the new one from May 2026; the
    child's rows are given."""
    return [
        rec("h1", "housing", "Dana", "Pell", "1984-03-02", "2023-04-01", OLD),
        rec("p1", "police", "Corin", "Pell", "1982-07-19", "2024-02-10", OLD),
        rec("h2", "housing", "Dana", "Pell", "1984-03-02", "2026-05-02", NEW),
        rec("b2", "benefits", "Corin", "Pell", "1982-07-19", "2026-06-01", NEW, claim_ref="C1"),
    ] + child_rows


def test_a_child_whose_school_rows_predate_the_move_moves_with_the_household():
    m = link(moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2025-08-01", OLD),
                           rec("s2", "schools", "Ria", "Pell", "2014-09-09", "2026-01-01", OLD)]))
    assert m.loc["Ria", "family_id"] == m.loc["Dana", "family_id"] == m.loc["Corin", "family_id"]
    assert m.loc["Ria", "placed_by"] == "moved_with_household"
    assert m.loc["Ria", "address"] == "3 Heron Close"
    assert m.loc["Ria", "own_address"] == "14 Rook Street"
    assert str(m.loc["Ria", "own_address_seen_on"]) == "2026-01-01"


def test_a_school_row_after_the_move_within_the_schools_lag_still_follows():
    # the summer-term row still carries the old address a month after the move
    m = link(moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-06-06", OLD)]))
    assert m.loc["Ria", "family_id"] == m.loc["Dana", "family_id"]


def test_with_no_lag_for_schools_a_later_school_row_keeps_the_child_at_the_old_address():
    m = link(moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-06-06", OLD)]),
             {"families": {"address_lag_days": {"schools": 0}}})
    assert m.loc["Ria", "family_id"] != m.loc["Dana", "family_id"]
    assert m.loc["Ria", "placed_by"] == "address"


def test_following_can_be_switched_off():
    m = link(moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-01-01", OLD)]),
             {"families": {"follow_household": {"enabled": False}}})
    assert m.loc["Ria", "family_id"] != m.loc["Dana", "family_id"]


def test_parents_do_not_follow_a_young_adult_who_left_home():
    rows = [
        rec("h1", "housing", "Dana", "Pell", "1970-03-02", "2022-04-01", OLD),
        rec("p1", "police", "Corin", "Pell", "1968-07-19", "2023-02-10", OLD),
        rec("p2", "police", "Sky", "Pell", "2004-01-05", "2023-06-10", OLD),
        rec("h2", "housing", "Sky", "Pell", "2004-01-05", "2026-05-02", NEW),
        rec("b2", "benefits", "Sky", "Pell", "2004-01-05", "2026-06-01", NEW),
        rec("a2", "asb", "Sky", "Pell", "2004-01-05", "2026-07-01", NEW),
    ]
    m = link(rows)
    assert m.loc["Dana", "family_id"] == m.loc["Corin", "family_id"] != m.loc["Sky", "family_id"]
    assert m.loc["Dana", "placed_by"] != "moved_with_household"


def test_a_child_does_not_follow_an_older_sibling_who_left():
    rows = [
        rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-01-01", OLD),
        rec("h1", "housing", "Sky", "Pell", "2004-01-05", "2014-06-01", OLD),   # seen there as a child
        rec("h2", "housing", "Sky", "Pell", "2004-01-05", "2026-05-02", NEW),
    ]
    m = link(rows)
    assert m.loc["Ria", "family_id"] != m.loc["Sky", "family_id"]


def test_a_separated_parent_seen_at_the_old_home_after_the_move_stays():
    rows = moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-01-01", OLD)])
    rows = [r for r in rows if r["record_id"] != "b2"]          # Corin did not move ...
    rows.append(rec("p3", "police", "Corin", "Pell", "1982-07-19", "2026-08-20", OLD))   # ... and is seen there later
    rows.append(rec("d2", "dv", "Dana", "Pell", "1984-03-02", "2026-07-02", NEW))
    m = link(rows)
    assert m.loc["Corin", "family_id"] != m.loc["Dana", "family_id"]
    assert m.loc["Corin", "placed_by"] != "moved_with_household"
    # the child goes with neither by a vote it cannot win: one parent moved, one stayed
    assert m.loc["Ria", "family_id"] == m.loc["Corin", "family_id"]


def test_one_adult_seen_at_a_new_address_does_not_take_their_partner_with_them():
    rows = [rec("h1", "housing", "Dana", "Pell", "1984-03-02", "2025-04-01", OLD),
            rec("p1", "police", "Corin", "Pell", "1982-07-19", "2024-02-10", OLD),
            rec("b2", "benefits", "Corin", "Pell", "1982-07-19", "2026-06-01", NEW)]
    m = link(rows)
    assert m.loc["Dana", "family_id"] != m.loc["Corin", "family_id"]


def test_a_new_occupants_child_does_not_follow_the_family_who_lived_there_before():
    rows = moved_family([]) + [rec("s9", "schools", "Tam", "Okafor", "2015-02-02", "2026-01-01", OLD)]
    m = link(rows)
    assert m.loc["Tam", "family_id"] != m.loc["Dana", "family_id"]


def test_a_member_with_no_address_and_a_current_claim_joins_the_claim_family():
    rows = [rec("b1", "benefits", "Dana", "Pell", "1984-03-02", "2026-02-01", NEW, claim_ref="C7", role="claimant"),
            rec("b2", "benefits", "Lou", "Rand", "1985-05-05", "2026-02-01", {}, claim_ref="C7", role="partner")]
    m = link(rows)
    assert m.loc["Lou", "family_id"] == m.loc["Dana", "family_id"]
    assert m.loc["Lou", "placed_by"] == "hint" and m.loc["Lou", "joined_by"] == "claim_ref"
    assert m.loc["Dana", "placed_by"] == "address" and m.loc["Dana", "joined_by"] == "claim_ref"


def test_a_postcode_without_an_address_joins_the_one_household_there_sharing_the_surname():
    rows = [rec("h1", "housing", "Dana", "Pell", "1984-03-02", "2026-02-01", NEW),
            rec("h2", "housing", "Abe", "Stone", "1950-01-01", "2026-02-01", dict(address="5 Heron Close", postcode="KK2 2KB")),
            rec("p1", "police", "Jo", "Pell", "2009-09-09", "2026-03-01", dict(postcode="KK2 2KB")),
            rec("p2", "police", "Max", "Pell", "1999-09-09", "2026-03-01", dict(postcode="KK9 9KZ"))]
    m = link(rows)
    assert m.loc["Jo", "family_id"] == m.loc["Dana", "family_id"]
    assert m.loc["Jo", "placed_by"] == "postcode_and_surname"
    assert m.loc["Max", "family_id"] != m.loc["Dana", "family_id"]          # another postcode
    assert m.loc["Max", "placed_by"] == "none"


def test_no_postcode_join_where_two_households_share_the_surname_or_it_is_a_shared_surname():
    two = [rec("h1", "housing", "Dana", "Pell", "1984-03-02", "2026-02-01", NEW),
           rec("h2", "housing", "Abe", "Pell", "1950-01-01", "2026-02-01", dict(address="5 Heron Close", postcode="KK2 2KB")),
           rec("p1", "police", "Jo", "Pell", "2009-09-09", "2026-03-01", dict(postcode="KK2 2KB"))]
    m = link(two)
    assert m.loc["Jo", "placed_by"] == "none"
    shared = [rec("h1", "housing", "Amina", "Begum", "1984-03-02", "2026-02-01", NEW),
              rec("p1", "police", "Rukhsana", "Begum", "1990-09-09", "2026-03-01", dict(postcode="KK2 2KB"))]
    m = link(shared)
    assert m.loc["Rukhsana", "family_id"] != m.loc["Amina", "family_id"]


def test_review_families_lists_the_uncertain_placements():
    rows = moved_family([rec("s1", "schools", "Ria", "Pell", "2014-09-09", "2026-01-01", OLD)]) + [
        rec("s7", "schools", "Kit", "Moss", "2016-01-01", "2026-01-01", dict(address="9 Wren Way", postcode="KK3 3KC"))]
    res = link_records(records(rows), settings(), AS_OF)
    review = review_placements(res.members).set_index("forename")
    assert {"Ria", "Kit"} <= set(review.index)
    assert review.loc["Ria", "placed_by"] == "moved_with_household"
    assert "another address" in review.loc["Ria", "reason"]
    assert "no adult" in review.loc["Kit", "reason"]
    assert res.stats["family_placements"]["moved_with_household"] == 1


def test_family_settings_are_checked():
    import pytest
    from schemas.config_models import KeyedError
    for bad in ({"address_lag_days": {"schools": -1}}, {"address_lag_days": {"police": "soon"}},
                {"follow_household": {"together_days": True}}, {"follow_household": {"enabled": "yes"}},
                {"follow_household": {"min_movers_for_an_adult": 0}}, {"join_by_postcode_and_surname": {"enabled": 1}}, {"join_by_postcode_and_surname": {"max_chance": 2}},
                {"follow_household": {"bogus": 1}}):
        with pytest.raises(KeyedError):
            LinkageSettings.from_dict({"families": bad})
    # a council's own source can be given a lag
    s = LinkageSettings.from_dict({"families": {"address_lag_days": {"social_care": 60}}})
    assert s.families["address_lag_days"]["social_care"] == 60 and s.families["address_lag_days"]["schools"] == 180


def test_record_columns_hold_every_person_field_once():
    from schemas.columns import RECORD_COLUMNS
    from schemas.fields import PERSON_FIELDS
    assert list(RECORD_COLUMNS[3:14]) == [f.name for f in PERSON_FIELDS if f.name != "record_id"]
    assert len(set(RECORD_COLUMNS)) == len(RECORD_COLUMNS)


def test_an_open_claim_holds_the_current_address_whatever_its_start():
    # the claim started years ago; it is open, so the address it holds is today's
    rows = [rec("p1", "police", "Dana", "Pell", "1984-03-02", "2025-02-01", OLD),
            rec("b1", "benefits", "Dana", "Pell", "1984-03-02", "2019-05-01", NEW, claim_ref="C1",
                held_until="2026-09-30")]
    m = link(rows)
    assert m.loc["Dana", "address"] == "3 Heron Close"
    assert str(m.loc["Dana", "address_seen_on"]) == "2026-09-30"

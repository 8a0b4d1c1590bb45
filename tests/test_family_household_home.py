"""Family formation cases found by classifying the family misses on generated data against the
truth (tools/misses.py, issue 14): an adult left behind follows a partner and children, or
children alone; a naming-chain child follows siblings whose surname differs from theirs but
is the father's name at the new home; a later record giving an address the household left does
not take a person away from it; a young adult who left home is still not pulled back."""
from matching.families import review_placements
from matching.linkage import link_records
from test_family_follow import AS_OF, NEW, OLD, link, rec, records, settings

ELSEWHERE = dict(address="40 Finch Row", postcode="KK4 4KD")


def test_an_adult_left_behind_follows_their_partner_and_children():
    # Corin's last record at the old home is a claim that ended years before the move; Dana and
    # the children were seen there with him and all now live at the new address.
    rows = [rec("b1", "benefits", "Corin", "Pell", "1963-08-29", "2021-10-01", OLD, claim_ref="C1", held_until="2023-05-18"),
            rec("b2", "benefits", "Dana", "Pell", "1967-10-28", "2021-10-01", OLD, claim_ref="C1", held_until="2023-05-18"),
            rec("s1", "schools", "Ria", "Pell", "2017-06-30", "2025-08-01", OLD),
            rec("s2", "schools", "Ria", "Pell", "2017-06-30", "2026-01-01", NEW),
            rec("s3", "schools", "Ria", "Pell", "2017-06-30", "2026-04-06", NEW),
            rec("b3", "benefits", "Dana", "Pell", "1967-10-28", "2026-03-01", NEW, claim_ref="C2")]
    m = link(rows)
    assert m.loc["Corin", "family_id"] == m.loc["Dana", "family_id"] == m.loc["Ria", "family_id"]
    assert m.loc["Corin", "placed_by"] == "moved_with_household"
    assert m.loc["Corin", "address"] == "3 Heron Close"
    # switched off, the child is no partner to follow
    m = link(rows, {"families": {"follow_household": {"adult_counts_children": False}}})
    assert m.loc["Corin", "family_id"] != m.loc["Dana", "family_id"]


def test_an_adult_left_behind_after_domestic_abuse_never_follows_the_household():
    # The same move, but a domestic abuse incident at the old home: Dana and the children may be
    # fleeing, and Corin is not placed at their new address. Ria, a child, still moves.
    rows = [rec("b1", "benefits", "Corin", "Pell", "1963-08-29", "2021-10-01", OLD, claim_ref="C1", held_until="2023-05-18"),
            rec("b2", "benefits", "Dana", "Pell", "1967-10-28", "2021-10-01", OLD, claim_ref="C1", held_until="2023-05-18"),
            rec("d1", "dv", "Dana", "Pell", "1967-10-28", "2024-11-03", OLD),
            rec("s1", "schools", "Ria", "Pell", "2017-06-30", "2025-08-01", OLD),
            rec("s2", "schools", "Ria", "Pell", "2017-06-30", "2026-01-01", NEW),
            rec("s3", "schools", "Ria", "Pell", "2017-06-30", "2026-04-06", NEW),
            rec("b3", "benefits", "Dana", "Pell", "1967-10-28", "2026-03-01", NEW, claim_ref="C2")]
    m = link(rows)
    assert m.loc["Dana", "family_id"] == m.loc["Ria", "family_id"]
    assert m.loc["Corin", "family_id"] != m.loc["Dana", "family_id"]
    assert m.loc["Corin", "placed_by"] != "moved_with_household"
    # listed for no source, the guard is off and he follows (as without the incident)
    m = link(rows, {"families": {"follow_household": {"adults_stay_after": []}}})
    assert m.loc["Corin", "family_id"] == m.loc["Dana", "family_id"]


def test_a_grandparent_left_behind_follows_the_children_who_moved():
    # Ravinder and Baljit were seen at the old home, and both are now at the new one: every mover
    # is 12+ years younger than Harpreet, and one of them is a child.
    rows = [rec("p1", "police", "Harpreet", "Chahal", "1937-05-02", "2025-06-12", OLD),
            rec("p0", "police", "Ravinder", "Chahal", "1974-03-29", "2023-10-25", OLD),
            rec("s1", "schools", "Baljit", "Chahal", "2013-02-13", "2025-01-01", OLD),
            rec("s2", "schools", "Baljit", "Chahal", "2013-02-13", "2026-04-06", NEW),
            rec("b1", "benefits", "Ravinder", "Chahal", "1974-03-29", "2025-10-15", NEW, claim_ref="C3")]
    m = link(rows)
    assert m.loc["Harpreet", "family_id"] == m.loc["Baljit", "family_id"] == m.loc["Ravinder", "family_id"]
    assert m.loc["Harpreet", "placed_by"] == "moved_with_household"
    # with only the grown-up Ravinder as a mover, Harpreet stays: no partner or child moved
    m = link([r for r in rows if r["forename"] != "Baljit"])
    assert m.loc["Harpreet", "family_id"] != m.loc["Ravinder", "family_id"]


def test_parents_still_do_not_follow_a_grown_up_child_alone():
    # the younger movers counted for an adult are children now, or move with a partner
    rows = [rec("h1", "housing", "Dana", "Pell", "1970-03-02", "2022-04-01", OLD),
            rec("p1", "police", "Corin", "Pell", "1968-07-19", "2023-02-10", OLD),
            rec("p2", "police", "Sky", "Pell", "2004-01-05", "2023-06-10", OLD),
            rec("p3", "police", "Sky", "Pell", "2004-01-05", "2023-08-10", OLD),
            rec("h2", "housing", "Sky", "Pell", "2004-01-05", "2026-05-02", NEW)]
    m = link(rows)
    assert m.loc["Dana", "family_id"] == m.loc["Corin", "family_id"] != m.loc["Sky", "family_id"]
    assert m.loc["Sky", "placed_by"] != "household_home"


def test_a_naming_chain_child_follows_siblings_to_the_home_of_the_father_whose_name_they_carry():
    # Amina is recorded under her grandfather's name (Ahmed), her sisters under their father's
    # given name (Mohamed); the father, Mohamed Ahmed, was only ever seen at the new home.
    rows = [rec("s1", "schools", "Amina", "Ahmed", "2020-05-06", "2025-08-01", OLD),
            rec("s2", "schools", "Amina", "Ahmed", "2020-05-06", "2026-04-06", OLD),
            rec("s3", "schools", "Hawa", "Mohamed", "2020-03-18", "2025-08-01", OLD),
            rec("s4", "schools", "Hawa", "Mohamed", "2020-03-18", "2026-04-06", NEW),
            rec("b1", "benefits", "Mohamed", "Ahmed", "1990-10-02", "2023-05-26", NEW, claim_ref="C4")]
    m = link(rows)
    assert m.loc["Amina", "family_id"] == m.loc["Hawa", "family_id"] == m.loc["Mohamed", "family_id"]
    assert m.loc["Amina", "placed_by"] == "moved_with_household"
    # without a name in common with anyone at the new home, a child does not follow
    rows[-1] = rec("b1", "benefits", "Mohamed", "Farah", "1990-10-02", "2023-05-26", NEW, claim_ref="C4")
    m = link(rows)
    assert m.loc["Amina", "family_id"] != m.loc["Hawa", "family_id"]


def test_a_child_recorded_only_under_a_shared_surname_follows_the_household():
    # Safiya's school records give Begum, a surname shared by many unrelated families, where her
    # mother and brother are recorded as Rahman: she has no family name to share with them, and
    # still moves with them. Nadia, a new occupant's child first seen at the old home after the
    # move, stays.
    rows = [rec("s1", "schools", "Safiya", "Begum", "2016-02-11", "2025-01-01", OLD),
            rec("s2", "schools", "Safiya", "Begum", "2016-02-11", "2025-08-01", OLD),
            rec("s3", "schools", "Imran", "Rahman", "2014-07-03", "2025-01-01", OLD),
            rec("s4", "schools", "Imran", "Rahman", "2014-07-03", "2026-04-06", NEW),
            rec("p1", "police", "Rukhsana", "Rahman", "1984-03-22", "2024-10-02", OLD),
            rec("b1", "benefits", "Rukhsana", "Rahman", "1984-03-22", "2026-02-01", NEW, claim_ref="C5"),
            rec("s5", "schools", "Nadia", "Begum", "2015-09-30", "2026-04-06", OLD)]
    m = link(rows)
    assert m.loc["Safiya", "family_id"] == m.loc["Imran", "family_id"] == m.loc["Rukhsana", "family_id"]
    assert m.loc["Safiya", "placed_by"] == "moved_with_household"
    assert m.loc["Nadia", "family_id"] != m.loc["Imran", "family_id"]


def stale_rows():
    """The household moved from OLD to NEW; Louie was seen at NEW on their tenancy, and an ASB
    officer later keyed his address from an old record (OLD)."""
    return [rec("s1", "schools", "Chloe", "Graham", "2016-09-17", "2024-08-01", OLD),
            rec("s2", "schools", "Chloe", "Graham", "2016-09-17", "2025-01-01", NEW),
            rec("s3", "schools", "Chloe", "Graham", "2016-09-17", "2026-04-06", NEW),
            rec("h1", "housing", "Holly", "Graham", "1970-05-04", "2024-11-14", NEW, tenancy_ref="T1"),
            rec("h2", "housing", "Louie", "Graham", "1964-12-10", "2024-11-14", NEW, tenancy_ref="T1"),
            rec("a1", "asb", "Louie", "Graham", "1964-12-10", "2025-06-05", OLD)]


def test_a_later_record_at_the_address_the_household_left_does_not_take_a_person_away():
    res = link_records(records(stale_rows()), settings(), AS_OF)
    m = res.members.set_index("forename")
    assert m.loc["Louie", "family_id"] == m.loc["Holly", "family_id"] == m.loc["Chloe", "family_id"]
    assert m.loc["Louie", "placed_by"] == "household_home"
    assert m.loc["Louie", "address"] == "3 Heron Close"
    assert m.loc["Louie", "own_address"] == "14 Rook Street"
    review = review_placements(res.members).set_index("forename")
    assert "address the household left" in review.loc["Louie", "reason"]
    assert res.stats["family_placements"]["household_home"] == 1


def test_the_old_address_rule_can_be_switched_off():
    m = link(stale_rows(), {"families": {"follow_household": {"stale_old_address": False}}})
    assert m.loc["Louie", "family_id"] != m.loc["Holly", "family_id"]


def test_more_records_at_the_old_address_than_at_the_home_are_a_move_back():
    rows = stale_rows() + [rec("a2", "asb", "Louie", "Graham", "1964-12-10", "2025-07-05", OLD)]
    m = link(rows)
    assert m.loc["Louie", "family_id"] != m.loc["Holly", "family_id"]


def test_a_new_address_nobody_of_the_household_lived_at_is_a_move_not_an_old_address():
    rows = [r for r in stale_rows() if r["record_id"] != "a1"]
    rows.append(rec("a1", "asb", "Louie", "Graham", "1964-12-10", "2025-06-05", ELSEWHERE))
    m = link(rows)
    assert m.loc["Louie", "family_id"] != m.loc["Holly", "family_id"]
    assert m.loc["Louie", "placed_by"] != "household_home"


def incident(rid, forename, dob, where, surname="Begum"):
    # Begum, a surname many unrelated households share: the postcode alone places nobody by it.
    return rec(rid, "dv", forename, surname, dob, "2025-09-22", where)


FLAT = dict(address="Flat 1, 76 Albert Road", postcode="KK5 5KE")
DV = {"families": {"join_by_event": {"sources": ["dv"]}}}     # off by default: opted in
ADULTS = {"families": {"join_by_event": {"sources": ["dv"], "adults": True}}}


def test_a_child_with_no_address_joins_the_household_recorded_in_the_same_incident():
    rows = [incident("d1", "Rebecca", "1987-08-10", FLAT),
            incident("d2", "Violet", "2016-02-02", dict(postcode="KK5 5KE")),
            incident("d3", "Florence", "2011-10-24", FLAT),
            rec("s1", "schools", "Florence", "Begum", "2011-10-24", "2026-04-06", FLAT)]
    res = link_records(records(rows), settings(DV), AS_OF)
    m = res.members.set_index("forename")
    assert m.loc["Rebecca", "family_id"] == m.loc["Violet", "family_id"] == m.loc["Florence", "family_id"]
    assert m.loc["Violet", "placed_by"] == "incident"
    assert m.loc["Violet", "address"] == "Flat 1 76 Albert Road"
    review = review_placements(res.members).set_index("forename")
    assert "same incident" in review.loc["Violet", "reason"]
    # listed for no source (the default), nobody is placed so
    m = link(rows)
    assert m.loc["Violet", "family_id"] != m.loc["Rebecca", "family_id"]


def test_an_adult_with_no_address_in_an_incident_is_not_placed_with_the_household_unless_asked():
    # The adult may be the perpetrator: never placed at the victim's home by inference.
    rows = [incident("d1", "Rebecca", "1987-08-10", dict(postcode="KK5 5KE")),
            incident("d2", "Violet", "2016-02-02", FLAT),
            incident("d3", "Florence", "2011-10-24", FLAT),
            rec("s1", "schools", "Florence", "Begum", "2011-10-24", "2026-04-06", FLAT)]
    m = link(rows, DV)
    assert m.loc["Rebecca", "family_id"] != m.loc["Violet", "family_id"]
    assert m.loc["Rebecca", "placed_by"] != "incident"
    m = link(rows, ADULTS)
    assert m.loc["Rebecca", "family_id"] == m.loc["Violet", "family_id"]
    assert m.loc["Rebecca", "placed_by"] == "incident"


def test_no_incident_join_on_another_day_another_surname_or_two_households():
    other_day = rec("d1", "dv", "Rebecca", "Begum", "1987-08-10", "2025-09-23", dict(postcode="KK5 5KE"))
    household = [incident("d2", "Violet", "2016-02-02", FLAT), incident("d3", "Florence", "2011-10-24", FLAT)]
    m = link([other_day] + household, ADULTS)
    assert m.loc["Rebecca", "family_id"] != m.loc["Violet", "family_id"]
    m = link([incident("d1", "Rebecca", "1987-08-10", dict(postcode="KK5 5KE"), surname="Quayle")] + household, ADULTS)
    assert m.loc["Rebecca", "family_id"] != m.loc["Violet", "family_id"]
    # the incident's records at two addresses of that postcode: which household is not known
    two = household + [incident("d4", "Idris", "2014-04-04", dict(address="Flat 2, 76 Albert Road", postcode="KK5 5KE"))]
    m = link([incident("d1", "Rebecca", "1987-08-10", dict(postcode="KK5 5KE"))] + two, ADULTS)
    assert m.loc["Rebecca", "family_id"] not in {m.loc["Violet", "family_id"], m.loc["Idris", "family_id"]}

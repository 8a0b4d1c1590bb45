"""Naming conventions that break the name fields (matching.standardise, matching.levels and the
default comparisons): for each, a pair of records of one person that should link and the hard
negative that must not. Names are synthetic draws from small pools."""
import pandas as pd
import pytest

from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from matching.standardise import standardise
from tests.test_matching_linkage import AS_OF, FIXED, background, households


def _person(rid, forename, surname, dob, address, postcode="EE1 1EE", sex="M", source="police"):
    return {"source": source, "record_id": rid, "forename": forename, "surname": surname, "dob": dob, "sex": sex,
            "address": address, "postcode": postcode, "seen_date": "2025-06-01"}


# (case, rows, pairs that must be one person, pairs that must be two)
CASES = [
    # A naming chain with no family surname: given | father's given in one agency, given |
    # grandfather's given in another. Surnames disagree entirely; forename, date, address agree.
    ("chain_cut_father_grandfather",
     [_person("pc0", "Guled", "Hassan", "1984-03-17", "12 Quarry Road"),
      _person("pc1", "Guled", "Omar", "1984-03-17", "12 Quarry Road", source="housing")],
     [("pc0", "pc1")], []),
    # The chain shifted by one: given + father's given as forename, grandfather's as surname.
    ("chain_shifted",
     [_person("cs0", "Warsame Abdi", "Yusuf", "1979-08-09", "3 Lime Walk"),
      _person("cs1", "Warsame", "Abdi", "1979-08-09", "3 Lime Walk", source="benefits")],
     [("cs0", "cs1")], []),
    # Name order swapped and the chain cut at another generation: given | father in one
    # agency, grandfather | given in another. Only the given name is shared, across the
    # fields; the forename is not `else`, so the twins veto does not stop the link.
    ("chain_swapped_and_cut",
     [_person("sw0", "Mohamed", "Hussein", "2015-08-18", "34 Garnett Street", source="schools"),
      _person("sw1", "Idris", "Mohamed", "2015-08-18", "34 Garnett Street", source="benefits")],
     [("sw0", "sw1")], []),
    # Father and son at one address: the son's surname is the father's forename.
    ("chain_father_and_son",
     [_person("fs0", "Hassan", "Abdi", "1970-05-05", "40 Ferry Lane"),
      _person("fs1", "Guled", "Hassan", "2001-02-11", "40 Ferry Lane", source="housing"),
      _person("fs2", "Guled Hassan", "Abdi", "2001-02-11", "40 Ferry Lane", source="benefits")],
     [("fs1", "fs2")], [("fs0", "fs1"), ("fs0", "fs2")]),
    # Twins recorded with their father's name as a second forename: the shared word is the
    # father's, not theirs.
    ("chain_twins",
     [_person("tw0", "Guled Hassan", "Abdi", "2009-06-30", "8 Weir Close", source="schools"),
      _person("tw1", "Warsame Hassan", "Abdi", "2009-06-30", "8 Weir Close", source="housing")],
     [], [("tw0", "tw1")]),
    # Unrelated people in one borough sharing a common given name and a year-only date, with
    # different chain surnames and addresses.
    ("chain_namesakes",
     [_person("ns0", "Mohamed", "Abdi", "1980-01-01", "5 Dock Street"),
      _person("ns1", "Mohamed", "Ali", "1980-01-01", "71 Canal Road", postcode="EE7 9XY", source="housing")],
     [], [("ns0", "ns1")]),
    # Only the year known in one agency (1 January): neither strong agreement nor disagreement.
    ("placeholder_date",
     [_person("pd0", "Fadumo", "Farah", "1990-01-01", "9 Mill Row", sex="F"),
      _person("pd1", "Fadumo", "Farah", "1990-06-14", "9 Mill Row", sex="F", source="housing")],
     [("pd0", "pd1")], []),
    # A compound name split across the fields in one agency and joined in another.
    ("compound_split",
     [_person("cp0", "Abdul", "Rahman Uddin", "1987-10-21", "14 Tannery Way"),
      _person("cp1", "Abdulrahman", "Uddin", "1987-10-21", "14 Tannery Way", source="housing")],
     [("cp0", "cp1")], []),
    # Family name recorded first, and transliterated.
    ("name_order_and_spelling",
     [_person("no0", "Mohammed", "Yusuf", "1992-04-02", "2 Harbour View"),
      _person("no1", "Yousef", "Muhammad", "1992-04-02", "2 Harbour View", source="housing")],
     [("no0", "no1")], []),
    # Mohammed given before the name a boy is called by: the school keys the first name, the
    # police the called name alone. The forename then tells little: no twins veto. His father
    # Mohammed at the same home, born 30 years before, stays apart (the date of birth).
    ("devotional_first_name",
     [_person("dv0", "Mohammed", "Qureshi", "2011-05-19", "27 Saddler Row", source="schools"),
      _person("dv1", "ZAIN", "QURESHI", "2011-05-19", "27 Saddler Row"),
      _person("dv2", "Mohammed", "Qureshi", "1981-09-02", "27 Saddler Row", source="housing"),
      # twin brothers on one benefit claim: one agency's rows, so the level does not apply
      _person("dv3", "MD", "HAMEED", "2016-03-08", "5 Glover Street", source="benefits"),
      _person("dv4", "BILAL", "HAMEED", "2016-03-08", "5 Glover Street", source="benefits")],
     [("dv0", "dv1")], [("dv1", "dv2"), ("dv0", "dv2"), ("dv3", "dv4")]),
    # Nicknames of Polish and Yoruba names an agency records instead of the full name.
    ("polish_and_yoruba_nicknames",
     [_person("nk0", "Małgorzata", "Wiśniewska", "1983-02-14", "6 Cooper Yard", sex="F", source="housing"),
      _person("nk1", "Gosia", "Wisniewska", "1983-02-14", "6 Cooper Yard", sex="F"),
      _person("nk2", "Adebayo", "Ogunleye", "1977-12-03", "19 Brewer Lane", source="housing"),
      _person("nk3", "BAYO", "OGUNLEYE", "1977-12-03", "19 Brewer Lane")],
     [("nk0", "nk1"), ("nk2", "nk3")], []),
]


@pytest.fixture(scope="module")
def linked():
    rows = background(600) + households(80)
    for _, case_rows, _, _ in CASES:
        rows += case_rows
    res = link_records(records_frame(rows), LinkageSettings.from_dict(FIXED), AS_OF)
    assert res.stats["vetoes_applied"]
    return res.record_links.set_index("record_id")["person_id"]


@pytest.mark.parametrize("case", [c[0] for c in CASES if c[2]])
def test_records_of_one_person_link_whatever_the_convention(linked, case):
    _, _, same, _ = next(c for c in CASES if c[0] == case)
    for a, b in same:
        assert linked[a] == linked[b]


@pytest.mark.parametrize("case", [c[0] for c in CASES if c[3]])
def test_hard_negatives_of_a_convention_stay_apart(linked, case):
    _, _, _, apart = next(c for c in CASES if c[0] == case)
    for a, b in apart:
        assert linked[a] != linked[b]


def test_surnames_of_chain_given_names_are_flagged_through_their_spellings():
    std = standardise(records_frame([_person("a", "X", "Xasan", None, None), _person("b", "X", "Ali Hassan", None, None),
                                     _person("c", "X", "Smith", None, None), _person("d", "X", "Hassan-Smith", None, None)]))
    assert list(std["sur_chain_name"]) == [True, True, False, False]


def test_first_forename_tokens_hold_only_the_first_name():
    std = standardise(records_frame([_person("a", "Guled Hassan", "Abdi", None, None),
                                     _person("b", "Abdul Rahman", "Uddin", None, None)]))
    assert std["fore1_tokens"].iloc[0] == ("guled",)
    assert {"abdul", "abdulrahman", "rahman"} <= set(std["fore1_tokens"].iloc[1])
    assert "uddin" not in std["fore1_tokens"].iloc[1]


def test_name_order_swapped_with_an_extra_name_is_not_taken_for_twins():
    """ "Zain | Haider" and "Haider | Mohammad Zain" (same date of birth and home): the first
    forenames are crossed, so the forename is not `else` and the twins veto does not fire."""
    import datetime as dt

    from matching.linkage import link_records, records_frame
    from matching.settings import LinkageSettings
    from test_matching_linkage import FIXED, background
    rows = background(400) + [
        {"source": "housing", "record_id": "x1", "forename": "Zain", "surname": "Haider", "dob": "1991-10-21", "sex": "M",
         "address": "8 Marsh Street", "postcode": "KK5 5KE", "seen_date": "2025-06-01"},
        {"source": "benefits", "record_id": "x2", "forename": "Haider", "surname": "Mohammad Zain", "dob": "1991-10-21",
         "sex": "M", "address": "8 Marsh St", "postcode": "KK5 5KE", "seen_date": "2025-07-01"},
        # twins: one surname, different first names, one date of birth and home: still two people
        {"source": "housing", "record_id": "t1", "forename": "Zain", "surname": "Haider", "dob": "2001-02-03", "sex": "M",
         "address": "9 Marsh Street", "postcode": "KK5 5KE", "seen_date": "2025-06-01"},
        {"source": "police", "record_id": "t2", "forename": "Ali", "surname": "Haider", "dob": "2001-02-03", "sex": "M",
         "address": "9 Marsh Street", "postcode": "KK5 5KE", "seen_date": "2025-06-01"},
    ]
    # the vetoes guard households whatever share of these few records live in one
    settings = LinkageSettings.from_dict({**FIXED, "household_guards": {"min_household_share": 0.0}})
    res = link_records(records_frame(rows), settings, dt.date(2026, 9, 30))
    rl = res.record_links.set_index("record_id")["person_id"]
    assert rl["x1"] == rl["x2"]
    assert rl["t1"] != rl["t2"]


def test_transliterations_share_a_canonical_form_in_either_field():
    """Ali is a given name and surname in its own right (Ali / Aly / Cali), not a nickname for
    Alison; Hasson, Maryan, Islaam and Oluseun are spellings of Hassan, Maryam, Islam and
    Oluwaseun as agencies key them."""
    pairs = [("Ali", "Aly"), ("Ali", "Cali"), ("Hassan", "Hasson"), ("Maryam", "Maryan"), ("Islam", "Islaam"),
             ("Oluwaseun", "Oluseun")]
    rows = [_person(f"{i}{s}", n, n, None, None) for i, pair in enumerate(pairs) for s, n in zip("ab", pair)]
    std = standardise(records_frame(rows)).set_index("record_id")
    for i, _ in enumerate(pairs):
        for col in ("fore_canon", "sur_canon"):
            assert std.loc[f"{i}a", col] == std.loc[f"{i}b", col], (i, col)
    alison = standardise(records_frame([_person("x", "Alison", "Ali", None, None)])).iloc[0]
    assert alison["fore_canon"] != alison["sur_canon"]


@pytest.mark.parametrize("nickname, full", [("Gosia", "Małgorzata"), ("Tomek", "Tomasz"), ("Kasia", "Katarzyna"),
                                            ("Bayo", "Adebayo"), ("Segun", "Olusegun"), ("Femi", "Oluwafemi")])
def test_nicknames_of_polish_and_yoruba_names_resolve_to_the_full_name(nickname, full):
    std = standardise(records_frame([_person("a", nickname, "X", None, None), _person("b", full, "X", None, None)]))
    assert std["fore_canon"].iloc[0] == std["fore_canon"].iloc[1]


def test_mohammed_on_one_side_weakens_the_forename_rather_than_vetoing():
    """Mohammed | Zain: the devotional_first_name level, weighed at most 0 and no veto; Zain |
    Ali stays `else` (the twins veto); Mohammed | Muhammad is a variant, not this level; two
    rows of one agency (Mohammed | Bilal) stay `else`."""
    import numpy as np

    from matching.compare import Columns, comparison_levels
    settings = LinkageSettings.from_dict({})
    comp = next(c for c in settings.comparisons if c.name == "forename")
    labels = [lv.label for lv in comp.levels]
    std = standardise(records_frame([_person("a", "Mohammed", "X", None, None), _person("b", "Zain", "X", None, None, source="schools"),
                                     _person("c", "Ali", "X", None, None), _person("d", "MUHAMMAD", "X", None, None, source="dv"),
                                     _person("e", "Bilal", "X", None, None)]))
    lv = comparison_levels(comp, Columns(std), np.array([0, 1, 0, 1, 0]), np.array([1, 2, 3, 3, 4]))
    assert [labels[i] for i in lv] == ["devotional_first_name", "else", "nickname_or_variant", "devotional_first_name", "else"]
    level = comp.levels[labels.index("devotional_first_name")]
    assert level.weight_bounds[1] == 0.0
    c = [x.name for x in settings.comparisons].index("forename")
    vetoed = {lab for ci, lvs in settings.vetoes if ci == c for lab in (labels[i] for i in lvs)}
    assert "devotional_first_name" not in vetoed and "else" in vetoed

"""Standardisation of names, dates, postcodes and addresses (matching.standardise)."""
import pandas as pd

from matching.linkage import records_frame
from matching.standardise import address_parts, name_tokens, standard_postcode, standardise


def std_of(rows):
    return standardise(records_frame(rows))


def test_nickname_resolves_to_full_name():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Bill", "surname": "X"},
                {"source": "a", "record_id": "2", "forename": "William", "surname": "X"}])
    assert s.loc[0, "fore_canon"] == s.loc[1, "fore_canon"] == "william"


def test_transliteration_variants_share_a_canonical_form():
    s = std_of([{"source": "a", "record_id": str(i), "forename": f, "surname": sn}
                for i, (f, sn) in enumerate([("Mohammed", "Hussain"), ("Muhammad", "Hussein"),
                                             ("Mohd", "Husain"), ("Md", "Chaudhry")])])
    assert set(s["fore_canon"]) == {"mohammed"}
    assert s.loc[0, "sur_canon"] == s.loc[1, "sur_canon"] == s.loc[2, "sur_canon"] == "hussain"
    assert s.loc[3, "sur_canon"] == "chowdhury"


def test_diacritics_titles_and_punctuation_are_folded():
    assert name_tokens("Mrs Zoë  Núñez-Łukasz") == ["zoe", "nunez", "lukasz"]
    assert name_tokens("O'Brien") == ["obrien"]
    assert name_tokens("DR. JOSÉ") == ["jose"]


def test_compound_names_join_and_split():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Abdul Rahman", "surname": "Al-Hassan"},
                {"source": "a", "record_id": "2", "forename": "Abdulrahman", "surname": "Alhassan"},
                {"source": "a", "record_id": "3", "forename": "Abdul", "surname": "Hassan"}])
    assert s.loc[0, "fore_std"] == s.loc[1, "fore_std"] == "abdulrahman"
    assert s.loc[0, "sur_whole"] == s.loc[1, "sur_whole"] == "alhassan"
    assert "abdul" in s.loc[0, "fore_tokens"] and "abdul" in s.loc[2, "fore_tokens"]
    assert "hassan" in s.loc[0, "sur_tokens"] and "hassan" in s.loc[2, "sur_tokens"]


def test_hyphenated_surname_kept_whole_and_as_parts():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Amy", "surname": "Smith-Jones"},
                {"source": "a", "record_id": "2", "forename": "Amy", "surname": "Smith Jones"}])
    assert s.loc[0, "sur_whole"] == s.loc[1, "sur_whole"] == "smithjones"
    assert {"smith", "jones", "smithjones"} <= set(s.loc[0, "sur_tokens"])


def test_feminine_surname_ending_compares_as_masculine():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Anna", "surname": "Kowalska"},
                {"source": "a", "record_id": "2", "forename": "Jan", "surname": "Kowalski"}])
    assert s.loc[0, "sur_canon"] == s.loc[1, "sur_canon"]


def test_shared_surnames_are_flagged_and_kept_out_of_tokens():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Ayesha", "surname": "Begum"},
                {"source": "a", "record_id": "2", "forename": "Ayesha", "surname": "Rahman"}])
    assert bool(s.loc[0, "sur_shared"]) and not bool(s.loc[1, "sur_shared"])
    assert s.loc[0, "sur_tokens"] == ()


def test_postcode_spacing_and_case():
    assert standard_postcode("ab12cd") == "AB1 2CD"
    assert standard_postcode(" SW1A  1AA ") == "SW1A 1AA"
    assert standard_postcode("nonsense") is None
    s = std_of([{"source": "a", "record_id": "1", "forename": "A", "surname": "B", "postcode": "AB12CD"}])
    assert s.loc[0, "postcode"] == "AB1 2CD" and s.loc[0, "postcode_outward"] == "AB1"


def test_address_abbreviations_flat_and_house_numbers():
    a = address_parts("Flat 3, 12 High St, Townsville AB1 2CD")
    b = address_parts("3/12 HIGH STREET")
    assert a[:4] == b[:4] == ("3", "12", "high street", "3|12|high street")
    assert address_parts("12 A Church Rd")[1:3] == ("12a", "church road")
    assert address_parts("3 Wibsey Park Ave, Great Horton")[2] == "wibsey park avenue"
    assert address_parts("3 Wibsey Park Avenue")[2] != address_parts("3 Wibsey Park")[2]


def test_dob_parts_and_placeholder():
    s = std_of([{"source": "a", "record_id": "1", "forename": "A", "surname": "B", "dob": "1980-01-01"},
                {"source": "a", "record_id": "2", "forename": "A", "surname": "B", "dob": "1980-03-04"},
                {"source": "a", "record_id": "3", "forename": "A", "surname": "B"}])
    assert list(s["dob_placeholder"]) == [True, False, False]
    assert s.loc[1, "dob_key"] == 19800304 and s.loc[1, "dob_month"] == 3 and s.loc[1, "dob_day"] == 4
    assert pd.isna(s.loc[2, "dob_key"])


def test_name_pair_key_ignores_order():
    s = std_of([{"source": "a", "record_id": "1", "forename": "Wei", "surname": "Wang"},
                {"source": "a", "record_id": "2", "forename": "Wang", "surname": "Wei"}])
    assert s.loc[0, "name_pair_key"] == s.loc[1, "name_pair_key"]

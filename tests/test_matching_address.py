"""The address comparison's levels for one house whose text was mis-keyed or written in another
order, and the blocking passes that reach a pair when two of its fields are damaged at once."""
import numpy as np
import pytest

from matching.blocking import candidate_pairs
from matching.compare import Columns, compare_pairs
from matching.linkage import records_frame
from matching.settings import LinkageSettings
from matching.standardise import standardise

SETTINGS = LinkageSettings.defaults()
ADDRESS = next(c for c, comp in enumerate(SETTINGS.comparisons) if comp.name == "address")


def _row(rid, address, postcode, forename="Amira", surname="Okafor", dob="1990-04-12"):
    return {"source": "housing", "record_id": rid, "forename": forename, "surname": surname, "dob": dob,
            "address": address, "postcode": postcode, "seen_date": "2025-06-01"}


def _address_level(a: dict, b: dict) -> str:
    std = standardise(records_frame([a, b]))
    level = compare_pairs(SETTINGS.comparisons, Columns(std), np.array([0]), np.array([1]))[0, ADDRESS]
    return SETTINGS.comparisons[ADDRESS].levels[level].label


@pytest.mark.parametrize("left, right, postcode_right, level", [
    # one house, its words in another order or mis-keyed, the postcode the same
    ("8 Reader Court, Villa 2, Arundel", "8 Villa 2, Reader Court, Arundel", "AB1 2CD", "similar_address_and_postcode"),
    ("15 Hensman Street, Under Silos", "15 Hensman Streen, Under Silos", "AB1 2CD", "similar_address_and_postcode"),
    # ... and the postcode mis-keyed too
    ("8 Reader Court, Villa 2, Arundel", "8 Villa 2, Reader Court, Arundel", "AB1 2DC", "similar_address"),
    ("3 O'Sullivan Street, The Lodge", "3 O'Sulliva Street, The Lodge", "AB9 9ZZ", "similar_address"),
    # typos at words' starts reorder the sorted words; the text as written is still alike
    ("10 Melrose Drive, Grandview, South Perth", "10 Melrose Rdive, Grandview, South Erth", "AB1 2DC", "similar_address"),
    # neighbours: another number in the same street is not one house
    ("12 High Street, Leeds", "14 High Street, Leeds", "AB1 2CD", "same_postcode"),
    ("Flat 3, 12 High Street, Leeds", "Flat 4, 12 High Street, Leeds", "AB1 2CD", "same_house_street_postcode"),
    ("Flat 3, 12 High Street, Leeds", "Flat 4, 12 High Street, Leeds", "AB1 2DC", "same_outward_code"),
    ("12 High Street, Leeds", "14 High Street, Leeds", "AB1 2DC", "same_outward_code"),
    # a number on one side only says nothing about the house
    ("Yerralee Road, Wongon", "32 Yerralee Road, Wongon", "AB1 2DC", "same_outward_code"),
    # one house in two streets of one town is not alike
    ("12 High Street, Leeds", "12 Church Lane, Leeds", "AB1 2DC", "same_outward_code"),
])
def test_one_house_mis_keyed_is_alike_and_neighbours_are_not(left, right, postcode_right, level):
    assert _address_level(_row("a", left, "AB1 2CD"), _row("b", right, postcode_right)) == level


def test_the_standardised_house_and_sorted_words():
    std = standardise(records_frame([_row("a", "Flat 3, 12 High St, Leeds", "AB1 2CD"),
                                     _row("b", "High Street", "AB1 2CD"), _row("c", None, "AB1 2CD")]))
    assert list(std["addr_flat_house"]) == ["3|12", None, None]
    assert std["addr_sorted"].iloc[0] == "12 3 flat high leeds street"
    assert std["addr_sorted"].iloc[2] is None
    assert list(std["sur_initial"]) == ["o", "o", "o"]


def _found(rows, pass_name: str) -> bool:
    std = standardise(records_frame(rows))
    left, right, per_pass = candidate_pairs(std, SETTINGS)
    assert len(left) == 1, "the two records are one candidate pair"
    return per_pass[pass_name]["pairs"] >= 1


def test_a_pair_with_forename_surname_and_postcode_damaged_is_still_a_candidate():
    """Another forename, a one-letter surname typo (phonetic key changes) and a postcode typo:
    the date of birth, district and surname initial still meet."""
    rows = [_row("a", "20 Rose Hill, Malvern", "AB1 2CD", forename="Alissa", surname="Ryan"),
            _row("b", "33 Rose Hill, Malvern", "AB1 2FD", forename="Kyle", surname="Ryna")]
    rows[1]["source"] = "police"
    assert _found(rows, "dob_district_surname_initial")


def test_a_pair_whose_only_link_is_the_house_in_other_words_is_a_candidate():
    rows = [_row("a", "1 Galloway Street, Agarabi", "AB1 2CD", forename="Mila", surname="Reinmuth", dob=None),
            _row("b", "1 Agarabi, Galloway Street", "AB1 9CD", forename="Mila", surname="Reimnuth", dob=None)]
    rows[1]["source"] = "police"
    assert _found(rows, "sorted_address_words")


def test_a_rare_alike_level_never_outweighs_the_exact_agreement_it_stands_in_for():
    """On the sample no pair is at `similar_address_and_postcode`: the floors of m and u alone
    would give it +8.6 bits, more than the same address and postcode; it is held at that."""
    from tools.diagnose import load
    from matching import linkage
    from matching.model import fit
    cfg, records, _ = load("config", "sample_data/config.yaml")
    prep = linkage.standardise_records(records)
    pairs, stored = linkage.find_candidates(prep, SETTINGS, None, None)
    levels = linkage.compare_candidates(prep, SETTINGS, pairs, stored, None).levels
    model = fit(SETTINGS, prep.cols, levels, prep.n)
    comp = SETTINGS.comparisons[ADDRESS]
    w = dict(zip([lv.label for lv in comp.levels], model.weights[ADDRESS]))
    assert w["similar_address_and_postcode"] <= w["same_address_and_postcode"]
    assert w["similar_address"] <= w["same_address_text"]


@pytest.mark.parametrize("at_most", ["nowhere", "similar", "missing"])
def test_weight_at_most_must_name_another_real_level(at_most):
    from schemas.config_models import KeyedError
    comparisons = [{"name": "address", "levels": [
        {"label": "same", "test": {"equal": "addr_key"}},
        {"label": "missing", "is_null_level": True, "test": {"missing": ["addr_key"]}},
        {"label": "similar", "test": {"jaro_winkler": "addr_sorted", "threshold": 0.9}, "weight_at_most": at_most},
        {"label": "else"}]}]
    with pytest.raises(KeyedError, match="weight_at_most.*another, non-null level"):
        LinkageSettings.from_dict({"comparisons": comparisons})

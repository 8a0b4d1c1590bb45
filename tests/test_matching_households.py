"""Household evidence: council extracts show households (parents and children at one address),
a register of individuals does not; the household vetoes follow what the data show."""
import pandas as pd

from matching.households import household_share


def frame(rows):
    return pd.DataFrame(rows, columns=["uprn", "addr_key", "postcode", "birth_year"])


def test_a_parent_and_child_at_one_address_are_a_household():
    f = frame([("1", "1 a st", "AB1 2CD", 1980), ("1", "1 a st", "AB1 2CD", 2012), ("2", "2 a st", "AB1 2CD", 1975)])
    assert household_share(f, 12) == 2 / 3


def test_records_of_one_person_at_one_address_are_not():
    f = frame([("1", "1 a st", "AB1 2CD", 1980), ("1", "1 a st", "AB1 2CD", 1980), ("", "3 b rd", "AB1 2CD", 1990),
               ("", "3 b rd", "AB1 2CD", 1991)])
    assert household_share(f, 12) == 0.0


def test_records_without_an_address_or_a_birth_year_are_left_out():
    f = frame([(None, None, None, 1980), ("1", "1 a st", "AB1 2CD", None), ("1", "1 a st", "AB1 2CD", 1960),
               ("1", "1 a st", "AB1 2CD", 1990)])
    assert household_share(f, 12) == 1.0
    assert household_share(frame([]), 12) == 0.0


def test_the_sample_data_shows_households():
    from pipeline.stages import load_records
    from matching.standardise import standardise
    _, _, records = load_records("sample_data/config.yaml")
    assert household_share(standardise(records.reset_index(drop=True)), 12) > 0.3

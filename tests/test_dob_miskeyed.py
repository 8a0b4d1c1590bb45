"""A date of birth keyed as no calendar date (1957-12-32, 31/02/2010): blanked and warned as
before, but its digits are kept for linkage, where one mis-keyed digit is evidence of one
person and a larger difference is no evidence either way (never a veto)."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from matching.compare import Columns, compare_pairs
from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from matching.standardise import standardise
from schemas.validate import keyed_dates, validate_extract
from tests.conftest import housing_row
from tests.test_validate import frame as _frame

AS_OF = dt.date(2026, 9, 30)
SETTINGS = LinkageSettings.defaults()
DOB = next(c for c, comp in enumerate(SETTINGS.comparisons) if comp.name == "dob")


@pytest.mark.parametrize("text, date_format, digits", [
    ("1957-12-32", "auto", 19571232),
    ("31/02/2010", "auto", 20100231),
    ("02/31/2010", "mdy", 20100231),
    ("1910-54-12", "iso", 19105412),
    ("2010-02-28", "auto", None),     # a calendar date: nothing kept beside it
    ("", "auto", None),
    ("not a date", "auto", None),
])
def test_the_digits_of_a_date_that_is_no_calendar_date(text, date_format, digits):
    got = keyed_dates(pd.Series([text], dtype="string"), date_format).iloc[0]
    assert (got is pd.NA and digits is None) or got == digits


def test_validation_blanks_and_warns_as_before_and_keeps_the_digits():
    rows = [housing_row("H1", dob="32/12/1957"), housing_row("H2", dob="03/04/1980"),
            housing_row("H3", dob="01/01/2099"), housing_row("H4", dob="")]
    v = validate_extract(_frame("housing", rows), "housing", AS_OF, source="housing")
    assert len(v.rejected) == 0 and len(v.accepted) == 4
    a = v.accepted
    assert a["dob"].isna().tolist() == [True, False, True, True]
    # only the date that is no calendar date keeps its digits; a real date in the future does not
    assert a["dob_keyed"].tolist()[0] == 19571232
    assert a["dob_keyed"].iloc[1:].isna().all()
    warned = v.warnings[v.warnings["row_number"] == 2]
    assert len(warned) == 1 and warned["column"].iloc[0] == "dob"
    assert "19571232" not in " ".join(v.warnings.astype(str).to_numpy().ravel())


def _person(rid, dob=None, dob_keyed=None, forename="Rukhsana", surname="Okonkwo-Hale"):
    return {"source": "housing", "record_id": rid, "forename": forename, "surname": surname, "dob": dob,
            "dob_keyed": dob_keyed, "address": "5 Mill Lane, Leeds", "postcode": "LS1 4AB", "seen_date": "2025-06-01"}


def test_the_standardised_date_is_the_digits_keyed():
    std = standardise(records_frame([_person("a", dob_keyed=19571232), _person("b", dob="1957-12-31"),
                                     _person("c")]))
    assert std["dob_key"].tolist()[:2] == [19571232, 19571231]
    assert std["dob_key"].isna().tolist() == [False, False, True]
    assert std["dob_miskeyed"].tolist() == [True, False, False]
    assert std["dob_year"].tolist()[:2] == [1957, 1957] and std["dob_day"].tolist()[0] == 32
    assert std["dob_placeholder"].tolist() == [False, False, False]


def _dob_level(a, b) -> str:
    std = standardise(records_frame([a, b]))
    level = compare_pairs(SETTINGS.comparisons, Columns(std), np.array([0]), np.array([1]))[0, DOB]
    return SETTINGS.comparisons[DOB].levels[level].label


@pytest.mark.parametrize("keyed, other, level", [
    (19571232, "1957-12-31", "one_digit_differs"),
    (19105412, "1915-04-12", "one_digit_differs"),     # two neighbouring digits swapped
    (20100231, "2010-02-28", "one_part_differs"),      # the day of a month that has no 31st
    (19571232, "1984-06-15", "mis_keyed_differs"),     # which digits are wrong cannot be told
])
def test_a_mis_keyed_date_compares_by_its_digits(keyed, other, level):
    assert _dob_level(_person("a", dob_keyed=keyed), _person("b", dob=other)) == level


def test_a_mis_keyed_date_that_differs_is_no_evidence_and_never_vetoed():
    comp = SETTINGS.comparisons[DOB]
    lv = next(x for x in comp.levels if x.label == "mis_keyed_differs")
    assert lv.weight_bounds == (0.0, 0.0)
    at = comp.levels.index(lv)
    assert all(at not in levels for c, levels in SETTINGS.vetoes if c == DOB)
    assert "mis_keyed_differs" in SETTINGS.clustering["compatible_dob_levels"]


def test_on_the_sample_a_mis_keyed_date_keeps_its_record_with_its_person():
    """Records of the sample whose date of birth is re-keyed as no calendar date, one digit off
    (a month of 03-09 typed 13-19): each stays in the person it was in."""
    from pathlib import Path
    from pipeline.stages import load_records

    sample = Path(__file__).resolve().parents[1] / "sample_data" / "config.yaml"
    cfg, _, records = load_records(sample)
    before = link_records(records, SETTINGS, cfg.as_of).record_links
    sizes = before["person_id"].map(before["person_id"].value_counts())
    dob = records["dob"]
    chosen = np.flatnonzero((sizes.to_numpy() > 1) & dob.dt.month.between(3, 9).to_numpy())[::7][:25]
    assert len(chosen) >= 15
    damaged = records.copy()
    d = dob.iloc[chosen]
    damaged.loc[damaged.index[chosen], "dob_keyed"] = (d.dt.year * 10000 + (d.dt.month + 10) * 100 + d.dt.day).astype("Int64").to_numpy()
    damaged.loc[damaged.index[chosen], "dob"] = pd.NaT
    after = link_records(damaged, SETTINGS, cfg.as_of).record_links

    def together(links, at):
        person = links["person_id"].to_numpy()
        return set(np.flatnonzero(person == person[at]))
    kept = [together(before, at) == together(after, at) for at in chosen]
    assert all(kept), f"{kept.count(False)} of {len(kept)} records moved"

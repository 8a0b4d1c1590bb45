"""One definition of who is a child (schemas.people): family roles from linkage and the
criteria's children and adults follow it, and the linkage settings cannot contradict it."""
import numpy as np
import pandas as pd
import pytest

from criteria import engine
from matching.families import member_roles
from schemas.config_models import KeyedError
from matching.settings import DEFAULTS_PATH, LinkageSettings
from schemas.people import ADULT_AGE, is_child
from schemas.yaml_loading import load_yaml_file


def test_a_child_is_under_the_adult_age():
    assert ADULT_AGE == 18
    assert is_child(17) and not is_child(18)
    ages = pd.Series([0, 17, 18, 40, None], dtype="Int64")
    assert is_child(ages).tolist() == [True, True, False, False, pd.NA]


def test_member_roles_follow_the_one_definition():
    age = pd.Series([ADULT_AGE - 1, ADULT_AGE, None, None], dtype="Int64")
    only_schools = np.array([False, True, True, False])
    assert member_roles(age, only_schools).tolist() == ["child", "adult", "child", "adult"]


def test_criteria_children_and_adults_follow_the_same_definition():
    members = pd.DataFrame({"person_id": ["P1", "P2", "P3"], "family_id": "F1",
                            "age": [ADULT_AGE - 1, ADULT_AGE, None], "role": ["adult", "child", "child"]})
    persons = engine._persons(members, pd.Timestamp("2026-09-30").date())
    # the age decides where it is known, the role where it is not
    assert persons["child"].tolist() == [True, False, True]
    assert persons["adult"].tolist() == [False, True, False]
    roles = member_roles(pd.Series(members["age"], dtype="Int64"), np.array([False, False, True]))
    assert (roles == "child").tolist() == persons["child"].tolist()


def test_child_age_is_no_linkage_setting():
    assert "child_age" not in load_yaml_file(DEFAULTS_PATH, "the linkage defaults").data["families"]
    # a config that still says 18 runs as before
    LinkageSettings.from_dict({"families": {"child_age": ADULT_AGE}})
    for bad in (16, "eighteen"):
        with pytest.raises(KeyedError) as e:
            LinkageSettings.from_dict({"families": {"child_age": bad}})
        assert e.value.key == "linkage.families.child_age"


def test_a_config_is_not_changed_by_checking_it():
    given = {"families": {"child_age": ADULT_AGE, "child_sources": ["schools"]}}
    LinkageSettings.from_dict(given)
    assert given == {"families": {"child_age": ADULT_AGE, "child_sources": ["schools"]}}

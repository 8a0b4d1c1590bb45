"""The registry of comparison-level tests (matching.levels): each kind checks its arguments,
names the columns it reads, evaluates on arrays of pairs and reads as words; a new kind works
end to end once registered."""
import numpy as np
import pandas as pd
import pytest

from matching import levels
from matching.compare import Columns, compare_pairs, run_test
from matching.setting_checks import STANDARD_COLUMNS, SettingError, column
from schemas.config_models import KeyedError
from matching.settings import LinkageSettings

YAML_SPELLINGS = {"missing", "equal", "swapped", "overlap", "jaro_winkler", "initial", "flag_both", "flag_any",
                  "date_swapped", "parts_equal", "edit_distance", "overlap_across", "crossed", "swapped_similar", "all", "any",
                  "one_side_in", "sources_differ"}


def _default_tests():
    for comp in LinkageSettings.defaults().comparisons:
        for lv in comp.levels[:-1]:
            yield comp.name, lv.label, lv.test


def test_every_kind_in_the_settings_language_is_registered_once():
    assert set(levels.KINDS) == YAML_SPELLINGS
    for name, kind in levels.KINDS.items():
        assert kind.name == name and isinstance(kind, levels.LevelTest)


def test_every_default_level_reads_standard_columns_and_has_a_label():
    for comp, label, test in _default_tests():
        cols = levels.columns(test)
        # source is carried through standardisation (sources_differ reads it)
        assert cols and set(cols) <= STANDARD_COLUMNS | {"source"}, (comp, label)
        assert isinstance(levels.label(test), str) and levels.label(test), (comp, label)


@pytest.mark.parametrize("test, words", [
    ({"jaro_winkler": "fore1", "threshold": 0.92}, "fore1 Jaro-Winkler similarity at least 0.92"),
    ({"edit_distance": "dob_key", "max": 1}, "dob_key within 1 edit"),
    ({"parts_equal": ["dob_year", "dob_month", "dob_day"], "at_least": 2}, "at least 2 of dob_year, dob_month, dob_day equal"),
    ({"date_swapped": ["dob_year", "dob_month", "dob_day"]}, "dob_day and dob_month swapped, dob_year equal"),
    ({"all": [{"equal": "fore1"}, {"flag_both": "sur_shared"}]}, "fore1 equal and sur_shared on both records"),
    ({"missing": ["fore1", "sur_whole"]}, "fore1 or sur_whole missing on either record"),
    ({"any": [{"equal": "fore1"}, {"equal": "sur_whole"}]}, "(fore1 equal or sur_whole equal)"),
    ({"one_side_in": "fore1", "values": ["bob", "anna"]}, "fore1: one record's is one of anna, bob, the other's not"),
])
def test_labels_say_the_test_in_words(test, words):
    assert levels.label(levels.check_test(test, "t")) == words


@pytest.mark.parametrize("test, checked", [
    ({"jaro_winkler": "fore1", "threshold": 1}, {"jaro_winkler": "fore1", "threshold": 1.0}),
    ({"edit_distance": "fore1"}, {"edit_distance": "fore1", "max": 1}),
    ({"parts_equal": ["dob_year", "dob_month", "dob_day"]}, {"parts_equal": ["dob_year", "dob_month", "dob_day"], "at_least": 2}),
    ({"missing": "fore1"}, {"missing": ["fore1"]}),
    # an option of another kind is tolerated and dropped, as configs have always been checked
    ({"equal": "fore1", "threshold": 0.5}, {"equal": "fore1"}),
    ({"all": [{"equal": "fore1"}, {"initial": "fore1"}]}, {"all": [{"equal": "fore1"}, {"initial": "fore1"}]}),
])
def test_check_fills_defaults_and_normalises(test, checked):
    assert levels.check_test(test, "t") == checked


@pytest.mark.parametrize("test, key, reason", [
    ("equal", "t", "must be a mapping"),
    ({}, "t", "must be a mapping"),
    ({"sounds_like": "fore1"}, "t", "needs exactly one of"),
    ({"equal": "fore1", "missing": "fore1"}, "t", "needs exactly one of"),
    ({"equal": "fore1", "colour": 1}, "t.colour", "unknown key"),
    ({"equal": "shoe_size"}, "t.equal", "unknown standardised column"),
    ({"overlap": "fore1"}, "t.overlap", "token column"),
    ({"flag_any": "fore1"}, "t.flag_any", "flag column"),
    ({"jaro_winkler": "fore1"}, "t.threshold", "needs a threshold"),
    ({"jaro_winkler": "fore1", "threshold": 2}, "t.threshold", "between"),
    ({"edit_distance": "fore1", "max": 9}, "t.max", "between"),
    ({"swapped": ["fore1"]}, "t.swapped", "two columns"),
    ({"overlap_across": ["fore1", "sur_whole"]}, "t.overlap_across", "token columns"),
    ({"swapped_similar": ["fore1", "sur_whole"]}, "t.threshold", "needs a threshold"),
    ({"date_swapped": ["dob_year", "dob_month"]}, "t.date_swapped", "three columns"),
    ({"parts_equal": ["dob_year", "dob_month", "dob_day"], "at_least": 0}, "t.at_least", "between"),
    ({"all": []}, "t.all", "list of tests"),
    ({"one_side_in": "fore1"}, "t.values", "list of values"),
    ({"one_side_in": "fore1", "values": ["anna", ""]}, "t.values", "list of values"),
    ({"sources_differ": "yes"}, "t.sources_differ", "must be true"),
    ({"all": [{"equal": "fore1"}, {"equal": "nope"}]}, "t.all[1].equal", "unknown standardised column"),
])
def test_check_names_the_key(test, key, reason):
    with pytest.raises(SettingError) as e:
        levels.check_test(test, "t")
    assert e.value.key == key and reason in e.value.reason


def _frame():
    # synthetic values
    return pd.DataFrame({
        "fore1": ["anna", "anne", "a", None, "bob", "anna"],
        "sur_whole": ["smith", "smyth", "smith", "smith", "anna", "bob"],
        "dob_year": [1990, 1990, 1990, None, 1990, 1990],
        "dob_month": [3, 4, 3, None, 3, 3],
        "dob_day": [4, 3, 4, None, 4, 4],
        "sur_shared": pd.array([True, True, False, None, False, False], dtype="boolean"),
        "source": ["police", "police", "dv", "dv", "police", "dv"],
    })


def test_each_kind_evaluates_on_arrays_of_pairs():
    cols = Columns(_frame())
    l, r = np.array([0, 0, 0, 0, 4]), np.array([1, 2, 3, 5, 5])

    def holds(test):
        return run_test(levels.check_test(test, "t"), cols, l, r).tolist()
    assert holds({"equal": "fore1"}) == [False, False, False, True, False]
    assert holds({"missing": "fore1"}) == [False, False, True, False, False]
    assert holds({"initial": "fore1"}) == [False, True, False, False, False]
    assert holds({"jaro_winkler": "fore1", "threshold": 0.85}) == [True, False, False, True, False]
    assert holds({"edit_distance": "sur_whole", "max": 1}) == [True, True, True, False, False]
    assert holds({"swapped": ["fore1", "sur_whole"]}) == [False, False, False, False, True]
    assert holds({"date_swapped": ["dob_year", "dob_month", "dob_day"]}) == [True, False, False, False, False]
    assert holds({"parts_equal": ["dob_year", "dob_month", "dob_day"], "at_least": 3}) == [False, True, False, True, True]
    assert holds({"flag_both": "sur_shared"}) == [True, False, False, False, False]
    assert holds({"flag_any": "sur_shared"}) == [True, True, True, True, False]
    # exactly one side among the values, both present
    assert holds({"one_side_in": "fore1", "values": ["anna"]}) == [True, True, False, False, True]
    assert holds({"sources_differ": True}) == [False, True, True, True, True]
    assert holds({"all": [{"equal": "sur_whole"}, {"initial": "fore1"}]}) == [False, True, False, False, False]
    assert holds({"any": [{"equal": "fore1"}, {"initial": "fore1"}]}) == [False, True, False, True, False]
    assert holds({"any": [{"flag_both": "sur_shared"}, {"swapped": ["fore1", "sur_whole"]}]}) == [True, False, False, False, True]


class SameLength(levels.LevelTest):
    """A toy kind, registered only inside the test below: both values have the same length."""
    name = "same_length"

    def check(self, test, where):
        return {self.name: column(test[self.name], f"{where}.{self.name}")}

    def evaluate(self, test, cols, l, r):
        codes, values = cols.codes(test[self.name])
        length = np.array([len(v) for v in values] + [-1])
        cl, cr = codes[l], codes[r]
        return (cl >= 0) & (cr >= 0) & (length[cl] == length[cr])

    def label(self, test):
        return f"{test[self.name]} of the same length"


def test_a_new_kind_touches_one_place(monkeypatch):
    monkeypatch.setattr(levels, "KINDS", dict(levels.KINDS))      # the registration ends with the test
    levels.register(SameLength)
    toy = {"name": "toy", "levels": [
        {"label": "missing", "test": {"missing": "fore1"}, "is_null_level": True},
        {"label": "exact", "test": {"equal": "fore1"}},
        {"label": "same_length", "test": {"same_length": "fore1"}},
        {"label": "else"}]}
    comparisons = LinkageSettings.defaults().raw["comparisons"] + [toy]
    settings = LinkageSettings.from_dict({"comparisons": comparisons})
    comp = settings.comparisons[-1]
    assert comp.levels[2].test == {"same_length": "fore1"}
    assert levels.label(comp.levels[2].test) == "fore1 of the same length"

    std = pd.DataFrame({"fore1": ["anna", "anne", "bob", None, "anna", "anne"]})
    # repeated value pairs, so that compare works once per distinct pair of the columns it reads
    l = np.array([0, 0, 0, 1, 4, 4, 2, 0, 0])
    r = np.array([1, 2, 3, 4, 5, 1, 3, 4, 5])
    got = compare_pairs([comp], Columns(std), l, r)[:, 0].tolist()
    assert got == [2, 3, 0, 2, 2, 2, 0, 1, 2]

    with pytest.raises(KeyedError) as e:
        LinkageSettings.from_dict({"comparisons": comparisons[:-1] + [
            {"name": "toy", "levels": [{"label": "x", "test": {"same_length": "shoe_size"}}, {"label": "else"}]}]})
    assert e.value.key.endswith("levels[0].test.same_length")


def test_an_unknown_kind_lists_the_registered_ones():
    with pytest.raises(SettingError, match="needs exactly one of") as e:
        levels.check_test({"same_length": "fore1"}, "t")
    assert "'jaro_winkler'" in e.value.reason and "same_length" not in e.value.reason


def test_the_level_code_is_in_the_fingerprint_of_stored_levels():
    # An incremental run reuses stored levels only while this code is unchanged.
    from matching import incremental
    assert {"compare.py", "levels.py", "setting_checks.py", "settings.py"} <= set(incremental._LEVEL_SOURCES)

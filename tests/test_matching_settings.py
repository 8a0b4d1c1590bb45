"""Linkage settings: defaults, merging a run config's linkage section, validation errors."""
import pytest

from matching.settings import LinkageSettings
from schemas.errors import ConfigError


def test_defaults_load_and_thresholds_convert_to_weights():
    s = LinkageSettings.defaults()
    assert s.match_weight > s.review_weight
    assert {c.name for c in s.comparisons} >= {"forename", "surname", "dob", "sex", "address", "nhs_number"}
    assert [p.name for p in s.passes][:3] == ["nhs_number", "ni_number", "upn"]


def test_override_merges_over_defaults():
    s = LinkageSettings.from_dict({"thresholds": {"match_probability": 0.999}, "blocking": {"max_block_size": 50}})
    assert s.max_block_size == 50 and s.thresholds["match_probability"] == 0.999
    assert s.thresholds["review_probability"] == 0.80
    w = LinkageSettings.from_dict({"thresholds": {"match_weight": 12, "review_weight": 4}})
    assert w.match_weight == 12 and w.review_weight == 4


@pytest.mark.parametrize("bad, key", [
    ({"thresholds": {"match_probability": 1.5}}, "linkage.thresholds.match_probability"),
    ({"thresholds": {"match_probability": 0.5, "review_probability": 0.9}}, "linkage.thresholds"),
    ({"blocking": {"max_block_size": "many"}}, "linkage.blocking.max_block_size"),
    ({"blocking": {"passes": [{"name": "x", "keys": ["shoe_size"]}]}}, "linkage.blocking.passes[0].keys"),
    ({"blocking": {"passes": [{"name": "x", "keys": ["dob_key"], "sorted_neighbourhood": {}}]}}, "linkage.blocking.passes[0]"),
    ({"comparisons": [{"name": "f", "levels": [{"label": "a", "test": {"equal": "fore1"}},
                                               {"label": "else", "test": {"equal": "fore1"}}]}]}, "levels[1].test"),
    ({"comparisons": [{"name": "f", "levels": [{"label": "a", "test": {"jaro_winkler": "fore1"}}, {"label": "e"}]}]}, "threshold"),
    ({"comparisons": [{"name": "f", "levels": [{"label": "a", "test": {"sounds_like": "fore1"}}, {"label": "e"}]}]}, "levels[0].test"),
    ({"vetoes": [{"comparison": "nope", "levels": ["else"]}]}, "linkage.vetoes[0].comparison"),
    ({"vetoes": [{"comparison": "dob", "levels": ["nope"]}]}, "linkage.vetoes[0].levels"),
    ({"colour": "blue"}, "linkage.colour"),
    ({"estimation": {"fixed_m": ["nope"]}}, "linkage.estimation.fixed_m"),
    ({"families": {"household_hints": ["shoe_size"]}}, "linkage.families.household_hints"),
])
def test_bad_settings_raise_config_error_naming_the_key(bad, key):
    with pytest.raises(ConfigError) as e:
        LinkageSettings.from_dict(bad)
    assert key in str(e.value.message)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="linkage"):
        LinkageSettings.from_dict(["a"])

"""Linkage settings: the defaults in matching/defaults.yaml with a run config's `linkage:`
section merged over them, checked by the models below (one a section of defaults.yaml, a new key
is a new field) and made into plain dataclasses the other modules read."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

from pydantic import BeforeValidator, Field, model_validator

from schemas.config_models import (Choice, ConfigModel, Flag, KeyedError, Number, Text, Whole, check, invalid,
                                   located, wrong)
from schemas.people import ADULT_AGE
from schemas.yaml_loading import is_finite_number, load_yaml_file

from .levels import check_test
from .setting_checks import TOKEN_COLUMNS, column

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


@dataclass(frozen=True)
class BlockingPass:
    name: str
    keys: tuple[str, ...] = ()
    sorted_on: str | None = None      # sorted-neighbourhood pass on this column
    window: int = 0


@dataclass(frozen=True)
class Level:
    label: str
    test: dict | None                 # as matching.levels.check_test makes it; None for `else`
    is_null: bool = False
    m: float | None = None
    tf_adjust: str | None = None
    weight_bounds: tuple[float | None, float | None] = (None, None)
    # Another level of the comparison whose weight this one never exceeds (a partial agreement
    # weighs at most what the exact one does, even when it is too rare for EM to learn).
    weight_at_most: int | None = None


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]
    conflict_stops_merge: bool = False

    def level_index(self, label: str) -> int:
        for i, lv in enumerate(self.levels):
            if lv.label == label:
                return i
        raise KeyError(label)


@dataclass
class LinkageSettings:
    max_block_size: int
    passes: list[BlockingPass]
    comparisons: list[Comparison]
    estimation: dict[str, Any]
    term_frequency: dict[str, Any]
    thresholds: dict[str, Any]
    clustering: dict[str, Any]
    families: dict[str, Any]
    vetoes: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    strong_agreement: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    household_guards: dict[str, Any] = field(default_factory=lambda: {"min_household_share": 0.0,
                                                                      "min_age_gap_years": 12})
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def defaults(cls) -> "LinkageSettings":
        return cls.from_dict({})

    @classmethod
    def from_dict(cls, d: dict | None) -> "LinkageSettings":
        """Merge `d` (a run config's `linkage:` section) over the defaults and check it. A
        mistake is a KeyedError naming its key (linkage.thresholds.match_probability)."""
        if d is None:
            d = {}
        if not isinstance(d, dict):
            raise located(("linkage",), "must be a mapping of settings")
        merged = _merge(load_yaml_file(DEFAULTS_PATH, "the linkage defaults").data, d)
        return _settings(check(_LinkageFile, merged, prefix=("linkage",)), merged)

    # Thresholds as weights (log2 odds), whichever way they were given.
    @property
    def match_weight(self) -> float:
        t = self.thresholds
        return t["match_weight"] if t.get("match_weight") is not None else _prob_to_weight(t["match_probability"])

    @property
    def review_weight(self) -> float:
        t = self.thresholds
        return t["review_weight"] if t.get("review_weight") is not None else _prob_to_weight(t["review_probability"])


def _prob_to_weight(p: float) -> float:
    return math.log2(p / (1.0 - p))


def _merge(base: Any, over: Any) -> Any:
    """`over` merged into `base`, mapping by mapping; anything else in `over` replaces. Keys
    `base` does not have are kept, for the models to refuse or (address_lag_days) take."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
    return out


# ---------------------------------------------------------------------------------------------
# The models: one a section of defaults.yaml

def _level_check(fn: Callable[[Any, str], Any]) -> Any:
    """A check of matching.levels' sort (it raises SettingError naming a key below the value)
    as a value type of the models."""
    def adapted(value: Any) -> Any:
        try:
            return fn(value, "")
        except KeyedError as exc:
            raise invalid(exc.reason, exc.trail) from None
    return Annotated[Any, BeforeValidator(adapted)]


StandardColumn = _level_check(column)
LevelTest = _level_check(check_test)
_Probability = Number(0, 1, as_given=True)


def _pair(value: Any) -> tuple:
    """[low, high], null for none."""
    if not isinstance(value, list) or len(value) != 2:
        raise wrong(value, "[low, high] (null for none)")
    for i, x in enumerate(value):
        if x is not None and not is_finite_number(x):
            raise wrong(x, "a number or null", within=(i,))
    return tuple(None if x is None else float(x) for x in value)


def _bounds(value: Any) -> list:
    """[low, high]."""
    if not isinstance(value, list) or len(value) != 2:
        raise wrong(value, "[low, high]")
    for i, x in enumerate(value):
        if not is_finite_number(x):
            raise wrong(x, "a number", within=(i,))
    return [int(x) if isinstance(x, int) else float(x) for x in value]


def _listed(item: Any, at_least: int = 1) -> Any:
    return Annotated[list[item], Field(min_length=at_least)]


class _Section(ConfigModel):
    takes = "the settings here are"
    blank_is_error = False         # a null is a value here (no match_weight, no vetoes)


class _SortedNeighbourhood(_Section):
    column: StandardColumn
    window: Whole(2, 50)


class _Pass(_Section):
    name: Text
    keys: Optional[_listed(StandardColumn)] = None
    sorted_neighbourhood: Optional[_SortedNeighbourhood] = None

    @model_validator(mode="after")
    def _one_way(self) -> "_Pass":
        if (self.keys is None) == (self.sorted_neighbourhood is None):
            raise invalid("give either keys or sorted_neighbourhood")
        if self.keys and set(self.keys) & TOKEN_COLUMNS:
            raise invalid("token columns cannot be blocking keys", ("keys",))
        return self


class _Blocking(_Section):
    max_block_size: Whole(2)
    passes: _listed(_Pass)

    @model_validator(mode="after")
    def _unique_names(self) -> "_Blocking":
        _unique([p.name for p in self.passes], "passes", "blocking pass names must be unique")
        return self


class _Level(_Section):
    label: Text
    test: Optional[LevelTest] = None
    is_null_level: Flag = False
    m: Optional[Number(0, 1)] = None
    tf_adjust: Optional[StandardColumn] = None
    weight_bounds: Annotated[tuple, BeforeValidator(_pair)] = (None, None)
    weight_at_most: Optional[Text] = None


class _Comparison(_Section):
    name: Text
    levels: _listed(_Level, 2)
    conflict_stops_merge: Flag = False

    @model_validator(mode="after")
    def _else_last(self) -> "_Comparison":
        _unique([lv.label for lv in self.levels], "levels", "level labels must be unique in a comparison", "label")
        for j, lv in enumerate(self.levels):
            given = "test" in lv.model_fields_set
            if j == len(self.levels) - 1 and given:
                raise invalid("the last level is `else` and takes no test", ("levels", j, "test"))
            if j < len(self.levels) - 1 and not given:
                raise invalid("every level but the last needs a test", ("levels", j, "test"))
        labels = [lv.label for lv in self.levels]
        for j, lv in enumerate(self.levels):
            if lv.weight_at_most is not None and (lv.weight_at_most not in labels or lv.weight_at_most == lv.label
                                                  or self.levels[labels.index(lv.weight_at_most)].is_null_level):
                raise invalid("must name another, non-null level of this comparison "
                              f"({', '.join(x for x in labels if x != lv.label)})", ("levels", j, "weight_at_most"))
        return self


class _Estimation(_Section):
    # Whole numbers kept as ints (4.0e5 pairs is 400000): the model sizes arrays with them.
    u_sample_pairs: Whole(1000)
    seed: Whole(0)
    em_max_iterations: Whole(0, 10000)
    em_tolerance: _Probability
    fixed_m: list[Text]
    initial_match_share: Number(1e-6, 0.999, as_given=True)
    probability_floor: Number(1e-12, 0.01, as_given=True)
    m_floor: Number(1e-12, 0.1, as_given=True)


class _TermFrequency(_Section):
    enabled: Flag
    strength: _Probability
    bounds: Annotated[list, BeforeValidator(_bounds)]


class _Thresholds(_Section):
    match_probability: Number(0, 1, above=True, as_given=True)
    review_probability: Number(0, 1, above=True, as_given=True)
    match_weight: Optional[Number(as_given=True)] = None
    review_weight: Optional[Number(as_given=True)] = None
    review_vetoed: Flag


class _LevelRule(_Section):
    """{comparison: NAME, levels: [LABEL, ...]}"""
    comparison: Text
    levels: _listed(Text)


class _HouseholdGuards(_Section):
    min_household_share: _Probability
    min_age_gap_years: Whole(1, 120)


class _Clustering(_Section):
    unique_identifiers: list[Choice("nhs_number", "ni_number", "upn")]
    compatible_dob_levels: list[Text]
    single_record_sources: list[Text]


class _FollowHousehold(_Section):
    enabled: Flag
    together_days: Whole(0, 3650)
    name_in_common: Flag
    min_movers_for_an_adult: Whole(1, 100)
    adult_counts_children: Flag
    adults_stay_after: list[Text]
    stale_old_address: Flag
    max_residents: Whole(2, 1000)


class _JoinByPostcode(_Section):
    enabled: Flag
    max_chance: Number(0, 1)


class _JoinByEvent(_Section):
    sources: list[Text]
    adults: Flag


class _Families(_Section):
    household_hints: list[Choice("tenancy_ref", "claim_ref")]
    # Who is a child is not a linkage setting: the criteria count children by the same rule
    # (schemas.people). A config that still says 18 is accepted; any other age would make
    # roles and criteria disagree.
    child_age: Optional[Whole()] = None
    child_sources: list[Text]
    # Keyed by the run's own source names: a config may add its own.
    address_lag_days: dict[str, Whole(0, 3650)]
    follow_household: _FollowHousehold
    join_by_postcode_and_surname: _JoinByPostcode
    join_by_event: _JoinByEvent

    @model_validator(mode="after")
    def _rules(self) -> "_Families":
        if self.child_age is not None and self.child_age != ADULT_AGE:
            raise invalid(f"must be {ADULT_AGE} (a child is under {ADULT_AGE} for family roles and criteria alike); "
                          "leave it out", ("child_age",))
        if "default" not in self.address_lag_days:
            raise invalid("must map source names to days, with a default", ("address_lag_days",))
        return self


class _LinkageFile(_Section):
    blocking: _Blocking
    comparisons: _listed(_Comparison)
    estimation: _Estimation
    term_frequency: _TermFrequency
    thresholds: _Thresholds
    vetoes: Optional[list[_LevelRule]] = None
    household_guards: _HouseholdGuards
    strong_agreement: Optional[list[_LevelRule]] = None
    clustering: _Clustering
    families: _Families

    @model_validator(mode="after")
    def _references(self) -> "_LinkageFile":
        _unique([c.name for c in self.comparisons], "comparisons", "comparison names must be unique")
        comparisons = {c.name: c for c in self.comparisons}
        if not set(self.estimation.fixed_m) <= set(comparisons):
            raise invalid("must list comparison names", ("estimation", "fixed_m"))
        for key in ("vetoes", "strong_agreement"):
            for i, rule in enumerate(getattr(self, key) or ()):
                if rule.comparison not in comparisons:
                    raise invalid("must name a comparison", (key, i, "comparison"))
                labels = {lv.label for lv in comparisons[rule.comparison].levels}
                if not set(rule.levels) <= labels:
                    raise invalid(f"no level of that label in comparison {rule.comparison}", (key, i, "levels"))
        return self


def _unique(names: list[str], key: str, reason: str, field_name: str = "name") -> None:
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            raise invalid(reason, (key, i, field_name))
        seen.add(name)


def _settings(f: _LinkageFile, merged: dict) -> LinkageSettings:
    passes = [BlockingPass(p.name, keys=tuple(p.keys)) if p.keys is not None else
              BlockingPass(p.name, sorted_on=p.sorted_neighbourhood.column, window=p.sorted_neighbourhood.window)
              for p in f.blocking.passes]
    comps = [Comparison(c.name, tuple(Level(lv.label, lv.test, lv.is_null_level, lv.m, lv.tf_adjust, lv.weight_bounds,
                                            None if lv.weight_at_most is None
                                            else [x.label for x in c.levels].index(lv.weight_at_most))
                                      for lv in c.levels), c.conflict_stops_merge) for c in f.comparisons]
    index = {c.name: i for i, c in enumerate(comps)}

    def rules(items: list[_LevelRule] | None) -> list[tuple[int, frozenset[int]]]:
        return [(index[r.comparison], frozenset(comps[index[r.comparison]].level_index(lab) for lab in r.levels))
                for r in items or ()]

    s = LinkageSettings(f.blocking.max_block_size, passes, comps, f.estimation.model_dump(),
                        f.term_frequency.model_dump(), f.thresholds.model_dump(), f.clustering.model_dump(),
                        f.families.model_dump(exclude={"child_age"}), rules(f.vetoes), rules(f.strong_agreement),
                        f.household_guards.model_dump(), raw=merged)
    if s.review_weight > s.match_weight:
        raise located(("linkage", "thresholds"), "the review threshold must not be above the match threshold")
    return s

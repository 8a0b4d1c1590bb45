"""Linkage settings: the defaults in matching/defaults.yaml with a run config's `linkage:`
section merged over them, validated into plain dataclasses the other modules read."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.people import ADULT_AGE
from schemas.yaml_loading import load_yaml_file

from .levels import check_test
# SettingError lives below the level tests, which raise it too; the run config imports it from here.
from .setting_checks import TOKEN_COLUMNS, SettingError, column, number

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
        """Merge `d` (a run config's `linkage:` section) over the defaults and validate."""
        if d is None:
            d = {}
        if not isinstance(d, dict):
            raise SettingError("linkage", "must be a mapping of settings")
        base = load_yaml_file(DEFAULTS_PATH, "the linkage defaults").data
        merged = _merge(base, _without_child_age(d), "linkage")
        return _build(merged)

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


def _without_child_age(d: dict) -> dict:
    """`d` without families.child_age. Who is a child is not a linkage setting: the criteria
    count children by the same rule (schemas.people), so the age is fixed there. A config that
    still says 18 is accepted; any other age would make roles and criteria disagree."""
    fam = d.get("families")
    if not isinstance(fam, dict) or "child_age" not in fam:
        return d
    key = "linkage.families.child_age"
    if number(fam["child_age"], key, integer=True) != ADULT_AGE:
        raise SettingError(key, f"must be {ADULT_AGE} (a child is under {ADULT_AGE} for family roles and criteria "
                                "alike); leave it out")
    return {**d, "families": {k: v for k, v in fam.items() if k != "child_age"}}


# Mappings keyed by the run's own names (source names): a config may add keys to them.
_OPEN_MAPPINGS = {"linkage.families.address_lag_days"}


def _merge(base: Any, over: Any, path: str) -> Any:
    if isinstance(base, dict):
        if not isinstance(over, dict):
            raise SettingError(path, "must be a mapping")
        out = copy.deepcopy(base)
        for k, v in over.items():
            if k not in base and path in _OPEN_MAPPINGS:
                out[k] = copy.deepcopy(v)
                continue
            if k not in base:
                raise SettingError(f"{path}.{k}", "unknown linkage setting")
            out[k] = _merge(base[k], v, f"{path}.{k}") if isinstance(base[k], dict) else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _names(v: Any, key: str, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise SettingError(key, f"must be a list of {what}")
    return v


def _flag(v: Any, key: str) -> bool:
    if not isinstance(v, bool):
        raise SettingError(key, "must be true or false")
    return v


def _level_rules(items: Any, comps: list[Comparison], key: str) -> list[tuple[int, frozenset[int]]]:
    """[{comparison: name, levels: [label, ...]}, ...] -> [(comparison index, level indices)]."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise SettingError(key, "must be a list of {comparison: NAME, levels: [LABEL, ...]}")
    by_name = {c.name: i for i, c in enumerate(comps)}
    out = []
    for i, it in enumerate(items):
        k = f"{key}[{i}]"
        if not isinstance(it, dict) or not isinstance(it.get("comparison"), str) or it["comparison"] not in by_name:
            raise SettingError(f"{k}.comparison", "must name a comparison")
        comp = comps[by_name[it["comparison"]]]
        labels = it.get("levels")
        if not isinstance(labels, list) or not labels:
            raise SettingError(f"{k}.levels", "must list level labels")
        idx = set()
        for lab in labels:
            try:
                idx.add(comp.level_index(lab))
            except KeyError:
                raise SettingError(f"{k}.levels", f"no level of that label in comparison {comp.name}") from None
        out.append((by_name[it["comparison"]], frozenset(idx)))
    return out


def _build(d: dict) -> LinkageSettings:
    b = d["blocking"]
    max_block = number(b.get("max_block_size"), "linkage.blocking.max_block_size", 2, None, integer=True)
    passes: list[BlockingPass] = []
    if not isinstance(b.get("passes"), list) or not b["passes"]:
        raise SettingError("linkage.blocking.passes", "must be a non-empty list")
    names = set()
    for i, p in enumerate(b["passes"]):
        key = f"linkage.blocking.passes[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise SettingError(f"{key}.name", "every blocking pass needs a name")
        if p["name"] in names:
            raise SettingError(f"{key}.name", "blocking pass names must be unique")
        names.add(p["name"])
        extra = set(p) - {"name", "keys", "sorted_neighbourhood"}
        if extra:
            raise SettingError(f"{key}.{sorted(map(str, extra))[0]}", "unknown key in blocking pass")
        if ("keys" in p) == ("sorted_neighbourhood" in p):
            raise SettingError(key, "give either keys or sorted_neighbourhood")
        if "keys" in p:
            if not isinstance(p["keys"], list) or not p["keys"]:
                raise SettingError(f"{key}.keys", "must be a non-empty list of columns")
            keys = tuple(column(c, f"{key}.keys") for c in p["keys"])
            if set(keys) & TOKEN_COLUMNS:
                raise SettingError(f"{key}.keys", "token columns cannot be blocking keys")
            passes.append(BlockingPass(p["name"], keys=keys))
        else:
            sn = p["sorted_neighbourhood"]
            if not isinstance(sn, dict):
                raise SettingError(f"{key}.sorted_neighbourhood", "must be {column: NAME, window: N}")
            passes.append(BlockingPass(p["name"], sorted_on=column(sn.get("column"), f"{key}.sorted_neighbourhood.column"),
                                       window=number(sn.get("window"), f"{key}.sorted_neighbourhood.window", 2, 50, integer=True)))

    comps: list[Comparison] = []
    if not isinstance(d.get("comparisons"), list) or not d["comparisons"]:
        raise SettingError("linkage.comparisons", "must be a non-empty list")
    cnames = set()
    for i, c in enumerate(d["comparisons"]):
        key = f"linkage.comparisons[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise SettingError(f"{key}.name", "every comparison needs a name")
        if c["name"] in cnames:
            raise SettingError(f"{key}.name", "comparison names must be unique")
        cnames.add(c["name"])
        extra = set(c) - {"name", "levels", "conflict_stops_merge"}
        if extra:
            raise SettingError(f"{key}.{sorted(map(str, extra))[0]}", "unknown key in comparison")
        lvs = c.get("levels")
        if not isinstance(lvs, list) or len(lvs) < 2:
            raise SettingError(f"{key}.levels", "needs at least two levels")
        levels = []
        labels = set()
        for j, lv in enumerate(lvs):
            lk = f"{key}.levels[{j}]"
            if not isinstance(lv, dict) or not isinstance(lv.get("label"), str):
                raise SettingError(f"{lk}.label", "every level needs a label")
            if lv["label"] in labels:
                raise SettingError(f"{lk}.label", "level labels must be unique in a comparison")
            labels.add(lv["label"])
            extra = set(lv) - {"label", "test", "is_null_level", "m", "tf_adjust", "weight_bounds"}
            if extra:
                raise SettingError(f"{lk}.{sorted(map(str, extra))[0]}", "unknown key in level")
            last = j == len(lvs) - 1
            if last and "test" in lv:
                raise SettingError(f"{lk}.test", "the last level is `else` and takes no test")
            if not last and "test" not in lv:
                raise SettingError(f"{lk}.test", "every level but the last needs a test")
            test = check_test(lv["test"], f"{lk}.test") if not last else None
            is_null = _flag(lv.get("is_null_level", False), f"{lk}.is_null_level")
            m = lv.get("m")
            if m is not None:
                m = number(m, f"{lk}.m", 0.0, 1.0)
            tf = lv.get("tf_adjust")
            if tf is not None:
                tf = column(tf, f"{lk}.tf_adjust")
            wb = lv.get("weight_bounds", [None, None])
            if not isinstance(wb, list) or len(wb) != 2:
                raise SettingError(f"{lk}.weight_bounds", "must be [low, high] (null for none)")
            wb = tuple(None if x is None else number(x, f"{lk}.weight_bounds") for x in wb)
            levels.append(Level(lv["label"], test, is_null, m, tf, wb))
        comps.append(Comparison(c["name"], tuple(levels),
                                _flag(c.get("conflict_stops_merge", False), f"{key}.conflict_stops_merge")))

    est = d["estimation"]
    # Whole numbers kept as ints (4.0e5 pairs is 400000): the model sizes arrays with them.
    est["u_sample_pairs"] = number(est["u_sample_pairs"], "linkage.estimation.u_sample_pairs", 1000, None, integer=True)
    est["seed"] = number(est["seed"], "linkage.estimation.seed", 0, None, integer=True)
    est["em_max_iterations"] = number(est["em_max_iterations"], "linkage.estimation.em_max_iterations", 0, 10000,
                                    integer=True)
    number(est["em_tolerance"], "linkage.estimation.em_tolerance", 0.0, 1.0)
    number(est["initial_match_share"], "linkage.estimation.initial_match_share", 1e-6, 0.999)
    number(est["probability_floor"], "linkage.estimation.probability_floor", 1e-12, 0.01)
    number(est["m_floor"], "linkage.estimation.m_floor", 1e-12, 0.1)
    if not set(_names(est["fixed_m"], "linkage.estimation.fixed_m", "comparison names")) <= cnames:
        raise SettingError("linkage.estimation.fixed_m", "must list comparison names")

    tf = d["term_frequency"]
    if not isinstance(tf["enabled"], bool):
        raise SettingError("linkage.term_frequency.enabled", "must be true or false")
    number(tf["strength"], "linkage.term_frequency.strength", 0.0, 1.0)
    if not isinstance(tf["bounds"], list) or len(tf["bounds"]) != 2:
        raise SettingError("linkage.term_frequency.bounds", "must be [low, high]")
    for x in tf["bounds"]:
        number(x, "linkage.term_frequency.bounds")

    th = d["thresholds"]
    for k in ("match_probability", "review_probability"):
        number(th[k], f"linkage.thresholds.{k}", 0.0, 1.0)
        if not 0.0 < th[k] < 1.0:
            raise SettingError(f"linkage.thresholds.{k}", "must be strictly between 0 and 1")
    if not isinstance(th.get("review_vetoed"), bool):
        raise SettingError("linkage.thresholds.review_vetoed", "must be true or false")
    for k in ("match_weight", "review_weight"):
        if th.get(k) is not None:
            number(th[k], f"linkage.thresholds.{k}")
    cl = d["clustering"]
    for k in ("unique_identifiers", "compatible_dob_levels", "single_record_sources"):
        _names(cl[k], f"linkage.clustering.{k}", "names")
    for c in cl["unique_identifiers"]:
        if c not in ("nhs_number", "ni_number", "upn"):
            raise SettingError("linkage.clustering.unique_identifiers", "only nhs_number, ni_number, upn")
    fam = d["families"]
    if not set(_names(fam["household_hints"], "linkage.families.household_hints", "columns")) <= {"tenancy_ref", "claim_ref"}:
        raise SettingError("linkage.families.household_hints", "must list tenancy_ref and/or claim_ref")
    _names(fam["child_sources"], "linkage.families.child_sources", "source names")
    lags = fam["address_lag_days"]
    if not isinstance(lags, dict) or "default" not in lags:
        raise SettingError("linkage.families.address_lag_days", "must map source names to days, with a default")
    for k, v in lags.items():
        lags[k] = number(v, f"linkage.families.address_lag_days.{k}", 0, 3650, integer=True)
    jp = fam["join_by_postcode_and_surname"]
    if not isinstance(jp, dict):
        raise SettingError("linkage.families.join_by_postcode_and_surname", "must be a mapping")
    _flag(jp["enabled"], "linkage.families.join_by_postcode_and_surname.enabled")
    jp["max_chance"] = number(jp["max_chance"], "linkage.families.join_by_postcode_and_surname.max_chance", 0.0, 1.0)
    fh = fam["follow_household"]
    if not isinstance(fh, dict):
        raise SettingError("linkage.families.follow_household", "must be a mapping")
    _flag(fh["enabled"], "linkage.families.follow_household.enabled")
    _flag(fh["name_in_common"], "linkage.families.follow_household.name_in_common")
    fh["together_days"] = number(fh["together_days"], "linkage.families.follow_household.together_days", 0, 3650,
                                 integer=True)
    fh["min_movers_for_an_adult"] = number(fh["min_movers_for_an_adult"],
                                           "linkage.families.follow_household.min_movers_for_an_adult", 1, 100,
                                           integer=True)
    fh["max_residents"] = number(fh["max_residents"], "linkage.families.follow_household.max_residents", 2, 1000,
                                 integer=True)

    rules = {k: _level_rules(d.get(k), comps, f"linkage.{k}") for k in ("vetoes", "strong_agreement")}
    hg = d["household_guards"]
    if not isinstance(hg, dict) or set(hg) != {"min_household_share", "min_age_gap_years"}:
        raise SettingError("linkage.household_guards", "takes min_household_share and min_age_gap_years")
    number(hg["min_household_share"], "linkage.household_guards.min_household_share", 0.0, 1.0)
    hg["min_age_gap_years"] = number(hg["min_age_gap_years"], "linkage.household_guards.min_age_gap_years", 1, 120,
                                     integer=True)
    s = LinkageSettings(max_block, passes, comps, est, tf, th, cl, fam, rules["vetoes"],
                        rules["strong_agreement"], hg, raw=d)
    if s.review_weight > s.match_weight:
        raise SettingError("linkage.thresholds", "the review threshold must not be above the match threshold")
    return s

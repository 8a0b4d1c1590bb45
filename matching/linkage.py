"""Record linkage end to end: standardise, block, compare, estimate, score, cluster records into
persons and persons into families (docs/linkage.md). `link_records` is the stage's one entry."""
from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from schemas.columns import DATE_RECORD_COLUMNS, DECISION_COLUMNS, MATCH, RECORD_COLUMNS, WITHDRAW, normalise_decision
from schemas.errors import InputDataError

from .accuracy import accuracy_from_decisions
from .blocking import block, incremental_candidates, positions, sorted_unique
from .cluster import cluster_persons
from .compare import Columns, compare_pairs
from .exclusive import one_to_one
from .families import age_at, form_families, member_roles, person_agencies
from .households import household_share
from .memory import Stretch, release_free_memory
from .incremental import LinkageState, fingerprints, plan, settings_hash
from .model import FittedModel, fit, pair_weights, probability
from .settings import LinkageSettings
from .standardise import standardise

STATUSES = ("link", "review", "non-link", "clerical match", "clerical non-match", "vetoed")


@dataclass(frozen=True)
class LinkageResult:
    """What linking gives the rest of the run (docs/ARCHITECTURE.md has the columns)."""
    record_links: pd.DataFrame          # one row per record, in input order
    members: pd.DataFrame               # one row per person
    review_pairs: pd.DataFrame          # the uncertain band, side by side, for clerical review
    pairs: pd.DataFrame                 # every scored pair: weights and status
    stats: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    state: LinkageState | None = None   # for the next quarter's incremental run


def _record_positions(records: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])


def decision_pairs(records: pd.DataFrame, decisions: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Clerical decisions as (left, right, is_match) record positions with left < right;
    undecided rows (blank decision) are skipped, and so are pairs naming unknown records
    (counted). An unreadable decision raises InputDataError naming the row."""
    empty = np.empty(0, np.int64)
    if decisions is None or len(decisions) == 0:
        return empty, empty, np.empty(0, bool), 0
    missing = [c for c in DECISION_COLUMNS if c not in decisions]
    if missing:
        raise InputDataError(f"review decisions: missing column {missing[0]}")
    d = decisions[DECISION_COLUMNS].copy()
    word = d["decision"].map(normalise_decision)
    undecided = word.isin(["", WITHDRAW])
    d, word = d[~undecided], word[~undecided]
    is_match = word == MATCH
    bad = word.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(f"review decisions: row {int(d.index[row]) + 2}, column decision: "
                             "expected match, non-match or withdraw")
    idx = _record_positions(records)
    left = idx.get_indexer(pd.MultiIndex.from_arrays([d["source_l"].astype(str), d["record_id_l"].astype(str)]))
    right = idx.get_indexer(pd.MultiIndex.from_arrays([d["source_r"].astype(str), d["record_id_r"].astype(str)]))
    ok = (left >= 0) & (right >= 0) & (left != right)
    lo, hi = np.minimum(left, right)[ok], np.maximum(left, right)[ok]
    return lo.astype(np.int64), hi.astype(np.int64), is_match.to_numpy()[ok], int((~ok).sum())


def _sort_rank(records: pd.DataFrame) -> np.ndarray:
    """Rank of each record in (source, record_id) order: the basis of deterministic IDs."""
    order = np.lexsort((records["record_id"].astype(str).to_numpy(), records["source"].astype(str).to_numpy()))
    rank = np.empty(len(records), dtype=np.int64)
    rank[order] = np.arange(len(records))
    return rank


def _renumber(labels: np.ndarray, rank: np.ndarray, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary labels to prefix+number ordered by each label's smallest record rank.
    Returns (id per element, new number per old label)."""
    n_lab = int(labels.max()) + 1 if len(labels) else 0
    first = np.full(n_lab, np.iinfo(np.int64).max)
    np.minimum.at(first, labels, rank)
    order = np.argsort(first, kind="stable")
    number = np.empty(n_lab, dtype=np.int64)
    number[order] = np.arange(1, n_lab + 1)
    width = max(6, len(str(n_lab)))
    ids = np.array([f"{prefix}{k:0{width}d}" for k in range(n_lab + 1)], dtype=object)
    return ids[number[labels]], number


def link_records(records: pd.DataFrame, settings: LinkageSettings, as_of: dt.date,
                 decisions: pd.DataFrame | None = None, progress: Callable[[str], None] | None = None,
                 earlier: LinkageState | None = None, workers: int = 1, engine=None) -> LinkageResult:
    """Link records into persons and persons into families (see docs/linkage.md). With an
    earlier run's state, only pairs around new and changed records are blocked and compared;
    the result is the same as without it. The state is consumed: its arrays are released as
    soon as they have been used, to keep memory flat at scale. `workers` processes share
    standardising and comparing (matching.workers); the result is the same for any number.
    `engine` (e.g. matching.spark.SparkEngine) runs standardising, blocking, comparing and the
    connected components elsewhere, with the same code and the same result; None: here."""
    clock = _StepClock(progress)
    clock.step("standardise")
    prepared = standardise_records(records, workers, engine)
    clock.step("block")
    pairs, stored = find_candidates(prepared, settings, decisions, earlier, engine)
    clock.step("compare")
    compared = compare_candidates(prepared, settings, pairs, stored, earlier, workers, engine)
    del stored                          # the stored levels are copied: the map is not needed again
    clock.step("estimate")
    possible = possible_pairs(prepared, settings, pairs)
    model = fit(settings, prepared.cols, compared.levels if possible.mask is None else compared.levels[possible.mask],
                prepared.n, possible_pairs=possible.count, workers=workers)
    clock.step("score")
    scores = score_pairs(prepared, settings, model, pairs, compared.levels, possible)
    clock.step("cluster")
    persons = cluster_records(prepared, settings, pairs, scores, engine)
    clock.step("families")
    families = group_families(prepared, settings, persons, as_of)
    clock.step("tables")

    ids = _ids(prepared, persons, families)
    record_links = _record_links(prepared, pairs, scores, persons, ids)
    members = _members(prepared.records, prepared.std, persons.labels, ids.person, ids.family, families.home,
                       settings, as_of, persons.count)
    release_free_memory()               # the sorts' copies of a frame per record
    review_pairs = _review_frame(prepared, settings, pairs, scores, persons, ids, members, compared.levels)
    state = _state(prepared, settings, pairs, compared.levels)
    incremental = compared.incremental
    del compared                        # the levels live on in the state only
    # The standardised fields are not needed again: they go before the longest table is built.
    n, records = prepared.n, prepared.records
    del prepared
    release_free_memory()
    all_pairs = _pairs_frame(records, settings, pairs.left, pairs.right, scores.total,
                             scores.probability, scores.weights, scores.status)
    clock.step("done")
    model_dict = model.to_dict()
    stats = _stats(settings, model, model_dict, pairs, scores, persons, families, incremental,
                   records=n, review_pairs=len(review_pairs), timings=clock.timings,
                   memory=clock.memory_mb)
    return LinkageResult(record_links, members, review_pairs, all_pairs, stats, model_dict, state)


class _StepClock:
    """Seconds and peak memory per step (each step runs until the next one starts), and the
    progress callback."""

    def __init__(self, progress: Callable[[str], None] | None):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.memory_mb: dict[str, float] = {}
        self._current: str | None = None
        self._t0 = time.perf_counter()
        self._memory: Stretch | None = None

    def step(self, name: str) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.timings[self._current] = round(now - self._t0, 3)
            self.memory_mb[self._current] = self._memory.stop()
            release_free_memory()
        self._t0, self._current = now, name
        self._memory = None if name == "done" else Stretch()    # "done" is the end, not a step
        if self.progress is not None:
            self.progress(name)


# ---------------------------------------------------------------------------------------------
# The steps, each returning a small frozen value

@dataclass(frozen=True)
class Standardised:
    """The records in (source, record_id) order, so that row order never changes the result,
    with their standardised fields."""
    records: pd.DataFrame
    input_order: np.ndarray   # each input row's position in that order: results go back through it
    std: pd.DataFrame
    cols: Columns

    @property
    def n(self) -> int:
        return len(self.records)


def standardise_records(records: pd.DataFrame, workers: int = 1, engine=None) -> Standardised:
    input_order = _sort_rank(records)
    # One copy of the records, in the new order (reset_index would make two more).
    ordered = records.iloc[np.argsort(input_order, kind="stable")]
    ordered.index = pd.RangeIndex(len(ordered))
    std = standardise(ordered, workers) if engine is None else engine.standardise(ordered)
    return Standardised(records=ordered, input_order=input_order, std=std, cols=Columns(std))


@dataclass(frozen=True)
class ClericalPairs:
    """Clerical decisions as record positions (left < right)."""
    left: np.ndarray
    right: np.ndarray
    is_match: np.ndarray
    unknown: int              # decisions naming a record that is not in this run


@dataclass(frozen=True)
class CandidatePairs:
    """The pairs to score, sorted (left < right): every pair blocking found, and every pair a
    clerical decision names."""
    left: np.ndarray
    right: np.ndarray
    passes: np.ndarray        # bit k: blocking pass k found the pair (none: only a decision names it)
    per_pass: dict            # pairs found, and blocks skipped for size, per pass
    skipped: np.ndarray       # per record: the passes whose block skipped it for size
    blocked: int              # pairs found by blocking
    fingerprint: np.ndarray   # per record: a one-way hash of its fields, for the next quarter
    clerical: ClericalPairs


@dataclass(frozen=True)
class StoredLevels:
    """Linking incrementally: where each candidate pair's levels are in the earlier state (-1:
    compare it afresh), and how the records changed since."""
    rows: np.ndarray
    plan: dict                # records unchanged, new, changed and gone; earlier pairs kept


def find_candidates(prepared: Standardised, settings: LinkageSettings, decisions: pd.DataFrame | None,
                    earlier: LinkageState | None, engine=None) -> tuple[CandidatePairs, StoredLevels | None]:
    """Block: the candidate pairs, in full or (with an earlier state) around new and changed
    records only, with the pairs clerical decisions name added."""
    records, std, n = prepared.records, prepared.std, prepared.n
    fingerprint = fingerprints(records)
    stored = None
    if earlier is not None:
        pl = plan(records, fingerprint, earlier)
        earlier.drop_pairs()            # planned: only the levels are needed from here on
        cand = incremental_candidates(std, settings, pl.dirty, pl.earlier_skipped,
                                      pl.kept_left, pl.kept_right, pl.kept_passes)
        reused, cand.reused = cand.reused, None
        hit = reused >= 0
        reused[hit] = pl.kept_index[reused[hit]]
        stored = StoredLevels(rows=reused, plan=pl.counts)
        del pl, hit
    else:
        cand = block(std, settings) if engine is None else engine.block(std, settings)
    l, r, passes = cand.left, cand.right, cand.passes
    n_blocked = len(l)
    dl, dr, dmatch, d_unknown = decision_pairs(records, decisions)
    if len(dl):
        # Decided pairs the blocking missed are compared too, with no pass bits.
        width = max(n, 1)
        codes = l.astype(np.int64) * width + r
        allc = sorted_unique(np.concatenate([codes, dl * width + dr]))
        at = np.searchsorted(allc, codes)
        l, r = positions(allc, width)
        passes_all = np.zeros(len(allc), dtype=passes.dtype)
        passes_all[at] = passes
        passes = passes_all
        if stored is not None:
            reused_all = np.full(len(allc), -1, dtype=np.int64)
            reused_all[at] = stored.rows
            stored = StoredLevels(rows=reused_all, plan=stored.plan)
        del codes, allc, at
    pairs = CandidatePairs(left=l, right=r, passes=passes, per_pass=cand.per_pass, skipped=cand.skipped,
                           blocked=n_blocked, fingerprint=fingerprint,
                           clerical=ClericalPairs(dl, dr, dmatch, d_unknown))
    return pairs, stored


@dataclass(frozen=True)
class Compared:
    """Comparison levels, pairs x comparisons (int8: level numbers in settings order)."""
    levels: np.ndarray
    incremental: dict | None  # linking incrementally: the plan's counts, pairs reused and compared


def compare_candidates(prepared: Standardised, settings: LinkageSettings, pairs: CandidatePairs,
                       stored: StoredLevels | None, earlier: LinkageState | None, workers: int = 1,
                       engine=None) -> Compared:
    """Compare: every candidate pair's level in each comparison, taken from the earlier state
    where it is stored there."""
    l, r = pairs.left, pairs.right
    compare = engine.compare if engine is not None else \
        (lambda comparisons, cols, left, right: compare_pairs(comparisons, cols, left, right, workers=workers))
    if stored is None:
        return Compared(levels=compare(settings.comparisons, prepared.cols, l, r), incremental=None)
    reused = stored.rows
    levels = np.empty((len(l), len(settings.comparisons)), dtype=np.int8)
    chunk = 1 << 22                     # copy stored levels a slice at a time: memory stays flat
    for start in range(0, len(l), chunk):
        part = reused[start:start + chunk]
        ok = part >= 0
        levels[start:start + chunk][ok] = earlier.levels[part[ok]]
    fresh = np.flatnonzero(reused < 0)
    n_reused = len(l) - len(fresh)
    earlier.levels = None
    levels[fresh] = compare(settings.comparisons, prepared.cols, l[fresh], r[fresh])
    return Compared(levels=levels, incremental={**stored.plan, "pairs_reused": int(n_reused),
                                                "pairs_compared": int(len(fresh))})


@dataclass(frozen=True)
class PossiblePairs:
    """Which pairs can be one person at all: two records of a source that holds at most one
    record per person (`clustering.single_record_sources`, e.g. two registers linked to each
    other) cannot. Those pairs are left out of estimation and never linked, and the prior is
    the expected matches among the record pairs that can match, not among all pairs."""
    mask: np.ndarray | None   # per candidate pair; None: every pair can
    count: float              # record pairs (all, not only candidates) that can be one person


def possible_pairs(prepared: Standardised, settings: LinkageSettings, pairs: CandidatePairs) -> PossiblePairs:
    n = prepared.n
    count = n * (n - 1) / 2
    single = list(settings.clustering["single_record_sources"])
    source = prepared.std["source"].astype(str).to_numpy()
    within = np.isin(source, single)
    if not within.any():
        return PossiblePairs(mask=None, count=count)
    for s in single:
        k = int((source == s).sum())
        count -= k * (k - 1) / 2
    l, r = pairs.left, pairs.right
    mask = ~(within[l] & (source[l] == source[r]))
    return PossiblePairs(mask=None if mask.all() else mask, count=max(count, 1.0))


@dataclass(frozen=True)
class PairScores:
    """Each pair's match weights and what follows from them."""
    weights: np.ndarray       # pairs x comparisons
    total: np.ndarray         # match weight: the prior plus every comparison's weight
    probability: np.ndarray
    status: np.ndarray        # int8 index into STATUSES
    accept: np.ndarray        # linked (by the model or a clerical match)
    review: np.ndarray        # in the review band, undecided
    decided: np.ndarray       # settled by a clerical decision
    conflict: np.ndarray      # strong identifiers disagree: never merged
    vetoed_high: np.ndarray   # above the threshold but held back by a veto
    household_share: float    # records at an address shared with someone born years apart
    vetoes_applied: bool      # the data show households, so the vetoes guard them
    one_to_one: dict = field(default_factory=dict)  # "source > other": its match rate, where rescored


def score_pairs(prepared: Standardised, settings: LinkageSettings, model: FittedModel, pairs: CandidatePairs,
                levels: np.ndarray, possible: PossiblePairs | None = None) -> PairScores:
    """Score: weights per pair, then link, review or keep apart by the thresholds, conflicts,
    vetoes and clerical decisions. A pair that cannot be one person (see PossiblePairs) is
    a non-link whatever its weight."""
    l, r, n = pairs.left, pairs.right, prepared.n
    weights = pair_weights(settings, model, prepared.std, levels, l, r)
    total = model.prior_weight + weights.sum(axis=1, dtype=np.float64)
    prob = probability(total)
    conflict = np.zeros(len(l), dtype=bool)
    for c, comp in enumerate(settings.comparisons):
        if comp.conflict_stops_merge:
            conflict |= levels[:, c] == len(comp.levels) - 1
    strong = np.zeros(len(l), dtype=bool)
    for c, lv in settings.strong_agreement:
        strong |= np.isin(levels[:, c], list(lv))
    veto = np.zeros(len(l), dtype=bool)
    for c, lv in settings.vetoes:
        veto |= np.isin(levels[:, c], list(lv))
    veto &= ~strong
    guards = settings.household_guards
    share = household_share(prepared.std, guards["min_age_gap_years"])
    guarded = share >= guards["min_household_share"]
    if not guarded:
        # No households in these data: no twin, parent or grandparent of the same name at the
        # address for the vetoes to protect. The pair is judged on its weights, a date of birth
        # that disagrees counting what EM learnt it is worth here (FEBRL: one duplicate in ten
        # or so carries a wholly different date, about -3.4 bits).
        veto[:] = False
    if possible is not None and possible.mask is not None:
        conflict &= possible.mask         # counted as impossible, not as conflicting identifiers
        veto &= possible.mask
    can = possible.mask if possible is not None and possible.mask is not None else True
    single = list(settings.clustering["single_record_sources"])
    excl = one_to_one(prepared.std["source"].astype(str).to_numpy(), single, l, r,
                      total - model.prior_weight, prob, ~conflict & can) if len(single) > 1 else None
    if excl is not None:
        # Between two one-record-per-person sources a record is at most one of the other's
        # (matching/exclusive.py): those pairs are judged on that, not on the pairwise prior.
        total = total.copy()
        total[excl.pairs] = excl.total
        prob = probability(total)
    accept = (total >= settings.match_weight) & ~conflict & ~veto & can
    vetoed_high = veto & ~conflict & (total >= settings.match_weight)
    review = ~accept & ~conflict & (total >= settings.review_weight) & ~veto & can
    if settings.thresholds.get("review_vetoed"):
        review |= vetoed_high
    status = np.full(len(l), 2, dtype=np.int8)     # STATUSES: non-link unless one of these
    status[vetoed_high] = 5
    status[review] = 1
    status[accept] = 0
    decided = np.zeros(len(l), dtype=bool)
    dl, dr = pairs.clerical.left, pairs.clerical.right
    if len(dl):
        pos = np.searchsorted(l.astype(np.int64) * max(n, 1) + r, dl * max(n, 1) + dr)
        accept[pos] = pairs.clerical.is_match
        review[pos] = False
        decided[pos] = True
        status[pos] = np.where(pairs.clerical.is_match, 3, 4)
    return PairScores(weights=weights, total=total, probability=prob, status=status, accept=accept,
                      review=review, decided=decided, conflict=conflict, vetoed_high=vetoed_high,
                      household_share=share, vetoes_applied=bool(guarded),
                      one_to_one={} if excl is None else {f"{a} > {b}": v for (a, b), v in sorted(excl.match_rate.items())})


@dataclass(frozen=True)
class Persons:
    """A person label per record (0 .. count - 1)."""
    labels: np.ndarray
    count: int
    report: dict              # components split for conflicting identifiers, links the guard dropped


def cluster_records(prepared: Standardised, settings: LinkageSettings, pairs: CandidatePairs,
                    scores: PairScores, engine=None) -> Persons:
    """Cluster: records joined by accepted links into persons, strongest links first, never
    across conflicting identifiers or a clerical non-match."""
    l, r, n = pairs.left, pairs.right, prepared.n
    strength = scores.probability + scores.decided * scores.accept * 2.0   # clerical matches are the strongest links
    acc = np.flatnonzero(scores.accept)
    apart = scores.decided & ~scores.accept
    labels, report = cluster_persons(n, l[acc], r[acc], strength[acc], prepared.std, prepared.cols, settings,
                                     (l[apart], r[apart]),
                                     # no households: no parent and child of one name for the
                                     # dates-of-birth rule to keep apart
                                     years_apart=None if scores.vetoes_applied else math.inf,
                                     find_components=None if engine is None else engine.components)
    labels = pd.factorize(labels)[0].astype(np.int64) if n else labels
    return Persons(labels=labels, count=int(labels.max()) + 1 if n else 0, report=report)


@dataclass(frozen=True)
class Families:
    """A family label per person (0 .. count - 1), and each person's home as of the reference date."""
    of_person: np.ndarray
    home: pd.DataFrame
    count: int


def group_families(prepared: Standardised, settings: LinkageSettings, persons: Persons, as_of: dt.date) -> Families:
    """Families: persons living at the same address, helped by household hints."""
    of_person, home = form_families(prepared.std, persons.labels, persons.count, settings, as_of)
    of_person = pd.factorize(of_person)[0].astype(np.int64) if persons.count else of_person
    return Families(of_person=of_person, home=home, count=int(of_person.max()) + 1 if persons.count else 0)


# ---------------------------------------------------------------------------------------------
# What the steps make, as the rest of the run reads it

@dataclass(frozen=True)
class Ids:
    """Person and family ID of each record, in (source, record_id) order."""
    person: np.ndarray
    family: np.ndarray


def _ids(prepared: Standardised, persons: Persons, families: Families) -> Ids:
    rank = _sort_rank(prepared.records)
    person_ids, _ = _renumber(persons.labels, rank, "P")
    fam_lab_rec = families.of_person[persons.labels] if prepared.n else np.empty(0, np.int64)
    family_ids, _ = _renumber(fam_lab_rec, rank, "F")
    return Ids(person=person_ids, family=family_ids)


def _record_links(prepared: Standardised, pairs: CandidatePairs, scores: PairScores, persons: Persons,
                  ids: Ids) -> pd.DataFrame:
    """One row per record, in input order; match_score is the strongest accepted link that
    ended inside the record's person."""
    l, r, n, person_lab = pairs.left, pairs.right, prepared.n, persons.labels
    acc = np.flatnonzero(scores.accept)
    kept = acc[person_lab[l[acc]] == person_lab[r[acc]]] if n else acc
    score = np.full(n, np.nan)
    if len(kept):
        p = np.minimum(scores.probability[kept], 1.0)
        p = np.where(scores.decided[kept], 1.0, p)
        np.fmax.at(score, l[kept], p)
        np.fmax.at(score, r[kept], p)
    records = prepared.records
    record_links = pd.DataFrame({"source": records["source"].astype(str).to_numpy(),
                                 "record_id": records["record_id"].astype(str).to_numpy(),
                                 "person_id": ids.person, "family_id": ids.family,
                                 "match_score": np.round(score, 6)})
    return record_links.iloc[prepared.input_order].reset_index(drop=True)   # back to input order


def _state(prepared: Standardised, settings: LinkageSettings, pairs: CandidatePairs,
           levels: np.ndarray) -> LinkageState:
    """What the next quarter needs to compare only new and changed records: the pairs blocking
    found (a pair only a decision names is compared again whenever it is decided)."""
    found = pairs.passes != 0
    every = bool(found.all())          # no decided pair outside the blocks: keep, don't copy
    l, r, passes = pairs.left, pairs.right, pairs.passes
    return LinkageState(keys=prepared.records[["source", "record_id"]].astype(str).reset_index(drop=True),
                        fingerprint=pairs.fingerprint, skipped=pairs.skipped,
                        left=l if every else l[found], right=r if every else r[found],
                        passes=passes if every else passes[found], levels=levels if every else levels[found],
                        comparisons=[c.name for c in settings.comparisons], settings_hash=settings_hash(settings))


def _stats(settings: LinkageSettings, model: FittedModel, model_dict: dict, pairs: CandidatePairs,
           scores: PairScores, persons: Persons, families: Families, incremental: dict | None, *,
           records: int, review_pairs: int, timings: dict, memory: dict) -> dict:
    return {
        "records": records,
        "blocking": pairs.per_pass,
        "mode": "incremental" if incremental is not None else "full",
        **({"incremental": incremental} if incremental is not None else {}),
        "candidate_pairs": int(pairs.blocked),
        "pairs_scored": int(len(pairs.left)),
        "links_accepted": int(scores.accept.sum()),
        "links_vetoed": int(scores.vetoed_high.sum()),
        "household_share": round(scores.household_share, 4),
        "vetoes_applied": scores.vetoes_applied,
        # One-record-per-person sources judged one to one (matching/exclusive.py): the share
        # of each source's records the model expects to have a match in the other.
        **({"one_to_one_match_rate": scores.one_to_one} if scores.one_to_one else {}),
        "links_stopped_by_identifier_conflict": int((scores.conflict & (scores.total >= settings.match_weight)).sum()),
        "review_pairs": int(review_pairs),                       # person pairs in the queue
        "review_record_pairs": int(scores.review.sum()),          # record pairs in the band
        "clerical_decisions_applied": int(scores.decided.sum()),
        # The decided pairs are labels: how the model's weights fare against them.
        **({"accuracy_from_decisions": accuracy_from_decisions(
            scores.total[scores.decided], scores.accept[scores.decided], settings.match_weight,
            settings.review_weight).to_dict()} if scores.decided.any() else {}),
        "clerical_decisions_unknown_records": pairs.clerical.unknown,
        "persons": persons.count,
        "families": families.count,
        # How persons were placed in families (docs/linkage.md): by a UPRN or an address of
        # their own, moved with their household, by postcode and surname, or not at all.
        "family_placements": {k: int(v) for k, v in
                              pd.Series(families.home["basis"]).value_counts().sort_index().items()},
        **persons.report,
        "timings_seconds": timings,
        "peak_memory_mb": memory,          # per step, its own peak (the process's resident set)
        "em": {"iterations": model.em_iterations, "converged": model.em_converged,
               "match_share_in_candidates": model.match_share_in_candidates,
               "prior_weight": model.prior_weight,
               "parameters": {c["name"]: {lv["label"]: {"m": lv["m"], "u": lv["u"], "weight": lv["weight"]}
                                          for lv in c["levels"]} for c in model_dict["comparisons"]}},
    }


def _title(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v.title() if isinstance(v, str) else None)


def _members(records, std, person_lab, person_ids, family_ids, home, settings, as_of, n_persons) -> pd.DataFrame:
    cols = ["family_id", "person_id", "role", "age", "dob", "forename", "surname", "address", "postcode", "uprn", "agencies",
            "placed_by", "address_seen_on", "joined_by", "own_address", "own_address_seen_on"]
    if n_persons == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype({"age": "Int64", "dob": "datetime64[ns]"})
    f = pd.DataFrame({"person": person_lab, "seen": pd.to_datetime(std["seen_date"]).fillna(pd.Timestamp.min).to_numpy(),
                      "i": np.arange(len(std)), "fore": std["fore_std"].to_numpy(), "sur": std["sur_std"].to_numpy(),
                      "dob": std["dob"].to_numpy(), "addr": std["address_std"].to_numpy(), "source": std["source"].to_numpy()})
    f = f.sort_values(["person", "seen", "i"])
    latest_fore = f.dropna(subset=["fore"]).drop_duplicates("person", keep="last").set_index("person")["fore"]
    latest_sur = f.dropna(subset=["sur"]).drop_duplicates("person", keep="last").set_index("person")["sur"]
    # Date of birth: the one most of the person's records give; ties go to the latest record.
    d = f.dropna(subset=["dob"])
    dcount = d.groupby(["person", "dob"]).agg(n=("i", "size"), last=("i", "max")).reset_index()
    dob = dcount.sort_values(["person", "n", "last"]).drop_duplicates("person", keep="last").set_index("person")["dob"]
    last_addr = f.dropna(subset=["addr"]).drop_duplicates("person", keep="last").set_index("person")["i"]
    pos = home["home_pos"].to_numpy().copy()
    fallback = last_addr.reindex(range(n_persons)).to_numpy()
    pos = np.where(pos >= 0, pos, np.nan_to_num(fallback, nan=-1)).astype(np.int64)
    has = pos >= 0
    p_idx = pd.RangeIndex(n_persons)

    def pick(col: str) -> np.ndarray:
        out = np.full(n_persons, None, dtype=object)
        out[has] = std[col].to_numpy()[pos[has]]
        return out

    own = home["own_latest_pos"].to_numpy()
    own_differs = (own >= 0) & (own != home["home_pos"].to_numpy())
    own_text = np.where(own >= 0, std["address_std"].to_numpy()[np.maximum(own, 0)], None)
    own_seen = np.where(own >= 0, pd.to_datetime(std["seen_date"]).to_numpy()[np.maximum(own, 0)], np.datetime64("NaT"))

    agencies_arr, only_child_arr = person_agencies(person_lab, std["source"].to_numpy(), n_persons,
                                                   settings.families["child_sources"])
    dobs = dob.reindex(p_idx)
    age = age_at(dobs, as_of).reindex(p_idx)

    first_rec = pd.Series(np.arange(len(person_lab))).groupby(person_lab).first().reindex(p_idx).to_numpy()
    out = pd.DataFrame({
        "family_id": family_ids[first_rec], "person_id": person_ids[first_rec],
        "role": member_roles(age, only_child_arr), "age": age.to_numpy(),
        "dob": pd.to_datetime(dobs).to_numpy(),
        "forename": _title(latest_fore.reindex(p_idx)).to_numpy(),
        "surname": _title(latest_sur.reindex(p_idx)).to_numpy(),
        "address": _title(pd.Series(pick("address_std"))).to_numpy(),
        "postcode": pick("postcode"), "uprn": pick("uprn"),
        "agencies": agencies_arr,
        # Why the person is in this family: the address evidence (a UPRN, an address and the
        # date it was seen, or moved with the household), and any household hint shared.
        "placed_by": np.where(home["basis"].to_numpy() == "none", np.where(home["hints"].to_numpy() != "", "hint", "none"),
                              home["basis"].to_numpy()),
        "address_seen_on": pd.Series(pd.to_datetime(home["home_seen"].to_numpy())).dt.date.to_numpy(),
        "joined_by": home["hints"].to_numpy(),
        # Where the person's own latest record puts them, when the family is elsewhere (a member
        # who moved with the household).
        "own_address": np.where(own_differs, _title(pd.Series(own_text)).to_numpy(), None),
        "own_address_seen_on": np.where(own_differs, pd.Series(pd.to_datetime(own_seen)).dt.date.to_numpy(), None),
    })
    out["age"] = out["age"].astype("Int64")
    return out.sort_values(["family_id", "person_id"]).reset_index(drop=True)


def _pairs_frame(records, settings, l, r, total, prob, weights, status) -> pd.DataFrame:
    """Every scored pair. The weight columns are the pairs' weights matrix itself, rounded in
    place (it is not needed unrounded again): one copy of the widest arrays, not two."""
    src = pd.Categorical(records["source"].astype(str))
    rid = pd.Categorical(records["record_id"].astype(str))
    np.round(weights, 3, out=weights)
    out = pd.DataFrame(weights, columns=[f"w_{comp.name}" for comp in settings.comparisons], copy=False)
    front = {
        "source_l": src.take(l) if len(l) else src[:0], "record_id_l": rid.take(l) if len(l) else rid[:0],
        "source_r": src.take(r) if len(r) else src[:0], "record_id_r": rid.take(r) if len(r) else rid[:0],
        "match_weight": _rounded32(total, 4), "match_probability": prob.astype(np.float32),
        "status": pd.Categorical.from_codes(status, categories=list(STATUSES)),
    }
    for at, (name, column) in enumerate(front.items()):
        out.insert(at, name, column)
    return out


def _rounded32(values: np.ndarray, decimals: int, chunk: int = 1 << 22) -> np.ndarray:
    """np.round(values, decimals).astype(np.float32), a slice at a time: no rounded float64
    copy as long as the pairs."""
    out = np.empty(len(values), dtype=np.float32)
    for start in range(0, len(values), chunk):
        out[start:start + chunk] = np.round(values[start:start + chunk], decimals)
    return out


REVIEW_FIELDS = (("forename", "fore_std"), ("surname", "sur_std"), ("dob", "dob"), ("sex", "sex"),
                 ("address", "address_std"), ("postcode", "postcode"), ("uprn", "uprn"),
                 ("nhs_number", "nhs_number"), ("ni_number", "ni_number"), ("upn", "upn"))
# The fields the queue also shows as the agency recorded them (a date of birth is read as a date
# at ingest, so its recorded and standardised forms are the same).
RECORDED_FIELDS = tuple(name for name, _ in REVIEW_FIELDS if name != "dob")


def _review_frame(prepared: Standardised, settings: LinkageSettings, pairs: CandidatePairs, scores: PairScores,
                  persons: Persons, ids: Ids, members: pd.DataFrame, levels: np.ndarray) -> pd.DataFrame:
    """The clerical review queue: one row per pair of persons with record pairs in the uncertain
    band, shown by its strongest record pair (the decision file's columns), most probable first:
    each side's person and family, the fields standardised and as recorded, and per comparison
    its weight and the level it reached.
    Record pairs already inside one person are not asked, nor are persons an earlier decision
    on any record pair between them has settled (a decision is on the two persons)."""
    records, std = prepared.records, prepared.std
    band = np.flatnonzero(scores.review)
    person_l, person_r = persons.labels[pairs.left[band]], persons.labels[pairs.right[band]]
    band = band[person_l != person_r]
    lo = np.minimum(persons.labels[pairs.left[band]], persons.labels[pairs.right[band]])
    hi = np.maximum(persons.labels[pairs.left[band]], persons.labels[pairs.right[band]])
    width = max(persons.count, 1)
    person_pair = lo * width + hi
    decided = np.flatnonzero(scores.decided)
    if len(decided):
        d_l, d_r = persons.labels[pairs.left[decided]], persons.labels[pairs.right[decided]]
        settled = np.minimum(d_l, d_r) * width + np.maximum(d_l, d_r)
        keep = ~np.isin(person_pair, settled)
        band, person_pair = band[keep], person_pair[keep]
    # The strongest record pair of each person pair (ties: the first in record order), and how
    # many record pairs of the band it stands for.
    order = np.lexsort((pairs.right[band], pairs.left[band], -scores.probability[band], person_pair))
    band, person_pair = band[order], person_pair[order]
    first = np.r_[True, person_pair[1:] != person_pair[:-1]] if len(band) else np.empty(0, bool)
    counts = np.diff(np.r_[np.flatnonzero(first), len(band)]) if len(band) else np.empty(0, np.int64)
    shown = band[first]
    shown_order = np.lexsort((pairs.right[shown], pairs.left[shown], -scores.probability[shown]))
    shown, counts = shown[shown_order], counts[shown_order]
    l, r = pairs.left[shown], pairs.right[shown]
    agencies = members.set_index("person_id")["agencies"]
    out = {}
    for side, idx in (("l", l), ("r", r)):
        out[f"source_{side}"] = records["source"].astype(str).to_numpy()[idx]
        out[f"record_id_{side}"] = records["record_id"].astype(str).to_numpy()[idx]
    for side, idx in (("l", l), ("r", r)):
        out[f"person_id_{side}"] = ids.person[idx]
    for side, idx in (("l", l), ("r", r)):
        out[f"family_id_{side}"] = ids.family[idx]
    out["record_pairs"] = counts.astype(np.int64)
    for side, idx in (("l", l), ("r", r)):
        out[f"agencies_{side}"] = agencies.reindex(ids.person[idx]).to_numpy()
    for name, col in REVIEW_FIELDS:
        for side, idx in (("l", l), ("r", r)):
            out[f"{name}_{side}"] = std[col].to_numpy()[idx]
        if name in RECORDED_FIELDS:
            for side, idx in (("l", l), ("r", r)):
                out[f"{name}_recorded_{side}"] = _recorded(records[name].to_numpy()[idx])
    frame = pd.DataFrame(out)
    frame["match_probability"] = np.round(scores.probability[shown], 6)
    frame["match_weight"] = np.round(scores.total[shown], 4)
    for j, comp in enumerate(settings.comparisons):
        frame[f"w_{comp.name}"] = np.round(scores.weights[shown, j], 3)
    labels = [np.array([lv.label for lv in comp.levels], dtype=object) for comp in settings.comparisons]
    for j, comp in enumerate(settings.comparisons):
        frame[f"level_{comp.name}"] = labels[j][levels[shown, j].astype(np.int64)] if len(shown) else \
            np.empty(0, dtype=object)
    frame["decision"] = ""
    return frame


def _recorded(values: np.ndarray) -> np.ndarray:
    """Values as the agency wrote them, as text (blank stays blank)."""
    return np.array([None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else str(v)
                     for v in values], dtype=object)


def records_frame(rows: list[dict]) -> pd.DataFrame:
    """A `records` frame in the contract's shape from partial rows (missing fields blank,
    dates parsed): handy for tests and for callers assembling records themselves."""
    f = pd.DataFrame(rows)
    for c in RECORD_COLUMNS:
        if c not in f:
            f[c] = None
    f = f[list(RECORD_COLUMNS)].copy()
    for c in DATE_RECORD_COLUMNS:
        f[c] = pd.to_datetime(f[c], errors="coerce")
    f["dob_keyed"] = pd.to_numeric(f["dob_keyed"], errors="coerce").astype("Int64")
    if f["row_number"].isna().all():
        f["row_number"] = np.arange(2, len(f) + 2)
    return f.reset_index(drop=True)

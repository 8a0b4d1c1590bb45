"""Record linkage end to end: standardise, block, compare, estimate, score, cluster records into
persons and persons into families (docs/linkage.md). `link_records` is the stage's one entry."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from schemas.errors import InputDataError

from .blocking import block, incremental_candidates, sorted_unique
from .cluster import cluster_persons
from .compare import Columns, compare_pairs
from .families import age_at, form_families, person_agencies
from .incremental import LinkageState, fingerprints, plan, settings_hash
from .model import FittedModel, fit, pair_weights, probability
from .settings import LinkageSettings
from .standardise import standardise

MATCH_WORDS = {"match", "yes", "y", "same", "same person", "1", "true"}
NON_MATCH_WORDS = {"non-match", "nonmatch", "non match", "non_match", "no match", "no", "n",
                   "different", "different people", "0", "false"}
STATUSES = ("link", "review", "non-link", "clerical match", "clerical non-match", "vetoed")
STEPS = ("standardise", "block", "compare", "estimate", "score", "cluster", "families")


@dataclass
class LinkageResult:
    record_links: pd.DataFrame
    members: pd.DataFrame
    review_pairs: pd.DataFrame
    pairs: pd.DataFrame
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
    need = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    missing = [c for c in need if c not in decisions]
    if missing:
        raise InputDataError(f"review decisions: missing column {missing[0]}")
    d = decisions[need].copy()
    word = d["decision"].astype("string").str.strip().str.lower().fillna("")
    d = d[word != ""]
    word = word[word != ""]
    is_match = word.isin(MATCH_WORDS)
    bad = ~is_match & ~word.isin(NON_MATCH_WORDS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(f"review decisions: row {int(d.index[row]) + 2}, column decision: "
                             "expected match or non-match")
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
                 earlier: LinkageState | None = None) -> LinkageResult:
    """Link records into persons and persons into families (see docs/linkage.md). With an
    earlier run's state, only pairs around new and changed records are blocked and compared;
    the result is the same as without it. The state is consumed: its arrays are released as
    soon as they have been used, to keep memory flat at scale."""
    timings: dict[str, float] = {}
    clock = [time.perf_counter(), None]

    def step(name: str) -> None:
        now = time.perf_counter()
        if clock[1] is not None:
            timings[clock[1]] = round(now - clock[0], 3)
        clock[0], clock[1] = now, name
        if progress is not None:
            progress(name)

    # Work in (source, record_id) order so that row order never changes the result.
    input_order = _sort_rank(records.reset_index(drop=True))
    records = records.reset_index(drop=True).iloc[np.argsort(input_order, kind="stable")].reset_index(drop=True)
    n = len(records)
    step("standardise")
    std = standardise(records)
    cols = Columns(std)

    step("block")
    fingerprint = fingerprints(records)
    incremental = None
    reused = None   # incremental only: per pair, its row in the earlier state's levels, or -1
    if earlier is not None:
        pl = plan(records, fingerprint, earlier)
        earlier.drop_pairs()            # planned: only the levels are needed from here on
        cand = incremental_candidates(std, settings, pl.dirty, pl.earlier_skipped,
                                      pl.kept_left, pl.kept_right, pl.kept_passes)
        reused, cand.reused = cand.reused, None
        hit = reused >= 0
        reused[hit] = pl.kept_index[reused[hit]]
        incremental = pl.counts
        del pl, hit
    else:
        cand = block(std, settings)
    l, r, passes, per_pass, skipped = cand.left, cand.right, cand.passes, cand.per_pass, cand.skipped
    del cand
    n_blocked = len(l)
    dl, dr, dmatch, d_unknown = decision_pairs(records, decisions)
    if len(dl):
        # Decided pairs the blocking missed are compared too, with no pass bits.
        width = max(n, 1)
        codes = l * width + r
        allc = sorted_unique(np.concatenate([codes, dl * width + dr]))
        at = np.searchsorted(allc, codes)
        l, r = allc // width, allc % width
        passes_all = np.zeros(len(allc), dtype=passes.dtype)
        passes_all[at] = passes
        passes = passes_all
        if reused is not None:
            reused_all = np.full(len(allc), -1, dtype=np.int64)
            reused_all[at] = reused
            reused = reused_all
        del codes, allc, at

    step("compare")
    if reused is not None:
        levels = np.empty((len(l), len(settings.comparisons)), dtype=np.int8)
        chunk = 1 << 22                 # copy stored levels a slice at a time: memory stays flat
        for start in range(0, len(l), chunk):
            part = reused[start:start + chunk]
            ok = part >= 0
            levels[start:start + chunk][ok] = earlier.levels[part[ok]]
        fresh = np.flatnonzero(reused < 0)
        n_reused = len(l) - len(fresh)
        del reused
        earlier.levels = None
        levels[fresh] = compare_pairs(settings.comparisons, cols, l[fresh], r[fresh])
        incremental = {**incremental, "pairs_reused": int(n_reused), "pairs_compared": int(len(fresh))}
        del fresh
    else:
        levels = compare_pairs(settings.comparisons, cols, l, r)

    step("estimate")
    model = fit(settings, cols, levels, n)

    step("score")
    weights = pair_weights(settings, model, std, levels, l, r)
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
    accept = (total >= settings.match_weight) & ~conflict & ~veto
    vetoed_high = veto & ~conflict & (total >= settings.match_weight)
    review = ~accept & ~conflict & (total >= settings.review_weight) & ~veto
    if settings.thresholds.get("review_vetoed"):
        review |= vetoed_high
    status = np.where(accept, 0, np.where(review, 1, np.where(vetoed_high, 5, 2))).astype(np.int8)  # STATUSES
    decided = np.zeros(len(l), dtype=bool)
    if len(dl):
        pos = np.searchsorted(l * max(n, 1) + r, dl * max(n, 1) + dr)
        accept[pos] = dmatch
        review[pos] = False
        decided[pos] = True
        status[pos] = np.where(dmatch, 3, 4)

    step("cluster")
    strength = prob + decided * accept * 2.0     # clerical matches are the strongest links
    acc = np.flatnonzero(accept)
    cannot = (l[decided & ~accept], r[decided & ~accept])
    person_lab, cl_report = cluster_persons(n, l[acc], r[acc], strength[acc], std, cols, settings, cannot)
    person_lab = pd.factorize(person_lab)[0].astype(np.int64) if n else person_lab
    n_persons = int(person_lab.max()) + 1 if n else 0

    step("families")
    fam_of_person, home = form_families(std, person_lab, n_persons, settings)
    fam_of_person = pd.factorize(fam_of_person)[0].astype(np.int64) if n_persons else fam_of_person
    rank = _sort_rank(records)
    person_ids, person_number = _renumber(person_lab, rank, "P")
    fam_lab_rec = fam_of_person[person_lab] if n else np.empty(0, np.int64)
    family_ids, _ = _renumber(fam_lab_rec, rank, "F")

    # match_score: the strongest accepted link that ended inside the record's person
    kept = acc[person_lab[l[acc]] == person_lab[r[acc]]] if n else acc
    score = np.full(n, np.nan)
    if len(kept):
        p = np.minimum(prob[kept], 1.0)
        p = np.where(decided[kept], 1.0, p)
        np.fmax.at(score, l[kept], p)
        np.fmax.at(score, r[kept], p)
    record_links = pd.DataFrame({"source": records["source"].astype(str).to_numpy(),
                                 "record_id": records["record_id"].astype(str).to_numpy(),
                                 "person_id": person_ids, "family_id": family_ids,
                                 "match_score": np.round(score, 6)})
    record_links = record_links.iloc[input_order].reset_index(drop=True)   # back to input order

    members = _members(records, std, person_lab, person_ids, family_ids, home, settings, as_of, n_persons)
    review_idx = np.flatnonzero(review)
    review_pairs = _review_frame(records, std, settings, l[review_idx], r[review_idx], total[review_idx],
                                 prob[review_idx], weights[review_idx])
    found = passes != 0
    every = bool(found.all())          # no decided pair outside the blocks: keep, don't copy
    state = LinkageState(keys=records[["source", "record_id"]].astype(str).reset_index(drop=True),
                         fingerprint=fingerprint, skipped=skipped,
                         left=l if every else l[found], right=r if every else r[found],
                         passes=passes if every else passes[found], levels=levels if every else levels[found],
                         comparisons=[c.name for c in settings.comparisons], settings_hash=settings_hash(settings))
    del levels
    pairs = _pairs_frame(records, settings, l, r, total, prob, weights, status)
    del weights
    step("done")
    model_dict = model.to_dict()
    stats = {
        "records": n,
        "blocking": per_pass,
        "mode": "incremental" if incremental is not None else "full",
        **({"incremental": incremental} if incremental is not None else {}),
        "candidate_pairs": int(n_blocked),
        "pairs_scored": int(len(l)),
        "links_accepted": int(accept.sum()),
        "links_vetoed": int(vetoed_high.sum()),
        "links_stopped_by_identifier_conflict": int((conflict & (total >= settings.match_weight)).sum()),
        "review_pairs": int(len(review_pairs)),
        "clerical_decisions_applied": int(decided.sum()),
        "clerical_decisions_unknown_records": d_unknown,
        "persons": n_persons,
        "families": int(fam_of_person.max()) + 1 if n_persons else 0,
        **cl_report,
        "timings_seconds": timings,
        "em": {"iterations": model.em_iterations, "converged": model.em_converged,
               "match_share_in_candidates": model.match_share_in_candidates,
               "prior_weight": model.prior_weight,
               "parameters": {c["name"]: {lv["label"]: {"m": lv["m"], "u": lv["u"], "weight": lv["weight"]}
                                          for lv in c["levels"]} for c in model_dict["comparisons"]}},
    }
    return LinkageResult(record_links, members, review_pairs, pairs, stats, model_dict, state)


def _title(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v.title() if isinstance(v, str) else None)


def _members(records, std, person_lab, person_ids, family_ids, home, settings, as_of, n_persons) -> pd.DataFrame:
    cols = ["family_id", "person_id", "role", "age", "dob", "forename", "surname", "address", "postcode", "uprn", "agencies"]
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

    agencies_arr, only_child_arr = person_agencies(person_lab, std["source"].to_numpy(), n_persons,
                                                   settings.families["child_sources"])
    dobs = dob.reindex(p_idx)
    age = age_at(dobs, as_of).reindex(p_idx)
    child = (age < settings.families["child_age"]).fillna(False).to_numpy(dtype=bool) | (age.isna().to_numpy() & only_child_arr)
    first_rec = pd.Series(np.arange(len(person_lab))).groupby(person_lab).first().reindex(p_idx).to_numpy()
    out = pd.DataFrame({
        "family_id": family_ids[first_rec], "person_id": person_ids[first_rec],
        "role": np.where(child, "child", "adult"), "age": age.to_numpy(),
        "dob": pd.to_datetime(dobs).to_numpy(),
        "forename": _title(latest_fore.reindex(p_idx)).to_numpy(),
        "surname": _title(latest_sur.reindex(p_idx)).to_numpy(),
        "address": _title(pd.Series(pick("address_std"))).to_numpy(),
        "postcode": pick("postcode"), "uprn": pick("uprn"),
        "agencies": agencies_arr,
    })
    out["age"] = out["age"].astype("Int64")
    return out.sort_values(["family_id", "person_id"]).reset_index(drop=True)


def _pairs_frame(records, settings, l, r, total, prob, weights, status) -> pd.DataFrame:
    src = pd.Categorical(records["source"].astype(str))
    rid = pd.Categorical(records["record_id"].astype(str))
    out = pd.DataFrame({
        "source_l": src.take(l) if len(l) else src[:0], "record_id_l": rid.take(l) if len(l) else rid[:0],
        "source_r": src.take(r) if len(r) else src[:0], "record_id_r": rid.take(r) if len(r) else rid[:0],
        "match_weight": np.round(total, 4).astype(np.float32), "match_probability": prob.astype(np.float32),
        "status": pd.Categorical.from_codes(status, categories=list(STATUSES)),
    })
    for j, comp in enumerate(settings.comparisons):
        out[f"w_{comp.name}"] = np.round(weights[:, j], 3)
    return out


REVIEW_FIELDS = (("forename", "fore_std"), ("surname", "sur_std"), ("dob", "dob"), ("sex", "sex"),
                 ("address", "address_std"), ("postcode", "postcode"), ("uprn", "uprn"),
                 ("nhs_number", "nhs_number"), ("ni_number", "ni_number"), ("upn", "upn"))


def _review_frame(records, std, settings, l, r, total, prob, weights) -> pd.DataFrame:
    order = np.lexsort((r, l, -prob)) if len(l) else np.empty(0, np.int64)
    l, r, total, prob, weights = l[order], r[order], total[order], prob[order], weights[order]
    out = {}
    for side, idx in (("l", l), ("r", r)):
        out[f"source_{side}"] = records["source"].astype(str).to_numpy()[idx]
        out[f"record_id_{side}"] = records["record_id"].astype(str).to_numpy()[idx]
    for name, col in REVIEW_FIELDS:
        for side, idx in (("l", l), ("r", r)):
            out[f"{name}_{side}"] = std[col].to_numpy()[idx]
    frame = pd.DataFrame(out)
    frame["match_probability"] = np.round(prob, 6)
    frame["match_weight"] = np.round(total, 4)
    for j, comp in enumerate(settings.comparisons):
        frame[f"w_{comp.name}"] = np.round(weights[:, j], 3)
    frame["decision"] = ""
    return frame


RECORD_COLUMNS = ("source", "record_id", "row_number", "forename", "surname", "dob", "sex", "address",
                  "postcode", "uprn", "nhs_number", "ni_number", "upn", "ethnicity", "tenancy_ref",
                  "claim_ref", "seen_date")


def records_frame(rows: list[dict]) -> pd.DataFrame:
    """A `records` frame in the contract's shape from partial rows (missing fields blank,
    dates parsed): handy for tests and for callers assembling records themselves."""
    f = pd.DataFrame(rows)
    for c in RECORD_COLUMNS:
        if c not in f:
            f[c] = None
    f = f[list(RECORD_COLUMNS)].copy()
    for c in ("dob", "seen_date"):
        f[c] = pd.to_datetime(f[c], errors="coerce")
    if f["row_number"].isna().all():
        f["row_number"] = np.arange(2, len(f) + 2)
    return f.reset_index(drop=True)

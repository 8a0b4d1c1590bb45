"""What a clerical match would change: each review pair's two persons taken as one, their
families scored again with the criteria engine, and whether any family's eligibility moves."""
from __future__ import annotations

import numpy as np
import pandas as pd

from criteria.engine import score_families
from criteria.language import CriteriaSet


def eligibility_if_match(pairs: pd.DataFrame, extracts: dict[str, pd.DataFrame], kinds: dict[str, str],
                         record_links: pd.DataFrame, members: pd.DataFrame, need_matrix: pd.DataFrame,
                         criteria_set: CriteriaSet, as_of) -> np.ndarray:
    """Per row of `pairs` (person_id_l, person_id_r): 1 when the two persons made one would
    change a family's eligibility, else 0. A person lives in one family, so the merged person is
    tried in each side's family in turn: with every record of both persons there, and gone from
    the other family. Two persons of one family are tried once, as one person of that family.
    Every trial family of every pair is scored in one call of the engine."""
    out = np.zeros(len(pairs), dtype=np.int64)
    if len(pairs) == 0:
        return out
    mem = members.drop_duplicates("person_id").reset_index(drop=True)
    position = pd.Series(np.arange(len(mem)), index=mem["person_id"].to_numpy())
    family = mem["family_id"].to_numpy()
    family_rows = mem.groupby("family_id", sort=False).indices
    eligible_now = need_matrix.set_index("family_id")["eligible"].fillna(0).astype(int)

    # Each trial family: its members as rows of `mem`, each under the person it becomes.
    rows, becomes, trial, expected = [], [], [], []       # expected: (pair row, trial, eligible now)
    n_trials = 0

    def add(k: int, member_rows: np.ndarray, as_person: np.ndarray, family_id) -> None:
        nonlocal n_trials
        rows.append(member_rows)
        becomes.append(as_person)
        trial.append(np.full(len(member_rows), n_trials, dtype=np.int64))
        expected.append((k, n_trials, int(eligible_now.get(family_id, 0))))
        n_trials += 1

    left = position.reindex(pairs["person_id_l"].to_numpy()).to_numpy()
    right = position.reindex(pairs["person_id_r"].to_numpy()).to_numpy()
    for k, (il, ir) in enumerate(zip(left, right)):
        if np.isnan(il) or np.isnan(ir):
            continue
        il, ir = int(il), int(ir)
        fa, fb = family[il], family[ir]
        a, b = family_rows[fa], family_rows[fb]
        if fa == fb:
            add(k, a, np.where(a == ir, il, a), fa)
            continue
        add(k, np.r_[a, ir], np.r_[a, il], fa)            # the merged person in the left's family
        add(k, b[b != ir], b[b != ir], fb)
        add(k, np.r_[b, il], np.r_[b, ir], fb)            # and in the right's
        add(k, a[a != il], a[a != il], fa)
    if not rows:
        return out
    rows, becomes, trial = np.concatenate(rows), np.concatenate(becomes), np.concatenate(trial)
    person_key = pd.Series(trial * len(mem) + becomes).map("S{}".format).to_numpy()
    scenario_members = mem.iloc[rows].copy()
    scenario_members["person_id"] = person_key
    scenario_members["family_id"] = pd.Series(trial).map("W{}".format).to_numpy()
    scenario_members = scenario_members.drop_duplicates("person_id").reset_index(drop=True)

    # Each member row brings its own person's records, under the person it becomes.
    links = record_links[["source", "record_id", "person_id", "family_id"]]
    link_person = position.reindex(links["person_id"].to_numpy()).to_numpy()
    known = ~np.isnan(link_person)
    link_rows = np.flatnonzero(known)
    link_person = link_person[known].astype(np.int64)
    order = np.argsort(link_person, kind="stable")
    link_rows, link_person = link_rows[order], link_person[order]
    start = np.searchsorted(link_person, np.arange(len(mem)))
    count = np.searchsorted(link_person, np.arange(len(mem)), side="right") - start
    n = count[rows]
    offsets = np.repeat(start[rows] - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
    scenario_links = pd.DataFrame({"source": links["source"].astype(str).to_numpy()[link_rows[offsets]],
                                   "record_id": links["record_id"].astype(str).to_numpy()[link_rows[offsets]],
                                   "person_id": np.repeat(person_key, n), "family_id": ""})

    # Only the records of the families tried are scored: the rest of each extract cannot count.
    wanted = scenario_links.groupby("source")["record_id"].agg(set)
    small = {s: frame[frame["record_id"].astype(str).isin(wanted.get(s, set()))] for s, frame in extracts.items()}
    scored = score_families(small, kinds, scenario_links, scenario_members, criteria_set, as_of)
    eligible_then = scored.need_matrix.set_index("family_id")["eligible"].fillna(0).astype(int)
    for k, t, now in expected:
        if int(eligible_then.get(f"W{t}", 0)) != now:      # a family left empty is not eligible
            out[k] = 1
    return out


def rank_review_queue(queue: pd.DataFrame, extracts: dict[str, pd.DataFrame], kinds: dict[str, str],
                      record_links: pd.DataFrame, members: pd.DataFrame, need_matrix: pd.DataFrame,
                      criteria_set: CriteriaSet, as_of) -> pd.DataFrame:
    """The review queue with `eligibility_if_match` after the family IDs, the pairs that would
    change a family's eligibility first, then most probable first (the queue's order within)."""
    flag = eligibility_if_match(queue, extracts, kinds, record_links, members, need_matrix, criteria_set, as_of)
    out = queue.drop(columns="eligibility_if_match", errors="ignore")
    out.insert(out.columns.get_loc("family_id_r") + 1, "eligibility_if_match", flag)
    order = np.lexsort((np.arange(len(out)), -out["match_probability"].to_numpy(dtype=float), -flag))
    return out.iloc[order].reset_index(drop=True)

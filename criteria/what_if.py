"""What a clerical match would change: each review pair's two persons taken as one, their
families scored again with the criteria engine, and whether any family's eligibility moves."""
from __future__ import annotations

import numpy as np
import pandas as pd

from criteria.engine import score_families
from criteria.language import CriteriaSet

_SEP = "|"


def _scenario(key: str, families: list[tuple[str, pd.DataFrame]], links: pd.DataFrame,
              rename: dict[str, str]) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[str]]:
    """Members and links of `families` under scenario IDs (`key|...`), with the persons in
    `rename` taken as the person they map to."""
    mem_parts, link_parts, names = [], [], []
    for tag, fam in families:
        if fam.empty:
            continue
        family_id = f"{key}{_SEP}{tag}"
        m = fam.copy()
        m["person_id"] = key + _SEP + m["person_id"].map(lambda p: rename.get(p, p))
        m["family_id"] = family_id
        mem_parts.append(m.drop_duplicates("person_id"))
        names.append(family_id)
    persons_in = {p for part in mem_parts for p in part["person_id"]}
    mapped = links.assign(person_id=key + _SEP + links["person_id"].map(lambda p: rename.get(p, p)))
    link_parts.append(mapped[mapped["person_id"].isin(persons_in)])
    return mem_parts, link_parts, names


def eligibility_if_match(pairs: pd.DataFrame, extracts: dict[str, pd.DataFrame], kinds: dict[str, str],
                         record_links: pd.DataFrame, members: pd.DataFrame, need_matrix: pd.DataFrame,
                         criteria_set: CriteriaSet, as_of) -> np.ndarray:
    """Per row of `pairs` (person_id_l, person_id_r): 1 when the two persons made one would
    change a family's eligibility, else 0. A person lives in one family, so the merged person is
    tried in each side's family in turn: with every record of both persons there, and gone from
    the other family. Two persons of one family are tried once, as one person of that family."""
    out = np.zeros(len(pairs), dtype=np.int64)
    if len(pairs) == 0:
        return out
    family_of = members.drop_duplicates("person_id").set_index("person_id")["family_id"]
    by_family = {f: g for f, g in members.groupby("family_id", sort=False)}
    eligible_now = need_matrix.set_index("family_id")["eligible"].fillna(0).astype(int)
    links = record_links[["source", "record_id", "person_id", "family_id"]].copy()
    links["source"], links["record_id"] = links["source"].astype(str), links["record_id"].astype(str)
    links_by_person = links.groupby("person_id", sort=False)

    mem_parts, link_parts, expected = [], [], []   # expected: (pair row, scenario family, its eligibility now)
    for k, (pl, pr) in enumerate(zip(pairs["person_id_l"], pairs["person_id_r"])):
        fa, fb = family_of.get(pl), family_of.get(pr)
        if fa is None or fb is None:
            continue
        fam_a, fam_b = by_family[fa], by_family[fb]
        persons = set(fam_a["person_id"]) | set(fam_b["person_id"])
        mine = pd.concat([links_by_person.get_group(p) for p in persons if p in links_by_person.groups])
        if fa == fb:
            scenarios = [("same", [("a", fam_a)], {pr: pl})]
        else:
            l_rows, r_rows = fam_a[fam_a["person_id"] == pl], fam_b[fam_b["person_id"] == pr]
            scenarios = [("in_l", [("a", pd.concat([fam_a, r_rows])), ("b", fam_b[fam_b["person_id"] != pr])],
                          {pr: pl}),
                         ("in_r", [("a", fam_a[fam_a["person_id"] != pl]), ("b", pd.concat([fam_b, l_rows]))],
                          {pl: pr})]
        for name, families, rename in scenarios:
            key = f"{k}{_SEP}{name}"
            m, lk, _ = _scenario(key, families, mine, rename)
            mem_parts += m
            link_parts += lk
            before = [("a", fa)] if fa == fb else [("a", fa), ("b", fb)]
            expected += [(k, f"{key}{_SEP}{tag}", int(eligible_now.get(fam, 0))) for tag, fam in before]
    if not mem_parts:
        return out
    scenario_members = pd.concat(mem_parts, ignore_index=True)
    scenario_links = pd.concat(link_parts, ignore_index=True)
    # Only the records of the families tried are scored: the rest of each extract cannot count.
    wanted = scenario_links.groupby("source")["record_id"].agg(set)
    small = {s: frame[frame["record_id"].astype(str).isin(wanted.get(s, set()))] for s, frame in extracts.items()}
    scored = score_families(small, kinds, scenario_links, scenario_members, criteria_set, as_of)
    eligible_then = scored.need_matrix.set_index("family_id")["eligible"].fillna(0).astype(int)
    for k, family_id, now in expected:
        if int(eligible_then.get(family_id, 0)) != now:      # a family left empty is not eligible
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

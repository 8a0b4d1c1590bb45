"""Estimation on small frames (matching.model and the estimate step of matching.linkage): what
the model learns from the data in front of it."""
import datetime as dt
import math

import numpy as np

from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings

AS_OF = dt.date(2026, 9, 30)


def register(prefix: str, n: int, source: str, seed: int = 3) -> list[dict]:
    """n distinct people, one record each, with made-up names from a syllable table."""
    rng = np.random.default_rng(seed)
    syll = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "de", "ha", "jo", "pe", "zu", "wi", "be", "go"]
    rows = []
    for i in range(n):
        fore = "".join(rng.choice(syll, 2)).title()
        sur = "".join(rng.choice(syll, 3)).title()
        dob = dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 25000)))
        rows.append({"source": source, "record_id": f"{prefix}{i}", "forename": fore, "surname": sur,
                     "dob": dob.isoformat(), "address": f"{i % 97 + 1} {sur} Street",
                     "postcode": f"ZZ{i % 40 + 1} {i % 9 + 1}AB", "seen_date": "2025-06-01"})
    return rows


def test_pairs_within_a_single_record_source_are_never_linked_and_the_prior_counts_pairs_across():
    a = register("a", 300, "register_a")
    b = [{**r, "source": "register_b", "record_id": r["record_id"].replace("a", "b")} for r in a[:200]]
    # a second record of one person inside register_a: a single-record source cannot hold it
    twin = {**a[0], "record_id": "a_again"}
    rec = records_frame(a + b + [twin])
    both = {"clustering": {"single_record_sources": ["register_a", "register_b"]}}
    res = link_records(rec, LinkageSettings.from_dict(both), AS_OF)
    person = res.record_links.set_index("record_id")["person_id"]
    assert person["a0"] != person["a_again"]
    assert person["a1"] == person["b1"]
    within = res.pairs[(res.pairs["source_l"] == res.pairs["source_r"]).to_numpy()]
    assert (within["status"].astype(str) == "non-link").all()
    # the prior is taken over the 301 x 200 pairs across the registers, not all 501 x 500 / 2
    plain = link_records(rec, LinkageSettings.defaults(), AS_OF)
    gained = res.stats["em"]["prior_weight"] - plain.stats["em"]["prior_weight"]
    assert gained > math.log2((501 * 500 / 2) / (301 * 200)) - 0.5


def two_registers(n: int, dup: int, per_address: int = 1, new_dob_share: float = 0.0, seed: int = 5) -> list[dict]:
    """Register a: n people, `per_address` to an address (one surname per address, as a
    family); register b: `dup` of them again, a share of them with a wholly different date of
    birth (mis-keyed), everything else as in a."""
    rng = np.random.default_rng(seed)
    a = register("a", n, "register_a", seed)
    for i, row in enumerate(a):
        home = i // per_address
        row["address"] = f"{home % 97 + 1} {a[home * per_address]['surname']} Street"
        row["postcode"] = f"ZZ{home % 40 + 1} {home % 9 + 1}AB"
        row["surname"] = a[home * per_address]["surname"]
    b = []
    for i in rng.choice(n, dup, replace=False):
        row = {**a[i], "source": "register_b", "record_id": f"b{i}"}
        if rng.random() < new_dob_share:
            row["dob"] = (dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 25000)))).isoformat()
        b.append(row)
    return a + b


def level(res, comparison: str, label: str) -> dict:
    comp = next(c for c in res.model["comparisons"] if c["name"] == comparison)
    return next(lv for lv in comp["levels"] if lv["label"] == label)


LINK_ONLY = {"clustering": {"single_record_sources": ["register_a", "register_b"]}}


def test_em_learns_how_often_a_true_pair_carries_a_wholly_different_date_of_birth():
    keyed = link_records(records_frame(two_registers(500, 300, new_dob_share=0.0)),
                         LinkageSettings.from_dict(LINK_ONLY), AS_OF)
    miskeyed = link_records(records_frame(two_registers(500, 300, new_dob_share=0.15)),
                            LinkageSettings.from_dict(LINK_ONLY), AS_OF)
    assert 0.07 < level(miskeyed, "dob", "else")["m"] < 0.3
    assert level(keyed, "dob", "else")["m"] < 0.02
    # there a different date of birth is mild evidence against, here near proof of two people
    assert level(miskeyed, "dob", "else")["weight"] > level(keyed, "dob", "else")["weight"] + 3
    person = miskeyed.record_links.set_index("record_id")["person_id"]
    b = [r for r in person.index if r.startswith("b")]
    assert np.mean([person[r] == person["a" + r[1:]] for r in b]) > 0.97


def test_a_shared_address_weighs_less_where_households_share_addresses():
    # u of address agreement comes from random pairs: tiny where each address holds one
    # person, about the household size times larger where families share them.
    alone = link_records(records_frame(two_registers(480, 200, per_address=1)), LinkageSettings.from_dict(LINK_ONLY), AS_OF)
    families = link_records(records_frame(two_registers(480, 200, per_address=6)), LinkageSettings.from_dict(LINK_ONLY), AS_OF)
    same_alone = level(alone, "address", "same_address_and_postcode")
    same_families = level(families, "address", "same_address_and_postcode")
    assert same_families["u"] > 3 * same_alone["u"]
    assert same_alone["weight"] > same_families["weight"] + 1.5
    # in both, m (how often one person's two records agree on the address) is learnt high
    assert same_alone["m"] > 0.8 and same_families["m"] > 0.8


def test_level_patterns_counted_chunk_by_chunk_are_those_of_the_whole_matrix():
    from matching.model import level_patterns
    rng = np.random.default_rng(3)
    # a pattern space small enough to tally, one to sort, and one too wide to pack
    for n_levels in ([3, 4, 5], [10] * 8, [30] * 14):
        levels = rng.integers(0, 3, size=(20_000, len(n_levels))).astype(np.int8)
        whole, whole_counts = level_patterns(levels, n_levels, chunk=len(levels))
        parts, part_counts = level_patterns(levels, n_levels, chunk=777)
        assert np.array_equal(whole, parts) and np.array_equal(whole_counts, part_counts)
        assert int(part_counts.sum()) == len(levels)

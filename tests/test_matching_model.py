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

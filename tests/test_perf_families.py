"""person_agencies gives what a per-person group-by gives."""
import numpy as np
import pandas as pd

from matching.families import person_agencies


def test_person_agencies_match_group_by():
    rng = np.random.default_rng(1)
    sources = np.array(["schools", "police", "asb", "housing", "benefits"], dtype=object)
    person = rng.integers(0, 300, 2000)
    person[:300] = np.arange(300)      # every person has a record
    source = sources[rng.integers(0, len(sources), len(person))]
    f = pd.DataFrame({"person": person, "source": source})
    want_a = f.groupby("person")["source"].agg(lambda s: ";".join(sorted(set(s)))).to_numpy()
    want_c = f.groupby("person")["source"].agg(lambda s: set(s) <= {"schools"}).to_numpy(dtype=bool)
    got_a, got_c = person_agencies(person, source, 300, ["schools"])
    assert (got_a == want_a).all() and (got_c == want_c).all()


def test_person_agencies_with_more_sources_than_bits():
    """A council with more than 62 sources gets the same answer by the slower path."""
    rng = np.random.default_rng(2)
    sources = np.array([f"source{k:02d}" for k in range(70)], dtype=object)
    person = rng.integers(0, 100, 1500)
    person[:100] = np.arange(100)
    source = sources[rng.integers(0, len(sources), len(person))]
    f = pd.DataFrame({"person": person, "source": source})
    child = {"source03", "source41"}
    want_a = f.groupby("person")["source"].agg(lambda s: ";".join(sorted(set(s)))).to_numpy()
    want_c = f.groupby("person")["source"].agg(lambda s: set(s) <= child).to_numpy(dtype=bool)
    got_a, got_c = person_agencies(person, source, 100, sorted(child))
    assert (got_a == want_a).all() and (got_c == want_c).all()

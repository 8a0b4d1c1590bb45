"""Clerical decision words (schemas.columns): one set, read the same way everywhere."""
import numpy as np
import pandas as pd
import pytest

from schemas.columns import (MATCH, MATCH_WORDS, NON_MATCH, NON_MATCH_WORDS, WITHDRAW, WITHDRAW_WORDS,
                             normalise_decision)


@pytest.mark.parametrize("text, word", [
    ("match", MATCH), (" Match ", MATCH), ("YES", MATCH), ("y", MATCH), ("same person", MATCH), ("1", MATCH),
    ("non-match", NON_MATCH), ("Non Match", NON_MATCH), ("nonmatch", NON_MATCH), ("non_match", NON_MATCH),
    ("no match", NON_MATCH), ("N", NON_MATCH), ("different people", NON_MATCH), ("false", NON_MATCH),
    ("withdraw", WITHDRAW), ("Withdrawn ", WITHDRAW),
    ("", ""), ("   ", ""), (None, ""), (float("nan"), ""), (pd.NA, ""), (np.nan, ""),
    ("maybe", None), ("matched", None), ("no-match", None), ("yes please", None),
])
def test_normalise_decision(text, word):
    assert normalise_decision(text) == word


def test_the_word_sets_do_not_overlap_and_hold_their_own_word():
    assert not (MATCH_WORDS & NON_MATCH_WORDS or MATCH_WORDS & WITHDRAW_WORDS or NON_MATCH_WORDS & WITHDRAW_WORDS)
    assert MATCH in MATCH_WORDS and NON_MATCH in NON_MATCH_WORDS and WITHDRAW in WITHDRAW_WORDS
    for words in (MATCH_WORDS, NON_MATCH_WORDS, WITHDRAW_WORDS):
        assert all(w == w.strip().lower() for w in words)


def test_a_review_column_maps_in_one_call():
    column = pd.Series(["Yes", "", None, "different", "withdraw", "??"], dtype=object)
    assert column.map(normalise_decision).tolist() == [MATCH, "", "", NON_MATCH, WITHDRAW, None]
    strings = pd.Series(["no", pd.NA], dtype="string")
    assert strings.map(normalise_decision).tolist() == [NON_MATCH, ""]

"""School terms: Easter, term boundaries and the last N complete terms."""
import datetime as dt

import pytest

from criteria.terms import (Term, easter_sunday, last_complete_terms, parse_academic_year,
                            term_containing, term_of)

D = dt.date


@pytest.mark.parametrize("year,expected", [
    (2008, D(2008, 3, 23)), (2011, D(2011, 4, 24)), (2019, D(2019, 4, 21)), (2024, D(2024, 3, 31)),
    (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)), (2027, D(2027, 3, 28)), (2038, D(2038, 4, 25)),
])
def test_easter_sunday_matches_published_dates(year, expected):
    assert easter_sunday(year) == expected


def test_term_boundaries_follow_easter():
    spring = Term(2025, 1)
    summer = Term(2025, 2)
    assert (spring.start, spring.end) == (D(2026, 1, 1), D(2026, 4, 5))
    assert (summer.start, summer.end) == (D(2026, 4, 6), D(2026, 7, 31))
    autumn = Term(2025, 0)
    assert (autumn.start, autumn.end) == (D(2025, 8, 1), D(2025, 12, 31))
    # Easter 2027 is in March, so spring 2026/27 is short.
    assert Term(2026, 1).end == D(2027, 3, 28) and Term(2026, 2).start == D(2027, 3, 29)


def test_term_containing_on_easter_sunday_and_monday():
    assert str(term_containing(D(2026, 4, 5))) == "spring 2025/26"
    assert str(term_containing(D(2026, 4, 6))) == "summer 2025/26"
    assert str(term_containing(D(2026, 7, 31))) == "summer 2025/26"
    assert str(term_containing(D(2026, 8, 1))) == "autumn 2026/27"


def test_last_complete_terms_at_easter_edges():
    # On Easter Sunday the spring term has just ended, so it is complete.
    assert [str(t) for t in last_complete_terms(D(2026, 4, 5), 3)] == \
        ["summer 2024/25", "autumn 2025/26", "spring 2025/26"]
    # The day before, spring is still running: the window ends with autumn.
    assert [str(t) for t in last_complete_terms(D(2026, 4, 4), 3)] == \
        ["spring 2024/25", "summer 2024/25", "autumn 2025/26"]
    # In 2027 Easter falls in March: 30 March 2027 is already past spring.
    assert str(last_complete_terms(D(2027, 3, 30), 1)[0]) == "spring 2026/27"
    assert str(last_complete_terms(D(2027, 3, 27), 1)[0]) == "autumn 2026/27"


def test_last_complete_terms_mid_autumn_and_on_last_day_of_summer():
    assert [str(t) for t in last_complete_terms(D(2026, 9, 30), 3)] == \
        ["autumn 2025/26", "spring 2025/26", "summer 2025/26"]
    assert [str(t) for t in last_complete_terms(D(2026, 7, 31), 1)] == ["summer 2025/26"]
    assert [str(t) for t in last_complete_terms(D(2026, 7, 30), 1)] == ["spring 2025/26"]
    assert [str(t) for t in last_complete_terms(D(2026, 12, 31), 2)] == ["summer 2025/26", "autumn 2026/27"]


def test_academic_year_parsing():
    assert parse_academic_year("2025/26") == 2025
    assert parse_academic_year("2025/2026") == 2025
    assert parse_academic_year("2025-26") == 2025
    assert parse_academic_year("1999/00") == 1999
    assert parse_academic_year("2025/27") is None
    assert parse_academic_year("autumn") is None
    assert parse_academic_year(None) is None
    assert term_of("2025/26", "Spring") == Term(2025, 1)
    assert term_of("2025/26", "winter") is None

"""The one Easter (schemas.calendar), read by the school terms and by the sample generator."""
import datetime as dt

import pytest

from criteria import terms
from schemas.calendar import easter_sunday
from synth import events


def _meeus(year):
    """The anonymous Gregorian algorithm both modules carried before (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@pytest.mark.parametrize("year, day", [(2024, dt.date(2024, 3, 31)), (2025, dt.date(2025, 4, 20)),
                                       (2026, dt.date(2026, 4, 5)), (2027, dt.date(2027, 3, 28)),
                                       (2038, dt.date(2038, 4, 25)), (2285, dt.date(2285, 3, 22))])
def test_easter_sunday_on_published_dates(year, day):
    assert easter_sunday(year) == day


def test_the_same_easter_as_the_hand_algorithm_it_replaces():
    assert all(easter_sunday(y) == _meeus(y) for y in range(1583, 4100))


def test_terms_and_generator_read_the_one_easter():
    assert terms.easter_sunday is easter_sunday and events.easter is easter_sunday

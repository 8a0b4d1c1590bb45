"""School terms as the school census counts them (reference section 0): autumn 1 Aug-31 Dec,
spring 1 Jan-Easter Sunday, summer Easter Monday-31 Jul, and "the last N complete terms"."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from schemas.calendar import easter_sunday

TERMS = ("autumn", "spring", "summer")
_ACADEMIC_YEAR = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True, order=True)
class Term:
    """One census term. `start_year` is the first calendar year of the academic year
    (2025 for "2025/26"); ordering follows time."""
    start_year: int
    index: int  # 0 autumn, 1 spring, 2 summer

    @property
    def name(self) -> str:
        return TERMS[self.index]

    @property
    def academic_year(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    @property
    def start(self) -> dt.date:
        if self.index == 0:
            return dt.date(self.start_year, 8, 1)
        if self.index == 1:
            return dt.date(self.start_year + 1, 1, 1)
        return easter_sunday(self.start_year + 1) + dt.timedelta(days=1)

    @property
    def end(self) -> dt.date:
        if self.index == 0:
            return dt.date(self.start_year, 12, 31)
        if self.index == 1:
            return easter_sunday(self.start_year + 1)
        return dt.date(self.start_year + 1, 7, 31)

    @property
    def ordinal(self) -> int:
        """Consecutive terms have consecutive ordinals."""
        return self.start_year * 3 + self.index

    @classmethod
    def from_ordinal(cls, ordinal: int) -> "Term":
        year, index = divmod(ordinal, 3)
        return cls(year, index)

    def __str__(self) -> str:
        return f"{self.name} {self.academic_year}"


def parse_academic_year(text: object) -> int | None:
    """First calendar year of "2025/26", "2025/2026" or "2025-26"; None when it is not one."""
    if not isinstance(text, str):
        return None
    m = _ACADEMIC_YEAR.match(text)
    if not m:
        return None
    first, second = int(m.group(1)), m.group(2)
    expected = first + 1
    if (len(second) == 2 and int(second) != expected % 100) or (len(second) == 4 and int(second) != expected):
        return None
    return first


def term_of(academic_year: object, term: object) -> Term | None:
    """The term a schools row belongs to, or None when its year or term cannot be read."""
    year = parse_academic_year(academic_year)
    if year is None or not isinstance(term, str) or term.strip().lower() not in TERMS:
        return None
    return Term(year, TERMS.index(term.strip().lower()))


def term_containing(day: dt.date) -> Term:
    start_year = day.year if day.month >= 8 else day.year - 1
    for index in range(3):
        t = Term(start_year, index)
        if t.start <= day <= t.end:
            return t
    raise AssertionError("terms cover the whole year")  # pragma: no cover


def last_complete_terms(as_of: dt.date, n: int) -> list[Term]:
    """The n adjacent terms ending with the latest term whose end date is on or before as_of
    (our reading of "the last n consecutive terms", which the sources never define)."""
    current = term_containing(as_of)
    latest = current if current.end <= as_of else Term.from_ordinal(current.ordinal - 1)
    return [Term.from_ordinal(o) for o in range(latest.ordinal - n + 1, latest.ordinal + 1)]

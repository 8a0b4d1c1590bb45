"""Name pools (read from the CSV files under data/) and the community naming rules that turn a
true name into the spellings an agency might record: nicknames, transliterations, diacritics,
hyphenated and compound surnames, Arabic prefixes, Iberian double surnames."""
from __future__ import annotations

import bisect
import csv
import itertools
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("data")

COMMUNITIES = ("white_british", "eastern_european", "south_asian_muslim", "sikh_punjabi", "somali",
               "east_asian", "west_african", "arabic", "iberian")
# Communities whose names are transliterated from another script: spellings vary by agency.
TRANSLITERATED = {"south_asian_muslim", "sikh_punjabi", "somali", "east_asian", "west_african", "arabic"}
# How much likelier than average an agency is to put the family name first, by community: an
# unfamiliar naming order (or a form filled in by someone else) is where the fields get swapped.
SWAP_SCALE = {"somali": 10, "arabic": 8, "west_african": 6, "south_asian_muslim": 5, "sikh_punjabi": 4,
              "eastern_european": 2}
# First words of two-word given names ("Abdul Rahman"), which agencies join, hyphenate or split.
COMPOUND_HEADS = ("Abdul", "Abdi", "Abdel", "Abu", "Nur")


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Pool:
    """Weighted choice from a list, using cumulative weights and a caller's random.Random."""
    __slots__ = ("items", "cum", "total")

    def __init__(self, items: list[str], weights: list[float]):
        if not items:
            raise ValueError("empty name pool")
        self.items = items
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng) -> str:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclass(frozen=True)
class NameData:
    forenames: dict[tuple[str, str], Pool]          # (community, sex) -> pool
    surnames: dict[tuple[str, str], Pool]           # (community, kind) -> pool; kind family|personal_F|personal_M
    community_pool: Pool
    nicknames: dict[str, tuple[str, ...]]           # formal -> nicknames
    variants: dict[str, tuple[str, ...]]            # name -> its spelling group (including itself)
    streets: tuple[str, ...]
    street_abbrev: dict[str, str]
    districts: list[dict[str, str]]
    ethnicity: dict[str, Pool]                      # community -> pool of "code|text"


@lru_cache(maxsize=1)
def load() -> NameData:
    fn: dict[tuple[str, str], tuple[list, list]] = {}
    for r in _read("forenames.csv"):
        items, weights = fn.setdefault((r["community"], r["sex"]), ([], []))
        items.append(r["name"]); weights.append(float(r["weight"]))
    sn: dict[tuple[str, str], tuple[list, list]] = {}
    for r in _read("surnames.csv"):
        items, weights = sn.setdefault((r["community"], r["kind"]), ([], []))
        items.append(r["name"]); weights.append(float(r["weight"]))
    comm = _read("communities.csv")
    nick: dict[str, list[str]] = {}
    for r in _read("nicknames.csv"):
        nick.setdefault(r["formal"], []).append(r["nickname"])
    groups: dict[str, list[str]] = {}
    for r in _read("variants.csv"):
        groups.setdefault(r["group"], []).append(r["name"])
    variants: dict[str, tuple[str, ...]] = {}
    for names in groups.values():
        for n in names:
            variants.setdefault(n, tuple(names))   # first group a name appears in wins
    eth: dict[str, tuple[list, list]] = {}
    for r in _read("ethnicity.csv"):
        items, weights = eth.setdefault(r["community"], ([], []))
        items.append(f"{r['code']}|{r['text']}"); weights.append(float(r["weight"]))
    return NameData(
        forenames={k: Pool(*v) for k, v in fn.items()},
        surnames={k: Pool(*v) for k, v in sn.items()},
        community_pool=Pool([r["community"] for r in comm], [float(r["weight"]) for r in comm]),
        nicknames={k: tuple(v) for k, v in nick.items()},
        variants=variants,
        streets=tuple(r["street"] for r in _read("streets.csv")),
        street_abbrev={r["full"]: r["abbreviation"] for r in _read("street_types.csv")},
        districts=_read("districts.csv"),
        ethnicity={k: Pool(*v) for k, v in eth.items()},
    )


_SPECIAL_FOLD = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "ø": "o", "Ø": "O",
                               "æ": "ae", "Æ": "AE", "ı": "i"})


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Strip diacritics the way an ASCII-only system does (Wiśniewska -> Wisniewska, Łukasz -> Lukasz)."""
    text = text.translate(_SPECIAL_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def has_diacritics(text: str) -> bool:
    return fold(text) != text


_FEMININE = (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka"))


def feminine_surname(surname: str) -> str:
    """Polish surnames in -ski/-cki take -ska/-cka for women."""
    for m, f in _FEMININE:
        if surname.endswith(m):
            return surname[: -len(m)] + f
    return surname


def masculine_surname(surname: str) -> str:
    for m, f in _FEMININE:
        if surname.endswith(f):
            return surname[: -len(f)] + m
    return surname


def prefix_variant(surname: str, rng) -> str:
    """Arabic prefixes joined, split or dropped: Al-Hassan / Alhassan / Al Hassan / Hassan / El-Hassan."""
    for sep in ("-", " "):
        if sep in surname:
            head, tail = surname.split(sep, 1)
            if head.lower() in ("al", "el", "abdel", "abdul", "abu"):
                r = rng.random()
                if r < 0.35:
                    return head + tail.lower()
                if r < 0.65:
                    return f"{head} {tail}"
                if r < 0.85:
                    return tail
                return ("El" if head == "Al" else head) + "-" + tail
    return surname


def double_surname_variant(surname: str, rng) -> str:
    """Hyphenated or double surnames (Smith-Jones, García López): split, joined, one part dropped."""
    if "-" in surname:
        a, b = surname.split("-", 1)
    elif " " in surname:
        a, b = surname.split(" ", 1)
    else:
        return surname
    r = rng.random()
    if r < 0.3:
        return a
    if r < 0.5:
        return b
    if r < 0.75:
        return f"{a} {b}"
    if r < 0.9:
        return f"{a}-{b}"
    return a + b.lower()


def spelling_variant(name: str, rng) -> str:
    """Another spelling of the same name from its transliteration group (Mohammed -> Muhammad)."""
    group = load().variants.get(name)
    if not group or len(group) < 2:
        return name
    other = [g for g in group if g != name]
    return other[int(rng.random() * len(other))]


def nickname(name: str, rng) -> str:
    options = load().nicknames.get(name)
    if not options:
        return name
    return options[int(rng.random() * len(options))]


def compound_variant(forename: str, surname: str, rng) -> tuple[str, str]:
    """A two-word given name as another agency keys it: joined (Abdulrahman), hyphenated
    (Abdul-Rahman), or split across the fields (forename Abdul, surname "Rahman Hassan")."""
    head, _, tail = forename.partition(" ")
    if head not in COMPOUND_HEADS or not tail:
        return forename, surname
    r = rng.random()
    if r < 0.4:
        return head + tail.lower(), surname
    if r < 0.6:
        return f"{head}-{tail}", surname
    return head, f"{tail} {surname}".strip()

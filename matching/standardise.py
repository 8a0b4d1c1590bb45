"""Standardise person records for linkage: names, dates of birth, postcodes, addresses and
identifiers become comparable columns. Every distinct raw value is processed once."""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd

from .workers import map_slices

DATA = Path(__file__).with_name("data")
VALUES_A_SLICE = 2_000     # fewer distinct values than this are not worth another process

STREET_TYPES = {
    "street", "road", "avenue", "lane", "drive", "close", "court", "crescent", "gardens", "grove",
    "place", "square", "terrace", "park", "parade", "way", "walk", "mews", "heights", "hill",
    "green", "row", "rise", "view", "vale", "gate", "yard", "wharf", "quay", "boulevard",
    "circus", "broadway", "embankment", "causeway", "path", "approach", "end", "fields", "mount",
    "estate", "house", "buildings", "building", "tower", "lodge", "cottages",
}
FLAT_WORDS = {"flat", "unit", "room", "suite", "apartment", "maisonette"}
_POSTCODE_IN_TEXT = re.compile(r"\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b")
_HOUSE_NO = re.compile(r"^\d+[a-z]?$")
_NAME_APOSTROPHES = re.compile(r"['’`´]")
_NOT_LETTERS = re.compile(r"[^a-z]+")
_ADDRESS_APOSTROPHES = re.compile(r"['’`]")
_NUMBER_SPACE_LETTER = re.compile(r"(\d)\s+([a-z])\b")
_NOT_LETTERS_OR_DIGITS = re.compile(r"[^a-z0-9]+")
_NOT_POSTCODE = re.compile(r"[^A-Za-z0-9]")


def _lines(name: str) -> list[str]:
    out = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@dataclass(frozen=True)
class NameTables:
    canonical: dict[str, str]       # nickname or variant spelling -> canonical form
    shared_surnames: frozenset[str]
    chain_names: frozenset[str]     # given names that serve as family names in naming chains
    titles: frozenset[str]
    prefixes: frozenset[str]
    abbreviations: dict[str, str]
    endings: tuple[tuple[str, str], ...]   # (feminine, masculine) surname endings


@lru_cache(maxsize=1)
def tables() -> NameTables:
    variants: dict[str, str] = {}
    for line in _lines("name_variants.csv"):
        group = [fold(x) for x in line.split(",") if x.strip()]
        for v in group:
            variants.setdefault(v, group[0])
    canonical: dict[str, str] = dict(variants)
    with open(DATA / "nicknames.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            nick, full = fold(row["nickname"]), fold(row["canonical"])
            if nick and full:
                # A nickname resolves to its full name, then to that name's variant group.
                canonical[nick] = variants.get(full, full)
    abbrev: dict[str, str] = {}
    with open(DATA / "address_abbreviations.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            abbrev[row["abbreviation"].strip().lower()] = (row["expansion"] or "").strip().lower()
    shared = frozenset(canonical.get(fold(x), fold(x)) for x in _lines("shared_surnames.txt"))
    endings = tuple(tuple(x.split(",")[:2]) for x in _lines("surname_endings.csv")[1:])
    chain = frozenset(canonical.get(fold(x), fold(x)) for x in _lines("chain_names.txt"))
    return NameTables(canonical, shared, chain, frozenset(fold(x) for x in _lines("titles.txt")),
                      frozenset(fold(x) for x in _lines("compound_prefixes.txt")), abbrev, endings)


def surname_root(token: str) -> str:
    """The canonical spelling of one surname word, with a feminine ending made masculine."""
    t = tables()
    if token in t.canonical:
        return t.canonical[token]
    for fem, masc in t.endings:
        if token.endswith(fem) and len(token) > len(fem) + 2:
            return token[: -len(fem)] + masc
    return token


def fold(s: str) -> str:
    """Lower-case ASCII: accents and diacritics folded (é -> e, ł -> l, ß -> ss)."""
    if s.isascii():
        return s.lower().strip()
    s = s.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O") \
         .replace("đ", "d").replace("Đ", "D").replace("ı", "i").replace("æ", "ae").replace("Æ", "AE")
    s = unicodedata.normalize("NFKD", s)
    return "".join(ch for ch in s if not unicodedata.combining(ch)).lower().strip()


def name_tokens(raw: str) -> list[str]:
    """Words of a name: folded, apostrophes dropped (O'Brien -> obrien), other punctuation and
    hyphens split, titles removed, compound prefixes joined to the next word (Abdul Rahman,
    Al-Hassan, Mc Donald -> abdulrahman, alhassan, mcdonald)."""
    t = tables()
    s = fold(raw)
    s = _NAME_APOSTROPHES.sub("", s)
    s = _NOT_LETTERS.sub(" ", s)
    words = [w for w in s.split() if w not in t.titles]
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in t.prefixes and i + 1 < len(words):
            out.append(w + words[i + 1])
            i += 2
            continue
        out.append(w)
        i += 1
    return out


def canonical(token: str) -> str:
    return tables().canonical.get(token, token)


def _token_set(tokens: list[str], drop: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Tokens for overlap tests: each word, its canonical form, the whole name joined, and a
    compound word cut after its prefix (abdulrahman -> abdul, rahman)."""
    t = tables()
    out: set[str] = set()
    for w in tokens:
        out.add(w)
        out.add(canonical(w))
        for p in t.prefixes:
            if len(p) >= 2 and w.startswith(p) and len(w) - len(p) >= 3:
                out.add(w[len(p):])
                out.add(canonical(w[len(p):]))
                if len(p) >= 3:
                    out.add(p)
    if len(tokens) > 1:
        out.add("".join(tokens))
    out = {w for w in out if len(w) > 1 and w not in drop}
    return tuple(sorted(out))


def _phonetic(fn, s: str) -> str | None:
    if not s:
        return None
    try:
        return fn(s) or None
    except Exception:  # jellyfish rejects a few odd inputs; a missing key is the safe answer
        return None


def _forename_parts(raw) -> tuple:
    if not isinstance(raw, str) or not raw.strip():
        return (None,) * 7
    toks = name_tokens(raw)
    if not toks:
        return (None,) * 7
    f1 = toks[0]
    canon = canonical(f1)
    return (" ".join(toks), f1, canon, _token_set(toks), _phonetic(jellyfish.metaphone, canon), f1[0],
            _token_set([f1]))


def _surname_parts(raw) -> tuple:
    if not isinstance(raw, str) or not raw.strip():
        return (None,) * 9
    t = tables()
    toks = name_tokens(raw)
    if not toks:
        return (None,) * 9
    whole = "".join(toks)
    canon = canonical(whole) if whole in t.canonical else "".join(surname_root(w) for w in toks)
    shared = canon in t.shared_surnames or all(canonical(w) in t.shared_surnames for w in toks)
    tokens = tuple(sorted(set(_token_set(toks, drop=t.shared_surnames)) | {surname_root(w) for w in toks if w not in t.shared_surnames}))
    # A surname made only of given names from a naming chain (Abdi, Hassan; Ali Hassan).
    chain = all(canonical(w) in t.chain_names for w in toks)
    return (" ".join(toks), whole, canon, tokens,
            _phonetic(jellyfish.metaphone, canon), _phonetic(jellyfish.nysiis, canon), shared, canon, chain)


def standard_postcode(raw) -> str | None:
    if not isinstance(raw, str):
        return None
    s = _NOT_POSTCODE.sub("", raw).upper()
    if len(s) < 5 or len(s) > 7:
        return None
    return f"{s[:-3]} {s[-3:]}"


def _clean_address(folded: str) -> str:
    s = _POSTCODE_IN_TEXT.sub(" ", folded)
    s = _ADDRESS_APOSTROPHES.sub("", s)
    s = _NUMBER_SPACE_LETTER.sub(r"\1\2", s)       # 12 a -> 12a
    return _NOT_LETTERS_OR_DIGITS.sub(" ", s)


# The same four steps for pyarrow's regular expressions (RE2), used on ASCII text only: there
# Python's \s is spelled out (RE2's omits \v and \x1c-\x1f) and \b, \d, [a-z] agree.
_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_CLEAN_ADDRESS_RE2 = ((r"\b[a-z]{1,2}[0-9][a-z0-9]?" + _SPACE + r"*[0-9][a-z]{2}\b", " "),
                      (r"['`]", ""),
                      (r"([0-9])" + _SPACE + r"+([a-z])\b", r"\1\2"),
                      (r"[^a-z0-9]+", " "))


def _clean_addresses(folded: list[str]) -> list[str]:
    """_clean_address of many folded addresses: the ASCII ones in one pass of each expression."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = list(folded)
    ascii_at = [i for i, t in enumerate(folded) if t.isascii()]
    if ascii_at:
        arr = pa.array([folded[i] for i in ascii_at], type=pa.large_string())
        for pattern, repl in _CLEAN_ADDRESS_RE2:
            arr = pc.replace_substring_regex(arr, pattern=pattern, replacement=repl)
        for i, t in zip(ascii_at, arr.to_pylist()):
            out[i] = t
    for i, t in enumerate(folded):
        if not t.isascii():
            out[i] = _clean_address(t)
    return out


@lru_cache(maxsize=1)
def _expansions() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v.split()) for k, v in tables().abbreviations.items()}


def address_parts(raw) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(flat, house number or name, street, full key, cleaned text) of a free-text address."""
    if not isinstance(raw, str) or not raw.strip():
        return (None, None, None, None, None)
    return _address_from_clean(_clean_address(fold(raw)))


def _many_address_parts(raws: list) -> list[tuple]:
    """address_parts of many addresses (the text cleaning done in bulk)."""
    out: list[tuple] = [(None, None, None, None, None)] * len(raws)
    at = [i for i, raw in enumerate(raws) if isinstance(raw, str) and raw.strip()]
    cleaned = _clean_addresses([fold(raws[i]) for i in at])
    done: dict[str, tuple] = {}      # addresses differing only in case, punctuation or postcode
    for i, s in zip(at, cleaned):
        parts = done.get(s)
        if parts is None:
            parts = done[s] = _address_from_clean(s)
        out[i] = parts
    return out


def _first_street_type(words: list[str]) -> int | None:
    if STREET_TYPES.isdisjoint(words):
        return None
    for i, w in enumerate(words):
        if w in STREET_TYPES:
            return i
    return None


def _address_from_clean(s: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    expand = _expansions()
    words = s.split()
    if not expand.keys().isdisjoint(words):
        expanded: list[str] = []
        for w in words:
            e = expand.get(w)
            if e is None:
                expanded.append(w)
            else:
                expanded.extend(e)
        words = expanded
    text = " ".join(words) or None
    flat = None
    if not FLAT_WORDS.isdisjoint(words):
        for i, w in enumerate(words):
            if w in FLAT_WORDS and i + 1 < len(words):
                flat = words[i + 1]
                del words[i:i + 2]
                break
    house = None
    street: list[str] = []
    hi = None
    for i, w in enumerate(words):
        if w[0].isdigit() and _HOUSE_NO.match(w):
            hi = i
            break
    if hi is not None:
        house = words[hi]
        if flat is None and hi + 1 < len(words) and _HOUSE_NO.match(words[hi + 1]):
            # "3 12 High Street": flat 3 at number 12
            flat, house, hi = house, words[hi + 1], hi + 1
        rest = words[hi + 1:]
        end = _first_street_type(rest)
        if end is not None:
            # "Wibsey Park Avenue", "Mill Green Lane": the street type is the last of a run
            while end + 1 < len(rest) and rest[end + 1] in STREET_TYPES:
                end += 1
        street = rest[:end + 1] if end is not None and end < 5 else rest[:3]
    else:
        end = _first_street_type(words)
        if end is not None:
            street = words[max(0, end - 3):end + 1]
            if end > 3:
                house = " ".join(words[:end - 3]) or None
        else:
            street = words[:3]
    st = " ".join(street) or None
    if st is None and house is None:
        return (flat, None, None, None, text)
    key = f"{flat or ''}|{house or ''}|{st or ''}"
    return (flat, house, st, key, text)


class _Distinct:
    """fn applied once to each distinct value of a column: `parts[k]` holds result k per
    distinct value (the last slot: the result for a missing value), `index` each record's slot.
    Further columns are derived per distinct value too, and spread to records by `take`."""

    def __init__(self, values: pd.Series, fn, n_out: int, many=None, workers: int = 1):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object).tolist()    # plain str: quick to iterate

        def results_of(start: int, stop: int) -> list:
            part = uniques[start:stop]
            return many(part) if many is not None else [fn(u) for u in part]
        # Each value's result depends on it alone: the distinct values can be shared out.
        results = [r for part in map_slices(results_of, len(uniques), workers, VALUES_A_SLICE) for r in part]
        results.append(fn(None))
        self.index = np.where(codes < 0, len(uniques), codes)
        self.parts = [_objects([r[k] for r in results]) for k in range(n_out)]

    def take(self, per_distinct: np.ndarray) -> np.ndarray:
        return per_distinct[self.index]


def _objects(items: list) -> np.ndarray:
    """An object array holding the items as they are (tuples stay whole)."""
    return np.fromiter(items, dtype=object, count=len(items))


def _clean_id(s: pd.Series, strip_zeros: bool = False) -> pd.Series:
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=object).astype("string").str.strip().str.upper().str.replace(r"\s+", "", regex=True)
    if strip_zeros:
        u = u.str.lstrip("0")
    u = u.mask(u.isna() | (u == ""))
    per_distinct = np.append(u.astype(object).where(u.notna(), None).to_numpy(dtype=object), None)
    return pd.Series(per_distinct[np.where(codes < 0, len(u), codes)], index=s.index, dtype=object)


def standardise(records: pd.DataFrame, workers: int = 1) -> pd.DataFrame:
    """One row per record (same index) with the standardised columns listed in
    matching.setting_checks.STANDARD_COLUMNS, plus source/seen_date carried through. Names and
    addresses are standardised once per distinct value, on `workers` processes."""
    n = len(records)
    out = pd.DataFrame(index=records.index)
    fore = _Distinct(records["forename"], _forename_parts, 7, workers=workers)
    for k in (3, 6):
        fore.parts[k] = _objects([x if isinstance(x, tuple) else () for x in fore.parts[k]])
    for name, col in zip(("fore_std", "fore1", "fore_canon", "fore_tokens", "fore_mp", "fore_initial", "fore1_tokens"),
                         fore.parts):
        out[name] = fore.take(col)
    sur = _Distinct(records["surname"], _surname_parts, 9, workers=workers)
    sur.parts[3] = _objects([x if isinstance(x, tuple) else () for x in sur.parts[3]])
    sur.parts[6] = np.array([v is True for v in sur.parts[6]], dtype=bool)
    sur.parts[8] = np.array([v is True for v in sur.parts[8]], dtype=bool)
    sur_columns = {"sur_std": 0, "sur_whole": 1, "sur_canon": 2, "sur_tokens": 3, "sur_mp": 4, "sur_nysiis": 5,
                   "sur_shared": 6, "sur_chain_name": 8}
    for name, k in sur_columns.items():
        out[name] = sur.take(sur.parts[k])
    out["sur_initial"] = sur.take(_objects([v[0] if isinstance(v, str) and v else None for v in sur.parts[1]]))

    # Keys made of forename and surname together: computed once per distinct combination.
    combo, inverse = np.unique(fore.index * (len(sur.parts[0]) + 1) + sur.index, return_inverse=True)
    fi, si = combo // (len(sur.parts[0]) + 1), combo % (len(sur.parts[0]) + 1)
    fm = pd.Series(fore.parts[4][fi], dtype=object).fillna("").to_numpy(dtype=object)
    sm = pd.Series(sur.parts[4][si], dtype=object).fillna("").to_numpy(dtype=object)
    lo = np.where(fm <= sm, fm, sm)
    hi = np.where(fm <= sm, sm, fm)
    pair = pd.Series(lo).astype(str) + "|" + pd.Series(hi).astype(str)
    pair_key = pair.where((fm != "") & (sm != ""), None).to_numpy(dtype=object)
    sort_key = (pd.Series(sur.parts[2][si], dtype=object).fillna("") + " "
                + pd.Series(fore.parts[2][fi], dtype=object).fillna("")).str.strip()
    sort_key = sort_key.where(sort_key != "", None).to_numpy(dtype=object)
    inverse = inverse.reshape(-1)
    out["name_pair_key"] = pair_key[inverse] if n else pair_key[:0]
    out["name_sort_key"] = sort_key[inverse] if n else sort_key[:0]

    dob = pd.to_datetime(records["dob"], errors="coerce") if n else pd.Series([], dtype="datetime64[ns]")
    y = dob.dt.year.fillna(-1).astype(np.int32).to_numpy()
    m = dob.dt.month.fillna(-1).astype(np.int32).to_numpy()
    d = dob.dt.day.fillna(-1).astype(np.int32).to_numpy()
    ok = y > 0
    # A date of birth keyed as no calendar date (1957-12-32) compares by the digits typed: one
    # of them mis-keyed is the likeliest story. Its year, month and day are those digits too.
    keyed = (pd.to_numeric(records["dob_keyed"], errors="coerce") if "dob_keyed" in records
             else pd.Series(np.nan, index=records.index)).to_numpy(dtype=np.float64)
    miskeyed = ~ok & ~np.isnan(keyed)
    kd = np.where(miskeyed, keyed, 0).astype(np.int64)
    y = np.where(miskeyed, kd // 10000, y)
    m = np.where(miskeyed, kd // 100 % 100, m)
    d = np.where(miskeyed, kd % 100, d)
    known = ok | miskeyed
    key = np.where(known, y.astype(np.int64) * 10000 + m * 100 + d, -1)
    out["dob_key"] = pd.array(np.where(known, key, 0), dtype="Int64")
    out.loc[~known, "dob_key"] = pd.NA
    out["dob_year"] = pd.array(y, dtype="Int64").astype("Int64")
    out.loc[~known, "dob_year"] = pd.NA
    out["dob_month"] = pd.array(np.where(known, m, 0), dtype="Int64")
    out.loc[~known, "dob_month"] = pd.NA
    out["dob_day"] = pd.array(np.where(known, d, 0), dtype="Int64")
    out.loc[~known, "dob_day"] = pd.NA
    # 1 January is what systems write when only the year is known: agreement on it is weaker.
    out["dob_placeholder"] = ok & (m == 1) & (d == 1)
    out["dob_miskeyed"] = miskeyed
    out["birth_year"] = out["dob_year"]
    out["dob"] = dob.to_numpy()

    # Per distinct value, so that the column holds two shared strings, not one per record.
    codes, uniq = pd.factorize(records["sex"] if "sex" in records else pd.Series(pd.NA, index=records.index),
                               use_na_sentinel=True)
    sex = pd.Series(uniq, dtype=object).astype("string").str.upper().str.strip()
    per_sex = np.append(sex.where(sex.isin(["M", "F"]), None).astype(object).to_numpy(dtype=object), pd.NA)
    out["sex"] = per_sex[np.where(codes < 0, len(sex), codes)]

    pc = _Distinct(records["postcode"], lambda v: (standard_postcode(v),), 1)
    outward = _objects([v.split(" ")[0] if isinstance(v, str) else None for v in pc.parts[0]])
    out["postcode"] = pc.take(pc.parts[0])
    out["postcode_outward"] = pc.take(outward)
    addr = _Distinct(records["address"], address_parts, 5, many=_many_address_parts, workers=workers)
    flat, house, street, akey, atext = addr.parts
    hs = _objects([f"{h or ''}|{s or ''}" if (h or s) else None for h, s in zip(house, street)])
    out["address_std"] = addr.take(atext)
    out["addr_key"] = addr.take(akey)
    out["addr_house_street"] = addr.take(hs)
    out["addr_street"] = addr.take(street)
    # The flat and house number together ("3|12", "|12"), and the address's words in sorted
    # order: a pair at one house whose text was mis-keyed or written in another order ("8
    # Reader Court, Villa 2" / "8 Villa 2, Reader Court") compares on these.
    out["addr_flat_house"] = addr.take(_objects([f"{f or ''}|{h}" if h else None for f, h in zip(flat, house)]))
    out["addr_sorted"] = addr.take(_objects([" ".join(sorted(t.split())) if t else None for t in atext]))
    out["uprn"] = _clean_id(records["uprn"], strip_zeros=True)
    for c in ("nhs_number", "ni_number", "upn", "tenancy_ref", "claim_ref"):
        out[c] = _clean_id(records[c]) if c in records else None
    out["source"] = records["source"].astype(str).to_numpy()
    out["record_id"] = records["record_id"].astype(str).to_numpy()
    for c in ("seen_date", "held_until"):
        out[c] = pd.to_datetime(records[c], errors="coerce").to_numpy() if c in records else pd.NaT
    return out

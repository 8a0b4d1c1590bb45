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

DATA = Path(__file__).with_name("data")

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
    return NameTables(canonical, shared, frozenset(fold(x) for x in _lines("titles.txt")),
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
    s = re.sub(r"['’`´]", "", s)
    s = re.sub(r"[^a-z]+", " ", s)
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
        return (None,) * 6
    toks = name_tokens(raw)
    if not toks:
        return (None,) * 6
    f1 = toks[0]
    canon = canonical(f1)
    return (" ".join(toks), f1, canon, _token_set(toks), _phonetic(jellyfish.metaphone, canon), f1[0])


def _surname_parts(raw) -> tuple:
    if not isinstance(raw, str) or not raw.strip():
        return (None,) * 8
    t = tables()
    toks = name_tokens(raw)
    if not toks:
        return (None,) * 8
    whole = "".join(toks)
    canon = canonical(whole) if whole in t.canonical else "".join(surname_root(w) for w in toks)
    shared = canon in t.shared_surnames or all(canonical(w) in t.shared_surnames for w in toks)
    tokens = tuple(sorted(set(_token_set(toks, drop=t.shared_surnames)) | {surname_root(w) for w in toks if w not in t.shared_surnames}))
    return (" ".join(toks), whole, canon, tokens,
            _phonetic(jellyfish.metaphone, canon), _phonetic(jellyfish.nysiis, canon), shared, canon)


def standard_postcode(raw) -> str | None:
    if not isinstance(raw, str):
        return None
    s = re.sub(r"[^A-Za-z0-9]", "", raw).upper()
    if len(s) < 5 or len(s) > 7:
        return None
    return f"{s[:-3]} {s[-3:]}"


def address_parts(raw) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(flat, house number or name, street, full key, cleaned text) of a free-text address."""
    if not isinstance(raw, str) or not raw.strip():
        return (None, None, None, None, None)
    ab = tables().abbreviations
    s = fold(raw)
    s = _POSTCODE_IN_TEXT.sub(" ", s)
    s = re.sub(r"['’`]", "", s)
    s = re.sub(r"(\d)\s+([a-z])\b", r"\1\2", s)       # 12 a -> 12a
    s = re.sub(r"[^a-z0-9]+", " ", s)
    words = []
    for w in s.split():
        w = ab.get(w, w)
        words.extend(w.split())
    text = " ".join(words) or None
    flat = None
    for i, w in enumerate(words):
        if w in FLAT_WORDS and i + 1 < len(words):
            flat = words[i + 1]
            del words[i:i + 2]
            break
    house = None
    street: list[str] = []
    hi = next((i for i, w in enumerate(words) if _HOUSE_NO.match(w)), None)
    if hi is not None:
        house = words[hi]
        if flat is None and hi + 1 < len(words) and _HOUSE_NO.match(words[hi + 1]):
            # "3 12 High Street": flat 3 at number 12
            flat, house, hi = house, words[hi + 1], hi + 1
        rest = words[hi + 1:]
        end = next((i for i, w in enumerate(rest) if w in STREET_TYPES), None)
        if end is not None:
            # "Wibsey Park Avenue", "Mill Green Lane": the street type is the last of a run
            while end + 1 < len(rest) and rest[end + 1] in STREET_TYPES:
                end += 1
        street = rest[:end + 1] if end is not None and end < 5 else rest[:3]
    else:
        end = next((i for i, w in enumerate(words) if w in STREET_TYPES), None)
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


def _map_unique(values: pd.Series, fn, n_out: int) -> list[np.ndarray]:
    """Apply fn to each distinct value once; return n_out object arrays aligned with values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [fn(u) for u in uniques]
    cols = []
    for k in range(n_out):
        arr = np.empty(len(uniques) + 1, dtype=object)
        arr[:-1] = [r[k] for r in results] if results else []
        arr[-1] = fn(None)[k]
        cols.append(arr[np.where(codes < 0, len(uniques), codes)])
    return cols


def _clean_id(s: pd.Series, strip_zeros: bool = False) -> pd.Series:
    s = s.astype("string").str.strip().str.upper().str.replace(r"\s+", "", regex=True)
    if strip_zeros:
        s = s.str.lstrip("0")
    s = s.mask(s.isna() | (s == ""))
    return s.astype(object).where(s.notna(), None)


def standardise(records: pd.DataFrame) -> pd.DataFrame:
    """One row per record (same index) with the standardised columns listed in
    matching.settings.STANDARD_COLUMNS, plus source/seen_date carried through."""
    n = len(records)
    out = pd.DataFrame(index=records.index)
    fcols = _map_unique(records["forename"], _forename_parts, 6)
    for name, col in zip(("fore_std", "fore1", "fore_canon", "fore_tokens", "fore_mp", "fore_initial"), fcols):
        out[name] = col
    scols = _map_unique(records["surname"], _surname_parts, 8)
    for name, col in zip(("sur_std", "sur_whole", "sur_canon", "sur_tokens", "sur_mp", "sur_nysiis", "sur_shared", "_"), scols):
        if name != "_":
            out[name] = col
    out["sur_shared"] = out["sur_shared"].map(lambda v: v is True)
    out["fore_tokens"] = out["fore_tokens"].map(lambda x: x if isinstance(x, tuple) else ())
    out["sur_tokens"] = out["sur_tokens"].map(lambda x: x if isinstance(x, tuple) else ())

    fm = out["fore_mp"].fillna("").to_numpy(dtype=object)
    sm = out["sur_mp"].fillna("").to_numpy(dtype=object)
    lo = np.where(fm <= sm, fm, sm)
    hi = np.where(fm <= sm, sm, fm)
    pair = pd.Series(lo, index=out.index).astype(str) + "|" + pd.Series(hi, index=out.index).astype(str)
    out["name_pair_key"] = pair.where((fm != "") & (sm != ""), None)
    out["name_sort_key"] = (out["sur_canon"].fillna("") + " " + out["fore_canon"].fillna("")).str.strip()
    out["name_sort_key"] = out["name_sort_key"].where(out["name_sort_key"] != "", None)

    dob = pd.to_datetime(records["dob"], errors="coerce") if n else pd.Series([], dtype="datetime64[ns]")
    y = dob.dt.year.fillna(-1).astype(np.int32).to_numpy()
    m = dob.dt.month.fillna(-1).astype(np.int32).to_numpy()
    d = dob.dt.day.fillna(-1).astype(np.int32).to_numpy()
    ok = y > 0
    key = np.where(ok, y * 10000 + m * 100 + d, -1)
    out["dob_key"] = pd.array(np.where(ok, key, 0), dtype="Int64")
    out.loc[~ok, "dob_key"] = pd.NA
    out["dob_year"] = pd.array(y, dtype="Int64").astype("Int64")
    out.loc[~ok, "dob_year"] = pd.NA
    out["dob_month"] = pd.array(np.where(ok, m, 0), dtype="Int64")
    out.loc[~ok, "dob_month"] = pd.NA
    out["dob_day"] = pd.array(np.where(ok, d, 0), dtype="Int64")
    out.loc[~ok, "dob_day"] = pd.NA
    # 1 January is what systems write when only the year is known: agreement on it is weaker.
    out["dob_placeholder"] = ok & (m == 1) & (d == 1)
    out["birth_year"] = out["dob_year"]
    out["dob"] = dob.to_numpy()

    sex = records["sex"].astype("string").str.upper().str.strip() if "sex" in records else pd.Series(pd.NA, index=records.index)
    out["sex"] = sex.where(sex.isin(["M", "F"]), None).astype(object)

    pc = _map_unique(records["postcode"], lambda v: (standard_postcode(v),), 1)[0]
    out["postcode"] = pc
    out["postcode_outward"] = pd.Series(pc, index=out.index).map(lambda v: v.split(" ")[0] if isinstance(v, str) else None)
    acols = _map_unique(records["address"], address_parts, 5)
    flat, house, street, akey, atext = acols
    out["address_std"] = atext
    out["addr_key"] = akey
    hs = np.array([f"{h or ''}|{s or ''}" if (h or s) else None for h, s in zip(house, street)], dtype=object) if n else np.array([], dtype=object)
    out["addr_house_street"] = hs
    out["addr_street"] = street
    out["uprn"] = _clean_id(records["uprn"], strip_zeros=True)
    for c in ("nhs_number", "ni_number", "upn", "tenancy_ref", "claim_ref"):
        out[c] = _clean_id(records[c]) if c in records else None
    out["source"] = records["source"].astype(str).to_numpy()
    out["record_id"] = records["record_id"].astype(str).to_numpy()
    out["seen_date"] = pd.to_datetime(records["seen_date"], errors="coerce").to_numpy() if "seen_date" in records else pd.NaT
    return out

"""Families: persons living at the same address on the reference date, joined by current
household hints (a tenancy or a benefit claim). A person's address is the one on their latest
dated record, so a mover lands at the new home; a hint counts only while it is current."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from schemas.people import is_child

from .cluster import components
from .settings import LinkageSettings


def household_keys(std: pd.DataFrame) -> pd.Series:
    """Per record: 'U<uprn>' where the UPRN is known (also where another record gives the UPRN
    of the same address), else 'A<address>|<postcode district>', else missing.

    The address is house, flat and street with the outward code of the postcode: a postcode
    recorded with an old or mistyped inward code still finds the home. An address without a
    postcode borrows the outward code when the data know that address in one district only."""
    # Worked on codes of distinct values: a district, an address key and a UPRN are each
    # spelled out once, not once a record.
    ca, addrs = pd.factorize(std["addr_key"])
    co, outs = pd.factorize(std["postcode_outward"])
    n_out = max(len(outs), 1)
    both = (ca >= 0) & (co >= 0)
    seen = pd.unique(ca[both].astype(np.int64) * n_out + co[both])
    seen_a, seen_o = seen // n_out, seen % n_out
    districts = np.bincount(seen_a, minlength=len(addrs))
    sole = np.full(len(addrs) + 1, -1, dtype=np.int64)      # last slot: no address
    one = districts[seen_a] == 1
    sole[seen_a[one]] = seen_o[one]
    co = np.where(co >= 0, co, sole[ca])
    has_key = (ca >= 0) & (co >= 0)
    kcode = np.full(len(ca), -1, dtype=np.int64)
    found, kcombo = pd.factorize(ca[has_key].astype(np.int64) * n_out + co[has_key])
    kcode[has_key] = found
    keys = np.array([f"{addrs[c // n_out]}|{outs[c % n_out]}" for c in kcombo] + [None], dtype=object)
    key_of = np.where(kcode >= 0, kcode, len(kcombo))

    uprn = std["uprn"]
    cu, uprns = pd.factorize(uprn, sort=True)               # code order is the UPRNs' order
    cu = np.asarray(cu)
    best = np.full(len(kcombo) + 1, -1, dtype=np.int64)     # last slot: no key
    with_both = (kcode >= 0) & (cu >= 0)
    if with_both.any():
        # The UPRN most often recorded for this address (ties: the smallest).
        g = pd.DataFrame({"k": kcode[with_both], "u": cu[with_both]}).value_counts().rename("n").reset_index()
        g = g.sort_values(["k", "n", "u"], ascending=[True, False, True]).drop_duplicates("k")
        best[g["k"].to_numpy()] = g["u"].to_numpy()
    uprn_code = np.where(cu >= 0, cu, best[key_of])
    spelled = np.array(["U" + u for u in uprns] + [None], dtype=object)
    hh = np.where(uprn_code >= 0, spelled[np.where(uprn_code >= 0, uprn_code, len(uprns))],
                  np.array(["A" + k if k is not None else None for k in keys], dtype=object)[key_of])
    return pd.Series(hh, index=std.index, dtype=object, name=uprn.name)


def _current_home(frame: pd.DataFrame) -> pd.DataFrame:
    """Per person, the household key seen on the latest date (ties: the key on more of the
    person's records, then the later record), with that record's position and date."""
    f = frame[frame["hh"].notna()]
    f = f.assign(_d=f["seen_date"].fillna(pd.Timestamp.min), _i=np.arange(len(f)))
    g = f.groupby(["person", "hh"]).agg(last=("_d", "max"), n=("_d", "size"), pos=("pos", "last"),
                                       _i=("_i", "max")).reset_index()
    g = g.sort_values(["person", "last", "n", "_i"]).drop_duplicates("person", keep="last")
    return g.rename(columns={"last": "seen_date"}).set_index("person")


def _latest(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """Per person, the row with a value in `value` on the latest seen_date (ties: the later
    record in the input order)."""
    f = frame[frame[value].notna()]
    f = f.assign(_d=f["seen_date"].fillna(pd.Timestamp.min), _i=np.arange(len(f)))
    f = f.sort_values(["person", "_d", "_i"])
    return f.drop_duplicates("person", keep="last").set_index("person")


def form_families(std: pd.DataFrame, person: np.ndarray, n_persons: int, settings: LinkageSettings) -> tuple[np.ndarray, pd.DataFrame]:
    """Family label per person, and per person its current household key and the record
    (position) that gave it."""
    frame = pd.DataFrame({"person": person, "seen_date": pd.to_datetime(std["seen_date"]).to_numpy(),
                          "hh": household_keys(std).to_numpy(), "pos": np.arange(len(std))})
    cur = _current_home(frame)
    home = pd.Series(None, index=pd.RangeIndex(n_persons), dtype=object)
    home_date = pd.Series(pd.NaT, index=pd.RangeIndex(n_persons), dtype="datetime64[ns]")
    home_pos = pd.Series(-1, index=pd.RangeIndex(n_persons), dtype=np.int64)
    home.loc[cur.index] = cur["hh"].to_numpy()
    home_date.loc[cur.index] = cur["seen_date"].to_numpy()
    home_pos.loc[cur.index] = cur["pos"].to_numpy()

    keys_p, keys_k = [], []
    has_home = home.notna().to_numpy()
    keys_p.append(np.flatnonzero(has_home))
    keys_k.append(home[has_home].to_numpy())
    for hint in settings.families["household_hints"]:
        if hint not in std:
            continue
        f = frame.assign(h=std[hint].to_numpy())
        lat = _latest(f, "h")
        if not len(lat):
            continue
        p = lat.index.to_numpy()
        hd = home_date.to_numpy()[p]
        # Current: the hint is on a record no older than the one giving the person's address,
        # or it was recorded at that same address.
        current = (pd.isna(hd) | (lat["seen_date"].fillna(pd.Timestamp.min).to_numpy() >= np.where(pd.isna(hd), np.datetime64("1677-09-22"), hd))
                   | (lat["hh"].to_numpy() == home.to_numpy()[p]))
        keys_p.append(p[current])
        keys_k.append((hint + ":" + lat["h"].astype(str)).to_numpy()[current])
    pp = np.concatenate(keys_p) if keys_p else np.empty(0, np.int64)
    kk = np.concatenate(keys_k) if keys_k else np.empty(0, object)
    kcodes, kuniq = pd.factorize(pd.Series(kk, dtype=object))
    n_nodes = n_persons + len(kuniq)
    labels = components(n_nodes, pp.astype(np.int64), (n_persons + kcodes).astype(np.int64))[:n_persons]
    info = pd.DataFrame({"home": home.to_numpy(), "home_pos": home_pos.to_numpy()})
    return labels, info


def age_at(dob: pd.Series, as_of: dt.date) -> pd.Series:
    """Whole years between date of birth and the reference date (Int64, missing if unknown)."""
    d = pd.to_datetime(dob)
    ref = pd.Timestamp(as_of)
    years = ref.year - d.dt.year
    before = (d.dt.month > ref.month) | ((d.dt.month == ref.month) & (d.dt.day > ref.day))
    return (years - before.astype("Int64")).astype("Int64")


def member_roles(age: pd.Series, only_child_sources: np.ndarray) -> np.ndarray:
    """Per person, "child" or "adult": a child is under schemas.people.ADULT_AGE on the reference
    date (`age`, Int64); a person of unknown age is an adult, unless every record of theirs
    comes from a child source (schools: `only_child_sources`, from person_agencies)."""
    child = is_child(age).fillna(False).to_numpy(dtype=bool) | (age.isna().to_numpy() & only_child_sources)
    return np.where(child, "child", "adult")


def person_agencies(person: np.ndarray, source: np.ndarray, n_persons: int,
                    child_sources) -> tuple[np.ndarray, np.ndarray]:
    """Per person: the sources of their records, sorted and joined by ';', and whether every one
    of them is a child source. One bit a source per person, so the work is per distinct set of
    sources, not per person."""
    codes, names = pd.factorize(pd.Series(source, dtype=object).astype(str), sort=True)
    if len(names) > 62:
        # Too many sources for one bit each: group the records by person instead (slower).
        by = pd.Series(np.asarray(names, dtype=object)[codes]).groupby(np.asarray(person, dtype=np.int64))
        joined = by.agg(lambda s: ";".join(sorted(set(s)))).reindex(range(n_persons)).to_numpy()
        only = by.agg(lambda s: set(s) <= set(child_sources)).reindex(range(n_persons)).to_numpy(dtype=bool)
        return joined, only
    mask = np.zeros(n_persons, dtype=np.int64)
    np.bitwise_or.at(mask, np.asarray(person, dtype=np.int64), np.left_shift(1, codes.astype(np.int64)))
    child_bits = sum(1 << i for i, name in enumerate(names) if name in set(child_sources))
    sets, inverse = np.unique(mask, return_inverse=True)
    joined = np.array([";".join(name for i, name in enumerate(names) if int(m) >> i & 1) for m in sets], dtype=object)
    return joined[inverse.reshape(-1)], (mask & ~child_bits) == 0

"""Families: persons living at the same address on the reference date, joined by current
household hints (a tenancy or a benefit claim). A person's address is the one on their latest
dated record, so a mover lands at the new home; a hint counts only while it is current."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .cluster import components
from .settings import LinkageSettings


def household_keys(std: pd.DataFrame) -> pd.Series:
    """Per record: 'U<uprn>' where the UPRN is known (also where another record gives the UPRN
    of the same address and postcode), else 'A<address>|<postcode>', else missing."""
    addr = std["addr_key"].where(std["postcode"].notna() & std["addr_key"].notna())
    addr = addr.astype(object) + "|" + std["postcode"].astype(object)
    uprn = std["uprn"]
    both = pd.DataFrame({"addr": addr, "uprn": uprn}).dropna()
    if len(both):
        # The UPRN most often recorded for this address text and postcode (ties: smallest).
        best = (both.groupby(["addr", "uprn"]).size().rename("n").reset_index()
                .sort_values(["addr", "n", "uprn"], ascending=[True, False, True])
                .drop_duplicates("addr").set_index("addr")["uprn"])
        resolved = addr.map(best)
    else:
        resolved = pd.Series(None, index=std.index, dtype=object)
    uprn_all = uprn.where(uprn.notna(), resolved)
    key = ("U" + uprn_all.astype(object)).where(uprn_all.notna(), "A" + addr.astype(object))
    return key.where(key.notna(), None)


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
    cur = _latest(frame, "hh")
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

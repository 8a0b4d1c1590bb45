"""Families: persons living at the same address on the reference date, joined by current
household hints (a tenancy or a benefit claim). A person's address is the one on their latest
dated record, so a mover lands at the new home; a member whose agencies have not caught up with
the household's move moves with it; a hint counts only while it is current."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from schemas.people import ADULT_AGE, is_child

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


def _lag_of(source: pd.Series, lags: dict) -> np.ndarray:
    """Per record, its source's address lag (settings families.address_lag_days) as a timedelta."""
    codes, names = pd.factorize(source.astype(str))
    days = np.array([lags.get(n, lags["default"]) for n in names] + [lags["default"]], dtype="int64")
    return days[np.where(codes >= 0, codes, len(names))].astype("timedelta64[D]")


def _name_tokens(std: pd.DataFrame, person: np.ndarray, columns: tuple[str, ...], of: np.ndarray) -> dict[int, set]:
    """Per person of `of`, every name token their records give in these token columns."""
    out: dict[int, set] = {}
    at = np.flatnonzero(np.isin(person, of))
    for col in columns:
        if col not in std:
            continue
        for p, toks in zip(person[at], std[col].to_numpy()[at]):
            if isinstance(toks, tuple) and toks:
                out.setdefault(int(p), set()).update(toks)
    return out


def _shared_surname_only(std: pd.DataFrame, person: np.ndarray, of: np.ndarray, tokens: dict[int, set]) -> set[int]:
    """Of `of`, those whose records give a surname, every one of them shared by many unrelated
    families (Begum, Bibi, Kaur, Singh: `sur_shared`), and so no surname word of their own."""
    if "sur_shared" not in std:
        return set()
    at = np.flatnonzero(np.isin(person, of))
    shared = std["sur_shared"].to_numpy()[at]
    named = std["sur_std"].notna().to_numpy()[at] if "sur_std" in std else np.ones(len(at), dtype=bool)
    flags = pd.DataFrame({"p": person[at], "shared": shared.astype(bool) & named, "named": named})
    by = flags[flags["named"]].groupby("p")["shared"].all()
    return {int(p) for p in by.index[by.to_numpy()] if not tokens.get(int(p))}


def follow_household(frame: pd.DataFrame, home: pd.Series, std: pd.DataFrame, settings: LinkageSettings,
                     as_of: dt.date | None) -> pd.DataFrame:
    """Members left behind by a household move: per such person, the household key the rest of
    their household moved to (`to`), the date the household was first seen there (`moved_on`)
    and one mover (`with`), whose address record shows the new home.

    A person whose latest record is at address A follows the others seen at A with them
    (`together_days`) who now live at one address B, when: the movers were firmly seen at A (two
    records, or one with a date of birth); the person has no record at A after the move,
    allowing for their agency's address lag; the movers outnumber those still seen at A after
    the move, and number at least `min_movers_for_an_adult` for an adult; a mover could be the
    person's carer, partner or sibling (a child follows an adult 12+ years older who was already
    an adult at A, or another child; an adult nobody 12+ years younger); and, with
    `name_in_common`, a mover shares a name with the person. A person with a later record of
    their own elsewhere (a young adult who left home) is not at A in the first place."""
    fam = settings.families
    rule = fam["follow_household"]
    empty = pd.DataFrame({"to": pd.Series(dtype=object), "moved_on": pd.Series(dtype="datetime64[ns]"),
                          "with": pd.Series(dtype=np.int64)})
    if not rule["enabled"]:
        return empty
    f = frame[frame["hh"].notna() & frame["seen_date"].notna()]
    if not len(f):
        return empty
    lagged = f["seen_date"].to_numpy() - _lag_of(f["source"], fam["address_lag_days"])
    f = f.assign(lagged=lagged, dated=f["dob"].notna().to_numpy())
    ph = f.groupby(["person", "hh"], sort=False).agg(first=("seen_date", "min"), last=("seen_date", "max"),
                                                     last_lagged=("lagged", "max"), n=("seen_date", "size"),
                                                     with_dob=("dated", "sum")).reset_index()
    ph["home"] = home.reindex(ph["person"]).to_numpy()
    ph = ph[ph["home"].notna()]
    residents = ph.groupby("hh")["person"].transform("size")
    ph = ph[residents <= rule["max_residents"]]
    current = ph["hh"].to_numpy() == ph["home"].to_numpy()
    stay, left = ph[current], ph[~current]
    if not len(stay) or not len(left):
        return empty
    at_home = stay.set_index("person")["first"]
    left = left.assign(moved_on=at_home.reindex(left["person"]).to_numpy())
    # A move away from A: first seen at the new home after first being seen at A. And firmly
    # seen at A: by two records, or one with a date of birth (one undated record is the kind a
    # person link gets wrong, and would take a family with it).
    left = left[(left["moved_on"] > left["first"]) & ((left["n"] >= 2) | (left["with_dob"] >= 1))]
    pairs = stay.merge(left[["person", "hh", "first", "last", "home", "moved_on"]], on="hh", suffixes=("", "_q"))
    together = pd.Timedelta(days=rule["together_days"])
    pairs = pairs[(pairs["first_q"] <= pairs["last"] + together) & (pairs["last_q"] + together >= pairs["first"])
                  & (pairs["last_lagged"] <= pairs["moved_on"])]
    if not len(pairs):
        return empty
    dob = frame.dropna(subset=["dob"]).drop_duplicates("person").set_index("person")["dob"]
    pb, qb = dob.reindex(pairs["person"]).to_numpy(), dob.reindex(pairs["person_q"]).to_numpy()
    gap = np.timedelta64(int(settings.household_guards["min_age_gap_years"] * 365.25), "D")
    known = ~pd.isna(pb) & ~pd.isna(qb)
    ref = np.datetime64(as_of or dt.date.today(), "ns")
    adult_ns = np.timedelta64(int(ADULT_AGE * 365.25), "D")
    child = ~pd.isna(pb) & (pb > ref - adult_ns)
    # A child follows an adult 12+ years older who was already an adult when first seen at A (a
    # grown-up sibling who left home leads nobody); an adult, anyone not 12+ years younger.
    was_adult = ~pd.isna(qb) & (pairs["first_q"].to_numpy() - np.where(pd.isna(qb), ref, qb) >= adult_ns)
    # ... or another child: children do not move house on their own.
    q_child = ~pd.isna(qb) & (qb > ref - adult_ns)
    # An adult's partner or sibling: a mover not 12+ years younger. With `adult_counts_children`,
    # the household's younger members who moved with such a mover count as movers too (a
    # parent follows partner and children); alone they lead nobody (a grown-up child who left).
    # A child who moved counts as such a mover too: children do not move house on their own.
    peer = ~(known & (qb - pb >= gap))
    adult_ok = np.ones(len(pairs), dtype=bool) if rule["adult_counts_children"] else peer
    carer = np.where(child, known & (((pb - qb >= gap) & was_adult) | q_child), adult_ok)
    leads = peer | (q_child if rule["adult_counts_children"] else False)
    pairs = pairs.assign(child=child, peer=np.where(child, True, leads))[carer]
    # An adult does not follow where they or a mover have a record of a domestic abuse source:
    # a partner and children leaving after abuse are fleeing it, and the one left behind must
    # never be placed at their new home by inference.
    flee = rule["adults_stay_after"]
    if flee and len(pairs):
        abuse = set(frame.loc[frame["source"].astype(str).isin(flee).to_numpy(), "person"].tolist())
        if abuse:
            touched = pairs["person"].isin(abuse).to_numpy() | pairs["person_q"].isin(abuse).to_numpy()
            pairs = pairs[pairs["child"].to_numpy(dtype=bool) | ~touched]
    if rule["name_in_common"] and len(pairs):
        everyone = frame["person"].to_numpy()
        mine = _name_tokens(std, everyone, ("sur_tokens",), pairs["person"].unique())
        # A name of the mover, or of anyone now living at the new home with them: a child of a
        # naming chain may carry a grandfather's name that a sibling does not, and the father
        # who carries it may never have been seen at the old address.
        home_arr = home.to_numpy()
        at_new = np.flatnonzero(pd.Series(home_arr).isin(pairs["home_q"].unique()).to_numpy())
        theirs = _name_tokens(std, everyone, ("sur_tokens", "fore_tokens"), np.union1d(pairs["person_q"].unique(), at_new))
        household: dict = {}
        for q in at_new:
            household.setdefault(home_arr[q], set()).update(theirs.get(int(q), set()))
        # A person recorded only under a shared surname (a daughter's Begum or Bibi, a son's
        # Singh) has no family name to share: in place of the name, they must have been seen at
        # the old address before the mover was first seen at the new one (a new occupant's
        # child, first seen there after the move, has not).
        shared_only = _shared_surname_only(std, everyone, pairs["person"].unique(), mine)
        before = (pairs["first"] < pairs["moved_on"]).to_numpy()
        share = [(p in shared_only and early) or bool(mine.get(p, set()) & (theirs.get(q, set()) | household.get(h, set())))
                 for p, q, h, early in zip(pairs["person"], pairs["person_q"], pairs["home_q"], before)]
        pairs = pairs[np.asarray(share, dtype=bool)]
    if not len(pairs):
        return empty
    pairs = pairs.assign(peer_q=pairs["person_q"].where(pairs["peer"]))
    votes = (pairs.groupby(["person", "hh", "home_q"]).agg(movers=("person_q", "nunique"), moved_on=("moved_on", "min"),
                                                          child=("child", "first"), peers=("peer_q", "nunique"))
             .reset_index().sort_values(["person", "movers", "moved_on", "home_q"], ascending=[True, False, True, True])
             .drop_duplicates("person"))
    # Everyone else whose home is still A and who was seen there after the move stays.
    others = votes[["person", "hh", "moved_on"]].merge(stay[["person", "hh", "last_lagged"]], on="hh", suffixes=("", "_s"))
    others = others[(others["person_s"] != others["person"]) & (others["last_lagged"] > others["moved_on"])]
    stayers = others.groupby("person")["person_s"].nunique().reindex(votes["person"]).fillna(0).to_numpy()
    enough = np.where(votes["child"].to_numpy(dtype=bool), 1, rule["min_movers_for_an_adult"])
    go = votes[(votes["movers"].to_numpy() > stayers) & (votes["movers"].to_numpy() >= enough)
               & (votes["peers"].to_numpy() >= 1)]
    # One mover of the chosen household (the first seen there) shows whose address it is.
    lead = (pairs.merge(go[["person", "home_q"]], on=["person", "home_q"]).sort_values(["person", "moved_on", "person_q"])
            .drop_duplicates("person").set_index("person")["person_q"])
    return pd.DataFrame({"to": go["home_q"].to_numpy(), "moved_on": go["moved_on"].to_numpy(),
                         "with": lead.reindex(go["person"]).to_numpy()},
                        index=pd.Index(go["person"].to_numpy(), name="person"))


def stale_latest_address(frame: pd.DataFrame, home: pd.Series, std: pd.DataFrame,
                         settings: LinkageSettings) -> pd.DataFrame:
    """Persons whose latest record gives an address their household has left: per such person,
    the household key of the household's present home (`to`) and one member living there
    (`with`).

    An agency keying a row afresh may take an address from an older record (a police or ASB
    officer), so a person seen at home B with others can have a later record at A, the address
    those others lived at before B. The person stays at B when: others now living at B were seen
    there with them (within `together_days`); A was the household's earlier home (the person
    was seen there before B, or those others were, before they came to B); the person's latest
    record at A is later than the others' arrival at B (the household had already left A: it is
    an old address, not a move ahead of them); the person has no more records at A after their
    last at B than they have at B; and a name is shared, as for following a move. A person who moves somewhere
    new (a young adult who left home) is not affected: nobody of theirs lived at the new place."""
    fam = settings.families
    rule = fam["follow_household"]
    empty = pd.DataFrame({"to": pd.Series(dtype=object), "with": pd.Series(dtype=np.int64)})
    if not rule["enabled"] or not rule["stale_old_address"]:
        return empty
    f = frame[frame["hh"].notna() & frame["seen_date"].notna()]
    if not len(f):
        return empty
    ph = f.groupby(["person", "hh"], sort=False).agg(first=("seen_date", "min"), last=("seen_date", "max"),
                                                     n=("seen_date", "size")).reset_index()
    ph["home"] = home.reindex(ph["person"]).to_numpy()
    ph = ph[ph["home"].notna()]
    current = ph["hh"].to_numpy() == ph["home"].to_numpy()
    at_home, elsewhere = ph[current], ph[~current]
    # The person (p) at their latest address A, and at an earlier address B ...
    p_a = at_home.rename(columns={"hh": "a", "first": "first_a", "last": "last_a", "n": "n_a"})[
        ["person", "a", "first_a", "last_a", "n_a"]]
    p_b = elsewhere.rename(columns={"hh": "b", "first": "first_b", "last": "last_b", "n": "n_b"})[
        ["person", "b", "first_b", "last_b", "n_b"]]
    cand = p_a.merge(p_b, on="person")
    cand = cand[cand["last_a"] > cand["last_b"]]
    if not len(cand):
        return empty
    # The person's records at A after their last at B: the few that say "A" again.
    recs = f[["person", "hh", "seen_date"]].rename(columns={"hh": "a"}).merge(cand[["person", "a", "b", "last_b", "first_b"]],
                                                                            on=["person", "a"])
    recs = recs.assign(after=recs["seen_date"] > recs["last_b"], before=recs["seen_date"] < recs["first_b"])
    counts = recs.groupby(["person", "a", "b"]).agg(n_after=("after", "sum"), p_before=("before", "any")).reset_index()
    cand = cand.merge(counts, on=["person", "a", "b"])
    cand = cand[cand["n_after"] <= cand["n_b"]]
    if not len(cand):
        return empty
    # ... where others (q) now live, seen there with the person, who lived at A before.
    q_b = at_home.rename(columns={"person": "q", "hh": "b", "first": "q_first_b", "last": "q_last_b"})[
        ["q", "b", "q_first_b", "q_last_b"]]
    pairs = cand.merge(q_b, on="b")
    pairs = pairs[pairs["q"] != pairs["person"]]
    together = pd.Timedelta(days=rule["together_days"])
    pairs = pairs[(pairs["q_first_b"] <= pairs["last_b"] + together) & (pairs["q_last_b"] + together >= pairs["first_b"])
                  & (pairs["last_a"] > pairs["q_first_b"])]
    # A was the household's earlier home: the person lived there before B, or the others did.
    q_a = elsewhere.rename(columns={"person": "q", "hh": "a", "last": "q_last_a"})[["q", "a", "q_last_a"]]
    pairs = pairs.merge(q_a, on=["q", "a"], how="left")
    pairs = pairs[pairs["p_before"] | (pairs["q_last_a"] < pairs["q_first_b"])]
    if not len(pairs):
        return empty
    if rule["name_in_common"]:
        everyone = frame["person"].to_numpy()
        mine = _name_tokens(std, everyone, ("sur_tokens",), pairs["person"].unique())
        theirs = _name_tokens(std, everyone, ("sur_tokens", "fore_tokens"), pairs["q"].unique())
        share = [bool(mine.get(p, set()) & theirs.get(q, set())) for p, q in zip(pairs["person"], pairs["q"])]
        pairs = pairs[np.asarray(share, dtype=bool)]
    if not len(pairs):
        return empty
    # One home each: the one most of those others live at (ties: the earliest seen).
    votes = (pairs.groupby(["person", "b"]).agg(n=("q", "nunique"), since=("q_first_b", "min"), q=("q", "min"))
             .reset_index().sort_values(["person", "n", "since", "b"], ascending=[True, False, True, True])
             .drop_duplicates("person"))
    return pd.DataFrame({"to": votes["b"].to_numpy(), "with": votes["q"].to_numpy().astype(np.int64)},
                        index=pd.Index(votes["person"].to_numpy(), name="person"))


def join_by_postcode_and_surname(std: pd.DataFrame, person: np.ndarray, family_home: pd.Series,
                                 home_pos: np.ndarray, max_chance: float) -> pd.DataFrame:
    """Persons with no usable address but a full postcode (a police or ASB record with the
    address left blank): the household key of the one household at that postcode whose members
    share a surname with them. Not where the surname is one many unrelated people share
    (Begum, Kaur, Singh: `sur_shared`), nor where two households there share it, nor where
    more than `max_chance` households there would share it by chance. Per person placed: the
    household key (`to`) and a member of that household (`with`)."""
    out = pd.DataFrame({"to": pd.Series(dtype=object), "with": pd.Series(dtype=np.int64)})
    if "postcode" not in std or "sur_tokens" not in std:
        return out
    homed = family_home.notna().to_numpy()
    f = pd.DataFrame({"person": person, "postcode": std["postcode"].to_numpy(), "tokens": std["sur_tokens"].to_numpy(),
                      "shared": std["sur_shared"].fillna(False).to_numpy(dtype=bool) if "sur_shared" in std else False})
    f = f[f["postcode"].notna() & f["tokens"].map(lambda t: isinstance(t, tuple) and len(t) > 0) & ~f["shared"]]
    if not len(f):
        return out
    f = f.explode("tokens")
    has_home = homed[f["person"].to_numpy()]
    # Households: the postcode of each homed person's own address record, with their surnames.
    pos = home_pos[f["person"].to_numpy()]
    own_pc = np.where(pos >= 0, std["postcode"].to_numpy()[np.maximum(pos, 0)], None)
    at_home = f[has_home & (f["postcode"].to_numpy() == own_pc)]
    at_home = at_home.assign(home=family_home.to_numpy()[at_home["person"].to_numpy()])
    by = at_home.groupby(["postcode", "tokens"])["home"]
    households = by.first()[by.nunique() == 1]
    # How many households at that postcode would share the surname by chance: the surname's
    # share of all households times the households there. A common surname in a large
    # postcode is left alone.
    n_homes = max(at_home["home"].nunique(), 1)
    share = at_home.groupby("tokens")["home"].nunique() / n_homes
    per_pc = at_home.groupby("postcode")["home"].nunique()
    keys = households.index.to_frame(index=False)
    chance = share.reindex(keys["tokens"]).to_numpy() * per_pc.reindex(keys["postcode"]).to_numpy()
    households = households[chance <= max_chance]
    lost = f[~has_home]
    if not len(lost) or not len(households):
        return out
    found = lost.join(households.rename("home"), on=["postcode", "tokens"]).dropna(subset=["home"])
    by_person = found.groupby("person")["home"]
    one = by_person.first()[by_person.nunique() == 1]
    # And a member of that household whose address record shows where it is.
    lead = at_home.drop_duplicates("home").set_index("home")["person"]
    return pd.DataFrame({"to": one.to_numpy(), "with": lead.reindex(one.to_numpy()).to_numpy()},
                        index=one.index)


def join_by_event(std: pd.DataFrame, person: np.ndarray, family_home: pd.Series, sources: list[str],
                  adults: bool = False) -> pd.DataFrame:
    """Persons with no usable address who were recorded in one incident with a household: a
    record of one of `sources` (a domestic abuse incident lists the victim, the perpetrator and
    the children in the household, each a row) on the same day, at the same postcode, sharing a
    surname word with a record of someone whose household is known. Any surname word counts,
    shared ones too (Begum, Kaur): the day, the postcode and the agency already say it is one
    incident. Not where the incident's records point at two households. Only a child at the
    incident (by date of birth) is placed unless `adults`: an adult in a domestic abuse incident
    with no address may be the perpetrator, who is never placed at the victim's home by
    inference. Per person placed: the household key (`to`) and a member of that household
    (`with`)."""
    out = pd.DataFrame({"to": pd.Series(dtype=object), "with": pd.Series(dtype=np.int64)})
    if not sources or "postcode" not in std or "sur_tokens" not in std or "source" not in std:
        return out
    day = pd.to_datetime(std["seen_date"]).to_numpy()
    at = np.flatnonzero(std["source"].astype(str).isin(sources).to_numpy() & std["postcode"].notna().to_numpy()
                        & ~pd.isna(day))
    # The surname's words, and the whole surname (a shared surname such as Begum has no words
    # among the tokens: it tells households apart nowhere else).
    whole = std["sur_whole"].to_numpy()[at] if "sur_whole" in std else np.full(len(at), None, dtype=object)
    tokens = [tuple(set(t if isinstance(t, tuple) else ()) | ({w} if isinstance(w, str) and w else set()))
              for t, w in zip(std["sur_tokens"].to_numpy()[at], whole)]
    f = pd.DataFrame({"person": np.asarray(person, dtype=np.int64)[at], "source": std["source"].astype(str).to_numpy()[at],
                      "day": day[at], "postcode": std["postcode"].to_numpy()[at],
                      "tokens": pd.Series(tokens, dtype=object).to_numpy()})
    year = pd.to_numeric(std["birth_year"], errors="coerce").to_numpy(dtype=np.float64)[at] \
        if "birth_year" in std else np.full(len(at), np.nan)
    # A child at the incident: born fewer than ADULT_AGE years before its year (a year either
    # side of a birthday is the child's benefit of the doubt only one way: under ADULT_AGE - 1
    # by year, so nobody of 18 or more is taken for a child).
    f["child"] = (pd.DatetimeIndex(f["day"]).year.to_numpy() - year) < ADULT_AGE - 1 if len(f) else False
    f = f[f["tokens"].map(len) > 0]
    if not len(f):
        return out
    f = f.explode("tokens")
    f = f.assign(home=family_home.to_numpy()[f["person"].to_numpy()])
    keys = ["source", "day", "postcode", "tokens"]
    homed, lost = f[f["home"].notna()], f[f["home"].isna()]
    if not adults:
        lost = lost[lost["child"].to_numpy(dtype=bool)]
    if not len(homed) or not len(lost):
        return out
    found = lost.drop(columns="home").merge(homed[keys + ["home", "person"]].rename(columns={"person": "with"}), on=keys)
    if not len(found):
        return out
    by_person = found.groupby("person")
    one = by_person["home"].first()[by_person["home"].nunique() == 1]
    lead = found.sort_values(["person", "with"]).drop_duplicates("person").set_index("person")["with"]
    return pd.DataFrame({"to": one.to_numpy(), "with": lead.reindex(one.index).to_numpy().astype(np.int64)},
                        index=one.index)


def form_families(std: pd.DataFrame, person: np.ndarray, n_persons: int, settings: LinkageSettings,
                  as_of: dt.date | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Family label per person, and per person: the household key the family is formed on
    (`home`), the record (position, -1 if none) whose address the person is placed at and its
    date (`home_pos`, `home_seen`: for a member who moved with the household, a record of the
    member they followed), the person's own latest addressed record (`own_latest_pos`), how the
    person was placed (`basis`: uprn, address, household_home, moved_with_household,
    postcode_and_surname, incident, or none) and the household hints that joined them to someone else (`hints`)."""
    # The date of a record's address: its own date, or for a claim the last day it holds it.
    seen = pd.to_datetime(std["seen_date"])
    if "held_until" in std:
        seen = pd.to_datetime(std["held_until"]).fillna(seen)
    frame = pd.DataFrame({"person": person, "seen_date": seen.to_numpy(),
                          "hh": household_keys(std).to_numpy(), "pos": np.arange(len(std)),
                          "source": std["source"].astype(str).to_numpy() if "source" in std else "",
                          "dob": pd.to_datetime(std["dob"]).to_numpy() if "dob" in std else pd.NaT})
    cur = _current_home(frame)
    home = pd.Series(None, index=pd.RangeIndex(n_persons), dtype=object)
    home_date = pd.Series(pd.NaT, index=pd.RangeIndex(n_persons), dtype="datetime64[ns]")
    home_pos = pd.Series(-1, index=pd.RangeIndex(n_persons), dtype=np.int64)
    home.loc[cur.index] = cur["hh"].to_numpy()
    home_date.loc[cur.index] = cur["seen_date"].to_numpy()
    home_pos.loc[cur.index] = cur["pos"].to_numpy()
    basis = np.full(n_persons, "none", dtype=object)
    has = home.notna().to_numpy()
    basis[has] = np.where(home[has].str.startswith("U"), "uprn", "address")

    family_home = home.copy()
    address_pos = home_pos.to_numpy().copy()      # the record whose address the person is shown at
    address_seen = home_date.to_numpy().copy()
    def place(found: pd.DataFrame, why: str, pos: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """Put the persons `found` (index) in the household `to`, shown at the address of the
        record `pos`/`seen` give for their `with` member."""
        at = found.index.to_numpy().astype(np.int64)
        lead = found["with"].to_numpy().astype(np.int64)
        family_home.loc[at] = found["to"].to_numpy()
        basis[at] = why
        address_pos[at] = pos[lead]
        address_seen[at] = seen[lead]
        return at

    stale = stale_latest_address(frame, home, std, settings)
    if len(stale):
        at = place(stale, "household_home", home_pos.to_numpy(), home_date.to_numpy())
        home.loc[at] = stale["to"].to_numpy()
    moved = follow_household(frame, home, std, settings, as_of)
    if len(moved):
        place(moved, "moved_with_household", home_pos.to_numpy(), home_date.to_numpy())

    by_postcode = settings.families["join_by_postcode_and_surname"]
    if by_postcode["enabled"]:
        joined = join_by_postcode_and_surname(std, np.asarray(person), family_home, home_pos.to_numpy(),
                                              by_postcode["max_chance"])
        if len(joined):
            place(joined, "postcode_and_surname", address_pos, address_seen)

    event_sources = settings.families["join_by_event"]["sources"]
    if event_sources:
        joined = join_by_event(std, np.asarray(person), family_home, event_sources,
                               settings.families["join_by_event"]["adults"])
        if len(joined):
            place(joined, "incident", address_pos, address_seen)

    keys_p, keys_k = [], []
    has_home = family_home.notna().to_numpy()
    keys_p.append(np.flatnonzero(has_home))
    keys_k.append(family_home[has_home].to_numpy())
    hint_p, hint_name = [], []
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
        hint_p.append(p[current])
        hint_name.append(np.full(int(current.sum()), hint, dtype=object))
    pp = np.concatenate(keys_p) if keys_p else np.empty(0, np.int64)
    kk = np.concatenate(keys_k) if keys_k else np.empty(0, object)
    kcodes, kuniq = pd.factorize(pd.Series(kk, dtype=object))
    n_nodes = n_persons + len(kuniq)
    labels = components(n_nodes, pp.astype(np.int64), (n_persons + kcodes).astype(np.int64))[:n_persons]
    # A hint joined a person when someone else in the family shares it.
    hints = np.full(n_persons, "", dtype=object)
    if hint_p:
        hp, hn = np.concatenate(hint_p), np.concatenate(hint_name)
        first_hint = len(keys_p[0])
        hk = kcodes[first_hint:]
        shared = np.bincount(hk, minlength=len(kuniq))[hk] > 1
        for p_, name in zip(hp[shared], hn[shared]):
            hints[p_] = name if not hints[p_] else f"{hints[p_]};{name}"
    info = pd.DataFrame({"home": family_home.to_numpy(), "home_pos": address_pos, "home_seen": address_seen,
                         "own_latest_pos": home_pos.to_numpy(), "basis": basis, "hints": hints})
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


# Why a placement is worth a second look (review_families.csv), by how the person was placed.
_REVIEW_REASONS = {
    "moved_with_household": "moved with the household: the person's own latest record is at another address",
    "household_home": "stayed with the household: the person's latest record gives an address the household left",
    "postcode_and_surname": "no address: placed with the household at their postcode that shares their surname",
    "incident": "no address: placed with the household recorded in the same incident (same day, postcode and surname)",
    "hint": "no address: placed by a household hint (a tenancy or a benefit claim) alone",
}


def review_placements(members: pd.DataFrame) -> pd.DataFrame:
    """The uncertain family placements, for clerical review: members placed by something other
    than an address of their own (a household move, a postcode and surname, a hint alone), and
    children in a family with no adult (a child is rarely a household alone: their family is
    likely recorded at another address). One row per person, in family order."""
    cols = ["family_id", "person_id", "role", "age", "forename", "surname", "placed_by", "reason", "address",
            "address_seen_on", "own_address", "own_address_seen_on", "agencies"]
    if not len(members):
        return pd.DataFrame(columns=cols)
    reason = members["placed_by"].map(_REVIEW_REASONS)
    # Whether the family has an adult, by one grouped sum (not a Python call per family).
    adults = (members["role"] == "adult").groupby(members["family_id"].to_numpy()).transform("any").to_numpy()
    alone = (members["role"] == "child") & ~adults & reason.isna()
    reason = reason.where(~alone, np.where(members["placed_by"] == "none",
                                           "a child with no address or household hint, in no family with an adult",
                                           "a child in a family with no adult: the family may be recorded at another address"))
    out = members.assign(reason=reason)[reason.notna()]
    return out.reindex(columns=cols).reset_index(drop=True)

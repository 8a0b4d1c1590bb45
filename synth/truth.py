"""Ground truth: each family's problem flags, computed from the true (uncorrupted) events the
generator made, ignoring rows it wrote to be rejected. Deliberately separate from the criteria
engine so that it can check it."""
from __future__ import annotations

import datetime as dt

from synth.events import QUALIFYING_ASB, QUALIFYING_OUTCOMES, Event, complete_terms

FLAGS = ("crime_youth", "crime_any", "asb", "exclusion", "unauthorised_15", "absence_10", "alternative_provision",
         "out_of_work", "dv", "dv_child", "housing_crisis", "rent_arrears", "has_children")
HOUSING_CRISIS = {"nosp", "eviction", "asb_eviction", "homeless_application", "temporary_accommodation"}


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def family_flags(events: dict[str, list[Event]], households, as_of: dt.date,
                 family_of=None) -> dict[str, dict[str, int]]:
    """family_id -> {flag: 0/1}. A member is whoever lives in the household at as_of.

    `households`: objects with `fid` and `members` (the members at as_of). `family_of(person)`
    gives the family a person belongs to at as_of, or None when the person is not in the area
    then (default: the person's household)."""
    o = as_of.toordinal()
    if family_of is None:
        def family_of(p):
            return p.household.fid
    lo = o - 365   # last 12 months: lo < date <= as_of
    flags = {h.fid: dict.fromkeys(FLAGS, 0) for h in households}

    def child_now(p) -> bool:
        return _age(p.dob, as_of) < 18

    for h in households:
        if any(child_now(p) for p in h.members):
            flags[h.fid]["has_children"] = 1

    def live(agency):
        return (e for e in events[agency] if e.reject is None and family_of(e.person) is not None)

    for e in live("police"):
        f = e.f
        if f["event_type"] == "offence" and f["role"] == "offender" and f["outcome"] in QUALIFYING_OUTCOMES and lo < e.date <= o:
            fam = flags[family_of(e.person)]
            fam["crime_any"] = 1
            if _age(e.person.dob, dt.date.fromordinal(e.date)) < 18:
                fam["crime_youth"] = 1
    for e in live("asb"):
        if e.f["role"] == "perpetrator" and e.f["intervention"] in QUALIFYING_ASB and lo < e.date <= o:
            flags[family_of(e.person)]["asb"] = 1
    for e in live("housing"):
        if lo < e.date <= o:
            if e.f["event_type"] == "asb_eviction":
                flags[family_of(e.person)]["asb"] = 1
            if e.f["event_type"] in HOUSING_CRISIS:
                flags[family_of(e.person)]["housing_crisis"] = 1
            if e.f["event_type"] == "arrears" or (e.f.get("rent_arrears_gbp") or 0) > 0:
                flags[family_of(e.person)]["rent_arrears"] = 1
    for e in live("dv"):
        if lo < e.date <= o:
            fam = flags[family_of(e.person)]
            if e.f["role"] in ("victim", "perpetrator"):
                fam["dv"] = 1
            elif e.f["role"] == "child_in_household" and child_now(e.person):
                fam["dv_child"] = 1
    for e in live("benefits"):
        f = e.f
        if (f["out_of_work"] and f["role"] in ("claimant", "partner") and _age(e.person.dob, as_of) >= 18
                and f["claim_start"] <= o and (f["claim_end"] is None or f["claim_end"] >= o)):
            flags[family_of(e.person)]["out_of_work"] = 1
    window = {(f"{y}/{(y + 1) % 100:02d}", t) for y, t in complete_terms(as_of, 3)}
    pupils: dict[int, list] = {}
    for e in live("schools"):
        if (e.f["academic_year"], e.f["term"]) in window and child_now(e.person):
            pupils.setdefault(id(e.person), [e.person, 0, 0, 0, 0, False, False])
            acc = pupils[id(e.person)]
            f = e.f
            acc[1] += f["sessions_possible"]; acc[2] += f["sessions_unauthorised"]; acc[3] += f["sessions_authorised"]
            acc[4] += f["fixed_term_exclusions"]; acc[5] |= bool(f["permanent_exclusion"]); acc[6] |= bool(f["alternative_provision"])
    for p, possible, unauth, auth, fte, perm, ap in pupils.values():
        fam = flags[family_of(p)]
        if perm or fte >= 3:
            fam["exclusion"] = 1
        if possible > 0 and unauth / possible >= 0.15:
            fam["unauthorised_15"] = 1
        if possible > 0 and (unauth + auth) / possible >= 0.10:
            fam["absence_10"] = 1
        if ap:
            fam["alternative_provision"] = 1
    return flags


OUTCOME_MEASURES = ("education_attendance", "asb_down_60", "youth_offending_down_33", "into_work")


def outcome_measures(events: dict[str, list[Event]], households, as_of: dt.date, family_of) -> dict[str, dict[str, int]]:
    """family_id -> {measure: 0/1}: whether the family meets each national outcome measure at as_of
    (reference doc section 4), from the true events (rows written to be rejected left out).

    education_attendance: a child with school rows in the last 3 complete terms, and no child with
    unauthorised absence of 15% or more or an exclusion (3+ fixed-term, or permanent) there.
    asb_down_60: ASB perpetrator records of members in the last 6 months (182 days) at most 40% of
    the 6 months before, which had some. youth_offending_down_33: offences (charged, cautioned,
    convicted, youth caution) by members under 18 on the date, last 6 months at most two thirds of
    the 6 months before, which had some. into_work: no out-of-work claim open at as_of, and an
    adult member's out-of-work claim ended 13 weeks (91 days) to a year before, with no
    out-of-work claim of a member started since it ended."""
    o = as_of.toordinal()
    flags = family_flags(events, households, as_of, family_of)
    out = {h.fid: dict.fromkeys(OUTCOME_MEASURES, 0) for h in households}

    def live(agency):
        for e in events[agency]:
            if e.reject is None:
                fid = family_of(e.person)
                if fid is not None:
                    yield e, fid

    window = {(f"{y}/{(y + 1) % 100:02d}", t) for y, t in complete_terms(as_of, 3)}
    pupils = {fid for e, fid in live("schools") if (e.f["academic_year"], e.f["term"]) in window
              and _age(e.person.dob, as_of) < 18}
    for fid in pupils:
        if not flags[fid]["unauthorised_15"] and not flags[fid]["exclusion"]:
            out[fid]["education_attendance"] = 1
    counts: dict[tuple[str, str], list[int]] = {}
    for e, fid in live("asb"):
        if e.f["role"] == "perpetrator" and o - 365 < e.date <= o:
            counts.setdefault((fid, "asb_down_60"), [0, 0])[e.date > o - 182] += 1
    for e, fid in live("police"):
        f = e.f
        if (f["event_type"] == "offence" and f["role"] == "offender" and f["outcome"] in QUALIFYING_OUTCOMES
                and o - 365 < e.date <= o and _age(e.person.dob, dt.date.fromordinal(e.date)) < 18):
            counts.setdefault((fid, "youth_offending_down_33"), [0, 0])[e.date > o - 182] += 1
    for (fid, measure), (before, recent) in counts.items():
        share = 0.4 if measure == "asb_down_60" else 2 / 3
        if before > 0 and recent <= share * before:
            out[fid][measure] = 1
    ended: dict[str, int] = {}
    started: dict[str, int] = {}
    for e, fid in live("benefits"):
        f = e.f
        if not f["out_of_work"] or f["role"] not in ("claimant", "partner") or f["claim_start"] > o:
            continue
        started[fid] = max(started.get(fid, f["claim_start"]), f["claim_start"])
        if f["claim_end"] is not None and f["claim_end"] < o and _age(e.person.dob, as_of) >= 18:
            ended[fid] = max(ended.get(fid, f["claim_end"]), f["claim_end"])
    for fid, end in ended.items():
        if not flags[fid]["out_of_work"] and o - 365 <= end <= o - 91 and started[fid] <= end:
            out[fid]["into_work"] = 1
    return out

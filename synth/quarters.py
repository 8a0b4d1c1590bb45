"""Several quarters of ONE synthetic population: the first quarter is built as `generate` builds it,
then the population evolves (moves, births, partners moving in and out, adult children leaving,
families leaving and arriving, improvements that last or lapse) and each quarter's extracts hold
the records an agency would re-send then (a rolling look-back). docs/sample-data.md, "Quarters".
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter, defaultdict
from pathlib import Path

import yaml

import synth.corrupt as C
from synth.events import (INCIDENT_CATEGORIES, OFFENCE_CATEGORIES, QUALIFYING_ASB, QUALIFYING_OUTCOMES,
                                   YEAR, Event, complete_terms, make_events, poisson, term_bounds, year_label)
from synth.extracts import (AGENCIES, MIXED, PROFILES, RECORD_PREFIX, REJECTS, Recorder, _make_invalid,
                            address_date, check_columns, may_lag, write_extract)
from synth.population import _dob, build
from synth.truth import FLAGS, family_flags, outcome_measures

NEVER = -10**9
LOOK_BACK = 3 * YEAR          # police, dv, asb, housing events; benefit claims open in it
SCHOOL_TERMS = 6              # complete terms in a schools extract
QUARTER = 91                  # days: the rates below are per quarter and scale with the step

# Changes per quarter (shares of the households or people that qualify); docs/sample-data.md.
RATES = {
    "family_moved": 0.02,        # households moving house within the area
    "family_left_area": 0.015,   # households leaving the area
    "family_new": 0.015,         # new households arriving (share of the households present)
    "partner_in": 0.01,          # one-adult households a partner from a one-person household moves into
    "partner_out": 0.008,        # couples where one partner moves out to a new address
    "adult_child_leaves": 0.12,  # adult children (18-25) living with a parent
    "birth": 0.015,              # women 18-44 with a partner (half that alone), no baby under one yet
    "newly_high_need": 0.012,    # households gaining correlated problems
    "record_review": 0.02,       # re-sent records checked by the agency (corrected if it has something to fix)
}
GROWN_CHILDREN = 0.10            # families with children that also have a son or daughter 18-24 at home
IMPROVE = 0.6                    # eligible (high-need family, measure) pairs that improve after q1
SUSTAIN = 0.55                   # improvements that last (the rest lapse in the last quarter)
MEASURES = ("education_attendance", "asb_down_60", "youth_offending_down_33", "into_work")
OUT_OF_WORK_TYPES = ("UC", "UC", "UC", "ESA", "JSA", "IS")


def add_months(d: dt.date, months: int) -> dt.date:
    """The same day `months` later; a month-end date stays a month end (30 June -> 30 September -> 31 December)."""
    def last_day(y, m):
        return (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    y, m0 = divmod(d.month - 1 + months, 12)
    y, m = d.year + y, m0 + 1
    day = last_day(y, m) if d.day == last_day(d.year, d.month) else min(d.day, last_day(y, m))
    return dt.date(y, m, day)


def _iso(o: int | None) -> str:
    return "" if o is None else dt.date.fromordinal(o).isoformat()


class Evolution:
    """The population through time: family membership and address of every person, and the events."""

    def __init__(self, b, m, as_ofs: list[dt.date], seed: int):
        self.b, self.m, self.seed = b, m, seed
        self.as_ofs = as_ofs
        self.ords = [a.toordinal() for a in as_ofs]
        self.rng = random.Random(f"{seed}:quarters")
        m.rng = random.Random(f"{seed}:quarters:events")   # the base events are already drawn
        self.fam: dict[str, list[tuple[int, str | None]]] = {p.pid: [(NEVER, p.household.fid)] for p in b.persons}
        self.ever: dict[str, list] = defaultdict(list)
        for p in b.persons:
            self.ever[p.household.fid].append(p)
        self.by_fid = {h.fid: h for h in b.households}
        self.changes: list[tuple] = []            # (quarter, kind, person_id, family_id, other_family_id, date)
        self.high_need_from: dict[str, int] = {h.fid: 0 for h in b.households if h.high_need}
        self.hn_problems: dict[str, set] = {h.fid: set(h.problems) for h in b.households if h.high_need}
        self.protect: set[str] = set()           # families with a tracked outcome: no leaving, merging, splitting
        self.outcomes: list[dict] = []
        self.quiet: dict[tuple[str, str], tuple[int, int]] = {}   # (fid, measure) -> (from, until): no recurrence
        self.edu: dict[str, dict] = {}           # fid -> education improvement (lapse term or None)
        self.protected_events: set[int] = set()  # ids of events never written to be rejected
        self._idx: dict[str, list] = {}
        self._claims: dict[str, list[Event]] = defaultdict(list)
        self._claims_seen = 0
        self.terms_base = complete_terms(as_ofs[0], SCHOOL_TERMS)
        terms = set(self.terms_base)
        for a in as_ofs[1:]:
            terms.update(complete_terms(a, SCHOOL_TERMS))
        order = {"autumn": 0, "spring": 1, "summer": 2}
        self.terms_new = sorted(terms - set(self.terms_base), key=lambda t: (t[0], order[t[1]]))

    # ---- membership ---------------------------------------------------------------------------
    def family_at(self, p, o: int) -> str | None:
        fid = None
        for start, f in self.fam[p.pid]:
            if start <= o:
                fid = f
            else:
                break
        return fid

    def last_family(self, p) -> str:
        return next(f for _, f in reversed(self.fam[p.pid]) if f is not None)

    def set_family(self, p, d: int, fid: str | None) -> None:
        self.fam[p.pid].append((d, fid))
        if fid is not None and p not in self.ever[fid]:
            self.ever[fid].append(p)

    def members_at(self, fid: str, o: int) -> list:
        return [p for p in self.ever[fid] if self.family_at(p, o) == fid]

    def snapshot(self, o: int) -> dict[str, list]:
        out: dict[str, list] = {}
        for p in self.b.persons:
            fid = self.family_at(p, o)
            if fid is not None:
                out.setdefault(fid, []).append(p)
        return dict(sorted(out.items()))

    def change(self, q: int, kind: str, person=None, fid="", other="", date: int | None = None) -> None:
        self.changes.append((f"q{q + 1}", kind, person.pid if person is not None else "", fid, other, _iso(date)))

    # ---- new households and people ------------------------------------------------------------
    def _register_new(self, persons_before: int, households_before: int) -> None:
        b = self.b
        for i in range(households_before, len(b.households)):
            h = b.households[i]
            h.fid = f"TF{i + 1:07d}"
            self.by_fid[h.fid] = h
        for i in range(persons_before, len(b.persons)):
            p = b.persons[i]
            p.pid = f"TP{i + 1:08d}"
            p.age = p.age_on(b.as_of)
            d = p.history[-1][1].district
            p.urn_primary, p.urn_secondary = b.urns[d][0] + (i % 7), b.urns[d][1] + (i % 3)

    def new_household(self, community: str) -> object:
        nb, nh = len(self.b.persons), len(self.b.households)
        h = self.b.new_household(community, "single")
        self._register_new(nb, nh)
        return h

    def add_person(self, h, p, since: int) -> None:
        nb = len(self.b.persons)
        self.b.add(h, p)
        self._register_new(nb, len(self.b.households))
        self.fam[p.pid] = [(since, h.fid)]
        self.ever[h.fid].append(p)

    def move_person(self, p, d: int, to_h, address) -> None:
        old = p.household
        if p in old.members:
            old.members.remove(p)
        to_h.members.append(p)
        p.household = to_h
        p.history.append((d, address))
        self.set_family(p, d, to_h.fid)

    # ---- indexes over the events (events are only appended until the sweep) ----------------------
    def of_person(self, agency: str, p) -> list[Event]:
        """A person's events in one agency."""
        seen, idx = self._idx.setdefault(agency, [0, defaultdict(list)])
        evs = self.m.events[agency]
        for e in evs[seen:]:
            idx[e.person.pid].append(e)
        self._idx[agency][0] = len(evs)
        return idx.get(p.pid, [])

    def claims(self) -> dict[str, list[Event]]:
        """claim_ref -> the claim's rows."""
        evs = self.m.events["benefits"]
        for e in evs[self._claims_seen:]:
            self._claims[e.f["claim_ref"]].append(e)
        self._claims_seen = len(evs)
        return self._claims

    def _claims_of(self, persons) -> list[str]:
        claims = self.claims()
        refs = {e.f["claim_ref"] for p in persons for e in self.of_person("benefits", p)
                if e.f["role"] in ("claimant", "partner")}
        return sorted(r for r in refs if r in claims)

    def open_oow_claims(self, persons, o: int) -> list[str]:
        claims = self.claims()
        return [ref for ref in self._claims_of(persons)
                if (f := claims[ref][0].f)["out_of_work"] and f["claim_start"] <= o
                and (f["claim_end"] is None or f["claim_end"] >= o)]

    def end_claims(self, refs, d: int) -> None:
        claims = self.claims()
        for ref in refs:
            for e in claims[ref]:
                if e.f["claim_end"] is None or e.f["claim_end"] > d:
                    e.f["claim_end"] = max(d, e.f["claim_start"])

    def new_claim(self, btype: str, oow: bool, claimant, start: int, partner=None, end=None) -> list[Event]:
        m = self.m
        m.claim_no += 1
        ref = f"{btype}{(m.claim_no * 7919 + 5_000_000) % 10_000_000:07d}"
        out = [m.add("benefits", claimant, start, benefit_type=btype, out_of_work=oow, claim_ref=ref, role="claimant",
                     claim_start=start, claim_end=end)]
        if partner is not None:
            out.append(m.add("benefits", partner, start, benefit_type=btype, out_of_work=oow, claim_ref=ref,
                             role="partner", claim_start=start, claim_end=end))
        return out

    # ---- setup after the first quarter ---------------------------------------------------------
    def grown_children(self) -> None:
        """Sons and daughters aged 18-24 still at home: the adult children who may leave later."""
        b, rng = self.b, self.rng
        o = self.ords[0]
        for h in list(b.households):
            parents = [p for p in h.members if p.is_parent]
            if h.shape not in ("couple_kids", "single_parent", "multigen", "blended") or not parents:
                continue
            if rng.random() >= GROWN_CHILDREN:
                continue
            mother = next((p for p in parents if p.sex == "F"), parents[0])
            father = next((p for p in parents if p.sex == "M"), None)
            dob = _dob(rng, o, 18.1, 24.9)
            if mother.dob.year + 17 > dob.year:
                continue
            sex = "M" if rng.random() < 0.5 else "F"
            surname = father.surname if father is not None else mother.surname
            young = b.person(h.community, sex, dob, surname, father=father if h.patronymic else None,
                             patronymic=h.patronymic)
            self.add_person(h, young, NEVER)
            young.history = list(mother.history)   # at home through every move
            self.person_background(young, o - LOOK_BACK, o, hn=False)

    def plan_improvements(self, flags_q1: dict) -> None:
        """Among families high-need at q1, improvements in the outcome measures; some lapse later."""
        rng, m = self.rng, self.m
        a1, last = self.ords[0], self.ords[-1]
        n = len(self.ords)
        last_start = self.ords[-2] if n > 1 else a1
        first_room = (self.ords[1] - a1) if n > 1 else 30
        snap = self.snapshot(a1)
        choices: list[tuple[str, str, dict]] = []
        for fid in sorted(self.high_need_from):
            if fid not in snap:
                continue
            fl, members, probs = flags_q1[fid], snap[fid], self.hn_problems[fid]
            if "education" in probs and (fl["unauthorised_15"] or fl["exclusion"]) and self.terms_new:
                pupils = [p for p in members if any(4 <= _age_aug31(p, y) < 16 for y, _ in self.terms_new)
                          and any(4 <= _age_aug31(p, y) < 16 for y, _ in self.terms_base[-3:])]
                if pupils:
                    choices.append((fid, "education_attendance", {"pupils": pupils}))
            if "asb" in probs and fl["asb"]:
                perps = [e.person for p in members for e in self.of_person("asb", p) if e.f["role"] == "perpetrator"
                         and a1 - YEAR < e.date <= a1]
                if perps:
                    choices.append((fid, "asb_down_60", {"who": perps[0]}))
            if "crime" in probs and fl["crime_youth"]:
                youths = [e.person for p in members for e in self.of_person("police", p) if e.f["role"] == "offender"
                          and e.f["outcome"] in QUALIFYING_OUTCOMES and a1 - YEAR < e.date <= a1
                          and _age(e.person, last) < 18]
                if youths:
                    choices.append((fid, "youth_offending_down_33", {"who": youths[0]}))
            if "work" in probs and fl["out_of_work"]:
                adults = [p for p in members if _age(p, a1) >= 18]
                refs = self.open_oow_claims(adults, a1)
                if refs:
                    claimant = next(e.person for e in self.claims()[refs[0]] if e.f["role"] == "claimant")
                    choices.append((fid, "into_work", {"refs": refs, "who": claimant}))
        made = 0
        for fid, measure, info in choices:
            if rng.random() >= IMPROVE:
                continue
            can_lapse = n >= 3 or (n == 2 and measure != "education_attendance")
            if measure == "education_attendance" and len(self.terms_new) < 2:
                can_lapse = False
            lapse = can_lapse and (made == 1 or (made > 1 and rng.random() >= SUSTAIN))
            made += 1
            self.protect.add(fid)
            row = {"family_id": fid, "measure": measure, "problem_at": "q1", "improved_from": None, "lapsed_at": None}
            if measure == "education_attendance":
                first = self.terms_new[0]
                row["improved_from"] = term_bounds(*first)[0].toordinal()
                lapse_term = self.terms_new[-1] if lapse else None
                if lapse_term:
                    row["lapsed_at"] = term_bounds(*lapse_term)[0].toordinal()
                    row["visible_at"] = term_bounds(*lapse_term)[1].toordinal()
                self.edu[fid] = {"lapse": lapse_term}
                self._improve_school_rows(fid, info["pupils"])
            elif measure in ("asb_down_60", "youth_offending_down_33"):
                who = info["who"]
                self._baseline(measure, who, fid)
                start = a1 + 1
                row["improved_from"] = start
                if lapse:
                    lo = max(last_start, start + 30)
                    row["lapse_window"] = (lo, last)
                self.quiet[(fid, measure)] = (start, last + 1)
                row["who"] = who
            else:
                d = a1 + 1 + int(rng.random() * min(30, first_room - 1))
                self.end_claims(info["refs"], d)
                row["improved_from"] = d
                if lapse:
                    row["lapse_window"] = (max(last_start, d + 30), last)
                self.quiet[(fid, measure)] = (d, last + 1)
                row["who"] = info["who"]
            self.outcomes.append(row)

    def _baseline(self, measure: str, who, fid: str) -> None:
        """At least two incidents in the months before q1, so that a fall can be measured."""
        m, rng, a1 = self.m, self.rng, self.ords[0]
        if measure == "asb_down_60":
            have = sum(1 for e in self.of_person("asb", who) if e.f["role"] == "perpetrator"
                       and a1 - 170 < e.date <= a1)
            for _ in range(max(0, 2 - have)):
                m.asb(who, a1 - 5 - int(rng.random() * 160), "perpetrator", rng.choice(("warning", "abc")))
        else:
            have = sum(1 for e in self.of_person("police", who) if e.f["role"] == "offender"
                       and e.f["outcome"] in QUALIFYING_OUTCOMES and a1 - 170 < e.date <= a1)
            for _ in range(max(0, 2 - have)):
                d = a1 - 5 - int(rng.random() * 160)
                if m.age_at(who, d) >= 10:
                    m.offence(who, d, rng.choice(("charged", "cautioned", "youth_caution")))

    def _improve_school_rows(self, fid: str, pupils) -> None:
        """An improving child's terms before q1 show the problem (unauthorised absence 20-30%, no
        exclusions, so that it is present at q1 and can clear); the school rows after are good."""
        rng = self.rng
        window = set(self.terms_base[-3:])
        for e in self.m.events["schools"]:
            if e.person in pupils:
                f = e.f
                key = (int(f["academic_year"][:4]), f["term"])
                possible = f["sessions_possible"]
                unauth = int(possible * (0.20 + rng.random() * 0.10)) if key in window else int(possible * (0.1 + rng.random() * 0.1))
                f["sessions_unauthorised"] = unauth
                f["sessions_authorised"] = min(possible - unauth, int(possible * (0.02 + rng.random() * 0.03)))
                f["fixed_term_exclusions"] = 0
                f["permanent_exclusion"] = False
                f["alternative_provision"] = False
                f["school_urn"] = str(e.person.urn_secondary if _age_aug31(e.person, key[0]) >= 11
                                      else e.person.urn_primary)

    # ---- background events for an interval -----------------------------------------------------
    def quiet_for(self, p, measure: str, d: int) -> bool:
        fid = self.family_at(p, d)
        w = self.quiet.get((fid, measure))
        return w is not None and w[0] <= d < w[1]

    def person_background(self, p, a: int, z: int, hn: bool) -> None:
        m, rng = self.m, self.m.rng
        span = z - a
        k = span / YEAR

        def when():
            return a + 1 + int(rng.random() * span)

        for role, rate in (("victim", 0.03), ("witness", 0.015), ("suspect", 0.004)):
            for _ in range(poisson(rng, rate * k)):
                d = when()
                if m.age_at(p, d) < (10 if role == "suspect" else 5):
                    continue
                m.add("police", p, d, event_type="offence", offence_category=rng.choice(OFFENCE_CATEGORIES),
                      outcome=None if role != "suspect" else "nfa", role=role)
        for _ in range(poisson(rng, 0.02 * k)):
            d = when()
            if m.age_at(p, d) >= 5:
                m.add("police", p, d, event_type="incident", offence_category=rng.choice(INCIDENT_CATEGORIES),
                      outcome=None, role=rng.choice(("victim", "witness", "suspect")))
        age = m.age_at(p, z)
        rate = 0.012 if 18 <= age < 60 else (0.015 if 10 <= age < 18 else 0.002)
        for _ in range(poisson(rng, rate * k * (1 + 2 * hn))):
            d = when()
            if m.age_at(p, d) >= 10 and not (m.age_at(p, d) < 18 and self.quiet_for(p, "youth_offending_down_33", d)):
                m.offence(p, d)
        for _ in range(poisson(rng, 0.01 * k)):
            d = when()
            if m.age_at(p, d) >= 5:
                m.asb(p, d, "victim")
        if 10 <= age < 60:
            for _ in range(poisson(rng, 0.005 * k)):
                d = when()
                if not self.quiet_for(p, "asb_down_60", d):
                    m.asb(p, d, "perpetrator")

    def dv_incident(self, fid: str, d: int, risk: str | None = None) -> None:
        self.m.dv_among(self.members_at(fid, d), d, risk)

    def household_background(self, fid: str, a: int, z: int) -> None:
        m, rng = self.m, self.m.rng
        span = z - a
        k = span / YEAR
        h = self.by_fid[fid]
        members = self.members_at(fid, z)
        adults = [p for p in members if m.age_at(p, z) >= 18]
        if not adults:
            return
        hn = fid in self.high_need_from
        if rng.random() < 0.01 * k:
            self.dv_incident(fid, a + 1 + int(rng.random() * span))
        if h.tenure == "social" and h.tenancy_ref:
            lead = adults[0]
            if rng.random() < (0.25 if hn else 0.06) * k:
                m.add("housing", lead, a + 1 + int(rng.random() * span), event_type="arrears", tenancy_ref=h.tenancy_ref,
                      rent_arrears_gbp=round(80 + rng.random() * 2900, 2))
            if rng.random() < 0.015 * k:
                m.add("housing", lead, a + 1 + int(rng.random() * span), event_type="nosp", tenancy_ref=h.tenancy_ref,
                      rent_arrears_gbp=round(500 + rng.random() * 3000, 2))
        if rng.random() < 0.008 * k:
            m.add("housing", adults[0], a + 1 + int(rng.random() * span), event_type="homeless_application",
                  tenancy_ref=None, rent_arrears_gbp=None)
        working = [p for p in adults if m.age_at(p, z) < 66]
        if not working or (fid, "into_work") in self.quiet:
            return
        refs = self.open_oow_claims(adults, a)
        if refs and not (hn and "work" in self.hn_problems.get(fid, ())):
            if rng.random() < 0.08 * span / QUARTER:
                self.end_claims(refs, a + 1 + int(rng.random() * span))
        elif not refs and rng.random() < 0.012 * span / QUARTER:
            self.new_claim(rng.choice(OUT_OF_WORK_TYPES), True, working[0], a + 1 + int(rng.random() * span))

    def continuing_problems(self, fid: str, a: int, z: int) -> None:
        """A high-need family's problems go on unless the family is improving in that measure."""
        m, rng = self.m, self.m.rng
        span = z - a
        probs = self.hn_problems[fid]
        members = self.members_at(fid, z)
        if not members:
            return
        if "crime" in probs:
            young_quiet = (fid, "youth_offending_down_33") in self.quiet
            offenders = [e.person for p in members for e in self.of_person("police", p) if e.f["role"] == "offender"
                         and e.f["outcome"] in QUALIFYING_OUTCOMES]
            for p in sorted(set(offenders), key=lambda p: p.pid):
                d = a + 1 + int(rng.random() * span)
                if rng.random() < 0.6 and not (young_quiet and m.age_at(p, d) < 18):
                    m.offence(p, d, rng.choice(QUALIFYING_OUTCOMES[:3] + (("youth_caution",) if m.age_at(p, d) < 18 else ())))
        if "asb" in probs and (fid, "asb_down_60") not in self.quiet and rng.random() < 0.6:
            pool = [p for p in members if m.age_at(p, z) >= 10] or members
            m.asb(pool[int(rng.random() * len(pool))], a + 1 + int(rng.random() * span), "perpetrator",
                  rng.choice(QUALIFYING_ASB))
        if "dv" in probs and rng.random() < 0.5:
            self.dv_incident(fid, a + 1 + int(rng.random() * span), rng.choice(("medium", "high")))

    def newly_high_need(self, q: int, fid: str, a: int, z: int) -> None:
        m, rng = self.m, self.m.rng
        span = z - a
        members = self.members_at(fid, a + 1)
        kids = [p for p in members if m.age_at(p, z) < 16]
        options = [("crime", 0.6), ("asb", 0.45), ("education", 0.8 if kids else 0), ("work", 0.7), ("dv", 0.5),
                   ("housing", 0.4)]
        probs: set[str] = set()
        while len(probs) < 3:
            probs = {k for k, pr in options if rng.random() < pr}
        self.high_need_from[fid] = q
        self.hn_problems[fid] = probs
        h = self.by_fid[fid]
        adults = [p for p in members if m.age_at(p, z) >= 18] or members
        if "crime" in probs:
            pool = [p for p in members if 10 <= m.age_at(p, z) < 60] or members
            for p in rng.sample(pool, min(len(pool), 1 + (rng.random() < 0.4))):
                d = a + 1 + int(rng.random() * span)
                if m.age_at(p, d) >= 10:
                    m.offence(p, d, rng.choice(QUALIFYING_OUTCOMES[:3]))
        if "asb" in probs:
            pool = [p for p in members if m.age_at(p, z) >= 10] or members
            m.asb(pool[int(rng.random() * len(pool))], a + 1 + int(rng.random() * span), "perpetrator",
                  rng.choice(QUALIFYING_ASB))
        if "dv" in probs:
            for _ in range(1 + int(rng.random() * 2)):
                self.dv_incident(fid, a + 1 + int(rng.random() * span), rng.choice(("medium", "high")))
        if "housing" in probs:
            d = a + 1 + int(rng.random() * span)
            if h.tenure == "social" and h.tenancy_ref:
                m.add("housing", adults[0], d, event_type="nosp", tenancy_ref=h.tenancy_ref,
                      rent_arrears_gbp=round(900 + rng.random() * 4000, 2))
            else:
                m.add("housing", adults[0], d, event_type="homeless_application", tenancy_ref=None, rent_arrears_gbp=None)
        if "work" in probs:
            working = [p for p in adults if m.age_at(p, z) < 66]
            if working and not self.open_oow_claims(adults, z):
                self.new_claim(rng.choice(OUT_OF_WORK_TYPES), True, working[0], a + 1 + int(rng.random() * span))
        self.change(q, "family_became_high_need", None, fid, "", a + 1)

    # ---- one quarter's changes ----------------------------------------------------------------
    def evolve(self, q: int) -> None:
        """Changes in (as_of[q-1], as_of[q]]: structure first, then that interval's events."""
        b, rng, m = self.b, self.rng, self.m
        a, z = self.ords[q - 1], self.ords[q]
        span = z - a
        scale = span / QUARTER

        def when(lo=a):
            return lo + 1 + int(rng.random() * (z - lo))

        def draw(cands, rate):
            """Each candidate with probability rate; at least one when any qualifies (so small sets
            still exercise every kind of change)."""
            chosen = [c for c in cands if rng.random() < rate * scale]
            if not chosen and cands:
                chosen = [cands[int(rng.random() * len(cands))]]
            return chosen

        snap = self.snapshot(a)
        touched: set[str] = set(self.protect)
        free = [fid for fid in snap if fid not in touched]

        # families leaving the area: no records after the date they left; open claims close
        for fid in draw(free, RATES["family_left_area"]):
            d = when()
            members = snap[fid]
            self.end_claims(self.open_claims_of(members, d), d)
            for p in members:
                self.set_family(p, d, None)
                self.change(q, "person_left_area", p, fid, "", d)
            self.change(q, "family_left_area", None, fid, "", d)
            touched.add(fid)
        free = [f for f in free if f not in touched]
        # whole households moving house within the area
        for fid in draw(free, RATES["family_moved"]):
            d = when()
            h = self.by_fid[fid]
            addr = b.addresses.new(near=h.address)
            h.address = addr
            for p in snap[fid]:
                p.history.append((d, addr))
                self.change(q, "person_moved", p, fid, "", d)
            self.change(q, "family_moved", None, fid, "", d)
            if h.tenure == "social" and h.tenancy_ref:
                m.tenancy_no += 1
                h.tenancy_ref = f"TEN{100000 + m.tenancy_no * 7 % 900000:06d}/{1 + int(rng.random() * 9)}"
                lead = next((p for p in snap[fid] if p.age_on(dt.date.fromordinal(d)) >= 18), None)
                if lead is not None:
                    m.add("housing", lead, d, event_type="tenancy", tenancy_ref=h.tenancy_ref, rent_arrears_gbp=None)
            touched.add(fid)
        # a partner moving out: a split, the leaver gets a new family id at a new address
        couples = []
        for fid in free:
            if fid in touched:
                continue
            h = self.by_fid[fid]
            ms = snap[fid]
            if h.shape in ("couple", "couple_kids", "blended") and len(h.members) >= 2:
                x, y = h.members[0], h.members[1]
                if x in ms and y in ms and x.sex != y.sex and _age(x, a) >= 18 and _age(y, a) >= 18:
                    couples.append(fid)
        for fid in draw(couples, RATES["partner_out"]):
            h = self.by_fid[fid]
            x, y = h.members[0], h.members[1]
            leaver = x if x.sex == "M" else y
            if not any(_age(p, a) < 18 for p in snap[fid]) and rng.random() < 0.5:
                leaver = y if leaver is x else x
            d = when()
            new = self.new_household(h.community)
            self.move_person(leaver, d, new, new.address)
            self.change(q, "person_moved", leaver, new.fid, fid, d)
            self.change(q, "family_split", None, fid, new.fid, d)
            touched.update((fid, new.fid))
        # adult children leaving to their own address: a split
        grown = []
        for fid in free:
            if fid in touched:
                continue
            h = self.by_fid[fid]
            if h.shape not in ("couple_kids", "single_parent", "multigen", "blended"):
                continue
            for p in snap[fid]:
                if not p.is_parent and 18 <= _age(p, a) <= 25 and p not in h.members[:2] and len(self.fam[p.pid]) == 1:
                    grown.append((fid, p))
        taken: set[str] = set()
        for fid, p in draw(grown, RATES["adult_child_leaves"]):
            if fid in taken:
                continue
            taken.add(fid)
            d = when()
            new = self.new_household(self.by_fid[fid].community)
            self.move_person(p, d, new, new.address)
            self.change(q, "person_moved", p, new.fid, fid, d)
            self.change(q, "family_split", None, fid, new.fid, d)
            touched.update((fid, new.fid))
        # a partner moving in: a merge; the household with more members keeps its id (the host on a tie)
        hosts, joiners = [], []
        for fid in free:
            if fid in touched:
                continue
            ms = snap[fid]
            adults = [p for p in ms if _age(p, a) >= 18]
            if len(adults) == 1 and 20 <= _age(adults[0], a) < 60:
                (joiners if len(ms) == 1 else hosts).append((fid, adults[0]))
        hosts = hosts + [j for j in joiners if j[1].sex == "F"]
        for fid, host_adult in draw(hosts, RATES["partner_in"]):
            if fid in touched:
                continue
            cands = [(f, p) for f, p in joiners if f not in touched and f != fid and p.sex != host_adult.sex
                     and abs(_age(p, a) - _age(host_adult, a)) <= 12]
            same = [c for c in cands if c[1].community == host_adult.community]
            cands = same or cands
            if not cands:
                continue
            jfid, joiner = cands[int(rng.random() * len(cands))]
            d = when()
            keep, gone, mover = (fid, jfid, joiner)
            if len(snap[jfid]) > len(snap[fid]):   # cannot happen with one-person joiners; kept for the rule
                keep, gone, mover = jfid, fid, host_adult
            stayer = host_adult if keep == fid else joiner
            self.move_person(mover, d, self.by_fid[keep], stayer.address_on(d))
            self.change(q, "person_moved", mover, keep, gone, d)
            self.change(q, "family_merged", None, keep, gone, d)
            touched.update((fid, jfid))
        # births: a baby appears in later records (DV, benefits); no UPN until school age
        mothers = []
        for fid in free:
            if fid in touched and fid not in self.protect:
                continue
            ms = snap[fid]
            men = [p for p in ms if p.sex == "M" and _age(p, a) >= 18]
            for p in ms:
                if p.sex == "F" and 18 <= _age(p, a) <= 44 and not any(0 <= _age(c, a) < 1 for c in ms):
                    mothers.append((fid, p, men[0] if men else None))
        for fid, mother, father in draw(mothers, RATES["birth"]):
            if father is None and rng.random() < 0.5:
                continue
            d = when()
            h = self.by_fid[fid]
            sex = "M" if rng.random() < 0.51 else "F"
            surname = father.surname if father is not None else mother.surname
            baby = b.person(h.community, sex, dt.date.fromordinal(d), surname,
                            father=father if h.patronymic and father is not None else None, patronymic=h.patronymic)
            self.add_person(h, baby, d)
            baby.upn = None
            baby.history = [(NEVER, mother.address_on(d))]
            self.change(q, "person_born", baby, fid, "", d)
            self.new_claim("CB", False, mother, d + 14 + int(rng.random() * 46))
            for ref in self.open_claims_of([mother], d):
                rows = self.claims()[ref]
                if rows[0].f["benefit_type"] == "UC":
                    f = rows[0].f
                    m.add("benefits", baby, d + 7 + int(rng.random() * 33), benefit_type="UC", out_of_work=f["out_of_work"],
                          claim_ref=ref, role="dependant", claim_start=d + 7, claim_end=f["claim_end"])
                    break
            touched.add(fid)
        # new families arriving: records only from the day they arrived
        n_new = max(1, int(len(snap) * RATES["family_new"] * scale + rng.random()))
        for _ in range(n_new):
            nb, nh = len(b.persons), len(b.households)
            h = b.build_household()
            self._register_new(nb, nh)
            d = when()
            for p in h.members:
                self.fam[p.pid] = [(d, h.fid)]
                self.ever[h.fid].append(p)
                self.change(q, "person_joined_area", p, h.fid, "", d)
            self.change(q, "family_new", None, h.fid, "", d)
            self._arrival_records(h, d, z)
        # the interval's events
        snap_z = self.snapshot(z)
        present = sorted(set(snap) | set(snap_z))
        seen: set[str] = set()
        for fid in present:
            for p in self.ever[fid]:
                if p.pid in seen:
                    continue
                if any(self.family_at(p, o) is not None for o in (a + 1, z)):
                    seen.add(p.pid)
                    self.person_background(p, a, z, hn=fid in self.high_need_from)
        for fid in present:
            if self.members_at(fid, z):
                self.household_background(fid, a, z)
        for fid in sorted(self.high_need_from):
            if self.high_need_from[fid] < q:
                self.continuing_problems(fid, a, z)
        cands = [fid for fid in snap_z if fid not in self.high_need_from and fid not in touched
                 and fid in snap and self.members_at(fid, a + 1)]
        for fid in draw(cands, RATES["newly_high_need"]):
            self.newly_high_need(q, fid, a, z)
        if q == len(self.ords) - 1:
            self.lapses()

    def open_claims_of(self, persons, d: int) -> list[str]:
        claims = self.claims()
        return [ref for ref in self._claims_of(persons)
                if (f := claims[ref][0].f)["claim_start"] <= d and (f["claim_end"] is None or f["claim_end"] > d)]

    def _arrival_records(self, h, d: int, z: int) -> None:
        """A family new to the area: a tenancy (30%), benefit claims started here."""
        m, rng = self.m, self.m.rng
        adults = [p for p in h.members if _age(p, d) >= 18]
        kids = [p for p in h.members if _age(p, d) < 18]
        if not adults:
            return
        if rng.random() < 0.3:
            h.tenure = "social"
            m.tenancy_no += 1
            h.tenancy_ref = f"TEN{100000 + m.tenancy_no * 7 % 900000:06d}/{1 + int(rng.random() * 9)}"
            h.tenancy_start = d
            m.add("housing", adults[0], d, event_type="tenancy", tenancy_ref=h.tenancy_ref, rent_arrears_gbp=None)
        if kids and rng.random() < 0.8:
            self.new_claim("CB", False, adults[0], d + 14 + int(rng.random() * 46))
        working = [p for p in adults if _age(p, d) < 66]
        if working and rng.random() < 0.08:
            self.new_claim(rng.choice(OUT_OF_WORK_TYPES), True, working[0], d + 7 + int(rng.random() * 53))

    def lapses(self) -> None:
        """The problem returns, in the last quarter, for improvements that lapse."""
        m, rng = self.m, self.m.rng
        last = self.ords[-1]
        for row in self.outcomes:
            win = row.pop("lapse_window", None)
            if win is None or row["measure"] == "education_attendance":
                continue
            lo, hi = win
            lo = max(lo, hi - 180)   # inside the last 6 months at the last as_of
            if lo >= hi:
                continue
            fid, who = row["family_id"], row["who"]
            first = hi + 1
            if row["measure"] == "into_work":
                d = lo + 1 + int(rng.random() * (hi - lo))
                self.new_claim("UC", True, who, d)
                first = d
            else:
                base_lo, base_hi = last - YEAR, last - 182
                members = self.members_at(fid, last)
                if row["measure"] == "asb_down_60":
                    base = sum(1 for p in members for e in self.of_person("asb", p) if e.f["role"] == "perpetrator"
                               and base_lo < e.date <= base_hi)
                    for _ in range(max(2, base)):
                        d = lo + 1 + int(rng.random() * (hi - lo))
                        m.asb(who, d, "perpetrator", rng.choice(QUALIFYING_ASB))
                        first = min(first, d)
                else:
                    base = sum(1 for p in members for e in self.of_person("police", p) if e.f["role"] == "offender"
                               and e.f["outcome"] in QUALIFYING_OUTCOMES and base_lo < e.date <= base_hi
                               and m.age_at(p, e.date) < 18)
                    for _ in range(max(2, base)):
                        d = lo + 1 + int(rng.random() * (hi - lo))
                        m.offence(who, d, rng.choice(("charged", "cautioned", "youth_caution")))
                        first = min(first, d)
            row["lapsed_at"] = first
            self.quiet[(fid, row["measure"])] = (self.quiet[(fid, row["measure"])][0], first)

    # ---- school terms after q1 ------------------------------------------------------------------
    def school_terms(self) -> None:
        """One row per pupil for each term completed after q1, for pupils in the area at its end."""
        m, rng = self.m, self.m.rng
        params: dict[str, tuple[float, float, bool, str | None]] = {}
        for e in m.events["schools"]:
            f = e.f
            acc = params.setdefault(e.person.pid, [0, 0, 0, False])
            acc[0] += f["sessions_possible"]; acc[1] += f["sessions_unauthorised"]; acc[2] += f["sessions_authorised"]
            acc[3] = acc[3] or bool(f["alternative_provision"])
        bad_from = {fid: (self.ords[q - 1] if q else NEVER) for fid, q in self.high_need_from.items()
                    if "education" in self.hn_problems[fid]}
        for y, term in self.terms_new:
            start, end = (d.toordinal() for d in term_bounds(y, term))
            for p in list(self.b.persons):
                age = _age_aug31(p, y)
                if not 4 <= age < 16:
                    continue
                fid = self.family_at(p, end)
                if fid is None:
                    continue
                acc = params.get(p.pid)
                if acc and acc[0]:
                    rate = (acc[1] + acc[2]) / acc[0]
                    ushare = acc[1] / max(1, acc[1] + acc[2])
                    ap = acc[3]
                else:
                    rate = rng.lognormvariate(-3.1, 0.8)
                    ushare = rng.betavariate(1.2, 3.5)
                    ap = False
                possible = 140 + int(rng.random() * 8) if term == "autumn" else (
                    124 + int(rng.random() * 12) if term == "summer" else
                    max(90, min(140, int((end - start) / 7 * 10) - 10 + int(rng.random() * 4))))
                fte = 1 if rng.random() < (0.012 if age >= 11 else 0.003) else 0
                perm = rng.random() < 0.0004
                edu = self.edu.get(fid)
                if edu is not None and p in self.members_at(fid, end):
                    if edu["lapse"] == (y, term):
                        rate, ushare, fte, ap = 0.30 + rng.random() * 0.1, 0.85, 3, False
                    else:
                        rate, ushare, fte, ap, perm = 0.01 + rng.random() * 0.03, 0.3, 0, False, False
                elif fid in bad_from and end > bad_from[fid]:
                    high = self.high_need_from[fid] > 0
                    rate = max(rate, (0.5 if high else 0.2) + rng.random() * 0.2)
                    ushare = max(ushare, 0.8 if high else 0.6)
                elif self.family_at(p, start) is None:   # arrived during the term: the old school's
                    continue
                rate = min(0.9, rate * (rng.lognormvariate(0, 0.3) if edu is None else 1))
                absent = int(round(possible * rate))
                unauth = int(round(absent * ushare))
                urn = p.urn_secondary if age >= 11 else p.urn_primary
                e = m.add("schools", p, start, school_urn=str(140999 if ap else urn), academic_year=year_label(y),
                          term=term, sessions_possible=possible, sessions_unauthorised=unauth,
                          sessions_authorised=absent - unauth, fixed_term_exclusions=fte, permanent_exclusion=perm,
                          alternative_provision=ap)
                if edu is not None:
                    self.protected_events.add(id(e))

    def sweep(self) -> None:
        """Nobody has a record dated while outside the area (before arriving, after leaving)."""
        for agency, evs in self.m.events.items():
            self.m.events[agency] = [e for e in evs if self.family_at(e.person, e.date) is not None]
        tracked = {row["family_id"] for row in self.outcomes}
        for evs in self.m.events.values():
            for e in evs:
                if self.last_family(e.person) in tracked:
                    self.protected_events.add(id(e))


def _age(p, o) -> int:
    d = dt.date.fromordinal(o) if isinstance(o, int) else o
    return p.age_on(d)


def _age_aug31(p, y: int) -> float:
    return (dt.date(y, 8, 31).toordinal() - p.dob.toordinal()) / 365.2425


# ---- extracts of each quarter -----------------------------------------------------------------
def _included(e: Event, o: int, terms: set) -> bool:
    """Whether an agency's extract at as_of (ordinal o) holds this record (the rolling look-back)."""
    if e.agency == "schools":
        return (int(e.f["academic_year"][:4]), e.f["term"]) in terms
    if e.date > o:
        return False
    if e.agency == "benefits":
        end = e.f["claim_end"]
        return end is None or end > o - LOOK_BACK
    if e.agency == "housing" and e.f["event_type"] == "tenancy":
        return True   # the tenancy register
    return e.date > o - LOOK_BACK


def _master_key(e: Event):
    return (e.date, e.person.pid, e.f.get("role") or "")


class Extracts:
    """Record ids, rejected rows, rendering and corrections, each fixed per record across quarters."""

    def __init__(self, ev: Evolution, seed: int):
        self.ev, self.seed = ev, seed
        ords = ev.ords
        self.terms = [set(complete_terms(a, SCHOOL_TERMS)) for a in ev.as_ofs]
        self.inc: dict[int, tuple[bool, ...]] = {}
        self.rid: dict[int, str] = {}
        self.events: dict[str, list[Event]] = {}
        for agency in AGENCIES:
            evs = []
            for e in ev.m.events[agency]:
                e.reject, e.dup_of = None, None
                sig = tuple(_included(e, o, t) for o, t in zip(ords, self.terms))
                if any(sig):
                    self.inc[id(e)] = sig
                    evs.append(e)
            evs.sort(key=lambda e: (self.inc[id(e)].index(True), _master_key(e)))
            rng = random.Random(f"{seed}:ids:{agency}")
            seq = 1000 + int(rng.random() * 5000)
            prefix = RECORD_PREFIX[agency]
            for e in evs:
                seq += 1 + (rng.random() < 0.1)
                self.rid[id(e)] = f"{prefix}{seq:08d}" if agency == "schools" else f"{prefix}{seq:07d}"
            evs.sort(key=_master_key)
            self.events[agency] = evs
        self.partner: dict[int, Event] = {}
        self._rejects()
        self.rows: dict[int, tuple[dict, list[str]]] = {}
        self._render()
        self.corrections: dict[int, tuple[int, str]] = {}
        self._review()

    def quarter_events(self, agency: str, q: int) -> list[Event]:
        return [e for e in self.events[agency] if self.inc[id(e)][q]]

    def _rejects(self) -> None:
        """Rows written invalid: decided per record, spaced out (at most one in 34 consecutive
        records) and thinned until every quarter's extract stays under 4% (none under 25 rows)."""
        protected = self.ev.protected_events
        for agency, evs in self.events.items():
            prof = PROFILES[agency]
            kinds = REJECTS[agency]
            gap = 34
            last_sig: dict[tuple, Event] = {}
            for e in evs:
                gap += 1
                sig = self.inc[id(e)]
                if id(e) in protected:
                    continue
                r = random.Random(f"{self.seed}:reject:{self.rid[id(e)]}")
                if r.random() < prof.reject and gap >= 34:
                    kind = kinds[int(r.random() * len(kinds))]
                    if kind == "duplicate_record_id":
                        other = last_sig.get(sig)
                        if other is None or other.reject:
                            kind = "nothing_to_link_by"
                        else:
                            other.reject = kind
                            self.partner[id(e)] = other
                    e.reject = kind
                    gap = 0
                elif not e.reject:
                    last_sig[sig] = e
            for q in range(len(self.ev.ords)):
                while True:
                    rows = self.quarter_events(agency, q)
                    bad = [e for e in rows if e.reject]
                    if not bad or (len(bad) <= 0.04 * len(rows) and len(rows) >= 25):
                        break
                    e = bad[-1]
                    mate = self.partner.pop(id(e), None)
                    if mate is not None:
                        mate.reject = None
                    for k, v in list(self.partner.items()):
                        if v is e:
                            del self.partner[k]
                            next(x for x in rows if id(x) == k).reject = None
                    e.reject = None

    def _render(self) -> None:
        seed = self.seed
        for agency, evs in self.events.items():
            rec = Recorder(agency, None, self.ev.as_ofs[0])
            pr = rec.prof
            for e in evs:
                p = e.person
                rid = self.rid[id(e)]
                if not pr.per_row and p.pid not in rec.cache:
                    rec.rng = random.Random(f"{seed}:identity:{agency}:{p.pid}")
                elif pr.per_row:
                    rec.rng = random.Random(f"{seed}:record:{rid}")
                base, tags0 = rec.identity(p)
                if not pr.per_row:
                    rec.rng = random.Random(f"{seed}:record:{rid}")
                rng = rec.rng
                row, tags = dict(base), list(tags0)
                if not pr.per_row and pr.row_typo and rng.random() < pr.row_typo:
                    row["surname"], t = C.typo(row["surname"], rng)
                    if t:
                        tags.append("surname_" + t)
                # a claim row is first sent at the first quarter: it keeps that quarter's address
                rec.location(p, address_date(agency, e, self.ev.ords[0]), row, tags, may_lag=may_lag(agency, e.f))
                del row["_upper"]
                row["record_id"] = rid
                f = e.f
                row.update(f)
                if agency in ("housing", "police", "dv", "asb"):
                    row["event_date"] = dt.date.fromordinal(e.date)
                elif agency == "benefits":
                    row["claim_start"] = dt.date.fromordinal(f["claim_start"])
                    row["claim_end"] = None   # shown from the quarter the claim has ended by
                mate = self.partner.get(id(e))
                if mate is not None:
                    row["record_id"] = self.rid[id(mate)]
                elif e.reject and e.reject != "duplicate_record_id":
                    _make_invalid(agency, e.reject, row, rng)
                self.rows[id(e)] = (row, tags)

    def _fixable(self, e: Event, row: dict, tags: list[str]) -> list[str]:
        out = []
        if any(t.startswith(("forename_typo", "surname_typo")) for t in tags):
            out.append("typo_fixed")
        if any(t in ("dob_missing", "dob_placeholder", "dob_day_month_swapped", "dob_digit", "dob_not_a_date") for t in tags):
            out.append("dob_corrected")
        p = e.person
        if e.agency in ("police", "benefits") and p.ni and p.age_on(dt.date.fromordinal(e.date)) >= 18 \
                and not row.get("ni_number"):
            out.append("ni_added")
        if not row.get("postcode"):
            out.append("postcode_added")
        return out

    def _review(self) -> None:
        scale = [(b - a) / QUARTER for a, b in zip(self.ev.ords, self.ev.ords[1:])]
        for q in range(1, len(self.ev.ords)):
            for agency, evs in self.events.items():
                for e in evs:
                    sig = self.inc[id(e)]
                    if not (sig[q - 1] and sig[q]) or e.reject or id(e) in self.corrections:
                        continue
                    r = random.Random(f"{self.seed}:review:{self.rid[id(e)]}:{q}")
                    if r.random() >= RATES["record_review"] * scale[q - 1]:
                        continue
                    row, tags = self.rows[id(e)]
                    fixable = self._fixable(e, row, tags)
                    if fixable:
                        self.corrections[id(e)] = (q, fixable[int(r.random() * len(fixable))])

    CHANGED_FIELDS = {"typo_fixed": ("forename", "surname"), "dob_corrected": ("dob",), "ni_added": ("ni_number",),
                      "postcode_added": ("postcode",), "claim_closed": ("claim_end",)}

    def row_at(self, e: Event, q: int) -> tuple[dict, list[str]]:
        base, tags = self.rows[id(e)]
        row = dict(base)
        tags = list(tags)
        o = self.ev.ords[q]
        if e.agency == "benefits":
            end = e.f["claim_end"]
            row["claim_end"] = dt.date.fromordinal(end) if end is not None and end <= o else None
        fix = self.corrections.get(id(e))
        if fix is not None and fix[0] <= q:
            kind, p = fix[1], e.person
            if kind == "typo_fixed":
                row["forename"], row["surname"] = row["_clean"]
                tags = [t for t in tags if not t.startswith(("forename_typo", "surname_typo"))]
            elif kind == "dob_corrected":
                row["dob"] = p.dob
                tags = [t for t in tags if t not in ("dob_missing", "dob_placeholder", "dob_day_month_swapped", "dob_digit", "dob_not_a_date")]
            elif kind == "ni_added":
                row["ni_number"] = p.ni
            elif kind == "postcode_added":
                row["postcode"] = p.address_on(e.date).postcode
                tags = [t for t in tags if t != "postcode_missing"]
        return row, tags

    def record_changes(self) -> list[tuple]:
        out = []
        for agency, evs in self.events.items():
            for e in evs:
                sig = self.inc[id(e)]
                fix = self.corrections.get(id(e))
                if fix is not None:
                    out.append((f"q{fix[0] + 1}", agency, self.rid[id(e)], fix[1], ";".join(self.CHANGED_FIELDS[fix[1]])))
                end = e.f.get("claim_end") if agency == "benefits" else None
                if end is not None:
                    shown = [q for q, o in enumerate(self.ev.ords) if sig[q] and end <= o]
                    if shown and shown[0] > 0 and sig[shown[0] - 1]:
                        out.append((f"q{shown[0] + 1}", agency, self.rid[id(e)], "claim_closed", "claim_end"))
        order = {a: i for i, a in enumerate(AGENCIES)}
        out.sort(key=lambda r: (r[0], order[r[1]], r[2]))
        return out


# ---- writing ---------------------------------------------------------------------------------
def _csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _write_quarter(folder: Path, q: int, ev: Evolution, ex: Extracts, flags, formats: str, output: str) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    as_of, o = ev.as_ofs[q], ev.ords[q]
    sources, truth_rows, counts, rejects = {}, [], {}, {}
    for agency in AGENCIES:
        evs = ex.quarter_events(agency, q)
        fmt = MIXED[agency] if formats == "mixed" else formats
        first = 1 if fmt == "parquet" else 2
        rows = []
        for i, e in enumerate(evs):
            row, tags = ex.row_at(e, q)
            rows.append(row)
            p = e.person
            truth_rows.append((agency, row["record_id"], i + first, p.pid, ev.family_at(p, o) or ev.last_family(p),
                               p.community, 1 if e.reject else 0, e.reject or "", ";".join(tags)))
        _, spec = write_extract(folder, agency, rows, fmt)
        sources[agency] = spec
        counts[agency] = len(rows)
        rejects[agency] = sum(1 for e in evs if e.reject)
    _csv(folder / "truth.csv", ["source", "record_id", "row_number", "person_id", "family_id", "community",
                                "expect_reject", "reject_reason", "corruptions"], truth_rows)
    snap = ev.snapshot(o)
    persons = []
    for fid, members in snap.items():
        for p in members:
            age = p.age_on(as_of)
            starts = [s for s, _ in p.history if s <= o]
            moved = int(len(starts) > 1 and starts[-1] > o - 365)
            persons.append((p.pid, fid, p.community, p.sex, p.dob.isoformat(), "child" if age < 18 else "adult", age,
                            p.forename, " ".join(p.middles), p.surname, p.personal_surname or "", p.third_name or "",
                            p.nhs or "", p.ni or "", p.upn or "", moved))
    persons.sort()
    _csv(folder / "truth_persons.csv", ["person_id", "family_id", "community", "sex", "dob", "role", "age", "forename",
                                        "middle_names", "surname", "personal_surname", "third_name", "nhs_number",
                                        "ni_number", "upn", "moved_in_year"], persons)
    fams = []
    for fid, members in snap.items():
        h = ev.by_fid[fid]
        addr = members[0].address_on(o)
        kids = sum(1 for p in members if p.age_on(as_of) < 18)
        hn = int(fid in ev.high_need_from and ev.high_need_from[fid] <= q)
        fams.append((fid, h.community, addr.uprn, addr.postcode, len(members), len(members) - kids, kids, hn,
                     (h.near_miss or "") if q == 0 else "", *(flags[fid][k] for k in FLAGS)))
    _csv(folder / "truth_families.csv", ["family_id", "community", "uprn", "postcode", "members", "adults", "children",
                                         "high_need", "near_miss", *FLAGS], fams)
    config = {"as_of": as_of, "criteria": "troubled-families-2015", "max_rejected_share": 0.05, "sources": sources,
              "output": output}
    with open(folder / "config.yaml", "w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"# Synthetic council extracts, quarter {q + 1}, made by `hnf-match sample --quarters`; "
                 "see docs/sample-data.md.\n")
        yaml.safe_dump(config, fh, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    return {"as_of": as_of.isoformat(), "families": len(snap), "persons": len(persons), "rows": sum(counts.values()),
            "rows_by_source": counts, "rejects_by_source": rejects,
            "high_need_families": sum(f[7] for f in fams),
            "families_by_flag": {k: sum(flags[f][k] for f in snap) for k in FLAGS}}


def generate_quarters(out_dir, families: int = 300, seed: int = 2026,
                      as_ofs=(dt.date(2026, 6, 30), dt.date(2026, 9, 30), dt.date(2026, 12, 31)),
                      formats: str = "mixed", rows: int | None = None, output: str | None = None) -> dict:
    """Write out_dir/q1, q2, ... (each a run folder like `generate` writes) for one population
    evolving between the as_of dates, plus truth_changes.csv, truth_outcomes.csv and
    truth_record_changes.csv in out_dir; return counts. `output` is each config's output folder,
    with {quarter} standing for q1, q2 ... (default ../../out/quarters/{quarter})."""
    from synth.single import FORMATS, ROWS_PER_FAMILY
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {', '.join(FORMATS)}")
    as_ofs = [a if isinstance(a, dt.date) else dt.date.fromisoformat(a) for a in as_ofs]
    if not as_ofs or any(b <= a for a, b in zip(as_ofs, as_ofs[1:])):
        raise ValueError("as_ofs must be one or more dates in increasing order")
    if rows is not None:
        families = max(5, int(round(rows / ROWS_PER_FAMILY)))   # rows in each quarter's extracts
    if families < 1:
        raise ValueError("families must be at least 1")
    check_columns()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    b = build(random.Random(f"{seed}:population"), as_ofs[0], families)
    m = make_events(b, random.Random(f"{seed}:events"))
    ev = Evolution(b, m, as_ofs, seed)
    ev.grown_children()
    a1 = ev.ords[0]
    snap1 = ev.snapshot(a1)
    ev.plan_improvements(family_flags(m.events, _families(snap1), as_ofs[0], lambda p: ev.family_at(p, a1)))
    for q in range(1, len(as_ofs)):
        ev.evolve(q)
    ev.school_terms()
    ev.sweep()
    ex = Extracts(ev, seed)

    summaries, met = [], {}
    for q, as_of in enumerate(as_ofs):
        o = ev.ords[q]
        snap = ev.snapshot(o)

        def family_of(p, o=o):
            return ev.family_at(p, o)
        fams = _families(snap)
        flags = family_flags(m.events, fams, as_of, family_of)
        met[q] = outcome_measures(m.events, fams, as_of, family_of)
        summaries.append(_write_quarter(out / f"q{q + 1}", q, ev, ex, flags, formats,
                                        (output or "../../out/quarters/{quarter}").format(quarter=f"q{q + 1}")))

    _csv(out / "truth_changes.csv", ["quarter", "kind", "person_id", "family_id", "other_family_id", "date"],
         ev.changes)
    outcome_rows = []
    for row in ev.outcomes:
        lapse_seen = row.get("visible_at", row["lapsed_at"])
        later = [q for q in range(1, len(as_ofs)) if lapse_seen is None or ev.ords[q] < lapse_seen]
        met_at = [f"q{q + 1}" for q in range(1, len(as_ofs)) if met[q].get(row["family_id"], {}).get(row["measure"])]
        outcome_rows.append((row["family_id"], row["measure"], row["problem_at"], _iso(row["improved_from"]),
                             as_ofs[later[-1]].isoformat() if later else "", _iso(row["lapsed_at"]), ";".join(met_at)))
    outcome_rows.sort()
    _csv(out / "truth_outcomes.csv", ["family_id", "measure", "problem_at", "improved_from", "sustained_through",
                                      "lapsed_at", "met_at"], outcome_rows)
    record_changes = ex.record_changes()
    _csv(out / "truth_record_changes.csv", ["quarter", "source", "record_id", "change", "fields"], record_changes)
    return {"quarters": summaries, "changes": dict(Counter(c[1] for c in ev.changes)),
            "record_changes": dict(Counter(r[3] for r in record_changes)),
            "outcomes": {"sustained": sum(1 for r in outcome_rows if not r[5]),
                         "lapsed": sum(1 for r in outcome_rows if r[5])}}


class _Family:
    __slots__ = ("fid", "members")

    def __init__(self, fid, members):
        self.fid, self.members = fid, members


def _families(snap: dict) -> list:
    return [_Family(fid, members) for fid, members in snap.items()]

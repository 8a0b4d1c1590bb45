"""True events per agency: what really happened to each person, before any agency records it.
Background rates for everyone, correlated problems for high-need families, and near-miss
families that sit just outside a criterion (docs/sample-data.md lists every rate)."""
from __future__ import annotations

import datetime as dt
import math

from schemas.calendar import easter_sunday
from synth.population import Builder, Household, Person

YEAR = 365
OFFENCE_CATEGORIES = ("theft", "violence against the person", "criminal damage", "drug offences", "public order",
                      "burglary", "vehicle offences", "robbery", "possession of weapons", "fraud")
INCIDENT_CATEGORIES = ("concern for welfare", "domestic incident", "neighbour dispute", "missing person", "disturbance")
QUALIFYING_OUTCOMES = ("charged", "cautioned", "convicted", "youth_caution")
QUALIFYING_ASB = ("abc", "cpn", "injunction", "cbo", "asbo", "closure_order")
OUT_OF_WORK = {"JSA", "ESA", "IS", "IB", "SDA", "CA"}
HIGH_NEED_MOVERS = 0.5   # of high-need households that had not moved in the last year
NEAR_MISSES = ("offence_13_months", "offence_365_days", "absence_9", "unauthorised_14", "fte_2", "dv_13_months",
               "claim_ended", "offender_turned_18", "asb_warning", "offence_nfa")


class Event:
    __slots__ = ("agency", "person", "date", "f", "reject", "dup_of")

    def __init__(self, agency: str, person: Person, date: int, f: dict):
        self.agency, self.person, self.date, self.f = agency, person, date, f
        self.reject: str | None = None
        self.dup_of: int | None = None     # row index whose record_id this row repeats


easter = easter_sunday   # the one Easter, shared with the criteria


def term_bounds(academic_start: int, term: str) -> tuple[dt.date, dt.date]:
    """DfE census boundaries: autumn 1 Aug-31 Dec, spring 1 Jan-Easter Sunday, summer Easter Monday-31 Jul."""
    y = academic_start
    if term == "autumn":
        return dt.date(y, 8, 1), dt.date(y, 12, 31)
    e = easter(y + 1)
    if term == "spring":
        return dt.date(y + 1, 1, 1), e
    return e + dt.timedelta(days=1), dt.date(y + 1, 7, 31)


def complete_terms(as_of: dt.date, n: int) -> list[tuple[int, str]]:
    """The n adjacent terms ending with the latest term whose end date is on or before as_of, oldest first."""
    order = ("autumn", "spring", "summer")
    y = as_of.year if as_of.month >= 8 else as_of.year - 1
    i = 2
    # walk back from the summer term of the current academic year until a term has ended
    while term_bounds(y, order[i])[1] > as_of:
        i -= 1
        if i < 0:
            i = 2; y -= 1
    out = []
    for _ in range(n):
        out.append((y, order[i]))
        i -= 1
        if i < 0:
            i = 2; y -= 1
    return out[::-1]


def year_label(y: int) -> str:
    return f"{y}/{(y + 1) % 100:02d}"


def poisson(rng, lam: float) -> int:
    if lam <= 0:
        return 0
    L = math.exp(-lam); k = 0; p = rng.random()
    while p > L:
        k += 1; p *= rng.random()
    return k


class EventMaker:
    def __init__(self, b: Builder, rng, terms_back: int = 6):
        self.b, self.rng = b, rng
        self.as_of = b.as_of
        self.o = b.as_of_ord
        self.events: dict[str, list[Event]] = {a: [] for a in ("housing", "police", "dv", "asb", "schools", "benefits")}
        self.terms = complete_terms(self.as_of, terms_back)
        self.claim_no = 0
        self.tenancy_no = 0

    # ---- helpers -------------------------------------------------------------------------------
    def add(self, agency: str, p: Person, date: int, **f) -> Event:
        e = Event(agency, p, date, f)
        self.events[agency].append(e)
        return e

    def age_at(self, p: Person, ordinal: int) -> float:
        return (ordinal - p.dob.toordinal()) / 365.2425

    def recent(self, days: int = YEAR) -> int:
        """A date within the last `days` days up to and including as_of."""
        return self.o - int(self.rng.random() * days)

    def within(self, lo_days: int, hi_days: int) -> int:
        return self.o - lo_days - int(self.rng.random() * (hi_days - lo_days))

    # ---- agencies ------------------------------------------------------------------------------
    def offence(self, p: Person, date: int, outcome: str | None = None, role: str = "offender") -> None:
        rng = self.rng
        if outcome is None:
            young = self.age_at(p, date) < 18
            outcome = rng.choices(("charged", "cautioned", "convicted", "youth_caution" if young else "cautioned", "nfa"),
                                  weights=(25, 15, 20, 18, 25))[0]
        self.add("police", p, date, event_type="offence", offence_category=rng.choice(OFFENCE_CATEGORIES),
                 outcome=outcome, role=role)

    def police_background(self, p: Person, hn: bool) -> None:
        rng = self.rng
        span = 3 * YEAR
        for role, rate in (("victim", 0.03), ("witness", 0.015), ("suspect", 0.004)):
            for _ in range(poisson(rng, rate * 3)):
                d = self.recent(span)
                if self.age_at(p, d) < (10 if role == "suspect" else 5):
                    continue
                if role in ("victim", "witness"):
                    self.add("police", p, d, event_type="offence", offence_category=rng.choice(OFFENCE_CATEGORIES),
                             outcome=None, role=role)
                else:
                    self.add("police", p, d, event_type="offence", offence_category=rng.choice(OFFENCE_CATEGORIES),
                             outcome="nfa", role="suspect")
        for _ in range(poisson(rng, 0.02 * 3)):
            d = self.recent(span)
            if self.age_at(p, d) >= 5:
                self.add("police", p, d, event_type="incident", offence_category=rng.choice(INCIDENT_CATEGORIES),
                         outcome=None, role=rng.choice(("victim", "witness", "suspect")))
        age = self.age_at(p, self.o)
        rate = 0.012 if 18 <= age < 60 else (0.015 if 10 <= age < 18 else 0.002)
        for _ in range(poisson(rng, rate * 3 * (1 + 2 * hn))):
            d = self.recent(span)
            if self.age_at(p, d) >= 10:
                self.offence(p, d)

    def schools(self, p: Person, mode: dict | None = None) -> None:
        """One row per pupil per term for the terms in the window; mode shapes a high-need or near-miss child."""
        rng = self.rng
        base = rng.lognormvariate(math.log(0.045), 0.8)
        unauth_share = rng.betavariate(1.2, 3.5)
        mode = mode or {}
        if mode.get("absence"):
            base = max(base, 0.18 + rng.random() * 0.25); unauth_share = max(unauth_share, 0.55 + rng.random() * 0.4)
        window = self.terms[-3:]
        rows = []
        for (y, term) in self.terms:
            age = (dt.date(y, 8, 31).toordinal() - p.dob.toordinal()) / 365.2425
            if not 4 <= age < 16:
                continue
            start, end = term_bounds(y, term)
            if term == "autumn":
                possible = 140 + int(rng.random() * 8)
            elif term == "spring":
                possible = max(90, min(140, int((end.toordinal() - start.toordinal()) / 7 * 10) - 10 + int(rng.random() * 4)))
            else:
                possible = 124 + int(rng.random() * 12)
            if rng.random() < 0.04:   # joined mid-term
                possible = int(possible * (0.4 + rng.random() * 0.5))
            rate = min(0.9, base * rng.lognormvariate(0, 0.3))
            absent = int(round(possible * rate))
            unauth = int(round(absent * unauth_share))
            fte = 1 if rng.random() < (0.012 if age >= 11 else 0.003) else 0
            rows.append({"y": y, "term": term, "start": start.toordinal(), "possible": possible, "unauth": unauth,
                         "auth": absent - unauth, "fte": fte, "perm": rng.random() < 0.0004, "ap": False,
                         "secondary": age >= 11, "in_window": (y, term) in window})
        if not rows:
            return
        win = [r for r in rows if r["in_window"]]
        if mode.get("exclusion") and win:
            if rng.random() < 0.3:
                r = win[int(rng.random() * len(win))]; r["perm"] = True
                for later in rows:
                    if later["start"] > r["start"]:
                        later["ap"] = True
            else:
                for _ in range(3 + int(rng.random() * 3)):
                    win[int(rng.random() * len(win))]["fte"] += 1
        if mode.get("ap") and win:
            for r in win[int(rng.random() * len(win)):]:
                r["ap"] = True
        if mode.get("near") and len(win) == 3:
            self._near_school(mode["near"], rows, win)
        for r in rows:
            urn = p.urn_secondary if r["secondary"] else p.urn_primary
            if r["ap"]:
                urn = 140999
            self.add("schools", p, r["start"], school_urn=str(urn), academic_year=year_label(r["y"]), term=r["term"],
                     sessions_possible=r["possible"], sessions_unauthorised=r["unauth"], sessions_authorised=r["auth"],
                     fixed_term_exclusions=r["fte"], permanent_exclusion=r["perm"], alternative_provision=r["ap"])

    def _near_school(self, kind: str, rows: list[dict], win: list[dict]) -> None:
        rng = self.rng
        total = sum(r["possible"] for r in win)
        for r in rows:
            r["fte"] = 0; r["perm"] = False; r["ap"] = False
        if kind == "fte_2":
            win[0]["fte"] = 1; win[2]["fte"] = 1
            before = [r for r in rows if not r["in_window"]]
            if before:
                before[-1]["fte"] = 1
            kind = "low"
        if kind == "unauthorised_14":
            target_u = int(total * (0.140 + rng.random() * 0.009))
            target_a = 0
        elif kind == "absence_9":
            absent = int(total * (0.090 + rng.random() * 0.009))
            target_u = int(absent * 0.2); target_a = absent - target_u
        else:
            target_u = int(total * 0.01); target_a = int(total * 0.03)
        for r, share in zip(win, (0.34, 0.33, 0.33)):
            r["unauth"] = 0; r["auth"] = 0
        # spread the targets over the three terms without exceeding any term's possible sessions
        for key, target in (("unauth", target_u), ("auth", target_a)):
            left = target
            for i, r in enumerate(win):
                room = r["possible"] - r["unauth"] - r["auth"]
                take = min(room, left if i == 2 else int(target / 3))
                r[key] += take; left -= take

    def housing(self, h: Household, hn_housing: bool, hn_asb: bool) -> None:
        rng = self.rng
        adults = [p for p in h.members if p.age >= 18]
        if not adults:
            return
        social = rng.random() < (0.7 if h.high_need else 0.33)
        if social:
            h.tenure = "social"
            self.tenancy_no += 1
            h.tenancy_ref = f"TEN{100000 + self.tenancy_no * 7 % 900000:06d}/{1 + int(rng.random() * 9)}"
            start = h.moved_on if h.moved_on else self.o - int(rng.random() * 15 * YEAR)
            h.tenancy_start = start
            tenants = adults[:2] if len(adults) > 1 and rng.random() < 0.6 else adults[:1]
            for p in tenants:
                self.add("housing", p, start, event_type="tenancy", tenancy_ref=h.tenancy_ref, rent_arrears_gbp=None)
            lead = tenants[0]
            if rng.random() < (0.5 if h.high_need else 0.12):
                for _ in range(1 + int(rng.random() * 3)):
                    d = max(start, self.recent(2 * YEAR))
                    self.add("housing", lead, d, event_type="arrears", tenancy_ref=h.tenancy_ref,
                             rent_arrears_gbp=round(80 + rng.random() * 2900, 2))
            if rng.random() < 0.015 * 3:
                self.add("housing", lead, max(start, self.recent(3 * YEAR)), event_type="nosp",
                         tenancy_ref=h.tenancy_ref, rent_arrears_gbp=round(500 + rng.random() * 3000, 2))
            if hn_housing:
                kind = rng.choice(("nosp", "nosp", "eviction", "asb_eviction" if hn_asb else "nosp"))
                self.add("housing", lead, self.recent(YEAR - 5), event_type=kind, tenancy_ref=h.tenancy_ref,
                         rent_arrears_gbp=round(900 + rng.random() * 4000, 2) if kind != "asb_eviction" else None)
        if hn_housing and not social or rng.random() < 0.008 * 3:
            p = adults[0]
            d = self.recent(YEAR - 5) if hn_housing else self.recent(3 * YEAR)
            self.add("housing", p, d, event_type="homeless_application", tenancy_ref=None, rent_arrears_gbp=None)
            if rng.random() < 0.4:
                self.add("housing", p, min(self.o, d + int(rng.random() * 40)), event_type="temporary_accommodation",
                         tenancy_ref=None, rent_arrears_gbp=None)

    def claim(self, h: Household, btype: str, oow: bool, claimant: Person, partner: Person | None,
              dependants: list[Person], start: int, end: int | None) -> None:
        self.claim_no += 1
        ref = f"{btype}{(self.claim_no * 7919) % 10_000_000:07d}"
        self.add("benefits", claimant, start, benefit_type=btype, out_of_work=oow, claim_ref=ref, role="claimant",
                 claim_start=start, claim_end=end)
        if partner is not None:
            self.add("benefits", partner, start, benefit_type=btype, out_of_work=oow, claim_ref=ref, role="partner",
                     claim_start=start, claim_end=end)
        for c in dependants:
            if c.dob.toordinal() <= start:
                self.add("benefits", c, start, benefit_type=btype, out_of_work=oow, claim_ref=ref, role="dependant",
                         claim_start=start, claim_end=end)

    def benefits(self, h: Household, workless: bool, near: str | None) -> None:
        rng = self.rng
        adults = sorted((p for p in h.members if p.age >= 18), key=lambda p: p.sex != "F")
        kids = [p for p in h.members if p.age < 18]
        if not adults:
            return
        working_age = [p for p in adults if p.age < 66]
        claimant = adults[0]
        partner = adults[1] if len(adults) > 1 and h.shape in ("couple", "couple_kids", "blended", "multigen") else None

        def period(open_share: float) -> tuple[int, int | None]:
            start = self.o - 20 - int(rng.random() * 5 * YEAR)
            if rng.random() < open_share:
                return start, None
            end = start + 30 + int(rng.random() * 2 * YEAR)
            return (start, end) if end < self.o else (start, None)

        if kids and rng.random() < 0.8:
            self.claim(h, "CB", False, claimant, None, [], *period(0.95))
        if h.tenure == "social" and rng.random() < 0.55 or h.tenure != "social" and rng.random() < 0.12:
            s, e = period(0.7)
            # the housing benefit extract lists the household's children as dependants
            self.claim(h, "HB", False, claimant, partner, kids, s, e)
            self.claim(h, "CTR", False, claimant, partner, kids, s, e)
        if working_age:
            if workless:
                btype = rng.choice(("UC", "UC", "UC", "ESA", "JSA", "IS"))
                start = self.o - 30 - int(rng.random() * 3 * YEAR)
                self.claim(h, btype, True, working_age[0], partner if partner in working_age else None,
                           kids if btype == "UC" and rng.random() < 0.5 else [], start, None)
            elif near == "claim_ended":
                start = self.o - 200 - int(rng.random() * 400)
                self.claim(h, "UC", True, working_age[0], partner, [], start, self.o - 1 - int(rng.random() * 30))
            else:
                r = rng.random()
                if r < 0.06:
                    btype = rng.choice(("UC", "UC", "ESA", "JSA", "IS", "IB"))
                    s, e = period(0.6)
                    self.claim(h, btype, True, working_age[0], partner if partner in working_age else None, [], s, e)
                elif r < 0.14:
                    s, e = period(0.7)
                    self.claim(h, "UC", False, working_age[0], partner, kids if rng.random() < 0.3 else [], s, e)
                for p in working_age:
                    if rng.random() < 0.04:
                        self.claim(h, "PIP", False, p, None, [], *period(0.8))
        for p in adults:
            if p.age >= 66 and rng.random() < 0.15:
                self.claim(h, "PC", False, p, None, [], *period(0.9))

    def dv(self, h: Household, date: int, risk: str | None = None) -> None:
        self.dv_among(h.members, date, risk)

    def dv_among(self, members: list[Person], date: int, risk: str | None = None) -> None:
        """A domestic abuse incident among these household members: a victim, often a
        perpetrator, and every child as child_in_household."""
        rng = self.rng
        women = [p for p in members if p.sex == "F" and self.age_at(p, date) >= 16]
        men = [p for p in members if p.sex == "M" and self.age_at(p, date) >= 16]
        if not women and not men:
            return
        victim = women[0] if women and (rng.random() < 0.85 or not men) else men[0]
        risk = risk or rng.choices(("standard", "medium", "high"), weights=(55, 30, 15))[0]
        marac = risk == "high" and rng.random() < 0.7
        self.add("dv", victim, date, role="victim", risk_level=risk, marac=marac)
        others = [p for p in (men if victim.sex == "F" else women) if p is not victim]
        if others and rng.random() < 0.8:
            self.add("dv", others[0], date, role="perpetrator", risk_level=risk, marac=marac)
        for c in members:
            if 0 <= self.age_at(c, date) < 18:
                self.add("dv", c, date, role="child_in_household", risk_level=risk, marac=marac)

    def asb(self, p: Person, date: int, role: str, intervention: str | None = None) -> None:
        rng = self.rng
        if intervention is None:
            intervention = "none" if role == "victim" else rng.choices(
                ("none", "warning", "abc", "cpn", "injunction", "cbo", "asbo", "closure_order"),
                weights=(40, 32, 12, 7, 4, 3, 1, 1))[0]
        self.add("asb", p, date, role=role, intervention=intervention)

    # ---- households ----------------------------------------------------------------------------
    def household(self, h: Household) -> None:
        rng = self.rng
        o = self.o
        kids = [p for p in h.members if p.age < 18]
        adults = [p for p in h.members if p.age >= 18]
        problems: set[str] = set()
        if h.high_need:
            options = [("crime", 0.6), ("asb", 0.45), ("education", 0.8 if kids else 0), ("work", 0.7),
                       ("dv", 0.5), ("housing", 0.4)]
            while len(problems) < 3:
                problems = {k for k, pr in options if rng.random() < pr}
            h.problems = problems
        near = h.near_miss
        for p in h.members:
            self.police_background(p, h.high_need)
            if rng.random() < 0.01 * 3:
                self.asb(p, self.recent(3 * YEAR), "victim")
            if 10 <= p.age < 60 and rng.random() < 0.005 * 3:
                self.asb(p, self.recent(3 * YEAR), "perpetrator")
        for c in kids:
            mode = {}
            if "education" in problems:
                mode = {"absence": rng.random() < 0.75, "exclusion": rng.random() < 0.4, "ap": rng.random() < 0.15}
            if near in ("absence_9", "unauthorised_14", "fte_2") and c is kids[0]:
                mode = {"near": near}
            self.schools(c, mode)
        if "crime" in problems:
            pool = [p for p in h.members if 10 <= p.age < 60] or h.members
            for p in rng.sample(pool, min(len(pool), 1 + (rng.random() < 0.4))):
                for _ in range(1 + int(rng.random() * 3)):
                    d = self.recent(YEAR)
                    if self.age_at(p, d) >= 10:
                        self.offence(p, d, rng.choice(QUALIFYING_OUTCOMES[:3] + (("youth_caution",) if self.age_at(p, d) < 18 else ())))
        if "asb" in problems:
            pool = [p for p in h.members if 10 <= p.age] or h.members
            p = pool[int(rng.random() * len(pool))]
            self.asb(p, self.recent(YEAR), "perpetrator", rng.choice(QUALIFYING_ASB))
            if rng.random() < 0.5:
                self.asb(p, self.recent(2 * YEAR), "perpetrator", "warning")
        if "dv" in problems:
            for _ in range(1 + int(rng.random() * 3)):
                self.dv(h, self.recent(YEAR), rng.choice(("medium", "high")))
        elif rng.random() < 0.01 * 3 and len(adults) >= 1:
            self.dv(h, self.recent(3 * YEAR))
        self.housing(h, "housing" in problems, "asb" in problems)
        self.benefits(h, "work" in problems, near)
        if near:
            self._near(h, near)

    def _near(self, h: Household, near: str) -> None:
        rng = self.rng
        o = self.o
        adults = [p for p in h.members if p.age >= 18] or h.members
        p = adults[0]
        if near == "offence_13_months":
            self.offence(p, o - 366 - int(rng.random() * 60), "convicted")
        elif near == "offence_365_days":
            self.offence(p, o - 365, "charged")          # just outside: the window is (as_of - 365, as_of]
        elif near == "dv_13_months":
            self.dv(h, o - 366 - int(rng.random() * 40), "high")
        elif near == "offender_turned_18":
            young = [q for q in h.members if q.age == 18]
            if young:
                q = young[0]
                eighteenth = dt.date(q.dob.year + 18, q.dob.month, min(q.dob.day, 28)).toordinal()
                d = max(eighteenth + 1, o - 300)
                if d <= o:
                    self.offence(q, d, "convicted")
            else:
                self.offence(p, self.recent(YEAR), "nfa")
        elif near == "asb_warning":
            self.asb(p, self.recent(YEAR), "perpetrator", "warning")
        elif near == "offence_nfa":
            self.offence(p, self.recent(YEAR), "nfa")


def make_events(b: Builder, rng, terms_back: int = 6) -> EventMaker:
    m = EventMaker(b, rng, terms_back)
    hs = b.households
    n = len(hs)
    # high-need ~4%, near-miss ~4% of households, chosen by the household's own draw
    for h in hs:
        r = rng.random()
        if r < 0.04:
            h.high_need = True
        elif r < 0.08:
            kids = any(p.age < 16 for p in h.members)
            eighteen = any(p.age == 18 for p in h.members)
            working = any(18 <= p.age < 66 for p in h.members)
            choices = [k for k in NEAR_MISSES if (kids or k not in ("absence_9", "unauthorised_14", "fte_2"))
                       and (eighteen or k != "offender_turned_18") and (working or k != "claim_ended")]
            h.near_miss = choices[int(rng.random() * len(choices))]
    # families in trouble move more (arrears, evictions, fleeing abuse): another share of them
    # moved in the last 12 months
    for h in hs:
        if h.high_need and not (h.moved_on and h.moved_on > m.o - YEAR) and rng.random() < HIGH_NEED_MOVERS:
            b.move(h, b.recent_moves(0.3))
    for h in hs:
        m.household(h)
    return m

"""Agency extracts: each agency's recording habits (PROFILES, the rates documented in
docs/sample-data.md), the rows it would hold for the true events, the rows a validator must
reject, and the file formats councils hand over."""
from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, fields as dc_fields
from pathlib import Path

import synth.corrupt as C
import synth.names as N
from synth.ids import miskey_ni, miskey_nhs, miskey_upn
from schemas.fields import field_names

AGENCIES = ("housing", "police", "dv", "asb", "schools", "benefits")


@dataclass(frozen=True)
class Profile:
    """Rates are shares of rows (expected values); see docs/sample-data.md for each definition."""
    per_row: bool            # every row keyed afresh (police, dv, asb) or one registration per person
    upper: float             # names and address in UPPER CASE
    title: float             # adults: title (Mr/Mrs/Miss/Ms/Dr) in the forename field
    nickname: float          # a forename that has a nickname is recorded as the nickname
    translit: float          # a transliterated name (per name) recorded in another spelling
    personal_surname: float  # Begum/Bibi/Khatun, Kaur/Singh recorded instead of the family surname
    called_name: float       # "Mohammed Imran" recorded by the name he is called by alone ("Imran")
    swap_east_asian: float   # Chinese/Vietnamese: family name recorded first (forename/surname swapped)
    swap_other: float        # anyone else: forename and surname swapped by mistake
    middle_in_forename: float
    ascii: float             # ASCII-only system: diacritics stripped
    double_surname: float    # hyphenated/double surname split, joined or one part dropped
    arabic_prefix: float     # Al-/El-/Abdul- prefixes joined, split or dropped
    patronymic_cut: float    # patronymic names: another cut of given + father's + grandfather's given names
    compound_name: float     # a two-word given name (Abdul Rahman) joined, hyphenated or split across the fields
    masculine_form: float    # Polish woman recorded with the masculine surname form
    typo_forename: float
    typo_surname: float
    dob_missing: float
    dob_error: float         # placeholder 01/01/YYYY, day/month swapped or one digit wrong (a third each)
    year_only_dob: float     # a person whose year of birth alone is known to some agencies: 01/01/YYYY
    sex_missing: float
    address_missing: float
    abbreviate: float        # street type abbreviated (Rd, St, Ave ...)
    postcode_missing: float
    postcode_old: float      # the postcode of a previous address, or a neighbouring unit
    postcode_format: float   # no space, lower case, double space, trailing space
    nhs: float               # identifier present
    ni: float                # (adults only)
    upn: float
    uprn: float
    miskey: float            # a present identifier mis-keyed (fails its check)
    ethnicity: float
    reject: float            # rows a validator must reject
    lag: float               # share of a person's moves the agency learns of late
    lag_days: tuple[int, int]  # how late, in days (uniform): rows dated within it keep the old address
    row_typo: float = 0.0    # registration agencies: a row-level slip in the surname


PROFILES: dict[str, Profile] = {
    "housing": Profile(per_row=False, upper=0.0, title=0.35, nickname=0.08, translit=0.15, personal_surname=0.5,
                       called_name=0.4, swap_east_asian=0.15, swap_other=0.003, middle_in_forename=0.05, ascii=0.6,
                       double_surname=0.3, arabic_prefix=0.4, patronymic_cut=0.4, compound_name=0.3, masculine_form=0.05,
                       typo_forename=0.02, typo_surname=0.02, dob_missing=0.03, dob_error=0.03, year_only_dob=0.4, sex_missing=0.05,
                       address_missing=0.0, abbreviate=0.4, postcode_missing=0.02, postcode_old=0.03,
                       postcode_format=0.2, nhs=0.0, ni=0.0, upn=0.0, uprn=0.93, miskey=0.005, ethnicity=0.0,
                       reject=0.008, lag=0.15, lag_days=(7, 60), row_typo=0.005),
    "police": Profile(per_row=True, upper=0.85, title=0.0, nickname=0.15, translit=0.3, personal_surname=0.4,
                      called_name=0.5, swap_east_asian=0.3, swap_other=0.005, middle_in_forename=0.15, ascii=0.9,
                      double_surname=0.4, arabic_prefix=0.5, patronymic_cut=0.6, compound_name=0.4, masculine_form=0.1,
                      typo_forename=0.03, typo_surname=0.03, dob_missing=0.04, dob_error=0.05, year_only_dob=0.5, sex_missing=0.02,
                      address_missing=0.05, abbreviate=0.5, postcode_missing=0.08, postcode_old=0.08,
                      postcode_format=0.3, nhs=0.0, ni=0.15, upn=0.0, uprn=0.0, miskey=0.01, ethnicity=0.7,
                      reject=0.01, lag=0.1, lag_days=(1, 45)),
    "dv": Profile(per_row=True, upper=0.1, title=0.1, nickname=0.2, translit=0.3, personal_surname=0.5,
                  called_name=0.5, swap_east_asian=0.3, swap_other=0.005, middle_in_forename=0.1, ascii=0.3,
                  double_surname=0.4, arabic_prefix=0.5, patronymic_cut=0.6, compound_name=0.4, masculine_form=0.1,
                  typo_forename=0.04, typo_surname=0.04, dob_missing=0.3, dob_error=0.06, year_only_dob=0.5, sex_missing=0.05,
                  address_missing=0.1, abbreviate=0.5, postcode_missing=0.15, postcode_old=0.05,
                  postcode_format=0.3, nhs=0.2, ni=0.0, upn=0.0, uprn=0.0, miskey=0.01, ethnicity=0.0,
                  reject=0.012, lag=0.3, lag_days=(7, 90)),
    "asb": Profile(per_row=True, upper=0.3, title=0.05, nickname=0.2, translit=0.3, personal_surname=0.4,
                   called_name=0.5, swap_east_asian=0.3, swap_other=0.005, middle_in_forename=0.1, ascii=0.7,
                   double_surname=0.4, arabic_prefix=0.5, patronymic_cut=0.6, compound_name=0.4, masculine_form=0.1,
                   typo_forename=0.04, typo_surname=0.04, dob_missing=0.25, dob_error=0.05, year_only_dob=0.5, sex_missing=0.1,
                   address_missing=0.1, abbreviate=0.5, postcode_missing=0.2, postcode_old=0.1,
                   postcode_format=0.3, nhs=0.0, ni=0.0, upn=0.0, uprn=0.0, miskey=0.0, ethnicity=0.0,
                   reject=0.015, lag=0.3, lag_days=(7, 120)),
    "schools": Profile(per_row=False, upper=0.0, title=0.0, nickname=0.02, translit=0.1, personal_surname=0.3,
                       called_name=0.2, swap_east_asian=0.05, swap_other=0.002, middle_in_forename=0.02, ascii=0.2,
                       double_surname=0.15, arabic_prefix=0.2, patronymic_cut=0.25, compound_name=0.15, masculine_form=0.0,
                       typo_forename=0.01, typo_surname=0.01, dob_missing=0.0, dob_error=0.01, year_only_dob=0.2, sex_missing=0.0,
                       address_missing=0.01, abbreviate=0.3, postcode_missing=0.01, postcode_old=0.05,
                       postcode_format=0.05, nhs=0.0, ni=0.0, upn=0.99, uprn=0.0, miskey=0.005, ethnicity=0.95,
                       reject=0.005, lag=0.5, lag_days=(20, 200), row_typo=0.002),
    "benefits": Profile(per_row=False, upper=0.9, title=0.6, nickname=0.02, translit=0.15, personal_surname=0.6,
                        called_name=0.1, swap_east_asian=0.05, swap_other=0.003, middle_in_forename=0.4, ascii=1.0,
                        double_surname=0.2, arabic_prefix=0.3, patronymic_cut=0.4, compound_name=0.3, masculine_form=0.05,
                        typo_forename=0.01, typo_surname=0.01, dob_missing=0.01, dob_error=0.01, year_only_dob=0.4, sex_missing=0.0,
                        address_missing=0.0, abbreviate=0.3, postcode_missing=0.01, postcode_old=0.02,
                        postcode_format=0.1, nhs=0.0, ni=0.97, upn=0.0, uprn=0.4, miskey=0.01, ethnicity=0.0,
                        reject=0.01, lag=0.35, lag_days=(7, 120), row_typo=0.005),
}

# How each agency writes its values (canonical -> theirs); the config maps them back.
OUT_VALUES: dict[str, dict[str, dict]] = {
    "housing": {"sex": {"M": "Male", "F": "Female", "U": "Unknown"}},
    "police": {"event_type": {"offence": "Crime", "incident": "Incident"},
               "outcome": {"charged": "Charged", "cautioned": "Cautioned", "convicted": "Convicted",
                           "youth_caution": "Youth Caution", "nfa": "NFA"},
               "role": {"offender": "Offender", "suspect": "Suspect", "victim": "Victim", "witness": "Witness"}},
    "dv": {"marac": {True: "Y", False: "N"}},
    "asb": {"role": {"perpetrator": "Perp", "victim": "Victim"},
            "intervention": {"none": "None", "warning": "Warning", "abc": "ABC", "cpn": "CPN", "injunction": "Injunction",
                             "cbo": "CBO", "asbo": "ASBO", "closure_order": "Closure Order"}},
    "schools": {},
    "benefits": {"out_of_work": {True: "Y", False: "N"}},
}
POLICE_HEADERS = {"record_id": "Crime Ref", "surname": "Surname", "forename": "Forename(s)", "dob": "Date of Birth",
                  "sex": "Gender", "address": "Home Address", "postcode": "Postcode", "ni_number": "NI Number",
                  "ethnicity": "Self-defined Ethnicity", "event_type": "Record Type", "offence_category": "Offence Type",
                  "outcome": "Outcome", "role": "Involvement", "event_date": "Offence Date"}
# Columns each agency actually holds (canonical names, in file order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "housing": ("record_id", "forename", "surname", "dob", "sex", "address", "postcode", "uprn", "event_type",
                "event_date", "tenancy_ref", "rent_arrears_gbp"),
    "police": ("record_id", "surname", "forename", "dob", "sex", "address", "postcode", "ni_number", "ethnicity",
               "event_type", "offence_category", "outcome", "role", "event_date"),
    "dv": ("record_id", "forename", "surname", "dob", "sex", "address", "postcode", "nhs_number", "role",
           "risk_level", "marac", "event_date"),
    "asb": ("record_id", "forename", "surname", "dob", "sex", "address", "postcode", "role", "intervention",
            "event_date"),
    "schools": ("record_id", "upn", "forename", "surname", "dob", "sex", "address", "postcode", "ethnicity",
                "school_urn", "academic_year", "term", "sessions_possible", "sessions_unauthorised",
                "sessions_authorised", "fixed_term_exclusions", "permanent_exclusion", "alternative_provision"),
    "benefits": ("record_id", "claim_ref", "forename", "surname", "dob", "sex", "address", "postcode", "uprn",
                 "ni_number", "benefit_type", "out_of_work", "role", "claim_start", "claim_end"),
}
DATE_FIELDS = {"dob", "event_date", "claim_start", "claim_end"}
DATE_STYLE = {"housing": "iso", "police": "dmy", "dv": "dmy", "asb": "iso", "schools": "iso", "benefits": "dmy"}
REJECTS: dict[str, tuple[str, ...]] = {
    "housing": ("nothing_to_link_by", "impossible_date", "unknown_value", "duplicate_record_id", "missing_event_date"),
    "police": ("nothing_to_link_by", "impossible_date", "unknown_value", "duplicate_record_id"),
    "dv": ("nothing_to_link_by", "impossible_date", "unknown_value", "duplicate_record_id"),
    "asb": ("nothing_to_link_by", "impossible_date", "unknown_value", "duplicate_record_id"),
    "schools": ("nothing_to_link_by", "negative_sessions", "unauthorised_over_possible", "unknown_value",
                "duplicate_record_id"),
    "benefits": ("nothing_to_link_by", "impossible_date", "unknown_value", "duplicate_record_id"),
}
UNKNOWN_VALUES = {"housing": ("event_type", "mutual_exchange"), "police": ("role", "Informant"),
                  "dv": ("role", "other_adult"), "asb": ("intervention", "Community Resolution"),
                  "schools": ("term", "summer2"), "benefits": ("benefit_type", "WTC")}
REQUIRED_DATE = {"housing": "event_date", "police": "event_date", "dv": "event_date", "asb": "event_date",
                 "benefits": "claim_start"}
ABBREVIATED = set(N.load().street_abbrev)
RECORD_PREFIX = {"housing": "H", "police": "CR/", "dv": "DV", "asb": "ASB-", "schools": "", "benefits": "B"}


def _order(agency: str, events: list) -> None:
    """The row order of an extract (by date, then person): rejects and rendering share it."""
    if agency == "schools":
        events.sort(key=lambda e: (e.date, e.person.pid))
    else:
        events.sort(key=lambda e: (e.date, e.person.pid, e.f.get("role", "")))


def assign_rejects(events: dict, rng) -> None:
    """Mark the events whose rows will be written invalid (before the truth flags are computed).
    A duplicated record_id makes both rows invalid (a validator cannot tell which is right)."""
    for agency, evs in events.items():
        _order(agency, evs)
        prof = PROFILES[agency]
        kinds = REJECTS[agency]
        chosen = [i for i in range(len(evs)) if rng.random() < prof.reject]
        # a small extract still gets one bad row, so that every sample exercises validation
        if not chosen and len(evs) >= 20:
            chosen = [int(rng.random() * len(evs))]
        # keep small extracts under a run's default 5% rejected-share limit
        room = max(1, int(0.03 * len(evs))) if len(evs) < 400 else len(evs)
        for i in chosen:
            e = evs[i]
            if e.reject or room <= 0:
                continue
            kind = kinds[int(rng.random() * len(kinds))]
            if kind == "duplicate_record_id":
                j = i - 1 - int(rng.random() * min(i, 20)) if i else -1
                if j < 0 or evs[j].reject or room < 2:
                    kind = "nothing_to_link_by"
                else:
                    evs[j].reject = kind
                    e.dup_of = j
                    room -= 1
            e.reject = kind
            room -= 1


class Recorder:
    """Renders true people and events as one agency's rows."""

    def __init__(self, agency: str, rng, as_of: dt.date):
        self.agency, self.rng, self.as_of = agency, rng, as_of
        self.prof = PROFILES[agency]
        self.cache: dict[str, tuple[dict, list[str]]] = {}
        self.late: dict[tuple[str, int], int] = {}   # (person, move date) -> days until the agency knew

    def identity(self, p) -> tuple[dict, list[str]]:
        if not self.prof.per_row:
            hit = self.cache.get(p.pid)
            if hit is not None:
                return hit
        out = self._identity(p)
        if not self.prof.per_row:
            self.cache[p.pid] = out
        return out

    def _identity(self, p) -> tuple[dict, list[str]]:
        rng, pr = self.rng, self.prof
        tags: list[str] = []
        fore, mids, sur = p.forename, list(p.middles), p.surname
        comm = p.community
        age = p.age
        if p.called_by_middle and mids:
            r = rng.random()
            if r < pr.called_name:
                fore, mids = mids[0], []; tags.append("called_name")
            elif r < pr.called_name + 0.3:
                fore, mids = f"{fore} {mids[0]}", []; tags.append("middle_in_forename")
        if p.personal_surname and rng.random() < pr.personal_surname:
            sur = p.personal_surname; tags.append("personal_surname")
        if p.third_name and rng.random() < pr.patronymic_cut:
            # the agency keyed another part of the chain as the surname
            if rng.random() < 0.5:
                fore, sur = f"{fore} {sur}", p.third_name; tags.append("third_name")
            else:
                sur = p.third_name; tags.append("grandfather_surname")
        if " " in fore and rng.random() < pr.compound_name:
            f2, s2 = N.compound_variant(fore, sur, rng)
            if (f2, s2) != (fore, sur):
                fore, sur = f2, s2; tags.append("compound_name")
        if ("-" in sur or " " in sur) and comm in ("white_british", "iberian") and rng.random() < pr.double_surname:
            new = N.double_surname_variant(sur, rng)
            if new != sur:
                sur = new; tags.append("double_surname")
        if comm == "arabic" and rng.random() < pr.arabic_prefix:
            new = N.prefix_variant(sur, rng)
            if new != sur:
                sur = new; tags.append("arabic_prefix")
        if comm == "eastern_european" and p.sex == "F" and rng.random() < pr.masculine_form:
            new = N.masculine_surname(sur)
            if new != sur:
                sur = new; tags.append("masculine_form")
        if comm in N.TRANSLITERATED:
            if rng.random() < pr.translit:
                new = N.spelling_variant(fore, rng)
                if new == fore and " " in fore:
                    head, tail = fore.split(" ", 1)
                    new = f"{N.spelling_variant(head, rng)} {tail}"
                if new != fore:
                    fore = new; tags.append("translit_forename")
            if rng.random() < pr.translit:
                new = N.spelling_variant(sur, rng)
                if new != sur:
                    sur = new; tags.append("translit_surname")
        if rng.random() < pr.nickname:
            new = N.nickname(fore, rng)
            if new != fore:
                fore = new; tags.append("nickname")
        if mids and rng.random() < pr.middle_in_forename:
            fore = " ".join([fore] + mids); tags.append("middle_in_forename")
        if rng.random() < (pr.swap_east_asian if comm == "east_asian" else pr.swap_other * N.SWAP_SCALE.get(comm, 1)):
            fore, sur = sur, fore; tags.append("name_order_swapped")
        if rng.random() < pr.ascii:
            f2, s2 = N.fold(fore), N.fold(sur)
            if (f2, s2) != (fore, sur):
                fore, sur = f2, s2; tags.append("diacritics_stripped")
        clean = (fore, sur)   # the name before any keying error: what a later correction restores
        if rng.random() < pr.typo_forename:
            fore, t = C.typo(fore, rng)
            if t:
                tags.append("forename_" + t)
        if rng.random() < pr.typo_surname:
            sur, t = C.typo(sur, rng)
            if t:
                tags.append("surname_" + t)
        if self.agency == "dv":
            fore, t1 = C.cp1252_safe(fore, rng, 0.2)
            sur, t2 = C.cp1252_safe(sur, rng, 0.2)
            if (t1 or t2) and (t1 or t2) not in tags:
                tags.append(t1 or t2)
        if self.agency == "dv":
            clean = tuple("".join(c if C.in_cp1252(c) else N.fold(c) for c in x) for x in clean)
        if age >= 16 and rng.random() < pr.title:
            title = C.title_for(p.sex, age, rng)
            fore = f"{title} {fore}"; tags.append("title")
            clean = (f"{title} {clean[0]}", clean[1])
        upper = rng.random() < pr.upper
        if upper:
            fore, sur = fore.upper(), sur.upper(); tags.append("upper_case")
            clean = (clean[0].upper(), clean[1].upper())
        dob = p.dob
        r = rng.random()
        if r < pr.dob_missing:
            dob = None; tags.append("dob_missing")
        elif r < pr.dob_missing + pr.dob_error:
            dob, t = C.dob_error(dob, rng); tags.append(t)
        elif p.year_only_dob and rng.random() < pr.year_only_dob:
            dob = dt.date(dob.year, 1, 1); tags.append("dob_year_only")
        sex = p.sex
        if rng.random() < pr.sex_missing:
            sex = "U" if rng.random() < 0.5 else ""; tags.append("sex_missing")
        rec = {"forename": fore, "surname": sur, "dob": dob, "sex": sex, "_upper": upper, "_clean": clean}
        if p.nhs and rng.random() < pr.nhs:
            rec["nhs_number"], t = self._id(p.nhs, miskey_nhs, "nhs")
            tags += t
        if p.ni and age >= 18 and rng.random() < pr.ni:
            rec["ni_number"], t = self._id(p.ni, miskey_ni, "ni")
            tags += t
        if p.upn and rng.random() < pr.upn:
            rec["upn"], t = self._id(p.upn, miskey_upn, "upn")
            tags += t
        if p.ethnicity and rng.random() < pr.ethnicity:
            code, text = p.ethnicity.split("|")
            rec["ethnicity"] = code if self.agency == "schools" else text
        return rec, tags

    def _id(self, value: str, miskey, name: str) -> tuple[str, list[str]]:
        rng = self.rng
        tags = []
        if rng.random() < self.prof.miskey:
            value = miskey(value, rng); tags.append(f"{name}_miskeyed")
        r = rng.random()
        if name == "nhs" and r < 0.2:
            value = f"{value[:3]} {value[3:6]} {value[6:]}"
        elif name == "ni" and r < 0.15:
            value = " ".join((value[:2], value[2:4], value[4:6], value[6:8], value[8:])).strip()
        elif name == "ni" and r < 0.25:
            value = value.lower()
        return value, tags

    def address_held(self, p, ordinal: int, may_lag: bool = True):
        """The address the agency holds for p on a date: the previous one while the latest move
        is still within the agency's lag for it. A registration agency learns of each move once
        (its lag is drawn once per person and move); one keying rows afresh draws it per row."""
        history = p.history
        i = 0
        while i + 1 < len(history) and history[i + 1][0] <= ordinal:
            i += 1
        start, addr = history[i]
        if i == 0 or not may_lag:
            return addr, False
        key = (p.pid, start)
        late = self.late.get(key) if not self.prof.per_row else None
        if late is None:
            lo, hi = self.prof.lag_days
            late = lo + int(self.rng.random() * (hi - lo + 1)) if self.rng.random() < self.prof.lag else 0
            if not self.prof.per_row:
                self.late[key] = late
        if ordinal - start < late:
            return history[i - 1][1], True
        return addr, False

    def location(self, p, ordinal: int, rec: dict, tags: list[str], may_lag: bool = True) -> None:
        rng, pr = self.rng, self.prof
        addr, lagged = self.address_held(p, ordinal, may_lag)
        if lagged:
            tags.append("address_lagged")
        r = rng.random()
        missing_pc = r < pr.postcode_missing
        stale = not missing_pc and r < pr.postcode_missing + pr.postcode_old
        stale_pc = None
        if stale:
            # an officer keying a row afresh may take an address from before a move; otherwise
            # (and for a registration agency, whose late moves are its lag) a neighbouring
            # postcode unit (an out-of-date gazetteer)
            older = [a for start, a in p.history if a is not addr and start <= ordinal] if pr.per_row else []
            if older:
                addr = older[-1]; tags.append("address_old")
            else:
                stale_pc = addr.alt_postcode
            tags.append("postcode_old")
        if rng.random() < pr.address_missing:
            rec["address"] = ""; tags.append("address_missing")
        else:
            abbrev = rng.random() < pr.abbreviate
            text = C.address_text(addr, rng, abbrev, rng.random())
            if abbrev and addr.street.rpartition(" ")[2] in ABBREVIATED:
                tags.append("address_abbreviated")
            rec["address"] = text.upper() if rec["_upper"] else text
        if missing_pc:
            pc = ""; tags.append("postcode_missing")
        else:
            pc = stale_pc or addr.postcode
        if pc and rng.random() < pr.postcode_format:
            pc = C.postcode_format(pc, rng); tags.append("postcode_format")
        rec["postcode"] = pc
        if rng.random() < pr.uprn:
            u = str(addr.uprn)
            if rng.random() < pr.miskey:
                i = int(rng.random() * len(u))
                u = u[:i] + str((int(u[i]) + 1) % 10) + u[i + 1:]; tags.append("uprn_miskeyed")
            elif rng.random() < 0.1:
                u = u.zfill(12)   # systems that write UPRNs as 12 digits with leading zeros
            rec["uprn"] = u


def address_date(agency: str, e, held_on: int) -> int:
    """The day whose address a row shows. A benefit claim shows the address the claim holds on
    `held_on` (when the extract is made) or when it ended, not the one it started at; every
    other row shows the address on its own date."""
    if agency != "benefits":
        return e.date
    end = e.f["claim_end"]
    return max(e.date, min(end if end is not None else held_on, held_on))


def may_lag(agency: str, f: dict) -> bool:
    """Whether a row's address can be one move behind: a landlord knows its own tenancy's address."""
    return not (agency == "housing" and f.get("tenancy_ref"))


def render(agency: str, events: list, rng, as_of: dt.date) -> tuple[list[dict], list[tuple]]:
    """Rows (canonical field names, python values) and truth rows for one agency."""
    rec = Recorder(agency, rng, as_of)
    pr = rec.prof
    events = list(events)
    _order(agency, events)
    rows, truth = [], []
    prefix = RECORD_PREFIX[agency]
    seq = 1000 + int(rng.random() * 5000)
    for idx, e in enumerate(events):
        p = e.person
        base, tags0 = rec.identity(p)
        row = dict(base)
        tags = list(tags0)
        if not pr.per_row and pr.row_typo and rng.random() < pr.row_typo:
            row["surname"], t = C.typo(row["surname"], rng)
            if t:
                tags.append("surname_" + t)
        rec.location(p, address_date(agency, e, as_of.toordinal()), row, tags, may_lag=may_lag(agency, e.f))
        del row["_upper"], row["_clean"]
        seq += 1 + (rng.random() < 0.1)
        row["record_id"] = f"{prefix}{seq:08d}" if agency == "schools" else f"{prefix}{seq:07d}"
        f = e.f
        if agency in ("housing", "police", "dv", "asb"):
            row.update(f); row["event_date"] = dt.date.fromordinal(e.date)
        elif agency == "schools":
            row.update(f)
        else:
            row.update(f)
            row["claim_start"] = dt.date.fromordinal(f["claim_start"])
            row["claim_end"] = dt.date.fromordinal(f["claim_end"]) if f["claim_end"] is not None else None
        reason = e.reject or ""
        if e.dup_of is not None:
            row["record_id"] = rows[e.dup_of]["record_id"]
        elif e.reject and e.reject != "duplicate_record_id":
            _make_invalid(agency, e.reject, row, rng)
        rows.append(row)
        truth.append((agency, row["record_id"], idx + 2, p.pid, p.household.fid, p.community,
                      1 if reason else 0, reason, ";".join(tags)))
    return rows, truth


def _make_invalid(agency: str, kind: str, row: dict, rng) -> None:
    if kind == "nothing_to_link_by":   # a row with no name, no date of birth and no identifier
        for name in ("forename", "surname", "dob", "nhs_number", "ni_number", "upn", "uprn"):
            if name in row:
                row[name] = None if name == "dob" else ""
    elif kind == "impossible_date":
        field = REQUIRED_DATE[agency]
        d = row[field] or dt.date(2025, 1, 1)
        row[field] = rng.choice((f"{d.year}-02-30", f"{d.year}-04-31", f"{d.year}-13-{d.day:02d}", f"{d.year}-00-{d.day:02d}"))
    elif kind == "missing_event_date":
        row[REQUIRED_DATE[agency]] = None
    elif kind == "unknown_value":
        field, value = UNKNOWN_VALUES[agency]
        row[field] = value
    elif kind == "negative_sessions":
        row["sessions_authorised"] = -1 - int(rng.random() * 20)
    elif kind == "unauthorised_over_possible":
        row["sessions_unauthorised"] = row["sessions_possible"] + 1 + int(rng.random() * 30)
    else:
        raise ValueError(kind)


# ---- writing --------------------------------------------------------------------------------
def _fmt_date(value, style: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):   # an impossible date, written as the agency would have keyed it
        if style == "dmy":
            y, m, d = value.split("-")
            return f"{d}/{m}/{y}"
        return value
    return value.isoformat() if style == "iso" else value.strftime("%d/%m/%Y")


def _cell(agency: str, col: str, value, style: str):
    """A row value as text, in the agency's own conventions."""
    if col in DATE_FIELDS:
        return _fmt_date(value, style)
    table = OUT_VALUES[agency].get(col)
    if table is not None and value in table:
        return table[value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def headers(agency: str) -> list[str]:
    cols = COLUMNS[agency]
    return [POLICE_HEADERS[c] for c in cols] if agency == "police" else list(cols)


def _column_text(agency: str, col: str, values: list, style: str) -> list[str]:
    """One column's values as the agency's text, a column at a time (the fast path for big sets)."""
    table = OUT_VALUES[agency].get(col)
    if col in DATE_FIELDS:
        memo: dict = {}
        out = []
        for v in values:
            t = memo.get(v)
            if t is None:
                t = memo[v] = _fmt_date(v, style)
            out.append(t)
        return out
    if table is not None:
        return [table[v] if v in table else ("" if v is None else str(v)) for v in values]
    return [v if type(v) is str else ("" if v is None else ("true" if v else "false") if type(v) is bool
                                      else f"{v:.2f}" if type(v) is float else str(v)) for v in values]


def write_csv(path: Path, agency: str, rows: list[dict], encoding: str = "utf-8", delimiter: str = ",") -> None:
    style = DATE_STYLE[agency]
    columns = [_column_text(agency, c, [r.get(c) for r in rows], style) for c in COLUMNS[agency]]
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n" if encoding in ("cp1252", "utf-8-sig") else "\n")
        w.writerow(headers(agency))
        w.writerows(zip(*columns))


def write_xlsx(path: Path, agency: str, rows: list[dict], sheet: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    cols = COLUMNS[agency]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(headers(agency))
    for r in rows:
        out = []
        for c in cols:
            v = r.get(c)
            if c in DATE_FIELDS and isinstance(v, dt.date):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = "DD/MM/YYYY"
                out.append(cell)
            elif c in DATE_FIELDS and isinstance(v, str):
                out.append(_fmt_date(v, "dmy"))
            else:
                out.append(_cell(agency, c, v, "dmy") or None)
        ws.append(out)
    wb.properties.creator = "hnf-match synthetic generator"
    wb.properties.created = dt.datetime(2000, 1, 1)
    wb.properties.modified = dt.datetime(2000, 1, 1)
    wb.save(path)
    _fix_zip_times(path)


def _fix_zip_times(path: Path) -> None:
    """openpyxl stamps each zip member with the current time; fix it so that a seed gives the same bytes."""
    import zipfile
    with zipfile.ZipFile(path) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            if name == "docProps/core.xml":   # openpyxl writes the save time as 'modified'
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


COUNTS = {"sessions_possible", "sessions_unauthorised", "sessions_authorised", "fixed_term_exclusions"}
FLAGS = {"permanent_exclusion", "alternative_provision"}


def write_parquet(path: Path, agency: str, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    cols = COLUMNS[agency]
    style = DATE_STYLE[agency]
    arrays, names = [], []
    for c in cols:
        values = [r.get(c) for r in rows]
        if agency == "schools" and c in COUNTS:
            arr = pa.array(values, type=pa.int64())
        elif agency == "schools" and c in FLAGS:
            arr = pa.array(values, type=pa.bool_())
        elif c in DATE_FIELDS and all(v is None or isinstance(v, dt.date) for v in values):
            arr = pa.array(values, type=pa.date32())
        else:
            arr = pa.array([_cell(agency, c, v, style) or None for v in values], type=pa.string())
        arrays.append(arr); names.append(headers(agency)[cols.index(c)])
    table = pa.Table.from_arrays(arrays, names=names)
    pq.write_table(table, path, compression="zstd")


def source_config(agency: str, filename: str, fmt: str) -> dict:
    """This extract's entry in config.yaml: path, format options and the column/value mappings."""
    spec: dict = {"path": filename}
    if agency == "police":
        if fmt == "xlsx":
            spec["sheet"] = "Offences"
        spec["columns"] = {POLICE_HEADERS[c]: c for c in COLUMNS["police"]}
    if fmt == "csv-cp1252":
        spec["encoding"] = "cp1252"; spec["delimiter"] = ";"
    if fmt in ("csv", "csv-cp1252", "csv-bom") or (fmt == "parquet" and agency != "schools"):
        spec["date_format"] = DATE_STYLE[agency]
    if fmt == "csv-bom":
        spec["encoding"] = "utf-8-sig"
    values = {}
    for col, table in OUT_VALUES[agency].items():
        mapping = {}
        for canonical, theirs in table.items():
            if isinstance(canonical, bool):
                canonical = "true" if canonical else "false"
            mapping[theirs] = canonical
        values[col] = mapping
    if values:
        spec["values"] = values
    return spec


MIXED = {"housing": "csv", "police": "xlsx", "dv": "csv-cp1252", "asb": "csv-bom", "schools": "parquet",
         "benefits": "csv"}
EXT = {"csv": "csv", "csv-cp1252": "csv", "csv-bom": "csv", "xlsx": "xlsx", "parquet": "parquet"}


def write_extract(out_dir: Path, agency: str, rows: list[dict], fmt: str) -> tuple[str, dict]:
    filename = f"{agency}.{EXT[fmt]}"
    path = out_dir / filename
    if fmt == "csv":
        write_csv(path, agency, rows)
    elif fmt == "csv-cp1252":
        write_csv(path, agency, rows, encoding="cp1252", delimiter=";")
    elif fmt == "csv-bom":
        write_csv(path, agency, rows, encoding="utf-8-sig")
    elif fmt == "xlsx":
        write_xlsx(path, agency, rows, "Offences")
    elif fmt == "parquet":
        write_parquet(path, agency, rows)
    else:
        raise ValueError(f"unknown format {fmt}")
    return filename, source_config(agency, filename, fmt)


def check_columns() -> None:
    """Every column an extract holds is a canonical field of its agency (guards against drift)."""
    for agency, cols in COLUMNS.items():
        known = set(field_names(agency))
        missing = set(cols) - known
        if missing:
            raise AssertionError(f"{agency}: columns not in schemas.fields: {sorted(missing)}")

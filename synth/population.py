"""The true population: households at addresses, the people in them, their identifiers and
their address history (movers, adult children who left home). Everything here is the truth;
agencies' spellings and errors are added later (corrupt.py)."""
from __future__ import annotations

import datetime as dt
import random

import synth.names as N
from synth.ids import make_ni, make_nhs, make_upn

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
JUNIOR_NAMING = {"white_british", "west_african", "iberian"}
# Households without a family surname (given name + father's + grandfather's): every Somali one,
# and some Arabic-speaking ones (Sudanese, Yemeni, Iraqi naming).
PATRONYMIC_SHARE = {"somali": 1.0, "arabic": 0.35}
# People whose date of birth is known to some agencies by its year only (arrivals without a birth
# certificate): those agencies record 1 January. By community, for people aged 12 or more.
YEAR_ONLY_DOB = {"somali": 0.4, "arabic": 0.12, "south_asian_muslim": 0.05, "west_african": 0.04}
# Given names made of two words that agencies write joined, hyphenated or split across the fields.
COMPOUND_FORENAMES = {"arabic": (0.15, ("Abdul Rahman", "Abdul Karim", "Abdul Aziz", "Abdul Majid", "Abu Bakr")),
                      "south_asian_muslim": (0.08, ("Abdul Karim", "Abdul Hamid", "Abdul Malik", "Abdul Rahman",
                                                    "Abdul Jabbar")),
                      "somali": (0.1, ("Abdi Rahman", "Abdi Aziz", "Abdul Kadir", "Abdi Fatah", "Nur Hussein"))}

# Household shapes at the reference date, weighted per community (multi-generation households
# are commoner in South Asian communities; couples with children commoner than average in most).
SHAPES = ("single", "couple", "couple_kids", "single_parent", "blended", "multigen")
SHAPE_WEIGHTS = {
    "default": (26, 22, 27, 13, 5, 7),
    "south_asian_muslim": (12, 14, 38, 9, 4, 23),
    "sikh_punjabi": (12, 18, 35, 6, 4, 25),
    "somali": (15, 8, 35, 30, 5, 7),
    "eastern_european": (28, 26, 33, 8, 3, 2),
    "west_african": (20, 15, 35, 22, 4, 4),
}
KIDS = {"default": (1, 1, 2, 2, 2, 3, 3, 4), "south_asian_muslim": (1, 2, 2, 3, 3, 4, 4, 5, 6),
        "somali": (1, 2, 3, 3, 4, 4, 5, 6, 7), "sikh_punjabi": (1, 2, 2, 3)}


class Address:
    __slots__ = ("uprn", "number", "flat", "street", "locality", "town", "postcode", "district", "alt_postcode")

    def __init__(self, uprn, number, flat, street, locality, town, postcode, district, alt_postcode):
        self.uprn, self.number, self.flat, self.street = uprn, number, flat, street
        self.locality, self.town, self.postcode, self.district = locality, town, postcode, district
        self.alt_postcode = alt_postcode   # a neighbouring unit: what a stale gazetteer may hold


class Person:
    __slots__ = ("pid", "community", "sex", "dob", "forename", "middles", "surname", "personal_surname",
                 "third_name", "called_by_middle", "nhs", "ni", "upn", "ethnicity", "household",
                 "history", "urn_primary", "urn_secondary", "is_parent", "age", "year_only_dob")

    def __init__(self, community, sex, dob, forename, surname):
        self.pid = ""
        self.community, self.sex, self.dob = community, sex, dob
        self.forename, self.surname = forename, surname
        self.middles: tuple[str, ...] = ()
        self.personal_surname: str | None = None   # Begum/Bibi/Khatun, Kaur/Singh
        self.third_name: str | None = None          # patronymic naming: the grandfather's given name
        self.called_by_middle = False               # "Mohammed Imran ..." known as Imran
        self.nhs = self.ni = self.upn = None
        self.ethnicity = ""
        self.household = None
        self.history: list[tuple[int, Address]] = []   # (from ordinal, address), ascending
        self.urn_primary = self.urn_secondary = None
        self.is_parent = False
        self.age = -1        # age at as_of, set once the population is final (Builder.finish)
        self.year_only_dob = False   # some agencies know only the year of birth (they write 1 January)

    def address_on(self, ordinal: int) -> Address:
        h = self.history
        addr = h[0][1]
        for start, a in h:
            if start <= ordinal:
                addr = a
            else:
                break
        return addr

    def age_on(self, d: dt.date) -> int:
        b = self.dob
        return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


class Household:
    __slots__ = ("fid", "community", "shape", "address", "members", "high_need", "near_miss", "tenure",
                 "tenancy_ref", "tenancy_start", "moved_on", "prev_address", "problems", "patronymic")

    def __init__(self, community, shape, address):
        self.fid = ""
        self.community, self.shape, self.address = community, shape, address
        self.members: list[Person] = []
        self.high_need = False
        self.near_miss: str | None = None
        self.tenure = "owner"
        self.tenancy_ref = None
        self.tenancy_start = None
        self.moved_on = None
        self.prev_address = None
        self.problems: set[str] = set()
        self.patronymic = False   # no family surname: each person's surname is the father's given name


# One town's geography (synth/data/districts.csv) holds a council of about 1,000,000 extract rows
# (about 127,000 households). A larger set spans more towns, as a regional or national run spans
# several councils: each further town has its own postcode area, districts and localities, and
# the same street names (every town has its Church Street), so that people per district, and so
# candidate pairs per record, stay those of one council instead of growing with the set.
FAMILIES_PER_TOWN = 127_000
TOWN_AREAS = ("HX", "HD", "WF", "OL", "BB", "HG", "DN", "LN", "NG", "DE", "ST", "WS", "CV", "LE",
              "PE", "NR", "IP", "CO", "SS", "ME", "CT", "TN", "RH", "GU", "SO", "BH", "SP", "BA")
_TOWN_STEMS = ("Ash", "Brack", "Cald", "Dun", "Elm", "Fern", "Gar", "Hal", "Ing", "Kel", "Lang", "Mar",
               "Nor", "Oak", "Pen", "Ray", "Stan", "Thorn", "Up", "Wal", "Whit", "Wy")
_TOWN_ENDS = ("ley", "ton", "field", "by", "worth", "ford", "stead", "bridge", "holme", "wick", "dale", "thorpe")


def towns_for(families: int) -> int:
    """How many towns a population of this many households spans (at least one)."""
    return max(1, round(families / FAMILIES_PER_TOWN))


def geography(towns: int) -> list[list[dict[str, str]]]:
    """Each town's districts (district, locality, town, weight). Town 0 is the committed one;
    the others are made from it, deterministically, with their own area and names."""
    base = N.load().districts
    out = [base]
    rng = random.Random("synth:towns")
    used = {d["town"] for d in base} | {d["locality"] for d in base}

    def name() -> str:
        for tries in range(10**6):
            n = rng.choice(_TOWN_STEMS) + rng.choice(_TOWN_ENDS)
            if tries > 200:                 # every stem and ending taken: number them
                n = f"{n} {tries}"
            if n not in used:
                used.add(n)
                return n
        raise AssertionError("unreachable")

    for t in range(1, towns):
        area = TOWN_AREAS[(t - 1) % len(TOWN_AREAS)] + ("" if t <= len(TOWN_AREAS) else str((t - 1) // len(TOWN_AREAS)))
        # The base's towns (its main town and any satellite) each get a name of their own; a
        # locality named after its town keeps that shape.
        towns_here = {t: name() for t in dict.fromkeys(d["town"] for d in base)}
        out.append([{"district": f"{area}{d['district'].lstrip('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}",
                     "locality": towns_here[d["town"]] if d["locality"] == d["town"] else name(),
                     "town": towns_here[d["town"]], "weight": d["weight"]} for d in base])
    return out


class Addresses:
    """Streets in a handful of postcode districts per town; houses and flats, each with its own UPRN."""

    def __init__(self, rng: random.Random, towns: int = 1):
        data = N.load()
        self.rng = rng
        self.streets = []   # (street, locality, town, district, [units], next_number, town index)
        self.towns = geography(towns)
        self.districts = [d for districts in self.towns for d in districts]
        self.dpools = [N.Pool([d["district"] for d in ds], [float(d["weight"]) for d in ds]) for ds in self.towns]
        by_name = {d["district"]: d for d in self.districts}
        used_units: set[str] = set()
        for t in range(towns):
            for street in data.streets:
                d = by_name[self.dpools[t].pick(rng)]
                units = []
                for _ in range(1 + int(rng.random() * 3)):
                    while True:
                        unit = f"{d['district']} {1 + int(rng.random() * 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
                        if unit not in used_units:
                            used_units.add(unit); units.append(unit); break
                self.streets.append([street, d["locality"], d["town"], d["district"], units, 1, t])
        self.per_town = len(data.streets)
        self.used_units = used_units
        self.by_district = by_name
        self.street_names = [{s[0] for s in self.streets[t * self.per_town:(t + 1) * self.per_town]}
                             for t in range(towns)]
        self.kinds = tuple(data.street_abbrev)
        self.uprn = 100090000 + int(rng.random() * 100000)
        self.blocks: list[list] = []   # open blocks of flats: [street_rec, number, flats_used, flats_total]

    def _next_uprn(self) -> int:
        self.uprn += 1 + int(self.rng.random() * 25)
        return self.uprn

    def town_of(self, address: "Address") -> int:
        """The town index of an address (0 with one town)."""
        return 0 if len(self.towns) == 1 else self._town_index[address.district]

    @property
    def _town_index(self) -> dict[str, int]:
        if not hasattr(self, "_towns_by_district"):
            self._towns_by_district = {d["district"]: t for t, ds in enumerate(self.towns) for d in ds}
        return self._towns_by_district

    def _street(self, town: int | None = None) -> list:
        """A street with house numbers left (in the given town, or any); a full street makes way
        for a new one (same stem, another type)."""
        rng = self.rng
        if town is None or len(self.towns) == 1:
            i = int(rng.random() * len(self.streets))
        else:
            i = town * self.per_town + int(rng.random() * self.per_town)
        st = self.streets[i]
        if st[5] <= 160:
            return st
        t = st[6]
        names = self.street_names[t]
        stem = st[0].rpartition(" ")[0]
        for _ in range(40):
            name = f"{stem} {self.kinds[int(rng.random() * len(self.kinds))]}"
            if name not in names:
                break
        else:
            name = f"{stem} {len(names)} {self.kinds[0]}"
        names.add(name)
        d = self.by_district[self.dpools[t].pick(rng)]
        units = []
        for _ in range(1 + int(rng.random() * 3)):
            while True:
                unit = f"{d['district']} {1 + int(rng.random() * 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
                if unit not in self.used_units:
                    self.used_units.add(unit); units.append(unit); break
        self.streets[i] = [name, d["locality"], d["town"], d["district"], units, 1, t]
        return self.streets[i]

    def new(self, near: "Address | None" = None) -> Address:
        """A new home; `near`: mostly in that address's town (a move within the council), with
        several towns."""
        rng = self.rng
        town = None
        if near is not None and len(self.towns) > 1 and rng.random() < 0.85:
            town = self.town_of(near)
        if rng.random() < 0.3:   # a flat
            if not self.blocks or rng.random() < 0.25 or town is not None:
                st = self._street(town)
                number = st[5]; st[5] += 1 + (rng.random() < 0.5)
                self._next_uprn()   # the building's own (parent) UPRN, never a home
                self.blocks.append([st, number, 0, 2 + int(rng.random() * 14)])
                block = self.blocks[-1] if town is not None else self.blocks[int(rng.random() * len(self.blocks))]
            else:
                block = self.blocks[int(rng.random() * len(self.blocks))]
            st, number = block[0], block[1]
            block[2] += 1
            flat = block[2]
            if block[2] >= block[3]:
                self.blocks.remove(block)
        else:
            st = self._street(town)
            number = st[5]; st[5] += 1 + (rng.random() < 0.5)
            flat = None
        units = st[4]
        unit_index = min(len(units) - 1, (number - 1) // 40)
        postcode = units[unit_index]
        alt = units[unit_index - 1] if unit_index > 0 else (units[1] if len(units) > 1 else _recode(postcode, rng))
        return Address(self._next_uprn(), str(number), flat, st[0], st[1], st[2], postcode, st[3], alt)


def _recode(postcode: str, rng) -> str:
    out, inward = postcode.split(" ")
    return f"{out} {inward[0]}{rng.choice(INWARD_LETTERS)}{inward[2]}"


def _dob(rng, as_of_ord: int, age_lo: float, age_hi: float) -> dt.date:
    age = age_lo + rng.random() * (age_hi - age_lo)
    return dt.date.fromordinal(as_of_ord - int(age * 365.2425))


class Builder:
    def __init__(self, rng: random.Random, as_of: dt.date, towns: int = 1):
        self.rng = rng
        self.as_of = as_of
        self.as_of_ord = as_of.toordinal()
        self.data = N.load()
        self.addresses = Addresses(rng, towns)
        self.households: list[Household] = []
        self.persons: list[Person] = []
        self.ni_seen: set[str] = set()
        self.nhs_seen: set[str] = set()
        self.upn_serial = 0
        self.urns = {d["district"]: (100000 + int(rng.random() * 40000), 136000 + int(rng.random() * 9000))
                     for d in self.addresses.districts}

    # ---- names -------------------------------------------------------------------------------
    def forename(self, community: str, sex: str) -> str:
        return self.data.forenames[(community, sex)].pick(self.rng)

    def family_surname(self, community: str, patronymic: bool = False) -> str:
        rng = self.rng
        if patronymic:   # the head's father's given name
            return self.forename(community, "M")
        s = self.data.surnames[(community, "family")].pick(rng)
        if community == "white_british" and rng.random() < 0.04:
            other = self.data.surnames[(community, "family")].pick(rng)
            if other != s:
                s = f"{s}-{other}"
        if community == "iberian":
            other = self.data.surnames[(community, "family")].pick(rng)
            if other != s:
                s = f"{s} {other}"
        return s

    def person(self, community: str, sex: str, dob: dt.date, surname: str, father: Person | None = None,
               patronymic: bool = False) -> Person:
        rng = self.rng
        fore = self.forename(community, sex)
        if community == "eastern_european" and sex == "F":
            surname = N.feminine_surname(surname)
        p = Person(community, sex, dob, fore, surname)
        if patronymic:
            # given + father's given + grandfather's given: the surname is the father's given
            # name, the third name his father's, so no two generations share a surname
            if father is not None:
                # a two-word given name becomes one word as a surname half the time (Abdirahman)
                p.surname = father.forename.replace(" ", "") if rng.random() < 0.5 else father.forename
                p.third_name = father.surname
            else:
                p.third_name = self.forename(community, "M")
        if community == "south_asian_muslim":
            if sex == "M" and rng.random() < 0.25 and fore not in ("Mohammed", "Muhammad", "Mohammad"):
                p.middles = (fore,)
                p.forename = rng.choice(("Mohammed", "Mohammed", "Muhammad", "Mohammad"))
                p.called_by_middle = True
            elif sex == "F" and rng.random() < 0.55:
                p.personal_surname = self.data.surnames[(community, "personal_F")].pick(rng)
        if community == "sikh_punjabi":
            p.personal_surname = "Kaur" if sex == "F" else "Singh"
        if community in ("west_african", "white_british", "eastern_european", "iberian") and rng.random() < (0.6 if community == "west_african" else 0.3):
            k = 1 + (community == "west_african" and rng.random() < 0.4)
            mids = tuple(self.forename(community, sex) for _ in range(k))
            p.middles = tuple(m for m in mids if m != fore)
        compound = COMPOUND_FORENAMES.get(community)
        if compound and sex == "M" and not p.called_by_middle and rng.random() < compound[0]:
            p.forename = rng.choice(compound[1])
        if rng.random() < YEAR_ONLY_DOB.get(community, 0.0) and p.age_on(self.as_of) >= 12:
            p.year_only_dob = True
        p.ethnicity = self.data.ethnicity[community].pick(rng)
        return p

    # ---- identifiers ---------------------------------------------------------------------------
    def ids(self, p: Person) -> None:
        rng = self.rng
        while True:
            nhs = make_nhs(rng)
            if nhs not in self.nhs_seen:
                self.nhs_seen.add(nhs); p.nhs = nhs; break
        if p.age_on(self.as_of) >= 15:   # NINOs are issued around the 16th birthday
            while True:
                ni = make_ni(rng)
                if ni not in self.ni_seen:
                    self.ni_seen.add(ni); p.ni = ni; break
        if p.age_on(self.as_of) <= 22:   # was or is a pupil in the extract window
            self.upn_serial += 1
            p.upn = make_upn(rng, 380, 2000 + int(rng.random() * 9999), p.dob.year + 4, self.upn_serial % 1000)

    # ---- households ----------------------------------------------------------------------------
    def new_household(self, community: str, shape: str) -> Household:
        h = Household(community, shape, self.addresses.new())
        self.households.append(h)
        return h

    def add(self, h: Household, p: Person) -> Person:
        p.household = h
        p.history = [(-10**9, h.address)]
        h.members.append(p)
        self.persons.append(p)
        self.ids(p)
        return p

    def build_household(self) -> Household:
        rng = self.rng
        data = self.data
        community = data.community_pool.pick(rng)
        weights = SHAPE_WEIGHTS.get(community, SHAPE_WEIGHTS["default"])
        shape = rng.choices(SHAPES, weights=weights)[0]
        h = self.new_household(community, shape)
        pat = h.patronymic = rng.random() < PATRONYMIC_SHARE.get(community, 0.0)
        o = self.as_of_ord
        kids_pool = KIDS.get(community, KIDS["default"])
        surname = self.family_surname(community, pat)
        if shape == "single":
            sex = "M" if rng.random() < 0.5 else "F"
            self.add(h, self.person(community, sex, _dob(rng, o, 18, 90), surname, patronymic=pat))
            return h
        # a couple or a lone parent
        man_age = 20 + rng.random() * 45 if shape != "couple" else 20 + rng.random() * 65
        man = self.person(community, "M", _dob(rng, o, man_age, man_age + 0.99), surname, patronymic=pat)
        woman_age = max(18.0, man_age - 2 - rng.random() * 6)
        woman = self.person(community, "F", _dob(rng, o, woman_age, woman_age + 0.99), surname, patronymic=pat)
        if community == "iberian":   # women keep their own surnames
            woman.surname = self.family_surname("iberian")
        if pat:    # a wife keeps her own father's given name, not her husband's
            woman.surname = self.forename(community, "M")
        if community == "white_british" and rng.random() < 0.25:   # unmarried: her own surname
            woman.surname = self.family_surname(community)
        if shape == "single_parent":
            parent = woman if rng.random() < 0.88 else man
            self.add(h, parent)
            self._children(h, parent, man, woman, rng.choice(kids_pool), community)
            return h
        if shape == "blended":
            self.add(h, man); self.add(h, woman)
            # her children from an earlier partner carry his surname
            ex = self.person(community, "M", man.dob, self.family_surname(community, pat), patronymic=pat)
            self._children(h, woman, ex, woman, 1 + int(rng.random() * 2), community)
            if rng.random() < 0.6:
                self._children(h, woman, man, woman, 1, community, youngest_only=True)
            return h
        self.add(h, man); self.add(h, woman)
        man.is_parent = woman.is_parent = shape != "couple"
        if shape in ("couple_kids", "multigen"):
            self._children(h, woman, man, woman, rng.choice(kids_pool), community)
        if shape == "multigen":
            ga = man_age + 22 + rng.random() * 12
            gm = self.person(community, "F", _dob(rng, o, ga, ga + 0.99), man.surname, patronymic=pat)
            if pat:
                gm.surname = self.forename(community, "M")
            self.add(h, gm)
            if rng.random() < 0.5:
                gf = self.person(community, "M", _dob(rng, o, ga + 2, ga + 2.99),
                                 man.third_name if pat and man.third_name else man.surname, patronymic=pat)
                if pat:
                    gf.forename = man.surname   # the grandfather's given name is the father's surname
                self.add(h, gf)
        return h

    def _children(self, h, carer, father, mother, n, community, youngest_only=False):
        rng = self.rng
        o = self.as_of_ord
        mother_age = mother.age_on(self.as_of)
        max_age = min(17.99, mother_age - 17)
        if max_age < 0:
            return
        n = min(n, 1 + int(max_age / 1.5))   # no more children than the mother's years allow
        twins_left = 0
        prev = None
        for i in range(n):
            if twins_left and prev is not None:
                dob = prev.dob
                twins_left = 0
            else:
                hi = max_age if not youngest_only else min(max_age, 4)
                dob = _dob(rng, o, 0.05, max(0.1, hi))
                if rng.random() < 0.03 and i < n - 1:
                    twins_left = 1
            sex = "M" if rng.random() < 0.51 else "F"
            surname = father.surname if community not in ("iberian",) else _iberian_child(father.surname, mother.surname)
            if community == "white_british" and father is not carer and father.surname != mother.surname and rng.random() < 0.3:
                surname = mother.surname
            child = self.person(community, sex, dob, surname, father=father if h.patronymic else None,
                                patronymic=h.patronymic)
            if prev is not None and dob == prev.dob and rng.random() < 0.35:
                # twins with similar forenames (Hassan/Hussain, Ella/Ellie)
                similar = [n_ for n_ in self.data.forenames[(community, sex)].items
                           if n_[:2] == prev.forename[:2] and n_ != prev.forename]
                if similar:
                    child.forename = similar[int(rng.random() * len(similar))]
            if child.forename == (prev.forename if prev else None):
                child.forename = self.forename(community, sex)
            if sex == "M" and father.sex == "M" and community in JUNIOR_NAMING and rng.random() < 0.04:
                child.forename = father.forename   # a son named after his father: same name, same address
            self.add(h, child)
            prev = child
        carer.is_parent = True

    # ---- movers, leavers, namesakes -----------------------------------------------------------
    def movers(self, recent: float, twice: float, older: float) -> None:
        """Households that moved: a `recent` share in the last 12 months (a `twice` share of those
        moved twice, the first time up to a year earlier), an `older` share one to three years
        ago. Dates are spread evenly, so moves fall before, between and after the school terms
        the extracts cover."""
        rng = self.rng
        o = self.as_of_ord
        for h in list(self.households):
            r = rng.random()
            if r < recent:
                self.move(h, self.recent_moves(twice))
            elif r < recent + older:
                self.move(h, [o - 365 - int(rng.random() * 730)])

    def recent_moves(self, twice: float) -> list[int]:
        """Dates of one move in the last 12 months, or (a `twice` share) of two, ascending."""
        rng = self.rng
        moves = [self.as_of_ord - int(rng.random() * 365)]
        if rng.random() < twice:
            moves.insert(0, moves[0] - 30 - int(rng.random() * 335))
        return moves

    def move(self, h: Household, moves: list[int]) -> None:
        """The household came to its address on the last of these dates, from a new address
        for each earlier one; every member's history says so."""
        homes = [self.addresses.new(near=h.address) for _ in moves] + [h.address]
        h.moved_on, h.prev_address = moves[-1], homes[-2]
        history = [(-10**9, homes[0])] + list(zip(moves, homes[1:]))
        for p in h.members:
            p.history = list(history)

    def leavers(self, share: float) -> None:
        """Adult children who left home in the last two years: older records at the parents' address."""
        rng = self.rng
        o = self.as_of_ord
        for h in list(self.households):
            if not any(p.is_parent for p in h.members) or rng.random() >= share:
                continue
            parents = [p for p in h.members if p.is_parent]
            father = next((p for p in parents if p.sex == "M"), None)
            sex = "M" if rng.random() < 0.5 else "F"
            young = self.person(h.community, sex, _dob(rng, o, 18.2, 23), parents[0].surname if not h.patronymic else "",
                                father=father if h.patronymic else None, patronymic=h.patronymic)
            if h.patronymic and father is None:
                young.surname = self.forename(h.community, "M")
            if h.community == "south_asian_muslim" and father is not None:
                young.surname = father.surname
            mother = next((p for p in parents if p.sex == "F"), parents[0])
            if mother.age_on(self.as_of) - young.age_on(self.as_of) < 17:
                continue
            own = self.new_household(h.community, "single")
            self.add(own, young)
            left = o - 30 - int(rng.random() * 700)
            young.history = [(-10**9, mother.address_on(left)), (left, own.address)]

    def namesakes(self, share: float) -> int:
        """Unrelated people in different households who share forename, surname AND date of birth."""
        rng = self.rng
        singles: dict[tuple[str, str], list[Person]] = {}
        for p in self.persons:
            if len(p.household.members) == 1:
                singles.setdefault((p.community, p.sex), []).append(p)
        made = 0
        n = max(2, int(len(self.persons) * share))
        for _ in range(n * 4):
            if made >= n:
                break
            p = self.persons[int(rng.random() * len(self.persons))]
            cands = singles.get((p.community, p.sex))
            if p.age_on(self.as_of) < 18 or not cands:
                continue
            q = cands[int(rng.random() * len(cands))]
            if q.household is p.household:
                continue
            q.forename, q.surname, q.dob, q.middles = p.forename, p.surname, p.dob, p.middles
            q.personal_surname, q.third_name, q.called_by_middle = p.personal_surname, p.third_name, p.called_by_middle
            q.year_only_dob = p.year_only_dob
            made += 1
        return made

    def finish(self) -> None:
        """Deterministic IDs in creation order; social tenancies."""
        rng = self.rng
        for i, h in enumerate(self.households, 1):
            h.fid = f"TF{i:07d}"
        for i, p in enumerate(self.persons, 1):
            p.pid = f"TP{i:08d}"
            p.age = p.age_on(self.as_of)
            d = p.address_on(self.as_of_ord).district
            p.urn_primary, p.urn_secondary = self.urns[d][0] + (i % 7), self.urns[d][1] + (i % 3)


def _iberian_child(father_surname: str, mother_surname: str) -> str:
    return f"{father_surname.split(' ')[0]} {mother_surname.split(' ')[0]}"


def build(rng: random.Random, as_of: dt.date, families: int, towns: int | None = None) -> Builder:
    """The population of this many households, over `towns` towns' geography (None: as many as
    its size needs, see FAMILIES_PER_TOWN)."""
    b = Builder(rng, as_of, towns_for(families) if towns is None else towns)
    while len(b.households) < families:
        b.build_household()
    b.movers(recent=0.15, twice=0.1, older=0.08)
    b.leavers(0.07)
    b.namesakes(0.006)
    b.finish()
    return b

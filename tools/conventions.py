"""Person linkage by naming convention: a generated borough whose households follow one naming
tradition each, recorded differently by each agency, linked with the default settings and
measured per convention (pairwise precision and recall, B-cubed recall, false links by kind).

Conventions: `patronymic` (given + father's given + grandfather's given, no family surname;
agencies record different cuts of the chain), `family_surname` (a surname shared by the
household; a son may carry his father's forename), `shared_surname` (women recorded under a
shared surname such as Begum in some agencies; compound forenames split or joined),
`family_name_first` (family name recorded first by some agencies). Hard negatives come with
the households: father and son (a patronymic son's surname is his father's forename),
siblings, twins, and unrelated people drawing on the same few given names in one borough.
Names are synthetic draws from small pools; no real person is described.

    python -m tools.conventions                 # 3,000 households, about 30,000 records
    python -m tools.conventions --households 600 --misses 20
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

AS_OF = dt.date(2026, 9, 30)

# Weighted pools: a few given names carry most people, as in the communities that name this way.
PATRONYMIC_MALE = {"Mohamed": 20, "Abdi": 7, "Ali": 6, "Hassan": 5, "Ahmed": 5, "Abdullahi": 4, "Omar": 3,
                   "Yusuf": 3, "Ibrahim": 3, "Abdirahman": 2, "Farah": 2, "Ismail": 2, "Osman": 2, "Hussein": 2,
                   "Jama": 1, "Nur": 1, "Aden": 1, "Said": 1, "Mahad": 1, "Guled": 1, "Abdulkadir": 1}
PATRONYMIC_FEMALE = {"Fadumo": 5, "Amina": 4, "Hodan": 3, "Sahra": 3, "Halima": 3, "Maryan": 2, "Ayan": 2,
                     "Hibo": 2, "Ifrah": 2, "Khadra": 2, "Nimco": 1, "Sagal": 1, "Faisa": 1, "Deqa": 1}
SPELLINGS = {"Mohamed": ["Mohammed", "Muhammad", "Maxamed", "Mohamad"], "Hassan": ["Hasan", "Xasan"],
             "Ali": ["Cali"], "Yusuf": ["Yousef", "Yusef", "Yousuf"], "Abdirahman": ["Abdulrahman", "Abdul Rahman", "Cabdiraxmaan"],
             "Abdulkadir": ["Abdul Kadir", "Abdikadir"], "Halima": ["Halimo", "Haleema"], "Hussein": ["Hussain", "Husein"],
             "Ismail": ["Esmail", "Ismael"], "Fadumo": ["Fatuma", "Faduma"], "Amina": ["Ameena", "Aminah"],
             "Ibrahim": ["Ebrahim", "Ibraahim"], "Osman": ["Othman", "Cusmaan"], "Omar": ["Umar", "Cumar"],
             "Abdullahi": ["Abdillahi", "Cabdullahi"], "Farah": ["Faarax"], "Ahmed": ["Ahmad", "Axmed"],
             "Muhammad": ["Mohammed"], "Rahman": ["Rehman"], "Zoe": ["Zoë"], "Jose": ["José"], "Lukasz": ["Łukasz"]}
FAMILY_FORE_MALE = {"James": 4, "Oliver": 3, "Jack": 3, "Harry": 2, "George": 2, "Thomas": 2, "Daniel": 2,
                    "Lukasz": 1, "Piotr": 1, "Jose": 1, "Liam": 2, "Noah": 2, "Leo": 1}
FAMILY_FORE_FEMALE = {"Olivia": 3, "Amelia": 3, "Isla": 2, "Emily": 2, "Sophie": 2, "Grace": 2, "Zoe": 1,
                      "Anna": 1, "Ruby": 2, "Ella": 2}
FAMILY_SURNAMES = {"Smith": 6, "Jones": 5, "Taylor": 4, "Brown": 4, "Williams": 3, "Wilson": 3, "Evans": 2,
                   "Walker": 2, "Nowak": 2, "Kowalski": 1, "Garcia": 1, "Murphy": 2, "Kelly": 1, "Hughes": 1}
SOUTH_ASIAN_MALE = {"Muhammad": 8, "Abdul Rahman": 3, "Abdul Karim": 2, "Rahim": 2, "Jamal": 2, "Shahid": 2,
                    "Imran": 2, "Faisal": 1, "Tariq": 1, "Kamal": 1}
SOUTH_ASIAN_FEMALE = {"Rokeya": 2, "Shirin": 2, "Nasima": 2, "Fatima": 3, "Ayesha": 2, "Salma": 2, "Rubina": 1,
                      "Jahanara": 1}
SOUTH_ASIAN_SURNAMES = {"Uddin": 5, "Miah": 4, "Ahmed": 4, "Ali": 3, "Rahman": 3, "Islam": 3, "Hussain": 3,
                        "Khan": 4, "Chowdhury": 2, "Hoque": 1}
FIRST_FAMILY_FORE = {"Wei": 3, "Jing": 2, "Hui": 2, "Ming": 2, "Lan": 2, "Thanh": 2, "Minh": 2, "Linh": 1, "Yan": 2}
FIRST_FAMILY_SUR = {"Wang": 4, "Li": 4, "Zhang": 3, "Chen": 3, "Liu": 2, "Nguyen": 4, "Tran": 2, "Le": 1}
CONVENTIONS = ("patronymic", "family_surname", "shared_surname", "family_name_first")
STREETS = ["High Street", "Church Road", "Station Road", "Park Avenue", "Mill Lane", "Victoria Road", "Green Lane",
           "Manor Close", "Kings Road", "Queens Drive", "Albert Street", "New Road", "Brook Street", "Elm Grove"]
ADULT_SOURCES = ["housing", "police", "benefits", "dv", "asb"]


def _draw(rng: random.Random, pool: dict[str, int]) -> str:
    return rng.choices(list(pool), weights=list(pool.values()))[0]


@dataclass
class Person:
    pid: str
    convention: str
    sex: str
    given: str
    dob: dt.date
    father: str = ""          # patronymic: father's given name
    grandfather: str = ""     # patronymic: father's father's given name
    surname: str = ""         # the other conventions: the family surname
    shared: str = ""          # shared_surname: the surname some agencies record for her
    home: tuple = ()
    relations: dict = field(default_factory=dict)   # other pid -> relation (father_son, siblings, twins, spouses)


def _dob(rng: random.Random, lo: int, hi: int, placeholder: float = 0.0) -> dt.date:
    year = AS_OF.year - rng.randint(lo, hi)
    if rng.random() < placeholder:
        return dt.date(year, 1, 1)           # only the year known, everywhere
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _address(rng: random.Random, k: int) -> tuple:
    district = f"ZX{1 + k % 9}"
    return (f"{rng.randrange(1, 180)} {rng.choice(STREETS)}", f"{district} {rng.randrange(1, 9)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}",
            str(100000 + k) if rng.random() < 0.5 else "")


def household(rng: random.Random, k: int, convention: str) -> list[Person]:
    """A household of one convention: two parents (sometimes one), children (twins now and
    then), now and then a grandparent."""
    home = _address(rng, k)
    out: list[Person] = []
    pl = 0.25 if convention == "patronymic" else 0.0     # adults born abroad: only the year known
    if convention == "patronymic":
        grandfather, father_of_father = _draw(rng, PATRONYMIC_MALE), _draw(rng, PATRONYMIC_MALE)
        dad = Person(f"h{k}p0", convention, "M", _draw(rng, PATRONYMIC_MALE), _dob(rng, 30, 55, pl),
                     father=father_of_father, grandfather=grandfather)
        mum = Person(f"h{k}p1", convention, "F", _draw(rng, PATRONYMIC_FEMALE), _dob(rng, 28, 50, pl),
                     father=_draw(rng, PATRONYMIC_MALE), grandfather=_draw(rng, PATRONYMIC_MALE))
    elif convention == "family_surname":
        sur = _draw(rng, FAMILY_SURNAMES)
        dad = Person(f"h{k}p0", convention, "M", _draw(rng, FAMILY_FORE_MALE), _dob(rng, 30, 55), surname=sur)
        mum = Person(f"h{k}p1", convention, "F", _draw(rng, FAMILY_FORE_FEMALE), _dob(rng, 28, 50), surname=sur)
    elif convention == "shared_surname":
        sur = _draw(rng, SOUTH_ASIAN_SURNAMES)
        dad = Person(f"h{k}p0", convention, "M", _draw(rng, SOUTH_ASIAN_MALE), _dob(rng, 30, 55), surname=sur)
        mum = Person(f"h{k}p1", convention, "F", _draw(rng, SOUTH_ASIAN_FEMALE), _dob(rng, 28, 50), surname=sur,
                     shared="Begum")
    else:
        sur = _draw(rng, FIRST_FAMILY_SUR)
        dad = Person(f"h{k}p0", convention, "M", _draw(rng, FIRST_FAMILY_FORE), _dob(rng, 30, 55), surname=sur)
        mum = Person(f"h{k}p1", convention, "F", _draw(rng, FIRST_FAMILY_FORE), _dob(rng, 28, 50), surname=sur)
    out.append(dad)
    if rng.random() < 0.85:
        out.append(mum)
        dad.relations[mum.pid] = mum.relations[dad.pid] = "spouses"
    children: list[Person] = []
    for c in range(rng.choice([0, 1, 2, 2, 3, 3, 4])):
        sex = rng.choice("MF")
        if children and rng.random() < 0.12:       # a twin of the child before
            dob, sex = children[-1].dob, rng.choice("MF")
        else:
            dob = _dob(rng, 1, 17)
        pools = {"patronymic": (PATRONYMIC_MALE, PATRONYMIC_FEMALE), "family_surname": (FAMILY_FORE_MALE, FAMILY_FORE_FEMALE),
                 "shared_surname": (SOUTH_ASIAN_MALE, SOUTH_ASIAN_FEMALE), "family_name_first": (FIRST_FAMILY_FORE, FIRST_FAMILY_FORE)}[convention]
        given = _draw(rng, pools[0] if sex == "M" else pools[1])
        if sex == "M" and convention == "family_surname" and c == 0 and rng.random() < 0.3:
            given = dad.given                      # a junior: the father's forename
        taken = {ch.given for ch in children} | {x.given for x in out if x is not dad or given != dad.given}
        while given in taken:
            given = _draw(rng, pools[0] if sex == "M" else pools[1])
        child = Person(f"h{k}p{2 + c}", convention, sex, given, dob)
        if convention == "patronymic":
            child.father, child.grandfather = dad.given, dad.father
        else:
            child.surname = dad.surname
        for other in children:
            rel = "twins" if other.dob == child.dob else "siblings"
            other.relations[child.pid] = child.relations[other.pid] = rel
        dad.relations[child.pid] = child.relations[dad.pid] = "father_son" if sex == "M" else "parent_child"
        if len(out) > 1 and out[1] is mum:
            mum.relations[child.pid] = child.relations[mum.pid] = "parent_child"
        children.append(child)
    out += children
    if convention == "patronymic" and rng.random() < 0.15:    # the father's father lives with them
        gf = Person(f"h{k}g", convention, "M", dad.father, _dob(rng, 62, 85, 0.5), father=dad.grandfather,
                    grandfather=_draw(rng, PATRONYMIC_MALE))
        gf.relations[dad.pid] = dad.relations[gf.pid] = "father_son"
        out.append(gf)
    for p in out:
        p.home = home
    return out


def _spell(rng: random.Random, name: str, p: float) -> str:
    words = name.split()
    out = []
    for w in words:
        alt = SPELLINGS.get(w)
        out.append(rng.choice(alt) if alt and rng.random() < p else w)
    return " ".join(out)


def _names(rng: random.Random, p: Person) -> tuple[str, str, str]:
    """(forename, surname, cut) as one agency records them."""
    if p.convention == "patronymic":
        r = rng.random()
        if r < 0.5:
            fore, sur, cut = p.given, p.father, "given|father"
        elif r < 0.75:
            fore, sur, cut = f"{p.given} {p.father}", p.grandfather, "given_father|grandfather"
        else:
            fore, sur, cut = p.given, p.grandfather, "given|grandfather"
        fore, sur = _spell(rng, fore, 0.2), _spell(rng, sur, 0.2)
    elif p.convention == "shared_surname":
        fore, sur, cut = p.given, p.surname, "full"
        if p.shared and rng.random() < 0.5:
            sur, cut = p.shared, "shared"
        if fore.startswith("Abdul ") and rng.random() < 0.6:
            if rng.random() < 0.5:
                fore, cut = fore.replace(" ", ""), cut + "+joined"
            else:                                   # "Abdul" | "Rahman Uddin"
                head, tail = fore.split(" ", 1)
                fore, sur, cut = head, f"{tail} {sur}", cut + "+split"
        fore, sur = _spell(rng, fore, 0.2), _spell(rng, sur, 0.1)
    elif p.convention == "family_name_first":
        fore, sur, cut = p.given, p.surname, "given|family"
        if rng.random() < 0.35:
            fore, sur, cut = sur, fore, "family|given"
    else:
        fore, sur, cut = _spell(rng, p.given, 0.5), p.surname, "full"
    return fore, sur, cut


def _dob_as_recorded(rng: random.Random, p: Person) -> tuple[str | None, str]:
    r = rng.random()
    if r < 0.05:
        return None, "dob_missing"
    if r < 0.15 and p.dob.month * 100 + p.dob.day != 101:
        return dt.date(p.dob.year, 1, 1).isoformat(), "dob_placeholder"
    if r < 0.19:                                 # one digit of the day mis-keyed
        day = p.dob.day + rng.choice([-1, 1])
        if 1 <= day <= 28:
            return p.dob.replace(day=day).isoformat(), "dob_typo"
    return p.dob.isoformat(), "dob"


def records(households: int = 3000, seed: int = 2026) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(records frame, truth: source, record_id, person_id, convention, cut; relations: pid
    pair -> relation) for a borough of that many households, conventions in equal shares."""
    from matching.linkage import records_frame

    rng = random.Random(seed)
    people: list[Person] = []
    for k in range(households):
        people += household(rng, k, CONVENTIONS[k % len(CONVENTIONS)])
    rows, truth = [], []
    relations = {}
    for p in people:
        for other, rel in p.relations.items():
            relations[tuple(sorted((p.pid, other)))] = rel
        adult = (AS_OF - p.dob).days >= 18 * 365
        sources = rng.sample(ADULT_SOURCES, rng.randint(1, 3)) if adult else ["schools"] * rng.randint(1, 2) + rng.sample(ADULT_SOURCES[:2], rng.randint(0, 1))
        for j, src in enumerate(sources):
            fore, sur, cut = _names(rng, p)
            dob, dob_tag = _dob_as_recorded(rng, p)
            address, postcode, uprn = p.home
            if rng.random() < 0.08:                # an old or other address
                address, postcode, uprn = _address(rng, rng.randrange(10 ** 6))
            if rng.random() < 0.05:
                postcode = ""
            rid = f"{p.pid}r{j}"
            rows.append({"source": src, "record_id": rid, "forename": fore, "surname": sur, "dob": dob,
                         "sex": p.sex if rng.random() > 0.05 else "U", "address": address, "postcode": postcode,
                         "uprn": uprn if src == "housing" and uprn else None, "seen_date": "2026-06-01"})
            truth.append({"source": src, "record_id": rid, "person_id": p.pid, "convention": p.convention,
                          "cut": cut, "dob_tag": dob_tag})
    return records_frame(rows), pd.DataFrame(truth), relations


@dataclass
class Measure:
    table: pd.DataFrame        # per convention: true pairs, found, predicted, correct, P, R, B-cubed recall
    false_links: pd.Series     # wrongly joined record pairs by relation of the two people
    missed: pd.DataFrame       # missed true pairs: convention, cuts, status, levels


def _pairs_of(groups: pd.Series) -> set[tuple[int, int]]:
    out = set()
    for idx in groups.groupby(groups).indices.values():
        idx = sorted(idx)
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                out.add((idx[a], idx[b]))
    return out


def measure(rec: pd.DataFrame, truth: pd.DataFrame, relations: dict, settings=None) -> Measure:
    """Link with the given (default) settings and measure per convention."""
    from matching.compare import Columns, comparison_levels
    from matching.linkage import link_records
    from matching.settings import LinkageSettings
    from matching.standardise import standardise

    settings = settings or LinkageSettings.defaults()
    res = link_records(rec, settings, AS_OF)
    rl = res.record_links.set_index(["source", "record_id"])
    key = pd.MultiIndex.from_arrays([rec["source"], rec["record_id"]])
    pred = pd.Series(rl.reindex(key)["person_id"].to_numpy())
    true = truth["person_id"].reset_index(drop=True)
    tp, pp = _pairs_of(true), _pairs_of(pred)
    conv = truth["convention"].to_numpy()
    rows = []
    from tools.evaluate import bcubed_per_record
    _, brec = bcubed_per_record(pred.to_numpy(), true.to_numpy())
    for c in CONVENTIONS:
        t = {x for x in tp if conv[x[0]] == c}
        p = {x for x in pp if conv[x[0]] == c or conv[x[1]] == c}
        ok = t & p
        rows.append({"convention": c, "records": int((conv == c).sum()), "true_pairs": len(t),
                     "predicted_pairs": len(p), "correct": len(ok),
                     "precision": len(ok) / len(p) if p else 1.0, "recall": len(ok) / len(t) if t else 1.0,
                     "bcubed_recall": float(brec[conv == c].mean())})
    ok = tp & pp
    rows.append({"convention": "ALL", "records": len(rec), "true_pairs": len(tp), "predicted_pairs": len(pp),
                 "correct": len(ok), "precision": len(ok) / len(pp) if pp else 1.0,
                 "recall": len(ok) / len(tp) if tp else 1.0, "bcubed_recall": float(brec.mean())})
    wrong = pp - tp
    pid = true.to_numpy()
    kinds = pd.Series([relations.get(tuple(sorted((pid[a], pid[b]))), "unrelated") for a, b in wrong], dtype=object)
    # Missed true pairs: were they compared, what status, which levels?
    missed = sorted(tp - pp)
    std = standardise(rec.reset_index(drop=True))
    cols = Columns(std)
    mf = pd.DataFrame(missed, columns=["a", "b"]) if missed else pd.DataFrame({"a": [], "b": []}, dtype=np.int64)
    pairs = res.pairs.assign(k=lambda f: f["source_l"].astype(str) + "/" + f["record_id_l"].astype(str) + "~"
                             + f["source_r"].astype(str) + "/" + f["record_id_r"].astype(str))
    status = pairs.set_index("k")["status"].astype(str).to_dict()
    weight = pairs.set_index("k")["match_weight"].to_dict()
    rid = (rec["source"].astype(str) + "/" + rec["record_id"].astype(str)).to_numpy()

    def look(a, b):
        k1, k2 = f"{rid[a]}~{rid[b]}", f"{rid[b]}~{rid[a]}"
        k = k1 if k1 in status else k2
        return status.get(k, "not blocked"), weight.get(k, np.nan)
    if len(mf):
        found = [look(a, b) for a, b in zip(mf["a"], mf["b"])]
        mf["status"] = [s for s, _ in found]
        mf["weight"] = [w for _, w in found]
        mf["convention"] = conv[mf["a"].to_numpy()]
        cut = truth["cut"].to_numpy()
        mf["cuts"] = [" / ".join(sorted((cut[a], cut[b]))) for a, b in zip(mf["a"], mf["b"])]
        dtag = truth["dob_tag"].to_numpy()
        mf["dobs"] = [" / ".join(sorted((dtag[a], dtag[b]))) for a, b in zip(mf["a"], mf["b"])]
        for comp in settings.comparisons:
            if comp.name in ("forename", "surname", "dob", "address"):
                lv = comparison_levels(comp, cols, mf["a"].to_numpy(), mf["b"].to_numpy())
                mf[comp.name] = [comp.levels[i].label for i in lv]
    return Measure(pd.DataFrame(rows), kinds.value_counts(), mf)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.conventions", description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--misses", type=int, default=0, help="print this many missed pairs' levels per convention")
    args = ap.parse_args(argv)
    rec, truth, rel = records(args.households, args.seed)
    t0 = time.perf_counter()
    m = measure(rec, truth, rel)
    w = sys.stdout.write
    w(f"{len(rec)} records, {truth['person_id'].nunique()} persons, {time.perf_counter() - t0:.1f}s\n")
    w(m.table.to_string(index=False, float_format=lambda x: f"{x:.4f}") + "\n")
    w("false links by relation: " + (", ".join(f"{k}={v}" for k, v in m.false_links.items()) or "none") + "\n")
    if len(m.missed):
        w("missed true pairs by convention and status:\n")
        w(m.missed.groupby(["convention", "status"]).size().to_string() + "\n")
        for c, g in m.missed.groupby("convention"):
            w(f"\n-- {c}: missed by levels (forename, surname, dob) --\n")
            w(g.groupby(["forename", "surname", "dob"]).size().sort_values(ascending=False).head(12).to_string() + "\n")
            w(g.groupby("cuts").size().sort_values(ascending=False).head(8).to_string() + "\n")
            if args.misses:
                w(g.head(args.misses)[["cuts", "dobs", "status", "weight", "forename", "surname", "dob", "address"]].to_string() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

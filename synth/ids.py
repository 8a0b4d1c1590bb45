"""Validly-formed identifiers (NHS number mod-11, NI number prefixes/suffix, UPN check letter)
and their mis-keyed forms, which a validator must catch (reference doc, section 5)."""
from __future__ import annotations

import re

NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NI_BANNED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ", "OO", "CR", "FY", "MW", "NC", "PP", "PY", "PZ"}
NI_RE = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$")
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_check(nine: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_valid(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and nhs_check(value[:9]) == int(value[9])


def make_nhs(rng) -> str:
    while True:
        nine = str(400000000 + int(rng.random() * 300000000))
        if nine[0] == "5":   # keep to the 4xx and 6xx ranges used in England
            nine = "6" + nine[1:]
        c = nhs_check(nine)
        if c is not None:
            return nine + str(c)


def miskey_nhs(value: str, rng) -> str:
    """One digit mis-keyed so that the check digit no longer matches."""
    for _ in range(50):
        i = int(rng.random() * 10)
        d = str((int(value[i]) + 1 + int(rng.random() * 9)) % 10)
        out = value[:i] + d + value[i + 1:]
        if not nhs_valid(out):
            return out
    return value[:9] + str((int(value[9]) + 1) % 10)


def ni_valid(value: str) -> bool:
    return bool(NI_RE.match(value)) and value[:2] not in NI_BANNED


def make_ni(rng) -> str:
    while True:
        prefix = NI_FIRST[int(rng.random() * len(NI_FIRST))] + NI_SECOND[int(rng.random() * len(NI_SECOND))]
        if prefix in NI_BANNED:
            continue
        return f"{prefix}{int(rng.random() * 1_000_000):06d}{'ABCD'[int(rng.random() * 4)]}"


def miskey_ni(value: str, rng) -> str:
    """An NI number no validator can accept: a letter keyed as a digit, a dropped digit, a bad suffix."""
    r = rng.random()
    if r < 0.35:
        out = "0" + value[1:]                                             # first letter keyed as a zero
    elif r < 0.7:
        i = 2 + int(rng.random() * 6)
        out = value[:i] + value[i + 1:]                                   # dropped digit
    else:
        out = value[:8] + "E"                                             # suffix outside A-D
    return out if not ni_valid(out) else value[:2] + value[3:]


def upn_check_letter(twelve: str) -> str:
    total = 0
    for pos, ch in enumerate(twelve, start=2):
        total += (int(ch) if ch.isdigit() else 0) * pos
    return UPN_LETTERS[total % 23]


def upn_valid(value: str) -> bool:
    return (len(value) == 13 and value[0] in UPN_LETTERS and value[1:].isdigit()
            and upn_check_letter(value[1:]) == value[0])


def make_upn(rng, la: int, establishment: int, year: int, serial: int) -> str:
    twelve = f"{la:03d}{establishment % 10000:04d}{year % 100:02d}{serial % 1000:03d}"
    return upn_check_letter(twelve) + twelve


def miskey_upn(value: str, rng) -> str:
    for _ in range(50):
        i = 1 + int(rng.random() * 12)
        d = str((int(value[i]) + 1 + int(rng.random() * 9)) % 10)
        out = value[:i] + d + value[i + 1:]
        if not upn_valid(out):
            return out
    letter = UPN_LETTERS[(UPN_LETTERS.index(value[0]) + 1) % 23]
    return letter + value[1:]

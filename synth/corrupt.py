"""How an agency records a true person: its spelling conventions, its systems' habits (upper
case, titles, ASCII only) and keying errors. Each function takes the caller's random.Random and
returns the recorded value plus tags naming what was done (written to truth.csv)."""
from __future__ import annotations

import datetime as dt

import synth.names as N

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
ADJACENT: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _i, _ch in enumerate(_row):
        near = []
        if _i > 0:
            near.append(_row[_i - 1])
        if _i < len(_row) - 1:
            near.append(_row[_i + 1])
        for _rr in (_r - 1, _r + 1):
            if 0 <= _rr < 3 and _i < len(_ROWS[_rr]):
                near.append(_ROWS[_rr][_i])
        ADJACENT[_ch] = "".join(near)


def typo(text: str, rng) -> tuple[str, str]:
    """One keying error: adjacent-key substitution, transposition, dropped or doubled letter."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text, ""
    i = letters[1 + int(rng.random() * (len(letters) - 1))]
    r = rng.random()
    c = text[i]
    if r < 0.35:
        near = ADJACENT.get(c.lower())
        if not near:
            return text[:i] + text[i + 1:], "typo_drop"
        n = near[int(rng.random() * len(near))]
        return text[:i] + (n.upper() if c.isupper() else n) + text[i + 1:], "typo_substitute"
    if r < 0.6 and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != c:
        return text[:i] + text[i + 1] + c + text[i + 2:], "typo_transpose"
    if r < 0.8:
        return text[:i] + text[i + 1:], "typo_drop"
    return text[:i] + c + text[i:], "typo_double"


def title_for(sex: str, age: int, rng) -> str:
    if age < 16:
        return "Miss" if sex == "F" else "Master"
    if rng.random() < 0.02:
        return "Dr"
    if sex == "M":
        return "Mr"
    r = rng.random()
    return "Mrs" if r < 0.55 else ("Miss" if r < 0.8 else "Ms")


def valid_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def dob_error(dob: dt.date, rng) -> tuple[dt.date | str | None, str]:
    """A corrupted date of birth with its tag: a real date, or (where one mis-keyed digit makes
    no calendar date and the agency's system did not check it, half the time) that impossible
    date as ISO text, which the extract writers write as keyed ("1957-12-32")."""
    r = rng.random()
    if r < 0.34 and dob.day <= 12 and dob.day != dob.month:
        return dt.date(dob.year, dob.day, dob.month), "dob_day_month_swapped"
    if r < 0.67:
        return dt.date(dob.year, 1, 1), "dob_placeholder"
    # one digit of dd/mm/yyyy mis-keyed
    s = dob.strftime("%d%m%Y")
    for _ in range(20):
        i = rng.choice((0, 1, 2, 3, 6, 7))
        out = s[:i] + str(int(rng.random() * 10)) + s[i + 1:]
        if out != s:
            d = valid_date(int(out[4:]), int(out[2:4]), int(out[:2]))
            if d is not None:
                return d, "dob_digit"
            if rng.random() < 0.5 and out[2:4] != "00" and out[:2] != "00":
                return f"{out[4:]}-{out[2:4]}-{out[:2]}", "dob_not_a_date"
    return dt.date(dob.year, 1, 1), "dob_placeholder"


def postcode_format(pc: str, rng) -> str:
    r = rng.random()
    if r < 0.45:
        return pc.replace(" ", "")
    if r < 0.75:
        return pc.lower()
    if r < 0.9:
        return pc.replace(" ", "  ")
    return pc + " "


def address_text(addr, rng, abbreviate: bool, layout: float) -> str:
    street = addr.street
    if abbreviate:
        head, _, kind = street.rpartition(" ")
        ab = N.load().street_abbrev.get(kind)
        if ab:
            street = f"{head} {ab}{'.' if rng.random() < 0.2 else ''}"
    line = f"{addr.number} {street}"
    if addr.flat is not None:
        r = rng.random()
        if r < 0.45:
            line = f"Flat {addr.flat}, {line}"
        elif r < 0.65:
            line = f"Flat {addr.flat} {line}"
        elif r < 0.8:
            line = f"{addr.flat}/{addr.number} {street}"
        elif r < 0.9:
            line = f"{line} Flat {addr.flat}"
        else:
            line = f"Apartment {addr.flat}, {line}"
    if layout < 0.4:
        return f"{line}, {addr.locality}, {addr.town}"
    if layout < 0.7:
        return f"{line}, {addr.town}"
    if layout < 0.85:
        return line
    return f"{line} {addr.locality} {addr.town}"


def cp1252_safe(text: str, rng, question_marks: float) -> tuple[str, str]:
    """What a Windows-1252 system stores: letters outside the code page stripped of accents, or '?'."""
    try:
        text.encode("cp1252")
        return text, ""
    except UnicodeEncodeError:
        pass
    if rng.random() < question_marks:
        return text.encode("cp1252", errors="replace").decode("cp1252"), "encoding_question_mark"
    out = "".join(c if in_cp1252(c) else N.fold(c) for c in text)
    return out, "diacritics_stripped"


def in_cp1252(c: str) -> bool:
    try:
        c.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False

"""Ethnicity as one scheme before linkage quality is grouped by it: the DfE school census codes
(`WBRI`), the ONS 2021 categories and their usual free-text forms (`White - British`, `Asian or
Asian British: Pakistani`) and the police's officer-defined IC codes are mapped onto the ONS 2021
census categories for England and Wales, so that a group is a community, not an agency's way of
writing it. A value no rule recognises keeps its own text (the report lists it as not mapped);
"refused" and "not known" forms become unknown. A council's own `values:` mapping for the column
is applied when the extract is read, before this: it wins wherever it gives an ONS label.

The police's IC codes record what an officer saw, at the level of the five ONS groups at most, so
they map to a group's "(group not known)" label, never to a category within it."""
from __future__ import annotations

import re

import pandas as pd

WHITE_BRITISH = "White: English, Welsh, Scottish, Northern Irish or British"
ONS_2021 = (
    "Asian, Asian British or Asian Welsh: Bangladeshi",
    "Asian, Asian British or Asian Welsh: Chinese",
    "Asian, Asian British or Asian Welsh: Indian",
    "Asian, Asian British or Asian Welsh: Pakistani",
    "Asian, Asian British or Asian Welsh: Other Asian",
    "Black, Black British, Black Welsh, Caribbean or African: African",
    "Black, Black British, Black Welsh, Caribbean or African: Caribbean",
    "Black, Black British, Black Welsh, Caribbean or African: Other Black",
    "Mixed or Multiple ethnic groups: White and Asian",
    "Mixed or Multiple ethnic groups: White and Black African",
    "Mixed or Multiple ethnic groups: White and Black Caribbean",
    "Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups",
    WHITE_BRITISH,
    "White: Irish",
    "White: Gypsy or Irish Traveller",
    "White: Roma",
    "White: Other White",
    "Other ethnic group: Arab",
    "Other ethnic group: Any other ethnic group",
)
_ASIAN, _BLACK, _MIXED, _WHITE, _OTHER = (ONS_2021[i].split(":")[0] for i in (0, 5, 8, 12, 17))
GROUP_NOT_KNOWN = tuple(f"{g} (group not known)" for g in (_ASIAN, _BLACK, _MIXED, _WHITE, _OTHER))
KNOWN_LABELS = frozenset(ONS_2021) | frozenset(GROUP_NOT_KNOWN)


def _cat(name: str) -> str:
    found = [c for c in ONS_2021 if c.endswith(": " + name)]
    assert len(found) == 1, name
    return found[0]


# DfE school census main codes (and the common extended ones).
DFE_CODES = {
    "WBRI": WHITE_BRITISH, "WENG": WHITE_BRITISH, "WSCO": WHITE_BRITISH, "WWEL": WHITE_BRITISH,
    "WOWB": WHITE_BRITISH, "WCOR": WHITE_BRITISH,
    "WIRI": _cat("Irish"), "WIRT": _cat("Gypsy or Irish Traveller"),
    # DfE's "Gypsy / Roma" covers Romany Gypsies and Roma: the ONS splits them, the code cannot.
    "WROM": f"{_WHITE} (group not known)",
    "WOTH": _cat("Other White"),
    "MWBC": _cat("White and Black Caribbean"), "MWBA": _cat("White and Black African"),
    "MWAS": _cat("White and Asian"), "MOTH": _cat("Other Mixed or Multiple ethnic groups"),
    "AIND": _cat("Indian"), "APKN": _cat("Pakistani"), "ABAN": _cat("Bangladeshi"), "CHNE": _cat("Chinese"),
    "AOTH": _cat("Other Asian"),
    "BCRB": _cat("Caribbean"), "BAFR": _cat("African"), "BOTH": _cat("Other Black"),
    "OOTH": _cat("Any other ethnic group"), "OARA": _cat("Arab"), "OAFG": _cat("Any other ethnic group"),
    "REFU": None, "NOBT": None,
}
# The police's officer-defined ethnicity (IC) codes.
IC_CODES = {"IC1": f"{_WHITE} (group not known)", "IC2": f"{_WHITE} (group not known)",
            "IC3": f"{_BLACK} (group not known)", "IC4": f"{_ASIAN} (group not known)",
            "IC5": f"{_ASIAN} (group not known)", "IC6": f"{_OTHER} (group not known)",
            "IC9": None, "IC0": None}
_UNKNOWN_WORDS = ("refused", "not known", "unknown", "not stated", "prefer not", "not recorded", "not obtained",
                  "information not yet obtained", "declined")


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z]+", " ", text.lower()).strip() + " "


def _from_text(text: str) -> str | None | bool:
    """The ONS category a free-text ethnicity names, None for a "refused"/"not known" form,
    False when no rule recognises it."""
    w = _words(text)
    if not w.strip():
        return None
    if any(f" {u} " in w for u in _UNKNOWN_WORDS):
        return None
    has = lambda *terms: all(f" {t} " in w for t in terms)   # noqa: E731  (a few lines of rules)
    if has("mixed") or has("multiple") or has("white", "and"):
        if has("white", "and", "black", "caribbean"):
            return _cat("White and Black Caribbean")
        if has("white", "and", "black", "african"):
            return _cat("White and Black African")
        if has("white", "and", "asian"):
            return _cat("White and Asian")
        return _cat("Other Mixed or Multiple ethnic groups")
    if has("gypsy") or has("traveller") or has("travellers"):
        return _cat("Gypsy or Irish Traveller")
    if has("roma") or has("romany"):
        return _cat("Roma")
    for name in ("Pakistani", "Indian", "Bangladeshi", "Chinese", "Caribbean", "African", "Arab"):
        if has(name.lower()):
            return _cat(name)
    if has("irish") and not has("northern", "irish"):
        return _cat("Irish")
    if has("white"):
        if any(has(t) for t in ("british", "english", "welsh", "scottish")) or has("northern", "irish"):
            return WHITE_BRITISH
        if has("other") or has("any"):
            return _cat("Other White")
        return f"{_WHITE} (group not known)"
    if has("asian"):
        return _cat("Other Asian") if has("other") or has("any") else f"{_ASIAN} (group not known)"
    if has("black"):
        return _cat("Other Black") if has("other") or has("any") else f"{_BLACK} (group not known)"
    if has("other", "ethnic") or has("any", "other"):
        return _cat("Any other ethnic group")
    if w.strip() in ("british", "english", "welsh", "scottish", "northern irish"):
        return WHITE_BRITISH
    return False


def _one(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if text in KNOWN_LABELS:
        return text
    code = text.upper().replace(" ", "")
    if code in DFE_CODES:
        return DFE_CODES[code]
    if code in IC_CODES:
        return IC_CODES[code]
    found = _from_text(text)
    return text if found is False else found


def to_ons_2021(values: pd.Series) -> pd.Series:
    """Each value's ONS 2021 category (or its group's "(group not known)" label); None when it
    says refused or not known; its own text when no rule recognises it. Worked out once per
    distinct value."""
    text = values.astype("string")
    distinct = text.dropna().unique()
    mapped = {v: _one(str(v)) for v in distinct}
    return text.map(mapped).astype(object).where(text.notna(), None)


def is_mapped(label: str) -> bool:
    """Is a group label one of the ONS scheme's (rather than a value left as recorded)?"""
    return label in KNOWN_LABELS

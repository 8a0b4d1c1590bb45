"""One pandera schema per agency, built from the canonical fields: it reads like the data
dictionary (which fields are required, which values are allowed, which ranges hold) and, run
lazily, returns every failure as a row that becomes a line of the rejected file.

Schemas check *typed* frames: parsing text into dates, counts and flags happens first in
`schemas.validate`, which records what could not be parsed.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

from schemas.fields import COUNT, DATE, ENUM, FLAG, MONEY, TEXT, Field, fields_for

# A term has about 120-140 possible sessions; a year 380. Anything above this is a keying error.
MAX_SESSIONS_PER_ROW = 400
MAX_AGE_YEARS = 120


def _dtype(f: Field):
    return {TEXT: object, ENUM: object, DATE: "datetime64[ns]", COUNT: "Int64",
            MONEY: "float64", FLAG: "boolean"}[f.kind]


def _column(f: Field) -> pa.Column:
    checks = []
    if f.kind == ENUM:
        checks.append(pa.Check.isin(list(f.values), error=f"not an allowed {f.name} (allowed: {', '.join(f.values)})"))
    if f.kind == COUNT:
        checks.append(pa.Check.ge(0, error=f"{f.name} is negative"))
    if f.name.startswith("sessions_"):
        checks.append(pa.Check.le(MAX_SESSIONS_PER_ROW, error=f"{f.name} above {MAX_SESSIONS_PER_ROW} for one term"))
    if f.name == "record_id":
        checks.append(pa.Check(lambda s: ~s.duplicated(keep=False), element_wise=False,
                               error="record_id repeated in this file (every row with it is rejected)"))
    if f.name == "academic_year":
        checks.append(pa.Check.str_matches(r"^[0-9]{4}/[0-9]{2}$", error="academic_year not like 2025/26"))
    return pa.Column(_dtype(f), checks=checks, nullable=not f.required, required=True, coerce=False)


def _frame_checks(kind: str) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if kind == "schools":
        checks += [
            pa.Check(lambda d: _holds(d.sessions_unauthorised <= d.sessions_possible),
                     error="sessions_unauthorised more than sessions_possible", name="sessions_unauthorised"),
            pa.Check(lambda d: _holds(d.sessions_authorised <= d.sessions_possible),
                     error="sessions_authorised more than sessions_possible", name="sessions_authorised"),
            pa.Check(lambda d: _holds(d.sessions_authorised.fillna(0) + d.sessions_unauthorised.fillna(0) <= d.sessions_possible),
                     error="authorised plus unauthorised sessions more than sessions_possible", name="sessions_possible"),
            pa.Check(lambda d: _holds(_consecutive_years(d.academic_year)),
                     error="academic_year's two years are not consecutive", name="academic_year"),
        ]
    if kind == "benefits":
        checks.append(pa.Check(lambda d: _holds((d.claim_end >= d.claim_start).where(d.claim_end.notna() & d.claim_start.notna())),
                               error="claim_end before claim_start", name="claim_end"))
    return checks


def _holds(rule: pd.Series) -> pd.Series:
    """A cross-field rule holds where it is true or cannot be judged (a value is missing:
    blanks are the job of the required-field checks)."""
    return rule.astype("boolean").fillna(True).astype(bool)


def _consecutive_years(s: pd.Series) -> pd.Series:
    first = pd.to_numeric(s.str[:4], errors="coerce")
    second = pd.to_numeric(s.str[5:7], errors="coerce")
    return (((first + 1) % 100) == second).where(first.notna() & second.notna())


@lru_cache(maxsize=None)
def schema_for(kind: str) -> pa.DataFrameSchema:
    """The agency's schema over canonical typed columns (row_number is carried, not checked)."""
    columns = {f.name: _column(f) for f in fields_for(kind)}
    return pa.DataFrameSchema(columns, checks=_frame_checks(kind), strict=False, name=f"{kind} extract")


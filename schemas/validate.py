"""Validate one extract: parse its text into typed columns, run the agency's pandera schema,
and split it into accepted rows, rejected rows (with row number, column and reason) and
warnings (optional values blanked). Every row read ends up accepted or rejected.

Policy (README: Validation):
- a bad required field, a bad agency field or a duplicated record_id rejects the row;
- a bad optional person field (dob, sex, postcode, identifiers) is blanked and warned: the
  record still carries its event, and a blank is honest where a wrong value would mislead;
- a date column whose a/b/yyyy dates can only be read the other way round from the source's
  date_format stops the run (the rest would be misread in silence); a column of mixed orders
  is not guessed at: its dates that fail the configured order are bad dates like any other.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schemas import identifiers
from schemas.agencies import MAX_AGE_YEARS, schema_for
from schemas.errors import InputDataError
from schemas.fields import COUNT, DATE, ENUM, FLAG, LINKING_FIELDS, MONEY, UPPER_CASE_ENUMS, fields_for

MAX_TEXT_LENGTH = 1000

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}

_SEX = {"m": "M", "male": "M", "man": "M", "boy": "M",
        "f": "F", "female": "F", "woman": "F", "girl": "F",
        "u": "U", "unknown": "U", "not known": "U", "not specified": "U", "x": "U",
        "i": "U", "indeterminate": "U", "other": "U"}

# Spelled-out values councils' systems commonly export, mapped to the canonical codes.
ENUM_ALIASES: dict[str, dict[str, str]] = {
    "benefit_type": {
        "universal credit": "UC", "jobseekers allowance": "JSA", "jobseeker's allowance": "JSA",
        "job seekers allowance": "JSA", "employment and support allowance": "ESA",
        "income support": "IS", "incapacity benefit": "IB", "housing benefit": "HB",
        "council tax reduction": "CTR", "council tax support": "CTR", "carers allowance": "CA",
        "carer's allowance": "CA", "severe disablement allowance": "SDA", "pension credit": "PC",
        "child benefit": "CB", "tax credits": "TC", "child tax credit": "TC", "working tax credit": "TC",
        "personal independence payment": "PIP", "disability living allowance": "DLA",
    },
    "outcome": {"no further action": "nfa", "caution": "cautioned", "charge": "charged",
                "conviction": "convicted", "youth conditional caution": "youth_caution"},
    "intervention": {"acceptable behaviour contract": "abc", "acceptable behaviour agreement": "abc",
                     "community protection notice": "cpn", "criminal behaviour order": "cbo",
                     "asb injunction": "injunction", "anti-social behaviour order": "asbo",
                     "closure": "closure_order", "warning letter": "warning"},
    "event_type": {"notice of seeking possession": "nosp", "homeless": "homeless_application",
                   "ta": "temporary_accommodation", "rent arrears": "arrears"},
    "term": {"aut": "autumn", "spr": "spring", "sum": "summer", "autumn term": "autumn",
             "spring term": "spring", "summer term": "summer"},
    "risk_level": {"std": "standard", "med": "medium"},
}


@dataclass
class Validated:
    source: str
    kind: str
    path: str
    rows_read: int
    accepted: pd.DataFrame
    rejected: pd.DataFrame          # row_number, column, reason, then the row's text as read
    warnings: pd.DataFrame          # row_number, column, reason (no values)
    notes: list[str] = field(default_factory=list)

    @property
    def rejected_share(self) -> float:
        return len(self.rejected) / self.rows_read if self.rows_read else 0.0

    @property
    def rows_with_warnings(self) -> int:
        """Rows kept with at least one value blanked (a row may carry several warnings)."""
        return int(self.warnings["row_number"].nunique()) if len(self.warnings) else 0

    @property
    def warning_share(self) -> float:
        return self.rows_with_warnings / self.rows_read if self.rows_read else 0.0

    def warnings_by_column(self) -> pd.Series:
        """Rows warned per column, most first (column names and counts only, never values)."""
        if not len(self.warnings):
            return pd.Series(dtype="int64")
        per_column = self.warnings.drop_duplicates(["row_number", "column"]).groupby("column").size()
        return per_column.sort_values(ascending=False, kind="stable")   # ties by column name

    def counts(self) -> dict[str, int]:
        return {"read": self.rows_read, "accepted": len(self.accepted),
                "rejected": len(self.rejected), "warnings": len(self.warnings),
                "rows_with_warnings": self.rows_with_warnings}


class _Problems:
    """Collects (frame index, column, reason, severity) as parsing and checks go."""

    def __init__(self):
        self.items: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str, reason: str, severity: str) -> None:
        idx = mask[mask.fillna(False).astype(bool)].index
        if len(idx):
            self.items.append(pd.DataFrame({"idx": idx, "column": column, "reason": reason, "severity": severity}))

    def frame(self) -> pd.DataFrame:
        if not self.items:
            return pd.DataFrame(columns=["idx", "column", "reason", "severity"])
        return pd.concat(self.items, ignore_index=True)


def on_unique(series: pd.Series, func) -> pd.Series:
    """Apply a vectorised function to each distinct value once: extracts repeat the same
    dates, codes and identifiers many times (a pupil has a row per term)."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    if len(uniques) * 2 > len(series):
        return func(series)
    result = func(pd.Series(uniques, dtype=series.dtype))
    taken = result.take(np.where(codes < 0, 0, codes)) if len(result) else result.reindex(range(len(codes)))
    out = pd.Series(taken.to_numpy(), index=series.index, dtype=result.dtype)
    if (codes < 0).any():
        out[codes < 0] = func(pd.Series([None], dtype=series.dtype)).iloc[0]
    return out


def parse_dates(text: pd.Series, date_format: str = "auto") -> pd.Series:
    """Text -> datetime64 (NaT where blank or not a real date). ISO (YYYY-MM-DD) is always
    read as such; d/m/yyyy is read day first (UK) unless date_format is 'mdy'."""
    return on_unique(text, lambda t: _parse_dates(t, date_format))


def _parse_dates(text: pd.Series, date_format: str) -> pd.Series:
    year, month, day = _date_parts(text, date_format)
    ok = year.notna() & month.between(1, 12) & day.between(1, 31)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(
            pd.DataFrame({"year": year[ok], "month": month[ok], "day": day[ok]}).astype(int), errors="coerce")
    return out


def keyed_dates(text: pd.Series, date_format: str = "auto") -> pd.Series:
    """A date as it was keyed, as its 8-digit YYYYMMDD number, where the text has the shape of
    a date but is no calendar date (1957-12-32, 31/02/2010); <NA> elsewhere. The date itself
    is blanked; its digits are still what the agency typed, and linkage compares them (one
    mis-keyed digit) instead of treating the date of birth as unknown."""
    year, month, day = _date_parts(text, date_format)
    shaped = year.notna() & month.notna() & day.notna()
    valid = _parse_dates(text, date_format).notna()
    digits = (year * 10000 + month * 100 + day).where(shaped & ~valid)
    return pd.Series(pd.array(digits.round(), dtype="Int64"), index=text.index)


def _date_parts(text: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Year, month and day of each text in date shape (NaN elsewhere), in the format's order;
    not checked to be a calendar date."""
    s = text.astype("string[pyarrow]").fillna("").str.strip()
    year = pd.Series(np.nan, index=s.index)
    month = year.copy()
    day = year.copy()
    # ISO is never ambiguous, so it is read whatever the date_format: Excel and Parquet date
    # cells arrive as ISO text even in a source whose text dates are dd/mm/yyyy.
    iso = s.str.extract(_ISO).astype(float)
    hit = iso[0].notna()
    year[hit], month[hit], day[hit] = iso.loc[hit, 0], iso.loc[hit, 1], iso.loc[hit, 2]
    if date_format in ("auto", "dmy", "mdy"):
        num = s.str.extract(_NUMERIC_DATE).astype(float)
        hit = num[0].notna() & year.isna()
        first, second = (1, 0) if date_format == "mdy" else (0, 1)
        day[hit], month[hit], year[hit] = num.loc[hit, first], num.loc[hit, second], num.loc[hit, 2]
    return year, month, day


# A date written a/b/yyyy can often be read either way round. One whose second number is 13-31
# (and first 1-12) can only be month first; one whose first number is 13-31 (second 1-12) can
# only be day first. Those are the evidence of the order a column is written in.
MONTH_FIRST, DAY_FIRST = 1, 2
_ORDER_WORDS = {MONTH_FIRST: "month first", DAY_FIRST: "day first"}
_ORDER_NAME = {MONTH_FIRST: "month first (mm/dd/yyyy)", DAY_FIRST: "day first (dd/mm/yyyy)"}
_ORDER_FORMAT = {MONTH_FIRST: "mdy", DAY_FIRST: "dmy"}
# The order each date_format reads a/b/yyyy in ('iso' reads none).
_FORMAT_ORDER = {"auto": DAY_FIRST, "dmy": DAY_FIRST, "mdy": MONTH_FIRST}


def _other(order: int) -> int:
    return DAY_FIRST if order == MONTH_FIRST else MONTH_FIRST


def date_order(text: pd.Series) -> pd.Series:
    """Per value: MONTH_FIRST where an a/b/yyyy date can only be read month first, DAY_FIRST
    where it can only be read day first, 0 otherwise (ISO, either way round, neither, blank)."""
    return on_unique(text, _date_order)


def parse_dates_and_order(text: pd.Series, date_format: str = "auto") -> tuple[pd.Series, pd.Series]:
    """parse_dates and date_order of a whole column in one pass over its distinct values."""
    codes, uniques = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=True)
    if len(uniques) * 2 > len(text) or (codes < 0).any():
        return _parse_dates(text, date_format), _date_order(text)
    distinct = pd.Series(uniques, dtype=text.dtype)
    dates = _parse_dates(distinct, date_format).to_numpy()[codes]
    order = _date_order(distinct).to_numpy()[codes]
    return pd.Series(dates, index=text.index), pd.Series(order, index=text.index)


def _date_order(text: pd.Series) -> pd.Series:
    s = text.astype("string[pyarrow]").fillna("").str.strip()
    num = s.str.extract(_NUMERIC_DATE).astype(float)
    first, second = num[0], num[1]
    out = np.zeros(len(s), dtype="int8")
    out[(first.between(1, 12) & second.between(13, 31)).to_numpy()] = MONTH_FIRST
    out[(first.between(13, 31) & second.between(1, 12)).to_numpy()] = DAY_FIRST
    return pd.Series(out, index=s.index)


@dataclass(frozen=True)
class DateOrder:
    """What one date column's text says about its order: how many rows can only be read month
    first and only day first, and the first row of each (row numbers, never values)."""
    column: str
    month_first: int
    day_first: int
    month_first_row: int | None
    day_first_row: int | None

    @classmethod
    def of(cls, column: str, order: pd.Series, row_numbers: pd.Series) -> "DateOrder":
        month, day = (order == MONTH_FIRST).to_numpy(), (order == DAY_FIRST).to_numpy()
        return cls(column, int(month.sum()), int(day.sum()),
                   int(row_numbers[month].min()) if month.any() else None,
                   int(row_numbers[day].min()) if day.any() else None)

    def count(self, order: int) -> int:
        return self.month_first if order == MONTH_FIRST else self.day_first

    def row(self, order: int) -> int | None:
        return self.month_first_row if order == MONTH_FIRST else self.day_first_row

    def only(self, order: int) -> bool:
        """Some rows can only be read this way round and none the other way."""
        return self.count(order) > 0 and self.count(_other(order)) == 0

    @property
    def mixed(self) -> bool:
        return self.month_first > 0 and self.day_first > 0

    def mixed_note(self, expected: int) -> str:
        """For the summary: a mixed column's rows that fail the configured order, and where they went."""
        other, where = _other(expected), "warnings" if self.column == "dob" else "rejected"
        return (f"column {self.column}: {self.count(other)} row(s) can only be read {_ORDER_WORDS[other]}, "
                f"{self.count(expected)} only {_ORDER_WORDS[expected]}; mixed orders are not guessed, so the "
                f"{self.count(other)} are in the {where} file (keying errors, or dates written both ways)")


def _row_label(row: int) -> str:
    return f"row {row}"


def check_date_order(orders: list[DateOrder], date_format: str, *, path: str, source: str,
                     row_label=None) -> None:
    """Stop when a column's dates can only be read the other way round from the source's
    date_format: read as configured they would be blanked or rejected, and the ambiguous rest
    silently misread with day and month swapped. A mixed column is not guessed at: its rows
    that fail the configured order are blanked or rejected as any bad date is."""
    expected = _FORMAT_ORDER.get(date_format)
    if expected is None:
        return
    other = _other(expected)
    against = [o for o in orders if o.only(other)]
    if not against:
        return
    agreeing = [o for o in orders if o.only(expected)]

    def evidence(o: DateOrder, order: int) -> str:
        return (f"column {o.column} has {o.count(order)} row(s) that can only be read {_ORDER_WORDS[order]} "
                f"(e.g. {(row_label or _row_label)(o.row(order))}) and none {_ORDER_WORDS[_other(order)]}")

    message = (f"{path}: dates written {_ORDER_NAME[other]} but date_format is {date_format}, which reads "
               f"a/b/yyyy dates {_ORDER_NAME[expected]}: " + "; ".join(evidence(o, other) for o in against)
               + f". Read {_ORDER_WORDS[expected]}, those rows would be blanked or rejected and the ambiguous "
               "dates read with day and month swapped. ")
    if agreeing:
        message += ("But " + "; ".join(evidence(o, expected) for o in agreeing)
                    + ", so no one date_format fits this extract: ask the agency to write its dates as YYYY-MM-DD.")
    else:
        message += (f"If the extract writes its dates {_ORDER_WORDS[other]}, set `date_format: "
                    f"{_ORDER_FORMAT[other]}` for source {source} in the run config; if those rows are keying "
                    "errors, correct them in the extract.")
    raise InputDataError(message)


def _parse_count(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    s = text.str.replace(",", "", regex=False)
    ok = s.str.fullmatch(r"-?[0-9]{1,9}(\.0+)?")
    values = pd.to_numeric(s.where(ok), errors="coerce").astype("Int64")
    return values, ~ok & (s != "")


def _parse_money(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    s = text.str.replace(r"[£,\s]", "", regex=True).str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    ok = s.str.fullmatch(r"-?[0-9]{1,9}(\.[0-9]{1,2})?")
    values = pd.to_numeric(s.where(ok), errors="coerce").astype("float64")
    return values, ~ok & (s != "")


def _parse_flag(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    low = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[low.isin(_TRUE)] = True
    values[low.isin(_FALSE)] = False
    return values, values.isna() & (text != "")


def _canonical_enum(name: str, text: pd.Series) -> pd.Series:
    low = text.str.lower().str.strip()
    aliased = low.map(ENUM_ALIASES.get(name, {}))
    if name in UPPER_CASE_ENUMS:
        base = text.str.upper().str.replace(r"\s+", "", regex=True)
    else:
        base = low.str.replace(r"[\s\-]+", "_", regex=True)
    return aliased.fillna(base)


def _academic_year(text: pd.Series) -> pd.Series:
    m = text.str.extract(r"^(\d{4})\s*[/\-]\s*(?:\d{2})?(\d{2})$")
    return (m[0] + "/" + m[1]).where(m[0].notna(), text)


def _sex(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    values = on_unique(text, lambda u: u.str.lower().astype(object).map(_SEX))
    return values, values.isna() & (text != "")


# Agency fields parsed from text: a bad value rejects the row.
_PARSERS = {COUNT: (_parse_count, "a whole number"), MONEY: (_parse_money, "an amount of money"),
            FLAG: (_parse_flag, "yes/no (true/false, y/n, 1/0)")}


def _as_schema_dtypes(typed: pd.DataFrame, schema) -> pd.DataFrame:
    """Text columns handed to the schema as the object columns it declares: pandera meets a
    dtype it does not expect by testing every value one by one, only to report the dtype."""
    cast = {name: object for name, col in schema.columns.items()
            if name in typed and str(col.dtype) == "object" and typed[name].dtype != object}
    return typed.astype(cast) if cast else typed


_DATE_FORMS = {"auto": "ISO or dd/mm/yyyy", "iso": "ISO, YYYY-MM-DD", "dmy": "ISO or dd/mm/yyyy",
               "mdy": "ISO or mm/dd/yyyy"}


def _add_bad_dates(problems: _Problems, bad: pd.Series, against: pd.Series, column: str,
                   date_format: str, severity: str) -> None:
    """Unreadable dates, with their own reason where the row can only be read the other way
    round in a column of mixed orders (which is not guessed at)."""
    suffix = "; blanked" if severity == "warn" else ""
    problems.add(bad & ~against, column, f"{column} is not a valid date ({_DATE_FORMS[date_format]}){suffix}",
                 severity)
    if against.any():
        expected = _FORMAT_ORDER[date_format]
        problems.add(bad & against, column, f"{column} is not a valid date {_ORDER_NAME[expected]}; it would be "
                     f"{_ORDER_WORDS[_other(expected)]}, but other rows of the column can only be read "
                     f"{_ORDER_WORDS[expected]} (mixed orders are not guessed){suffix}", severity)


def validate_extract(raw_frame: pd.DataFrame, kind: str, as_of: dt.date, *, source: str = "",
                     path: str = "", date_format: str = "auto",
                     shape_rejects: pd.DataFrame | None = None, row_label=None) -> Validated:
    """Parse and check a text frame (canonical columns + row_number) of one agency kind.
    `row_label(row_number)` names a row in messages ("row 12" unless given)."""
    text = raw_frame.copy()
    problems = _Problems()
    typed = pd.DataFrame({"row_number": text["row_number"].astype("int64")}, index=text.index)
    as_of_ts = pd.Timestamp(as_of)
    orders: list[DateOrder] = []
    expected = _FORMAT_ORDER.get(date_format)

    for f in fields_for(kind):
        col = text[f.name].astype("string[pyarrow]").fillna("")
        blank = col == ""
        too_long = col.str.len() > MAX_TEXT_LENGTH
        problems.add(too_long, f.name, f"longer than {MAX_TEXT_LENGTH} characters", "reject")
        col = col.where(~too_long, "")
        if f.kind == DATE:  # dob too: what the whole column says about its day/month order
            dates, order = parse_dates_and_order(col, date_format)
            orders.append(DateOrder.of(f.name, order, typed["row_number"]))
            against = (order != 0) & (order != expected) if expected else pd.Series(False, index=col.index)
        if f.name in identifiers.CHECKS:
            check = identifiers.CHECKS[f.name]
            values = on_unique(col, lambda u: check(u.where(u != ""))[0].astype(object))
            valid = on_unique(col, lambda u: check(u.where(u != ""))[1]).astype(bool)
            problems.add(~blank & ~valid, f.name, identifiers.REASONS[f.name] + "; blanked", "warn")
            typed[f.name] = values.astype(object).where(valid, None)
        elif f.name == "dob":
            bad = ~blank & dates.isna()
            _add_bad_dates(problems, bad, against, f.name, date_format, "warn")
            future = dates > as_of_ts
            problems.add(future, f.name, "dob is after the reference date; blanked", "warn")
            too_old = dates < as_of_ts - pd.DateOffset(years=MAX_AGE_YEARS)
            problems.add(too_old, f.name, f"dob gives an age over {MAX_AGE_YEARS}; blanked", "warn")
            typed[f.name] = dates.where(~future & ~too_old)
            # A date of birth that is no calendar date: its digits, for linkage (added to the
            # accepted rows after the agency's schema, which does not know the column).
            # (Only the rows already found to be no date: few, so not the whole column again.)
            dob_keyed = keyed_dates(col[bad], date_format).reindex(col.index)
        elif f.name == "sex":
            values, bad = _sex(col)
            problems.add(bad, f.name, "sex is not M, F or U; blanked", "warn")
            typed[f.name] = values.astype(object).where(values.notna(), None)
        elif f.kind == DATE:
            _add_bad_dates(problems, ~blank & dates.isna(), against, f.name, date_format, "reject")
            implausible = (dates < pd.Timestamp(1900, 1, 1)) | (dates > as_of_ts + pd.DateOffset(years=2))
            problems.add(implausible, f.name, f"{f.name} is before 1900 or more than two years after the reference date", "reject")
            typed[f.name] = dates
        elif f.kind in _PARSERS:
            parse, what = _PARSERS[f.kind]
            # counts, amounts and flags repeat: parse each distinct text once
            values = on_unique(col, lambda u: parse(u)[0])
            bad = on_unique(col, lambda u: parse(u)[1]).astype(bool)
            problems.add(bad, f.name, f"{f.name} is not {what}", "reject")
            typed[f.name] = values
        elif f.kind == ENUM:
            values = on_unique(col, lambda u: _canonical_enum(f.name, u).astype(object))
            typed[f.name] = values.where(~blank, None)
        else:  # TEXT
            values = on_unique(col, _academic_year) if f.name == "academic_year" else col
            typed[f.name] = values.where(~blank, None)
        if f.required:
            problems.add(blank & ~too_long, f.name, f"required {f.name} is blank", "reject")

    # Nothing to link the record by: no name, no date of birth (or one blanked as invalid) and
    # no identifier. A blank name alone is never a reason: the event still counts.
    nothing = pd.Series(True, index=typed.index)
    for name in LINKING_FIELDS:
        nothing &= typed[name].isna()
    problems.add(nothing, "forename; surname; dob",
                 "no name, no date of birth and no identifier: nothing to link the record by", "reject")

    check_date_order(orders, date_format, path=path or kind, source=source or kind, row_label=row_label)
    notes = [o.mixed_note(expected) for o in orders if o.mixed and expected]

    # The agency's schema: allowed values, ranges, cross-field rules, unique record_id.
    try:
        schema_for(kind).validate(_as_schema_dtypes(typed, schema_for(kind)), lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        broken = fc[fc["index"].isna() & fc["failure_case"].astype(str).str.contains("Error")]
        if len(broken):  # a check that crashed is a bug in the schema, not bad data
            raise RuntimeError(f"schema check failed to run: {broken['check'].iloc[0]}")
        fc = fc[fc["index"].notna()].copy()
        # A cross-field check is reported once per column; blame the field it is named after.
        blame = {c.error: c.name for c in schema_for(kind).checks}
        frame_level = fc["schema_context"] == "DataFrameSchema"
        fc.loc[frame_level, "column"] = fc.loc[frame_level, "check"].map(blame)
        fc = fc.drop_duplicates(["column", "check", "index"])
        for (column, check), group in fc.groupby(["column", "check"], dropna=False, sort=False):
            if check == "not_nullable":
                continue  # already reported as "required ... is blank"
            col_name = column if isinstance(column, str) else str(check)
            mask = pd.Series(False, index=typed.index)
            mask[group["index"].astype(typed.index.dtype).unique()] = True
            problems.add(mask, col_name if col_name in typed.columns else "", str(check), "reject")

    if "dob" in typed:
        typed["dob_keyed"] = dob_keyed
    found = problems.frame()
    rejects = found[found.severity == "reject"]
    rejected_idx = pd.Index(rejects["idx"].unique())
    accepted = typed.drop(index=rejected_idx).reset_index(drop=True)

    if len(rejects):
        why = (rejects.groupby("idx", sort=False)
               .agg(column=("column", lambda c: "; ".join(dict.fromkeys(c))),
                    reason=("reason", lambda r: "; ".join(dict.fromkeys(r)))))
        rows = text.loc[why.index]
        rejected = pd.concat([rows[["row_number"]], why[["column", "reason"]], rows.drop(columns="row_number")], axis=1)
    else:
        rejected = pd.DataFrame(columns=["row_number", "column", "reason"] + [c for c in text.columns if c != "row_number"])
    if shape_rejects is not None and len(shape_rejects):
        extra = shape_rejects.assign(column="")[["row_number", "column", "reason"]]
        rejected = pd.concat([rejected, extra], ignore_index=True)
    rejected = rejected.sort_values("row_number", kind="stable").reset_index(drop=True)

    warns = found[(found.severity == "warn") & ~found["idx"].isin(rejected_idx)]
    warnings = pd.DataFrame({"row_number": text.loc[warns["idx"], "row_number"].to_numpy(),
                             "column": warns["column"].to_numpy(), "reason": warns["reason"].to_numpy()})
    warnings = warnings.sort_values(["row_number", "column"], kind="stable").reset_index(drop=True)
    rows_read = len(text) + (0 if shape_rejects is None else len(shape_rejects))
    return Validated(source=source or kind, kind=kind, path=path, rows_read=rows_read,
                     accepted=accepted, rejected=rejected, warnings=warnings, notes=notes)

"""pandera schemas of the frames one stage hands the next (docs/ARCHITECTURE.md): the stacked
person records, the standardised frame's key columns, record links, members, review pairs, the
need matrix and its evidence. The tests check them on the sample run and on small cases; a run
does not (it must not slow down)."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

from schemas.columns import DECISION_COLUMNS

PERSON_ID = r"^P[0-9]+$"
FAMILY_ID = r"^F[0-9]+$"
POSTCODE = r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$"
ROLES = ("adult", "child")
PLACED_BY = ("uprn", "address", "household_home", "moved_with_household", "postcode_and_surname", "incident", "hint", "none")


def _is_text(s: pd.Series) -> bool:
    return all(isinstance(v, str) for v in s.dropna())


def _is_date(s: pd.Series) -> bool:
    """datetime.date values (not timestamps): as written to CSV, without a time."""
    return all(type(v) is dt.date for v in s.dropna())


def _is_tokens(s: pd.Series) -> bool:
    return all(isinstance(v, tuple) and all(isinstance(t, str) and t for t in v) for v in s)


def text(nullable: bool = True, pattern: str | None = None, isin: tuple[str, ...] | None = None) -> pa.Column:
    """Text or missing, as object or pandas string dtype (both occur: a column is whichever its
    extract's reader made it)."""
    checks = [pa.Check(_is_text, error="not text")]
    if pattern:
        checks.append(pa.Check.str_matches(pattern))
    if isin:
        checks.append(pa.Check.isin(list(isin)))
    return pa.Column(None, checks=checks, nullable=nullable)


def timestamp(nullable: bool = True) -> pa.Column:
    return pa.Column("datetime64[ns]", nullable=nullable)


def count(dtype: str = "int64", nullable: bool = False) -> pa.Column:
    return pa.Column(dtype, pa.Check.ge(0), nullable=nullable)


def _range_index(frame: pd.DataFrame) -> bool:
    return isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1


_RANGE_INDEX = pa.Check(_range_index, error="the index is not a RangeIndex from 0")
_PERSON_FIELDS = {
    "forename": text(), "surname": text(), "sex": text(isin=("M", "F", "U")), "address": text(),
    "postcode": text(pattern=POSTCODE), "uprn": text(pattern=r"^[1-9][0-9]{0,11}$"),
    "nhs_number": text(pattern=r"^[0-9]{10}$"), "ni_number": text(pattern=r"^[A-Z]{2}[0-9]{6}[A-D]$"),
    "upn": text(pattern=r"^[A-Z][0-9]{11}[0-9A-Z]$"),
}

# pipeline.stages.stack_person_records -> matching.linkage.link_records: one row per accepted
# record of every source.
RECORDS = pa.DataFrameSchema({
    "source": text(nullable=False),
    "record_id": text(nullable=False),
    "row_number": count(),
    **{k: v for k, v in _PERSON_FIELDS.items() if k in ("forename", "surname")},
    "dob": timestamp(),
    **{k: v for k, v in _PERSON_FIELDS.items() if k not in ("forename", "surname")},
    "ethnicity": text(), "tenancy_ref": text(), "claim_ref": text(),
    "seen_date": timestamp(),
    # A benefit claim's end, or the reference date while it is open: when its address is held.
    "held_until": timestamp(),
    # A date of birth that is no calendar date, as its keyed YYYYMMDD digits (dob is blank).
    "dob_keyed": pa.Column("Int64", pa.Check.in_range(0, 99999999), nullable=True),
}, ordered=True, strict=True, unique=["source", "record_id"], checks=[_RANGE_INDEX], name="records")

# matching.standardise.standardise: the columns blocking passes and comparison levels read
# (matching.setting_checks.STANDARD_COLUMNS), one row per record. Further columns may follow.
_TOKENS = pa.Column(object, pa.Check(_is_tokens, error="not a tuple of words"))
_FLAG = pa.Column(bool)
_NUMBER = pa.Column("Int64", nullable=True)
STANDARDISED = pa.DataFrameSchema({
    **{c: text() for c in ("fore_std", "fore1", "fore_canon", "fore_mp", "fore_initial", "sur_std", "sur_whole",
                           "sur_canon", "sur_mp", "sur_nysiis", "name_pair_key", "name_sort_key", "addr_key",
                           "addr_house_street", "addr_street", "addr_flat_house", "addr_sorted", "sur_initial",
                           "tenancy_ref", "claim_ref")},
    **{c: _TOKENS for c in ("fore_tokens", "fore1_tokens", "sur_tokens")},
    **{c: _FLAG for c in ("sur_shared", "sur_chain_name", "dob_placeholder", "dob_miskeyed")},
    **{c: _NUMBER for c in ("dob_key", "dob_year", "dob_month", "dob_day", "birth_year")},
    **{c: _PERSON_FIELDS[c] for c in ("sex", "postcode", "uprn", "nhs_number", "ni_number", "upn")},
    "postcode_outward": text(pattern=r"^[A-Z]{1,2}[0-9][0-9A-Z]?$"),
    "source": text(nullable=False), "record_id": text(nullable=False), "seen_date": timestamp(),
    "held_until": timestamp(),
}, strict=False, checks=[_RANGE_INDEX], name="standardised records")

# LinkageResult.record_links: the first four columns are a contract other tools read.
RECORD_LINKS = pa.DataFrameSchema({
    "source": text(nullable=False),
    "record_id": text(nullable=False),
    "person_id": text(nullable=False, pattern=PERSON_ID),
    "family_id": text(nullable=False, pattern=FAMILY_ID),
    # The highest accepted-link probability that joined the record to its person; blank alone.
    "match_score": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
}, ordered=True, strict=True, unique=["source", "record_id"], checks=[_RANGE_INDEX], name="record links")

# LinkageResult.members: one row per person, in family and person order.
MEMBERS = pa.DataFrameSchema({
    "family_id": text(nullable=False, pattern=FAMILY_ID),
    "person_id": text(nullable=False, pattern=PERSON_ID),
    "role": text(nullable=False, isin=ROLES),
    "age": count("Int64", nullable=True),
    "dob": timestamp(),
    "forename": text(), "surname": text(), "address": text(),
    "postcode": _PERSON_FIELDS["postcode"], "uprn": _PERSON_FIELDS["uprn"],
    "agencies": text(nullable=False, pattern=r"^[^;]+(;[^;]+)*$"),   # ;-joined sorted sources
    "placed_by": text(nullable=False, isin=PLACED_BY),
    "address_seen_on": pa.Column(None, pa.Check(_is_date, error="not a date"), nullable=True),
    "joined_by": text(nullable=False),
    "own_address": text(),
    "own_address_seen_on": pa.Column(None, pa.Check(_is_date, error="not a date"), nullable=True),
}, ordered=True, strict=True, unique=["person_id"], checks=[_RANGE_INDEX], name="members")

_REVIEWED_FIELDS = ("forename", "surname", "dob", "sex", "address", "postcode", "uprn", "nhs_number", "ni_number",
                    "upn")


def _one_row_per_person_pair(frame: pd.DataFrame) -> bool:
    left, right = frame["person_id_l"].astype(str), frame["person_id_r"].astype(str)
    pair = left.where(left < right, right) + "\x1f" + right.where(left < right, left)
    return bool((left != right).all() and pair.is_unique)


# LinkageResult.review_pairs: the clerical review queue, one row per pair of persons in the
# uncertain band shown by its strongest record pair (the decision file's columns), the number of
# record pairs it stands for, each side's family and agencies, the fields side by side
# (standardised and as recorded), a weight and the level reached per comparison and an empty
# decision for the clerk.
REVIEW_PAIRS = pa.DataFrameSchema({
    **{c: text(nullable=False) for c in DECISION_COLUMNS[:4]},
    "person_id_l": text(nullable=False, pattern=PERSON_ID),
    "person_id_r": text(nullable=False, pattern=PERSON_ID),
    "family_id_l": text(nullable=False),
    "family_id_r": text(nullable=False),
    # Added once the families are scored (criteria.what_if): 1 where merging the two persons
    # would change a family's eligibility.
    "eligibility_if_match": pa.Column(int, pa.Check.isin([0, 1]), required=False),
    "record_pairs": pa.Column(int, pa.Check.ge(1)),
    "agencies_l": text(nullable=False),
    "agencies_r": text(nullable=False),
    **{c: (timestamp() if c.startswith("dob_") else text()) for f in _REVIEWED_FIELDS
       for c in [f"{f}_l", f"{f}_r"] + ([f"{f}_recorded_l", f"{f}_recorded_r"] if f != "dob" else [])},
    "match_probability": pa.Column(float, pa.Check.in_range(0, 1)),
    "match_weight": pa.Column(float),
    "^w_.+$": pa.Column(None, pa.Check(lambda s: pd.api.types.is_float_dtype(s), error="not a number"),
                        regex=True),
    "^level_.+$": pa.Column(None, pa.Check(_is_text, error="not text"), nullable=False, regex=True),
    "decision": text(nullable=False, isin=("",)),
}, ordered=True, strict=True, name="review pairs",
    checks=[_RANGE_INDEX, pa.Check(_one_row_per_person_pair, error="a person pair asked twice or within one person")])


@lru_cache(maxsize=None)
def need_matrix(criteria: tuple[str, ...], last_record_date: bool = False) -> pa.DataFrameSchema:
    """CriteriaResult.need_matrix for a criteria set's criteria: one row per family, a column per
    criterion (1, 0, or blank where no extract had data for it); with `last_record_date`, as the
    run records it (pipeline.run.with_last_record_date adds each family's latest record date)."""
    return pa.DataFrameSchema({
        "family_id": text(nullable=False, pattern=FAMILY_ID),
        "members": count(),
        "adults": count(),
        "children": count(),
        "postcode_district": text(pattern=r"^[A-Z]{1,2}[0-9][0-9A-Z]?$"),
        **{c: pa.Column(None, pa.Check.isin([0, 1]), nullable=True) for c in criteria},
        "criteria_met": count(),
        "eligible": pa.Column(int, pa.Check.isin([0, 1])),
        **({"last_record_date": timestamp()} if last_record_date else {}),
    }, ordered=True, strict=True, unique=["family_id"], name="need matrix", checks=[
        _RANGE_INDEX,
        pa.Check(lambda d: (d["adults"] + d["children"] == d["members"]), error="adults + children is not members"),
        pa.Check(lambda d: d[list(criteria)].eq(1).sum(axis=1) == d["criteria_met"],
                 error="criteria_met is not the number of criteria met"),
    ])


# CriteriaResult.evidence: which records made each family meet each criterion.
EVIDENCE = pa.DataFrameSchema({
    "family_id": text(nullable=False, pattern=FAMILY_ID),
    "criterion": text(nullable=False),
    "indicator": text(nullable=False),
    "person_id": text(nullable=False, pattern=PERSON_ID),
    "source": text(nullable=False),
    "record_id": text(nullable=False),
    "event_date": timestamp(),
    "period": text(),     # the term ("2025/26 autumn"), the claim's span or the event's date, as text
    "value": text(),      # the value behind the tick: absence %, a count or amount, the event type
}, ordered=True, strict=True, checks=[_RANGE_INDEX], name="evidence")

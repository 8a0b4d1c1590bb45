"""Column contracts shared between stages and writers, defined once at the bottom floor."""
from __future__ import annotations

import pandas as pd

# The first four columns of record_links.csv: other tools read them, they must stay.
RECORD_LINK_COLUMNS = ["source", "record_id", "person_id", "family_id"]
# A clerical decision on a record pair, as review files and clerical_decisions.csv hold it.
DECISION_COLUMNS = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]

# Clerical decision words, one set for the review file a person fills in, the decisions carried
# over from last quarter and linkage. Case and surrounding spaces do not matter.
MATCH = "match"
NON_MATCH = "non-match"
WITHDRAW = "withdraw"          # takes back a decision made in an earlier quarter
MATCH_WORDS = frozenset({"match", "yes", "y", "same", "same person", "1", "true"})
NON_MATCH_WORDS = frozenset({"non-match", "nonmatch", "non match", "non_match", "no match", "no", "n",
                             "different", "different people", "0", "false"})
WITHDRAW_WORDS = frozenset({"withdraw", "withdrawn"})


def normalise_decision(text: object) -> str | None:
    """MATCH, NON_MATCH or WITHDRAW for a decision word; "" for a blank (no decision yet, also a
    missing value); None for anything else, which the caller reports with its row."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    word = str(text).strip().lower()
    if not word:
        return ""
    if word in MATCH_WORDS:
        return MATCH
    if word in NON_MATCH_WORDS:
        return NON_MATCH
    if word in WITHDRAW_WORDS:
        return WITHDRAW
    return None


# The stacked person records every stage after validation reads (pipeline.stages builds them,
# matching.linkage.records_frame makes them from partial rows): the person fields, household
# hints, the record's own date (`seen_date`: an event's date, a school term's start, a claim's
# start) and, for a record whose address is held over a period (a benefit claim), the last day
# it is known to be held (`held_until`: the claim's end, or the reference date while open).
# `dob_keyed` is a date of birth that was no calendar date (blanked in `dob`) as its keyed
# YYYYMMDD digits, compared by linkage for one mis-keyed digit; blank for every other record.
RECORD_COLUMNS = ("source", "record_id", "row_number", "forename", "surname", "dob", "sex", "address",
                  "postcode", "uprn", "nhs_number", "ni_number", "upn", "ethnicity", "tenancy_ref",
                  "claim_ref", "seen_date", "held_until", "dob_keyed")
DATE_RECORD_COLUMNS = ("dob", "seen_date", "held_until")

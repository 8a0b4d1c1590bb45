"""Canonical fields of every agency extract (PRODUCT.md), their types and allowed values.

This module is the contract between stages: ingest maps a council's columns onto these names,
validation coerces them to these types, and matching and criteria read them.
"""
from __future__ import annotations

from dataclasses import dataclass

# Kinds a field can have once validated. Text stays str; dates become datetime64 (NaT when
# blank); counts become nullable Int64; money becomes float; flags become nullable boolean.
TEXT, DATE, COUNT, MONEY, FLAG, ENUM = "text", "date", "count", "money", "flag", "enum"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False
    # The column must be in the extract even where a row's value is blank (the names: a
    # heading mapped wrongly would otherwise leave every row nameless without a word).
    in_header: bool = False
    values: tuple[str, ...] = ()          # allowed values for ENUM fields, canonical lower-case
    description: str = ""


# Person fields carried by every extract. Only record_id is required in every row; a row is
# rejected when it has nothing to link it by (no name, no date of birth and no identifier).
PERSON_FIELDS: tuple[Field, ...] = (
    Field("record_id", TEXT, required=True, description="the agency's own row/person reference, unique within the file"),
    Field("forename", TEXT, in_header=True, description="forename(s) as recorded; may be blank (\"Baby of\", unknown)"),
    Field("surname", TEXT, in_header=True, description="surname as recorded; may be blank"),
    Field("dob", DATE, description="date of birth"),
    Field("sex", ENUM, values=("M", "F", "U"), description="M, F or U"),
    Field("address", TEXT, description="free-text address line(s)"),
    Field("postcode", TEXT, description="UK postcode"),
    Field("uprn", TEXT, description="Unique Property Reference Number (digits, leading zeros dropped)"),
    Field("nhs_number", TEXT, description="NHS number, 10 digits with modulus-11 check digit"),
    Field("ni_number", TEXT, description="National Insurance number"),
    Field("upn", TEXT, description="Unique Pupil Number, 13 characters with check letter"),
    Field("ethnicity", TEXT, description="free text or council codes; used only to report linkage quality by group, never as matching evidence"),
)

IDENTIFIER_FIELDS = ("nhs_number", "ni_number", "upn", "uprn")
# A row needs at least one of these to be linked to a person (PRODUCT.md, canonical fields).
LINKING_FIELDS = ("forename", "surname", "dob") + IDENTIFIER_FIELDS

HOUSING_EVENTS = ("tenancy", "arrears", "nosp", "eviction", "asb_eviction",
                  "homeless_application", "temporary_accommodation")
ASB_INTERVENTIONS = ("none", "warning", "abc", "cpn", "injunction", "cbo", "asbo", "closure_order")
BENEFIT_TYPES = ("JSA", "ESA", "IS", "IB", "UC", "HB", "CTR", "CA", "SDA", "PIP", "DLA", "CB", "PC", "TC", "OTHER")

AGENCY_FIELDS: dict[str, tuple[Field, ...]] = {
    "housing": (
        Field("event_type", ENUM, required=True, values=HOUSING_EVENTS),
        Field("event_date", DATE, required=True),
        Field("tenancy_ref", TEXT),
        Field("rent_arrears_gbp", MONEY),
    ),
    "police": (
        Field("event_type", ENUM, required=True, values=("offence", "incident")),
        Field("offence_category", TEXT),
        Field("outcome", ENUM, values=("charged", "cautioned", "convicted", "youth_caution", "nfa")),
        Field("role", ENUM, required=True, values=("offender", "suspect", "victim", "witness")),
        Field("event_date", DATE, required=True),
    ),
    "dv": (
        Field("role", ENUM, required=True, values=("victim", "perpetrator", "child_in_household")),
        Field("risk_level", ENUM, values=("standard", "medium", "high")),
        Field("marac", FLAG),
        Field("event_date", DATE, required=True),
    ),
    "asb": (
        Field("role", ENUM, required=True, values=("perpetrator", "victim")),
        Field("intervention", ENUM, values=ASB_INTERVENTIONS),
        Field("event_date", DATE, required=True),
    ),
    "schools": (
        Field("school_urn", TEXT),
        Field("academic_year", TEXT, required=True, description="e.g. 2025/26"),
        Field("term", ENUM, required=True, values=("autumn", "spring", "summer")),
        Field("sessions_possible", COUNT, required=True),
        Field("sessions_unauthorised", COUNT),
        Field("sessions_authorised", COUNT),
        Field("fixed_term_exclusions", COUNT),
        Field("permanent_exclusion", FLAG),
        Field("alternative_provision", FLAG),
    ),
    "benefits": (
        Field("benefit_type", ENUM, required=True, values=BENEFIT_TYPES),
        Field("out_of_work", FLAG),
        Field("claim_ref", TEXT),
        Field("role", ENUM, values=("claimant", "partner", "dependant")),
        Field("claim_start", DATE, required=True),
        Field("claim_end", DATE, description="blank while the claim is open"),
    ),
    # Any further agency (children's social care, health, youth offending, ...) plugs in as
    # a generic event extract: criteria filter on event_type and category.
    "events": (
        Field("event_type", TEXT, required=True),
        Field("category", TEXT),
        Field("event_date", DATE, required=True),
    ),
}

# The canonical enumerations are lower-case except these, kept upper-case as they are written.
UPPER_CASE_ENUMS = {"sex", "benefit_type"}


def fields_for(kind: str) -> tuple[Field, ...]:
    """All canonical fields of an extract of this kind: person fields, then agency fields."""
    return PERSON_FIELDS + AGENCY_FIELDS[kind]


def field_names(kind: str) -> list[str]:
    return [f.name for f in fields_for(kind)]


@dataclass(frozen=True)
class AgencyKind:
    """How an agency's records relate to time, for windows and for 'latest address'."""
    date_field: str | None
    household_hint: str | None = None


AGENCY_KINDS: dict[str, AgencyKind] = {
    "housing": AgencyKind("event_date", household_hint="tenancy_ref"),
    "police": AgencyKind("event_date"),
    "dv": AgencyKind("event_date"),
    "asb": AgencyKind("event_date"),
    "schools": AgencyKind(None),  # dated by academic_year + term
    "benefits": AgencyKind("claim_start", household_hint="claim_ref"),
    "events": AgencyKind("event_date"),
}

"""The frames passed between stages hold to their schemas (schemas.frames): on a small run made of
tiny synthetic extracts, and on the whole sample run."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from pandera.errors import SchemaError, SchemaErrors

from criteria import load_criteria, score_families
from criteria.engine import EVIDENCE_COLUMNS
from matching.linkage import RECORD_COLUMNS as LINKAGE_RECORD_COLUMNS
from matching.linkage import link_records, standardise_records
from matching.setting_checks import STANDARD_COLUMNS
from matching.settings import LinkageSettings
from pipeline.config import load_config
from pipeline.run import with_last_record_date
from pipeline.stages import RECORD_COLUMNS, ingest_and_validate, load_records, stack_person_records
from schemas import frames
from schemas.columns import DECISION_COLUMNS, RECORD_LINK_COLUMNS
from tests.conftest import HOUSING_HEADER, housing_row, write_config, write_csv

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def check_all(records: pd.DataFrame, settings: LinkageSettings, as_of: dt.date, validated: dict, criteria: str):
    """Run linking and scoring on `records` and check every frame they pass on."""
    frames.RECORDS.validate(records, lazy=True)
    frames.STANDARDISED.validate(standardise_records(records).std, lazy=True)
    linkage = link_records(records, settings, as_of)
    frames.RECORD_LINKS.validate(linkage.record_links, lazy=True)
    frames.MEMBERS.validate(linkage.members, lazy=True)
    frames.REVIEW_PAIRS.validate(linkage.review_pairs, lazy=True)
    cs = load_criteria(criteria)
    scored = score_families({n: v.accepted for n, v in validated.items()}, {n: v.kind for n, v in validated.items()},
                            linkage.record_links, linkage.members, cs, as_of)
    frames.need_matrix(tuple(cs.criteria)).validate(scored.need_matrix, lazy=True)
    frames.need_matrix(tuple(cs.criteria), last_record_date=True).validate(
        with_last_record_date(scored.need_matrix, records, linkage.record_links), lazy=True)
    frames.EVIDENCE.validate(scored.evidence, lazy=True)
    return linkage, scored


def test_the_schemas_hold_the_column_contracts():
    assert list(frames.RECORDS.columns) == RECORD_COLUMNS == list(LINKAGE_RECORD_COLUMNS)
    assert list(frames.RECORD_LINKS.columns)[:4] == RECORD_LINK_COLUMNS
    assert list(frames.REVIEW_PAIRS.columns)[:4] == DECISION_COLUMNS[:4]
    assert list(frames.EVIDENCE.columns) == EVIDENCE_COLUMNS
    # every column a blocking pass or a comparison level may name is typed in the standardised frame
    assert STANDARD_COLUMNS <= set(frames.STANDARDISED.columns)


def test_a_small_run_holds_to_the_schemas(tmp_path):
    # A tenant recorded twice (once by a nickname), a child at the same flat, a neighbour.
    rows = [housing_row("H1", forename="William", surname="Testperson", dob="1980-04-03", uprn="100023"),
            housing_row("H2", forename="Bill", surname="Testperson", dob="1980-04-03", uprn="100023",
                        nhs_number="", ni_number=""),
            housing_row("H3", forename="Ann", surname="Testperson", dob="2014-02-01", uprn="100023",
                        nhs_number="", ni_number="", event_type="arrears", rent_arrears_gbp="310.5"),
            housing_row("H4", forename="Sam", surname="Neighbour", dob="1990-01-01", uprn="100024", postcode="ab1 2xz",
                        nhs_number="", ni_number="", tenancy_ref="T2")]
    write_csv(tmp_path / "housing.csv", rows, HOUSING_HEADER)
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"}}))
    validated = ingest_and_validate(cfg)
    linkage, scored = check_all(stack_person_records(validated), LinkageSettings.defaults(), cfg.as_of, validated,
                                cfg.criteria)
    assert len(linkage.record_links) == 4
    assert set(scored.need_matrix["family_id"]) == set(linkage.members["family_id"])


def test_a_frame_that_breaks_its_contract_is_caught():
    links = pd.DataFrame({"source": ["housing"], "record_id": ["H1"], "person_id": ["P1"], "family_id": ["X1"],
                          "match_score": [None]}).astype({"match_score": float})
    with pytest.raises(SchemaError, match="family_id"):
        frames.RECORD_LINKS.validate(links)
    with pytest.raises((SchemaError, SchemaErrors), match="out-of-order"):
        frames.RECORD_LINKS.validate(links[["record_id", "source", "person_id", "family_id", "match_score"]])


@pytest.mark.slow
@pytest.mark.skipif(not (SAMPLE / "config.yaml").is_file(), reason="sample data not generated yet")
def test_the_sample_run_holds_to_the_schemas():
    cfg, validated, records = load_records(SAMPLE / "config.yaml")
    linkage, scored = check_all(records, LinkageSettings.from_dict(cfg.linkage), cfg.as_of, validated, cfg.criteria)
    assert len(linkage.review_pairs) and len(scored.evidence)

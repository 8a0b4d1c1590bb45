"""The clerical review queue is one row per person pair, and a decision on the record pair shown
settles the two persons (matching.linkage, pipeline.quarters)."""
import logging

import pandas as pd
import pytest

from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from pipeline.quarters import Previous, carry_forward, read_decisions, resolve_decisions
from schemas import frames
from schemas.errors import InputDataError
from test_matching_linkage import AS_OF, FIXED, background

SETTINGS = LinkageSettings.from_dict(FIXED)
# A pupil with three school rows (one UPN), and a police record of them that links or stays in
# the uncertain band depending on how much it differs.
PUPIL = dict(forename="Tobias", surname="Quennell", dob="2012-05-06", sex="M", address="12 Larch Road",
             postcode="QQ1 1QQ", seen_date="2025-06-01")
IN_BAND = dict(forename="Toby", dob="2012-05-09", address="3 Other Street", postcode="QQ9 9QQ")
ABOVE_THRESHOLD = dict(forename="Toby", address="3 Other Street", postcode="QQ9 9QQ")
SCHOOL_ROWS = ["s0", "s1", "s2"]


def pupil_records(police: dict, *extra: dict) -> pd.DataFrame:
    rows = background(300)
    rows += [{**PUPIL, "source": "schools", "record_id": rid, "upn": "A12345678901B"} for rid in SCHOOL_ROWS]
    rows.append({**PUPIL, "source": "police", "record_id": "p1", **police})
    return records_frame(rows + list(extra))


def decision(record_id_r: str, word: str, record_id_l: str = "p1", source_r: str = "schools") -> pd.DataFrame:
    return pd.DataFrame([{"source_l": "police", "record_id_l": record_id_l, "source_r": source_r,
                          "record_id_r": record_id_r, "decision": word}])


def persons(result, record_ids) -> set:
    links = result.record_links.set_index("record_id")
    return set(links.loc[record_ids, "person_id"])


def test_a_person_pair_is_asked_once_for_all_its_record_pairs():
    result = link_records(pupil_records(IN_BAND), SETTINGS, AS_OF)
    queue = result.review_pairs
    frames.REVIEW_PAIRS.validate(queue, lazy=True)
    assert len(queue) == 1 and result.stats["review_record_pairs"] == 3
    row = queue.iloc[0]
    assert row["record_pairs"] == 3
    assert {row["record_id_l"], row["record_id_r"]} - set(SCHOOL_ROWS) == {"p1"}
    assert {row["person_id_l"], row["person_id_r"]} == persons(result, ["p1"]) | persons(result, SCHOOL_ROWS)
    assert {row["agencies_l"], row["agencies_r"]} == {"police", "schools"}


def test_record_pairs_already_inside_one_person_are_not_asked():
    # A housing record links the police record and the school rows: the band's pairs are now
    # inside one person.
    housing = {**PUPIL, "source": "housing", "record_id": "h2", **ABOVE_THRESHOLD}
    result = link_records(pupil_records(IN_BAND, housing), SETTINGS, AS_OF)
    assert len(persons(result, ["p1", "h2", *SCHOOL_ROWS])) == 1
    assert result.stats["review_record_pairs"] > 0 and len(result.review_pairs) == 0


def test_a_non_match_on_one_record_pair_settles_the_person_pair():
    result = link_records(pupil_records(IN_BAND), SETTINGS, AS_OF, decisions=decision("s1", "non-match"))
    assert persons(result, ["p1"]).isdisjoint(persons(result, SCHOOL_ROWS))
    assert len(result.review_pairs) == 0             # the two other record pairs are not asked again


def test_a_non_match_keeps_persons_apart_where_another_record_pair_is_above_the_threshold():
    records = pupil_records(ABOVE_THRESHOLD)
    assert len(persons(link_records(records, SETTINGS, AS_OF), ["p1", *SCHOOL_ROWS])) == 1
    result = link_records(records, SETTINGS, AS_OF, decisions=decision("s0", "non-match"))
    assert len(persons(result, SCHOOL_ROWS)) == 1
    assert persons(result, ["p1"]).isdisjoint(persons(result, SCHOOL_ROWS))


def test_a_match_on_one_record_pair_joins_the_persons():
    result = link_records(pupil_records(IN_BAND), SETTINGS, AS_OF, decisions=decision("s2", "match"))
    assert len(persons(result, ["p1", *SCHOOL_ROWS])) == 1
    assert len(result.review_pairs) == 0


def test_the_queue_carries_the_person_ids_of_record_links(tmp_path):
    result = link_records(pupil_records(IN_BAND), SETTINGS, AS_OF)
    earlier = result.record_links.assign(
        person_id=lambda f: "P" + (f["person_id"].str[1:].astype(int) + 5000).astype(str).str.zfill(6))
    carried = carry_forward(Previous(folder=tmp_path, record_links=earlier[["source", "record_id", "person_id",
                                                                             "family_id"]], decisions=None),
                            result.record_links, result.members, result.review_pairs)
    person = carried.record_links.set_index("record_id")["person_id"]
    queue = carried.review_pairs
    assert queue["person_id_l"].tolist() == person.loc[queue["record_id_l"]].tolist()
    assert queue["person_id_r"].tolist() == person.loc[queue["record_id_r"]].tolist()
    assert queue["person_id_l"].str[1:].astype(int).min() > 5000


# ---- a decisions file's records, found among this run's --------------------------------------

RUN_RECORDS = pd.DataFrame({"source": ["schools", "schools", "police", "housing", "housing"],
                            "record_id": ["00001804", "00001805", "CR/7", "0042", "042"]})


def decisions_file(tmp_path, rows) -> "object":
    path = tmp_path / "decisions.csv"
    pd.DataFrame(rows, columns=["source_l", "record_id_l", "source_r", "record_id_r", "decision"]).to_csv(
        path, index=False)
    return read_decisions(path)


def test_record_ids_that_lost_their_leading_zeros_are_restored_with_a_warning(tmp_path, caplog):
    read = decisions_file(tmp_path, [("police", "CR/7", "schools", "00001805", "non-match"),
                                     ("police", "CR/7", "schools", "1804", "match")])
    with caplog.at_level(logging.WARNING, logger="hnf_match"):
        resolved = resolve_decisions(read, RUN_RECORDS)
    assert resolved["record_id_r"].tolist() == ["00001805", "00001804"]
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "decisions.csv, row(s) 3:" in warning and "leading zeros" in warning and "1804" not in warning


def test_an_unknown_record_in_the_decisions_file_names_the_file_and_row(tmp_path):
    read = decisions_file(tmp_path, [("police", "CR/7", "schools", "00001805", "match"),
                                     ("police", "CR/8", "schools", "00001804", "match")])
    with pytest.raises(InputDataError, match=r"decisions\.csv, row 3, columns source_l and record_id_l") as err:
        resolve_decisions(read, RUN_RECORDS)
    assert err.value.exit_code == 3 and "CR/8" not in str(err.value)


def test_an_id_two_records_share_without_zeros_is_not_guessed(tmp_path):
    read = decisions_file(tmp_path, [("police", "CR/7", "housing", "42", "match")])
    with pytest.raises(InputDataError, match="row 2.*more than one record"):
        resolve_decisions(read, RUN_RECORDS)


def test_a_record_that_left_the_data_since_the_previous_run_is_not_an_error(tmp_path):
    read = decisions_file(tmp_path, [("police", "CR/9", "schools", "00001805", "non-match")])
    before = pd.DataFrame({"source": ["police"], "record_id": ["CR/9"], "person_id": ["P000001"],
                           "family_id": ["F000001"]})
    assert resolve_decisions(read, RUN_RECORDS, before)["record_id_l"].tolist() == ["CR/9"]
    with pytest.raises(InputDataError, match="row 2"):
        resolve_decisions(read, RUN_RECORDS)

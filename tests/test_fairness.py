"""Fair linkage for every community (issue 9): the naming conventions added for it link two
records of one person and keep namesakes apart, the by-group table flags a group whose people
are split, and on the sample the table's flags agree with the ground truth."""
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.evaluate import align_truth, bcubed_per_record
from matching.linkage import link_records, records_frame
from matching.quality import quality_by_group, record_groups
from matching.settings import LinkageSettings
from test_matching_linkage import FIXED, background

AS_OF = dt.date(2026, 9, 30)
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _rows(tag: str, people: list[dict], sources=("police", "housing")) -> list[dict]:
    return [{"source": sources[k], "record_id": f"{tag}{k}", "seen_date": "2025-06-01", **r} for k, r in enumerate(people)]


SAME_PERSON = {
    # one digit of the date of birth mis-keyed, and a transliterated forename
    "dob_digit": [dict(forename="Ameena", surname="Begum", dob="1986-10-02", sex="F", address="12 Rye Lane", postcode="DD1 1DD"),
                  dict(forename="Amina", surname="Begum", dob="1986-10-09", sex="F", address="12 Rye Lane", postcode="DD1 1DD")],
    # a Somali naming chain recorded whole in one agency and shifted by one in another
    "chain": [dict(forename="Guled Abdi", surname="Mohamed", dob="1992-02-11", sex="M", address="4 Ash Road", postcode="DD2 2DD"),
              dict(forename="Guled", surname="Abdi", dob="1992-02-11", sex="M", address="4 Ash Rd", postcode="DD2 2DD")],
    # Somali spelling (x for the Arabic h) against the Arabic one
    "somali_spelling": [dict(forename="Xasan", surname="Faarax", dob="1977-08-19", sex="M", address="30 Moor Street", postcode="DD3 3DD"),
                        dict(forename="Hassan", surname="Farah", dob="1977-08-19", sex="M", address="30 Moor St", postcode="DD3 3DD")],
}
NAMESAKES = {
    # a common name, dates of birth one digit apart, different homes and districts
    "common_name": [dict(forename="Mohammed", surname="Khan", dob="1990-05-12", sex="M", address="5 Vale Road", postcode="EE1 1EE"),
                    dict(forename="Mohammed", surname="Khan", dob="1990-05-13", sex="M", address="88 Hill Top", postcode="EE9 9EE")],
    # a girl named after her grandmother, one record with the whole chain: same home, different dates of birth
    "named_after": [dict(forename="Hodan Abdi", surname="Farah", dob="1958-03-02", sex="F", address="7 Well Lane", postcode="EE2 2EE"),
                    dict(forename="Hodan", surname="Abdi", dob="2014-06-21", sex="F", address="7 Well Lane", postcode="EE2 2EE")],
}


def _common_name_people(n: int = 40) -> list[dict]:
    """n different men called Mohammed Khan (as in many towns), each seen once."""
    return [{"source": "benefits", "record_id": f"mk{i}", "forename": "Mohammed", "surname": "Khan",
             "dob": (dt.date(1950, 3, 1) + dt.timedelta(days=331 * i)).isoformat(), "sex": "M",
             "address": f"{i + 1} Mill Street", "postcode": f"FF{i % 20 + 1} 1FF", "seen_date": "2025-06-01"}
            for i in range(n)]


@pytest.fixture(scope="module")
def linked():
    rows = background() + _common_name_people()
    for tag, people in {**SAME_PERSON, **NAMESAKES}.items():
        rows += _rows(tag, people)
    rec = records_frame(rows)
    # Parameters learnt from these records: they show no households, so no veto guards the
    # grandmother and the granddaughter named after her; what keeps them apart is what EM learns
    # a wholly different date of birth is worth here (about -9 bits; they go to review).
    return link_records(rec, LinkageSettings.defaults(), AS_OF)


def _person(res, rid):
    return res.record_links.set_index("record_id").loc[rid, "person_id"]


@pytest.mark.parametrize("tag", sorted(SAME_PERSON))
def test_records_of_one_person_link(linked, tag):
    assert _person(linked, f"{tag}0") == _person(linked, f"{tag}1")


@pytest.mark.parametrize("tag", sorted(NAMESAKES))
def test_namesakes_stay_apart(linked, tag):
    assert _person(linked, f"{tag}0") != _person(linked, f"{tag}1")


def test_one_digit_dob_level_weighs_more_than_one_part_differing(linked):
    dob = linked.stats["em"]["parameters"]["dob"]
    assert dob["one_digit_differs"]["weight"] > dob["one_part_differs"]["weight"]


def _group_people(group: str, n: int, split: bool, police_only: int = 0) -> list[dict]:
    """n people of one group seen by the police and housing (their two records written so
    differently that they cannot link when `split`), and `police_only` more seen once."""
    rows = []
    for i in range(n + police_only):
        dob = (dt.date(1960, 1, 1) + dt.timedelta(days=97 * i + 13 * len(group))).isoformat()
        base = dict(forename=f"Fore{group}{i:03d}x", surname=f"Sur{group}{i:03d}y", dob=dob, sex="MF"[i % 2],
                    address=f"{i + 1} {group} Street", postcode=f"G{len(group)}{i % 9} 1AA", ethnicity=group,
                    seen_date="2025-06-01")
        rows.append({**base, "source": "police", "record_id": f"{group}p{i}"})
        if i < n:
            other = dict(base, forename=f"Q{i:03d}{group}zz", surname=f"W{i:03d}{group}kk", dob=None,
                         address=f"{i + 500} Far Road", postcode="ZZ9 9ZZ") if split else base
            rows.append({**other, "source": "housing", "record_id": f"{group}h{i}"})
    return rows


def test_a_group_whose_people_are_split_is_flagged():
    # A and C: linked well, C seen by the police alone more often (one-off incidents); B: split.
    rows = _group_people("A", 120, split=False, police_only=40) + _group_people("B", 30, split=True) \
        + _group_people("C", 15, split=False, police_only=15)
    rec = records_frame(rows)
    res = link_records(rec, LinkageSettings.from_dict(FIXED), AS_OF)
    q = quality_by_group(rec, res).query("group_type == 'ethnicity'").set_index("group")
    assert bool(q.loc["B", "possibly_under_linked"])
    assert not q.loc[["A", "C"], "possibly_under_linked"].any()
    # C has more single-record persons than A, as its agencies explain
    assert q.loc["C", "single_record_share"] > q.loc["A", "single_record_share"]
    assert q.loc["C", "expected_single_record_share"] > q.loc["A", "expected_single_record_share"]


# ---- on the sample data, against the generator's ground truth --------------------------------

@pytest.fixture(scope="module")
def sample_by_group():
    if not (SAMPLE / "truth.csv").exists():
        pytest.skip("sample_data not generated yet")
    from pipeline.stages import load_records
    cfg, _, records = load_records(SAMPLE / "config.yaml")
    records = records.reset_index(drop=True)
    res = link_records(records, LinkageSettings.from_dict(getattr(cfg, "linkage", None)), cfg.as_of)
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str, keep_default_na=False, na_values=[""])
    t = align_truth(records, truth)
    key = pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])
    person = res.record_links.set_index(["source", "record_id"])["person_id"].reindex(key).to_numpy()
    _, recall = bcubed_per_record(person, t["person_id"].to_numpy())
    table = quality_by_group(records, res)
    groups = record_groups(records, res)
    table["truth_recall"] = [recall[(groups[g.group_type].astype(str) == g.group).to_numpy()].mean()
                             for g in table.itertuples()]
    return table, float(recall.mean())


# A group the truth calls under-linked: its records' B-cubed person recall is this far below the
# whole sample's.
TRUTH_UNDER_LINKED = 0.02


def test_sample_flags_agree_with_the_truth(sample_by_group):
    table, overall = sample_by_group
    flagged = table["possibly_under_linked"].astype(bool)
    under = table["truth_recall"] < overall - TRUTH_UNDER_LINKED
    assert flagged.any(), "the sample should hold at least one under-linked group to check against"
    # every flagged group is under-linked in truth, and the worst-linked group is flagged
    assert (table.loc[flagged, "truth_recall"] < overall).all()
    assert under.any()
    assert flagged[table["truth_recall"].idxmin()]
    # The flag counts single-record persons, so it cannot see a group whose people are split
    # into pieces of several records each (on this sample: two small groups of 16 and 21
    # persons, with one split person each). docs/linkage.md says so.
    # Nor is a flagged group always the worst of its kind: a district with many one-agency
    # residents can show more single-record persons than expected while its people are linked
    # about as well as elsewhere.


def test_sample_table_is_safe_to_publish(sample_by_group):
    table, _ = sample_by_group
    assert (table["persons"] >= 10).all()
    assert table["possibly_under_linked"].dtype == bool
    assert ((table["expected_single_record_share"] >= 0) & (table["expected_single_record_share"] <= 1)).all()
    assert np.isfinite(table["single_record_share"]).all()

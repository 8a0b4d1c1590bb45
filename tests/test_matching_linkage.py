"""Linkage scenarios on a small synthetic background population (matching.linkage)."""
import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from matching.blocking import candidate_pairs
from matching.linkage import link_records, records_frame
from matching.settings import LinkageSettings
from matching.standardise import standardise

AS_OF = dt.date(2026, 9, 30)
FORENAMES = ["James", "Oliver", "Harry", "Jack", "George", "Noah", "Leo", "Amelia", "Olivia", "Isla", "Ava",
             "Mia", "Grace", "Lily", "Sophie", "Ella", "Piotr", "Anna", "Katarzyna", "Tomasz", "Aisha", "Fatima",
             "Omar", "Bilal", "Hamza", "Zara", "Priya", "Arjun", "Simran", "Gurpreet", "Kwame", "Ama", "Chen",
             "Li", "Mei", "Ayaan", "Yusuf", "Hodan", "Abdi", "Ewa", "Daniel", "Sarah", "Emma", "Liam", "Ruby",
             "Freya", "Jacob", "Ethan", "Sofia", "Ivy", "Elijah", "Poppy", "Finley", "Archie", "Theo", "Rosie"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
            "Wright", "Hall", "Green", "Clarke", "Nowak", "Kowalski", "Wojcik", "Ahmed", "Ali", "Hussain",
            "Patel", "Sharma", "Gill", "Sandhu", "Mensah", "Osei", "Wang", "Zhang", "Liu", "Mohamed", "Farah",
            "Warsame", "Begum", "Kaur", "Islam", "Uddin", "Okafor", "Adeyemi", "Murphy", "Kelly", "Byrne",
            "Hughes", "Edwards", "Turner", "Cooper", "Ward", "Morris", "King", "Baker", "Harris", "Lewis"]
STREETS = ["High Street", "Church Road", "Station Road", "Park Avenue", "Mill Lane", "Victoria Road",
           "Green Lane", "Manor Close", "Kings Road", "Queens Drive", "Albert Street", "New Road"]


def background(n: int = 1500, seed: int = 7) -> list[dict]:
    """Distinct people, each seen once or twice by random agencies, with light noise."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        f, s = rng.choice(FORENAMES), rng.choice(SURNAMES)
        dob = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 26000))
        pc = f"ZZ{rng.randrange(1, 30)} {rng.randrange(1, 9)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}"
        addr = f"{rng.randrange(1, 200)} {rng.choice(STREETS)}"
        sex = rng.choice("MF")
        for k in range(1 + (rng.random() < 0.5)):
            src = rng.choice(["police", "housing", "asb", "dv"])
            rows.append({"source": src, "record_id": f"bg{i}_{k}", "forename": f, "surname": s,
                         "dob": dob.isoformat() if rng.random() > 0.05 else None, "sex": sex,
                         "address": addr, "postcode": pc, "seen_date": "2025-06-01"})
    return rows


SCENARIOS = [
    # (tag, rows); each tag's rows are one true person unless noted
    ("nickname", [dict(forename="Bill", surname="Thornbury", dob="1975-05-06", sex="M", address="4 Oak Road", postcode="AA1 1AA"),
                  dict(forename="William", surname="Thornbury", dob="1975-05-06", sex="M", address="4 Oak Rd", postcode="AA1 1AA")]),
    ("translit", [dict(forename="Mohammed", surname="Chowdhury", dob="1988-02-03", sex="M", address="9 Elm Street", postcode="AA2 2AA"),
                  dict(forename="Muhammad", surname="Chaudhry", dob="1988-02-03", sex="M", address="9 Elm St", postcode="AA2 2AA")]),
    ("diacritics", [dict(forename="Zoë", surname="Núñez", dob="1991-07-08", sex="F", address="1 Ash Grove", postcode="AA3 3AA"),
                    dict(forename="ZOE", surname="NUNEZ", dob="1991-07-08", sex="F", address="1 Ash Gr", postcode="AA33AA")]),
    ("compound", [dict(forename="Abdul Rahman", surname="Al-Hassan", dob="1983-09-10", sex="M", address="7 Birch Close", postcode="AA4 4AA"),
                  dict(forename="Abdulrahman", surname="Alhassan", dob="1983-09-10", sex="M", address="7 Birch Cl", postcode="AA4 4AA")]),
    ("swapped", [dict(forename="Wei", surname="Zhou", dob="1979-11-12", sex="M", address="3 Cedar Way", postcode="AA5 5AA"),
                 dict(forename="Zhou", surname="Wei", dob="1979-11-12", sex="M", address="3 Cedar Way", postcode="AA5 5AA")]),
    ("begum", [dict(forename="Rokeya", surname="Begum", dob="1970-04-14", sex="F", address="22 Pine Road", postcode="AA6 6AA"),
               dict(forename="Rokeya", surname="Miah", dob="1970-04-14", sex="F", address="22 Pine Road", postcode="AA6 6AA")]),
    ("hyphen", [dict(forename="Imogen", surname="Fairweather-Lloyd", dob="1995-01-20", sex="F", address="5 Yew Lane", postcode="AA7 7AA"),
                dict(forename="Imogen", surname="Lloyd", dob="1995-01-20", sex="F", address="5 Yew Ln", postcode="AA7 7AA")]),
    ("dm_swap", [dict(forename="Gareth", surname="Pennington", dob="1986-03-04", sex="M", address="8 Holly Drive", postcode="AA8 8AA"),
                 dict(forename="Gareth", surname="Pennington", dob="1986-04-03", sex="M", address="8 Holly Dr", postcode="AA8 8AA")]),
]
NAMESAKES = [dict(source="benefits", record_id="ns1", forename="Mohammed", surname="Ahmed", dob="1990-01-02", sex="M",
                  address="10 Rose Street", postcode="BB1 1BB", ni_number="AB123456C", seen_date="2025-06-01"),
             dict(source="police", record_id="ns2", forename="Mohammed", surname="Ahmed", dob="1990-01-02", sex="M",
                  address="77 Lily Road", postcode="BB9 9BB", ni_number="CD654321A", seen_date="2025-06-01")]
# A chain: ch1 and ch3 carry different NI numbers; ch2 (no NI) looks like both.
CHAIN = [dict(source="benefits", record_id="ch1", forename="Daniel", surname="Okonkwo", dob="1984-06-07", sex="M",
              address="2 Bay Road", postcode="CC1 1CC", ni_number="JK112233A", seen_date="2025-06-01"),
         dict(source="police", record_id="ch2", forename="Daniel", surname="Okonkwo", dob="1984-06-07", sex="M",
              address="2 Bay Road", postcode="CC1 1CC", seen_date="2025-06-01"),
         dict(source="housing", record_id="ch3", forename="Daniel", surname="Okonkwo", dob="1984-06-07", sex="M",
              address="2 Bay Road", postcode="CC1 1CC", ni_number="JK998877B", seen_date="2025-06-01")]

FIXED = {"estimation": {"em_max_iterations": 0}}


def scenario_records() -> pd.DataFrame:
    rows = background()
    for tag, people in SCENARIOS:
        for k, r in enumerate(people):
            rows.append({"source": ["police", "housing"][k], "record_id": f"{tag}{k}", "seen_date": "2025-06-01", **r})
    rows += NAMESAKES + CHAIN
    return records_frame(rows)


@pytest.fixture(scope="module")
def scenario():
    rec = scenario_records()
    res = link_records(rec, LinkageSettings.from_dict(FIXED), AS_OF)
    return rec, res


def person_of(res, rid):
    rl = res.record_links.set_index("record_id")
    return rl.loc[rid, "person_id"]


@pytest.mark.parametrize("tag", [t for t, _ in SCENARIOS])
def test_variant_records_of_one_person_link(scenario, tag):
    _, res = scenario
    assert person_of(res, f"{tag}0") == person_of(res, f"{tag}1")


def test_namesakes_with_different_ni_numbers_stay_apart(scenario):
    _, res = scenario
    assert person_of(res, "ns1") != person_of(res, "ns2")


def test_chain_across_conflicting_ni_numbers_is_split(scenario):
    _, res = scenario
    assert person_of(res, "ch1") != person_of(res, "ch3")
    assert person_of(res, "ch2") in {person_of(res, "ch1"), person_of(res, "ch3")}


def test_background_people_are_not_merged(scenario):
    rec, res = scenario
    rl = res.record_links
    bg = rl[rl["record_id"].str.startswith("bg")]
    truth = bg["record_id"].str.split("_").str[0]
    # every true person is one person, and no person holds two true people
    assert (bg.groupby(truth)["person_id"].nunique() == 1).mean() > 0.97
    assert (bg.groupby("person_id")["record_id"].agg(lambda s: s.str.split("_").str[0].nunique()) == 1).all()


def test_outputs_have_contract_columns(scenario):
    rec, res = scenario
    assert list(res.record_links.columns) == ["source", "record_id", "person_id", "family_id", "match_score"]
    assert len(res.record_links) == len(rec)
    assert list(res.members.columns) == ["family_id", "person_id", "role", "age", "dob", "forename", "surname",
                                         "address", "postcode", "uprn", "agencies", "placed_by", "address_seen_on",
                                         "joined_by", "own_address", "own_address_seen_on"]
    assert res.members["person_id"].is_unique
    assert set(res.members["person_id"]) == set(res.record_links["person_id"])
    assert "decision" in res.review_pairs.columns
    assert {"w_forename", "w_surname", "w_dob", "match_weight", "match_probability"} <= set(res.pairs.columns)
    s = res.stats
    assert set(s["blocking"]) == {p.name for p in LinkageSettings.defaults().passes}
    assert s["persons"] == res.members["person_id"].nunique()
    assert {"standardise", "block", "compare", "estimate", "score", "cluster", "families"} <= set(s["timings_seconds"])
    import json
    json.dumps(res.model)
    json.dumps(res.stats, default=str)


def test_placeholder_dob_agreement_weighs_less_than_a_full_date(scenario):
    _, res = scenario
    dob = {lv["label"]: lv["weight"] for lv in next(c for c in res.model["comparisons"] if c["name"] == "dob")["levels"]}
    assert dob["exact_placeholder"] < dob["exact"]
    assert dob["day_month_swapped"] > 0 > dob["else"]


def test_common_name_agreement_counts_for_less_than_rare_name(scenario):
    rec, res = scenario
    p = res.pairs
    ids = rec.set_index("record_id")
    both = lambda rid_l, rid_r: p[((p.record_id_l == rid_l) & (p.record_id_r == rid_r)) | ((p.record_id_l == rid_r) & (p.record_id_r == rid_l))]
    rare = both("dm_swap0", "dm_swap1")["w_surname"].iloc[0]
    common = both("ns1", "ns2")["w_surname"].iloc[0]
    assert rare > common


def test_identical_input_gives_identical_ids_whatever_the_row_order():
    rec = scenario_records()
    s = LinkageSettings.from_dict(FIXED)
    a = link_records(rec, s, AS_OF).record_links
    shuffled = rec.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = link_records(shuffled, s, AS_OF).record_links
    key = ["source", "record_id"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))
    assert a["person_id"].min() == "P000001" and a["family_id"].min() == "F000001"
    first = a.sort_values(key).iloc[0]
    assert first["person_id"] == "P000001" and first["family_id"] == "F000001"


def test_clerical_decisions_override_the_model():
    rec = scenario_records()
    s = LinkageSettings.from_dict(FIXED)
    decisions = pd.DataFrame([
        # two different background people called the same person
        {"source_l": rec.loc[0, "source"], "record_id_l": rec.loc[0, "record_id"],
         "source_r": "police", "record_id_r": "ns2", "decision": "Match"},
        # a linked pair called different people (given in the other order)
        {"source_l": "housing", "record_id_l": "nickname1", "source_r": "police", "record_id_r": "nickname0",
         "decision": "NON-MATCH"},
        {"source_l": "police", "record_id_l": "translit0", "source_r": "housing", "record_id_r": "translit1",
         "decision": ""},
    ])
    res = link_records(rec, s, AS_OF, decisions=decisions)
    assert person_of(res, rec.loc[0, "record_id"]) == person_of(res, "ns2")
    assert person_of(res, "nickname0") != person_of(res, "nickname1")
    assert person_of(res, "translit0") == person_of(res, "translit1")
    assert res.stats["clerical_decisions_applied"] == 2


def test_bad_decision_value_names_the_row():
    from schemas.errors import InputDataError
    rec = scenario_records()
    d = pd.DataFrame([{"source_l": "police", "record_id_l": "ns2", "source_r": "benefits", "record_id_r": "ns1",
                       "decision": "perhaps"}])
    with pytest.raises(InputDataError, match="row 2"):
        link_records(rec, LinkageSettings.from_dict(FIXED), AS_OF, decisions=d)


def test_progress_is_called_for_every_step():
    seen = []
    rec = records_frame(background(50))
    link_records(rec, LinkageSettings.defaults(), AS_OF, progress=seen.append)
    assert seen[:7] == ["standardise", "block", "compare", "estimate", "score", "cluster", "families"]


def test_em_estimates_parameters_from_the_data():
    rec = scenario_records()
    res = link_records(rec, LinkageSettings.defaults(), AS_OF)
    assert res.stats["em"]["iterations"] >= 1
    fore = {lv["label"]: lv for lv in res.model["comparisons"][0]["levels"]}
    assert fore["exact"]["weight"] > 0 > fore["else"]["weight"]
    rl = res.record_links
    bg = rl[rl["record_id"].str.startswith("bg")]
    assert (bg.groupby("person_id")["record_id"].agg(lambda s: s.str.split("_").str[0].nunique()) == 1).all()
    assert (bg.groupby(bg["record_id"].str.split("_").str[0])["person_id"].nunique() == 1).mean() > 0.95


def test_oversized_blocks_are_skipped_and_reported():
    rows = [{"source": "a", "record_id": str(i), "forename": "Sam", "surname": f"X{i % 7}y", "postcode": "AB1 2CD",
             "dob": "1990-01-01"} for i in range(30)]
    s = LinkageSettings.from_dict({"blocking": {"max_block_size": 10}})
    _, _, per = candidate_pairs(standardise(records_frame(rows)), s)
    assert per["postcode_forename_phonetic"]["blocks_skipped"] == 1
    assert per["postcode_forename_phonetic"]["records_in_skipped_blocks"] == 30
    assert per["postcode_forename_phonetic"]["pairs"] == 0


TWINS = [dict(source="schools", record_id="tw1", forename="Eleanor", surname="Ashdown", dob="2015-03-03", sex="F",
              address="6 Kiln Road", postcode="DD4 4DD", seen_date="2025-06-01"),
         dict(source="police", record_id="tw2", forename="Zachary", surname="Ashdown", dob="2015-03-03", sex="M",
              address="6 Kiln Rd", postcode="DD4 4DD", seen_date="2025-06-01")]


def households(n: int) -> list[dict]:
    """A parent and a child at each of n addresses: data that show households."""
    rows = []
    for i in range(n):
        for k, (fore, dob) in enumerate((("Morwenna", "1981-05-05"), ("Tamsin", "2013-09-09"))):
            rows.append({"source": "housing", "record_id": f"hh{i}_{k}", "forename": fore, "surname": f"Pengelly{i}",
                         "dob": dob, "sex": "F", "address": f"{i + 1} Quay Street", "postcode": "DD9 9QS",
                         "seen_date": "2025-06-01"})
    return rows


def test_twins_are_vetoed_not_merged_and_reviewed_only_when_asked():
    rec = records_frame(background(400) + households(60) + TWINS)
    res = link_records(rec, LinkageSettings.from_dict(FIXED), AS_OF)
    assert res.stats["vetoes_applied"] and res.stats["household_share"] >= 0.10
    assert person_of(res, "tw1") != person_of(res, "tw2")
    fam = res.record_links.set_index("record_id")["family_id"]
    assert fam["tw1"] == fam["tw2"]
    p = res.pairs[(res.pairs.record_id_l.astype(str).isin(["tw1", "tw2"])) & (res.pairs.record_id_r.astype(str).isin(["tw1", "tw2"]))]
    assert list(p["status"].astype(str)) == ["vetoed"]
    assert not res.review_pairs["record_id_l"].isin(["tw1", "tw2"]).any()
    res2 = link_records(rec, LinkageSettings.from_dict({**FIXED, "thresholds": {"review_vetoed": True}}), AS_OF)
    assert res2.review_pairs["record_id_l"].isin(["tw1", "tw2"]).any()


def test_vetoes_stand_aside_where_the_data_show_no_households():
    # A register of individuals (no address shared by people born years apart): a pair that
    # agrees on everything but a badly mis-keyed forename is one person, not twins.
    rec = records_frame(background(400) + TWINS)
    res = link_records(rec, LinkageSettings.from_dict(FIXED), AS_OF)
    assert not res.stats["vetoes_applied"] and res.stats["household_share"] < 0.10
    assert person_of(res, "tw1") == person_of(res, "tw2")
    # min_household_share 0 applies the vetoes whatever the data show
    always = LinkageSettings.from_dict({**FIXED, "household_guards": {"min_household_share": 0.0, "min_age_gap_years": 12}})
    res = link_records(rec, always, AS_OF)
    assert res.stats["vetoes_applied"] and person_of(res, "tw1") != person_of(res, "tw2")


MISKEYED_DOB = [dict(source="police", record_id="md1", forename="Ottoline", surname="Brackenbury", dob="1961-08-14",
                     sex="F", address="12 Tarn Lane", postcode="DD5 5TL", seen_date="2025-06-01"),
                dict(source="housing", record_id="md2", forename="Ottoline", surname="Brackenbury", dob="1994-02-27",
                     sex="F", address="12 Tarn Lane", postcode="DD5 5TL", seen_date="2025-06-01")]


def test_a_wholly_different_date_of_birth_is_weighed_not_vetoed_where_there_are_no_households():
    # Same rare name at the same address, dates of birth 33 years apart: in a register of
    # individuals a mis-keyed date; where the data show households, a mother and daughter.
    res = link_records(records_frame(background(400) + MISKEYED_DOB), LinkageSettings.from_dict(FIXED), AS_OF)
    assert not res.stats["vetoes_applied"] and person_of(res, "md1") == person_of(res, "md2")
    res = link_records(records_frame(background(400) + households(60) + MISKEYED_DOB),
                       LinkageSettings.from_dict(FIXED), AS_OF)
    assert res.stats["vetoes_applied"] and person_of(res, "md1") != person_of(res, "md2")


def test_pair_positions_are_32_bit_and_the_pairs_frame_holds_each_weight_once():
    res = link_records(records_frame(background(300)), LinkageSettings.defaults(), AS_OF)
    weights = res.pairs[[c for c in res.pairs.columns if c.startswith("w_")]]
    assert len(res.pairs) and all(str(t) == "float32" for t in weights.dtypes)
    assert res.state.left.dtype == np.int32 and res.state.right.dtype == np.int32
    # rounded to three places, as the weights always were
    assert np.allclose(weights.to_numpy(), np.round(weights.to_numpy(), 3), atol=1e-6)

"""review.html (reports.review_page): what each pair shows, and that the page is one offline file."""
import json
import re

from matching.linkage import link_records
from reports.review_page import pair_facts, render_review_page
from test_decisions import IN_BAND, SETTINGS, pupil_records
from test_matching_linkage import AS_OF


def queue():
    return link_records(pupil_records(IN_BAND), SETTINGS, AS_OF).review_pairs


def test_a_pair_shows_both_sides_field_by_field_with_agreements_and_its_weights():
    q = queue()
    facts = pair_facts(q.iloc[0])
    by_name = {f["name"]: f for f in facts["fields"]}
    assert by_name["surname"]["agreement"] == "agree"              # Quennell on both sides
    assert by_name["dob"]["agreement"] == "differ"                 # 6 May against 9 May
    assert by_name["postcode"]["agreement"] == "differ"
    assert by_name["upn"]["agreement"] == "blank"                  # the police record has none
    assert {by_name["surname"]["l_recorded"], by_name["surname"]["r_recorded"]} == {"Quennell"}
    assert facts["record_pairs"] == 3
    assert [w["name"] for w in facts["weights"]] == [c[2:] for c in q.columns if c.startswith("w_")]
    assert all(w["level"] for w in facts["weights"])
    assert abs(facts["prior"] + sum(w["weight"] for w in facts["weights"]) - facts["total"]) < 1e-6


def test_the_page_is_self_contained_and_carries_the_queue():
    q = queue()
    page = render_review_page(q, run_id="2026-09-30T00:00:00+00:00", match_weight=6.6, review_weight=2.0)
    data = json.loads(re.search(r'<script id="queue" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert len(data["pairs"]) == len(q) == 1
    assert data["columns"] == ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    assert "<script src" not in page and "<link" not in page
    assert set(re.findall(r"https?://[^\s\"'`]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_a_value_cannot_break_out_of_the_page():
    q = queue()
    q.loc[0, "forename_recorded_l"] = "</script><script>alert(1)</script>"
    page = render_review_page(q, run_id="x", match_weight=6.6, review_weight=2.0)
    assert "<script>alert(1)" not in page


def test_every_row_of_a_queue_shows_what_it_would_show_alone():
    import numpy as np
    import pandas as pd
    from reports.review_page import queue_facts
    one = queue().iloc[[0]]
    q = pd.concat([one] * 3, ignore_index=True)
    q.loc[1, "upn_l"] = np.nan                                   # a blank of another kind
    q.loc[2, "dob_l"] = pd.NaT
    q = q.drop(columns=["ni_number_recorded_r"])                 # a column the queue lacks
    facts = queue_facts(q)
    assert len(facts) == 3
    for i in range(3):
        assert facts[i] == queue_facts(q.iloc[[i]])[0]
    assert {f["name"]: f["l"] for f in facts[2]["fields"]}["dob"] == ""
    assert {f["name"]: f["r_recorded"] for f in facts[0]["fields"]}["ni_number"] == ""
    assert queue_facts(q.iloc[:0]) == []

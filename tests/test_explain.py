"""link_explanations.csv (matching.explain): the record pairs that hold each person together, and
the rule that placed each person in their family."""
from matching.explain import PLACEMENT_RULES, explain_links
from matching.linkage import link_records
from test_decisions import ABOVE_THRESHOLD, IN_BAND, SCHOOL_ROWS, SETTINGS, decision, pupil_records
from test_matching_linkage import AS_OF


def explained(result):
    return explain_links(result.pairs, result.record_links, result.members)


def test_every_accepted_link_inside_a_person_is_explained_with_its_weights():
    result = link_records(pupil_records(ABOVE_THRESHOLD), SETTINGS, AS_OF)
    out = explained(result)
    person = result.record_links.set_index("record_id").loc["p1", "person_id"]
    mine = out[(out["kind"] == "person_link") & (out["person_id"] == person)]
    pairs = {frozenset(p) for p in zip(mine["record_id_l"], mine["record_id_r"])}
    # The police record with each school row, and the school rows with each other.
    assert {frozenset({"p1", s}) for s in SCHOOL_ROWS} <= pairs
    assert len(pairs) == 6 and (mine["status"] == "link").all()
    assert (mine["match_weight"] >= SETTINGS.match_weight).all()
    weights = [c for c in out.columns if c.startswith("w_")]
    assert weights == [f"w_{c.name}" for c in SETTINGS.comparisons]
    prior = result.stats["em"]["prior_weight"]
    assert ((mine[weights].sum(axis=1) + prior - mine["match_weight"]).abs() < 0.01).all()
    # Every record pair shown holds one person: no link between two persons is listed.
    links = result.record_links.set_index(["source", "record_id"])["person_id"]
    every = out[out["kind"] == "person_link"]
    assert (links.reindex(list(zip(every["source_l"], every["record_id_l"]))).to_numpy()
            == links.reindex(list(zip(every["source_r"], every["record_id_r"]))).to_numpy()).all()


def test_each_person_has_the_rule_that_placed_them_in_their_family():
    result = link_records(pupil_records(ABOVE_THRESHOLD), SETTINGS, AS_OF)
    out = explained(result)
    families = out[out["kind"] == "family"]
    assert sorted(families["person_id"]) == sorted(result.members["person_id"])
    placed = result.members.set_index("person_id")["placed_by"]
    for row in families.itertuples():
        assert row.status == placed[row.person_id]
        assert row.rule.startswith(PLACEMENT_RULES[row.status])


def test_a_clerical_match_is_explained_as_one():
    result = link_records(pupil_records(IN_BAND), SETTINGS, AS_OF, decisions=decision("s0", "match"))
    out = explained(result)
    clerical = out[out["status"] == "clerical match"]
    assert [(r.record_id_l, r.record_id_r) for r in clerical.itertuples()] in ([("p1", "s0")], [("s0", "p1")])


def test_the_explanations_are_the_same_whether_the_pairs_keys_are_categorical_or_text():
    # Linking gives the pairs' keys and status as categoricals (read by their codes); a caller's
    # frame of plain text must give the same table.
    import pandas as pd
    result = link_records(pupil_records(ABOVE_THRESHOLD), SETTINGS, AS_OF)
    assert isinstance(result.pairs["record_id_l"].dtype, pd.CategoricalDtype)
    as_text = result.pairs.astype({c: object for c in ("source_l", "record_id_l", "source_r", "record_id_r", "status")})
    pd.testing.assert_frame_equal(explain_links(as_text, result.record_links, result.members), explained(result))


def test_a_persons_links_come_strongest_first_then_the_rule_that_placed_them():
    result = link_records(pupil_records(ABOVE_THRESHOLD), SETTINGS, AS_OF)
    out = explained(result)
    assert list(out["family_id"]) == sorted(out["family_id"])
    for _, rows in out.groupby("person_id", sort=False):
        kinds = list(rows["kind"])
        assert kinds == ["person_link"] * (len(kinds) - 1) + ["family"]
        weights = rows.loc[rows["kind"] == "person_link", "match_weight"].to_numpy()
        assert (weights[:-1] >= weights[1:]).all()

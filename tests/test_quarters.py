"""Carrying IDs from one quarter to the next, and clerical decisions that persist."""
import pandas as pd

from pipeline.quarters import (Previous, carry_forward, carry_ids_forward, decisions_in_force, merge_decisions,
                               read_decisions, read_previous)


def links(rows):
    return pd.DataFrame(rows, columns=["source", "record_id", "person_id", "family_id"])


def members_of(record_links):
    return record_links[["family_id", "person_id"]].drop_duplicates().reset_index(drop=True)


def carry(prev_rows, new_rows):
    prev = Previous(folder=None, record_links=links(prev_rows), decisions=None)
    new = links(new_rows).assign(match_score=None)
    out, mem, changes = carry_ids_forward(new, members_of(new), prev)
    return out.set_index(["source", "record_id"]), changes


def test_unchanged_and_grown_persons_keep_ids_new_ones_continue_numbering():
    prev = [("a", "1", "P000001", "F000001"), ("a", "2", "P000002", "F000001")]
    new = [("a", "1", "P000009", "F000005"), ("b", "7", "P000009", "F000005"),   # gained a record
           ("a", "2", "P000001", "F000005"),
           ("c", "3", "P000002", "F000002")]                                       # someone new
    out, changes = carry(prev, new)
    assert out.loc[("a", "1"), "person_id"] == "P000001" and out.loc[("b", "7"), "person_id"] == "P000001"
    assert out.loc[("a", "2"), "person_id"] == "P000002"
    assert out.loc[("c", "3"), "person_id"] == "P000003"
    assert out.loc[("a", "1"), "family_id"] == "F000001"
    assert changes.query("id_type == 'person'")[["old_id", "new_id", "kind"]].values.tolist() == [["", "P000003", "new"]]


def test_merge_keeps_the_oldest_id_and_records_the_other():
    prev = [("a", "1", "P000004", "F000001"), ("a", "2", "P000002", "F000002")]
    new = [("a", "1", "P000001", "F000001"), ("a", "2", "P000001", "F000001")]
    out, changes = carry(prev, new)
    assert set(out["person_id"]) == {"P000002"}
    person = changes.query("id_type == 'person'")
    assert person[["old_id", "new_id", "kind"]].values.tolist() == [["P000004", "P000002", "merged"]]


def test_split_keeps_the_larger_part_and_gives_the_rest_a_new_id():
    prev = [("a", "1", "P000001", "F000001"), ("a", "2", "P000001", "F000001"), ("a", "3", "P000001", "F000001")]
    new = [("a", "1", "P000001", "F000001"), ("a", "2", "P000001", "F000001"), ("a", "3", "P000002", "F000001")]
    out, changes = carry(prev, new)
    assert out.loc[("a", "1"), "person_id"] == "P000001" and out.loc[("a", "3"), "person_id"] == "P000002"
    assert changes.query("id_type == 'person'")[["old_id", "new_id", "kind"]].values.tolist() == [
        ["P000001", "P000002", "split"]]


def test_person_with_no_records_left_is_retired():
    prev = [("a", "1", "P000001", "F000001"), ("a", "2", "P000002", "F000002")]
    new = [("a", "1", "P000001", "F000001")]
    _, changes = carry(prev, new)
    assert ["P000002", "", "retired"] in changes[["old_id", "new_id", "kind"]].values.tolist()
    assert ["F000002", "", "retired"] in changes[["old_id", "new_id", "kind"]].values.tolist()


def test_family_that_moves_together_keeps_its_id_one_that_scatters_does_not():
    prev = [("a", "1", "P000001", "F000001"), ("a", "2", "P000002", "F000001"), ("a", "3", "P000003", "F000001"),
            ("a", "4", "P000004", "F000002"), ("a", "5", "P000005", "F000002")]
    # family 1 moved house (new family key) with 2 of 3 members; family 2 split one and one
    new = [("a", "1", "P1", "X1"), ("a", "2", "P2", "X1"), ("a", "3", "P3", "X2"),
           ("a", "4", "P4", "X3"), ("a", "5", "P5", "X4")]
    out, changes = carry(prev, new)
    assert out.loc[("a", "1"), "family_id"] == "F000001" and out.loc[("a", "2"), "family_id"] == "F000001"
    assert out.loc[("a", "3"), "family_id"] not in ("F000001", "F000002")
    fam = changes.query("id_type == 'family'")
    assert ["F000002", "", "retired"] in fam[["old_id", "new_id", "kind"]].values.tolist()
    assert set(fam.query("kind == 'split'")["old_id"]) == {"F000001", "F000002"}


def test_same_inputs_same_ids():
    prev = [("a", str(i), f"P{i:06d}", f"F{i // 3:06d}") for i in range(1, 30)]
    new = [("a", str(i), f"Q{i % 7}", f"G{i % 4}") for i in range(1, 35)]
    a, ca = carry(prev, new)
    b, cb = carry(prev, new)
    assert a.equals(b) and ca.equals(cb)


def test_decisions_persist_until_withdrawn_and_newer_wins():
    cols = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    old = pd.DataFrame([("a", "1", "b", "2", "match"), ("a", "3", "b", "4", "non-match")], columns=cols)
    new = pd.DataFrame([("b", "2", "a", "1", "non-match"), ("a", "3", "b", "4", "withdraw"),
                        ("a", "5", "b", "6", "Match")], columns=cols)
    merged = merge_decisions(old, new)
    assert merged[cols].values.tolist() == [["b", "2", "a", "1", "non-match"], ["a", "5", "b", "6", "match"]]
    assert merge_decisions(old, None)["decision"].tolist() == ["match", "non-match"]


def _previous_folder(tmp_path):
    """A previous quarter's folder as a full run leaves it, from three synthetic records."""
    from matching.incremental import write_state
    from matching.linkage import link_records, records_frame
    from matching.settings import LinkageSettings

    rows = [{"source": "housing", "record_id": str(i), "forename": "Ann", "surname": f"Testcase{i // 2}",
             "dob": f"1980-01-0{1 + i // 2}", "postcode": "AB1 2CD", "uprn": f"10{i // 2}"} for i in range(3)]
    settings = LinkageSettings.defaults()
    result = link_records(records_frame(rows), settings, pd.Timestamp("2026-09-30").date())
    result.record_links.to_csv(tmp_path / "record_links.csv", index=False)
    cols = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    pd.DataFrame([("housing", "0", "housing", "2", "non-match")], columns=cols).to_csv(
        tmp_path / "clerical_decisions.csv", index=False)
    pd.DataFrame([("F000001", "2026-06-30", "first_eligible")],
                 columns=["family_id", "baseline_date", "baseline_source"]).to_csv(tmp_path / "baselines.csv", index=False)
    write_state(tmp_path / "linkage_state", result.state)
    return tmp_path, settings, result


def test_previous_is_read_once_with_its_linkage_state(tmp_path):
    from matching.settings import LinkageSettings
    folder, settings, result = _previous_folder(tmp_path)
    prev = read_previous(folder, settings)
    assert prev.record_links[["source", "record_id", "person_id"]].values.tolist() == \
        result.record_links[["source", "record_id", "person_id"]].values.tolist()
    assert prev.decisions["decision"].tolist() == ["non-match"]
    assert prev.baselines["family_id"].tolist() == ["F000001"]
    assert prev.state is not None and len(prev.state.keys) == 3
    # --full: the state is not read at all; other comparison settings: not used, and why.
    assert read_previous(folder, settings, full=True).state is None
    assert read_previous(folder, settings, full=True).full_because == "--full was given"
    other = read_previous(folder, LinkageSettings.from_dict({"blocking": {"max_block_size": 50}}))
    assert other.state is None and "settings" in other.full_because
    assert read_previous(folder).state is None        # no settings to check a state against


def test_read_previous_reads_the_linkage_state_once(tmp_path, monkeypatch):
    import pipeline.quarters
    folder, settings, _ = _previous_folder(tmp_path)
    calls = []
    real = pipeline.quarters.read_state
    monkeypatch.setattr(pipeline.quarters, "read_state", lambda *a, **k: calls.append(a) or real(*a, **k))
    read_previous(folder, settings)
    assert len(calls) == 1


def test_decisions_in_force_and_carry_forward(tmp_path):
    folder, settings, result = _previous_folder(tmp_path)
    prev = read_previous(folder, settings)
    cols = ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    pd.DataFrame([("housing", "2", "housing", "0", "match")], columns=cols).to_csv(tmp_path / "new.csv", index=False)
    records = result.record_links[["source", "record_id"]]
    new = read_decisions(tmp_path / "new.csv")
    assert decisions_in_force(prev, new, records)["decision"].tolist() == ["match"]   # this quarter wins
    assert decisions_in_force(prev, None, records)["decision"].tolist() == ["non-match"]
    assert decisions_in_force(None, None, records) is None
    # The same records again: every ID is kept, nothing changes, the baseline follows its family.
    carried = carry_forward(prev, result.record_links, result.members)
    assert carried.record_links["person_id"].tolist() == result.record_links["person_id"].tolist()
    assert carried.id_changes.empty
    assert carried.baselines["family_id"].tolist() == ["F000001"]
    alone = carry_forward(None, result.record_links, result.members)
    assert alone.record_links is result.record_links and alone.id_changes is None and alone.baselines is None


def matrix(rows, criteria=("crime", "education", "work")):
    cols = ["family_id", "members", "adults", "children", "postcode_district", *criteria, "criteria_met", "eligible"]
    return pd.DataFrame(rows, columns=cols).astype(str)


def test_compare_new_continuing_left_and_criteria_movement():
    from pipeline.quarters import compare_quarters
    old = matrix([["F000001", 3, 2, 1, "AB1", 1, 1, 0, 2, 1],
                  ["F000002", 2, 2, 0, "AB1", 0, 0, 1, 1, 0],
                  ["F000003", 1, 1, 0, "AB2", 1, 0, 0, 1, 0]])
    new = matrix([["F000001", 3, 2, 1, "AB1", 0, 1, 1, 2, 1],
                  ["F000002", 2, 2, 0, "AB1", 1, 1, 1, 3, 1],
                  ["F000004", 4, 2, 2, "AB3", 0, 1, 0, 1, 0]])
    changes, movement, notes = compare_quarters(old, new)
    c = changes.set_index("family_id")
    assert c.loc["F000004", "status"] == "new" and c.loc["F000003", "status"] == "left"
    assert c.loc["F000001", "criteria_gained"] == "work" and c.loc["F000001", "criteria_lost"] == "crime"
    assert c.loc["F000002", "eligible_before"] == 0 and c.loc["F000002", "eligible_now"] == 1
    m = movement.set_index("criterion")
    assert m.loc["eligible", "gained_by_continuing_families"] == 1
    assert m.loc["crime", "families_before"] == 2 and m.loc["crime", "families_now"] == 1
    assert notes == []


def test_compare_follows_family_merges_and_transposed_layout(tmp_path):
    from pipeline.quarters import compare_quarters, read_need_matrix
    old = matrix([["F000001", 2, 2, 0, "AB1", 1, 0, 0, 1, 0], ["F000002", 2, 2, 0, "AB1", 0, 0, 1, 1, 0]])
    new = matrix([["F000001", 4, 4, 0, "AB1", 1, 0, 1, 2, 0]])
    new.set_index("family_id").T.rename_axis("need").reset_index().to_csv(tmp_path / "need_matrix.csv", index=False)
    back = read_need_matrix(tmp_path)
    ids = pd.DataFrame([["family", "F000002", "F000001", "merged"]], columns=["id_type", "old_id", "new_id", "kind"])
    changes, _, _ = compare_quarters(old, back, ids)
    assert changes["status"].tolist() == ["continuing"]
    assert changes["note"][0] == "absorbed F000002"

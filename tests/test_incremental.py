"""Incremental linking gives exactly what a full run gives: on the sample split into two
quarters, and on made-up changes that push blocks over and under the size cap."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from matching.incremental import fingerprints, read_state, write_state
from matching.linkage import link_records
from matching.settings import LinkageSettings
from pipeline.stages import load_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_quarters():
    cfg1, _, rec1 = load_records("sample_data/quarters/q1/config.yaml")
    cfg2, _, rec2 = load_records("sample_data/quarters/q2/config.yaml")
    return (cfg1, rec1), (cfg2, rec2)


def _same_result(a, b):
    pd.testing.assert_frame_equal(a.record_links, b.record_links)
    pd.testing.assert_frame_equal(a.members, b.members)
    pd.testing.assert_frame_equal(a.review_pairs, b.review_pairs)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert a.model == b.model
    for key in ("candidate_pairs", "links_accepted", "review_pairs", "persons", "families", "blocking"):
        got, want = b.stats[key], a.stats[key]
        if key == "blocking":
            got = {k: {kk: vv for kk, vv in v.items() if kk != "seconds"} for k, v in got.items()}
            want = {k: {kk: vv for kk, vv in v.items() if kk != "seconds"} for k, v in want.items()}
        assert got == want, key


def test_second_quarter_incremental_equals_full(two_quarters, tmp_path):
    (cfg1, rec1), (cfg2, rec2) = two_quarters
    settings = LinkageSettings.from_dict(cfg2.linkage)
    first = link_records(rec1, settings, cfg1.as_of)
    write_state(tmp_path / "linkage_state", first.state)
    state, reason = read_state(tmp_path / "linkage_state", settings)
    assert state is not None, reason
    full = link_records(rec2, settings, cfg2.as_of)
    incremental = link_records(rec2, settings, cfg2.as_of, earlier=state)
    _same_result(full, incremental)
    inc = incremental.stats["incremental"]
    assert incremental.stats["mode"] == "incremental" and full.stats["mode"] == "full"
    # Most of the second quarter is unchanged, so most pairs are reused rather than compared.
    assert inc["records_unchanged"] > 0.5 * len(rec2)
    assert inc["pairs_reused"] > inc["pairs_compared"]
    # The state written by the incremental run is the full run's.
    np.testing.assert_array_equal(incremental.state.left, full.state.left)
    np.testing.assert_array_equal(incremental.state.levels, full.state.levels)
    np.testing.assert_array_equal(incremental.state.passes, full.state.passes)
    np.testing.assert_array_equal(incremental.state.skipped, full.state.skipped)


def _blank_names(frame, rows):
    out = frame.copy()
    out.loc[rows, "forename"] = None
    return out


def test_blocks_crossing_the_size_cap_and_changed_records(two_quarters):
    """A tiny block cap makes many blocks cross it between runs in both directions; records
    are removed, added and edited; the incremental pairs and levels still equal a full run's."""
    (cfg1, rec1), _ = two_quarters
    settings = LinkageSettings.from_dict({**(cfg1.linkage or {}), "blocking": {"max_block_size": 3}})
    rng = np.random.default_rng(11)
    n = len(rec1)
    before = rec1.iloc[np.sort(rng.choice(n, int(n * 0.8), replace=False))].reset_index(drop=True)
    after = rec1.iloc[np.sort(rng.choice(n, int(n * 0.85), replace=False))].reset_index(drop=True)
    after = _blank_names(after, rng.choice(len(after), 25, replace=False))   # changed records
    first = link_records(before, settings, cfg1.as_of)
    full = link_records(after, settings, cfg1.as_of)
    incremental = link_records(after, settings, cfg1.as_of, earlier=first.state)
    assert incremental.stats["incremental"]["records_changed"] > 0
    assert incremental.stats["incremental"]["records_gone"] > 0
    assert any(v["blocks_skipped"] for v in full.stats["blocking"].values())
    _same_result(full, incremental)


def test_a_decision_on_a_pair_blocking_missed_holds_incrementally(two_quarters):
    (cfg1, rec1), _ = two_quarters
    settings = LinkageSettings.from_dict(cfg1.linkage)
    first = link_records(rec1, settings, cfg1.as_of)
    ordered = rec1.sort_values(["source", "record_id"]).reset_index(drop=True)
    pairs = set(zip(first.pairs["record_id_l"].astype(str), first.pairs["record_id_r"].astype(str)))
    a, b = ordered.iloc[0], ordered.iloc[len(ordered) // 2]
    assert (str(a.record_id), str(b.record_id)) not in pairs
    decisions = pd.DataFrame([{"source_l": a.source, "record_id_l": a.record_id, "source_r": b.source,
                               "record_id_r": b.record_id, "decision": "match"}])
    full = link_records(rec1, settings, cfg1.as_of, decisions=decisions)
    incremental = link_records(rec1, settings, cfg1.as_of, decisions=decisions, earlier=first.state)
    _same_result(full, incremental)
    assert incremental.stats["incremental"]["pairs_compared"] == 1
    decided = incremental.pairs[(incremental.pairs["record_id_l"].astype(str) == str(a.record_id))
                                & (incremental.pairs["record_id_r"].astype(str) == str(b.record_id))]
    assert list(decided["status"].astype(str)) == ["clerical match"]


def test_fingerprint_sees_a_changed_field_and_ignores_the_row_number(two_quarters):
    (_, rec1), _ = two_quarters
    base = fingerprints(rec1)
    moved = rec1.assign(row_number=rec1["row_number"] + 7)
    np.testing.assert_array_equal(fingerprints(moved), base)
    edited = rec1.copy()
    edited.loc[3, "postcode"] = "ZZ9 9ZZ"
    changed = fingerprints(edited) != base
    assert changed.sum() == 1 and changed[3]


def test_state_from_other_settings_is_not_used(two_quarters, tmp_path):
    (cfg1, rec1), _ = two_quarters
    settings = LinkageSettings.from_dict(cfg1.linkage)
    first = link_records(rec1, settings, cfg1.as_of)
    write_state(tmp_path / "linkage_state", first.state)
    other = LinkageSettings.from_dict({**(cfg1.linkage or {}), "blocking": {"max_block_size": 50}})
    state, reason = read_state(tmp_path / "linkage_state", other)
    assert state is None and "settings" in reason
    # Thresholds do not touch comparison levels: the state stays usable.
    looser = LinkageSettings.from_dict({**(cfg1.linkage or {}), "thresholds": {"match_probability": 0.9}})
    assert read_state(tmp_path / "linkage_state", looser)[0] is not None


def test_damaged_state_means_a_full_run(two_quarters, tmp_path):
    (cfg1, rec1), _ = two_quarters
    settings = LinkageSettings.from_dict(cfg1.linkage)
    first = link_records(rec1, settings, cfg1.as_of)
    folder = tmp_path / "linkage_state"
    write_state(folder, first.state)
    (folder / "pairs.parquet").write_bytes(b"not parquet")
    state, reason = read_state(folder, settings)
    assert state is None and "damaged" in reason
    assert read_state(tmp_path / "nowhere", settings)[0] is None
    assert dataclasses.is_dataclass(first.state)


def test_state_files_are_created_with_the_output_modes(two_quarters, tmp_path):
    import stat
    (cfg1, rec1), _ = two_quarters
    first = link_records(rec1, LinkageSettings.from_dict(cfg1.linkage), cfg1.as_of)
    folder = tmp_path / "linkage_state"
    write_state(folder, first.state, 0o640, 0o750)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {
        "records.parquet": 0o640, "pairs.parquet": 0o640, "state.json": 0o640}
    # no names, dates or identifiers: only keys, fingerprints, masks and levels
    import pyarrow.parquet as pq
    assert pq.read_schema(folder / "records.parquet").names == ["source", "record_id", "fingerprint", "skipped"]
    assert all(n in ("left", "right", "passes") or n.startswith("level_")
               for n in pq.read_schema(folder / "pairs.parquet").names)


def _miskeyed(frame, rows, month_shift, year_shift=0):
    """Dates of birth keyed as no calendar date: `dob` blank, `dob_keyed` the digits typed."""
    out = frame.copy()
    d = pd.to_datetime(out.loc[rows, "dob"])
    out.loc[rows, "dob_keyed"] = ((d.dt.year + year_shift) * 10000 + (d.dt.month + month_shift) * 100
                                  + d.dt.day).astype("Int64")
    out.loc[rows, "dob"] = pd.NaT
    return out


def test_a_re_keyed_date_of_birth_that_is_no_date_counts_as_a_change(two_quarters):
    """Only `dob_keyed` differs between the quarters (the date of birth blank in both, as no
    calendar date): its comparison level changes, so the record must be compared afresh."""
    (cfg1, rec1), _ = two_quarters
    settings = LinkageSettings.from_dict(cfg1.linkage)
    rows = rec1.index[rec1["dob"].notna()][:60]
    before = _miskeyed(rec1, rows, 20)           # months 21-32: one digit from the true date
    after = _miskeyed(rec1, rows, 20, 37)        # and the year 37 on: far from every other record's
    assert (fingerprints(before) != fingerprints(after)).sum() == len(rows)
    first = link_records(before, settings, cfg1.as_of)
    full = link_records(after, settings, cfg1.as_of)
    incremental = link_records(after, settings, cfg1.as_of, earlier=first.state)
    assert incremental.stats["incremental"]["records_changed"] == len(rows)
    _same_result(full, incremental)


def test_fingerprint_covers_every_field_that_blocking_and_comparison_read(two_quarters):
    """A field edited alone changes the record's fingerprint whenever it changes what
    standardising makes of it, except `held_until`, which only forming families reads (an
    open claim's moves with every reference date: counting it would mark every open claim
    changed each quarter)."""
    from matching.standardise import standardise
    from schemas.columns import RECORD_COLUMNS
    (_, rec1), _ = two_quarters
    rec = rec1.iloc[:200].reset_index(drop=True)
    base_fp, base_std = fingerprints(rec), standardise(rec)
    other = rec.iloc[::-1].reset_index(drop=True)      # every field from another record
    rows = rec.index[rec["dob"].notna()][:50]
    keyed = _miskeyed(rec, rows, 20)
    for column in RECORD_COLUMNS:
        if column in ("source", "record_id", "row_number"):
            continue
        edited = rec.copy()
        edited[column] = other[column].to_numpy()
        if column == "dob_keyed":
            # the date of birth blank on both sides: only the keyed digits differ
            base_fp, base_std = fingerprints(keyed), standardise(keyed)
            edited = _miskeyed(rec, rows, 20, 37)
        if column == "held_until":
            edited[column] = pd.Timestamp("2031-01-31")
        std = standardise(edited)
        moved = [c for c in std.columns if not std[c].astype(str).equals(base_std[c].astype(str))]
        if column == "held_until":
            assert moved == ["held_until"]
            np.testing.assert_array_equal(fingerprints(edited), base_fp)
            continue
        if column in ("forename", "surname", "dob", "address", "postcode", "dob_keyed"):
            assert moved, column            # the edit is a real one for these
        if moved:
            assert (fingerprints(edited) != base_fp).any(), column
        if column == "dob_keyed":
            base_fp, base_std = fingerprints(rec), standardise(rec)

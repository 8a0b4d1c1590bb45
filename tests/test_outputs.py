"""The output folder: one run at a time, never half-written, owner-only by default."""
import json
import os
import socket
import stat

import pandas as pd
import pytest

from schemas.errors import InterruptedRun, LockedError
from pipeline.outputs import OutputFolder, RunLock
from reports.outputs import pseudonymise, read_key, shareable
from reports.writers import defuse, write_csv


def _earlier_output(out, files):
    """An output folder as an earlier run leaves it: written through OutputFolder, with a manifest."""
    with OutputFolder(out) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))


def test_success_swaps_the_new_folder_in(tmp_path):
    out = tmp_path / "out"
    _earlier_output(out, {"need_matrix.csv": "old", "members.csv": "old"})
    with OutputFolder(out) as tmp:
        (tmp / "need_matrix.csv").write_text("new")
        assert (out / "need_matrix.csv").read_text() == "old"      # nothing visible until complete
    assert (out / "need_matrix.csv").read_text() == "new" and not (out / "members.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # no temp, no lock, no journal left
    listed = json.loads((out / "manifest.json").read_text())["files"]
    assert set(listed) == {"need_matrix.csv"} and len(listed["need_matrix.csv"]["sha256"]) == 64


def test_failure_leaves_previous_outputs_untouched(tmp_path):
    out = tmp_path / "out"
    _earlier_output(out, {"need_matrix.csv": "previous"})
    with pytest.raises(RuntimeError):
        with OutputFolder(out) as tmp:
            (tmp / "need_matrix.csv").write_text("half")
            raise RuntimeError("disk full")
    assert (out / "need_matrix.csv").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupted_run_leaves_nothing_behind(tmp_path):
    with pytest.raises(InterruptedRun):
        with OutputFolder(tmp_path / "out"):
            raise InterruptedRun("stopped by signal SIGTERM")
    assert not (tmp_path / "out").exists()


def test_second_run_on_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out):
        with pytest.raises(LockedError, match="another run is writing this output folder") as err:
            with OutputFolder(out):
                pass
        assert err.value.exit_code == 4


def test_stale_lock_from_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "out"
    lock = RunLock(out).path
    # a pid that is not running: find a free one
    pid = 999999
    while True:
        try:
            os.kill(pid, 0)
            pid -= 1
        except ProcessLookupError:
            break
        except PermissionError:
            pid -= 1
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    with OutputFolder(out) as tmp:
        (tmp / "x").write_text("1")
    assert (out / "x").exists() and not lock.exists()


def test_files_and_folder_owner_only_by_default(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out) as tmp:
        write_csv(pd.DataFrame({"a": [1]}), tmp / "a.csv")
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "a.csv").stat().st_mode) == 0o600


def test_csv_counts_dates_and_formula_injection(tmp_path):
    f = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "f": [2.0, 3.0], "d": pd.to_datetime(["2026-01-02", None]),
                      "t": ["=HYPERLINK(\"http://x\")", "-12"], "b": pd.array([True, None], dtype="boolean")})
    write_csv(f, tmp_path / "x.csv", bom=True)
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig").splitlines()
    assert text[0] == "n,f,d,t,b"
    assert text[1] == "1,2,2026-01-02,\"'=HYPERLINK(\"\"http://x\"\")\",1"
    assert text[2] == ",3,,-12,"
    assert defuse("+cmd") == "'+cmd" and defuse("@SUM(A1)") == "'@SUM(A1)" and defuse("-3.5") == "-3.5"


def test_pseudonyms_stable_with_one_key_different_with_another(tmp_path):
    f = pd.DataFrame({"person_id": ["P000001", "P000002"], "family_id": ["F000001", "F000001"], "x": [1, 2]})
    k1, k2 = b"k" * 32, b"j" * 32
    a, b, c = pseudonymise(f, k1), pseudonymise(f, k1), pseudonymise(f, k2)
    assert a.equals(b)
    assert (a.person_id != c.person_id).all()
    assert a.person_id.nunique() == 2 and a.family_id.nunique() == 1
    assert not a.person_id.str.contains("P000").any()


def test_short_key_refused(tmp_path):
    (tmp_path / "k").write_bytes(b"short")
    from schemas.errors import ConfigError
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        read_key(tmp_path / "k")


def test_shareable_profile_drops_personal_columns():
    f = pd.DataFrame(columns=["family_id", "person_id", "forename", "surname", "dob", "address", "postcode", "uprn",
                              "role", "age", "forename_l", "record_id_l"])
    assert list(shareable(f).columns) == ["family_id", "person_id", "role", "age", "record_id_l"]


def test_sub_folders_follow_the_file_mode(tmp_path):
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "rejected" / "x.csv", mode=0o640)
    assert stat.S_IMODE((tmp_path / "rejected").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "rejected" / "x.csv").stat().st_mode) == 0o640

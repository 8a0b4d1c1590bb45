"""Never destroy what hnf-match did not write: the output folder is used only when it is missing,
empty or an unchanged earlier hnf-match output; everything else is refused before any work."""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.outputs import OutputFolder, RunLock
from schemas.errors import OutputInTheWay

pytestmark = pytest.mark.slow


def run(config, *extra, out=None):
    args = ["run", "--config", str(config), *extra]
    if out is not None:
        args += ["--out", str(out)]
    return CliRunner().invoke(main, args)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_output_naming_the_extracts_folder_is_refused_and_nothing_is_touched(housing_config):
    folder = housing_config.parent
    before = snapshot(folder)
    r = run(housing_config, out=folder)
    assert r.exit_code == 2, r.output
    assert "holds the run config" in r.output or "holds an agency extract" in r.output
    assert snapshot(folder) == before


@pytest.mark.parametrize("value", [".", ".."])
def test_config_output_dot_or_dotdot_is_refused(housing_config, value):
    cfg = yaml.safe_load(housing_config.read_text())
    cfg["output"] = value
    housing_config.write_text(yaml.safe_dump(cfg))
    before = snapshot(housing_config.parent)
    r = run(housing_config)
    assert r.exit_code == 2, r.output
    assert snapshot(housing_config.parent) == before


def test_folder_with_a_foreign_file_is_refused_naming_it(housing_config, tmp_path):
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = run(housing_config, out=out)
    assert r.exit_code == 2 and "notes.txt" in r.output and "not an earlier hnf-match output" in r.output
    assert (out / "notes.txt").read_text() == "mine" and sorted(os.listdir(out)) == ["notes.txt"]


def test_earlier_output_is_replaced(housing_config, tmp_path):
    out = tmp_path / "o"
    assert run(housing_config, out=out).exit_code == 0
    first = json.loads((out / "manifest.json").read_text())
    assert "need_matrix.csv" in first["files"]
    r = run(housing_config, "--as-of", "2026-10-31", out=out)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifest.json").read_text())["as_of"] == "2026-10-31"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".o")) == []


def test_earlier_output_with_a_file_added_or_changed_is_refused(housing_config, tmp_path):
    out = tmp_path / "o"
    assert run(housing_config, out=out).exit_code == 0
    (out / "my_decisions.csv").write_text("kept")
    r = run(housing_config, out=out)
    assert r.exit_code == 2 and "my_decisions.csv" in r.output
    (out / "my_decisions.csv").unlink()
    with open(out / "members.csv", "a") as fh:
        fh.write("edited in Excel\n")
    before = snapshot(out)
    r = run(housing_config, out=out)
    assert r.exit_code == 2 and "members.csv" in r.output and "changed after" in r.output.replace("\n", " ")
    assert snapshot(out) == before


def test_existing_file_named_as_output_is_refused_not_moved(housing_config, tmp_path):
    target = tmp_path / "results"
    target.write_text("a file of mine")
    cfg = yaml.safe_load(housing_config.read_text())
    cfg["output"] = str(target)
    housing_config.write_text(yaml.safe_dump(cfg))
    r = run(housing_config)
    assert r.exit_code == 2 and "is a file" in r.output
    assert target.read_text() == "a file of mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".results")]


def test_key_inside_the_output_folder_is_refused(housing_config, tmp_path):
    out = tmp_path / "o"
    assert run(housing_config, out=out).exit_code == 0
    key = out / "hnf.key"
    key.write_text("k" * 48)
    key.chmod(0o600)
    cfg = yaml.safe_load(housing_config.read_text())
    cfg["outputs"] = {"profile": "shareable", "pseudonymise_key": str(key)}
    housing_config.write_text(yaml.safe_dump(cfg))
    r = run(housing_config, out=out)
    assert r.exit_code == 2 and "pseudonymisation key" in r.output
    assert key.read_text() == "k" * 48


def test_output_holding_previous_is_refused(housing_config, tmp_path):
    base = tmp_path / "srv"
    assert run(housing_config, out=base / "last").exit_code == 0
    before = snapshot(base)
    r = run(housing_config, "--previous", str(base / "last"), out=base)
    assert r.exit_code == 2 and "--previous" in r.output
    assert snapshot(base) == before


def test_log_file_inside_the_output_folder_is_refused(housing_config, tmp_path):
    out = tmp_path / "o"
    assert run(housing_config, out=out).exit_code == 0
    r = run(housing_config, "--log-file", str(out / "run.log"), out=out)
    assert r.exit_code == 2 and "log file" in r.output


def test_symlink_as_output_is_refused(housing_config, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    r = run(housing_config, out=tmp_path / "link")
    assert r.exit_code == 2 and "symbolic link" in r.output
    assert (tmp_path / "link").is_symlink()


def test_current_folder_as_output_is_refused(housing_config, tmp_path, monkeypatch):
    out = tmp_path / "here"
    out.mkdir()
    monkeypatch.chdir(out)
    r = run(housing_config, out=Path("."))
    assert r.exit_code == 2 and "current folder" in r.output


def test_root_as_output_is_refused(housing_config):
    r = run(housing_config, out=Path("/"))
    assert r.exit_code == 2 and "mount point" in r.output


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "4m", options: str = ""):
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(where)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_mount_point_as_output_is_refused_before_any_work(housing_config, tmp_path):
    with tmpfs(tmp_path / "mnt") as mnt:
        r = run(housing_config, out=mnt)
        assert r.exit_code == 2 and "mount point" in r.output
        assert os.listdir(mnt) == []


def test_full_disk_is_exit_3_naming_the_path_and_leaves_no_lock(housing_config, tmp_path):
    with tmpfs(tmp_path / "small", size="2m") as small:
        fd = os.open(small / "filler", os.O_WRONLY | os.O_CREAT)     # fill it up to the last few blocks
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"x" * 4096)
        os.close(fd)
        os.truncate(small / "filler", os.path.getsize(small / "filler") - 8192)
        r = run(housing_config, out=small / "o")
        assert r.exit_code == 3, r.output
        assert "cannot write" in r.output and str(small) in r.output and "bug" not in r.output
        (small / "filler").unlink()
        assert sorted(os.listdir(small)) == []          # no lock, no journal, no temporary folder
        assert run(housing_config, out=small / "o").exit_code == 0


def test_read_only_output_parent_is_exit_3(housing_config, tmp_path):
    with tmpfs(tmp_path / "ro", options=",ro") as ro:
        r = run(housing_config, out=ro / "o")
        assert r.exit_code == 3 and str(ro) in r.output and "bug" not in r.output


def test_empty_lock_left_by_an_old_version_is_taken_over_once_old(tmp_path):
    out = tmp_path / "out"
    lock = RunLock(out).path
    lock.write_text("")
    from schemas.errors import LockedError
    with pytest.raises(LockedError):
        with OutputFolder(out):
            pass
    old = time.time() - 3600
    os.utime(lock, (old, old))
    with OutputFolder(out) as tmp:
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))
    assert not lock.exists() and (out / "manifest.json").exists()


def test_lock_is_never_seen_empty(tmp_path):
    lock = RunLock(tmp_path / "out")
    lock.acquire()
    try:
        owner = json.loads(lock.path.read_text())
        assert owner["pid"] == os.getpid() and owner["host"]
        assert [p.name for p in tmp_path.iterdir()] == ["out.lock"]     # its private copy is gone
    finally:
        lock.release()


def _kill_between_renames(tmp_path: Path, out: Path, second: bool):
    """A run SIGKILLed after the first rename of the swap (or after both): what a power cut leaves."""
    script = textwrap.dedent(f"""
        import json, os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        import pipeline.outputs as po
        calls = []
        real = os.rename
        def rename(a, b):
            real(a, b)
            calls.append(1)
            if len(calls) == {2 if second else 1}:
                os.kill(os.getpid(), signal.SIGKILL)
        po.os.rename = rename
        with po.OutputFolder(Path({str(out)!r})) as tmp:
            (tmp / "need_matrix.csv").write_text("new")
            (tmp / "manifest.json").write_text(json.dumps({{"tool": "hnf-match"}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr


def _earlier(out: Path, text: str):
    with OutputFolder(out) as tmp:
        (tmp / "need_matrix.csv").write_text(text)
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))


def test_sigkill_between_the_two_renames_then_a_normal_run_restores_and_replaces(tmp_path, caplog):
    out = tmp_path / "out"
    _earlier(out, "previous")
    _kill_between_renames(tmp_path, out, second=False)
    assert not out.exists()                                        # the previous outputs are hidden ...
    assert (tmp_path / ".out.swap").exists()                        # ... and the journal says where
    import logging
    with caplog.at_level(logging.WARNING, logger="hnf_match"):
        with OutputFolder(out) as tmp:
            assert (out / "need_matrix.csv").read_text() == "previous"     # restored before the run writes
            (tmp / "need_matrix.csv").write_text("this run")
            (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))
    assert "previous outputs were restored" in caplog.text
    assert (out / "need_matrix.csv").read_text() == "this run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sigkill_after_both_renames_keeps_the_new_outputs_and_cleans_up(tmp_path):
    out = tmp_path / "out"
    _earlier(out, "previous")
    _kill_between_renames(tmp_path, out, second=True)
    with OutputFolder(out) as tmp:
        assert (out / "need_matrix.csv").read_text() == "new"
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_hidden_outputs_left_by_an_older_version_are_restored(tmp_path):
    out = tmp_path / "out"
    _earlier(out, "previous")
    os.rename(out, tmp_path / ".out.old-4242")
    with OutputFolder(out) as tmp:
        assert (out / "need_matrix.csv").read_text() == "previous"
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))


def test_a_users_folder_that_looks_like_a_temporary_one_is_left_alone(tmp_path):
    mine = tmp_path / ".out.tmp-mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with OutputFolder(tmp_path / "out") as tmp:
        (tmp / "manifest.json").write_text(json.dumps({"tool": "hnf-match"}))
    assert (mine / "keep.txt").read_text() == "mine"


def test_compare_never_replaces_a_file_it_did_not_write(housing_config, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(housing_config, out=a).exit_code == 0
    assert run(housing_config, "--previous", str(a), out=b).exit_code == 0
    mine = tmp_path / "report.csv"
    mine.write_text("my own,file\n")
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(mine)])
    assert r.exit_code == 2 and mine.read_text() == "my own,file\n"
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    # changes.csv joins b's inventory, so the next run into b may still replace it
    assert "changes.csv" in json.loads((b / "manifest.json").read_text())["files"]
    assert run(housing_config, "--previous", str(a), out=b).exit_code == 0


def test_validate_refuses_a_foreign_validation_folder(housing_config):
    folder = housing_config.parent / "out-validation"
    folder.mkdir()
    (folder / "mine.xlsx").write_text("x")
    r = CliRunner().invoke(main, ["validate", "--config", str(housing_config)])
    assert r.exit_code == 2 and "mine.xlsx" in r.output
    assert sorted(os.listdir(folder)) == ["mine.xlsx"]
    folder.joinpath("mine.xlsx").unlink()
    assert CliRunner().invoke(main, ["validate", "--config", str(housing_config)]).exit_code == 0
    assert CliRunner().invoke(main, ["validate", "--config", str(housing_config)]).exit_code == 0


def test_check_refuses_an_empty_sub_folder_it_did_not_make(tmp_path):
    out = tmp_path / "out"
    _earlier(out, "x")
    (out / "mine").mkdir()
    with pytest.raises(OutputInTheWay, match="mine"):
        with OutputFolder(out):
            pass


def test_sample_never_overwrites_a_councils_own_files(tmp_path):
    (tmp_path / "config.yaml").write_text("as_of: 2026-09-30\n")
    (tmp_path / "housing.csv").write_text("record_id\n1\n")
    before = snapshot(tmp_path)
    r = CliRunner().invoke(main, ["sample", "--families", "5", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "not an earlier sample" in r.output
    assert snapshot(tmp_path) == before
    fresh = tmp_path / "s"
    assert CliRunner().invoke(main, ["sample", "--families", "5", "--out", str(fresh)]).exit_code == 0
    assert CliRunner().invoke(main, ["sample", "--families", "5", "--out", str(fresh)]).exit_code == 0


def _sample(out, *extra):
    return CliRunner().invoke(main, ["sample", "--families", "5", "--out", str(out), *extra])


def test_sample_lists_what_it_wrote_and_replaces_only_files_still_as_it_wrote_them(tmp_path):
    import hashlib
    out = tmp_path / "s"
    assert _sample(out).exit_code == 0
    listed = dict(reversed(line.split("  ")) for line in (out / "sample_files.sha256").read_text().splitlines())
    assert sorted(listed) == sorted(p.name for p in out.iterdir() if p.name != "sample_files.sha256")
    assert all(hashlib.sha256((out / name).read_bytes()).hexdigest() == digest for name, digest in listed.items())
    (out / "notes.txt").write_text("the analyst's own notes\n")
    r = _sample(out, "--seed", "7")                 # a new draw over an untouched sample: replaced
    assert r.exit_code == 0, r.output
    assert (out / "notes.txt").read_text() == "the analyst's own notes\n"
    assert (out / "housing.csv").read_bytes() != b"" and not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("change", ["edit an extract", "edit the config", "add a file of a name it writes"])
def test_sample_never_replaces_a_file_changed_or_added_since_it_wrote_the_folder(tmp_path, change):
    out = tmp_path / "s"
    assert _sample(out).exit_code == 0
    if change == "edit an extract":
        with open(out / "housing.csv", "a", encoding="utf-8") as fh:
            fh.write("an analyst's own test row\n")
        named = "housing.csv"
    elif change == "edit the config":
        (out / "config.yaml").write_text((out / "config.yaml").read_text() + "# my change\n")
        named = "config.yaml"
    else:
        (out / "police.csv").write_text("record_id\n1\n")     # --formats csv writes police.csv
        named = "police.csv"
    before = snapshot(out)
    r = _sample(out, "--seed", "7", "--formats", "csv")
    assert r.exit_code == 2 and named in r.output and "nothing was changed" in r.output
    assert r.output.count("Error:") == 1          # once, not again from the log
    assert snapshot(out) == before                # not one file replaced
    assert not [p for p in out.iterdir() if p.name.startswith(".")]     # and no work folder left


def test_sample_quarters_never_replace_an_edited_quarter(tmp_path):
    out = tmp_path / "q"
    assert _sample(out, "--quarters", "2").exit_code == 0
    assert "q2/config.yaml" in (out / "sample_files.sha256").read_text()
    with open(out / "q2" / "housing.csv", "a", encoding="utf-8") as fh:
        fh.write("an analyst's own test row\n")
    before = snapshot(out)
    r = _sample(out, "--quarters", "2", "--seed", "7")
    assert r.exit_code == 2 and "housing.csv" in r.output
    assert snapshot(out) == before

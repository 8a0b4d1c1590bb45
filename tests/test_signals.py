"""Stop signals at any moment of any subcommand: exit 5, the previous outputs intact, nothing
left behind. Run as cron runs it: the console script in its own process, with a real Excel source."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ENTRY = [sys.executable, "-c", "from pipeline.entry import main; main()"]


@pytest.fixture(scope="module")
def mixed_set(tmp_path_factory):
    from synth import generate
    folder = tmp_path_factory.mktemp("mixed")
    generate(folder, families=80, seed=11, formats="mixed")
    assert (folder / "police.xlsx").exists()
    return folder


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def start(args, cwd):
    return subprocess.Popen(ENTRY + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def handling_stops(proc, timeout: float = 60) -> None:
    """Wait until the process handles SIGTERM and SIGHUP (the kernel's record of its caught
    signals), which hnf-match does as its first instruction: a signal that lands while the
    Python interpreter itself is still starting (a second or more on a loaded machine) meets
    no program yet, and ends it as it would any process."""
    wanted = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGHUP - 1))
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            return                                  # not Linux, or gone: nothing to wait for
        caught = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), None)
        if caught is None or caught & wanted == wanted:
            return
        time.sleep(0.01)


@pytest.fixture(scope="module")
def earlier_output(mixed_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "out"
    t0 = time.perf_counter()
    proc = start(["run", "--config", str(mixed_set / "config.yaml"), "--out", str(out), "-q"], mixed_set)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out, time.perf_counter() - t0


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize("step", range(12))
def test_signal_at_any_point_of_a_run_exits_5_with_previous_outputs_intact(mixed_set, earlier_output, step):
    out, full_time = earlier_output
    before = snapshot(out)
    sig = SIGNALS[step % 3]
    delay = max(0.1, full_time * step / 12)    # from just after start-up to near the end
    proc = start(["run", "--config", str(mixed_set / "config.yaml"), "--out", str(out), "-q"], mixed_set)
    handling_stops(proc)
    time.sleep(delay)
    if proc.poll() is not None:
        pytest.skip("the run finished before the signal could be sent")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    manifest = out / "manifest.json"
    if proc.returncode == 0 and manifest.read_bytes() != before["manifest.json"] \
            and json.loads(manifest.read_text()).get("status") == "ok":
        # poll() saw it running, but it was already leaving (os._exit): the signal came after
        # the process had ended (a warm run is faster than the first one that timed it)
        pytest.skip("the run finished as the signal was sent")
    assert proc.returncode == 5, (sig, delay, err[-2000:])
    assert "Traceback" not in err
    if "after the command had finished its work" in err:    # the signal came after the swap
        return
    assert snapshot(out) == before, (sig, delay)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]   # no temp folder, lock or journal


def test_ctrl_c_during_validate_exits_5(mixed_set, tmp_path):
    import yaml
    cfg = yaml.safe_load((mixed_set / "config.yaml").read_text())
    for spec in cfg["sources"].values():
        spec["path"] = str(mixed_set / spec["path"])
    cfg["output"] = str(tmp_path / "v")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = start(["validate", "--config", str(tmp_path / "c.yaml"), "-q"], tmp_path)
    handling_stops(proc)
    time.sleep(1.0)
    if proc.poll() is not None:
        pytest.skip("validate finished before the signal could be sent")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 5, err
    assert "Traceback" not in err


def _run_in_command_group(body):
    """Run `body` as a command of the group every hnf-match command runs in."""
    import click
    from click.testing import CliRunner

    from pipeline import stopping
    from pipeline.cli_base import Group

    @click.group(cls=Group)
    def group():
        pass

    group.command("work")(body)
    stopping.reset()
    try:
        return CliRunner().invoke(group, ["work"])
    finally:
        stopping.reset()


def test_a_signal_a_library_turned_into_its_own_error_still_exits_5():
    """pydantic building a model when a signal lands reports a SchemaError, not our exception:
    the command group sees the signal was received and exits 5, not 1 ("internal error")."""
    from pipeline import stopping

    def work():
        try:
            stopping._handler(signal.SIGTERM, None)
        except BaseException:
            raise ValueError("a library's own error") from None

    r = _run_in_command_group(work)
    assert r.exit_code == 5, r.output
    assert "stopped by signal SIGTERM" in r.output


def test_a_signal_after_the_outputs_were_swapped_in_says_they_are_complete(tmp_path):
    """Between the swap and the end of the command the outputs are this run's: the message must
    not say the previous outputs were left as they were."""
    from pipeline import stopping
    from pipeline.outputs import OutputFolder

    def work():
        with OutputFolder(tmp_path / "out") as tmp:
            (tmp / "manifest.json").write_text('{"tool": "hnf-match"}')
        stopping._handler(signal.SIGHUP, None)

    r = _run_in_command_group(work)
    assert r.exit_code == 5, r.output
    assert "after the command had finished its work" in r.output and "left as they were" not in r.output
    assert (tmp_path / "out" / "manifest.json").exists()

"""Comparing and standardising shared among processes: the same result for any number of them."""
from pathlib import Path

import pandas as pd
import pytest

from matching import compare as compare_module
from matching import standardise as standardise_module
from matching.linkage import link_records
from matching.settings import LinkageSettings
from matching.workers import map_slices, slices


def test_slices_cover_the_range_in_order_and_are_not_too_small():
    for n, workers, smallest in ((0, 2, 10), (5, 2, 10), (100, 2, 10), (10_001, 3, 7), (40, 8, 1)):
        bounds = slices(n, workers, smallest)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert len(bounds) <= max(1, 4 * workers)
        assert len(bounds) == 1 or all(stop - start >= min(smallest, n) for start, stop in bounds[:-1])


def test_results_come_back_in_slice_order_from_forked_workers():
    parts = map_slices(lambda start, stop: list(range(start, stop)), 1000, 2, smallest=10)
    assert len(parts) > 1 and [x for p in parts for x in p] == list(range(1000))


def test_the_sample_links_the_same_with_one_worker_or_two(sample_records, monkeypatch):
    cfg, records = sample_records
    monkeypatch.setattr(standardise_module, "VALUES_A_SLICE", 50)   # share the sample's names out too
    monkeypatch.setattr(compare_module, "PAIRS_BEFORE_FORK", 500)   # most pairs go to the workers
    settings = LinkageSettings.from_dict(cfg.linkage)
    one = link_records(records, settings, cfg.as_of, workers=1)
    two = link_records(records, settings, cfg.as_of, workers=2)
    assert one.stats["pairs_scored"] > 4 * 2_000              # enough pairs for several slices
    for name in ("record_links", "members", "review_pairs", "pairs"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    assert (one.state.levels == two.state.levels).all()
    assert one.model == two.model


def test_the_first_pairs_are_compared_before_the_fork_and_the_rest_by_the_workers(sample_records, monkeypatch):
    """The per-record arrays the tests read are made in this process, before the workers are
    forked (they inherit them); the matrix is the one a single process makes, however many
    pairs are compared first."""
    import numpy as np

    from matching.blocking import block
    from matching.compare import Columns, compare_pairs
    from matching.standardise import standardise
    cfg, records = sample_records
    settings = LinkageSettings.from_dict(cfg.linkage)
    std = standardise(records)
    cand = block(std, settings)
    one = compare_pairs(settings.comparisons, Columns(std), cand.left, cand.right, workers=1)
    for before in (0, 1, 700, len(cand.left), len(cand.left) + 5):
        monkeypatch.setattr(compare_module, "PAIRS_BEFORE_FORK", before)
        cols = Columns(std)
        two = compare_pairs(settings.comparisons, cols, cand.left, cand.right, workers=2)
        np.testing.assert_array_equal(one, two)
        assert bool(cols._codes or cols._cache) == (before > 0)    # made here only when compared here


def test_workers_end_quietly_under_the_runs_stop_handlers(capfd):
    import signal

    from pipeline import stopping
    before = {sig: signal.getsignal(sig) for sig in stopping.STOP_SIGNALS}
    stopping.install()
    try:
        parts = map_slices(lambda start, stop: stop - start, 100, 2, smallest=10)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert sum(parts) == 100
    assert "Traceback" not in capfd.readouterr().err


def test_a_worker_that_dies_fails_the_work_instead_of_hanging():
    import os
    from concurrent.futures.process import BrokenProcessPool

    def dies(start, stop):
        if start == 0:
            os._exit(9)             # as the out-of-memory killer would end it
        return stop - start
    with pytest.raises(BrokenProcessPool):
        map_slices(dies, 100, 2, smallest=10)


# Stopping a run whose work is shared out: no worker may outlive it. A worker left behind
# holds the run's stdout and stderr, so a cron job or any caller reading them waits for ever,
# and it holds its share of the run's memory.

ROOT = Path(__file__).resolve().parents[1]

_STOPPED_SCRIPT = """
import os, sys, time
sys.path.insert(0, {root!r})
from pipeline import stopping
from schemas.errors import InterruptedRun
from matching.workers import map_slices
stopping.install()
{setup}
try:
    for _ in range({rounds}):
        map_slices({task}, 100, 2, smallest=10)
    print("finished")
except InterruptedRun:
    print("stopped", file=sys.stderr)
sys.stdout.flush(); sys.stderr.flush()
os._exit(5)
"""


def _script(tmp_path, *, setup="", rounds=1, task="lambda a, b: b - a"):
    import sys
    path = tmp_path / "work.py"
    path.write_text(_STOPPED_SCRIPT.format(root=str(ROOT), setup=setup, rounds=rounds, task=task))
    return [sys.executable, str(path)]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in state          # ended, not yet reaped by whoever adopted it


@pytest.mark.parametrize("which", [1, 2])
def test_a_worker_forked_just_before_the_stop_still_ends_with_the_run(tmp_path, which):
    """A stop handled as a fork returns, before the pool has recorded that worker (the window
    that left a run's caller waiting for ever)."""
    import subprocess
    setup = f"""
import signal
import multiprocessing.process as mpp
real_start, forked = mpp.BaseProcess.start, []
def start(self):
    real_start(self)
    forked.append(self.pid)
    if len(forked) == {which}:
        stopping._handler(signal.SIGTERM, None)     # as the handler runs when the fork returns
mpp.BaseProcess.start = start
"""
    proc = subprocess.Popen(_script(tmp_path, setup=setup, task="lambda a, b: (time.sleep(5), b - a)[1]"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=60)       # returns only once no worker holds the pipes
    assert proc.returncode == 5 and "stopped" in err and "Traceback" not in err, err[-2000:]


def test_workers_end_when_the_run_is_killed(tmp_path):
    """kill -9 or the out-of-memory killer ends the run's process: its workers end too."""
    import os
    import signal
    import subprocess
    import time
    pids = tmp_path / "pids"
    pids.mkdir()
    task = f"lambda a, b: (open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close(), time.sleep(120), b)[2]"
    proc = subprocess.Popen(_script(tmp_path, task=task), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(list(pids.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.05)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.time() + 30
    while not all(_gone(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in workers if not _gone(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert alive == []


@pytest.mark.parametrize("sig_name, delay", [("SIGTERM", 0.6), ("SIGINT", 0.9), ("SIGHUP", 1.2),
                                             ("SIGTERM", 1.5), ("SIGTERM", 1.8), ("SIGINT", 2.1)])
def test_a_stop_at_any_moment_of_forking_and_gathering_exits_cleanly(tmp_path, sig_name, delay):
    """Pools forked and gathered over and over, stopped at some moment of it: a clean exit 5,
    no traceback, no worker left holding the pipes (before the fix, 3 such runs in 10 hung or
    ended with a traceback)."""
    import signal
    import subprocess
    import time
    proc = subprocess.Popen(_script(tmp_path, rounds=100_000), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(delay)
    proc.send_signal(getattr(signal, sig_name))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 5 and "stopped" in err and "Traceback" not in err, err[-2000:]

"""Work split over the machine's cores: a function of consecutive slices of a range run in
forked processes, the results returned in slice order, so that the outcome is the same for any
number of workers. The children inherit the parent's arrays (fork): nothing big is pickled on
the way in, only each slice's result on the way back."""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

_TASK: Callable | None = None       # what the forked children run: set just before the fork


def all_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:          # not on Linux
        return max(os.cpu_count() or 1, 1)


def slices(n: int, workers: int, smallest: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) of range(n): a few a worker (a slow one does not hold up the
    rest), none smaller than `smallest` unless it is the only one."""
    parts = max(1, min(4 * workers, n // max(smallest, 1)))
    step = -(-n // parts) if n else 1
    return [(start, min(start + step, n)) for start in range(0, n, step)] or [(0, 0)]


def _worker_signals() -> None:
    """A worker leaves stop signals to the run: Ctrl-C and a hang-up go to the main process,
    which ends the workers, and a worker ended by it just ends (not the run's stop handler)."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(bounds: tuple[int, int]):
    return _TASK(*bounds)


def each_slice(fn: Callable[[int, int], T], n: int, workers: int, smallest: int) -> Iterator[tuple[tuple[int, int], T]]:
    """((start, stop), fn(start, stop)) for each slice of range(n), in slice order, worked out
    on up to `workers` processes (each result is handed over as it comes, so the caller can
    store it and let it go). One worker, one slice or no fork here: all in this process."""
    global _TASK
    bounds = slices(n, workers, smallest) if workers > 1 else [(0, n)]
    if workers <= 1 or len(bounds) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        for start, stop in bounds:
            yield (start, stop), fn(start, stop)
        return
    _TASK = fn
    # An executor, not a Pool: a worker that dies (the kernel's out-of-memory killer) fails the
    # run with BrokenProcessPool instead of leaving it waiting for ever.
    pool = ProcessPoolExecutor(min(workers, len(bounds)), mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_signals)
    try:
        yield from zip(bounds, pool.map(_run, bounds))
    except BaseException:
        # A stopped run does not wait for its workers to finish their slices.
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        raise
    finally:
        _TASK = None
        pool.shutdown(wait=True, cancel_futures=True)


def map_slices(fn: Callable[[int, int], T], n: int, workers: int, smallest: int) -> list[T]:
    """[fn(start, stop) for each slice of range(n)], in slice order (see each_slice)."""
    return [result for _, result in each_slice(fn, n, workers, smallest)]

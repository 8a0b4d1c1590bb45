"""Work split over the machine's cores: a function of consecutive slices of a range run in
forked processes, the results returned in slice order, so that the outcome is the same for any
number of workers. The children inherit the parent's arrays (fork): nothing big is pickled on
the way in, only each slice's result on the way back."""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
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


# The run's stop signals (pipeline.stopping handles them in the main process).
_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1           # linux/prctl.h


def _worker_signals(parent: int) -> None:
    """First thing in a forked worker, which starts with the stop signals held off (the parent
    holds them across the forks): Ctrl-C and a hang-up are left to the main process, which ends
    the workers; a worker ended by it just ends, not through the run's stop handler (no
    traceback); and a worker never outlives the run, however the run ends."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)


def _die_with(parent: int) -> None:
    """Have the kernel end this worker when the run's process ends, even by kill -9 or the
    out-of-memory killer: an orphan would wait on its queue for ever, holding memory and the
    run's stdout and stderr (a cron job or a caller reading them would never see the end)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:      # the run ended before the line above took effect
        os._exit(1)


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
    pool = None
    processes: list = []
    try:
        # Stop signals are held off while the workers are forked and recorded: one landing just
        # after a fork, before the pool had noted its worker, would leave that worker behind.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        try:
            # An executor, not a Pool: a worker that dies (the kernel's out-of-memory killer)
            # fails the run with BrokenProcessPool instead of leaving it waiting for ever.
            pool = ProcessPoolExecutor(min(workers, len(bounds)), mp_context=multiprocessing.get_context("fork"),
                                       initializer=_worker_signals, initargs=(os.getpid(),))
            futures = [pool.submit(_run, part) for part in bounds]      # the first forks them all
            processes = list((getattr(pool, "_processes", None) or {}).values())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)            # one held off is raised here
        futures.reverse()
        for part in bounds:
            yield part, futures.pop().result()      # popped: each result is let go once handed over
    except BaseException:
        # A stopped run does not wait for its workers to finish their slices.
        _end(processes or list((getattr(pool, "_processes", None) or {}).values()))
        raise
    finally:
        _TASK = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _end(processes: list, grace: float = 5.0) -> None:
    """Terminate the workers; any that has not gone after `grace` seconds is killed."""
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(grace)
        if proc.is_alive():
            proc.kill()
            proc.join()


def map_slices(fn: Callable[[int, int], T], n: int, workers: int, smallest: int) -> list[T]:
    """[fn(start, stop) for each slice of range(n)], in slice order (see each_slice)."""
    return [result for _, result in each_slice(fn, n, workers, smallest)]

"""Peak resident memory of a stretch of work (a stage, a linking step): the kernel's high-water
mark of this process, set back to the current size when the stretch starts, so each stage
reports its own peak rather than the run's so far."""
from __future__ import annotations

import ctypes
import ctypes.util
import resource
from functools import lru_cache
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _hwm_kb() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _lifetime_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start a new stretch: the high-water mark is set back to the memory held now (Linux; where
    that cannot be done, peaks are the process's peak so far)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    """Peak resident memory (MB) since the last `reset_peak`, or since the process started."""
    kb = _hwm_kb()
    return kb / 1024 if kb is not None else _lifetime_peak_mb()



@lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):     # not glibc: nothing to ask
        return None


def release_free_memory() -> None:
    """Hand memory the process has freed back to the system (glibc keeps freed small blocks,
    the many strings and tuples of a finished stage, for reuse; the next stage then starts
    from what it really holds). Changes no result."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)

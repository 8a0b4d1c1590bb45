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


class Stretch:
    """A stretch of work whose peak is wanted. Stretches nest (a linking step inside the link
    stage): setting the mark back for an inner one first carries the mark so far into every
    stretch still open, so the outer one's peak still covers its inner ones."""
    _open: list["Stretch"] = []

    def __init__(self):
        self.carried_kb = 0
        _set_back()
        Stretch._open.append(self)

    def peak_mb(self) -> float:
        """Peak resident memory (MB) since the stretch started (where the mark cannot be set
        back: the process's peak so far)."""
        kb = _hwm_kb()
        if kb is None:
            return _lifetime_peak_mb()
        return max(self.carried_kb, kb) / 1024

    def stop(self) -> float:
        peak = round(self.peak_mb(), 1)
        if self in Stretch._open:
            Stretch._open.remove(self)
        return peak


def _set_back() -> None:
    kb = _hwm_kb() or 0
    for stretch in Stretch._open:
        stretch.carried_kb = max(stretch.carried_kb, kb)
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass


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

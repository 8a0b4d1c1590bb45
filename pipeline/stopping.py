"""Signals as an orderly stop. SIGINT (Ctrl-C), SIGTERM (cron's, systemd's and kill's stop) and
SIGHUP all raise InterruptedRun, so every subcommand unwinds through its `finally` blocks,
leaves the previous outputs as they were and exits 5.

The first signal raises; any further one only is remembered, so that a second Ctrl-C cannot
break the clean-up of the first. A signal that some library swallowed while it was raised (a
`__del__`, a bare `except:` in a reader's clean-up) is still remembered: `check()` raises it
again at the next checkpoint, and the output swap refuses to go ahead after one.
"""
from __future__ import annotations

import signal
import sys

from schemas.errors import InterruptedRun

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []


def _handler(signum, frame):
    first = not _received
    _received.append(signum)
    if first:
        raise InterruptedRun(_message(signum))


def _message(signum: int) -> str:
    return f"stopped by signal {signal.Signals(signum).name}; previous outputs left as they were"


def _unraisable(unraisable) -> None:
    """A stop raised where Python cannot raise it (a weakref callback, a `__del__`) is not a
    fault to print: it is remembered and raised again at the next checkpoint."""
    if isinstance(unraisable.exc_value, InterruptedRun):
        return
    sys.__unraisablehook__(unraisable)


def install() -> None:
    """Handle the stop signals from here on (main thread only; elsewhere a no-op)."""
    sys.unraisablehook = _unraisable
    for sig in STOP_SIGNALS:
        try:
            signal.signal(sig, _handler)
        except (ValueError, OSError):  # not the main thread (a library caller): leave theirs alone
            return


def received() -> int | None:
    """The first stop signal received, if any."""
    return _received[0] if _received else None


def check() -> None:
    """Raise InterruptedRun if a stop signal was received, even one whose exception was lost."""
    if _received:
        raise InterruptedRun(_message(_received[0]))


# Output folders this command has swapped into place: a signal after that stops nothing, and
# must not be reported as if the previous outputs were still there.
_committed: list[str] = []


def committed(folder) -> None:
    """Record that `folder` now holds this command's complete outputs."""
    _committed.append(str(folder))


def committed_folders() -> list[str]:
    return list(_committed)


def reset() -> None:
    """Forget earlier signals (for a caller that runs several commands in one process: tests)."""
    _received.clear()
    _committed.clear()


class deferred:
    """Hold stop signals off for a few instructions that must not be cut in two (the two
    renames of the output swap); a signal that arrives meanwhile is raised on leaving."""

    def __enter__(self):
        try:
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        except (AttributeError, OSError, ValueError):
            self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
        return False

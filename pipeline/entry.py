"""The console script's first instructions: stop signals are handled before anything heavy is
imported, so a signal at any moment of any subcommand exits 5 and touches nothing."""
from __future__ import annotations

import sys


def main() -> None:
    from pipeline import stopping
    stopping.install()
    try:
        from pipeline.cli import main as cli
        try:
            cli(prog_name="hnf-match")
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
    except BaseException as exc:  # a signal before the command line could handle it
        from schemas.errors import InterruptedRun
        # (or one a library turned into its own error while importing: pydantic building a model)
        if not isinstance(exc, (InterruptedRun, KeyboardInterrupt)) and stopping.received() is None:
            raise
        if not isinstance(exc, (InterruptedRun, KeyboardInterrupt)):
            try:
                stopping.check()
            except InterruptedRun as stopped:
                exc = stopped
        print(f"Error: {exc if isinstance(exc, InterruptedRun) else 'interrupted'}; nothing was written",
              file=sys.stderr)
        code = 5
    _exit(code)


def _exit(code) -> None:
    """Leave without Python's finalisation, during which a signal would kill the process with
    the default action (exit -15, -1) instead of our exit 5. Every output is closed by now."""
    import logging
    import os
    import signal

    from pipeline import stopping

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    with _suppress_stop():
        signal.pthread_sigmask(signal.SIG_BLOCK, stopping.STOP_SIGNALS)
    late = stopping.received() is not None or bool(signal.sigpending() & set(stopping.STOP_SIGNALS))
    if late and code == 0:
        # The signal came after the work was done (or a library swallowed its exception and the
        # run still finished): a scheduler must still see that the run was stopped.
        print("Error: a stop signal arrived after the command had finished its work; "
              "what it wrote is complete", file=sys.stderr)
        code = 5
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


class _suppress_stop:
    """A signal landing in the last instructions must not turn into a traceback."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        from schemas.errors import InterruptedRun
        return exc_type is not None and issubclass(exc_type, (InterruptedRun, KeyboardInterrupt))

if __name__ == "__main__":
    main()

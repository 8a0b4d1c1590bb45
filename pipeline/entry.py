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
        if not isinstance(exc, (InterruptedRun, KeyboardInterrupt)):
            raise
        print(f"Error: {exc if isinstance(exc, InterruptedRun) else 'interrupted'}; nothing was written",
              file=sys.stderr)
        code = 5
    if stopping.received() is not None and code in (0, None):
        # The signal came after the work was done (or its exception was swallowed by a library
        # and the run still finished): a scheduler must still see that the run was stopped.
        print("Error: a stop signal arrived after the command had finished its work; "
              "what it wrote is complete", file=sys.stderr)
        code = 5
    sys.exit(code)


if __name__ == "__main__":
    main()

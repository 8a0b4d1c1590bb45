"""Errors a user can cause, each with the exit code a scheduler sees (README: Exit codes).

They live on the ground floor so that every stage can raise them; only the CLI turns them into
click's exits. A message must never hold personal data: name the file, the row and the column.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_INPUT = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 5


class _Message:
    """The message as given, for the CLI to print (str(exc) is the same text)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class HnfError(_Message, Exception):
    """An error the user can fix. Its message must never hold personal data: name the file,
    the row number and the column, never a value."""
    exit_code = EXIT_INTERNAL


class ConfigError(HnfError):
    exit_code = EXIT_CONFIG


class InputDataError(HnfError):
    exit_code = EXIT_INPUT


class OutputError(HnfError):
    """The output folder cannot be used or written: in the way, full disk, no permission."""
    exit_code = EXIT_INPUT


class OutputInTheWay(HnfError):
    """The output path holds something hnf-match did not write: refused before any work."""
    exit_code = EXIT_CONFIG


class LockedError(HnfError):
    exit_code = EXIT_LOCKED


class InterruptedRun(_Message, BaseException):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run. A BaseException, like
    KeyboardInterrupt, so that no reader's `except Exception` can mistake it for a bad file."""
    exit_code = EXIT_INTERRUPTED

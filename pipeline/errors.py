"""Errors a user can cause, each with the exit code a scheduler sees (README: Exit codes)."""
from __future__ import annotations

import click

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_INPUT = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 5


class HnfError(click.ClickException):
    """An error the user can fix. Its message must never hold personal data: name the file,
    the row number and the column, never a value."""
    exit_code = EXIT_INTERNAL


class ConfigError(HnfError):
    exit_code = EXIT_CONFIG


class InputDataError(HnfError):
    exit_code = EXIT_INPUT


class LockedError(HnfError):
    exit_code = EXIT_LOCKED


class InterruptedRun(HnfError):
    exit_code = EXIT_INTERRUPTED

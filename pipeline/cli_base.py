"""The command group every hnf-match command runs in: our errors become their exit codes with
a message on stderr (and in the log file), stop signals exit 5, disk and permission faults exit
3 naming the path, and anything else is reported as an internal error (exit 1) without the
exception's message, which could quote personal data."""
from __future__ import annotations

import errno
import logging

import click

from pipeline import stopping
from pipeline.logs import where_it_failed
from schemas.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, HnfError, InterruptedRun

log = logging.getLogger("hnf_match")


class Group(click.Group):
    def invoke(self, ctx):
        stopping.install()      # also for callers that do not come through pipeline.entry (tests)
        try:
            try:
                return super().invoke(ctx)
            except Exception as exc:
                if stopping.received() is None or isinstance(exc, (click.exceptions.Exit, click.Abort,
                                                                   click.ClickException)):
                    raise
                # A stop signal whose exception a library turned into its own (pydantic building
                # a model when the signal landed gives a SchemaError): the run was stopped.
                stopping.check()
        except HnfError as exc:
            # The message on stderr; the log file (cron) gets it too.
            _to_log_file(exc.message, exc.exit_code)
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except (InterruptedRun, KeyboardInterrupt) as exc:
            message = exc.message if isinstance(exc, InterruptedRun) else \
                "interrupted; previous outputs left as they were"
            done = stopping.committed_folders()
            if done:
                # The outputs were swapped in before the signal: they are this run's, complete.
                message = ("a stop signal arrived after the command had finished its work; what it wrote is "
                           f"complete ({', '.join(done)})")
            _to_log_file(message, EXIT_INTERRUPTED)
            click.echo(f"Error: {message}", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.Abort, click.ClickException, SystemExit):
            raise
        except OSError as exc:
            if exc.errno not in _DISK_ERRORS:
                raise_or_report(ctx, exc)
            # A full disk, a quota, a read-only or forbidden folder: the user's to fix.
            where = exc.filename or "the output folder"
            message = f"{where}: cannot write ({exc.strerror or type(exc).__name__})"
            _to_log_file(message, EXIT_INPUT)
            click.echo(f"Error: {message}", err=True)
            ctx.exit(EXIT_INPUT)
        except Exception as exc:
            raise_or_report(ctx, exc)


def _to_log_file(message: str, code: int) -> None:
    """The error in the command's log file, if it keeps one (stderr has it already). A command
    with no log (sample, compare) must not have Python print it to stderr a second time."""
    if log.hasHandlers():
        log.error("%s (exit code %d)", message, code, extra={"file_only": True})


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}


def raise_or_report(ctx, exc: BaseException) -> None:
    """A bug: say where, never what (messages may hold data values)."""
    if ctx.meta.get("debug"):
        raise exc
    place = where_it_failed(exc)
    _to_log_file(f"internal error: {type(exc).__name__} at {place}", EXIT_INTERNAL)
    click.echo(f"Error: internal error ({type(exc).__name__} at {place}). This is a bug in hnf-match; "
               "re-run with --debug to see the traceback (it may show data values).", err=True)
    ctx.exit(EXIT_INTERNAL)



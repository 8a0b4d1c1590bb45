"""`hnf-match criteria list|show`: the built-in criteria sets, and any set in plain English."""
from __future__ import annotations

import datetime as dt

import click

from criteria.describe import describe
from pipeline.cli_base import Group
from criteria.language import list_builtin, load_criteria


@click.group("criteria", cls=Group)
def criteria() -> None:
    """Criteria sets: list the built-in ones, or show one in plain English."""


@criteria.command("list")
def list_command() -> None:
    """List the built-in criteria sets."""
    for name, title in list_builtin():
        click.echo(f"{name}\t{title}")


@criteria.command("show")
@click.argument("name_or_file")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Reference date (YYYY-MM-DD): print each window's actual dates and terms.")
@click.option("--count-needs-by", type=click.Choice(["criteria", "indicators"]), default=None,
              help="Override the set's count_needs_by setting.")
def show_command(name_or_file: str, as_of: dt.datetime | None, count_needs_by: str | None) -> None:
    """Print a criteria set (a built-in NAME or a YAML FILE) in plain English."""
    settings = {"count_needs_by": count_needs_by} if count_needs_by else None
    cs = load_criteria(name_or_file, settings=settings)
    click.echo(describe(cs, as_of.date() if as_of else None))

"""The `hnf-match` command: run, validate, sample, criteria. Errors a user can cause exit with
the codes in the README; anything else is reported as an internal error (exit 1) without the
exception's message, which could quote personal data."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from pipeline import __version__
from pipeline.cli_base import Group
from pipeline.criteria_command import criteria
from pipeline.logs import setup_logging
from pipeline.sample_command import sample

log = logging.getLogger("hnf_match")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hnf-match")
@click.option("--debug", is_flag=True, help="Show full tracebacks on internal errors (may show data values).")
@click.pass_context
def main(ctx, debug):
    """Find high-need families: link agency extracts into persons and families and score them
    against Troubled Families / Supporting Families criteria.

    Exit codes: 0 success, 1 internal error, 2 usage or config error, 3 input data error,
    4 output folder locked by another run, 5 run interrupted.
    """
    ctx.meta["debug"] = debug


def _common_logging(f):
    f = click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                     help="Format of log lines (json: one object a line, for schedulers).")(f)
    f = click.option("--log-file", type=click.Path(dir_okay=False), help="Append log lines to this file.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Print only errors (and the final summary on a terminal).")(f)
    return f


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Run config (YAML): as_of, criteria, sources, output.")
@click.option("--as-of", help="Reference date YYYY-MM-DD for every time window (overrides the config).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder (overrides the config).")
@click.option("--layout", type=click.Choice(["families-as-rows", "families-as-columns"]), default=None,
              help="need_matrix.csv with one row per family (default) or needs down the side, families across.")
@click.option("--previous", "previous_dir", type=click.Path(file_okay=False, exists=True),
              help="Last quarter's output folder (full profile): carry its person and family IDs and "
                   "clerical decisions forward, and compare only new and changed records "
                   "(overrides `previous:` in the config).")
@click.option("--full", "full_link", is_flag=True,
              help="With --previous: compare every record again instead of only new and changed ones "
                   "(IDs and decisions are still carried forward).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default=None,
              help="Where the linkage stages run: here (local, the default) or on Apache Spark "
                   "(the config's `spark:` master and properties); overrides `engine:` in the config.")
@_common_logging
def run(config_path, as_of, out_dir, layout, previous_dir, full_link, engine, quiet, log_file, log_format):
    """Run the whole pipeline: ingest, validate, link, form families, score, write outputs."""
    from pipeline.config import load_config, parse_as_of
    from pipeline.display import Display
    from pipeline.run import run_pipeline

    display = Display(quiet=quiet)
    setup_logging(quiet=quiet, log_file=log_file, log_format=log_format, interactive=display.interactive)
    t0 = time.perf_counter()
    cfg = load_config(config_path, as_of=parse_as_of(as_of) if as_of else None, output=out_dir, engine=engine)
    log.info("run started: config %s, reference date %s, %d sources", cfg.path, cfg.as_of, len(cfg.sources))
    with display:
        result = run_pipeline(cfg, progress=display.stage, layout=layout,
                              previous=Path(previous_dir) if previous_dir else None, full=full_link)
    elapsed = time.perf_counter() - t0
    log.info("run finished in %.1fs: outputs in %s", elapsed, result.output)
    display.run_summary(result, elapsed)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Run config (YAML).")
@click.option("--as-of", help="Reference date YYYY-MM-DD (overrides the config).")
@_common_logging
def validate(config_path, as_of, quiet, log_file, log_format):
    """Ingest and validate only: print the reconciliation (read = accepted + rejected) and
    write the rejected and warning files beside the output folder (OUTPUT-validation/)."""
    from pipeline.config import load_config, parse_as_of
    from pipeline.display import Display
    from pipeline.run import check_rejected_shares, run_validation

    display = Display(quiet=quiet)
    setup_logging(quiet=quiet, log_file=log_file, log_format=log_format, interactive=display.interactive)
    cfg = load_config(config_path, as_of=parse_as_of(as_of) if as_of else None)
    with display:
        result = run_validation(cfg, progress=display.stage)
    display.validation_summary(result)
    check_rejected_shares(cfg, result.validated)


@main.command()
@click.argument("old_dir", type=click.Path(file_okay=False, exists=True))
@click.argument("new_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Where to write changes.csv (default: NEW_DIR/changes.csv).")
@_common_logging
def compare(old_dir, new_dir, out_file, quiet, log_file, log_format):
    """Compare two quarters' outputs: which families are new, continuing or have left, and
    which criteria each gained or lost. Run the newer quarter with --previous OLD_DIR so that
    family IDs carry over."""
    import os

    import pandas as pd

    from pipeline.display import Display
    from pipeline.outputs import add_to_inventory
    from pipeline.quarters import ELIGIBILITY, check_carried_forward, compare_quarters, read_as_of, read_need_matrix
    from reports.writers import write_csv

    display = Display(quiet=quiet)
    setup_logging(quiet=quiet, log_file=log_file, log_format=log_format, interactive=display.interactive)
    check_carried_forward(Path(old_dir), Path(new_dir))
    old = read_need_matrix(Path(old_dir))
    new = read_need_matrix(Path(new_dir))
    id_path = Path(new_dir) / "id_changes.csv"
    id_changes = pd.read_csv(id_path, dtype=str, keep_default_na=False) if id_path.exists() else None
    changes, movement, notes = compare_quarters(old, new, id_changes, old_as_of=read_as_of(Path(old_dir)))
    target = Path(out_file) if out_file else Path(new_dir) / "changes.csv"
    _check_changes_target(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        write_csv(changes, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    add_to_inventory(target.parent, target.name)   # an hnf-match output folder stays provably ours
    counts = changes["status"].value_counts()
    eligibility = changes["eligibility_status"].value_counts()
    display.table("Families between the two quarters", ["", "families"],
                   [["new", int(counts.get("new", 0))], ["continuing", int(counts.get("continuing", 0))],
                    ["  of which no record dated since last quarter",
                     int((changes["seen_since_last_quarter"].astype(str) == "0").sum())],
                    ["left", int(counts.get("left", 0))]]
                   + [[status.replace("_", " "), int(eligibility.get(status, 0))] for status in ELIGIBILITY])
    display.table("How each criterion moved", list(movement.columns), movement.values.tolist())
    for note in notes:
        click.echo(f"note: {note}")
    click.echo(f"Changes written to {target}")
    log.info("compare: %s new, %s continuing, %s left", counts.get("new", 0), counts.get("continuing", 0),
             counts.get("left", 0))


def _check_changes_target(target: Path) -> None:
    """`compare` replaces only a changes.csv it wrote before: never another file of the user's."""
    from pipeline.quarters import CHANGE_COLUMNS
    earlier = ["family_id", "status", "eligible_before", "eligible_now"]   # changes.csv before eligibility_status
    from schemas.errors import OutputInTheWay

    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OutputInTheWay(f"{target}: is not a plain file; name another file for changes.csv")
    if target.exists():
        try:
            with open(target, encoding="utf-8-sig") as fh:
                first = fh.readline(4096).rstrip("\r\n")
        except (OSError, UnicodeDecodeError):
            first = ""
        header = first.split(",")
        if header[:len(CHANGE_COLUMNS)] != CHANGE_COLUMNS and header[:len(earlier)] != earlier:
            raise OutputInTheWay(f"{target}: exists and is not a changes.csv that hnf-match wrote; "
                                 "hnf-match never replaces a file of yours. Name another file with --out")


# Commands that live with their stage's package.
main.add_command(sample)
main.add_command(criteria)


"""`hnf-match sample`: write a synthetic council's extracts, run config and ground truth."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write the date as YYYY-MM-DD") from None


def _made_by_sample(config: Path) -> bool:
    try:
        with open(config, encoding="utf-8") as fh:
            first = fh.readline(300)
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith("# Synthetic council extracts") and "made by `hnf-match sample" in first


def _check_sample_folder(out: Path) -> None:
    """The generator overwrites the files it writes: only in a missing or empty folder, or one it
    wrote before (its config.yaml says so), never over a council's own extracts or config."""
    from schemas.errors import OutputInTheWay

    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputInTheWay(f"{out}: is not a folder; name a folder for the sample data")
    if not out.exists() or not any(out.iterdir()):
        return
    if _made_by_sample(out / "config.yaml") or _made_by_sample(out / "q1" / "config.yaml"):
        return
    shown = sorted(p.name for p in out.iterdir())[:5]
    raise OutputInTheWay(f"{out}: holds {', '.join(shown)}{' ...' if len(list(out.iterdir())) > 5 else ''} and is not "
                         "an earlier sample (no config.yaml written by `hnf-match sample`); the generator would "
                         "overwrite files there. Name a new or empty folder with --out")


@click.command("sample")
@click.option("--families", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of households to generate (about 7 extract rows each).")
@click.option("--rows", type=click.IntRange(min=10), default=None,
              help="Approximate total extract rows (in each quarter with --quarters); overrides --families.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed: the same seed gives the same files.")
@click.option("--as-of", "as_of", callback=_date, default="2026-09-30", show_default=True,
              help="Reference date the data is generated around (YYYY-MM-DD).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="sample_data", show_default=True,
              help="Folder to write the extracts, config.yaml and truth files into.")
@click.option("--formats", type=click.Choice(["mixed", "csv", "parquet"]), default="mixed", show_default=True,
              help="mixed: each agency in its own format (xlsx, cp1252 CSV, Parquet ...); csv or parquet: one format for all.")
@click.option("--quarters", type=click.IntRange(min=1), default=1, show_default=True,
              help="Quarters of one evolving population: 1 writes one run folder; N writes q1 ... qN "
                   "(as of --as-of, then every --quarter-step-months) and the truth of every change.")
@click.option("--quarter-step-months", type=click.IntRange(min=1, max=12), default=3, show_default=True,
              help="Months between one quarter's as_of and the next.")
def sample(families, rows, seed, as_of, out_dir, formats, quarters, quarter_step_months):
    """Generate synthetic agency extracts with ground truth (no real data)."""
    _check_sample_folder(Path(out_dir))
    if quarters > 1:
        from synth.quarters import add_months, generate_quarters
        as_ofs = [add_months(as_of, k * quarter_step_months) for k in range(quarters)]
        summary = generate_quarters(out_dir, families=families, seed=seed, as_ofs=as_ofs, formats=formats, rows=rows)
        for i, q in enumerate(summary["quarters"], 1):
            click.echo(f"q{i} (as of {q['as_of']}): {q['rows']} rows for {q['persons']} people in {q['families']} "
                       f"families; {q['high_need_families']} high-need families.")
        changes = ", ".join(f"{k} {v}" for k, v in summary["changes"].items())
        click.echo(f"Wrote {quarters} quarters to {out_dir}; changes: {changes}; outcomes: "
                   f"{summary['outcomes']['sustained']} sustained, {summary['outcomes']['lapsed']} lapsed.")
        return
    from synth import generate
    summary = generate(out_dir, families=families, seed=seed, as_of=as_of, formats=formats, rows=rows)
    by_source = ", ".join(f"{k} {v}" for k, v in summary["rows_by_source"].items())
    click.echo(f"Wrote {summary['rows']} rows for {summary['persons']} people in {summary['families']} families "
               f"to {out_dir} ({by_source}); {summary['high_need_families']} high-need families.")

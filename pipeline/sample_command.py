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


# What `hnf-match sample` wrote in a folder, each file with its SHA-256 (`sha256sum -c` reads it),
# so that a later sample there replaces only files still as it wrote them.
WRITTEN = "sample_files.sha256"


def _check_sample_folder(out: Path) -> None:
    """The generator writes only in a missing or empty folder, or one it wrote before (its
    config.yaml says so), never over a council's own extracts or config."""
    from schemas.errors import OutputInTheWay

    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputInTheWay(f"{out}: is not a folder; name a folder for the sample data")
    if not out.exists() or not any(out.iterdir()):
        return
    if (out / WRITTEN).is_file() or _made_by_sample(out / "config.yaml") or _made_by_sample(out / "q1" / "config.yaml"):
        return
    shown = sorted(p.name for p in out.iterdir())[:5]
    raise OutputInTheWay(f"{out}: holds {', '.join(shown)}{' ...' if len(list(out.iterdir())) > 5 else ''} and is not "
                         "an earlier sample (no config.yaml written by `hnf-match sample`); the generator would "
                         "overwrite files there. Name a new or empty folder with --out")


def _written_before(out: Path) -> dict[str, str] | None:
    """{relative path: SHA-256} of what an earlier sample wrote here; None for a folder that
    has no list (new, or a sample made before the list was kept)."""
    try:
        text = (out / WRITTEN).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    listed = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            listed[name] = digest
    return listed


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _generate_into(out: Path, make):
    """make(folder) writes a sample into a new folder; its files then replace their namesakes in
    `out` only where each namesake is as an earlier sample wrote it (the list says so). A file
    of the same name that was changed since, or that no sample wrote, stops the command before
    any file is replaced, naming it. Files of other names are left alone."""
    import os
    import shutil
    import tempfile

    from reports.manifest import sha256_of
    from schemas.errors import OutputInTheWay

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".hnf-sample-", dir=out))
    try:
        summary = make(work)
        new = _files(work)
        before = _written_before(out)
        for name in new:
            target = out / name
            if not (target.exists() or target.is_symlink()):
                continue
            if before is None:
                continue        # a sample made before the list was kept: its files are replaced
            if target.is_symlink() or name not in before:
                raise OutputInTheWay(f"{target}: was not written by `hnf-match sample`, and the new sample would "
                                     "replace it; nothing was changed. Move it, or name another folder with --out")
            if sha256_of(target) != before[name]:
                raise OutputInTheWay(f"{target}: was changed after `hnf-match sample` wrote it, and the new sample "
                                     "would replace it; nothing was changed. Move it, or name another folder with --out")
        kept = {name: digest for name, digest in (before or {}).items()
                if name not in new and (out / name).is_file() and sha256_of(out / name) == digest}
        listed = {**kept, **{name: sha256_of(work / name) for name in new}}
        for name in new:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / name, out / name)
        (work / WRITTEN).write_text("".join(f"{listed[name]}  {name}\n" for name in sorted(listed)),
                                    encoding="utf-8")
        os.replace(work / WRITTEN, out / WRITTEN)
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()


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
        summary = _generate_into(Path(out_dir), lambda folder: generate_quarters(
            folder, families=families, seed=seed, as_ofs=as_ofs, formats=formats, rows=rows))
        for i, q in enumerate(summary["quarters"], 1):
            click.echo(f"q{i} (as of {q['as_of']}): {q['rows']} rows for {q['persons']} people in {q['families']} "
                       f"families; {q['high_need_families']} high-need families.")
        changes = ", ".join(f"{k} {v}" for k, v in summary["changes"].items())
        click.echo(f"Wrote {quarters} quarters to {out_dir}; changes: {changes}; outcomes: "
                   f"{summary['outcomes']['sustained']} sustained, {summary['outcomes']['lapsed']} lapsed.")
        return
    from synth import generate
    summary = _generate_into(Path(out_dir), lambda folder: generate(
        folder, families=families, seed=seed, as_of=as_of, formats=formats, rows=rows))
    by_source = ", ".join(f"{k} {v}" for k, v in summary["rows_by_source"].items())
    click.echo(f"Wrote {summary['rows']} rows for {summary['persons']} people in {summary['families']} families "
               f"to {out_dir} ({by_source}); {summary['high_need_families']} high-need families.")

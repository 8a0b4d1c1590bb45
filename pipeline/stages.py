"""Ingest and validate every source of a run, and stack the accepted person records for linkage."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from matching.workers import each_slice
from pipeline.config import RunConfig, load_config
from pipeline.ingest import column_positions, read_extract, where_rows
from schemas.columns import DATE_RECORD_COLUMNS, RECORD_COLUMNS as COLUMNS
from schemas.errors import InputDataError
from schemas.fields import AGENCY_KINDS
from schemas.validate import Validated, validate_extract

RECORD_COLUMNS = list(COLUMNS)


def ingest_and_validate(cfg: RunConfig, progress=None) -> dict[str, Validated]:
    """Read and validate every source named in the config, in config order: the sources shared
    among `cfg.workers` processes (each source read and checked on its own, so the result is
    the same for any number of them)."""
    names = list(cfg.sources)

    def validate_some(start: int, stop: int) -> list[Validated]:
        return [_ingest_one(cfg, name) for name in names[start:stop]]

    out: dict[str, Validated] = {}
    workers = min(getattr(cfg, "workers", 1) or 1, len(names))
    for (start, stop), part in each_slice(validate_some, len(names), workers, smallest=1):
        for name, v in zip(names[start:stop], part):
            if progress:
                progress(f"validate {name}")
            out[name] = v
    return out


def _ingest_one(cfg: RunConfig, name: str) -> Validated:
    src = cfg.sources[name]
    raw = read_extract(src)
    label = None
    if raw.parts:
        def label(row: int) -> str:
            part, at = where_rows(raw.parts, [row])
            return f"{part[0]}: row {at[0]}"
    v = validate_extract(raw.frame, src.kind, cfg.as_of, source=name, path=str(src.path),
                         date_format=src.date_format, shape_rejects=raw.shape_rejects, row_label=label)
    if raw.rows_read != v.rows_read or v.rows_read != len(v.accepted) + len(v.rejected):
        raise InputDataError(f"{src.path}: {raw.rows_read} records read, but validation accounts for "
                             f"{len(v.accepted)} accepted + {len(v.rejected)} rejected of {v.rows_read}; "
                             f"the file cannot be reconciled (read = accepted + rejected)")
    if raw.parts:
        # row_number counts through the whole source; `file` and `file_row` find the row in its part.
        for table in (v.rejected, v.warnings):
            part, at = where_rows(raw.parts, table["row_number"])
            table.insert(1, "file", pd.array(part, dtype="string"))
            table.insert(2, "file_row", pd.array(at, dtype="int64"))
        v.notes.append(f"read from {len(raw.parts)} Parquet parts")
    v.notes.extend(raw.notes)
    if raw.unused_columns:
        # By position: a heading can be a data value (a file without its header line).
        unused = raw.unused_columns
        v.notes.append(f"columns not used: {len(unused)} "
                       f"(position{'s' if len(unused) > 1 else ''} {column_positions(unused)})")
    return v


def _term_start(academic_year: pd.Series, term: pd.Series) -> pd.Series:
    """The first day of each row's school term (DfE census: summer starts on Easter Monday)."""
    from criteria.terms import term_of

    # Few distinct (year, term) pairs: place each once, then spread to the rows.
    cy, uy = pd.factorize(academic_year.astype(object))
    ct, ut = pd.factorize(term.astype(object))
    if (cy < 0).any() or (ct < 0).any():   # missing values: look each row up as it is
        keys = pd.DataFrame({"y": academic_year, "t": term})
        starts = {}
        for y, t in keys.drop_duplicates().itertuples(index=False):
            found = term_of(y, t)
            starts[(y, t)] = pd.Timestamp(found.start) if found else pd.NaT
        return pd.to_datetime(pd.Series([starts[k] for k in zip(academic_year, term)], index=term.index))
    width = max(len(ut), 1)
    combos, at = np.unique(cy.astype(np.int64) * width + ct, return_inverse=True)
    found = [term_of(uy[c // width], ut[c % width]) for c in combos]
    starts = pd.to_datetime(pd.Series([pd.Timestamp(f.start) if f else pd.NaT for f in found], dtype=object))
    return pd.Series(starts.to_numpy()[at.reshape(-1)], index=term.index)


def stack_person_records(validated: dict[str, Validated], as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per accepted record of every source: person fields, household hints, the
    record's own date and, for a benefit claim, the last day its address is held (the claim's
    end, or `as_of` while it is open: a claim holds the claimant's current address, not the one
    it started at)."""
    frames = []
    for name, v in validated.items():
        a = v.accepted
        kind = AGENCY_KINDS[v.kind]
        f = pd.DataFrame(index=a.index)
        f["source"] = name
        for col in RECORD_COLUMNS[1:]:
            if col in a.columns:
                f[col] = a[col]
        if kind.date_field:
            f["seen_date"] = a[kind.date_field]
        elif v.kind == "schools":
            f["seen_date"] = _term_start(a["academic_year"].fillna(""), a["term"].fillna(""))
        if v.kind == "benefits" and as_of is not None:
            ref = pd.Timestamp(as_of)
            end = pd.to_datetime(a["claim_end"]) if "claim_end" in a else pd.Series(pd.NaT, index=a.index)
            f["held_until"] = end.fillna(ref).clip(upper=ref)
        frames.append(f)
    if not frames:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    records = pd.concat(frames, ignore_index=True)
    for col in RECORD_COLUMNS:
        if col not in records.columns:
            records[col] = pd.NaT if col in DATE_RECORD_COLUMNS else None
    records = records[RECORD_COLUMNS]
    for col in DATE_RECORD_COLUMNS:
        records[col] = pd.to_datetime(records[col])
    records["dob_keyed"] = records["dob_keyed"].astype("Int64")
    records["row_number"] = records["row_number"].astype("int64")
    return records


@contextmanager
def linkage_engine(cfg: RunConfig):
    """Where the linkage stages run: None (here) for `engine: local`, else a SparkEngine on the
    active Spark session or on one made from `spark:` (stopped again after, if made here)."""
    if cfg.engine != "spark":
        yield None
        return
    from matching.spark import SparkEngine, spark_session

    session, created = spark_session(cfg.spark.master, cfg.spark.conf)
    try:
        yield SparkEngine(session)
    finally:
        if created:
            session.stop()


def load_records(config: str | Path | RunConfig, as_of: dt.date | None = None):
    """Config -> (RunConfig, validated sources, stacked records). For evaluation and tests."""
    cfg = config if isinstance(config, RunConfig) else load_config(config, as_of=as_of)
    validated = ingest_and_validate(cfg)
    return cfg, validated, stack_person_records(validated, cfg.as_of)

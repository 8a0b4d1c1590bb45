"""The record of one run: what each stage gave, in the order the run filled it, with the
thresholds, counts and stage times. The pipeline makes it once the stages are done; every
writer (CSVs, report.html, manifest.json, the summary on screen) reads it and nothing else.

It lives here, not in pipeline/, so that the writers can name its type without importing the
floor above them; the run config is read through `RunConfigLike` for the same reason.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

import pandas as pd

from criteria.demand import DemandResult
from criteria.engine import CriteriaResult
from criteria.language import CriteriaSet
from criteria.outcomes import OutcomeResult
from matching.linkage import LinkageResult
from matching.settings import LinkageSettings
from reports.changes import QuarterChanges
from schemas.validate import Validated


class RunConfigLike(Protocol):
    """What the writers read of `pipeline.config.RunConfig`."""
    path: Path
    as_of: dt.date
    criteria: str                       # a built-in set's name or the path of a council's file
    sources: Mapping[str, Any]          # source name -> its config: kind (agency), path
    outputs: Any                        # profile, pseudonymise_key, file_mode, csv_bom
    raw: dict[str, Any]                 # the config as written, for the manifest


@dataclass(frozen=True)
class StageTimes:
    """Seconds and peak memory (MB) of every stage finished, in the order they ran."""
    seconds: dict[str, float]
    peak_memory_mb: dict[str, float]


@dataclass(frozen=True)
class Thresholds:
    """The limits the run applied. The link and review thresholds are weights (log2 odds); a
    probability is kept only where it is the threshold in force (a weight given wins over it)."""
    match_weight: float
    review_weight: float
    match_probability: float | None
    review_probability: float | None
    recorded: dict[str, Any]            # every limit, as manifest.json records them

    @classmethod
    def of(cls, settings: LinkageSettings, **limits: Any) -> "Thresholds":
        """From the linkage settings, with the run's other limits (rejected and warning shares)."""
        weights = {"match": float(settings.match_weight), "review": float(settings.review_weight)}
        probability = {}
        for kind, weight in weights.items():
            p = settings.thresholds.get(f"{kind}_probability")
            in_force = isinstance(p, (int, float)) and 0 < p < 1 and abs(math.log2(p / (1 - p)) - weight) < 1e-6
            probability[kind] = float(p) if in_force else None
        recorded = {**settings.thresholds, "match_weight": settings.match_weight,
                    "review_weight": settings.review_weight, **limits}
        return cls(match_weight=weights["match"], review_weight=weights["review"],
                   match_probability=probability["match"], review_probability=probability["review"],
                   recorded=recorded)


@dataclass(frozen=True)
class RunRecord:
    """One run, stage by stage."""
    config: RunConfigLike
    started: dt.datetime                 # UTC
    layout: str                          # need_matrix.csv: families-as-rows or families-as-columns
    validated: dict[str, Validated]      # ingest and validate: per source, accepted, rejected, warnings
    records: pd.DataFrame                # every accepted person record, stacked: the input to linkage
    criteria_set: CriteriaSet
    linkage: LinkageResult               # persons and families, under the IDs carried from --previous
    decisions: pd.DataFrame | None       # the clerical decisions in force (linked with, and kept)
    id_changes: pd.DataFrame | None      # how IDs changed since --previous (None without one)
    quality_by_group: pd.DataFrame | None   # linkage quality by group (None: not measured)
    scored: CriteriaResult               # need matrix (with each family's last record date), evidence
    baselines: pd.DataFrame              # outcome baselines to carry to the next quarter
    outcomes: OutcomeResult | None       # None: the criteria set has no outcome rules
    thresholds: Thresholds
    counts: dict[str, Any]               # as manifest.json records them
    times: StageTimes
    output: Path | None = None           # the output folder, once the outputs are in place
    # Service demand per family and member, its estimated cost and the agencies involved (the
    # criteria stage counts it; None only for a record built without it, as in report tests).
    demand: DemandResult | None = None
    changes: QuarterChanges | None = None   # against --previous (None without one): changes.csv
    previous_record_links_sha256: str | None = None   # of --previous's record_links.csv, for `compare`
    area_lookup: pd.DataFrame | None = None   # postcode (compact), area_code, area_name: report.area_lookup

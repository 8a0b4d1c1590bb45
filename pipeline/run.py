"""Orchestration of a whole run: ingest, validate, link, score, write.

Reading and writing happen here and in reports/; the stages in between are functions from
frames to frames. Nothing personal is logged: only counts, sources and row numbers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from matching.memory import Stretch, release_free_memory
from pipeline import stopping
from pipeline.config import RunConfig
from pipeline.outputs import OutputFolder, check_output_path
from pipeline.source_parts import outside_part_folders
from pipeline.stages import ingest_and_validate, linkage_engine, load_records, stack_person_records  # noqa: F401  (load_records: for evaluation and tests)
from reports.manifest import manifest, reconciliation, write_validation_files
from reports.record import RunRecord, StageTimes, Thresholds
from reports.writers import dir_mode as _dir_mode, write_csv, write_json
from schemas.errors import ConfigError, InputDataError
from schemas.validate import Validated

if TYPE_CHECKING:   # type names only: run_pipeline imports the stages where it runs them
    from criteria.engine import CriteriaResult
    from criteria.outcomes import OutcomeResult
    from matching.linkage import LinkageResult
    from matching.settings import LinkageSettings

log = logging.getLogger("hnf_match")


@dataclass(frozen=True)
class ValidationRun:
    """What `hnf-match validate` did: each source validated, and where the files went."""
    validated: dict[str, Validated]
    times: StageTimes
    output: Path


class _Clock:
    """Times each stage and its peak memory, tells the progress display, and ends the run at
    the next stage after a stop signal a library swallowed."""

    def __init__(self, progress):
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.memory_mb: dict[str, float] = {}

    def times(self) -> StageTimes:
        """The stages finished so far (a copy: later stages do not change it)."""
        return StageTimes(seconds=dict(self.seconds), peak_memory_mb=dict(self.memory_mb))

    def stage(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self_inner):
                stopping.check()    # a stop signal a library swallowed ends the run here
                self_inner.t0 = time.perf_counter()
                self_inner.memory = Stretch()   # each stage reports its own peak, not the run's so far
                log.info("stage %s: started", name)
                if clock.progress:
                    clock.progress(name)

            def __exit__(self_inner, *exc):
                secs = time.perf_counter() - self_inner.t0
                clock.seconds[name] = round(secs, 3)
                peak = self_inner.memory.stop()
                clock.memory_mb[name] = peak
                release_free_memory()
                if exc[0] is None:
                    log.info("stage %s: done in %.1fs (peak memory %.0f MB)", name, secs, peak)
                return False
        return _Stage()


def check_rejected_shares(cfg: RunConfig, validated: dict[str, Validated]) -> None:
    """Stop (exit 3) when a source has no data rows, or more of its rows rejected, or kept with
    a value blanked as a warning, than its limit: both mean the extract or its config is wrong
    (a warning share that high is usually dates read the wrong way round), not the odd typo."""
    rejected, warned = [], []
    for name, v in validated.items():
        if v.rows_read == 0:
            raise InputDataError(f"{v.path}: no data rows (the file has a header only)")
        limit = cfg.rejected_limit(name)
        if v.rejected_share > limit:
            rejected.append(f"{name}: {v.rejected_share:.1%} of {v.rows_read} rows rejected, over the limit of {limit:.1%}")
        limit = cfg.warning_limit(name)
        if v.warning_share > limit:
            top = v.warnings_by_column().head(3)
            columns = ", ".join(f"{column} {n}" for column, n in top.items())
            warned.append(f"{name}: {v.warning_share:.1%} of {v.rows_read} rows had a value blanked as a warning, "
                          f"over the limit of {limit:.1%} (rows warned, by column: {columns})")
    problems = []
    if rejected:
        problems.append("too many rejected rows; " + "; ".join(rejected)
                        + ". See the rejected files; raise max_rejected_share in the config only if the data is known to be right.")
    if warned:
        problems.append("too many rows with values blanked; " + "; ".join(warned)
                        + f". See the warning files in {validation_folder(cfg) / 'warnings'}; set the source's "
                        "date_format if its dates are read the wrong way round, and raise max_warning_share in the "
                        "config only if the data is known to be right.")
    if problems:
        raise InputDataError(" ".join(problems))


def validation_folder(cfg: RunConfig) -> Path:
    """Where `validate` (and a run stopped by bad data) writes rejected rows: beside the output
    folder, so a failed run never touches the last good outputs."""
    return cfg.output.parent / f"{cfg.output.name}-validation"


def protected_inputs(cfg: RunConfig, previous: Path | None = None) -> dict[str, list[Path]]:
    """Everything a run reads: no output folder it replaces may be or hold any of it."""
    from pipeline.logs import LOG_FILES
    criteria = Path(cfg.criteria)
    return {
        "the run config": [cfg.path],
        "an agency extract": [f for src in cfg.sources.values() for f in src.files],
        "the pseudonymisation key": [cfg.outputs.pseudonymise_key],
        "the previous quarter's output (--previous)": [previous or cfg.previous],
        "the review decisions file": [cfg.review_decisions],
        "the case starts (baselines) file": [cfg.baselines],
        "the area lookup": [cfg.report.area_lookup],
        "the criteria file": [criteria, criteria.with_suffix(".outcomes.yaml")] if criteria.is_file() else [],
        "the unit-cost table": [Path(cfg.demand.costs)] if Path(cfg.demand.costs).is_file() else [],
        "the log file": [Path(p) for p in LOG_FILES],
    }


def check_output_paths(cfg: RunConfig, previous: Path | None = None, *, run: bool = True) -> None:
    """Before any work: the output folder (for a run) and the validation folder beside it must
    be missing, empty or earlier hnf-match outputs, and hold none of the run's inputs."""
    protected = protected_inputs(cfg, previous)
    if run:
        check_output_path(cfg.output, protected, hashes=False)   # contents are hashed once the lock is held
    check_output_path(validation_folder(cfg), protected, hashes=False)
    outside_part_folders(cfg.sources.values(), ([cfg.output] if run else []) + [validation_folder(cfg)])


def run_validation(cfg: RunConfig, progress=None) -> ValidationRun:
    """Ingest and validate only; write the rejected and warning files. Raises on bad data."""
    check_output_paths(cfg, run=False)
    clock = _Clock(progress)
    with clock.stage("ingest and validate"):
        validated = ingest_and_validate(cfg)
    folder = validation_folder(cfg)
    mode = cfg.outputs.file_mode
    with OutputFolder(folder, dir_mode=_dir_mode(mode), protected=protected_inputs(cfg)) as tmp:
        write_validation_files(validated, tmp, mode, cfg.outputs.csv_bom)
        write_csv(reconciliation(validated), tmp / "reconciliation.csv", mode=mode)
    return ValidationRun(validated=validated, times=clock.times(), output=folder)


def _write_stopped_run(cfg: RunConfig, validated: dict[str, Validated], times: StageTimes, started: dt.datetime,
                       exc: InputDataError, protected: dict) -> None:
    """A run stopped by too many rejected or warned rows: the rejected and warning files, the
    reconciliation and the manifest go beside the output folder, which is left as it was."""
    folder = validation_folder(cfg)
    mode = cfg.outputs.file_mode
    sources = reconciliation(validated)
    with OutputFolder(folder, dir_mode=_dir_mode(mode), protected=protected) as vtmp:
        write_validation_files(validated, vtmp, mode, cfg.outputs.csv_bom)
        write_csv(sources, vtmp / "reconciliation.csv", mode=mode)
        write_json(manifest(cfg, validated, {"sources": sources.to_dict("records")}, times,
                            criteria_hash=None, thresholds={}, started=started,
                            status=f"failed (exit {exc.exit_code}): too many rejected or warned rows"),
                   vtmp / "manifest.json", mode=mode)
    log.info("rejected rows written to %s", folder)


def _read_text_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # an unreadable side file stops the run with its name
        raise InputDataError(f"{path}: cannot read {what} ({type(exc).__name__})") from None


def with_last_record_date(matrix: pd.DataFrame, records: pd.DataFrame, record_links: pd.DataFrame) -> pd.DataFrame:
    """Add the date of each family's latest record (any agency): a family no agency has seen
    since last quarter has probably moved away, even while old records keep it in the matrix."""
    dated = records[["source", "record_id", "seen_date"]].merge(
        record_links[["source", "record_id", "family_id"]], on=["source", "record_id"], how="inner")
    latest = dated.groupby("family_id")["seen_date"].max()
    out = matrix.copy()
    out["last_record_date"] = pd.to_datetime(out["family_id"].map(latest))
    return out


def run_thresholds(cfg: RunConfig, settings: LinkageSettings) -> Thresholds:
    """The link and review thresholds, and the rejected and warning shares per source."""
    return Thresholds.of(settings,
                         max_rejected_share=cfg.max_rejected_share,
                         max_rejected_share_by_source={n: cfg.rejected_limit(n) for n in cfg.sources},
                         max_warning_share=cfg.max_warning_share,
                         max_warning_share_by_source={n: cfg.warning_limit(n) for n in cfg.sources})


def run_counts(validated: dict[str, Validated], records: pd.DataFrame, linkage: LinkageResult,
               scored: CriteriaResult, *, previous: Path | None, tracked: pd.DataFrame,
               outcomes: OutcomeResult | None, id_changes: pd.DataFrame | None) -> dict:
    """Counts at every stage, as manifest.json records them (no personal data)."""
    return {
        "sources": reconciliation(validated).to_dict("records"),
        "records": int(len(records)),
        "persons": int(linkage.members["person_id"].nunique()),
        "families": int(linkage.members["family_id"].nunique()),
        "review_pairs": int(len(linkage.review_pairs)),
        "eligible_families": int(scored.need_matrix["eligible"].fillna(0).astype(int).sum()),
        "linkage": linkage.stats,
        "criteria": [{k: (None if pd.isna(v) else v) for k, v in row.items()}
                     for row in scored.summary.to_dict("records")],
        "criteria_no_data": list(scored.no_data),
        "previous": str(previous) if previous else None,
        "families_tracked_for_outcomes": int(len(tracked)),
        "outcome_claims": int(len(outcomes.claims)) if outcomes is not None else None,
        "id_changes": (id_changes.groupby(["id_type", "kind"]).size().rename("n").reset_index()
                       .to_dict("records") if id_changes is not None else None),
    }


def run_pipeline(cfg: RunConfig, progress=None, layout: str | None = None, previous: Path | None = None,
                 full: bool = False) -> RunRecord:
    """The whole run. Outputs land in cfg.output atomically, or not at all. With a previous
    output folder, IDs and decisions are carried forward and, unless `full`, only new and
    changed records are blocked and compared (the result is the same either way). Returns the
    run's record, as the writers read it."""
    from criteria import load_criteria
    from criteria.demand import DemandSettings, count_demand, load_costs
    from criteria.engine import score_families
    from criteria.outcomes import load_outcomes, next_baselines, parse_case_starts, track_outcomes
    from criteria.what_if import rank_review_queue
    from matching.linkage import link_records
    from matching.quality import quality_by_group
    from matching.settings import LinkageSettings
    from pipeline.areas import read_area_lookup
    from pipeline.quarters import carry_forward, compare_quarters, decisions_in_force, read_decisions, read_previous
    from reports.outputs import write_run_outputs

    previous_dir = previous or cfg.previous
    check_output_paths(cfg, previous_dir)
    started = dt.datetime.now(dt.timezone.utc)
    clock = _Clock(progress)
    # Check what can be checked before any work: the criteria set and the linkage settings.
    criteria_set = load_criteria(cfg.criteria, settings=cfg.criteria_settings or None)
    if cfg.report.headline_labels:
        try:
            criteria_set = criteria_set.relabelled(cfg.report.headline_labels)
        except KeyError as e:
            raise ConfigError(f"{cfg.path}: report.headline_labels: {e.args[0]!r} is not a criterion of "
                              f"{criteria_set.name} (its criteria: {', '.join(criteria_set.criteria)})") from None
    settings = LinkageSettings.from_dict(cfg.linkage)
    costs = load_costs(cfg.demand.costs, cfg.demand.price_year)
    demand_settings = DemandSettings(window_months=cfg.demand.window_months, costs=cfg.demand.costs,
                                     price_year=cfg.demand.price_year)
    # Last quarter is read once, here: IDs, decisions, baselines and the linkage state.
    prev = read_previous(previous_dir, settings, full=full) if previous_dir else None
    # This quarter's decisions file is checked now; its records are looked up once the
    # extracts are read.
    decisions_file = read_decisions(cfg.review_decisions)
    outcome_set = load_outcomes(cfg.criteria, settings=cfg.outcome_settings or None, criteria_set=criteria_set)
    area_lookup = read_area_lookup(cfg.report.area_lookup)
    case_starts = None
    if cfg.baselines is not None:
        case_starts = parse_case_starts(_read_text_csv(cfg.baselines, "the case starts (baselines) file"),
                                        origin=str(cfg.baselines))

    # The lock is taken first, so a second run on the same folder is refused at once; all
    # outputs go to a temporary folder that replaces the output folder only when complete.
    protected = protected_inputs(cfg, previous_dir)
    with OutputFolder(cfg.output, dir_mode=_dir_mode(cfg.outputs.file_mode), protected=protected) as tmp:
        with clock.stage("ingest and validate"):
            validated = ingest_and_validate(cfg)
        try:
            check_rejected_shares(cfg, validated)
        except InputDataError as exc:
            _write_stopped_run(cfg, validated, clock.times(), started, exc, protected)
            raise
        with clock.stage("stack records"):
            records = stack_person_records(validated, cfg.as_of)
            decisions = decisions_in_force(prev, decisions_file, records)
        with clock.stage("link"):
            why = prev.full_because if prev is not None else "no previous run given"
            if prev is not None and prev.state is not None:
                log.info("linking incrementally: comparing only records new or changed since %s", prev.folder)
            else:
                log.info("linking in full: %s", why)
            with linkage_engine(cfg) as engine:
                linkage = link_records(records, settings, cfg.as_of, decisions=decisions,
                                       progress=(lambda step: progress(f"link: {step}")) if progress else None,
                                       earlier=prev.state if prev is not None else None, workers=cfg.workers,
                                       engine=engine)
            if prev is not None:
                prev = dataclasses.replace(prev, state=None)    # consumed by linking: let it go
            if linkage.stats["mode"] == "full":
                linkage = dataclasses.replace(linkage, stats={**linkage.stats, "full_because": why})
        if prev is None:
            carried = carry_forward(None, linkage.record_links, linkage.members, linkage.review_pairs)
        else:
            with clock.stage("carry IDs forward"):
                carried = carry_forward(prev, linkage.record_links, linkage.members, linkage.review_pairs)
        # From here on the persons and families go by the IDs carried from last quarter.
        linkage = dataclasses.replace(linkage, record_links=carried.record_links, members=carried.members,
                                      review_pairs=carried.review_pairs)
        with clock.stage("linkage quality by group"):
            quality = quality_by_group(records, linkage, min_group=cfg.report.min_group_size)
        with clock.stage("criteria"):
            extracts = {name: v.accepted for name, v in validated.items()}
            kinds = {name: v.kind for name, v in validated.items()}
            demand = count_demand(extracts, kinds, linkage.record_links, linkage.members, cfg.as_of,
                                  demand_settings, costs)
            scored = score_families(extracts, kinds, linkage.record_links, linkage.members, criteria_set, cfg.as_of,
                                    demand=demand.agencies.merge(demand.family_demand[["family_id", "estimated_cost"]],
                                                                 on="family_id", how="left"),
                                    workers=cfg.workers)
        scored = dataclasses.replace(
            scored, need_matrix=with_last_record_date(scored.need_matrix, records, linkage.record_links))
        with clock.stage("review queue: what a match would change"):
            linkage = dataclasses.replace(linkage, review_pairs=rank_review_queue(
                linkage.review_pairs, extracts, kinds, linkage.record_links, linkage.members,
                scored.need_matrix, criteria_set, cfg.as_of))
        # Outcomes are tracked from each family's baseline: the quarter it was first eligible
        # (carried from --previous) or the council's case start.
        tracked = next_baselines(scored.need_matrix.iloc[0:0], carried.baselines, cfg.as_of, case_starts)
        baselines = next_baselines(scored.need_matrix, carried.baselines, cfg.as_of, case_starts)
        outcomes = None
        if outcome_set is not None:
            with clock.stage("outcomes"):
                outcomes = track_outcomes(extracts, kinds, linkage.record_links, linkage.members,
                                          criteria_set, outcome_set, cfg.as_of, tracked)
        changes = None
        if prev is not None and prev.need_matrix is not None:
            changes = compare_quarters(prev.need_matrix, scored.need_matrix, carried.id_changes, old_as_of=prev.as_of)
        record = RunRecord(
            config=cfg, started=started, layout=layout or cfg.outputs.layout, validated=validated,
            records=records, criteria_set=criteria_set, linkage=linkage, decisions=decisions,
            id_changes=carried.id_changes, quality_by_group=quality, scored=scored, baselines=baselines,
            outcomes=outcomes, demand=demand, thresholds=run_thresholds(cfg, settings),
            counts=run_counts(validated, records, linkage, scored, previous=previous_dir, tracked=tracked,
                              outcomes=outcomes, id_changes=carried.id_changes),
            times=clock.times(), changes=changes, area_lookup=area_lookup,
            previous_record_links_sha256=prev.record_links_sha256 if prev is not None else None)
        with clock.stage("write outputs"):
            write_run_outputs(tmp, record)
    return dataclasses.replace(record, times=clock.times(), output=cfg.output)

"""Write a run's outputs into its (temporary) output folder: the CSVs, rejected and warning
files, the report and the manifest. The output profile decides what personal data goes in."""
from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pandas as pd

from schemas.columns import DECISION_COLUMNS
from reports.families import family_profiles
from reports.manifest import manifest, reconciliation, write_validation_files
from reports.record import RunRecord
from matching.explain import explain_links
from matching.memory import release_free_memory
from matching.families import review_placements
from reports.workbook import MAX_COLUMNS, write_workbook
from reports.writers import as_text, dir_mode, write_csv, write_json, write_text

# What the shareable profile leaves out: names, dates of birth, addresses and identifiers.
PERSONAL_COLUMNS = {"forename", "surname", "dob", "address", "own_address", "postcode", "uprn", "nhs_number",
                    "ni_number", "upn", "ethnicity", "lead_adult"}
ID_COLUMNS = ("person_id", "family_id")
log = logging.getLogger("hnf_match")
MIN_KEY_BYTES = 32


def read_key(path: Path, permissions: str = "warn") -> bytes:
    """The pseudonymisation key: a regular file (looked at before it is opened: a pipe would
    hang the run, a device never end) of at most 4 KiB holding at least 32 bytes. A key the
    group or others may read or write is warned about, or refused with permissions="refuse"
    (`outputs: {key_permissions: refuse}`). The rules live on the ground floor, so that the run
    config checks the key when it is loaded, before any work."""
    from schemas.yaml_loading import read_key_file
    return read_key_file(path, permissions=permissions)


def pseudonym(key: bytes, value: str, prefix: str) -> str:
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:20]}"


def pseudonymise(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Replace person_id and family_id (and the review queue's person_id_l and person_id_r) by
    keyed HMAC-SHA256 pseudonyms: the same key gives the same pseudonym every quarter; without
    the key they cannot be reversed or recomputed."""
    out = frame.copy()
    for col in out.columns:
        if col in ID_COLUMNS or col.removesuffix("_l").removesuffix("_r") in ID_COLUMNS:
            prefix = col[0].upper() + "-"
            uniq = out[col].dropna().unique()
            table = {v: pseudonym(key, str(v), prefix) for v in uniq}
            out[col] = out[col].map(table)
    return out


def shareable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c in PERSONAL_COLUMNS or c.endswith(("_l", "_r"))
                               and c.rsplit("_", 1)[0] in PERSONAL_COLUMNS])


def criteria_sha256(name_or_path: str) -> str | None:
    """SHA-256 of the criteria set's YAML as used (built-in or the council's own file)."""
    from criteria.language import SETS_DIR
    path = Path(name_or_path)
    if not path.is_file():
        path = SETS_DIR / f"{name_or_path}.yaml"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def write_run_outputs(folder: Path, record: RunRecord) -> None:
    """Every output of a run into `folder` (the run's temporary output folder), from its record."""
    from criteria.matrix import transpose
    from reports.html import render_report

    cfg = record.config
    opts = cfg.outputs
    mode, bom = opts.file_mode, opts.csv_bom
    key = read_key(opts.pseudonymise_key) if opts.pseudonymise_key else None

    def profiled(frame: pd.DataFrame) -> pd.DataFrame:
        if opts.profile == "shareable":
            frame = shareable(frame)
        if key is not None:
            frame = pseudonymise(frame, key)
        return frame

    def out(frame: pd.DataFrame, name: str) -> None:
        write_csv(profiled(frame), folder / name, bom=bom, mode=mode)
        # The text of a long file is many small strings, which the allocator keeps for reuse
        # unless asked: the next file then starts from what the run really holds.
        release_free_memory()

    matrix = record.scored.need_matrix
    if record.layout == "families-as-columns":
        # Pseudonymised before it is turned (the family IDs become the headings), and as text
        # first, so that each family's column holds ISO dates and whole numbers.
        for name, part in columns_layout_parts(transpose(as_text(profiled(matrix)))):
            write_csv(part, folder / name, bom=bom, mode=mode)
    else:
        out(matrix, "need_matrix.csv")
    out(record.scored.evidence, "evidence.csv")
    families = family_profiles(matrix, record.linkage.members,
                               [c for c in record.criteria_set.criteria if c in matrix.columns])
    out(families, "families.csv")
    out(record.linkage.record_links, "record_links.csv")
    out(record.linkage.members, "members.csv")
    out(explain_links(record.linkage.pairs, record.linkage.record_links, record.linkage.members),
        "link_explanations.csv")
    if opts.profile == "full":
        # Clerical review needs the names side by side; the shareable profile has no use for it.
        out(record.linkage.review_pairs, "review_pairs.csv")
        _write_review_page(folder, record, key)
        out(review_placements(record.linkage.members), "review_families.csv")
        write_validation_files(record.validated, folder, mode, bom)
    write_csv(reconciliation(record.validated), folder / "reconciliation.csv", bom=bom, mode=mode)
    _write_carry_forward(folder, record, out, with_state=key is None)
    if record.outcomes is not None:
        out(record.outcomes.outcomes, "outcomes.csv")
        out(record.outcomes.claims, "claims.csv")
        out(record.outcomes.evidence, "claims_evidence.csv")
    if record.id_changes is not None:
        out(record.id_changes, "id_changes.csv")
    if record.changes is not None:
        out(record.changes.changes, "changes.csv")
    if record.quality_by_group is not None:
        write_csv(record.quality_by_group, folder / "linkage_quality_by_group.csv", bom=bom, mode=mode)
    if record.demand is not None:
        out(record.demand.family_demand, "family_demand.csv")
        out(record.demand.member_demand, "member_demand.csv")
    if opts.workbook:
        sheets = [("Families", profiled(families)), ("Need matrix", profiled(matrix)),
                  ("Evidence", profiled(record.scored.evidence)), ("Members", profiled(record.linkage.members))]
        if record.changes is not None:
            sheets.append(("Changes since last quarter", profiled(record.changes.changes)))
        write_workbook(folder / "need_matrix.xlsx", sheets, mode=mode)
    write_text(render_report(record), folder / "report.html", mode=mode)
    write_json(manifest(cfg, record.validated, record.counts, record.times,
                        criteria_hash=criteria_sha256(cfg.criteria), thresholds=record.thresholds.recorded,
                        started=record.started, status="ok", demand=demand_manifest(record.demand),
                        previous_record_links_sha256=record.previous_record_links_sha256),
               folder / "manifest.json", mode=mode)


def demand_manifest(demand) -> dict | None:
    """What manifest.json records of the demand count: its settings, the window, and the unit-cost
    table used (its SHA-256 and every figure as uplifted)."""
    if demand is None:
        return None
    costs = demand.costs
    return {"window_months": demand.settings.window_months, "window": [d.isoformat() for d in demand.window],
            "school_terms": list(demand.terms), "price_year": costs.price_year,
            "costs": {"table": costs.origin, "sha256": costs.sha256,
                      "figures": {n: {"gbp": c.gbp, "per": c.per, "price_year": c.price_year,
                                      "uplifted_gbp_per_unit": round(c.uplifted_gbp, 2)}
                                  for n, c in costs.costs.items()},
                      "not_costed": sorted(costs.not_costed)}}


def _write_review_page(folder: Path, record: RunRecord, key: bytes | None) -> None:
    """review.html beside review_pairs.csv: the same queue, to work through in a browser."""
    from reports.review_page import render_review_page
    queue = record.linkage.review_pairs if key is None else pseudonymise(record.linkage.review_pairs, key)
    t = record.thresholds
    write_text(render_review_page(queue, run_id=record.started.isoformat(), match_weight=t.match_weight,
                                  review_weight=t.review_weight),
               folder / "review.html", mode=record.config.outputs.file_mode)


def columns_layout_parts(turned: pd.DataFrame, limit: int = MAX_COLUMNS) -> list[tuple[str, pd.DataFrame]]:
    """The families-as-columns need matrix as files Excel can open: need_matrix.csv with the
    first `limit - 1` families (the first column names the row), need_matrix_2.csv with the
    next, and so on; each says so in the log."""
    per_file = limit - 1
    families = list(turned.columns[1:])
    if len(families) <= per_file:
        return [("need_matrix.csv", turned)]
    parts = []
    for n, start in enumerate(range(0, len(families), per_file), start=1):
        name = "need_matrix.csv" if n == 1 else f"need_matrix_{n}.csv"
        parts.append((name, turned[[turned.columns[0], *families[start:start + per_file]]]))
    log.warning("need_matrix.csv: %s families are more columns than Excel opens (%s); the families-as-columns "
                "layout is split into %s files of at most %s families each (need_matrix.csv, need_matrix_2.csv, ...)",
                f"{len(families):,}", f"{limit:,}", len(parts), f"{per_file:,}")
    return parts


def _write_carry_forward(folder: Path, record: RunRecord, out, *, with_state: bool) -> None:
    """What the next quarter's --previous reads (pipeline.quarters.read_previous), besides the
    record links: the outcome baselines and, in the full profile, the clerical decisions in
    force and the linkage state (not beside pseudonymised IDs, which cannot be carried)."""
    opts = record.config.outputs
    out(record.baselines, "baselines.csv")
    if opts.profile != "full":
        return
    decisions = record.decisions
    write_csv(decisions[DECISION_COLUMNS] if decisions is not None else pd.DataFrame(columns=DECISION_COLUMNS),
              folder / "clerical_decisions.csv", bom=opts.csv_bom, mode=opts.file_mode)
    if record.linkage.state is not None and with_state:
        from matching.incremental import STATE_FOLDER, write_state
        write_state(folder / STATE_FOLDER, record.linkage.state, opts.file_mode, dir_mode(opts.file_mode))

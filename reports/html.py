"""report.html: one self-contained page for project groups (styles inline, charts as inline SVG,
nothing fetched over a network) on the run, data quality, linkage, need and linkage quality.
Python works out what the page says (this module); the markup is the Jinja2 template
`templates/report.html.j2` (autoescaped) and the styles `templates/report.css`, inlined.

It is shared more widely than the CSVs, so it shows counts only: never a name, date of birth,
address, full postcode or identifier. Postcode districts are the finest geography, and a
district's count under MIN_CELL families is shown as "<5" (with enough other cells held back
that it cannot be worked out from the total).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import jinja2
import numpy as np
import pandas as pd

from criteria.language import AllOf, AnyOf, CriteriaSet, Criterion, RuleNode
from matching.ethnicity import is_mapped
from matching.linkage import LinkageResult
from reports import charts
from reports.demand import demand_facts
from reports.match_model import decision_accuracy, match_model
from reports.record import RunRecord

MIN_CELL = 5              # smallest district count shown as a number
TOP_RECORDS_PER_PERSON = 10
TOP_FAMILY_SIZE = 8       # larger families are few and easy to recognise: grouped as "8+"
TOP_COMBINATIONS = 12
TOP_REASONS = 10
TOP_DISTRICTS_CHARTED = 25
NOT_KNOWN = "not known"
NOT_IN_LOOKUP = "not in the area lookup"
# An outward code (the district part of a postcode): anything else is never printed.
_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
# Columns that could carry a personal value: never rendered from a frame we did not build.
_PERSONAL = {"forename", "surname", "dob", "address", "postcode", "uprn", "nhs_number", "ni_number",
             "upn", "record_id", "person_id", "family_id", "tenancy_ref", "claim_ref"}

SECTIONS = (("summary", "Summary"), ("run", "The run"), ("data-quality", "Data quality"),
            ("linkage", "Linking records into persons and families"), ("need", "Need"),
            ("demand", "Service demand and estimated cost"),
            ("quarter", "Since last quarter"), ("outcomes", "Outcomes and claims"),
            ("linkage-quality", "Linkage quality by group"), ("explanations", "What the words mean"))


def render_report(record: RunRecord, *, generated: dt.datetime | None = None) -> str:
    """The whole report as one HTML document (str). `generated` defaults to now."""
    generated = generated or dt.datetime.now().astimezone()
    facts = _Facts.gather(record)
    return _template().render(
        sections=SECTIONS, as_of=record.config.as_of, generated=generated, criteria_set=record.criteria_set,
        f=facts, run=_run_facts(record), quality=_quality_facts(record.validated),
        linkage=_linkage_facts(facts, record.linkage), need=_need_facts(facts, record),
        quarter=_quarter_facts(record), outcomes=_outcome_facts(record),
        groups=_group_facts(record.quality_by_group), explained=_explained(record.criteria_set),
        demand=demand_facts(record, _table, Figure),
        model=match_model(record.linkage.model),
        accuracy=decision_accuracy(record.linkage.pairs, record.thresholds.match_weight, record.thresholds.review_weight),
        MIN_CELL=MIN_CELL, TOP_FAMILY_SIZE=TOP_FAMILY_SIZE)


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(n=_n, fmt=format, plural=_count, date=_date, when=_when)
    return env.get_template("report.html.j2")


# ---------------------------------------------------------------------------------------------
# What the page shows, worked out for the template

@dataclass(frozen=True)
class Table:
    """A table as the page shows it: text cells, the first of each row its heading."""
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: frozenset[int] = frozenset()   # columns of figures, aligned right
    caption: str = ""
    total: bool = False                     # the last row is a total


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Iterable[int] = (),
           caption: str = "", last_row_total: bool = False) -> Table:
    return Table(headers=list(headers), rows=[["" if v is None else str(v) for v in row] for row in rows],
                 numeric=frozenset(numeric), caption=caption, total=last_row_total)


@dataclass(frozen=True)
class Figure:
    svg: str          # a chart from reports.charts: our own markup, inserted as it is
    caption: str


@dataclass(frozen=True)
class _Facts:
    """Counts the sections share."""
    records: int
    persons: int
    families: int
    eligible: int
    review_pairs: int
    match_weight: float
    review_weight: float
    match_probability: float | None     # only where the threshold was given as one
    review_probability: float | None

    @property
    def eligible_share(self) -> float | None:
        return self.eligible / self.families if self.families else None

    @classmethod
    def gather(cls, record: RunRecord) -> "_Facts":
        linkage, matrix, t = record.linkage, record.scored.need_matrix, record.thresholds
        members = linkage.members
        eligible = int((pd.to_numeric(matrix["eligible"], errors="coerce") == 1).sum()) if "eligible" in matrix else 0
        return cls(records=int(len(linkage.record_links)),
                   persons=int(members["person_id"].nunique()) if len(members) else 0,
                   families=int(len(matrix)),
                   eligible=eligible,
                   review_pairs=int(len(linkage.review_pairs)),
                   match_weight=t.match_weight, review_weight=t.review_weight,
                   match_probability=t.match_probability, review_probability=t.review_probability)


@dataclass(frozen=True)
class _RunFacts:
    inputs: Table
    times: Table | None             # None: no stage was timed
    write_time_elsewhere: bool      # the stage writing the outputs (and this page) is not in `times`


def _run_facts(record: RunRecord) -> _RunFacts:
    rows = []
    for name, src in record.config.sources.items():
        v = record.validated.get(name)
        rows.append([name, src.kind, src.path.name, _n(v.rows_read) if v is not None else "not read"])
    inputs = _table(["Source", "Agency", "File", "Rows read"], rows, numeric={3},
                    caption="Inputs named in the run config")
    timings, memory = record.times.seconds, record.times.peak_memory_mb
    if not timings:
        return _RunFacts(inputs=inputs, times=None, write_time_elsewhere=False)
    rows = [[stage, _secs(secs), "" if memory.get(stage) is None else f"{memory[stage]:,.0f}"]
            for stage, secs in timings.items()]
    rows.append(["total so far", _secs(sum(timings.values())), f"{max(memory.values()):,.0f}" if memory else ""])
    times = _table(["Stage", "Time", "Peak memory (MB)"], rows, numeric={1, 2},
                   caption="How long each stage took", last_row_total=True)
    return _RunFacts(inputs=inputs, times=times, write_time_elsewhere="write outputs" not in timings)


@dataclass(frozen=True)
class _QualityFacts:
    sources: Table
    balanced: bool                  # read = accepted + rejected for every source
    chart: Figure | None
    reasons: Table | None           # None: no row was rejected
    warnings: Table | None          # None: no value was blanked


def _quality_facts(validated: dict) -> _QualityFacts:
    rows, names, acc, rej = [], [], [], []
    balanced = True
    for name, v in validated.items():
        c = v.counts()
        balanced &= c["read"] == c["accepted"] + c["rejected"]
        share = f"{c['rejected'] / c['read']:.1%}" if c["read"] else "-"
        rows.append([name, v.kind, _n(c["read"]), _n(c["accepted"]), _n(c["rejected"]), share, _n(c["warnings"])])
        names.append(name)
        acc.append(c["accepted"])
        rej.append(c["rejected"])
    if rows:
        tot = [sum(int(str(r[i]).replace(",", "")) for r in rows) for i in (2, 3, 4, 6)]
        rows.append(["all sources", "", _n(tot[0]), _n(tot[1]), _n(tot[2]),
                     f"{tot[2] / tot[0]:.1%}" if tot[0] else "-", _n(tot[3])])
    table = _table(["Source", "Agency", "Read", "Accepted", "Rejected", "Rejected share", "Warnings"], rows,
                   numeric={2, 3, 4, 5, 6}, caption="Rows per source", last_row_total=bool(rows))
    chart = Figure(charts.source_quality_chart(names, acc, rej), "Rows read per source: accepted and rejected.") \
        if names else None
    reasons, warns = top_reasons(validated), top_warnings(validated)
    return _QualityFacts(
        sources=table, balanced=balanced, chart=chart,
        reasons=_table(["Reason", "Rows", "Sources"], [[r.reason, _n(r.rows), r.sources] for r in reasons.itertuples()],
                       numeric={1}, caption="Commonest reasons for rejecting a row") if len(reasons) else None,
        warnings=_table(["Warning", "Rows", "Sources"], [[r.reason, _n(r.rows), r.sources] for r in warns.itertuples()],
                        numeric={1}, caption="Commonest warnings (a value blanked, the row kept)") if len(warns) else None)


_LINK_STATS = (("candidate_pairs", "Candidate pairs found by blocking"),
               ("pairs_scored", "Pairs scored (with clerical decisions read back)"),
               ("links_accepted", "Pairs linked"),
               ("links_vetoed", "Pairs above the threshold but held back by a veto (not linked)"),
               ("links_stopped_by_identifier_conflict", "Pairs above the threshold but with conflicting identifiers"),
               ("clerical_decisions_applied", "Clerical decisions applied from the last review"),
               ("components_split", "Groups split because they held conflicting identifiers"))


@dataclass(frozen=True)
class _LinkageFacts:
    stats: Table
    histogram: Figure | None        # None: no pair was scored
    per_person: Figure | None
    per_family: Figure | None


# How persons were placed in families that are worth a second look (review_families.csv).
_PLACEMENTS = (("moved_with_household", "Persons placed at their household's new address (their own records are older; see review_families.csv)"),
               ("household_home", "Persons placed at their household's home over a later record giving an address it left (see review_families.csv)"),
               ("postcode_and_surname", "Persons with no address placed by postcode and surname (see review_families.csv)"))


def _linkage_facts(f: _Facts, linkage: LinkageResult) -> _LinkageFacts:
    stats = linkage.stats
    rows = [[label, _n(stats[key])] for key, label in _LINK_STATS if isinstance(stats.get(key), (int, np.integer))]
    rows.append(["Person pairs waiting for clerical review", _n(f.review_pairs)])
    placed = stats.get("family_placements")
    if isinstance(placed, dict):
        for key, label in _PLACEMENTS:
            if placed.get(key):
                rows.append([label, _n(placed[key])])
    inc = stats.get("incremental")
    if isinstance(inc, dict):
        rows += [["Records new or changed since the previous run", _n(inc["records_new"] + inc["records_changed"])],
                 ["Pairs compared in this run (the others' comparisons reused from the previous run)",
                  _n(inc["pairs_compared"])]]

    weights = _pair_weights(linkage.pairs)
    histogram = None
    if weights is not None and len(weights):
        linked = "" if f.match_probability is None else f" (a probability of {f.match_probability:.0%} or more)"
        in_review = "" if f.review_probability is None else f" (probability {f.review_probability:.0%} or more)"
        band = (f" Pairs scoring {f.match_weight:.1f} or more are linked{linked}; pairs "
                f"from {f.review_weight:.1f} up to the threshold{in_review} go to "
                "clerical review (the shaded band).")
        lo, hi = charts.weight_range(weights, f.match_weight, f.review_weight)
        finite, below, above = charts.weight_counts(weights, lo, hi)
        ends = ""
        if below or above:
            ends = " So that the band stays readable, the range is cut: " + " and ".join(
                x for x in (f"{_count(below, 'pair')} below {lo:.0f} counted in the leftmost bar" if below else "",
                            f"{_count(above, 'pair')} above {hi:.0f} in the rightmost" if above else "") if x) + "."
        histogram = Figure(charts.match_weight_histogram(weights, f.match_weight, f.review_weight),
                           f"{finite:,} candidate pairs by match weight. Each step of 1 doubles the odds that "
                           "the two records are the same person." + band + ends)

    rl = linkage.record_links
    per_person = rl.groupby("person_id").size() if len(rl) else pd.Series(dtype=int)
    labels, counts = top_coded(per_person.to_numpy(), TOP_RECORDS_PER_PERSON)
    single = int((per_person == 1).sum())
    person_chart = Figure(charts.count_bars(labels, counts, xlabel="records joined into the person",
                                            ylabel="persons", title="Persons by number of records"),
                          f"Persons by number of records. {single:,} of {f.persons:,} persons "
                          f"({single / f.persons:.0%}) rest on a single record." if f.persons else "") \
        if labels else None
    members = linkage.members
    per_family = members.groupby("family_id")["person_id"].nunique() if len(members) else pd.Series(dtype=int)
    labels, counts = top_coded(per_family.to_numpy(), TOP_FAMILY_SIZE)
    family_chart = Figure(charts.count_bars(labels, counts, xlabel="persons in the family", ylabel="families",
                                            title="Families by number of persons", color=charts.GREEN),
                          f"Families by number of persons ({TOP_FAMILY_SIZE} or more grouped).") \
        if labels else None
    return _LinkageFacts(stats=_table(["", "Count"], rows, numeric={1}, caption="How the linking went"),
                         histogram=histogram, per_person=person_chart, per_family=family_chart)


@dataclass(frozen=True)
class _NeedFacts:
    criteria: Table
    chart: Figure | None            # None: the set has no criterion in the matrix
    partial: list[str]              # criteria that had some, not all, of the extracts they draw on
    combinations: Figure | None     # None: no family meets any criterion
    districts: Table | None         # None: no family is eligible
    district_chart: Figure | None   # only with three districts or more shown in full
    family_size: Figure | None
    district_rates: Table | None = None   # families, eligible, rate and each criterion, by district
    area_rates: Table | None = None       # the same by the council's areas (report.area_lookup)
    areas_unmatched: int = 0              # families whose postcode the lookup does not hold


def _need_facts(f: _Facts, record: RunRecord) -> _NeedFacts:
    scored, criteria_set = record.scored, record.criteria_set
    matrix = scored.need_matrix
    names = [c for c in criteria_set.criteria if c in matrix.columns]
    no_data = set(scored.no_data)
    status, sources = {}, {}
    if "criterion" in scored.summary:
        for r in scored.summary.to_dict("records"):
            status[r["criterion"]] = r.get("status") or ""
            sources[r["criterion"]] = r.get("sources") or ""
    rows, titles, counts = [], [], []
    for c in names:
        col = pd.to_numeric(matrix[c], errors="coerce")
        # Blank for every family means no extract fed the criterion: unknown, not zero.
        has_data = c not in no_data and status.get(c) != "no data" and not (len(matrix) and col.isna().all())
        n = int((col == 1).sum()) if has_data else None
        titles.append(criteria_set.criteria[c].title)
        counts.append(n)
        st = status.get(c) or ("data" if has_data else "no data")
        rows.append([c, criteria_set.criteria[c].title, "no data" if n is None else _n(n),
                     "" if n is None or not f.families else f"{n / f.families:.1%}",
                     st.replace(" ", "\u00a0"), str(sources.get(c, "")).replace(";", ", ")])
    rows.append(["eligible", "Eligible under the family rule", _n(f.eligible),
                 f"{f.eligible / f.families:.1%}" if f.families else "", "", ""])
    table = _table(["Criterion", "What it means", "Families", "Share", "Data", "Sources"], rows,
                   numeric={2, 3}, caption=f"Families meeting each criterion, out of {f.families:,}",
                   last_row_total=True)
    chart = Figure(charts.criteria_chart(titles, counts, f.families),
                   "Families meeting each criterion. A criterion marked “no data” had no extract "
                   "in this run: it is unknown, not zero, and counts as not met in the family rule.") if names else None

    with_data = [c for c, n in zip(names, counts) if n is not None]
    combos = need_combinations(matrix, with_data)
    combinations = None
    if combos:
        with_need = int((pd.to_numeric(matrix["criteria_met"], errors="coerce").fillna(0) > 0).sum()) \
            if "criteria_met" in matrix else 0
        shown = sum(n for _, n in combos)
        combinations = Figure(charts.combinations_chart(with_data, combos),
                              f"The {len(combos)} commonest combinations of criteria met. Each column is one "
                              "combination: the dots below show which criteria, the bar how many families meet "
                              f"exactly those. They cover {shown:,} of the {with_need:,} families meeting at "
                              "least one criterion.")

    districts = district_counts(matrix)
    district_table = district_chart = None
    if len(districts):
        district_table = _table(["Postcode district", "Eligible families"],
                                [[r.district, r.shown] for r in districts.itertuples()], numeric={1},
                                caption="Eligible families by postcode district")
        full = districts[~districts["suppressed"] & (districts["district"] != NOT_KNOWN)].head(TOP_DISTRICTS_CHARTED)
        if len(full) >= 3:
            district_chart = Figure(charts.district_chart(full["district"].tolist(), full["families"].tolist()),
                                    "Eligible families by postcode district (districts shown in full only"
                                    + (f"; the {TOP_DISTRICTS_CHARTED} largest" if len(full) == TOP_DISTRICTS_CHARTED
                                       else "") + ").")

    family_size = None
    size = pd.to_numeric(matrix["members"], errors="coerce").fillna(0).astype(int) if "members" in matrix else None
    if size is not None and len(size):
        eligible = pd.to_numeric(matrix["eligible"], errors="coerce") == 1
        labels, all_counts = top_coded(size[size > 0].to_numpy(), TOP_FAMILY_SIZE)
        _, el_counts = top_coded(size[eligible & (size > 0)].to_numpy(), TOP_FAMILY_SIZE)
        el_counts = el_counts + [0] * (len(labels) - len(el_counts))
        family_size = Figure(charts.family_size_chart(labels, all_counts, el_counts),
                             f"Families by number of members ({TOP_FAMILY_SIZE} or more grouped), all families "
                             "and eligible families.")
    district = matrix.get("postcode_district", pd.Series(None, index=matrix.index)).astype("string").str.strip().str.upper()
    district = district.where(district.fillna("").str.fullmatch(_DISTRICT), NOT_KNOWN).fillna(NOT_KNOWN)
    titled = [(c, criteria_set.criteria[c].title) for c, n in zip(names, counts) if n is not None]
    district_rates = _rates_table(matrix, district, titled, "Postcode district",
                                  "Families, eligible families and each criterion by postcode district")
    area_rates, unmatched = None, 0
    if record.area_lookup is not None:
        area, unmatched = family_areas(matrix["family_id"], record.linkage.members, record.area_lookup)
        area_rates = _rates_table(matrix, area, titled, "Area",
                                  "Families, eligible families and each criterion by area (the council's area lookup)")
    return _NeedFacts(criteria=table, chart=chart, partial=[c for c in names if status.get(c) == "partial data"],
                      combinations=combinations, districts=district_table, district_chart=district_chart,
                      family_size=family_size, district_rates=district_rates, area_rates=area_rates,
                      areas_unmatched=unmatched)


def family_areas(family_ids: pd.Series, members: pd.DataFrame, lookup: pd.DataFrame) -> tuple[pd.Series, int]:
    """Each family's area (aligned with family_ids): the lookup's area of the family's commonest
    member postcode (ties: the alphabetically first), "not known" without a postcode, "not in
    the area lookup" for a postcode the lookup lacks. Returns (areas, families not in it)."""
    pc = members["postcode"].astype("string").str.upper().str.replace(r"\s+", "", regex=True) \
        if "postcode" in members else pd.Series(pd.NA, index=members.index, dtype="string")
    df = pd.DataFrame({"family_id": members["family_id"].to_numpy(), "pc": pc.to_numpy()}).dropna()
    df = df[df["pc"] != ""]
    best = (df.groupby(["family_id", "pc"]).size().rename("n").reset_index()
            .sort_values(["family_id", "n", "pc"], ascending=[True, False, True])
            .drop_duplicates("family_id").set_index("family_id")["pc"])
    label = lookup["area_name"].where(lookup["area_name"] == lookup["area_code"],
                                      lookup["area_name"] + " (" + lookup["area_code"] + ")")
    area_of = pd.Series(label.to_numpy(), index=lookup["postcode"].to_numpy())
    postcode = family_ids.map(best)
    area = postcode.map(area_of)
    missing = postcode.notna() & area.isna()
    area = area.where(~missing, NOT_IN_LOOKUP).fillna(NOT_KNOWN)
    return pd.Series(area.to_numpy(), index=family_ids.index), int(missing.sum())


def suppressed_column(counts: Sequence[int], minimum: int = MIN_CELL) -> list[str]:
    """A column of counts as text: under `minimum` (but not 0) as "<5", and then, while fewer
    than two cells are held back or those held back add up to under `minimum`, the next
    smallest non-zero cell "not shown" too, so that no small count follows from the total."""
    shown = [suppress(int(n), minimum) for n in counts]
    held = {i for i, n in enumerate(counts) if 0 < n < minimum}
    if held:
        for i in sorted(range(len(counts)), key=lambda i: counts[i]):
            if len(held) >= 2 and sum(counts[j] for j in held) >= minimum:
                break
            if i not in held and counts[i] > 0:
                held.add(i)
                shown[i] = "not shown"
    return shown


def _rates_table(matrix: pd.DataFrame, area: pd.Series, criteria: Sequence[tuple[str, str]], heading: str,
                 caption: str) -> Table | None:
    """Per area: families (the denominator), eligible families, eligible per 100 families and
    each criterion's families, every column suppressed on its own; a rate only where both its
    counts are shown. Most eligible first; "not known" and "not in the area lookup" last."""
    if not len(matrix):
        return None
    eligible = pd.to_numeric(matrix["eligible"], errors="coerce").eq(1)
    frame = pd.DataFrame({"area": area.astype(str).to_numpy(), "families": 1, "eligible": eligible.astype(int).to_numpy()})
    for c, _ in criteria:
        frame[c] = pd.to_numeric(matrix[c], errors="coerce").eq(1).astype(int).to_numpy()
    per = frame.groupby("area").sum()
    last = per.index.isin([NOT_KNOWN, NOT_IN_LOOKUP])
    per = per.assign(_last=last).sort_values(["_last", "eligible", "families"], ascending=[True, False, False])
    per = per.drop(columns="_last")
    columns = {col: suppressed_column(per[col].astype(int).tolist()) for col in per.columns}
    rows = []
    for i, name in enumerate(per.index):
        fam, elig = columns["families"][i], columns["eligible"][i]
        numeric = fam[0].isdigit() and elig[0].isdigit()
        rate = f"{100 * per['eligible'].iloc[i] / per['families'].iloc[i]:.1f}" if numeric and per["families"].iloc[i] else "not shown"
        rows.append([name, fam, elig, rate, *[columns[c][i] for c, _ in criteria]])
    total = per.sum()
    rows.append(["All areas", _n(total["families"]), _n(total["eligible"]),
                 f"{100 * total['eligible'] / total['families']:.1f}" if total["families"] else "",
                 *[_n(total[c]) for c, _ in criteria]])
    headers = [heading, "Families", "Eligible", "Eligible per 100 families", *[t for _, t in criteria]]
    return _table(headers, rows, numeric=set(range(1, len(headers))), caption=caption, last_row_total=True)


@dataclass(frozen=True)
class _QuarterFacts:
    """Quarter on quarter, from the run's changes.csv (reports.changes)."""
    available: bool                 # the run was given --previous
    previous_as_of: str             # the previous quarter's reference date, as text
    counts: dict[str, int]          # presence and eligibility statuses -> families
    eligibility: Table | None       # eligibility status by presence status
    lost_why: Table | None          # why families are no longer eligible (None: none are)
    gained_why: Table | None        # what made families eligible (None: none are newly)
    movement: Table | None
    chart: Figure | None
    notes: list[str]


_ELIGIBILITY_WORDS = {"newly_eligible": "Newly eligible", "still_eligible": "Still eligible",
                      "no_longer_eligible": "No longer eligible", "not_eligible": "Not eligible, then or now"}


def _quarter_facts(record: RunRecord) -> _QuarterFacts:
    from reports.changes import ELIGIBILITY, PRESENCE
    qc = record.changes
    if qc is None:
        return _QuarterFacts(available=False, previous_as_of="", counts={}, eligibility=None, lost_why=None,
                             gained_why=None, movement=None, chart=None, notes=[])
    ch = qc.changes
    counts = {**{k: int((ch["status"] == k).sum()) for k in PRESENCE},
              **{k: int((ch["eligibility_status"] == k).sum()) for k in ELIGIBILITY},
              "unseen": int((ch["seen_since_last_quarter"].astype(str) == "0").sum())}
    rows = []
    for e in ELIGIBILITY:
        part = ch[ch["eligibility_status"] == e]
        rows.append([_ELIGIBILITY_WORDS[e], *[_n((part["status"] == p).sum()) for p in PRESENCE], _n(len(part))])
    rows.append(["All families", *[_n(counts[p]) for p in PRESENCE], _n(len(ch))])
    eligibility = _table(["", "New this quarter", "In both quarters", "Left", "All"], rows, numeric={1, 2, 3, 4},
                         caption="Families by eligibility, last quarter and this", last_row_total=True)
    titles = {c: record.criteria_set.criteria[c].title for c in record.criteria_set.criteria}

    def by_criterion(frame: pd.DataFrame, column: str) -> Counter:
        return Counter(c for cell in frame[column].astype(str) for c in cell.split(";") if c)

    gone = ch[ch["eligibility_status"] == "no_longer_eligible"]
    lost_why = None
    if len(gone):
        stayed = gone[gone["status"] == "continuing"]
        lost = by_criterion(stayed, "criteria_lost")
        rows = [["Left: in no extract this quarter", _n((gone["status"] == "left").sum())],
                ["Still here, but no longer meet the family rule", _n(len(stayed))]]
        rows += [[f"\u2003lost {c}: {titles.get(c, c)}", _n(n)] for c, n in lost.most_common()]
        unseen = int((stayed["seen_since_last_quarter"].astype(str) == "0").sum())
        if unseen:
            rows.append(["\u2003of whom no agency has a record since last quarter", _n(unseen)])
        lost_why = _table(["Why", "Families"], rows, numeric={1},
                          caption=f"Why families are no longer eligible ({len(gone):,}; a family that lost "
                                  "several criteria counts under each)")
    came = ch[ch["eligibility_status"] == "newly_eligible"]
    gained_why = None
    if len(came):
        stayed = came[came["status"] == "continuing"]
        rows = [["New this quarter", _n((came["status"] == "new").sum())],
                ["Known last quarter, now meet the family rule", _n(len(stayed))]]
        rows += [[f"\u2003gained {c}: {titles.get(c, c)}", _n(n)]
                 for c, n in by_criterion(stayed, "criteria_gained").most_common()]
        gained_why = _table(["Why", "Families"], rows, numeric={1},
                            caption=f"Why families are newly eligible ({len(came):,})")
    mv = qc.movement
    shown = mv[mv["families_before"] != "no data"]
    rows = []
    for r in mv.itertuples(index=False):
        label = "Eligible under the family rule" if r.criterion == "eligible" else titles.get(r.criterion, r.criterion)
        if r.families_before == "no data":
            rows.append([r.criterion, label, "no data", "no data", "", "", "", "", ""])
            continue
        rows.append([r.criterion, label, _n(r.families_before), _n(r.families_now),
                     f"{int(r.families_now) - int(r.families_before):+,}",
                     _n(r.gained_by_continuing_families), _n(r.lost_by_continuing_families),
                     _n(r.met_by_new_families), _n(r.met_by_families_left)])
    movement = _table(["Criterion", "What it means", "Last quarter", "This quarter", "Change", "Gained",
                       "Lost", "New families", "Families left"], rows, numeric={2, 3, 4, 5, 6, 7, 8},
                      caption="Families meeting each criterion, last quarter and this. Gained and lost: "
                              "families in both quarters", last_row_total=bool(rows))
    chart = None
    if len(shown):
        label = [("Eligible" if c == "eligible" else titles.get(c, c)) for c in shown["criterion"]]
        chart = Figure(charts.movement_chart(label, shown["gained_by_continuing_families"].astype(int).tolist(),
                                             shown["met_by_new_families"].astype(int).tolist(),
                                             shown["lost_by_continuing_families"].astype(int).tolist(),
                                             shown["met_by_families_left"].astype(int).tolist()),
                       "How each criterion moved since last quarter. Right of the line: families that meet it "
                       "now and did not (families in both quarters that gained it, and new families). Left: "
                       "families that met it and no longer do (families that lost it, and families that left). "
                       "The figure at the right is the net change.")
    try:
        prev_as_of = _date(dt.date.fromisoformat(str(qc.old_as_of)[:10])) if qc.old_as_of else ""
    except ValueError:
        prev_as_of = ""
    return _QuarterFacts(available=True, previous_as_of=prev_as_of, counts=counts, eligibility=eligibility,
                         lost_why=lost_why, gained_why=gained_why, movement=movement, chart=chart,
                         notes=list(qc.notes))


@dataclass(frozen=True)
class _OutcomeFacts:
    """Outcomes and claims, from outcomes.csv, claims.csv and claims_evidence.csv."""
    available: bool                 # the criteria set has outcome rules
    tracked: int                    # families tracked from a baseline
    with_outcomes: int              # families with at least one measure that applies
    met: int                        # families with a measure met
    sustained: int                  # families with a measure sustained
    claims: int                     # families qualifying for a results claim
    evidence: int                   # records backing the claims
    measures: Table | None
    routes: Table | None


def _outcome_facts(record: RunRecord) -> _OutcomeFacts:
    result = record.outcomes
    tracked = int(record.counts.get("families_tracked_for_outcomes") or 0)
    if result is None:
        return _OutcomeFacts(available=False, tracked=tracked, with_outcomes=0, met=0, sustained=0, claims=0,
                             evidence=0, measures=None, routes=None)
    o, claims, ev = result.outcomes, result.claims, result.evidence

    def flag(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame[column].astype(str).str.lower().isin(["1", "true", "1.0"])

    rows = []
    for measure, part in o.groupby("measure", sort=False):
        title = str(part["title"].iloc[0]) if "title" in part and len(part) else measure
        records = ev[ev["measure"] == measure] if len(ev) else ev
        rows.append([measure, title, _n(part["family_id"].nunique()), _n(part.loc[flag(part, "met"), "family_id"].nunique()),
                     _n(part.loc[flag(part, "sustained"), "family_id"].nunique()),
                     _n(records["family_id"].nunique() if len(records) else 0), _n(len(records))])
    measures = _table(["Measure", "What it means", "Families it applies to", "Met now", "Sustained",
                       "Families claimed on it", "Evidence records"], rows, numeric={2, 3, 4, 5, 6},
                      caption="Outcome measures for the families tracked") if rows else None
    routes = None
    if len(claims):
        by_route = claims.groupby("claim_route", sort=False)["family_id"].nunique()
        routes = _table(["Claim route", "Families"], [[r, _n(n)] for r, n in by_route.items()]
                        + [["All routes", _n(claims["family_id"].nunique())]], numeric={1},
                        caption="Families whose results qualify for a claim at the reference date",
                        last_row_total=True)
    return _OutcomeFacts(available=True, tracked=tracked, with_outcomes=int(o["family_id"].nunique()),
                         met=int(o.loc[flag(o, "met"), "family_id"].nunique()),
                         sustained=int(o.loc[flag(o, "sustained"), "family_id"].nunique()),
                         claims=int(claims["family_id"].nunique()), evidence=int(len(ev)),
                         measures=measures, routes=routes)


_GROUP_COLUMNS = {"records": "Records", "persons": "Persons", "multi_agency_share": "Known to 2+ agencies",
                  "single_record_share": "Single-record share",
                  "expected_single_record_share": "Expected from its agencies",
                  "possibly_under_linked": "Possibly under-linked", "mean_link_weight": "Mean link weight",
                  "review_share": "Pairs sent to review"}


@dataclass(frozen=True)
class _FlaggedGroup:
    kind: str                       # ethnicity, age band, sex, postcode district
    group: str
    single_record_share: str
    expected_share: str


@dataclass(frozen=True)
class _GroupFacts:
    available: bool                 # the run measured linkage quality by group
    any_shown: bool                 # some group was large enough to show
    flagged: list[_FlaggedGroup] | None   # None: the table has no possibly_under_linked column
    tables: list[tuple[Table, Figure | None]]
    unmapped_ethnicity: list[str] = dataclasses.field(default_factory=list)   # shown as recorded: no ONS category


def _group_facts(frame: pd.DataFrame | None) -> _GroupFacts:
    if frame is None:
        return _GroupFacts(available=False, any_shown=False, flagged=None, tables=[])
    frame = frame[[c for c in frame.columns if str(c).lower() not in _PERSONAL]]
    if frame.empty:
        return _GroupFacts(available=True, any_shown=False, flagged=None, tables=[])
    flagged = None
    if "possibly_under_linked" in frame.columns:
        rows = frame[frame["possibly_under_linked"].fillna(False).astype(bool)]
        flagged = [_FlaggedGroup(kind=str(r.get("group_type", "group")), group=str(r["group"]),
                                 single_record_share=_cell(r["single_record_share"], "share"),
                                 expected_share=_cell(r["expected_single_record_share"], "share"))
                   for _, r in rows.iterrows()]
    if "group_type" in frame.columns and "group" in frame.columns:
        parts = [(str(t), g.drop(columns="group_type")) for t, g in frame.groupby("group_type", sort=False)]
    else:
        parts = [("", frame)]
    tables = []
    for gtype, g in parts:
        headers = [_GROUP_COLUMNS.get(str(c), str(c).replace("_", " ").capitalize()) for c in g.columns]
        if gtype and "group" in g.columns:
            headers[list(g.columns).index("group")] = gtype.capitalize()
        numeric = {i for i, c in enumerate(g.columns)
                   if pd.api.types.is_numeric_dtype(g[c]) and not pd.api.types.is_bool_dtype(g[c])}
        rows = [[_cell(v, str(col)) for col, v in zip(g.columns, rec)] for rec in g.itertuples(index=False)]
        table = _table(headers, rows, numeric=numeric,
                       caption=f"Linkage quality by {gtype}" if gtype else "Linkage quality by group")
        chart = None
        if "single_record_share" in g.columns and "group" in g.columns and len(g) > 1:
            share = pd.to_numeric(g["single_record_share"], errors="coerce")
            ok = share.notna()
            if ok.any():
                chart = Figure(charts.share_chart(g.loc[ok, "group"].astype(str).tolist(), share[ok].tolist(),
                                                  xlabel="records left as single-record persons",
                                                  title=f"Single-record share by {gtype or 'group'}"),
                               f"Share of records left as single-record persons, by {gtype or 'group'}: a bar much "
                               "longer than the rest points at under-linking in that group.")
        tables.append((table, chart))
    unmapped = []
    if "group_type" in frame.columns and "group" in frame.columns:
        eth = frame.loc[frame["group_type"] == "ethnicity", "group"].astype(str)
        unmapped = [g for g in eth if not is_mapped(g)]
    return _GroupFacts(available=True, any_shown=True, flagged=flagged, tables=tables, unmapped_ethnicity=unmapped)


@dataclass(frozen=True)
class _Rule:
    """The family rule as the page words it: a criterion or condition by name (with its title
    where it has one), or a head ("all of these", ...) over its items."""
    name: str = ""
    title: str = ""
    head: str = ""
    items: tuple["_Rule", ...] = ()

    @property
    def names_only(self) -> bool:
        """Every item a plain name: listed on one line (the criteria are spelt out below)."""
        return all(not i.head for i in self.items)


def _rule(node: RuleNode, cs: CriteriaSet) -> _Rule:
    if isinstance(node, str):
        item = cs.criteria.get(node) or cs.conditions.get(node)
        title = item.title if item is not None else node
        return _Rule(name=node, title=title if title != node else "")
    if isinstance(node, AllOf):
        head = "all of these"
    elif isinstance(node, AnyOf):
        head = "any one of these"
    elif node.counting == "indicators":
        head = f"at least {node.n} needs (indicators, counted one by one) within these"
    else:
        head = f"at least {node.n} of these {len(node.items)}"
    return _Rule(head=head, items=tuple(_rule(i, cs) for i in node.items))


@dataclass(frozen=True)
class _Explained:
    rule: _Rule
    criteria: list[tuple[Criterion, list[str]]]    # each criterion, with the titles of its indicators


def _explained(cs: CriteriaSet) -> _Explained:
    return _Explained(rule=_rule(cs.rule, cs),
                      criteria=[(c, [cs.indicators[i].title for i in c.indicators if i in cs.indicators])
                                for c in cs.criteria.values()])


# ---------------------------------------------------------------------------------------------
# Pure helpers (tested alone)

def suppress(count: int, minimum: int = MIN_CELL) -> str:
    """A count as text, or "<5" when it could point at a few families."""
    return f"<{minimum}" if 0 < count < minimum else f"{count:,}"


def district_counts(need_matrix: pd.DataFrame, minimum: int = MIN_CELL) -> pd.DataFrame:
    """Eligible families per postcode district: district, families (int), shown (text).

    Districts with no eligible family are left out. A count under `minimum` is shown as "<5";
    then, while fewer than two cells are held back or those held back add up to under `minimum`,
    the next smallest cell is held back too ("not shown"), so no small count follows from the
    total. Anything that is not an outward code becomes "not known"."""
    eligible = pd.to_numeric(need_matrix["eligible"], errors="coerce") == 1
    district = need_matrix.get("postcode_district", pd.Series(None, index=need_matrix.index))
    district = district.astype("string").str.strip().str.upper()
    district = district.where(district.fillna("").str.fullmatch(_DISTRICT), NOT_KNOWN).fillna(NOT_KNOWN)
    counts = district[eligible].value_counts()
    frame = pd.DataFrame({"district": counts.index.astype(str), "families": counts.to_numpy(dtype=int)})
    frame = frame.sort_values(["families", "district"], ascending=[False, True]).reset_index(drop=True)
    frame["shown"] = [suppress(int(n), minimum) for n in frame["families"]]
    small = frame["families"] < minimum
    held = set(frame.index[small])
    if held:
        by_size = frame.sort_values(["families", "district"]).index
        for i in by_size:
            if len(held) >= 2 and frame.loc[list(held), "families"].sum() >= minimum:
                break
            if i not in held:
                held.add(i)
                frame.loc[i, "shown"] = "not shown"
    frame["suppressed"] = frame.index.isin(held)
    # "not known" last: it is not a place
    order = np.argsort(frame["district"].eq(NOT_KNOWN).to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def need_combinations(need_matrix: pd.DataFrame, criteria: Sequence[str], top: int = TOP_COMBINATIONS
                      ) -> list[tuple[frozenset, int]]:
    """The most common sets of criteria met together (families meeting at least one), most
    common first; a blank (no data) criterion is never part of a set."""
    if not criteria or need_matrix.empty:
        return []
    met = need_matrix[list(criteria)].apply(pd.to_numeric, errors="coerce").fillna(0).astype(int) == 1
    keys = [frozenset(c for c, v in zip(criteria, row) if v) for row in met.to_numpy()]
    counts = Counter(k for k in keys if k)
    order = {c: i for i, c in enumerate(criteria)}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), sorted(order[c] for c in kv[0])))
    return ranked[:top]


def top_coded(values: Iterable[int], top: int) -> tuple[list[str], list[int]]:
    """Counts of each value 1..top-1 and of `top` or more ("top+"), for a size distribution."""
    counts = Counter(min(int(v), top) for v in values)
    if not counts:
        return [], []
    hi = max(counts)
    labels = [f"{k}+" if k == top else str(k) for k in range(1, hi + 1)]
    return labels, [counts.get(k, 0) for k in range(1, hi + 1)]


def top_reasons(validated: dict, top: int = TOP_REASONS) -> pd.DataFrame:
    """The commonest rejection reasons over all sources: reason, rows, sources. A row rejected
    for several reasons counts once under each."""
    rows = []
    for name, v in validated.items():
        rej = v.rejected
        if rej is None or len(rej) == 0 or "reason" not in rej:
            continue
        for reasons in rej["reason"].fillna("").astype(str):
            for reason in dict.fromkeys(r.strip() for r in reasons.split("; ")):
                if reason:
                    rows.append((reason, name))
    if not rows:
        return pd.DataFrame(columns=["reason", "rows", "sources"])
    frame = pd.DataFrame(rows, columns=["reason", "source"])
    out = (frame.groupby("reason").agg(rows=("source", "size"),
                                        sources=("source", lambda s: ", ".join(sorted(set(s)))))
           .reset_index().sort_values(["rows", "reason"], ascending=[False, True]))
    return out.head(top).reset_index(drop=True)


def top_warnings(validated: dict, top: int = TOP_REASONS) -> pd.DataFrame:
    """The commonest warnings (a value blanked): reason, rows, sources."""
    parts = [v.warnings.assign(source=name) for name, v in validated.items()
             if v.warnings is not None and len(v.warnings) and "reason" in v.warnings]
    if not parts:
        return pd.DataFrame(columns=["reason", "rows", "sources"])
    frame = pd.concat(parts, ignore_index=True)
    out = (frame.groupby("reason").agg(rows=("source", "size"),
                                        sources=("source", lambda s: ", ".join(sorted(set(s)))))
           .reset_index().sort_values(["rows", "reason"], ascending=[False, True]))
    return out.head(top).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Small formatting helpers (also the template's filters)

def _n(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


def _count(n: int, word: str) -> str:
    if word.endswith("y") and n != 1:       # family -> families
        return f"{n:,} {word[:-1]}ies"
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _secs(secs: float) -> str:
    secs = float(secs)
    if secs < 60:
        return f"{secs:.1f} s"
    m, s = divmod(int(round(secs)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _date(d) -> str:
    return f"{d.day} {d:%B %Y}" if d is not None else ""


def _when(t: dt.datetime) -> str:
    return f"{t.day} {t:%B %Y} at {t:%H:%M} {t.tzname() or ''}".strip()


def _pair_weights(pairs) -> np.ndarray | None:
    if not isinstance(pairs, pd.DataFrame) or pairs.empty:
        return None
    if "match_weight" in pairs:
        # As stored (float32 from linking): the charts read it a slice at a time, as floats.
        return pd.to_numeric(pairs["match_weight"], errors="coerce").to_numpy()
    if "match_probability" in pairs:
        p = pd.to_numeric(pairs["match_probability"], errors="coerce").clip(1e-12, 1 - 1e-12).to_numpy(dtype=float)
        return np.log2(p / (1 - p))
    return None


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if any(w in column.lower() for w in ("share", "rate", "proportion", "pct", "percent")) and 0 <= value <= 1:
            return f"{value:.1%}"
        return f"{value:,.2f}"
    return str(value)

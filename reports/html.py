"""report.html: one self-contained page for project groups (styles inline, charts as inline SVG,
nothing fetched over a network) on the run, data quality, linkage, need and linkage quality.

It is shared more widely than the CSVs, so it shows counts only: never a name, date of birth,
address, full postcode or identifier. Postcode districts are the finest geography, and a
district's count under MIN_CELL families is shown as "<5" (with enough other cells held back
that it cannot be worked out from the total).
"""
from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from reports import charts
from reports.record import RunRecord

MIN_CELL = 5              # smallest district count shown as a number
TOP_RECORDS_PER_PERSON = 10
TOP_FAMILY_SIZE = 8       # larger families are few and easy to recognise: grouped as "8+"
TOP_COMBINATIONS = 12
TOP_REASONS = 10
TOP_DISTRICTS_CHARTED = 25
NOT_KNOWN = "not known"
# An outward code (the district part of a postcode): anything else is never printed.
_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
# Columns that could carry a personal value: never rendered from a frame we did not build.
_PERSONAL = {"forename", "surname", "dob", "address", "postcode", "uprn", "nhs_number", "ni_number",
             "upn", "record_id", "person_id", "family_id", "tenancy_ref", "claim_ref"}

SECTIONS = (("summary", "Summary"), ("run", "The run"), ("data-quality", "Data quality"),
            ("linkage", "Linking records into persons and families"), ("need", "Need"),
            ("linkage-quality", "Linkage quality by group"), ("explanations", "What the words mean"))


def render_report(record: RunRecord, *, generated: dt.datetime | None = None) -> str:
    """The whole report as one HTML document (str). `generated` defaults to now."""
    generated = generated or dt.datetime.now().astimezone()
    cfg, criteria_set, scored = record.config, record.criteria_set, record.scored
    facts = _Facts.gather(record)
    body = "\n".join([
        _header(cfg, criteria_set, generated),
        _contents(),
        _summary_section(facts),
        _run_section(record, generated),
        _quality_section(record.validated),
        _linkage_section(facts, record.linkage),
        _need_section(facts, scored, criteria_set),
        _group_quality_section(record.quality_by_group),
        _explanations_section(facts, criteria_set, cfg),
        _footer(),
    ])
    title = f"hnf-match report: {criteria_set.title}, reference date {_date(cfg.as_of)}"
    return (f'<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="referrer" content="no-referrer">\n<title>{_e(title)}</title>\n'
            f"<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------------
# Counts the sections share

@dataclass
class _Facts:
    records: int
    persons: int
    families: int
    eligible: int
    review_pairs: int
    match_weight: float | None
    review_weight: float | None
    match_probability: float | None
    review_probability: float | None

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
# Sections

def _header(cfg, criteria_set, generated: dt.datetime) -> str:
    return (f'<header><p class="kicker">hnf-match run report</p>'
            f"<h1>{_e(criteria_set.title)}</h1>"
            f'<p class="lede">Reference date <strong>{_date(cfg.as_of)}</strong>. '
            f"Report made {_e(_when(generated))}. This report holds counts only: no names, dates of "
            f"birth, addresses, postcodes or identifiers.</p></header>")


def _contents() -> str:
    items = "".join(f'<li><a href="#{sid}">{_e(title)}</a></li>' for sid, title in SECTIONS)
    return f'<nav aria-label="Contents"><h2 class="visually-hidden">Contents</h2><ol>{items}</ol></nav>'


def _summary_section(f: _Facts) -> str:
    share = f" ({f.eligible / f.families:.1%} of families)" if f.families else ""
    cards = [("Records linked", f"{f.records:,}", "accepted input rows"),
             ("Persons", f"{f.persons:,}", "people after linking"),
             ("Families", f"{f.families:,}", "households formed"),
             ("Eligible families", f"{f.eligible:,}", share.strip(" ()") or "of families"),
             ("Pairs to review", f"{f.review_pairs:,}", "uncertain matches")]
    html_cards = "".join(f'<div class="card"><div class="card-label">{_e(a)}</div>'
                         f'<div class="card-value">{_e(b)}</div><div class="card-note">{_e(c)}</div></div>'
                         for a, b, c in cards)
    return _section("summary", f'<div class="cards">{html_cards}</div>'
                    f"<p>{f.records:,} accepted records were linked into {f.persons:,} persons, living in "
                    f"{f.families:,} families. {f.eligible:,} families{share} meet the family rule of this "
                    f"criteria set. {_count(f.review_pairs, 'record pair')} "
                    + ("was" if f.review_pairs == 1 else "were") + " too uncertain to link automatically and "
                    + ("waits" if f.review_pairs == 1 else "wait") + " for clerical review.</p>")


def _run_section(record: RunRecord, generated: dt.datetime) -> str:
    cfg, criteria_set = record.config, record.criteria_set
    facts = [("Reference date", _date(cfg.as_of)),
             ("Criteria set", f"{criteria_set.title} ({criteria_set.name})"),
             ("Report made", _when(generated))]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    rows = []
    for name, src in cfg.sources.items():
        v = record.validated.get(name)
        rows.append([name, src.kind, src.path.name, _n(v.rows_read) if v is not None else "not read"])
    inputs = _table(["Source", "Agency", "File", "Rows read"], rows, numeric={3},
                    caption="Inputs named in the run config")
    timing_rows = []
    timings, memory = record.times.seconds, record.times.peak_memory_mb
    for stage, secs in timings.items():
        mem = memory.get(stage)
        timing_rows.append([stage, _secs(secs), "" if mem is None else f"{mem:,.0f}"])
    if timings:
        timing_rows.append(["total so far", _secs(sum(timings.values())),
                            f"{max(memory.values()):,.0f}" if memory else ""])
        times = _table(["Stage", "Time", "Peak memory (MB)"], timing_rows, numeric={1, 2},
                       caption="How long each stage took", last_row_total=True)
        note = ("<p class=\"note\">The report is written during the last stage (writing the outputs), "
                "so that stage's time is in manifest.json, not here.</p>"
                if "write outputs" not in timings else "")
    else:
        times, note = "<p>No stage timings were recorded for this run.</p>", ""
    return _section("run", f"<dl class=\"facts\">{dl}</dl>{inputs}{times}{note}")


def _quality_section(validated: dict) -> str:
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
    intro = ("<p>Every row read is either accepted or rejected; none is dropped silently. A rejected "
             "row failed a check that makes it unusable (a required value blank, a value not allowed); "
             "it is listed with its row number and reason in <code>rejected/SOURCE.csv</code>. A warning "
             "means one optional value (a date of birth, a postcode, an identifier) failed its check "
             "and was blanked: the row itself was kept.</p>")
    check = ("<p>Read = accepted + rejected holds for every source.</p>" if balanced else
             '<p class="alert">Read does not equal accepted + rejected for some source: please tell the '
             "analyst who ran this.</p>")
    chart = _figure(charts.source_quality_chart(names, acc, rej), "Rows read per source: accepted and rejected.") \
        if names else ""
    reasons = top_reasons(validated)
    if len(reasons):
        reasons_html = _table(["Reason", "Rows", "Sources"],
                              [[r.reason, _n(r.rows), r.sources] for r in reasons.itertuples()],
                              numeric={1}, caption="Commonest reasons for rejecting a row")
    else:
        reasons_html = "<p>No row was rejected.</p>"
    warns = top_warnings(validated)
    warns_html = (_table(["Warning", "Rows", "Sources"], [[r.reason, _n(r.rows), r.sources] for r in warns.itertuples()],
                         numeric={1}, caption="Commonest warnings (a value blanked, the row kept)")
                  if len(warns) else "<p>No value was blanked.</p>")
    return _section("data-quality", intro + table + check + chart
                    + _block("Why rows were rejected", reasons_html)
                    + _block("Values blanked", warns_html))


def _linkage_section(f: _Facts, linkage) -> str:
    stats = linkage.stats if isinstance(linkage.stats, dict) else {}
    flow = (f'<div class="flow"><div><span>{f.records:,}</span>records</div><div class="arrow">&rarr;</div>'
            f'<div><span>{f.persons:,}</span>persons</div><div class="arrow">&rarr;</div>'
            f'<div><span>{f.families:,}</span>families</div></div>')
    stat_rows = []
    for key, label in (("candidate_pairs", "Candidate pairs found by blocking"),
                       ("pairs_scored", "Pairs scored (with clerical decisions read back)"),
                       ("links_accepted", "Pairs linked"),
                       ("links_vetoed", "Pairs above the threshold but held back by a veto (not linked)"),
                       ("links_stopped_by_identifier_conflict", "Pairs above the threshold but with conflicting identifiers"),
                       ("clerical_decisions_applied", "Clerical decisions applied from the last review"),
                       ("components_split", "Groups split because they held conflicting identifiers")):
        if isinstance(stats.get(key), (int, np.integer)):
            stat_rows.append([label, _n(stats[key])])
    stat_rows.append(["Pairs waiting for clerical review", _n(f.review_pairs)])
    inc = stats.get("incremental")
    if isinstance(inc, dict):
        stat_rows += [["Records new or changed since the previous run", _n(inc["records_new"] + inc["records_changed"])],
                      ["Pairs compared in this run (the others' comparisons reused from the previous run)",
                       _n(inc["pairs_compared"])]]
    stat_table = _table(["", "Count"], stat_rows, numeric={1}, caption="How the linking went")

    weights = _pair_weights(linkage.pairs)
    if weights is not None and len(weights):
        band = ""
        if f.match_weight is not None and f.review_weight is not None:
            linked = "" if f.match_probability is None else f" (a probability of {f.match_probability:.0%} or more)"
            in_review = "" if f.review_probability is None else f" (probability {f.review_probability:.0%} or more)"
            band = (f" Pairs scoring {f.match_weight:.1f} or more are linked{linked}; pairs "
                    f"from {f.review_weight:.1f} up to the threshold{in_review} go to "
                    "clerical review (the shaded band).")
        lo, hi = charts.weight_range(weights, f.match_weight, f.review_weight)
        finite = weights[np.isfinite(weights)]
        below, above = int((finite < lo).sum()), int((finite > hi).sum())
        ends = ""
        if below or above:
            ends = " So that the band stays readable, the range is cut: " + " and ".join(
                x for x in (f"{_count(below, 'pair')} below {lo:.0f} counted in the leftmost bar" if below else "",
                            f"{_count(above, 'pair')} above {hi:.0f} in the rightmost" if above else "") if x) + "."
        hist = _figure(charts.match_weight_histogram(weights, f.match_weight, f.review_weight),
                       f"{len(finite):,} candidate pairs by match weight. Each step of 1 doubles the odds that "
                       "the two records are the same person." + band + ends)
    else:
        hist = "<p>No candidate pairs were scored in this run, so there is no match-weight histogram.</p>"

    rl = linkage.record_links
    per_person = rl.groupby("person_id").size() if len(rl) else pd.Series(dtype=int)
    labels, counts = top_coded(per_person.to_numpy(), TOP_RECORDS_PER_PERSON)
    single = int((per_person == 1).sum())
    per_person_chart = _figure(charts.count_bars(labels, counts, xlabel="records joined into the person",
                                                 ylabel="persons", title="Persons by number of records"),
                               f"Persons by number of records. {single:,} of {f.persons:,} persons "
                               f"({single / f.persons:.0%}) rest on a single record." if f.persons else "") \
        if labels else ""
    members = linkage.members
    per_family = members.groupby("family_id")["person_id"].nunique() if len(members) else pd.Series(dtype=int)
    labels, counts = top_coded(per_family.to_numpy(), TOP_FAMILY_SIZE)
    per_family_chart = _figure(charts.count_bars(labels, counts, xlabel="persons in the family", ylabel="families",
                                                 title="Families by number of persons", color=charts.GREEN),
                               f"Families by number of persons ({TOP_FAMILY_SIZE} or more grouped).") \
        if labels else ""
    review = (f"<p>The <strong>review queue</strong> holds {_count(f.review_pairs, 'pair')} of records "
              "that may or may not be the same person. They are in <code>review_pairs.csv</code> (full "
              "output profile only); an analyst marks each pair match or non-match, and the next run "
              "reads the decisions back.</p>")
    return _section("linkage", flow + stat_table + _block("Match scores", hist)
                    + _block("Sizes", f'<div class="pair">{per_person_chart}{per_family_chart}</div>') + review)


def _need_section(f: _Facts, scored, criteria_set) -> str:
    matrix = scored.need_matrix
    names = [c for c in criteria_set.criteria if c in matrix.columns]
    no_data = set(scored.no_data)
    summary = scored.summary
    status = {}
    sources = {}
    if isinstance(summary, pd.DataFrame) and "criterion" in summary:
        for r in summary.to_dict("records"):
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
    chart = _figure(charts.criteria_chart(titles, counts, f.families),
                    "Families meeting each criterion. A criterion marked “no data” had no extract "
                    "in this run: it is unknown, not zero, and counts as not met in the family rule.") if names else ""
    partial = [c for c in names if status.get(c) == "partial data"]
    partial_note = (f"<p class=\"note\">Partial data: {_e(', '.join(partial))} "
                    "had some but not all of the extracts it draws on, so it may be undercounted.</p>") if partial else ""

    combos = need_combinations(matrix, [c for c, n in zip(names, counts) if n is not None])
    with_need = int((pd.to_numeric(matrix["criteria_met"], errors="coerce").fillna(0) > 0).sum()) \
        if "criteria_met" in matrix else 0
    if combos:
        shown = sum(n for _, n in combos)
        combo_chart = _figure(charts.combinations_chart([c for c, n in zip(names, counts) if n is not None], combos),
                              f"The {len(combos)} commonest combinations of criteria met. Each column is one "
                              "combination: the dots below show which criteria, the bar how many families meet "
                              f"exactly those. They cover {shown:,} of the {with_need:,} families meeting at "
                              "least one criterion.")
    else:
        combo_chart = "<p>No family meets any criterion, so there are no combinations to show.</p>"

    districts = district_counts(matrix)
    if len(districts):
        d_rows = [[r.district, r.shown] for r in districts.itertuples()]
        d_table = _table(["Postcode district", "Eligible families"], d_rows, numeric={1},
                         caption="Eligible families by postcode district")
        full = districts[~districts["suppressed"] & (districts["district"] != NOT_KNOWN)].head(TOP_DISTRICTS_CHARTED)
        d_chart = _figure(charts.district_chart(full["district"].tolist(), full["families"].tolist()),
                          "Eligible families by postcode district (districts shown in full only"
                          + (f"; the {TOP_DISTRICTS_CHARTED} largest" if len(full) == TOP_DISTRICTS_CHARTED else "")
                          + ").") if len(full) >= 3 else ""
        d_note = (f"<p class=\"note\">A district with fewer than {MIN_CELL} eligible families shows “&lt;{MIN_CELL}”. "
                  "“not shown” marks a larger count held back so that the small ones cannot be worked out "
                  "from the total. A family's district is the one most of its members' postcodes give; "
                  "“not known” means no member had a valid postcode.</p>")
        district_html = f'<div class="pair">{d_table}{d_chart}</div>{d_note}'
    else:
        district_html = "<p>No family is eligible, so there is no table by district.</p>"

    size = pd.to_numeric(matrix.get("members"), errors="coerce").fillna(0).astype(int) if "members" in matrix else None
    if size is not None and len(size):
        eligible = pd.to_numeric(matrix["eligible"], errors="coerce") == 1
        labels, all_counts = top_coded(size[size > 0].to_numpy(), TOP_FAMILY_SIZE)
        _, el_counts = top_coded(size[eligible & (size > 0)].to_numpy(), TOP_FAMILY_SIZE)
        el_counts = el_counts + [0] * (len(labels) - len(el_counts))
        size_chart = _figure(charts.family_size_chart(labels, all_counts, el_counts),
                             f"Families by number of members ({TOP_FAMILY_SIZE} or more grouped), all families "
                             "and eligible families.")
    else:
        size_chart = ""
    return _section("need", table + partial_note + chart + _block("Needs that come together", combo_chart)
                    + _block("Where eligible families live", district_html)
                    + _block("Family size", size_chart))


_GROUP_COLUMNS = {"records": "Records", "persons": "Persons", "multi_agency_share": "Known to 2+ agencies",
                  "single_record_share": "Single-record share",
                  "expected_single_record_share": "Expected from its agencies",
                  "possibly_under_linked": "Possibly under-linked", "mean_link_weight": "Mean link weight",
                  "review_share": "Pairs sent to review"}


def _group_quality_section(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return _section("linkage-quality", "<p>Not available in this run: the linking stage did not report "
                        "linkage quality by group.</p>")
    frame = frame[[c for c in frame.columns if str(c).lower() not in _PERSONAL]]
    if frame.empty:
        return _section("linkage-quality", "<p>No group was large enough to report (groups under the minimum "
                        "size are suppressed).</p>" + _GROUP_HOW)
    if "group_type" in frame.columns and "group" in frame.columns:
        parts = [(str(t), g.drop(columns="group_type")) for t, g in frame.groupby("group_type", sort=False)]
    else:
        parts = [("", frame)]
    html_parts = [_flagged_groups(frame)]
    for gtype, g in parts:
        headers = [_GROUP_COLUMNS.get(str(c), str(c).replace("_", " ").capitalize()) for c in g.columns]
        if gtype and "group" in g.columns:
            headers[list(g.columns).index("group")] = gtype.capitalize()
        numeric = {i for i, c in enumerate(g.columns)
                   if pd.api.types.is_numeric_dtype(g[c]) and not pd.api.types.is_bool_dtype(g[c])}
        rows = [[_cell(v, str(col)) for col, v in zip(g.columns, rec)] for rec in g.itertuples(index=False)]
        html_parts.append(_table(headers, rows, numeric=numeric,
                                 caption=f"Linkage quality by {gtype}" if gtype else "Linkage quality by group"))
        if "single_record_share" in g.columns and "group" in g.columns and len(g) > 1:
            share = pd.to_numeric(g["single_record_share"], errors="coerce")
            ok = share.notna()
            if ok.any():
                html_parts.append(_figure(
                    charts.share_chart(g.loc[ok, "group"].astype(str).tolist(), share[ok].tolist(),
                                       xlabel="records left as single-record persons",
                                       title=f"Single-record share by {gtype or 'group'}"),
                    f"Share of records left as single-record persons, by {gtype or 'group'}: a bar much longer "
                    "than the rest points at under-linking in that group."))
    return _section("linkage-quality", "".join(html_parts) + _GROUP_HOW)


def _flagged_groups(frame: pd.DataFrame) -> str:
    """One sentence naming the groups flagged as possibly under-linked (or saying none is)."""
    if "possibly_under_linked" not in frame.columns:
        return ""
    flagged = frame[frame["possibly_under_linked"].fillna(False).astype(bool)]
    if flagged.empty:
        return ("<p><strong>No group is flagged as possibly under-linked</strong>: in every group shown, "
                "records are left on their own about as often as the agencies they come from would lead "
                "us to expect.</p>")
    names = [f"{_e(r.get('group_type', 'group'))} {_e(r['group'])} ({_cell(r['single_record_share'], 'share')} "
             f"of its records on their own, against {_cell(r['expected_single_record_share'], 'share')} expected)"
             for _, r in flagged.iterrows()]
    return ("<p><strong>Possibly under-linked</strong>: " + "; ".join(names) + ". Look at these groups' "
            "records in the review queue first.</p>")


_GROUP_HOW = ("<h3>How to read this</h3><p>Each row is a group of people: an ethnic group as the agencies "
              "recorded it, an age band, sex or postcode district. Names are spelled, ordered and shared "
              "differently across communities, and a matcher can miss links in one group that it finds in "
              "another. A group with many more <strong>single-record persons</strong> than the others, or "
              "fewer persons known to more than one agency, or more pairs sent to review, may be "
              "<strong>under-linked</strong>: some of its people are split into several persons, and their "
              "families' needs undercounted. The review queue is the place to check. Groups under the minimum "
              "size are suppressed, so that no one can be picked out.</p>"
              "<p><strong>Expected from its agencies</strong>: some agencies see a person once (the police, "
              "for one incident) and some see them again and again (a school, every term), so a group seen "
              "mostly by the first kind has more single-record persons for a good reason. This column is the "
              "share of single-record persons the group would have if each of its records was left on its "
              "own as often as that agency's records are across the whole population. A group is marked "
              "<strong>possibly under-linked</strong> when its single-record share is at least one and a half "
              "times this expected share and at least 2 percentage points above it. A flag is a prompt to "
              "look, not a finding: check the group's pairs in the review queue. A person's records split "
              "into two persons are counted in a group only where they carry its value, so a split record "
              "with no ethnicity recorded shows up under age band or postcode district, not under "
              "ethnicity.</p>")


def _rule_html(node, cs) -> str:
    """The family rule as nested plain-English lists."""
    from criteria.language import AllOf, AnyOf
    if isinstance(node, str):
        item = cs.criteria.get(node) or cs.conditions.get(node)
        title = item.title if item is not None else node
        return f"<strong>{_e(node)}</strong>: {_e(title)}" if title != node else f"<strong>{_e(node)}</strong>"
    if isinstance(node, AllOf):
        head = "all of these"
    elif isinstance(node, AnyOf):
        head = "any one of these"
    elif node.counting == "indicators":
        head = f"at least {node.n} needs (indicators, counted one by one) within these"
    else:
        head = f"at least {node.n} of these {len(node.items)}"
    if all(isinstance(i, str) for i in node.items):
        # Plain names: the criteria are listed in full just below.
        return f"{head}: " + ", ".join(f"<strong>{_e(i)}</strong>" for i in node.items)
    inner = "".join(f"<li>{_rule_html(i, cs)}</li>" for i in node.items)
    return f"{head}:<ul>{inner}</ul>"


def _explanations_section(f: _Facts, criteria_set, cfg) -> str:
    items = []
    for c in criteria_set.criteria.values():
        inds = [criteria_set.indicators[i].title for i in c.indicators if i in criteria_set.indicators]
        sub = ("<ul>" + "".join(f"<li>{_e(t)}</li>" for t in inds) + "</ul>") if inds else ""
        how = ("met when any of these is found:" if len(inds) > 1 else "met when this is found:") if inds else ""
        items.append(f"<li><strong>{_e(c.name)}</strong>: {_e(c.title)}"
                     + (f". {_e(c.description)}" if c.description else "") + f"; {how}{sub}</li>")
    conditions = "".join(f"<li><strong>{_e(c.name)}</strong>: {_e(c.title)}</li>"
                         for c in criteria_set.conditions.values())
    eligible = (f"<h3>Eligible</h3><div class=\"rule\">Under <em>{_e(criteria_set.title)}</em>, a family is "
                f"<strong>eligible</strong> when, using records up to the reference date {_date(cfg.as_of)}, "
                f"it meets {_rule_html(criteria_set.rule, criteria_set)}.</div>"
                + (f"<p>{_e(criteria_set.description)}</p>" if criteria_set.description else "")
                + f"<p>The criteria, and what each looks for in the agencies' records:</p><ul class=\"criteria\">{''.join(items)}</ul>"
                + (f"<p>Family conditions:</p><ul>{conditions}</ul>" if conditions else "")
                + "<p>A criterion with no data in this run (no extract from the agency it needs) is shown "
                  "as “no data”, never as 0, and cannot count towards eligibility. "
                  "<code>evidence.csv</code> lists the records that made each family meet each criterion; "
                  "<code>hnf-match criteria show</code> prints every indicator's exact window and threshold.</p>")
    review = ("<h3>The review queue</h3><p>Agencies record the same person differently: a nickname, a "
              "typing slip, a missing date of birth. The matcher scores each pair of records that could be "
              "the same person; pairs scoring above the link threshold are joined, pairs well below are "
              "kept apart, and pairs in between go to the <strong>review queue</strong> "
              "(<code>review_pairs.csv</code>) for a person to decide. Until someone decides, those records "
              "stay apart, so a family's needs may be split across two records of one person.</p>")
    weight = ("<h3>Match weight</h3><p>The match weight of a pair adds up the evidence field by field "
              "(name, date of birth, address, identifiers): agreement adds, disagreement subtracts. A weight "
              "of 0 means even odds; each point up doubles the odds that the two records are one person, "
              "each point down halves them.</p>")
    words = ("<h3>Person and family</h3><p>A <strong>person</strong> is a set of records, from one or more "
             "agencies, linked as the same individual. A <strong>family</strong> is the persons living at "
             "the same address on the reference date (helped by tenancy and benefit-claim references); a "
             "member under 18 on the reference date is a child.</p>")
    privacy = (f"<h3>Small numbers</h3><p>This report is meant to be shared with a project group. It shows "
               f"counts only. Where a count could point at a handful of families in a small area (a "
               f"postcode district with fewer than {MIN_CELL} eligible families), it shows “&lt;{MIN_CELL}”. "
               f"Families and persons are grouped at {TOP_FAMILY_SIZE} or more members.</p>")
    return _section("explanations", eligible + review + weight + words + privacy)


def _footer() -> str:
    return ('<footer><p>Made by hnf-match. The full outputs (need matrix, evidence, members, rejected rows) '
            "are in the same folder and hold personal data: share them only under the data sharing "
            "agreement.</p></footer>")


# ---------------------------------------------------------------------------------------------
# Small HTML helpers

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


def _count(n: int, word: str) -> str:
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
        return pd.to_numeric(pairs["match_weight"], errors="coerce").to_numpy(dtype=float)
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


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: set[int] = frozenset(),
           caption: str = "", last_row_total: bool = False) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""
    head = "".join(f'<th scope="col"{cls(i)}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = []
    for k, row in enumerate(rows):
        total = last_row_total and k == len(rows) - 1
        cells = "".join((f'<th scope="row"{cls(i)}>' if i == 0 else f"<td{cls(i)}>") + _e(v)
                        + ("</th>" if i == 0 else "</td>") for i, v in enumerate(row))
        row_class = ' class="total"' if total else ""
        body.append(f"<tr{row_class}>{cells}</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _figure(svg: str, caption: str) -> str:
    return f'<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>'


def _block(title: str, inner: str) -> str:
    """A sub-heading kept on one printed page with what it heads."""
    return f'<div class="block"><h3>{_e(title)}</h3>{inner}</div>'


def _section(sid: str, inner: str) -> str:
    title = dict(SECTIONS)[sid]
    return f'<section id="{sid}" aria-labelledby="{sid}-h"><h2 id="{sid}-h">{_e(title)}</h2>{inner}</section>'


CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --band: #f6f8fa; --accent: #0072B2; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
header { border-bottom: 3px solid var(--accent); padding-bottom: .75rem; margin-bottom: 1rem; }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .06em; font-size: .8rem; }
h1 { margin: .2rem 0 .4rem; font-size: 1.7rem; line-height: 1.2; }
h2 { margin: 2.2rem 0 .8rem; font-size: 1.35rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { margin: 1.6rem 0 .5rem; font-size: 1.05rem; }
.lede { margin: 0; color: var(--muted); }
nav ol { display: flex; flex-wrap: wrap; gap: .35rem 1.2rem; list-style: none; padding: 0; margin: 0 0 1rem; font-size: .92rem; }
nav a { color: var(--accent); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; margin: .5rem 0 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--band); }
.card-label { font-size: .8rem; color: var(--muted); }
.card-value { font-size: 1.6rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card-note { font-size: .8rem; color: var(--muted); }
.flow { display: flex; align-items: center; gap: .8rem; margin: .5rem 0 1rem; flex-wrap: wrap; }
.flow > div:not(.arrow) { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .9rem; text-align: center; }
.flow span { display: block; font-size: 1.4rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.flow .arrow { font-size: 1.5rem; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: .2rem 0 .4rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .7rem .3rem 0; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; }
tbody th { font-weight: normal; }
.num { white-space: nowrap; text-align: right; font-variant-numeric: tabular-nums; padding-left: .7rem; }
thead th.num { white-space: normal; min-width: 4.5rem; }   /* long headings wrap; figures never do */
tr.total th, tr.total td { font-weight: 650; border-top: 2px solid var(--ink); }
figure { margin: .75rem 0 1.25rem; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: var(--muted); margin-top: .3rem; max-width: 48rem; }
.pair { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.pair > * { flex: 1 1 18rem; min-width: 0; }
.rule { margin: 0 0 1rem; }
ul.criteria > li { margin-bottom: .35rem; }
ul.criteria ul { margin: .1rem 0 0; color: var(--muted); }
.note { font-size: .88rem; color: var(--muted); }
.alert { border-left: 4px solid #D55E00; padding: .3rem .7rem; background: #fff4ec; }
code { font-size: .88em; background: var(--band); padding: 0 .2em; border-radius: 3px; }
footer { margin-top: 3rem; border-top: 1px solid var(--line); padding-top: .6rem; font-size: .85rem; color: var(--muted); }
@media print {
  @page { size: A4; margin: 15mm 14mm; }
  html { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  figure, table, .cards, .flow, .block { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""

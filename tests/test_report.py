"""report.html as a document: it parses, holds every section and chart, asks for nothing over the
network, and never shows a name, date of birth, full postcode or identifier from the input."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import random
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

SAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "sample_data" / "config.yaml"
SECTION_IDS = ("summary", "run", "data-quality", "linkage", "need", "linkage-quality", "explanations")
AS_OF = "2026-09-30"

# Invented names nobody would write in a report's own text.
FORENAMES = ["Zephyrine", "Balthazar", "Orlaith", "Thaddeus", "Ysolde", "Peregrine", "Wilhelmina",
             "Cassius", "Eulalie", "Florizel", "Isembard", "Lysander", "Marigoldine", "Octavian",
             "Rosalindra", "Sebastiano", "Tamsinelle", "Ulrichsen", "Valentijn", "Wenceslao"]
SURNAMES = ["Quillfeather", "Brackenridge", "Thistlewood", "Marchbanks", "Ravensworth", "Fairweatherly",
            "Hollowmere", "Pennywhistle", "Ashcombe-Vine", "Drummelzier", "Grimsthorpe", "Kettleburn",
            "Lindqvarn", "Morrowgate", "Nettlebridge", "Oakhanger", "Pemberthwaite", "Quarrendon",
            "Rushwickham", "Swinbrooke"]
STREETS = ["Quernmoor Lane", "Silverbirch Rise", "Tanglewood Court", "Wyvernhill Road"]
DISTRICTS = ["LS6"] * 10 + ["LS7"] * 5 + ["BD3"] * 3 + ["HX1"] * 2   # one a family
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
ETHNICITY = ["White British", "Pakistani", "White British", "Black African"]


def nhs_number(n: int) -> str:
    base = 400000000 + n * 7919
    while True:
        nine = f"{base:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(nine, range(10, 1, -1))) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return nine + str(check)
        base += 1


def ni_number(n: int) -> str:
    return f"JK{300000 + n * 37:06d}{'ABCD'[n % 4]}"


def upn(n: int) -> str:
    body = f"93{n:010d}"[:11] + "7"
    total = sum((int(c) if c.isdigit() else UPN_LETTERS.index(c)) * pos for pos, c in enumerate(body, start=2))
    return UPN_LETTERS[total % 23] + body


class SmallWorld:
    """Twenty families in four postcode districts, known to housing, benefits, schools, police
    and domestic abuse services; needs are dealt so that some families are eligible and some not."""

    def __init__(self, seed: int = 7):
        rng = random.Random(seed)
        self.rows: dict[str, list[dict]] = {k: [] for k in ("housing", "benefits", "schools", "police", "dv")}
        self.people: list[dict] = []
        n = 0
        for f, district in enumerate(DISTRICTS):
            surname = SURNAMES[f]
            postcode = f"{district} {1 + f % 9}{'ABDEFGHJLN'[f % 10]}{'PQRSTUWXYZ'[(f * 3) % 10]}"
            uprn = str(100090000000 + f * 1013)
            address = f"{10 + f} {STREETS[f % len(STREETS)]}"
            n_adults, n_children = 1 + f % 2, f % 4
            members = []
            for a in range(n_adults + n_children):
                n += 1
                child = a >= n_adults
                born = dt.date(2012 + a, 1 + (f + a) % 12, 1 + (3 * f + a) % 27) if child else \
                    dt.date(1975 + (f * 2 + a) % 20, 1 + (f + 5 * a) % 12, 1 + (2 * f + a) % 27)
                person = {"forename": FORENAMES[(f + 3 * a) % len(FORENAMES)], "surname": surname,
                          "ethnicity": ETHNICITY[f % len(ETHNICITY)],
                          "dob": born, "sex": "MF"[(f + a) % 2], "address": address, "postcode": postcode,
                          "uprn": uprn, "nhs_number": nhs_number(n), "ni_number": "" if child else ni_number(n),
                          "upn": upn(n) if child else "", "child": child}
                members.append(person)
                self.people.append(person)
            adults = [p for p in members if not p["child"]]
            children = [p for p in members if p["child"]]
            for p in adults:
                self.add("housing", p, event_type="tenancy", event_date="2024-05-01", tenancy_ref=f"TEN{f:04d}",
                         rent_arrears_gbp="0")
            if f % 3 != 2:
                self.add("benefits", adults[0], benefit_type="UC", out_of_work="yes", claim_ref=f"CLM{f:04d}",
                         role="claimant", claim_start="2025-03-01", claim_end="")
            if f % 4 == 0:
                self.add("housing", adults[0], event_type="arrears", event_date="2026-06-15",
                         tenancy_ref=f"TEN{f:04d}", rent_arrears_gbp="812.50")
            for c in children:
                absent = 20 if f % 2 == 0 else 1
                for year, term in (("2025/26", "autumn"), ("2025/26", "spring"), ("2025/26", "summer")):
                    self.add("schools", c, school_urn="100500", academic_year=year, term=term,
                             sessions_possible="120", sessions_unauthorised=str(absent),
                             sessions_authorised="2", fixed_term_exclusions="0",
                             permanent_exclusion="no", alternative_provision="no")
            if f % 2 == 0:
                self.add("police", adults[-1], event_type="offence", offence_category="theft",
                         outcome="charged", role="offender", event_date="2026-02-11")
            if f % 5 == 1:
                self.add("dv", adults[0], role="victim", risk_level="high", marac="yes", event_date="2026-04-02")
        # Harder cases: records that disagree with the person's others, for the review queue and the
        # match-weight histogram; an NHS number that fails its check (blanked, a warning).
        p = self.people[4]
        self.add("police", {**p, "forename": p["forename"][0], "surname": p["surname"][:-2] + "ey",
                            "dob": p["dob"].replace(day=p["dob"].month, month=p["dob"].day) if p["dob"].day <= 12
                            else p["dob"].replace(day=p["dob"].day - 1),
                            "nhs_number": "", "ni_number": "", "uprn": "", "address": "", "postcode": ""},
                 event_type="incident", offence_category="", outcome="", role="victim", event_date="2026-03-03")
        p = self.people[2]
        self.add("dv", {**p, "surname": p["surname"][:3] + p["surname"][4:], "nhs_number": "", "ni_number": "",
                        "uprn": "", "address": "Flat 2, 7 Hollin Street", "sex": ""},
                 role="victim", risk_level="standard", marac="no", event_date="2026-05-05")
        p = self.people[14]
        self.add("benefits", {**p, "nhs_number": p["nhs_number"][:9] + str((int(p["nhs_number"][9]) + 1) % 10)},
                 benefit_type="HB", out_of_work="no", claim_ref="", role="claimant", claim_start="2025-01-01",
                 claim_end="")
        # A row each extract will reject (blank required date), for the data-quality section.
        self.add("housing", self.people[0], event_type="tenancy", event_date="", tenancy_ref="", rent_arrears_gbp="")
        self.add("police", self.people[1], event_type="incident", offence_category="", outcome="",
                 role="bystander", event_date="2026-01-05")

    def add(self, source: str, person: dict, **fields) -> None:
        rows = self.rows[source]
        row = {"record_id": f"{source[:2].upper()}{len(rows) + 1:05d}",
               **{k: person[k] for k in ("forename", "surname", "sex", "address", "postcode", "uprn",
                                         "nhs_number", "ni_number", "upn", "ethnicity")},
               "dob": person["dob"].strftime("%d/%m/%Y")}
        row.update(fields)
        rows.append(row)

    def write(self, folder: Path, output: str = "out") -> Path:
        import yaml
        sources = {}
        for source, rows in self.rows.items():
            path = folder / f"{source}.csv"
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
                w.writeheader()
                w.writerows(rows)
            sources[source] = {"path": path.name}
        cfg = {"as_of": AS_OF, "criteria": "troubled-families-2015", "sources": sources, "output": output,
               "max_rejected_share": 0.5, "max_warning_share": 0.5,
               # Thresholds given as weights, high enough that a few near-misses wait for review.
               "linkage": {"thresholds": {"match_weight": 15.0, "review_weight": 5.0}}}
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------------
# Reading the report as a document

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background",
                  "cite", "manifest", "ping"}


class Document(HTMLParser):
    """What a browser would see: element ids, tags, URL-bearing attributes, CSS url()s and the
    text, with a check that every element opened is closed in order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.tags: Counter = Counter()
        self.urls: list[str] = []
        self.text: list[str] = []
        self.attr_text: list[str] = []
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()
        if self.stack:
            self.problems.append(f"unclosed elements: {self.stack[-5:]}")

    def handle_starttag(self, tag, attrs):
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self._attrs(tag, attrs)

    def _attrs(self, tag, attrs):
        self.tags[tag] += 1
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.ids.append(value)
            if name in URL_ATTRIBUTES:
                self.urls.append(value)
            if name == "style" or "url(" in value:
                self.styles.append(value)
            self.attr_text.append(value)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)

    @property
    def visible(self) -> str:
        return " ".join(self.text)

    def words(self) -> set[str]:
        return set(re.findall(r"[^\W\d_][\w'’-]*", self.visible + " " + " ".join(self.attr_text)))


def check_document(text: str) -> Document:
    """The checks every report must pass, whatever the run."""
    doc = Document(text)
    assert not doc.problems, doc.problems[:5]
    assert text.startswith("<!DOCTYPE html>")
    for sid in SECTION_IDS:
        assert doc.ids.count(sid) == 1, f"section {sid} missing or repeated"
    assert len(doc.ids) == len(set(doc.ids)), "an id is used twice"
    # Nothing from a network: no scripts, stylesheets, frames, images or fonts to fetch.
    for tag in ("script", "link", "iframe", "img", "object", "embed", "video", "audio", "base"):
        assert doc.tags[tag] == 0, f"<{tag}> in the report"
    for url in doc.urls:
        assert url.startswith("#"), f"a reference outside the document: {url[:40]}"
    for css in doc.styles:
        for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
            assert target.startswith("#"), f"a CSS url() outside the document: {target[:40]}"
        assert "@import" not in css and "@font-face" not in css
    low = text.lower()
    assert "http:" not in low and "https:" not in low and "//" not in text
    return doc


# ---------------------------------------------------------------------------------------------
# What must never be in the report: read from the extracts as the run read them

PERSONAL_FIELDS = ("forename", "surname", "dob", "address", "postcode", "uprn", "nhs_number", "ni_number", "upn")
NAME_FIELDS = ("forename", "surname")


def personal_values(cfg) -> tuple[set[str], set[str]]:
    """(names, other values) in the run's extracts: names as words (as written and title-cased),
    and dates of birth (as written, ISO and long form), full postcodes (spaced and not),
    addresses and identifiers as strings."""
    from pipeline.ingest import read_extract
    from schemas.validate import parse_dates

    names: set[str] = set()
    values: set[str] = set()
    for src in cfg.sources.values():
        frame = read_extract(src).frame
        for field in PERSONAL_FIELDS:
            col = frame[field].fillna("").astype(str).str.strip()
            col = col[col.str.len() > 0]
            if field in NAME_FIELDS:
                for v in col.unique():
                    for part in re.split(r"[\s\-']+", v):
                        if len(part) > 1:
                            names.update({part, part.title()})
            elif field == "dob":
                values.update(v for v in col.unique() if len(v) >= 6)
                for d in parse_dates(col).dropna().unique():
                    d = pd.Timestamp(d)
                    values.update({d.strftime("%Y-%m-%d"), d.strftime("%d/%m/%Y"), f"{d.day} {d:%B %Y}"})
            elif field == "postcode":
                for v in col.str.upper().unique():
                    compact = re.sub(r"\s+", "", v)
                    if len(compact) >= 5:
                        values.update({compact, compact[:-3] + " " + compact[-3:], v})
            elif field == "uprn":
                values.update(v.lstrip("0") for v in col.unique() if len(v.lstrip("0")) >= 6)
            else:
                values.update(v for v in col.unique() if len(v) >= 6)
    return names, values


def leaked(text: str, doc: Document, names: set[str], values: set[str], allowed_words: set[str] = frozenset()) -> list[str]:
    found = sorted((doc.words() & names) - allowed_words)
    low = text.lower()
    found += sorted(v for v in values if v.lower() in low)
    return found


# ---------------------------------------------------------------------------------------------
# A whole run through the pipeline (the report is written by reports/outputs.py)

@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    """(cfg, the run's record, report text, the record the writers were given) of a whole run."""
    import reports.outputs
    from pipeline.config import load_config
    from pipeline.run import run_pipeline

    folder = tmp_path_factory.mktemp("world")
    cfg = load_config(SmallWorld().write(folder))
    seen = {}
    write = reports.outputs.write_run_outputs

    def spy(folder, record):
        seen["record"] = record
        return write(folder, record)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reports.outputs, "write_run_outputs", spy)
        result = run_pipeline(cfg)
    text = (cfg.output / "report.html").read_text(encoding="utf-8")
    return cfg, result, text, seen["record"]


def test_report_from_a_run_is_a_self_contained_document(world_run):
    text = world_run[2]
    doc = check_document(text)
    # Every chart is inline SVG with a label for screen readers. (The district chart needs three
    # districts shown in full; this run has one, and the table says it all.)
    labels = re.findall(r'<svg role="img" aria-label="([^"]*)"', text)
    assert len(labels) == doc.tags["svg"] == text.count("<svg")
    for wanted in ("Rows read per source", "Histogram of candidate pairs by match weight", "Persons by number of records",
                   "Families by number of persons", "Families meeting each criterion", "combinations of criteria met",
                   "Families by number of members"):
        assert sum(wanted in label for label in labels) == 1, wanted


def test_report_from_a_run_shows_no_personal_value(world_run):
    cfg, text = world_run[0], world_run[2]
    names, values = personal_values(cfg)
    assert len(names) > 30 and len(values) > 100   # the check itself reads the extracts
    doc = Document(text)
    assert leaked(text, doc, names, values) == []


def test_report_from_a_run_tells_the_run_s_numbers(world_run):
    cfg, result, text, _ = world_run
    doc = Document(text)
    visible = re.sub(r"\s+", " ", doc.visible)
    counts = result.counts
    assert f"{counts['records']:,} accepted records were linked into {counts['persons']:,} persons" in visible
    assert f"{counts['families']:,} families. {counts['eligible_families']:,} families" in visible
    n = counts["review_pairs"]
    assert n >= 1 and f"The review queue holds {n:,} pair{'' if n == 1 else 's'} of records" in visible
    # Two criteria of the 2015 set have no extract in this run: "no data", never 0.
    assert set(result.counts["criteria_no_data"]) == {"children_need_help", "health"}
    for title in ("Children who need help", "Parents or children with physical or mental health problems"):
        assert re.search(re.escape(title) + r" no data no data", visible), title
    # Every source with its rows read, and the rejection reasons (text only).
    for name, v in result.validated.items():
        assert re.search(rf"{name} {name} {name}\.csv {v.rows_read:,} ", visible)
    assert "required event_date is blank" in visible
    # Thresholds given as weights in this config: quoted as weights, no probability invented.
    assert "link threshold (15.0)" in text and "review from (5.0)" in text
    assert "Pairs scoring 15.0 or more are linked;" in visible
    # Districts: a count under 5 never shows as a number.
    table = re.search(r"Eligible families by postcode district Postcode district Eligible families (.*?) A district",
                      visible).group(1)
    for district, shown in re.findall(r"([A-Z]{1,2}[0-9][0-9A-Z]?|not known) (\S+(?: shown)?)", table):
        assert shown in ("<5", "not shown") or int(shown.replace(",", "")) >= 5, (district, shown)
    assert "LS6" in table and "<5" in table


# ---------------------------------------------------------------------------------------------
# Hand-built runs: the edges a real run rarely shows

GENERATED = dt.datetime(2026, 10, 1, 9, 30, tzinfo=dt.timezone.utc)


def hand_built(*, families: list[dict] | None = None, rejected_reasons: tuple[str, ...] = (),
               pairs: pd.DataFrame | None = None, quality=None, source_name: str = "housing"):
    """The record of a one-source run with the families given as need-matrix rows (criterion
    columns of troubled-families-2015; blank = no data), the default linkage thresholds."""
    from criteria import load_criteria
    from criteria.engine import CriteriaResult
    from matching.linkage import LinkageResult
    from matching.settings import LinkageSettings
    from pipeline.config import RunConfig, SourceConfig
    from reports.record import RunRecord, StageTimes, Thresholds
    from schemas.validate import Validated

    cs = load_criteria("troubled-families-2015")
    families = families if families is not None else []
    crit = list(cs.criteria)
    rows = []
    for i, fam in enumerate(families):
        row = {"family_id": f"F{i + 1:06d}", "members": fam.get("members", 2), "adults": 1,
               "children": fam.get("members", 2) - 1, "postcode_district": fam.get("district", "LS6")}
        for c in crit:
            row[c] = fam.get(c, pd.NA if c in ("children_need_help", "health") else 0)
        row["criteria_met"] = sum(1 for c in crit if row[c] is not pd.NA and row[c] == 1)
        row["eligible"] = fam.get("eligible", int(row["criteria_met"] >= 2))
        rows.append(row)
    matrix = pd.DataFrame(rows, columns=["family_id", "members", "adults", "children", "postcode_district", *crit,
                                         "criteria_met", "eligible"])
    for c in crit + ["members", "adults", "children", "criteria_met", "eligible"]:
        matrix[c] = matrix[c].astype("Int64")
    members = pd.DataFrame([{"family_id": r["family_id"], "person_id": f"P{i * 10 + k + 1:06d}"}
                            for i, r in enumerate(rows) for k in range(int(r["members"]))],
                           columns=["family_id", "person_id"])
    links = members.assign(source=source_name, record_id=[f"R{k}" for k in range(len(members))], match_score=float("nan"))
    summary = pd.DataFrame([{"criterion": c, "title": cs.criteria[c].title,
                             "families_meeting": pd.NA if c in ("children_need_help", "health") else int((matrix[c] == 1).sum()),
                             "families": len(matrix),
                             "status": "no data" if c in ("children_need_help", "health") else "data",
                             "sources": "" if c in ("children_need_help", "health") else source_name,
                             "indicators_without_data": ""} for c in crit])
    scored = CriteriaResult(need_matrix=matrix, evidence=pd.DataFrame(), no_data=["children_need_help", "health"],
                            summary=summary)
    pairs = pairs if pairs is not None else pd.DataFrame(columns=["source_l", "record_id_l", "source_r", "record_id_r",
                                                                  "match_weight", "match_probability", "status"])
    review = pd.DataFrame({"decision": [""] * int((pairs.get("status", pd.Series(dtype=object)) == "review").sum())})
    linkage = LinkageResult(record_links=links[["source", "record_id", "person_id", "family_id", "match_score"]],
                            members=members, review_pairs=review, pairs=pairs,
                            stats={"candidate_pairs": len(pairs), "links_accepted": 0})
    n_rej = len(rejected_reasons)
    rejected = pd.DataFrame({"row_number": range(2, 2 + n_rej), "column": ["x"] * n_rej, "reason": list(rejected_reasons)})
    validated = {source_name: Validated(source=source_name, kind="housing", path="in.csv", rows_read=len(links) + n_rej,
                                        accepted=pd.DataFrame(index=range(len(links))), rejected=rejected,
                                        warnings=pd.DataFrame(columns=["row_number", "column", "reason"]))}
    cfg = RunConfig(path=Path("config.yaml"), as_of=dt.date(2026, 9, 30), criteria=cs.name,
                    sources={source_name: SourceConfig(name=source_name, kind="housing", path=Path("in.csv"))},
                    output=Path("out"))
    times = StageTimes(seconds={"ingest and validate": 0.5, "link": 61.2},
                       peak_memory_mb={"ingest and validate": 100.0, "link": 180.0})
    return RunRecord(config=cfg, started=GENERATED, layout="families-as-rows", validated=validated,
                     records=pd.DataFrame(), criteria_set=cs, linkage=linkage, decisions=None, id_changes=None,
                     quality_by_group=quality, scored=scored, baselines=pd.DataFrame(), outcomes=None,
                     thresholds=Thresholds.of(LinkageSettings.defaults()), counts={}, times=times)


def render(record) -> str:
    from reports.html import render_report
    return render_report(record, generated=GENERATED)


def test_an_empty_run_still_makes_a_whole_report():
    text = render(hand_built())
    doc = check_document(text)
    visible = " ".join(doc.visible.split())
    assert "No family is eligible, so there is no table by district." in visible
    assert "No family meets any criterion" in visible
    assert "No candidate pairs were scored in this run" in visible
    assert "Not available in this run" in visible


def test_no_data_is_never_shown_as_zero():
    fams = [{"crime_asb": 1, "worklessness": 1}, {"education": 1}, {}]
    text = render(hand_built(families=fams))
    visible = " ".join(Document(text).visible.split())
    for title in ("Children who need help", "Parents or children with physical or mental health problems"):
        assert f"{title} no data no data" in visible          # criteria table: families, data status
    assert "Adults out of work or at risk of financial exclusion 1 33.3% data" in visible
    for row in re.findall(r"<tr><th scope=\"row\">(?:children_need_help|health)</th>.*?</tr>", text):
        assert ">0<" not in row and ">no data<" in row
    # in the chart too: a bar label "no data", no "0 (0%)" for them
    svg = re.findall(r"<svg.*?</svg>", text, flags=re.S)
    criteria_svg = next(s for s in svg if "Families meeting each criterion" in s)
    assert criteria_svg.count(">no data<") == 2
    assert criteria_svg.count(">0 (0%)<") == 1                 # domestic_abuse: data, and no family


def test_small_district_counts_are_suppressed_so_they_cannot_be_worked_out():
    from reports.html import district_counts
    fams = ([{"district": "LS6", "eligible": 1}] * 7 + [{"district": "LS7", "eligible": 1}] * 2
            + [{"district": "BD3", "eligible": 1}] * 6 + [{"district": "ZZ99 3VZ", "eligible": 1}]
            + [{"district": "HX1", "eligible": 0}] * 9)
    record = hand_built(families=fams)
    table = district_counts(record.scored.need_matrix)
    shown = dict(zip(table["district"], table["shown"]))
    # LS7 (2) is small; with "not known" (1) the held-back cells add up to 3, under 5, so the next
    # smallest (BD3, 6) is held back too. HX1 has no eligible family and is not listed. A value
    # that is not an outward code (a full or pseudo postcode) is never printed.
    assert shown == {"LS6": "7", "BD3": "not shown", "LS7": "<5", "not known": "<5"}
    assert list(table["district"])[-1] == "not known"
    text = render(record)
    assert "ZZ99" not in text and "3VZ" not in text
    visible = " ".join(Document(text).visible.split())
    assert "LS6 7 BD3 not shown LS7 <5 not known <5" in visible


def test_district_counts_hold_nothing_back_when_every_count_is_large():
    from reports.html import district_counts
    fams = [{"district": "LS6", "eligible": 1}] * 5 + [{"district": "LS7", "eligible": 1}] * 9
    table = district_counts(hand_built(families=fams).scored.need_matrix)
    assert list(zip(table["district"], table["shown"])) == [("LS7", "9"), ("LS6", "5")]
    assert not table["suppressed"].any()


def test_combinations_count_families_per_exact_set_of_criteria():
    from reports.html import need_combinations
    fams = ([{"crime_asb": 1, "worklessness": 1}] * 3 + [{"worklessness": 1}] * 4 + [{"education": 1}]
            + [{"crime_asb": 1, "education": 1, "worklessness": 1}] * 3 + [{}] * 5)
    matrix = hand_built(families=fams).scored.need_matrix
    combos = need_combinations(matrix, ["crime_asb", "education", "worklessness", "domestic_abuse"])
    assert combos == [(frozenset({"worklessness"}), 4), (frozenset({"crime_asb", "worklessness"}), 3),
                      (frozenset({"crime_asb", "education", "worklessness"}), 3), (frozenset({"education"}), 1)]
    assert need_combinations(matrix, ["crime_asb"], top=1) == [(frozenset({"crime_asb"}), 6)]


def test_size_distributions_group_the_largest_sizes():
    from reports.html import top_coded
    assert top_coded([1, 1, 3, 9, 12, 8], top=8) == (["1", "2", "3", "4", "5", "6", "7", "8+"], [2, 0, 1, 0, 0, 0, 0, 3])
    assert top_coded([], top=8) == ([], [])


def test_rejection_reasons_are_counted_one_by_one():
    from reports.html import top_reasons
    reasons = ("required event_date is blank; not an allowed event_type (allowed: tenancy, arrears)",
               "required event_date is blank", "record_id repeated in this file (every row with it is rejected)")
    top = top_reasons(hand_built(rejected_reasons=reasons).validated)
    assert top.to_dict("records")[0] == {"reason": "required event_date is blank", "rows": 2, "sources": "housing"}
    assert set(top["reason"]) == {"required event_date is blank", "record_id repeated in this file (every row with it is rejected)",
                                  "not an allowed event_type (allowed: tenancy, arrears)"}


def test_match_weights_show_with_threshold_and_review_band():
    weights = [-30.0] * 50 + [3.0, 4.5, 5.5] + [25.0] * 20
    pairs = pd.DataFrame({"match_weight": weights, "status": ["non-link"] * 50 + ["review"] * 3 + ["link"] * 20})
    text = render(hand_built(families=[{"worklessness": 1}], pairs=pairs))
    visible = " ".join(Document(text).visible.split())
    # The default thresholds are probabilities (0.99 and 0.80): quoted with their weights.
    assert "Pairs scoring 6.6 or more are linked (a probability of 99% or more)" in visible
    assert "from 2.0 up to the threshold (probability 80% or more)" in visible
    assert "50 pairs below -18 counted in the leftmost bar" in visible
    assert "The review queue holds 3 pairs of records" in visible
    hist = next(s for s in re.findall(r"<svg.*?</svg>", text, flags=re.S) if "review band" in s)
    assert "link threshold (6.6)" in hist and "review from (2.0)" in hist


def test_linkage_quality_by_group_is_shown_with_how_to_read_it():
    quality = pd.DataFrame({"group_type": ["ethnicity", "ethnicity", "age band"], "group": ["Group A", "Group B", "25-44"],
                            "records": [120, 80, 150], "persons": [50, 40, 60], "multi_agency_share": [0.5, 0.25, 0.4],
                            "single_record_share": [0.1, 0.3, 0.12], "mean_link_weight": [20.5, 18.25, 19.0],
                            "review_share": [0.01, 0.05, 0.02]})
    text = render(hand_built(families=[{"worklessness": 1}], quality=quality))
    doc = check_document(text)
    visible = " ".join(doc.visible.split())
    assert "Ethnicity Records Persons Known to 2+ agencies Single-record share" in visible
    assert "Group B 80 40 25.0% 30.0% 18.25 5.0%" in visible
    assert "How to read this" in visible and "under-linked" in visible and "suppressed" in visible
    assert "Not available in this run" not in visible
    assert any("Single-record share by ethnicity" in s for s in re.findall(r"<svg.*?</svg>", text, flags=re.S))


def test_linkage_quality_by_group_from_the_matching_stage(world_run):
    """The frame matching.quality makes for a real run, shown as it comes (groups it suppressed
    stay out)."""
    from matching.quality import quality_by_group

    cfg, _, _, record = world_run
    quality = quality_by_group(record.records, record.linkage)
    assert len(quality)
    text = render(dataclasses.replace(record, quality_by_group=quality))
    doc = check_document(text)
    visible = " ".join(doc.visible.split())
    # "White British" as the agencies wrote it, on the ONS 2021 scheme (matching.ethnicity)
    assert "Linkage quality by ethnicity" in visible
    assert "White: English, Welsh, Scottish, Northern Irish or British" in visible
    names, values = personal_values(cfg)
    assert leaked(text, doc, names, values) == []


def test_text_from_the_run_is_escaped():
    text = render(hand_built(families=[{"worklessness": 1}], source_name="<b>housing&co</b>",
                             rejected_reasons=("<script>x</script>",)))
    doc = check_document(text)
    assert doc.tags["b"] == 0 and doc.tags["script"] == 0
    assert "<b>housing&co</b>" in doc.visible and "&lt;b&gt;housing&amp;co&lt;/b&gt;" in text


def test_the_same_run_gives_the_same_report():
    record = hand_built(families=[{"worklessness": 1, "crime_asb": 1}] * 6)
    assert render(record) == render(record)


def test_markup_and_styles_are_package_files_and_the_styles_are_inlined():
    from importlib.resources import files
    templates = files("reports").joinpath("templates")
    css = templates.joinpath("report.css").read_text(encoding="utf-8")
    assert templates.joinpath("report.html.j2").is_file()
    for mark in ("{{", "{%", "{#"):          # the template includes the styles as they are
        assert mark not in css
    text = render(hand_built())
    style = re.search(r"<style>(.*?)</style>", text, flags=re.S).group(1)
    assert style.strip() == css.strip()


def test_stage_times_are_readable():
    text = render(hand_built())
    visible = " ".join(Document(text).visible.split())
    assert "ingest and validate 0.5 s 100" in visible and "link 1 min 01 s 180" in visible
    assert "total so far 1 min 02 s 180" in visible
    assert "that stage's time is in manifest.json" in visible


# ---------------------------------------------------------------------------------------------
# The committed sample data, end to end

@pytest.mark.skipif(not SAMPLE_CONFIG.is_file(), reason="no sample data in this checkout")
def test_report_on_the_sample_data(tmp_path, world_run):
    from pipeline.config import load_config
    from pipeline.run import run_pipeline

    cfg = load_config(SAMPLE_CONFIG, output=tmp_path / "out")
    result = run_pipeline(cfg)
    text = (cfg.output / "report.html").read_text(encoding="utf-8")
    doc = check_document(text)
    assert doc.tags["svg"] >= 7
    names, values = personal_values(cfg)
    assert len(names) > 100 and len(values) > 1000
    # A name that is also a word this report uses anyway (a heading, a criterion title) cannot be
    # told apart from it; the small world's report, which holds none of these names, gives those words.
    template_words = Document(world_run[2]).words()
    assert leaked(text, doc, names, values, allowed_words=template_words) == []
    visible = " ".join(doc.visible.split())
    assert f"{result.counts['eligible_families']:,} families" in visible
    # The match model: the sample's forename initials weigh more than a whole forename agreeing.
    assert "forename: the partial level 'initial'" in visible and "weighs more than 'exact'" in visible

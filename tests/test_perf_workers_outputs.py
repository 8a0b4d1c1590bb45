"""Validation per source and criteria per indicator shared among processes, and a whole run on
a generated set: the same outputs, file for file, with one worker or two (issue 19)."""
import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.stages import ingest_and_validate
from reports.families import _agencies, _modes

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "config.yaml"


def test_validation_per_source_is_the_same_with_one_worker_or_two():
    cfg = load_config(SAMPLE)
    said = []
    one = ingest_and_validate(dataclasses.replace(cfg, workers=1))
    two = ingest_and_validate(dataclasses.replace(cfg, workers=2), progress=said.append)
    assert list(one) == list(two) == list(cfg.sources)          # config order, whatever finished first
    assert said == [f"validate {name}" for name in cfg.sources]
    for name in one:
        a, b = one[name], two[name]
        assert (a.rows_read, a.notes) == (b.rows_read, b.notes)
        for part in ("accepted", "rejected", "warnings"):
            pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part))
    assert sum(len(v.accepted) for v in two.values()) > 2000


def test_a_bad_source_fails_the_same_way_from_a_worker(tmp_path):
    import shutil
    folder = tmp_path / "s"
    shutil.copytree(SAMPLE.parent, folder)
    cfg = load_config(folder / "config.yaml")
    last = list(cfg.sources.values())[-1]
    last.path.write_bytes(b"\xff\xfe\x00garbage\x00\n" * 3)
    from schemas.errors import HnfError
    errors = []
    for workers in (1, 2):
        with pytest.raises(HnfError) as caught:
            ingest_and_validate(dataclasses.replace(cfg, workers=workers))
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]


def test_criteria_per_indicator_are_the_same_with_one_worker_or_two():
    from criteria import load_criteria
    from criteria.engine import score_families
    from matching.linkage import link_records
    from matching.settings import LinkageSettings
    from pipeline.stages import stack_person_records
    cfg = load_config(SAMPLE)
    validated = ingest_and_validate(cfg)
    records = stack_person_records(validated, cfg.as_of)
    linkage = link_records(records, LinkageSettings.from_dict(cfg.linkage), cfg.as_of)
    extracts = {n: v.accepted for n, v in validated.items()}
    kinds = {n: v.kind for n, v in validated.items()}
    criteria_set = load_criteria(cfg.criteria)
    one, two = (score_families(extracts, kinds, linkage.record_links, linkage.members, criteria_set, cfg.as_of,
                               workers=w) for w in (1, 2))
    assert len(criteria_set.indicators) > 2
    pd.testing.assert_frame_equal(one.need_matrix, two.need_matrix)
    pd.testing.assert_frame_equal(one.evidence, two.evidence)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    assert one.no_data == two.no_data and one.warnings == two.warnings
    assert int(one.need_matrix["eligible"].fillna(0).astype(int).sum()) > 0


def test_quality_by_group_is_the_same_whatever_the_slice_of_pairs(monkeypatch):
    import matching.quality as quality
    from matching.linkage import link_records
    from matching.settings import LinkageSettings
    from pipeline.stages import load_records
    cfg, _, records = load_records(SAMPLE)
    res = link_records(records, LinkageSettings.from_dict(cfg.linkage), cfg.as_of)
    whole = quality.quality_by_group(records, res)
    monkeypatch.setattr(quality, "PAIRS_A_SLICE", 101)
    assert len(res.pairs) > 50 * 101
    sliced = quality.quality_by_group(records, res)
    pd.testing.assert_frame_equal(whole, sliced)
    assert whole["mean_link_weight"].notna().any() and whole["review_share"].notna().any()


def test_family_address_is_the_commonest_with_ties_to_the_first_in_sort_order():
    family = pd.Series(["F1", "F1", "F1", "F2", "F2", "F3", "F4", "F4"], index=[9, 9, 3, 4, 5, 6, 7, 8])
    values = pd.Series(["b road", " a road", "b road", "z st", "y st", None, "", "  "], index=family.index)
    got = _modes(family, values)
    assert got.to_dict() == {"F1": "b road", "F2": "y st"}      # F3, F4: nothing but blanks
    agencies = pd.Series(["police;schools", "asb", None, "dv", "", None, "housing;asb", "asb"], index=family.index)
    assert _agencies(family, agencies).to_dict() == {"F1": "asb;police;schools", "F2": "dv", "F3": "",
                                                     "F4": "asb;housing"}


# -- a whole run, file for file -----------------------------------------------------------------

# What differs between any two runs of the same data: when it ran, how long each stage took, its
# memory, and the report's chart element IDs (matplotlib draws new ones each time).
_VOLATILE = {"timings_seconds", "peak_memory_mb", "started_utc", "finished_utc", "seconds", "run_id", "output",
             "config", "workers", "path"}


def _scrub(x):
    if isinstance(x, dict):
        if isinstance(x.get("files"), dict):
            x = {**x, "files": {k: v for k, v in x["files"].items() if not k.endswith(".html")}}
        return {k: _scrub(v) for k, v in x.items() if k not in _VOLATILE}
    if isinstance(x, list):
        return [_scrub(v) for v in x]
    return x


def _html(text: str) -> str:
    text = re.sub(r'"run_id": "[^"]*"', "", text)
    text = re.sub(r"\d+ \w+ \d{4} at \d\d:\d\d UTC", "", text)
    text = "\n".join(line for line in text.splitlines()
                     if not re.match(r'<tr( class="total")?><th scope="row">[^<]*</th><td class="num">[\d.,]+ s</td>',
                                     line))
    text = re.sub(r'\bc[0-9a-f]{8,}-', "c-", text)
    text = re.sub(r'id="c-[mp][0-9a-f]+"', "", text)
    text = re.sub(r'xlink:href="#c-m[0-9a-f]+"', "", text)
    return re.sub(r"url\(#[^)]*\)", "", text)


def same_outputs(a: Path, b: Path) -> list[str]:
    """The files of two output folders that differ in more than when and how fast they were made."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    other = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    differ = [str(p) for p in set(files) ^ set(other)]
    for rel in set(files) & set(other):
        x, y = (a / rel).read_bytes(), (b / rel).read_bytes()
        if x == y:
            continue
        if rel.name == "manifest.json" and _scrub(json.loads(x)) == _scrub(json.loads(y)):
            continue
        if rel.suffix == ".html" and _html(x.decode()) == _html(y.decode()):
            continue
        differ.append(str(rel))
    return sorted(differ)


@pytest.mark.slow
def test_a_generated_run_writes_the_same_files_with_one_worker_or_two(tmp_path):
    from synth import generate
    from pipeline.run import run_pipeline
    generate(tmp_path / "in", rows=20_000, seed=11, formats="csv")
    cfg = load_config(tmp_path / "in" / "config.yaml")
    for workers in (1, 2):
        run_pipeline(dataclasses.replace(cfg, workers=workers, output=tmp_path / f"w{workers}"))
    files = {p.name for p in (tmp_path / "w1").iterdir()}
    assert {"record_links.csv", "members.csv", "need_matrix.csv", "evidence.csv", "families.csv",
            "review_pairs.csv", "link_explanations.csv", "linkage_state"} <= files
    assert same_outputs(tmp_path / "w1", tmp_path / "w2") == []
    m = json.loads((tmp_path / "w2" / "manifest.json").read_text())
    assert m["counts"]["records"] > 18_000


@pytest.mark.parametrize("bom", [False, True])
def test_a_long_csv_written_a_slice_at_a_time_has_the_same_bytes(tmp_path, monkeypatch, bom):
    import datetime as dt

    import numpy as np

    from reports import writers
    n = 1_000
    rng = np.random.default_rng(3)
    mixed = np.array([None] * n, dtype=object)
    mixed[::7] = "=cmd"
    mixed[3] = dt.datetime(2026, 1, 2, 13, 5)     # a date-time only in the first slice
    mixed[990] = 17
    frame = pd.DataFrame({
        "id": np.arange(n),
        "whole_late": np.r_[np.arange(500.0), np.arange(499.0) + 0.5, np.nan],   # whole only in the first half
        "match_weight": np.round(rng.normal(size=n), 3),
        "flag": rng.random(n) > 0.5,
        "when": pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "text": [f'a "quoted", {i}' if i % 250 == 0 else f"-{i}" if i % 3 else "" for i in range(n)],
        "mixed": mixed,
        "cat": pd.Categorical(rng.choice(["x", "+y", "z"], n)),
    })
    writers.write_csv(frame, tmp_path / "whole.csv", bom=bom)
    monkeypatch.setattr(writers, "ROWS_A_SLICE", 97)
    writers.write_csv(frame, tmp_path / "sliced.csv", bom=bom)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "sliced.csv").read_bytes()
    text = (tmp_path / "sliced.csv").read_text(encoding="utf-8-sig")
    assert text.count("\nid,") == 0 and len(pd.read_csv(tmp_path / "sliced.csv", encoding="utf-8-sig")) == n

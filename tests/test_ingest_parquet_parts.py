"""A source given as a folder or a glob of Parquet parts, as a data lake holds them: read in
file-name order as one extract, row numbers continuing across parts, every problem named by
part and row, parts that disagree refused, the parts protected and hashed like any input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.ingest import read_extract
from pipeline.run import check_output_paths, run_pipeline
from pipeline.stages import ingest_and_validate
from schemas.errors import ConfigError, InputDataError, OutputInTheWay
from tests.conftest import HOUSING_HEADER, housing_row, write_config

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def housing_frame(n: int, start: int = 0, **over) -> pd.DataFrame:
    rows = [housing_row(f"H{i}", uprn=str(100000 + i), **over) for i in range(start, start + n)]
    return pd.DataFrame(rows, columns=HOUSING_HEADER)


def write_parts(folder: Path, frames: list[pd.DataFrame], *, markers: bool = True) -> Path:
    """Parts as Spark writes them: part-0000N.parquet, with _SUCCESS and .crc files beside."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        frame.reset_index(drop=True).to_parquet(folder / f"part-{i:05d}.parquet", index=False)
        if markers:
            (folder / f".part-{i:05d}.parquet.crc").write_bytes(b"\x00crc")
    if markers:
        (folder / "_SUCCESS").write_bytes(b"")
    return folder


def split3(frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [frame.iloc[ix] for ix in np.array_split(np.arange(len(frame)), 3)]


# -- reading ------------------------------------------------------------------------------------

def test_folder_of_parts_reads_as_one_extract_in_file_name_order(tmp_path):
    whole = housing_frame(30)
    parts = split3(whole)
    # Written out of order: the run reads them by file name, not by when they were written.
    write_parts(tmp_path / "housing", [parts[2], parts[0], parts[1]])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing/"}}))
    src = cfg.sources["housing"]
    assert [p.name for p in src.parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    raw = read_extract(src)
    assert raw.rows_read == 30
    assert raw.frame.row_number.tolist() == list(range(1, 31))
    want = [f"H{i}" for i in list(range(20, 30)) + list(range(0, 20))]
    assert raw.frame.record_id.tolist() == want
    assert raw.parts == [("housing/part-00000.parquet", 1), ("housing/part-00001.parquet", 11),
                         ("housing/part-00002.parquet", 21)]


def test_glob_of_parts_and_markers_ignored(tmp_path):
    write_parts(tmp_path / "lake" / "housing", split3(housing_frame(12)))
    (tmp_path / "lake" / "housing" / "notes.txt").write_text("not a part")
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "lake/housing/*.parquet"}}))
    src = cfg.sources["housing"]
    assert [p.name for p in src.parts] == [f"part-0000{i}.parquet" for i in range(3)]
    # A folder: _SUCCESS, .crc files and anything not .parquet/.pq are left alone too.
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "lake/housing"}}))
    assert [p.name for p in cfg.sources["housing"].parts] == [f"part-0000{i}.parquet" for i in range(3)]
    v = ingest_and_validate(cfg)["housing"]
    assert (v.rows_read, len(v.accepted), len(v.rejected)) == (12, 12, 0)
    assert "read from 3 Parquet parts" in v.notes


def test_a_plain_parquet_file_has_no_parts(tmp_path):
    housing_frame(3).to_parquet(tmp_path / "housing.parquet", index=False)
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.parquet"}}))
    assert cfg.sources["housing"].parts == ()
    v = ingest_and_validate(cfg)["housing"]
    assert "file" not in v.rejected.columns and "file" not in v.warnings.columns


@pytest.mark.parametrize("path, words", [
    ("empty/", "the folder holds no Parquet file (.parquet, .pq)"),
    ("markers/", "the folder holds no Parquet file (.parquet, .pq)"),
    ("nothing/*.parquet", "no Parquet file (.parquet, .pq) matches the pattern"),
    ("markers/*", "no Parquet file (.parquet, .pq) matches the pattern"),
])
def test_empty_folder_or_glob_matching_nothing_is_a_config_error(tmp_path, path, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "markers").mkdir()
    (tmp_path / "markers" / "_SUCCESS").write_bytes(b"")
    config = write_config(tmp_path, {"housing": {"path": path}})
    with pytest.raises(ConfigError) as e:
        load_config(config)
    text = str(e.value)
    assert words in text and "housing" in text and str(tmp_path / path.rstrip("/")) in text
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 2 and words in r.output


def test_a_partitioned_folder_is_refused_not_half_read(tmp_path):
    write_parts(tmp_path / "housing" / "year=2026", [housing_frame(2)])
    with pytest.raises(ConfigError, match=r"sub-folder \(year=2026\)"):
        load_config(write_config(tmp_path, {"housing": {"path": "housing"}}))
    # A glob names the files of a partitioned layout; labels keep the sub-folder.
    write_parts(tmp_path / "housing" / "year=2025", [housing_frame(3, start=10)])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing/*/*.parquet"}}))
    raw = read_extract(cfg.sources["housing"])
    assert raw.parts == [("housing/year=2025/part-00000.parquet", 1), ("housing/year=2026/part-00000.parquet", 4)]
    assert raw.frame.record_id.tolist() == ["H10", "H11", "H12", "H0", "H1"]


# -- parts that disagree ------------------------------------------------------------------------

def test_a_part_missing_a_column_names_the_part_and_column(tmp_path):
    a, b, c = split3(housing_frame(9))
    write_parts(tmp_path / "housing", [a, b.drop(columns="postcode"), c])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing"}}))
    with pytest.raises(InputDataError) as e:
        ingest_and_validate(cfg)
    text = str(e.value)
    assert "part-00001.parquet: column postcode is missing" in text and "part-00000.parquet has it" in text
    assert "Testperson" not in text and "ab1 2xy" not in text
    r = invoke("validate", "--config", str(cfg.path))
    assert r.exit_code == 3 and "part-00001.parquet: column postcode is missing" in r.output


def test_a_part_with_an_extra_column_or_another_type_is_refused(tmp_path):
    a, b, c = split3(housing_frame(9))
    write_parts(tmp_path / "extra", [a, b, c.assign(note="x")])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "extra"}}))
    with pytest.raises(InputDataError, match=r"part-00002\.parquet: column note is not in extra/part-00000\.parquet"):
        ingest_and_validate(cfg)
    write_parts(tmp_path / "typed", [a, b.assign(uprn=b.uprn.astype("int64")), c])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "typed"}}))
    with pytest.raises(InputDataError) as e:
        ingest_and_validate(cfg)
    assert "part-00001.parquet: column uprn is of type int64, but string in typed/part-00000.parquet" in str(e.value)


def test_a_column_all_blank_in_one_part_is_no_type_clash(tmp_path):
    # pandas writes an all-None column as Parquet type null: the other parts' type stands.
    a, b, c = split3(housing_frame(9))
    write_parts(tmp_path / "housing", [a, b.assign(upn=None), c])
    v = ingest_and_validate(load_config(write_config(tmp_path, {"housing": {"path": "housing"}})))["housing"]
    assert (v.rows_read, len(v.accepted)) == (9, 9)


# -- a bad row, named by its part ---------------------------------------------------------------

def test_a_bad_row_in_part_two_names_that_part_and_its_row(tmp_path):
    a, b, c = split3(housing_frame(30))
    b = b.copy()
    b.iloc[4, HOUSING_HEADER.index("event_type")] = "flood"       # rejected: not a housing event
    b.iloc[6, HOUSING_HEADER.index("nhs_number")] = "1234567890"  # warned: fails its check digit
    write_parts(tmp_path / "housing", [a, b, c])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing"}}, max_rejected_share=0.5))
    v = ingest_and_validate(cfg)["housing"]
    # Nothing lost: read = accepted + rejected across all parts.
    assert v.rows_read == 30 and len(v.accepted) + len(v.rejected) == 30 and len(v.rejected) == 1
    rejected = v.rejected.iloc[0]
    assert (rejected.row_number, rejected.file, rejected.file_row, rejected.column) == (
        15, "housing/part-00001.parquet", 5, "event_type")
    warned = v.warnings[v.warnings.column == "nhs_number"].iloc[0]
    assert (warned.row_number, warned.file, warned.file_row) == (17, "housing/part-00001.parquet", 7)
    r = invoke("validate", "--config", str(cfg.path))
    assert r.exit_code == 0, r.output
    out = tmp_path / "out-validation"
    head = (out / "rejected" / "housing.csv").read_text().splitlines()
    assert head[0].startswith("row_number,file,file_row,column,reason,")
    assert head[1].startswith("15,housing/part-00001.parquet,5,event_type,")
    warnings = pd.read_csv(out / "warnings" / "housing.csv", dtype=str)
    assert list(warnings.columns) == ["row_number", "file", "file_row", "column", "reason"]
    assert "1234567890" not in (out / "warnings" / "housing.csv").read_text()


def test_dates_the_wrong_way_round_name_the_part_and_row(tmp_path):
    a, b, c = split3(housing_frame(9))
    b = b.copy()
    b.iloc[1, HOUSING_HEADER.index("dob")] = "04/25/1980"        # can only be month first
    write_parts(tmp_path / "housing", [a, b, c])
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing", "date_format": "dmy"}}))
    with pytest.raises(InputDataError) as e:
        ingest_and_validate(cfg)
    assert "(e.g. housing/part-00001.parquet: row 2)" in str(e.value)
    assert "04/25/1980" not in str(e.value)


# -- input protection and the manifest ----------------------------------------------------------

def test_output_inside_the_parts_folder_is_refused(tmp_path):
    write_parts(tmp_path / "housing", split3(housing_frame(9)))
    config = write_config(tmp_path, {"housing": {"path": "housing"}}, output="housing/out")
    with pytest.raises(OutputInTheWay, match="the folder of source housing's Parquet parts"):
        check_output_paths(load_config(config))
    r = invoke("run", "--config", str(config))
    assert r.exit_code == 2 and "Parquet parts" in r.output
    assert sorted(p.name for p in (tmp_path / "housing").iterdir()) == [
        ".part-00000.parquet.crc", ".part-00001.parquet.crc", ".part-00002.parquet.crc", "_SUCCESS",
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    # The parts folder itself, as the output, is refused as holding an extract.
    config = write_config(tmp_path, {"housing": {"path": "housing"}}, output="housing")
    with pytest.raises(OutputInTheWay, match="holds an agency extract"):
        check_output_paths(load_config(config))
    # A part named by a glob is protected as any extract is.
    config = write_config(tmp_path, {"housing": {"path": "housing/*.parquet"}}, output="housing")
    with pytest.raises(OutputInTheWay, match="holds an agency extract"):
        check_output_paths(load_config(config))


def _sample_config(folder: Path, schools: str, output: str) -> Path:
    text = (folder / "config.yaml").read_text(encoding="utf-8")
    assert "schools: {path: schools.parquet}" in text
    text = text.replace("schools: {path: schools.parquet}", f"schools: {{path: {schools}}}")
    path = folder / f"{output}.yaml"
    path.write_text(text.replace("output: ../out/sample", f"output: {folder / output}"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """The sample run twice: schools as one Parquet file, and as a folder of 3 parts."""
    folder = tmp_path_factory.mktemp("parts") / "data"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("quarters"))
    write_parts(folder / "schools", split3(pd.read_parquet(folder / "schools.parquet")))
    one = _sample_config(folder, "schools.parquet", "one")
    parts = _sample_config(folder, "schools/", "parts")
    for config in (one, parts):
        run_pipeline(load_config(config))
    return folder, folder / "one", folder / "parts"


@pytest.mark.slow
def test_three_parts_give_the_outputs_of_one_file(sample_runs):
    folder, one, parts = sample_runs
    names = sorted(p.relative_to(one) for p in one.rglob("*.csv"))
    assert Path("record_links.csv") in names and Path("need_matrix.csv") in names
    for name in names:
        if name.parts[0] in ("rejected", "warnings") and name.stem == "schools":
            # The same rows, with where each is in its part added.
            a, b = pd.read_csv(one / name, dtype=str), pd.read_csv(parts / name, dtype=str)
            assert list(b.columns[:3]) == ["row_number", "file", "file_row"]
            pd.testing.assert_frame_equal(a, b.drop(columns=["file", "file_row"]))
            assert len(b) and b.file.str.match(r"schools/part-0000[012]\.parquet$").all()
        else:
            assert (one / name).read_bytes() == (parts / name).read_bytes(), name
    assert len(pd.read_csv(one / "record_links.csv")) > 0


@pytest.mark.slow
def test_manifest_lists_each_part_with_its_hash(sample_runs):
    import hashlib
    folder, one, parts = sample_runs
    entry = next(i for i in json.loads((parts / "manifest.json").read_text())["inputs"] if i["source"] == "schools")
    files = [p["path"] for p in entry["parts"]]
    assert files == [str(folder / "schools" / f"part-0000{i}.parquet") for i in range(3)]
    for p in entry["parts"]:
        assert p["sha256"] == hashlib.sha256(Path(p["path"]).read_bytes()).hexdigest()
        assert p["bytes"] == Path(p["path"]).stat().st_size
    assert entry["bytes"] == sum(p["bytes"] for p in entry["parts"])
    assert entry["read"] == entry["accepted"] + entry["rejected"] == 1161
    single = next(i for i in json.loads((one / "manifest.json").read_text())["inputs"] if i["source"] == "schools")
    assert (single["read"], single["accepted"], single["rejected"]) == (entry["read"], entry["accepted"],
                                                                         entry["rejected"])


@pytest.mark.slow
def test_spark_engine_reads_the_parts_the_same(sample_runs, tmp_path):
    pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'hnf-match[spark]')")
    folder, one, _ = sample_runs
    cfg = load_config(_sample_config(folder, "schools/*.parquet", "spark"), engine="spark")
    run_pipeline(cfg)
    for name in ("record_links.csv", "need_matrix.csv", "evidence.csv"):
        assert (one / name).read_bytes() == (folder / "spark" / name).read_bytes(), name

"""The Spark engine (matching/spark/) gives the embedded engine's answer: the same standardised
frame, candidate pairs, levels, components and, end to end, byte-identical record_links.csv,
need_matrix.csv and evidence.csv on the sample and on a generated set of 20,000 rows. All on one
local[2] session for the module. Skipped, saying why, only where PySpark is not installed
(`make test` installs it: the test extra includes the spark extra)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from matching.blocking import block
from matching.cluster import components
from matching.compare import compare_pairs
from matching.linkage import standardise_records
from matching.settings import LinkageSettings
from pipeline.config import load_config
from schemas.errors import ConfigError

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "config.yaml"
pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'hnf-match[spark]')")

from matching.spark import SparkEngine, spark_session  # noqa: E402

OUTPUTS = ("record_links.csv", "need_matrix.csv", "evidence.csv", "members.csv", "review_pairs.csv")


@pytest.fixture(scope="module")
def spark():
    session, created = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
                                                  "spark.driver.memory": "1g"})
    yield session
    if created:
        session.stop()


def test_standardised_frame_is_the_same(spark, sample_records):
    _, records = sample_records
    # Some dates of birth keyed as no calendar date travel too (dob blank, dob_keyed its digits).
    records = records.copy()
    at = records.index[records["dob"].notna()][::50]
    d = records.loc[at, "dob"]
    records.loc[at, "dob_keyed"] = (d.dt.year * 10000 + (d.dt.month + 20) * 100 + d.dt.day).astype("Int64").to_numpy()
    records.loc[at, "dob"] = pd.NaT
    here = standardise_records(records)
    there = standardise_records(records, engine=SparkEngine(spark))
    pd.testing.assert_frame_equal(here.std, there.std)
    # The same kind of missing value, column by column (pd.NA is not None to every reader).
    for c in here.std.columns:
        if here.std[c].dtype == object:
            assert [type(v) for v in here.std[c]] == [type(v) for v in there.std[c]], c


def test_blocking_with_a_small_cap_skips_the_same_blocks(spark, sample_records):
    _, records = sample_records
    settings = LinkageSettings.from_dict({"blocking": {"max_block_size": 4}})
    engine = SparkEngine(spark)
    prepared = standardise_records(records, engine=engine)
    got = engine.block(prepared.std, settings)
    want = block(prepared.std, settings)
    np.testing.assert_array_equal(got.left, want.left)
    np.testing.assert_array_equal(got.right, want.right)
    np.testing.assert_array_equal(got.passes, want.passes)
    np.testing.assert_array_equal(got.skipped, want.skipped)
    assert got.skipped.any()                       # the cap did skip blocks
    strip = lambda per_pass: {k: {kk: vv for kk, vv in v.items() if kk != "seconds"} for k, v in per_pass.items()}
    assert strip(got.per_pass) == strip(want.per_pass)
    assert any(v["blocks_skipped"] for v in want.per_pass.values())


def test_levels_come_out_the_same_in_batches(spark, sample_records, monkeypatch):
    import matching.spark.engine as engine_module
    _, records = sample_records
    settings = LinkageSettings.from_dict({})
    prepared = standardise_records(records)
    cand = block(prepared.std, settings)
    monkeypatch.setattr(engine_module, "PAIRS_A_BATCH", 1000)     # many batches on each executor
    got = SparkEngine(spark).compare(settings.comparisons, prepared.cols, cand.left, cand.right)
    want = compare_pairs(settings.comparisons, prepared.cols, cand.left, cand.right)
    assert got.dtype == np.int8 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_components_by_label_propagation(spark):
    # A chain of 9 (labels must travel far), a star, a pair, and records without a link.
    l = np.array([0, 1, 2, 3, 4, 5, 6, 7, 20, 20, 20, 30], dtype=np.int32)
    r = np.array([1, 2, 3, 4, 5, 6, 7, 8, 21, 22, 23, 31], dtype=np.int32)
    order = np.random.default_rng(3).permutation(len(l))
    engine = SparkEngine(spark)
    got = engine.components(40, l[order], r[order])
    want = components(40, l, r)
    assert (pd.factorize(got)[0] == pd.factorize(want)[0]).all()
    assert got[8] == 0 and got[23] == 20 and got[39] == 39
    assert engine.rounds >= 2
    assert (engine.components(5, np.empty(0, np.int32), np.empty(0, np.int32)) == np.arange(5)).all()


def _run_both(config: Path, tmp_path: Path) -> dict:
    from pipeline.run import run_pipeline
    folders = {}
    for engine in ("local", "spark"):
        cfg = load_config(config, output=tmp_path / engine, engine=engine)
        assert cfg.engine == engine
        run_pipeline(cfg)
        folders[engine] = tmp_path / engine
    return folders


def _assert_same_outputs(folders: dict) -> None:
    for name in OUTPUTS:
        local, spark = (folders[e] / name for e in ("local", "spark"))
        assert local.read_bytes() == spark.read_bytes(), name
    assert len(pd.read_csv(folders["local"] / "record_links.csv")) > 0


@pytest.mark.slow
def test_sample_run_is_identical(spark, tmp_path):
    _assert_same_outputs(_run_both(SAMPLE, tmp_path))


@pytest.mark.slow
def test_generated_20000_rows_are_identical(spark, tmp_path):
    from synth import generate
    summary = generate(tmp_path / "data", rows=20_000, seed=2026, formats="csv")
    assert summary["rows"] >= 20_000
    folders = _run_both(tmp_path / "data" / "config.yaml", tmp_path / "out")
    _assert_same_outputs(folders)
    links = pd.read_csv(folders["spark"] / "record_links.csv")
    assert links["person_id"].nunique() < len(links)        # records were linked, not left alone


# -- the config and the command ---------------------------------------------------------------

def _config(folder: Path, extra: str) -> Path:
    text = SAMPLE.read_text(encoding="utf-8")
    path = folder / "config.yaml"
    sources = SAMPLE.parent
    text = text.replace("path: ", f"path: {sources}/")
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def test_engine_and_spark_keys(tmp_path):
    cfg = load_config(_config(tmp_path, "engine: spark\nspark: {master: 'local[1]', conf: "
                                        "{spark.sql.shuffle.partitions: 3, spark.ui.enabled: false}}\n"))
    assert cfg.engine == "spark" and cfg.spark.master == "local[1]"
    assert cfg.spark.conf == {"spark.sql.shuffle.partitions": "3", "spark.ui.enabled": "false"}
    assert load_config(SAMPLE).engine == "local"
    assert load_config(SAMPLE, engine="spark").engine == "spark"


def test_unknown_engine_names_the_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "engine: hadoop\n"))
    assert "engine" in str(err.value) and "local, spark" in str(err.value)
    with pytest.raises(ConfigError, match="spark takes"):
        load_config(_config(tmp_path, "spark: {masters: x}\n"))


def test_without_pyspark_engine_spark_is_a_config_error(tmp_path, monkeypatch):
    import pipeline.config
    from pipeline.cli import main
    monkeypatch.setattr(pipeline.config, "spark_installed", lambda: False)
    with pytest.raises(ConfigError, match="needs PySpark"):
        load_config(_config(tmp_path, "engine: spark\n"))
    result = CliRunner().invoke(main, ["run", "--config", str(SAMPLE), "--engine", "spark",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "needs PySpark" in result.output
    assert not (tmp_path / "out" / "record_links.csv").exists()
    result = CliRunner().invoke(main, ["run", "--config", str(SAMPLE), "--engine", "hadoop"])
    assert result.exit_code == 2

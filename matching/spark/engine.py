"""SparkEngine: standardise, block, compare and connected components on Spark DataFrames, with
the embedded engine's own functions doing the work, so that the result is the same.

How each step keeps the embedded engine's answer:
- standardise: `matching.standardise.standardise` on each partition of the (source, record_id)
  ordered records (`mapInPandas`). It needs no statistic of the whole frame (every value is
  standardised on its own), so a partition's rows come out as they would in one frame; the
  frame comes back to the driver typed as the embedded engine makes it (tuples, Int64, dates).
- block: for each key pass, the block sizes are a group-by, blocks over `max_block_size` are
  skipped and their records marked, and the pairs are a join on the key (left < right); a
  sorted-neighbourhood pass is a window over (value, position) with `lead`. The union ORs
  each pair's pass bits; collected, the pairs are sorted as `matching.blocking.block` sorts them.
- compare: `matching.compare.compare_pairs` on batches of pairs (`mapInPandas`), the
  standardised columns the comparisons read broadcast to the executors. A pair's levels depend
  on that pair alone, so batches give the same matrix as one call.
- components: min-label propagation over the accepted links (each record takes the smallest
  label among itself and its neighbours, then its label's label) until no label changes. Only
  which records share a label matters to the clustering that follows.
Term frequencies, EM, scoring, the guarded split, families and the tables run on the driver
(matching.linkage) over the same arrays, so no sum is taken in another order."""
from __future__ import annotations

import os
import sys
import time
import uuid

import numpy as np
import pandas as pd

from schemas.errors import ConfigError

from .. import levels as level_kinds
from ..blocking import BITS_DTYPE, Candidates, _check, _report, positions
from ..compare import Columns, compare_pairs
from ..settings import LinkageSettings
from ..standardise import standardise

# Spark properties the engine sets unless the run config gives its own.
DEFAULT_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.showConsoleProgress": "false",
}
PAIRS_A_BATCH = 200_000       # pairs compared in one call on an executor
RECORDS_A_PARTITION = 50_000  # records standardised in one task (at least one task per core)
MAX_ROUNDS = 100              # label propagation: far more than any person's chain of links


class SparkUnavailable(ConfigError):
    """engine: spark without PySpark installed (exit 2, as any config mistake)."""


def spark_installed() -> bool:
    """Whether PySpark can be imported here (without importing it: that is slow)."""
    import importlib.util
    return importlib.util.find_spec("pyspark") is not None


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("engine: spark needs PySpark, which is not installed here: "
                               "pip install 'hnf-match[spark]' (or run with engine: local)") from None
    return SparkSession


def spark_session(master: str = "local[2]", conf: dict[str, str] | None = None):
    """(session, created): the active session if there is one (a notebook's, a test's, or one
    spark-submit made), else a new one on `master` with `conf` over DEFAULT_CONF. `created`
    says whether the caller should stop it when done."""
    SparkSession = _pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    # Executors in local mode run this interpreter (its packages): a cluster's executors need
    # hnf-match installed (or shipped with --py-files) and name their own Python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("hnf-match")
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")      # Spark's own warnings are not the run's log
    return session, True


# ---------------------------------------------------------------------------------------------
# Frames to Spark and back, typed as the embedded engine types them

def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype) and series.dtype != object:
        return "bool" if series.dtype == bool else "boolean"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if isinstance(series.dtype, pd.Int64Dtype):
        return "Int64"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int64"
    if pd.api.types.is_float_dtype(series.dtype):
        return "float64"
    if series.dtype == object and any(isinstance(v, tuple) for v in series.head(1000)):
        return "tuple"
    return "text"


def _spark_type(kind: str):
    from pyspark.sql import types as T
    return {"bool": T.BooleanType(), "boolean": T.BooleanType(), "datetime": T.LongType(), "Int64": T.LongType(),
            "int64": T.LongType(), "float64": T.DoubleType(), "tuple": T.ArrayType(T.StringType()),
            "text": T.StringType()}[kind]


def _schema(kinds: dict[str, str]):
    from pyspark.sql import types as T
    return T.StructType([T.StructField("pos", T.LongType(), False)]
                        + [T.StructField(c, _spark_type(k), k not in ("datetime", "Int64", "int64", "bool"))
                           for c, k in kinds.items()])


def _present(column: str, kind: str):
    """Spark condition: the value is there (not null, not MISSING)."""
    from pyspark.sql import functions as F
    return F.col(column) != F.lit(MISSING) if kind in ("datetime", "Int64") else F.col(column).isNotNull()


MISSING = np.iinfo(np.int64).min   # a missing date or whole number, as Spark carries it


def _encode(frame: pd.DataFrame, kinds: dict[str, str], pos: np.ndarray) -> pd.DataFrame:
    """A frame as Arrow carries it: dates as nanoseconds and whole numbers as int64, missing as
    MISSING (so that no long becomes a float on the way), text as str or None, tuples as lists."""
    out = {"pos": pos.astype(np.int64)}
    for c, kind in kinds.items():
        s = frame[c]
        if kind == "datetime":
            out[c] = s.to_numpy(dtype="datetime64[ns]").view(np.int64)    # NaT is MISSING
        elif kind == "Int64":
            out[c] = s.astype("Int64").fillna(MISSING).to_numpy(np.int64)
        elif kind == "boolean":
            out[c] = s.astype("boolean")
        elif kind == "tuple":
            out[c] = pd.Series([list(v) if isinstance(v, tuple) else None for v in s], dtype=object)
        elif kind == "text":
            vals = s.astype(object).to_numpy()
            out[c] = pd.Series([None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)
                                for v in vals], dtype=object)
        else:
            out[c] = s.to_numpy()
    return pd.DataFrame(out)


def _null_like(series: pd.Series):
    """The missing value a text column holds (None, NaN or pd.NA): the same goes back in."""
    missing = series.isna().to_numpy()
    return series.to_numpy(dtype=object)[missing][0] if missing.any() else None


def _decode(frame: pd.DataFrame, kinds: dict[str, str], dtypes: dict | None = None,
            nulls: dict | None = None) -> pd.DataFrame:
    """Back from `_encode` (after Arrow), rows in `pos` order, with a RangeIndex; a text
    column's missing values as `nulls` gives them (None otherwise)."""
    frame = frame.sort_values("pos", kind="stable").reset_index(drop=True)
    out = {}
    for c, kind in kinds.items():
        s = frame[c]
        if kind == "datetime":
            out[c] = s.to_numpy(np.int64).view("datetime64[ns]")
        elif kind == "Int64":
            v = s.to_numpy(np.int64)
            out[c] = pd.array(np.where(v == MISSING, 0, v), dtype="Int64")
            out[c][v == MISSING] = pd.NA
        elif kind == "bool":
            out[c] = s.astype(bool).to_numpy()
        elif kind == "boolean":
            out[c] = s.astype("boolean")
        elif kind == "tuple":
            out[c] = np.fromiter((tuple(v) if v is not None else () for v in s), dtype=object, count=len(s))
        elif kind == "text":
            values = s.to_numpy(dtype=object).copy()
            values[s.isna().to_numpy()] = (nulls or {}).get(c)
            out[c] = values
        elif kind == "int64":
            out[c] = s.astype(np.int64).to_numpy()
        else:
            out[c] = s.to_numpy()
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    if dtypes:
        for c, dtype in dtypes.items():
            if str(result[c].dtype) != str(dtype):
                result[c] = result[c].astype(dtype)
    return result


def _blank(records: pd.DataFrame) -> pd.DataFrame:
    """One record with every field missing but its source and ID (what missing values become)."""
    row = records.iloc[:1].copy()
    for c in row.columns:
        if c in ("source", "record_id") or pd.api.types.is_integer_dtype(row[c].dtype) and \
                not isinstance(row[c].dtype, pd.Int64Dtype):
            continue
        row[c] = pd.Series([None], dtype=row[c].dtype, index=row.index) if row[c].dtype != object else None
    return row


def _standardise_partition(record_kinds: dict, record_dtypes: dict, record_nulls: dict, std_kinds: dict):
    """The mapInPandas function: each partition's records standardised by the embedded code."""
    def run(batches):
        for batch in batches:
            if not len(batch):
                continue
            records = _decode(batch, record_kinds, record_dtypes, record_nulls)
            yield _encode(standardise(records), std_kinds, batch["pos"].sort_values(kind="stable").to_numpy())
    return run


# The executors' copy of the broadcast standardised columns, per run: built into Columns once
# per Python worker (the workers are reused between tasks), so caches and memos are shared.
_WORKER_COLUMNS: dict = {}


def _columns_for(token: str, broadcast) -> tuple[list, Columns]:
    if token not in _WORKER_COLUMNS:
        _WORKER_COLUMNS.clear()
        comparisons, std = broadcast.value
        _WORKER_COLUMNS[token] = (comparisons, Columns(std))
    return _WORKER_COLUMNS[token]


def _compare_partition(token: str, broadcast, n_comp: int):
    def run(batches):
        comparisons, cols = _columns_for(token, broadcast)
        pending: list[pd.DataFrame] = []
        size = 0

        def levels_of(frames):
            f = pd.concat(frames, ignore_index=True)
            lv = compare_pairs(comparisons, cols, f["l"].to_numpy(np.int64), f["r"].to_numpy(np.int64))
            out = {"i": f["i"].to_numpy(np.int64)}
            for j in range(n_comp):
                out[f"level_{j}"] = lv[:, j]
            return pd.DataFrame(out)
        for batch in batches:
            pending.append(batch)
            size += len(batch)
            if size >= PAIRS_A_BATCH:
                yield levels_of(pending)
                pending, size = [], 0
        if pending:
            yield levels_of(pending)
    return run


def _union_all(frames: list):
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


class SparkEngine:
    """The linkage steps on a Spark session (see the module's notes). One engine links one set
    of records: `standardise` keeps the standardised DataFrame for `block`."""

    def __init__(self, session, records_a_partition: int = RECORDS_A_PARTITION):
        self.spark = session
        self.records_a_partition = records_a_partition
        self._std_df = None
        self._n = 0
        self.rounds = 0                      # label-propagation rounds of the last `components`
        self.timings: dict[str, float] = {}

    # -- standardise ---------------------------------------------------------------------------
    def standardise(self, records: pd.DataFrame) -> pd.DataFrame:
        n = len(records)
        self._n = n
        record_kinds = {c: _kind(records[c]) for c in records.columns}
        record_dtypes = {c: records[c].dtype for c in records.columns}
        record_nulls = {c: _null_like(records[c]) for c, k in record_kinds.items() if k == "text"}
        # The standardised frame's columns, types and missing values, from its first rows and a
        # blank record standardised here.
        sample = standardise(pd.concat([records.iloc[:64], _blank(records)], ignore_index=True))
        std_kinds = {c: _kind(sample[c]) for c in sample.columns}
        std_dtypes = {c: sample[c].dtype for c in sample.columns}
        std_nulls = {c: sample[c].iloc[-1] for c, k in std_kinds.items() if k == "text"}
        self._std_kinds = std_kinds
        if n == 0:
            self._std_df = self.spark.createDataFrame([], _schema(std_kinds))
            return standardise(records)
        encoded = _encode(records, record_kinds, np.arange(n))
        parts = max(self.spark.sparkContext.defaultParallelism, -(-n // self.records_a_partition))
        df = self.spark.createDataFrame(encoded, _schema(record_kinds))
        if parts > self.spark.sparkContext.defaultParallelism:
            df = df.repartition(parts)      # any split will do: each row carries its position
        std_df = df.mapInPandas(_standardise_partition(record_kinds, record_dtypes, record_nulls, std_kinds),
                                _schema(std_kinds))
        self._std_df = std_df.persist()
        std = _decode(self._std_df.toPandas(), std_kinds, std_dtypes, std_nulls)
        if len(std) != n:
            raise RuntimeError(f"spark standardise: {len(std)} rows back for {n} records")
        return std

    # -- block ---------------------------------------------------------------------------------
    def block(self, std: pd.DataFrame, settings: LinkageSettings) -> Candidates:
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        _check(settings)
        t_start = time.perf_counter()
        if self._std_df is None or self._n != len(std):
            raise RuntimeError("SparkEngine.block: standardise these records with this engine first")
        n = len(std)
        skipped = np.zeros(n, dtype=BITS_DTYPE)
        cap = settings.max_block_size
        found, oversized, keyed = [], [], []
        for k, bp in enumerate(settings.passes):
            if bp.sorted_on is not None:
                col = bp.sorted_on
                if self._std_kinds[col] not in ("text", "Int64", "int64"):
                    raise ValueError(f"sorted-neighbourhood pass {bp.name}: the Spark engine sorts text or whole "
                                     f"numbers, not {self._std_kinds[col]} ({col})")
                values = self._std_df.select("pos", F.col(col).cast("string").alias("v")) \
                                     .where(_present(col, self._std_kinds[col]))
                w = Window.orderBy("v", "pos")
                ahead = [F.lead("pos", j).over(w).alias(f"ahead_{j}") for j in range(1, bp.window)]
                near = values.select("pos", *ahead)
                for j in range(1, bp.window):
                    other = F.col(f"ahead_{j}")
                    found.append(near.where(other.isNotNull())
                                 .select(F.least("pos", other).alias("l"), F.greatest("pos", other).alias("r"),
                                         F.lit(1 << k).alias("bit")))
                continue
            present = F.lit(True)
            for c in bp.keys:
                present = present & _present(c, self._std_kinds[c])
            parts = [F.to_json(F.col(c)) if self._std_kinds[c] == "tuple" else F.col(c).cast("string") for c in bp.keys]
            keyed.append(self._std_df.where(present).select("pos", F.lit(k).alias("k"), F.lit(1 << k).alias("bit"),
                                                                F.array(*parts).alias("key")))
        if keyed:
            # Every key pass at once: (pass, key) is the block; each record with its block's size.
            sized = _union_all(keyed).withColumn("size", F.count(F.lit(1)).over(Window.partitionBy("k", "key"))) \
                                     .persist()
            oversized.append(sized.where(F.col("size") > cap).select("pos", "k", "size"))
            small = sized.where(F.col("size").between(2, cap)).select("pos", "k", "bit", "key")
            a, b = small.alias("a"), small.alias("b")
            cond = [F.col("a.k") == F.col("b.k"), F.col("a.key") == F.col("b.key"), F.col("a.pos") < F.col("b.pos")]
            found.append(a.join(b, on=cond).select(F.col("a.pos").alias("l"), F.col("b.pos").alias("r"),
                                                    F.col("a.bit")))
        t0 = time.perf_counter()
        seconds_plan = t0 - t_start
        # Job 1: the records in blocks over the cap, per pass (few: the cap keeps them rare).
        over = _union_all(oversized).toPandas() if oversized else pd.DataFrame({"pos": [], "k": [], "size": []})
        infos = {}
        for k, bp in enumerate(settings.passes):
            mine = over[over["k"] == k]
            pos, size = mine["pos"].to_numpy(np.int64), mine["size"].to_numpy(np.int64)
            skipped[pos] |= BITS_DTYPE(1 << k)
            # A block of s records over the cap is s rows here: blocks = sum of 1/s, exactly.
            blocks = int(np.rint(np.sum(1.0 / size))) if len(size) else 0
            infos[bp.name] = {"blocks_skipped": blocks, "records_in_skipped_blocks": int(len(pos))}
        seconds_over = time.perf_counter() - t0
        # Job 2: every pass's pairs, one row per pair with the OR of the passes that found it.
        t0 = time.perf_counter()
        if found:
            merged = _union_all(found).groupBy("l", "r").agg(F.bit_or("bit").alias("passes")).toPandas()
        else:
            merged = pd.DataFrame({"l": np.empty(0, np.int64), "r": np.empty(0, np.int64), "passes": np.empty(0, np.int64)})
        self.timings = {"block_plan_seconds": round(seconds_plan, 3),
                        "block_oversized_seconds": round(seconds_over, 3),
                        "block_pairs_seconds": round(time.perf_counter() - t0, 3)}
        for name in infos:      # the passes run together on Spark: no time of their own
            infos[name]["seconds"] = None
        width = max(n, 1)
        code = merged["l"].to_numpy(np.int64) * width + merged["r"].to_numpy(np.int64)
        order = np.argsort(code, kind="stable")
        code = code[order]
        passes = merged["passes"].to_numpy()[order].astype(BITS_DTYPE)
        del merged, order
        t0 = time.perf_counter()
        self._std_df.unpersist()
        if keyed:
            sized.unpersist()
        self.timings["block_finish_seconds"] = round(time.perf_counter() - t0, 3)
        return Candidates(*positions(code, width), passes, skipped, _report(settings, passes, infos))

    # -- compare -------------------------------------------------------------------------------
    def compare(self, comparisons: list, cols: Columns, l: np.ndarray, r: np.ndarray) -> np.ndarray:
        from pyspark.sql import types as T

        n_comp = len(comparisons)
        if len(l) == 0:
            return np.empty((0, n_comp), dtype=np.int8)
        reads = {c for comp in comparisons for lv in comp.levels if lv.test is not None for c in level_kinds.columns(lv.test)}
        std = cols.std[[c for c in cols.std.columns if c in reads]]
        token = uuid.uuid4().hex
        shared = self.spark.sparkContext.broadcast((comparisons, std))
        try:
            pairs = pd.DataFrame({"i": np.arange(len(l), dtype=np.int64), "l": l.astype(np.int64), "r": r.astype(np.int64)})
            parts = max(self.spark.sparkContext.defaultParallelism, -(-len(l) // PAIRS_A_BATCH))
            schema = T.StructType([T.StructField("i", T.LongType(), False)]
                                  + [T.StructField(f"level_{j}", T.ByteType(), False) for j in range(n_comp)])
            df = self.spark.createDataFrame(pairs, "i long, l long, r long").repartitionByRange(parts, "i")
            del pairs
            out = df.mapInPandas(_compare_partition(token, shared, n_comp), schema).toPandas()
        finally:
            shared.unpersist()
        order = np.argsort(out["i"].to_numpy(), kind="stable")
        if len(order) != len(l):
            raise RuntimeError(f"spark compare: {len(order)} pairs back for {len(l)}")
        return np.ascontiguousarray(out[[f"level_{j}" for j in range(n_comp)]].to_numpy(np.int8)[order])

    # -- connected components ------------------------------------------------------------------
    def components(self, n: int, l: np.ndarray, r: np.ndarray) -> np.ndarray:
        """A label per record, the same for records joined by a chain of links (the smallest
        position among them); records without a link keep their own."""
        from pyspark.sql import functions as F

        labels = np.arange(n, dtype=np.int64)
        self.rounds = 0
        if n == 0 or len(l) == 0:
            return labels
        e = self.spark.createDataFrame(pd.DataFrame({"a": l.astype(np.int64), "b": r.astype(np.int64)}))
        edges = e.unionByName(e.select(F.col("b").alias("a"), F.col("a").alias("b"))).persist()
        # Start: each record's smallest neighbour or itself.
        lab = edges.groupBy("a").agg(F.least(F.min("b"), F.first("a")).alias("label")) \
                   .withColumnRenamed("a", "node").localCheckpoint()
        while True:
            self.rounds += 1
            if self.rounds > MAX_ROUNDS:
                raise RuntimeError(f"spark components: labels still changing after {MAX_ROUNDS} rounds")
            # Each node takes its neighbours' smallest label, then that label's own label.
            via = edges.join(lab.withColumnRenamed("node", "b").withColumnRenamed("label", "nb"), on="b") \
                       .groupBy("a").agg(F.min("nb").alias("nb")).withColumnRenamed("a", "node")
            step = lab.join(via, on="node").select("node", F.col("label").alias("old"),
                                                   F.least("label", "nb").alias("label"))
            jump = step.join(step.select(F.col("node").alias("label"), F.col("label").alias("ll")), on="label", how="left") \
                       .select("node", "old", F.least("label", F.coalesce("ll", "label")).alias("label"))
            new = jump.localCheckpoint()
            changed = new.where(F.col("label") != F.col("old")).count()
            lab = new.select("node", "label")
            if changed == 0:
                break
        got = lab.toPandas()
        edges.unpersist()
        labels[got["node"].to_numpy(np.int64)] = got["label"].to_numpy(np.int64)
        return labels

"""The linkage stages on Apache Spark (PySpark DataFrames): the same code as the embedded engine,
run on a cluster's executors, giving the same result (docs/spark.md).

`SparkEngine(session)` is handed to `matching.linkage.link_records(..., engine=...)`: it
standardises through `mapInPandas`, blocks with joins on each pass's key, compares batches of
pairs through `mapInPandas` and finds the connected components of the accepted links by
iterative min-label propagation in DataFrame operations. Estimation, scoring, the guarded split
of the few conflicted components, families and the tables stay on the driver, with the existing
numpy and pandas code. PySpark is an optional extra (`pip install 'hnf-match[spark]'`)."""
from __future__ import annotations

from .engine import SparkEngine, SparkUnavailable, spark_session

__all__ = ["SparkEngine", "SparkUnavailable", "spark_session"]

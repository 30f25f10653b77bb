"""``fapiao detect --engine spark``: the detection pipeline with its temporal cycle search on Spark."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from algorithms.params import DetectionParams
from graph.store import Store
from workbench.detect import DetectionResult, run_detection
from workbench.spark_engine.cycles import SparkCycleFinder, iter_partitions
from workbench.spark_engine.session import DEFAULT_MASTER, require_pyspark, spark_session


def spark_detection(store: Store, params: DetectionParams | None = None, *, master: str = DEFAULT_MASTER,
                    conf: Mapping[str, str] | None = None, **run: Any) -> tuple[DetectionResult, str]:
    """:func:`workbench.detect.run_detection` with the cycle search on Spark (``master``; ``conf`` extra
    settings; ``run``: its other keywords). Returns the result and a line on the busiest partition.

    The Spark session is stopped afterwards unless it was already running. A failed Spark job raises before
    the store stage: no findings are stored."""
    require_pyspark()
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    spark = spark_session(master, conf)
    try:
        finder = SparkCycleFinder(spark)
        result = run_detection(store, params, finder=finder,
                               engine={"engine": "spark", "spark_master": master}, **run)
    finally:
        if existing is None:
            spark.stop()
    parts = list(iter_partitions(finder.searches[:1]))
    busy = max(parts, key=lambda p: (p.seconds, p.invoices), default=None)
    line = "" if busy is None else (
        f"spark: {len(parts)} partitions (orientation × window × component) in the data's search; busiest: "
        f"{busy.orientation} window {busy.window} component {busy.component}, {busy.invoices} invoices, "
        f"{busy.members} taxpayers, {busy.seconds:.2f} s")
    return result, line

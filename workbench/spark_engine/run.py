"""``fapiao detect --engine spark``: the detection pipeline with its invoice-sized stages on Spark."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algorithms.params import DetectionParams
from graph.core.errors import ConfigError
from graph.store import Store
from workbench.detect import DetectionResult, run_detection
from workbench.spark_engine.communities import SparkLeiden
from workbench.spark_engine.components import SparkComponents
from workbench.spark_engine.cycles import SparkCycleFinder, iter_partitions
from workbench.spark_engine.features import SparkActivity, SparkEdges, SparkVoidRed
from workbench.spark_engine.risk import SAMPLE_ROWS, SparkIsolation
from workbench.spark_engine.session import DEFAULT_MASTER, require_pyspark, result_cap_error, spark_session
from workbench.spark_engine.source import InputRows, checked_input, merged_taxpayers


def spark_detection(store: Store, params: DetectionParams | None = None, *, master: str = DEFAULT_MASTER,
                    conf: Mapping[str, str] | None = None, source: str | None = None,
                    report_dir: Path | None = None, on_input: Any = None, model_sample_rows: int = SAMPLE_ROWS,
                    **run: Any) -> tuple[DetectionResult, str]:
    """:func:`workbench.detect.run_detection` with the cycle search, the activity and edge aggregations, the
    connected components, Leiden per component and the risk model's application on Spark (``master``; ``conf``
    extra settings; ``run``: its other keywords).
    Returns the result and a line on the busiest partition.

    ``source``: a Parquet dataset (path or URL) or a Spark catalog table to read the invoices from instead of
    the store; every row is checked by the loader (:func:`workbench.spark_engine.source.checked_input`,
    quarantine and report in ``report_dir``) and ``on_input`` is called with the
    :class:`~workbench.spark_engine.source.InputRows` before detection starts. The store's taxpayers,
    identifiers and dispositions are used with it; the findings are stored in ``store``.

    ``model_sample_rows``: the risk model is trained on at most this many taxpayers, sampled with the run's seed
    (:class:`~workbench.spark_engine.risk.SparkIsolation`; up to it, the in-process model exactly).

    The Spark session is stopped afterwards unless it was already running. A failed Spark job raises before
    the store stage: no findings are stored; one refused for exceeding ``spark.driver.maxResultSize`` raises
    :class:`ConfigError` naming that setting."""
    require_pyspark()
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    spark = spark_session(master, conf)
    try:
        finder = SparkCycleFinder(spark)
        engine: dict[str, Any] = {"engine": "spark", "spark_master": master, "model_sample_rows": model_sample_rows}
        if source is not None:
            rows: InputRows = checked_input(spark, source, store, report_dir=report_dir)
            if on_input is not None:
                on_input(rows)
            if rows.invoices.num_rows == 0:
                raise ConfigError(f"--input {source!r}: no invoice passed the checks "
                                  f"(read {rows.report.read}, rejected {rows.report.rejected}; "
                                  f"quarantine: {rows.report.quarantine_path})")
            run |= {"invoices": rows.invoices, "taxpayers": merged_taxpayers(store, rows.taxpayers)}
            engine["input"] = source
        result = run_detection(store, params, finder=finder, engine=engine, activity=SparkActivity(spark),
                               edges=SparkEdges(spark), void_red_counts=SparkVoidRed(spark),
                               components=SparkComponents(spark), anomaly=SparkIsolation(spark, model_sample_rows),
                               leiden=SparkLeiden(spark), **run)
    except Exception as e:          # a collect over spark.driver.maxResultSize: say which setting to raise
        clear = result_cap_error(e)
        if clear is None:
            raise
        raise clear from e
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

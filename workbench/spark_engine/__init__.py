"""The Spark engine of ``fapiao detect --engine spark``: the invoice-sized stages of detection on Apache Spark.

* :mod:`workbench.spark_engine.session` starts (or joins) a Spark session for a master URL and says which
  extra to install when PySpark is missing;
* :mod:`workbench.spark_engine.cycles` partitions the invoices by time window × strongly connected component
  and searches each partition with the in-process numba kernel (:func:`algorithms.cycles.search_loops`)
  inside ``applyInPandas``; :class:`~workbench.spark_engine.cycles.SparkCycleFinder` plugs it into
  :func:`workbench.detect.run_detection` for the data and its shuffled copies;
* :mod:`workbench.spark_engine.features`: the activity table, the edge table and the void / red-letter counts
  as DataFrame aggregations; :mod:`workbench.spark_engine.components`: connected components (min-label
  propagation) for the shared-identifier clusters and the communities, whose Leiden runs per component in
  ``applyInPandas`` (:mod:`workbench.spark_engine.communities`); :mod:`workbench.spark_engine.risk`: the risk model trained
  on a sample and applied in ``mapInPandas``; :mod:`workbench.spark_engine.source`: ``--input``.

The run's rings, scores and tiers are the in-process engine's (tested in ``local[2]``).
PySpark is imported only here (``tests/test_architecture.py``); ``import workbench.spark_engine`` itself
loads nothing of it. See docs/spark.md.
"""

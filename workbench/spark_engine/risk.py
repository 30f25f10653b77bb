"""The unsupervised risk model on Spark: trained on a sample on the driver, applied in parallel.

The risk score mixes the typology points with an IsolationForest's anomaly rank
(:mod:`algorithms.risk`). :class:`SparkIsolation` is that model for ``run_detection(anomaly=…)``:

1. **train on a sample**: the forest is fitted (:func:`algorithms.risk.isolation_model`, same trees, same
   seed) on the model matrix when it has at most ``sample_rows`` rows, else on ``sample_rows`` rows drawn
   without replacement with the run's seed (the forest itself only looks at 256 rows per tree);
2. **apply in parallel**: the fitted forest is broadcast and scores the matrix's rows in ``mapInPandas``
   (each row's score depends on that row alone, so batches and partitions do not change it);
3. the raw scores come back to the driver by row number and are ranked there
   (:func:`algorithms.risk.anomaly_ranks`: a percentile over all taxpayers needs them all).

Up to ``sample_rows`` taxpayers the result is the in-process model's exactly (tested); above it the forest
is another forest, and the anomaly ranks — 15 % of the typology score — can differ: the run records
``model_sample_rows``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from algorithms.risk import anomaly_ranks, isolation_model

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: rows the forest is fitted on at most (the taxpayers of a ~10M-invoice year fit; more are sampled)
SAMPLE_ROWS = 1_000_000


class SparkIsolation:
    """:data:`algorithms.risk.Anomaly` on Spark: fitted on at most ``sample_rows`` rows, applied in parallel.
    ``fitted_on`` / ``rows`` tell, after a call, how many rows trained the model and how many it scored."""

    def __init__(self, spark: SparkSession, sample_rows: int = SAMPLE_ROWS) -> None:
        if sample_rows < 10:
            raise ValueError(f"sample_rows must be at least 10, got {sample_rows}")
        self.spark = spark
        self.sample_rows = sample_rows
        self.fitted_on = 0
        self.rows = 0

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        n = len(x)
        self.rows, self.fitted_on = n, 0
        if n < 10:                       # as in process: no model below 10 rows
            return np.zeros(n)
        if n <= self.sample_rows:
            train = x
        else:
            pick = np.sort(np.random.default_rng(seed).choice(n, self.sample_rows, replace=False))
            train = x[pick]
        model = isolation_model(train, seed)
        self.fitted_on = len(train)
        return anomaly_ranks(self.scores(model, x))

    def scores(self, model: IsolationForest, x: np.ndarray) -> np.ndarray:
        """``-model.score_samples`` of every row of ``x``, computed in Spark tasks, in row order."""
        cols = [f"c{j}" for j in range(x.shape[1])]
        pdf = pd.DataFrame(x, columns=cols)
        pdf.insert(0, "row", np.arange(len(x), dtype=np.int64))
        shared = self.spark.sparkContext.broadcast(model)

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            forest = shared.value
            for b in batches:
                raw = -forest.score_samples(b[cols].to_numpy(dtype=np.float64))
                yield pd.DataFrame({"row": b["row"].to_numpy(dtype=np.int64), "raw": raw.astype(np.float64)})

        try:
            out = (self.spark.createDataFrame(pdf).mapInPandas(score, "row long, raw double")
                   .toPandas())
        finally:
            shared.unpersist()
        if len(out) != len(x):
            raise RuntimeError(f"the model scored {len(out)} of {len(x)} rows")
        raw = np.empty(len(x), dtype=np.float64)
        raw[out["row"].to_numpy(dtype=np.int64)] = out["raw"].to_numpy(dtype=np.float64)
        return raw

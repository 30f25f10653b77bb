"""Leiden per connected component on Spark: the components by min-label propagation, each component's
communities in ``applyInPandas`` with the in-process call.

:func:`algorithms.communities.leiden_by_component` runs Leiden on each connected component of the weighted
taxpayer graph on its own (same seed, resolution scaled by the component's weight), so a component's
communities depend only on that component. Here the components come from
:func:`workbench.spark_engine.components.spark_components` and every component of at least ``min_size``
taxpayers is one group of ``groupBy("comp").applyInPandas`` running
:func:`algorithms.communities.component_leiden` — the same function the in-process engine calls, on the same
rows (it orders them itself), so the labels are the same (tested). Only the node → label table comes back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from algorithms.communities import component_leiden
from workbench.spark_engine.components import spark_components

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark.sql import SparkSession

_OUT = "node long, label long"


def _udf(resolution: float, total: float, seed: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(rows: pd.DataFrame) -> pd.DataFrame:
        return component_leiden(rows[["u", "v", "w"]], resolution=resolution, total_weight=total, seed=seed)

    return run


class SparkLeiden:
    """:data:`algorithms.communities.LeidenRunner` on Spark (``run_detection(leiden=…)``)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.components = 0        # components searched by the last call (≥ min_size)

    def __call__(self, pairs: pd.DataFrame, n: int, *, resolution: float, seed: int = 0,
                 min_size: int = 1) -> np.ndarray:
        memb = np.arange(n, dtype=np.int64)
        if len(pairs) == 0:
            return memb
        u = pairs["u"].to_numpy(dtype=np.int64)
        comp = spark_components(self.spark, u, pairs["v"].to_numpy(dtype=np.int64), n)
        big = np.bincount(comp)[comp[u]] >= max(min_size, 2)
        rows = pd.DataFrame({"comp": comp[u][big], "u": u[big], "v": pairs["v"].to_numpy(dtype=np.int64)[big],
                             "w": pairs["w"].to_numpy(dtype=np.float64)[big]})
        self.components = int(rows["comp"].nunique())
        if len(rows) == 0:
            return memb
        total = math.fsum(pairs["w"].to_numpy(dtype=np.float64))
        got = (self.spark.createDataFrame(rows).groupBy("comp")
               .applyInPandas(_udf(resolution, total, seed), _OUT).toPandas())
        memb[got["node"].to_numpy(dtype=np.int64)] = got["label"].to_numpy(dtype=np.int64)
        return memb

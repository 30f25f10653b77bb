"""Connected components on Spark: min-label propagation on DataFrames (no GraphFrames jar needed).

Each node starts with its own number as label; each round, every node takes the smallest label among itself
and its neighbours (one join of the edges with the labels, one ``groupBy``). When a round changes nothing,
every node carries the smallest node number of its component — the components as a partition, the one
igraph's ``connected_components`` gives. Rounds: the longest distance from a node to its component's smallest
node, plus one; each round's labels are checkpointed locally, so the plan does not grow with the rounds.

Used for the shared-identifier clusters (:func:`algorithms.identity.identity_clusters`, ``components=``):
same clusters as in process (tested).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def spark_components(spark: SparkSession, src: np.ndarray, dst: np.ndarray, n: int,
                     *, max_rounds: int = 10_000) -> np.ndarray:
    """Component of each node ``0..n-1`` of the undirected graph with edges ``src[i]``–``dst[i]``, numbered
    ``0..k-1`` in order of first appearance (as :func:`pandas.factorize`). Raises after ``max_rounds`` rounds."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = pd.DataFrame({"u": np.asarray(src, dtype=np.int64), "v": np.asarray(dst, dtype=np.int64)})
    out = component_labels(spark, spark.createDataFrame(pairs), n, max_rounds=max_rounds).orderBy("node").toPandas()
    codes, _ = pd.factorize(out["label"].to_numpy(dtype=np.int64))
    return np.asarray(codes, dtype=np.int64)


def component_labels(spark: SparkSession, edges: DataFrame, n: int, *, max_rounds: int = 10_000) -> DataFrame:
    """``node, label`` for every node ``0..n-1`` of the undirected graph of ``edges`` (long columns ``u``, ``v``):
    the label is the smallest node number of the node's component. Stays in Spark (checkpointed locally)."""
    from pyspark.sql import functions as F

    one = edges.select(F.col("u").cast("long").alias("u"), F.col("v").cast("long").alias("v"))
    both = (one.unionByName(one.select(F.col("v").alias("u"), F.col("u").alias("v")))
            .where(F.col("u") != F.col("v")).distinct().localCheckpoint())
    labels = spark.range(n).select(F.col("id").alias("node"), F.col("id").alias("label")).localCheckpoint()
    for _ in range(max_rounds):
        least = (both.join(labels.withColumnRenamed("node", "v"), "v")
                 .groupBy(F.col("u").alias("node")).agg(F.min("label").alias("near")))
        new = (labels.join(least, "node", "left")
               .select("node", F.least(F.col("label"), F.coalesce(F.col("near"), F.col("label"))).alias("label"),
                       (F.col("near") < F.col("label")).alias("moved"))
               .localCheckpoint())
        if new.where(F.col("moved")).limit(1).count() == 0:
            return new.select("node", "label")
        labels = new.select("node", "label")
    raise RuntimeError(f"connected components did not settle in {max_rounds} rounds")


class SparkComponents:
    """Connected components for :func:`algorithms.identity.identity_clusters` (``components=``), on Spark."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def __call__(self, src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
        return spark_components(self.spark, src, dst, n)

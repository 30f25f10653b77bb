"""Leiden per connected component on Spark: the weighted pair table built by Spark aggregations, the components
by min-label propagation, each component's communities in ``applyInPandas`` with the in-process call.

:func:`algorithms.communities.leiden_by_component` runs Leiden on each connected component of the weighted
taxpayer graph on its own (same seed, resolution scaled by the component's weight), so a component's
communities depend only on that component. Here (:meth:`SparkLeiden.weighted_pairs`, which
:func:`algorithms.communities.communities` calls instead of :func:`algorithms.communities.weighted_pairs`):

1. the node numbers are the in-process ones (:func:`pandas.factorize` order: a taxpayer's number is the rank of
   its first appearance among sellers then buyers) — a ``groupBy`` of the first position, ranked;
2. the components are :func:`workbench.spark_engine.components.component_labels` of the rows' node pairs;
3. per component (``groupBy("comp").applyInPandas``), the rows in their original order are summed per node
   pair with pandas, as in process (so each pair's weight is the same float); the graph's total weight is the
   exact sum of every pair's weight, combined from each partition's exact partial sums (``math.fsum``'s
   partials), as ``math.fsum`` gives it in process;
4. every component of at least ``min_size`` taxpayers runs :func:`algorithms.communities.component_leiden` —
   the function the in-process engine calls, on the same rows — in ``applyInPandas``; only the node → label
   table (one row per taxpayer) comes back to the driver.

The edge weights (``1 + log10(1 + total / 1e6)``) are computed on the driver with numpy, where the edge table
is, so that they are the in-process floats. Same labels as in process (tested).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from algorithms._tables import frame
from algorithms.communities import component_leiden
from workbench.spark_engine.components import component_labels, spark_components

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

_OUT = "node long, label long"
_PAIRS = "comp long, u long, v long, w double"


def _udf(resolution: float, total: float, seed: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(rows: pd.DataFrame) -> pd.DataFrame:
        return component_leiden(rows[["u", "v", "w"]], resolution=resolution, total_weight=total, seed=seed)

    return run


def _pair_sums(rows: pd.DataFrame) -> pd.DataFrame:
    """One component's rows (``comp, i, u, v, w``) → its weighted pairs, summed as in process: the rows in
    their original order (``i``), pandas' ``groupby(["u", "v"]).sum()``."""
    r = rows.sort_values("i", kind="stable")
    pair = pd.DataFrame({"u": r["u"].to_numpy(dtype=np.int64), "v": r["v"].to_numpy(dtype=np.int64),
                         "w": r["w"].to_numpy(dtype=np.float64)}).groupby(["u", "v"], as_index=False)["w"].sum()
    return pd.DataFrame({"comp": np.int64(rows["comp"].iloc[0]), "u": pair["u"].to_numpy(dtype=np.int64),
                         "v": pair["v"].to_numpy(dtype=np.int64), "w": pair["w"].to_numpy(dtype=np.float64)})


def exact_partials(values: Iterator[float], partials: list[float] | None = None) -> list[float]:
    """Shewchuk's non-overlapping partial sums of ``values`` (what ``math.fsum`` keeps): their exact sum is
    the exact sum of the values, so ``math.fsum`` of several lists of partials is ``math.fsum`` of all values."""
    out = [] if partials is None else partials
    for x in values:
        i = 0
        for y in out:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                out[i] = lo
                i += 1
            x = hi
        out[i:] = [x]
    return out


def _partials(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    acc: list[float] = []
    for b in batches:
        exact_partials(iter(b["w"].to_numpy(dtype=np.float64).tolist()), acc)
    yield pd.DataFrame({"p": np.asarray(acc, dtype=np.float64)})


@dataclass
class SparkPairs:
    """The weighted pair table as Spark built it (``comp, u, v, w``, checkpointed), with its component sizes
    and the graph's total weight: what :meth:`SparkLeiden.__call__` takes instead of a pandas pair table."""

    pairs: DataFrame
    sizes: DataFrame          # comp, size (taxpayers)
    rows: int
    total: float

    def __len__(self) -> int:
        return self.rows

    def to_pandas(self) -> pd.DataFrame:
        """The pair table as :func:`algorithms.communities.weighted_pairs` returns it (sorted by ``u, v``)."""
        got = self.pairs.select("u", "v", "w").toPandas()
        return got.sort_values(["u", "v"], kind="stable").reset_index(drop=True)


class SparkLeiden:
    """:data:`algorithms.communities.LeidenRunner` on Spark (``run_detection(leiden=…)``), with the pair table
    built on Spark (:meth:`weighted_pairs`)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.components = 0        # components searched by the last call (≥ min_size)

    def weighted_pairs(self, edges: pa.Table | pd.DataFrame, links: pd.DataFrame | None, *,
                       identifier_scale: float = 2.0) -> tuple[SparkPairs, pd.Index]:
        """:func:`algorithms.communities.weighted_pairs` with the node numbering, the per-pair sums and the
        components done by Spark aggregations: the pair table stays in Spark; the taxpayers' names (one per
        node, in node order) come back."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        e = frame(edges, ["seller_tax_id", "buyer_tax_id", "total_fen"])
        e = e[e["seller_tax_id"] != e["buyer_tax_id"]]
        a = [e["seller_tax_id"], e["buyer_tax_id"]]
        w = [1 + np.log10(1 + e["total_fen"].clip(lower=0).to_numpy(dtype=np.float64) / 1_000_000)]
        if links is not None and len(links):
            a[0] = pd.concat([a[0], links["a"]], ignore_index=True)
            a[1] = pd.concat([a[1], links["b"]], ignore_index=True)
            w.append(links["weight"].to_numpy(dtype=np.float64) * identifier_scale)
        m = len(a[0])
        rows = self.spark.createDataFrame(pd.DataFrame({
            "i": np.arange(m, dtype=np.int64), "a": pd.Series(a[0].astype(str).tolist(), dtype=object),
            "b": pd.Series(a[1].astype(str).tolist(), dtype=object), "w": np.concatenate(w)}))
        # the in-process numbering: pandas.factorize of sellers then buyers, i.e. by first position
        first = (rows.select(F.col("a").alias("name"), F.col("i").alias("pos"))
                 .unionByName(rows.select(F.col("b").alias("name"), (F.col("i") + F.lit(m)).alias("pos")))
                 .groupBy("name").agg(F.min("pos").alias("first")))
        coded = first.select("name", (F.row_number().over(Window.orderBy("first")) - 1).alias("code")).localCheckpoint()
        names = coded.orderBy("code").select("name").toPandas()["name"].tolist()
        n = len(names)
        ca = coded.select(F.col("name").alias("a"), F.col("code").alias("ca"))
        cb = coded.select(F.col("name").alias("b"), F.col("code").alias("cb"))
        raw = (rows.join(ca, "a").join(cb, "b")
               .select("i", F.least("ca", "cb").alias("u"), F.greatest("ca", "cb").alias("v"), "w").localCheckpoint())
        labels = component_labels(self.spark, raw, n)
        pairs = (raw.join(labels.select(F.col("node").alias("u"), F.col("label").alias("comp")), "u")
                 .groupBy("comp").applyInPandas(_pair_sums, _PAIRS).localCheckpoint())
        sizes = labels.groupBy(F.col("label").alias("comp")).agg(F.count(F.lit(1)).alias("size"))
        parts = [float(r["p"]) for r in pairs.select("w").mapInPandas(_partials, "p double").collect()]
        count = pairs.count()
        return SparkPairs(pairs, sizes, count, math.fsum(parts)), pd.Index(names)

    def __call__(self, pairs: pd.DataFrame | SparkPairs, n: int, *, resolution: float, seed: int = 0,
                 min_size: int = 1) -> np.ndarray:
        memb = np.arange(n, dtype=np.int64)
        if len(pairs) == 0:
            return memb
        if isinstance(pairs, SparkPairs):
            return self._on_spark(pairs, memb, resolution=resolution, seed=seed, min_size=min_size)
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

    def _on_spark(self, pairs: SparkPairs, memb: np.ndarray, *, resolution: float, seed: int,
                  min_size: int) -> np.ndarray:
        from pyspark.sql import functions as F

        big = pairs.sizes.where(F.col("size") >= max(min_size, 2)).select("comp")
        rows = pairs.pairs.join(big, "comp")
        self.components = int(rows.select("comp").distinct().count())
        if self.components == 0:
            return memb
        got = rows.groupBy("comp").applyInPandas(_udf(resolution, pairs.total, seed), _OUT).toPandas()
        memb[got["node"].to_numpy(dtype=np.int64)] = got["label"].to_numpy(dtype=np.int64)
        return memb

"""Per-taxpayer activity and the seller→buyer edge table on Spark, as DataFrame aggregations.

The activity table (output / input totals and counts, distinct partners, first / last invoice, active span,
silence before the data ends, age at the first invoice) is the base of the shell, hub and cycle-context
features. Here the invoice-sized work — two ``groupBy`` over the blue invoices (by seller, by buyer) and a
full outer join — runs on Spark; only the per-taxpayer table comes back to the driver, with the values,
order and column types of the in-process function (tested equal). The edge table (per seller→buyer pair:
invoice count and total) is what the communities (Leiden) are built on: one ``groupBy`` of the invoices. The
void / red-letter counts per seller (the 作废/红冲 rule's input) are one ``groupBy`` of all invoices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from algorithms.shell import finish_activity
from graph.core.vocab import BLUE_STATUSES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

def spark_activity(df: DataFrame, taxpayers: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`algorithms.shell.activity` of the invoices in ``df`` (``seller_tax_id, buyer_tax_id, issued_at,
    total_fen, status``); ``taxpayers`` gives ``registered_on`` for ``age_days`` (NaN when unknown)."""
    from pyspark.sql import functions as F

    blue = (df.where(F.col("status").isin(list(BLUE_STATUSES)) & (F.col("total_fen") > 0))
            .select(F.col("seller_tax_id").cast("string").alias("seller"),
                    F.col("buyer_tax_id").cast("string").alias("buyer"),
                    F.col("total_fen").cast("long").alias("fen"),
                    F.floor(F.unix_micros(F.col("issued_at").cast("timestamp")) / 1_000_000).cast("long").alias("t")))
    out = blue.groupBy(F.col("seller").alias("tax_id")).agg(
        F.sum("fen").alias("out_fen"), F.count(F.lit(1)).alias("out_n"),
        F.countDistinct("buyer").alias("out_partners"), F.min("t").alias("out_first"), F.max("t").alias("out_last"))
    inn = blue.groupBy(F.col("buyer").alias("tax_id")).agg(
        F.sum("fen").alias("in_fen"), F.count(F.lit(1)).alias("in_n"),
        F.countDistinct("seller").alias("in_partners"), F.min("t").alias("in_first"), F.max("t").alias("in_last"))
    end_row = blue.agg(F.max("t").alias("end")).first()
    end = int(end_row["end"]) if end_row is not None and end_row["end"] is not None else 0
    a = out.join(inn, "tax_id", "full_outer").orderBy("tax_id").toPandas().set_index("tax_id")
    a.index.name = "tax_id"
    a.columns.name = None
    # pandas' outer join turns a column with missing values into float64, and so does toPandas: same types
    return finish_activity(a, taxpayers, end)


def spark_edges(df: DataFrame) -> pd.DataFrame:
    """:func:`workbench.detect.invoice_edges` of the invoices in ``df``: one ``groupBy(seller, buyer)`` over the
    blue invoices with a positive total (``count``, ``total_fen``), sorted by pair, back on the driver."""
    from pyspark.sql import functions as F

    blue = df.where(F.col("status").isin(list(BLUE_STATUSES)) & (F.col("total_fen") > 0))
    e = (blue.groupBy(F.col("seller_tax_id").cast("string").alias("seller_tax_id"),
                      F.col("buyer_tax_id").cast("string").alias("buyer_tax_id"))
         .agg(F.count(F.lit(1)).alias("count"), F.sum(F.col("total_fen").cast("long")).alias("total_fen"))
         .orderBy("seller_tax_id", "buyer_tax_id").toPandas())
    return e.astype({"count": "int64", "total_fen": "int64"})


def spark_void_red_counts(df: DataFrame) -> pd.DataFrame:
    """:func:`algorithms.shell.void_red_counts` of the invoices in ``df`` (``seller_tax_id, status, amount_fen``):
    one ``groupBy(seller)`` over every invoice — count, voided, red-letter and blue amounts — back on the driver."""
    from pyspark.sql import functions as F

    amount = F.col("amount_fen").cast("long")
    g = (df.groupBy(F.col("seller_tax_id").cast("string").alias("seller"))
         .agg(F.count(F.lit(1)).alias("n"),
              F.sum(F.when(F.col("status") == "void", 1).otherwise(0)).cast("long").alias("voids"),
              F.sum(F.when(amount < 0, -amount).otherwise(0)).cast("long").alias("red"),
              F.sum(F.when(amount > 0, amount).otherwise(0)).cast("long").alias("blue"))
         .orderBy("seller").toPandas().set_index("seller"))
    return g.astype("int64")


def invoices_to_spark(spark: SparkSession, invoices: pd.DataFrame, extra: tuple[str, ...] = ()) -> DataFrame:
    """The pandas invoice table's columns the aggregations read (and ``extra`` ones), as a Spark DataFrame
    (times as UTC instants)."""
    from algorithms._tables import localized

    cols = ["seller_tax_id", "buyer_tax_id", "issued_at", "total_fen", "status", *extra]
    table = invoices[cols].copy()
    table["issued_at"] = localized(table["issued_at"]).dt.tz_convert("UTC")
    return spark.createDataFrame(table)


class SparkActivity:
    """``shell.activity`` for :func:`workbench.detect.run_detection` (``activity=``): ships the pandas invoice
    table it is given to Spark and aggregates it there."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def __call__(self, invoices: pd.DataFrame, taxpayers: pd.DataFrame | None) -> pd.DataFrame:
        return spark_activity(invoices_to_spark(self.spark, invoices), taxpayers)


class SparkEdges:
    """``invoice_edges`` for :func:`workbench.detect.run_detection` (``edges=``), aggregated on Spark."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def __call__(self, invoices: pd.DataFrame) -> pd.DataFrame:
        return spark_edges(invoices_to_spark(self.spark, invoices))


class SparkVoidRed:
    """``shell.void_red_counts`` for :func:`workbench.detect.run_detection` (``void_red_counts=``), on Spark."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def __call__(self, invoices: pd.DataFrame) -> pd.DataFrame:
        return spark_void_red_counts(invoices_to_spark(self.spark, invoices, ("amount_fen",)))

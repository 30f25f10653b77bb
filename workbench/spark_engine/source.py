"""``fapiao detect --engine spark --input``: invoices from a Parquet dataset or a Spark catalog table.

The rows are read by Spark (partition pruning, any file system Spark reads, Hive / catalog tables), come
to the driver with Arrow in a fixed order (input file, then position in it), and are checked by the loader
itself — the pipeline of ``fapiao load`` with this reader as its source — so exactly the rules of
``fapiao load`` hold for every row detection uses: text batches of the loader's size (typed columns cast to
text as ``fapiao load`` casts a typed Parquet file), columns mapped by the loader's header aliases (a missing
required column stops the command, naming it), rejected rows written to ``quarantine.parquet`` /
``quarantine.csv`` with their rule ids and reasons, and the counts checked (``read = used + rejected +
skipped as identical``): no row is dropped silently.

The accepted rows are held in a temporary embedded store for the run only; they are not written to the
workbench's store, which receives the findings (as with ``fapiao detect``). The driver holds the input once,
as it holds the store's invoices for the in-process stages (docs/spark.md).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema
from graph.core.errors import ConfigError
from graph.embedded import EmbeddedStore
from graph.store import Store
from loaders.load import LoadReport, default_report_dir
from loaders.load import _load as load_batches  # fapiao load's pipeline, another source
from loaders.read import BATCH_ROWS, RawBatch

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: what to do when the driver's JVM cannot hold the collected input (measured: 1M invoices with the default 1g)
HEAP_HINT = ("the driver ran out of Java heap (every row comes to the driver to be checked): give it more, "
             "e.g. --spark-conf spark.driver.memory=4g (1M invoices needed more than the default 1g; 4g was enough)")
#: columns the reader adds to keep the input's order (file, then position in it); dropped before checking
_FILE, _POS = "__fapiao_file", "__fapiao_pos"


@dataclass
class InputRows:
    """The checked input: accepted invoices (``schema.INVOICES``, the store's order), the taxpayers named on
    them, and the loader's report (counts per rule, quarantine paths)."""

    invoices: pa.Table
    taxpayers: pa.Table
    report: LoadReport
    seconds: float = 0.0                      # reading and checking, wall time


def read_input(spark: SparkSession, spec: str) -> DataFrame:
    """``spec`` as a Spark DataFrame: an existing path or a URL (``hdfs://``, ``s3a://`` …) is read as Parquet
    (a dataset folder, month-partitioned folders such as ``month=2024-01/`` included), anything else as a
    table of the Spark catalog (``db.invoices``)."""
    if Path(spec).exists() or "://" in spec:
        try:
            return spark.read.parquet(spec)
        except Exception as e:          # py4j / analysis errors carry no common type
            raise ConfigError(f"--input {spec!r}: not a readable Parquet dataset ({str(e).splitlines()[0][:200]})") from e
    if spark.catalog.tableExists(spec):
        return spark.table(spec)
    raise ConfigError(f"--input {spec!r} is neither a Parquet path nor a table of the Spark catalog")


def text_batches(df: DataFrame) -> Iterator[RawBatch]:
    """The DataFrame's rows as the loader's text batches in a fixed order (input file name, then position in
    the file; record numbers count from 1 in that order)."""
    from pyspark.sql import functions as F

    ordered = (df.withColumn(_FILE, F.input_file_name()).withColumn(_POS, F.monotonically_increasing_id())
               .orderBy(_FILE, _POS))
    try:
        table = ordered.toArrow()
    except Exception as e:              # py4j errors carry no common type; the OOM is only in Spark's log
        raise ConfigError(f"collecting --input to the driver failed ({_first_line(e)}); if Spark's log shows "
                          f"java.lang.OutOfMemoryError: Java heap space, {HEAP_HINT}") from e
    table = table.drop_columns([_FILE, _POS])
    size = BATCH_ROWS
    row = 1
    if table.num_rows == 0:
        yield RawBatch(_as_text(table), 1, done=1.0)
        return
    for start in range(0, table.num_rows, size):
        chunk = _as_text(table.slice(start, size))
        yield RawBatch(chunk, row, done=min((start + chunk.num_rows) / table.num_rows, 1.0))
        row += chunk.num_rows


def _first_line(e: BaseException) -> str:
    """The first line of an error (py4j's ``str()`` fails once the JVM is gone: then its type)."""
    try:
        text = str(e).strip()
    except Exception:
        text = ""
    return text.splitlines()[0][:200] if text else type(e).__name__


def _as_text(table: pa.Table) -> pa.Table:
    """Every column as text, as ``fapiao load`` reads a typed Parquet file (nulls stay null)."""
    cols = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        cols[name] = (col if pa.types.is_string(col.type) else pc.cast(col, pa.string())).combine_chunks()
    return pa.table(cols) if cols else table


def checked_input(spark: SparkSession, spec: str, store: Store, *, report_dir: Path | None = None) -> InputRows:
    """Read ``spec`` (:func:`read_input`) and check every row with the loader (the pipeline of
    :func:`loaders.load.load_files` with :func:`text_batches` as its source). The quarantine and report go to ``report_dir`` (default: the
    ``loads/<timestamp>/`` folder of ``store``'s workspace, as for ``fapiao load``)."""
    started = time.perf_counter()
    out = Path(report_dir) if report_dir is not None else default_report_dir(store)
    df = read_input(spark, spec)
    with tempfile.TemporaryDirectory(prefix="fapiao-input-") as tmp:
        held = EmbeddedStore(Path(tmp) / "ws")
        try:
            report = load_batches(held, Path(spec), taxpayers=None, mapping=None, encoding=None, sheet=None,
                           report_dir=out, progress=False, map_pairs=(), batch_rows=None, threads=1,
                           source=text_batches(df), label=spec, keep_originals=False)
            invoices = schema.conform(held.invoice_stream(), schema.INVOICES)
            taxpayers = schema.conform(held.taxpayers(), schema.TAXPAYERS)
        finally:
            held.close()
    return InputRows(invoices, taxpayers, report, time.perf_counter() - started)


def merged_taxpayers(store: Store, named: pa.Table) -> pa.Table:
    """The store's taxpayer registry plus the taxpayers named on the input that it lacks (by tax id)."""
    known = schema.conform(store.taxpayers(), schema.TAXPAYERS)
    if known.num_rows == 0:
        return named
    extra = named.filter(pc.invert(pc.is_in(named.column("tax_id"), value_set=known.column("tax_id"))))
    return pa.concat_tables([known, extra]).sort_by("tax_id")

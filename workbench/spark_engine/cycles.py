"""The temporal cycle search on Spark, partitioned by time window × strongly connected component.

The in-process search (:func:`algorithms.cycles.temporal_cycles`) cuts time into slots of ``window`` seconds
counted from the earliest invoice ``t0``; a loop that starts in slot ``w`` ends before ``t0 + (w + 2)·window``
and, being a loop, lies inside one strongly connected component (SCC) of the invoices of slots ``w`` and
``w + 1``. The kernel only ever follows hops inside that component. So the work splits exactly:

1. **overlapping windows**: every invoice is copied into window ``w = slot`` and window ``w = slot − 1`` (the
   overlap: a loop that crosses a slot boundary is whole in the window of its first invoice);
2. **SCC per window** (``groupBy(w).applyInPandas``, igraph on the window's distinct seller→buyer pairs, as
   in process); invoices whose ends lie in the same non-trivial SCC are labelled ``(w, component)``;
3. **search per partition** (``groupBy(w, component).applyInPandas``): the partition's invoices, in the
   in-process order (issue time, then key), go to :func:`algorithms.cycles.search_loops` — the same numba
   kernel — with the loops' start invoices restricted to slot ``w``. Each loop instance is thus found in
   exactly one partition (its first invoice's window, its component);
4. **deduplication as a Spark aggregation**: each partition also returns, per loop, what the in-process
   deduplication (:func:`algorithms.cycles.deduplicate`) ranks instances by — the sorted sellers (the member
   set), the spread, span and drift of the hop totals (computed with the in-process ``_measures``) — and the
   search's output is cached; then ``groupBy(o, member set)`` counts the repeats and takes the ``min`` of
   ``struct(spread, span, start time, start key, kernel order)``: the in-process rule (smallest spread, then
   shortest span, then the first instance in search order) as one aggregation. The best instances are sorted
   in Spark in the in-process order (spread, span, [orientation,] members);
5. **written by the executors, read by the driver a batch at a time**: the best instances (one per loop),
   sorted, go to Parquet; the driver reads the files in order, ``batch_rows`` loops at a time, and builds the
   :class:`TemporalCycle` objects of one batch (the hop dataclass shared per invoice). Each hop's invoice comes
   with its loop out of the search partition, which holds it (issue time, total and item code as arrays of the
   loop row; seller and buyer from the members): no join of the loops with the invoice table (the earlier
   join shuffled 4.2 GB at 1M and spilled 41.6 GB at 10M), or, with ``lookup``, the driver looks a batch's
   invoices up in its own table. Nothing the size of the loops passes through
   Spark's result channel (``spark.driver.maxResultSize``); with ``collect=False`` the driver never holds more
   than one batch (:meth:`LoopFiles.batches`).

Both orientations run in the same Spark job (the "against" search is the same search on reversed invoices).

Same result as in process, loop for loop, unless a start invoice hits ``max_expansions`` (the safety cap,
counted in ``truncated_starts``): the kernel then stops after a number of hops that can differ, because the
in-process search also tries hops it can rule out only later (invoices into the start taxpayer from other
components stretch its deadline).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from algorithms._tables import DAY, localized
from algorithms.cycles import (
    ALONG,
    MUTUAL,
    ORIENTATION_SEARCHES,
    VALID_STATUSES,
    CycleSearch,
    Hop,
    TemporalCycle,
    _iso,
    _measures,
    search_loops,
)
from graph.core import schema
from graph.core.collector import paused_gc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: what :func:`spark_cycles` reads (``status`` and ``item_code`` when present)
COLUMNS = ("key", "seller_tax_id", "buyer_tax_id", "issued_at", "total_fen")
_OUT_SCHEMA = ("kind int, o int, w long, comp long, start_us long, start_key string, seq long, hops array<string>, "
               "members array<string>, mkey array<string>, spread double, span double, drift double, "
               "n_inv long, n_start long, n_members long, secs double, counts array<long>")
#: with each loop instance, its hops' invoices as the partition holds them (issue time in µs, total, item code);
#: seller and buyer follow from the members and the orientation (:func:`_parties`)
_DETAIL_SCHEMA = ", h_us array<long>, h_total array<long>, h_item array<string>"
_DETAILS = ("h_us", "h_total", "h_item")
_LOOP, _STATS = 0, 1


@dataclass(frozen=True)
class PartitionStats:
    """One searched partition: orientation, window, component, invoices, starts, members, kernel seconds."""

    orientation: str
    window: int
    component: int
    invoices: int
    starts: int
    members: int
    seconds: float


#: Spark setting naming where the executors write the deduplicated loops (a path every executor and the driver
#: can reach: HDFS, S3, a shared mount); default a temporary folder of the driver (local mode)
LOOPS_DIR_CONF = "spark.fapiao.loopsDir"
#: loops per batch the driver reads from the loop files
BATCH_ROWS = 50_000


@dataclass
class LoopFiles:
    """The deduplicated loops as the executors wrote them: Parquet part files, in the in-process order.

    :meth:`batches` reads them a batch at a time; :meth:`close` removes them (when this run created them)."""

    path: str
    labels: tuple[str, ...]
    loops: int
    lookup: Callable[[list[str]], pd.DataFrame] | None = None
    owned: str | None = None          # the folder to remove on close (created by this run)

    def batches(self, batch_rows: int = BATCH_ROWS, *, shared: dict[str, Hop] | None = None
                ) -> Iterator[list[TemporalCycle]]:
        """The loops in order, ``batch_rows`` at a time. ``shared``: one :class:`Hop` per invoice across
        batches (as in process, when every loop is kept); by default per batch only."""
        import pyarrow.parquet as pq

        fs, root = _filesystem(self.path)
        files = sorted(f.path for f in fs.get_file_info(_selector(root))
                       if f.is_file and f.base_name.startswith("part-") and f.base_name.endswith(".parquet"))
        for name in files:
            with fs.open_input_file(name) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
                    rows = batch.to_pandas()
                    hop_of = {} if shared is None else shared
                    if self.lookup is not None:
                        need = sorted({k for hops in rows["hops"] for k in hops if k not in hop_of})
                        if need:
                            _hops_into(hop_of, self.lookup(need))
                    else:
                        _hop_details_into(hop_of, batch, self.labels)
                    yield _cycles(rows, hop_of, self.labels)

    def close(self) -> None:
        if self.owned is not None:
            _remove(self.owned)
            self.owned = None


@dataclass(frozen=True)
class SparkSearch:
    """:func:`spark_cycles`' result: the in-process :class:`CycleSearch` and what the partitions did; with
    ``collect=False`` the loops stay in ``loop_files`` (``search.cycles`` is empty)."""

    search: CycleSearch
    partitions: list[PartitionStats] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    loop_files: LoopFiles | None = None

    def busiest(self) -> PartitionStats | None:
        """The partition whose kernel ran longest (the skew the partitioning leaves)."""
        return max(self.partitions, key=lambda p: (p.seconds, p.invoices), default=None)


def _text(values: Any) -> pd.Series:
    """Strings as an object column: pandas 3 would infer its Arrow-backed ``str`` dtype, which PySpark 4.x's
    Arrow writer cannot take back from a pandas UDF (measured: ``Cannot convert ChunkedArray to Array``)."""
    return pd.Series(list(values), dtype=object)


def _scc_udf(pdf: pd.DataFrame) -> pd.DataFrame:
    """One window's distinct (o, w, src, dst) pairs → (o, w, node, comp) of the nodes in non-trivial SCCs."""
    import igraph as ig

    codes, names = pd.factorize(pd.concat([pdf["src"], pdf["dst"]], ignore_index=True))
    n, m = len(names), len(pdf)
    pairs = np.stack([codes[:m], codes[m:]], axis=1)
    g = ig.Graph(n=n, edges=pairs.tolist(), directed=True)
    memb = np.asarray(g.connected_components(mode="strong").membership, dtype=np.int64)
    sizes = np.bincount(memb)
    keep = sizes[memb] >= 2
    return pd.DataFrame({"o": np.int32(pdf["o"].iloc[0]), "w": np.int64(pdf["w"].iloc[0]),
                         "node": _text(np.asarray(names, dtype=object)[keep]), "comp": memb[keep]})


def _search_udf(t0: int, window: int, gate: float, min_lens: Sequence[int], max_len: int, max_expansions: int,
                memo: bool, alongs: Sequence[bool], details: bool = True) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The per-partition search: one (orientation, window, component) group of invoices → its loop rows (with
    what the deduplication ranks them by) and one statistics row. ``details``: each loop row also carries its
    hops' invoices (``h_us, h_total, h_item``, in hop order) out of the partition, which holds them."""

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        started = time.perf_counter()
        pdf = pdf.sort_values(["us", "key"], kind="stable").reset_index(drop=True)   # the in-process order
        o, w, cs = int(pdf["o"].iloc[0]), int(pdf["w"].iloc[0]), int(pdf["comp"].iloc[0])
        codes, names = pd.factorize(pd.concat([pdf["src"], pdf["dst"]], ignore_index=True))
        m, n = len(pdf), len(names)
        src = codes[:m].astype(np.int64)
        dst = codes[m:].astype(np.int64)
        tm = pdf["t"].to_numpy(dtype=np.int64)
        amt = pdf["total_fen"].to_numpy(dtype=np.float64)
        lo = t0 + w * window                          # this window's first slot is local slot 0
        comp = np.zeros((2, n), dtype=np.int64)       # every taxpayer here is in the one component
        keep = np.arange(m, dtype=np.int64)
        starts = keep[tm < lo + window]               # loops start in the window's first slot only
        found, counts = search_loops(src, dst, tm, amt, n, comp, keep, starts, window=window, t0=lo, gate=gate,
                                     min_len=min_lens[o], max_len=max_len, max_expansions=max_expansions,
                                     memo=memo, workers=1)
        keys = pdf["key"].to_numpy(dtype=object)
        # the invoice's seller: the search's source along the invoice direction, its target against it
        sellers = (pdf["src"] if alongs[o] else pdf["dst"]).to_numpy(dtype=object)
        valid = found >= 0
        safe = np.where(valid, found, 0)
        # what algorithms.cycles.deduplicate ranks instances by, computed the same way on the same values
        drift, spread = _measures(np.where(valid, amt[safe], np.nan))
        lengths = valid.sum(axis=1)
        first = found[:, 0] if len(found) else np.zeros(0, dtype=np.int64)
        span = (tm[safe[np.arange(len(found)), lengths - 1]] - tm[first]) / DAY
        us = pdf["us"].to_numpy(dtype=np.int64)
        tot = pdf["total_fen"].to_numpy(dtype=np.int64)
        item = pdf["item"].to_numpy(dtype=object) if details else None
        hops, members, mkey, h_us, h_total, h_item = [], [], [], [], [], []
        for row in found.tolist():
            rows = [r for r in row if r >= 0]
            hops.append(keys[rows].tolist())
            s = sellers[rows].tolist()
            members.append(s if alongs[o] else [s[0], *s[:0:-1]])
            mkey.append(sorted(s))
            if item is not None:
                h_us.append(us[rows].tolist())
                h_total.append(tot[rows].tolist())
                h_item.append(item[rows].tolist())
        loops = pd.DataFrame({
            "kind": np.int32(_LOOP), "o": np.int32(o), "w": np.int64(w), "comp": np.int64(cs),
            "start_us": us[first], "start_key": _text(keys[first]),
            "seq": np.arange(len(found), dtype=np.int64), "hops": pd.Series(hops, dtype=object),
            "members": pd.Series(members, dtype=object), "mkey": pd.Series(mkey, dtype=object),
            "spread": spread.astype(np.float64), "span": np.asarray(span, dtype=np.float64),
            "drift": drift.astype(np.float64),
            "n_inv": np.int64(0), "n_start": np.int64(0), "n_members": np.int64(0), "secs": 0.0,
            "counts": pd.Series([[]] * len(found), dtype=object)})
        if item is not None:
            loops = loops.assign(h_us=pd.Series(h_us, dtype=object), h_total=pd.Series(h_total, dtype=object),
                                 h_item=pd.Series(h_item, dtype=object))
        stats = pd.DataFrame({
            "kind": [np.int32(_STATS)], "o": [np.int32(o)], "w": [np.int64(w)], "comp": [np.int64(cs)],
            "start_us": [np.int64(0)], "start_key": _text([""]), "seq": [np.int64(-1)], "hops": [[]],
            "members": [[]], "mkey": [[]], "spread": [0.0], "span": [0.0], "drift": [0.0],
            "n_inv": [np.int64(m)], "n_start": [np.int64(len(starts))], "n_members": [np.int64(n)],
            "secs": [time.perf_counter() - started], "counts": [[int(c) for c in counts]]})
        if item is not None:
            stats = stats.assign(**{c: pd.Series([[]], dtype=object) for c in _DETAILS})
        return pd.concat([loops, stats], ignore_index=True)

    return run


def prepare(df: DataFrame, statuses: Sequence[str] = VALID_STATUSES) -> DataFrame:
    """The invoices the search may use (status, positive total, not self-billing), with ``us`` (microseconds
    since the epoch, for the in-process order), ``t`` (epoch seconds, as the kernel counts) and ``item`` (the
    item code, null without one)."""
    from pyspark.sql import functions as F

    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"the invoice table lacks {', '.join(missing)}")
    keep = (F.col("total_fen") > 0) & (F.col("seller_tax_id") != F.col("buyer_tax_id"))
    if "status" in df.columns:
        keep = keep & F.col("status").isin(list(statuses))
    us = F.unix_micros(F.col("issued_at").cast("timestamp"))
    item = F.col("item_code").cast("string") if "item_code" in df.columns else F.lit(None).cast("string")
    return (df.where(keep)
            .select(F.col("key").cast("string").alias("key"), F.col("seller_tax_id").cast("string").alias("seller"),
                    F.col("buyer_tax_id").cast("string").alias("buyer"), us.alias("us"),
                    F.floor(us / 1_000_000).cast("long").alias("t"),
                    F.col("total_fen").cast("long").alias("total_fen"), item.alias("item")))


def partitioned(df: DataFrame, t0: int, window: int, orientations: Sequence[str], details: bool = True) -> DataFrame:
    """Prepared invoices → one row per (orientation ``o``, window ``w``, component ``comp``) they belong to
    (with ``item`` when ``details``: the partition then holds all a :class:`Hop` needs)."""
    from pyspark.sql import functions as F

    slot = F.floor((F.col("t") - F.lit(t0)) / F.lit(window)).cast("long")
    sides = []
    extra = ["item"] if details else []
    for o, label in enumerate(orientations):
        a, b = ("seller", "buyer") if label == ALONG else ("buyer", "seller")
        sides.append(df.select(F.lit(o).cast("int").alias("o"), "key", "us", "t", "total_fen", *extra,
                               F.col(a).alias("src"), F.col(b).alias("dst"), slot.alias("slot")))
    both = sides[0]
    for s in sides[1:]:
        both = both.unionByName(s)
    # the overlap: an invoice of slot s serves loops starting in slot s and in slot s − 1
    ex = both.withColumn("w", F.explode(F.array(F.col("slot"), F.col("slot") - 1))).where(F.col("w") >= 0)
    comps = (ex.select("o", "w", "src", "dst").distinct()
             .groupBy("o", "w").applyInPandas(_scc_udf, "o int, w long, node string, comp long"))
    cs = comps.withColumnRenamed("node", "src").withColumnRenamed("comp", "comp")
    cd = comps.withColumnRenamed("node", "dst").withColumnRenamed("comp", "comp_dst")
    return (ex.join(cs, ["o", "w", "src"]).join(cd, ["o", "w", "dst"])
            .where(F.col("comp") == F.col("comp_dst")).drop("comp_dst", "slot"))


def spark_cycles(
    df: DataFrame,
    *,
    window_days: float = 90,
    min_len: int = 2,
    max_len: int = 12,
    max_drift: float | None = None,
    statuses: Sequence[str] = VALID_STATUSES,
    max_expansions: int = 50_000,
    memo: bool = True,
    orientation: str = "both",
    lookup: Callable[[list[str]], pd.DataFrame] | None = None,
    collect: bool = True,
    loops_dir: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> SparkSearch:
    """:func:`algorithms.cycles.temporal_cycles` over a Spark DataFrame of invoices (same keywords, same loops).

    ``df`` needs ``key, seller_tax_id, buyer_tax_id, issued_at, total_fen`` (``status``, ``item_code``
    when present), e.g. ``spark.read.parquet(path)`` of a dataset partitioned by month. ``lookup`` returns
    the invoice rows of the given keys as pandas (default: the executors join each loop's invoices from ``df``).

    The executors write the deduplicated loops to Parquet under ``loops_dir`` (default: the Spark setting
    :data:`LOOPS_DIR_CONF`, else a temporary folder of the driver; on a cluster a path the executors and the driver
    share) and the driver reads them ``batch_rows`` at a time. ``collect=True`` builds ``search.cycles`` (the
    in-process result) and removes the files; ``collect=False`` leaves them in ``loop_files`` for the caller to
    read in batches (:meth:`LoopFiles.batches`) and remove (:meth:`LoopFiles.close`): the driver's memory
    then does not grow with the number of loops. On any failure the files are removed.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.perf_counter()
    if orientation not in ORIENTATION_SEARCHES:
        raise ValueError(f"orientation must be one of {sorted(ORIENTATION_SEARCHES)}, got {orientation!r}")
    labels = ORIENTATION_SEARCHES[orientation]
    window = int(round(window_days * DAY))
    prepared = prepare(df, statuses)
    row = prepared.agg(F.min("t").alias("t0"), F.count(F.lit(1)).alias("n")).first()
    n_used = int(row["n"]) if row is not None else 0
    if row is None or n_used == 0 or max_len < 2:
        return SparkSearch(CycleSearch([], 0, n_used, 0, 0, time.perf_counter() - started))
    t0 = int(row["t0"])
    gate = float("inf") if max_drift is None else float(max_drift)
    min_lens = [min_len if label == ALONG else max(min_len, 3) for label in labels]
    details = lookup is None          # without a lookup, each loop carries its hops' invoices out of its partition
    parts = partitioned(prepared, t0, window, labels, details)
    t_plan = time.perf_counter()
    udf = _search_udf(t0, window, gate, min_lens, max_len, max_expansions, memo, [lb == ALONG for lb in labels],
                      details)
    spark = df.sparkSession
    path, owned = _loops_dir(spark, loops_dir)
    files = LoopFiles(path, tuple(labels), 0, lookup, owned)
    try:
        searched = parts.groupBy("o", "w", "comp").applyInPandas(
            udf, _OUT_SCHEMA + (_DETAIL_SCHEMA if details else "")).persist(
            StorageLevel.MEMORY_AND_DISK)
        try:
            stats_rows = (searched.where(F.col("kind") == _STATS)
                          .select("o", "w", "comp", "n_inv", "n_start", "n_members", "secs", "counts").toPandas())
            t_job = time.perf_counter()
            best = _best_instances(searched.where(F.col("kind") == _LOOP), labels, details)
            best.write.mode("overwrite").parquet(path)                 # on the executors
        finally:
            searched.unpersist()
        per_o = {int(r["o"]): (int(r["n"]), int(r["repeats"])) for r in spark.read.parquet(path).groupBy("o").agg(
            F.count(F.lit(1)).alias("n"), F.sum("repeats").alias("repeats")).collect()}
        files.loops = sum(n for n, _ in per_o.values())
        t_agg = time.perf_counter()
        cycles: list[TemporalCycle] = []
        if collect:
            shared: dict[str, Hop] = {}
            with paused_gc():
                for batch in files.batches(batch_rows, shared=shared):
                    cycles.extend(batch)
            files.close()
    except BaseException:
        files.close()
        raise
    partitions = [PartitionStats(labels[o], w, c, n_inv, n_start, n_members, secs)
                  for o, w, c, n_inv, n_start, n_members, secs in zip(
                      *(stats_rows[k].tolist() for k in ("o", "w", "comp", "n_inv", "n_start", "n_members", "secs")),
                      strict=True)]
    stats: dict[str, float] = {}
    counts = np.zeros(4, dtype=np.int64)
    instances = 0
    upto = 0
    for o, label in enumerate(labels):
        mine_counts = np.sum([c for c, p in zip(stats_rows["counts"], partitions, strict=True)
                              if p.orientation == label] or [np.zeros(4)], axis=0).astype(np.int64)
        counts += mine_counts
        n_o, rep_o = per_o.get(o, (0, 0))
        instances += rep_o
        upto += n_o
        stats |= {f"{label}_loops": float(upto), f"{label}_hops_followed": float(mine_counts[1]),
                  f"{label}_memo_skips": float(mine_counts[3])}
    done = time.perf_counter()
    search_secs = sum(p.seconds for p in partitions)
    stats |= {"search": search_secs, "hops_followed": float(counts[1]), "hops_gathered": float(counts[2]),
              "memo_skips": float(counts[3]), "partitions": float(len(partitions)), "dedup": done - t_job}
    # invoices in their own window's components (an invoice kept only as a later hop of the previous
    # window is not counted: that would need another pass over the data)
    in_scc = sum(p.starts for p in partitions)
    result = CycleSearch(cycles, instances, n_used, in_scc, int(counts[0]), done - started, stats)
    return SparkSearch(result, partitions, {"prepare": t_plan - started, "spark_job": t_job - t_plan,
                                            "dedup": done - t_job, "dedup_spark": t_agg - t_job,
                                            "dedup_driver": done - t_agg},
                       None if collect else files)


def _best_instances(loops: DataFrame, labels: Sequence[str], details: bool = False) -> DataFrame:
    """The in-process deduplication as one aggregation: per orientation and member set (the sorted sellers),
    the repeats and the best instance — smallest spread, then shortest span, then first in the in-process
    search order (start time, start key, kernel order) — sorted as :func:`algorithms.cycles.temporal_cycles`
    sorts its loops: spread, span, (with both orientations: along first, mutual and against after), members.

    ``details``: the instances carry their hops' invoices (``h_us, h_total, h_item``, from their search
    partition); the best instance keeps its own — no join with the invoice table."""
    from pyspark.sql import functions as F

    extra = list(_DETAILS) if details else []
    best = (loops.groupBy("o", "mkey")
            .agg(F.count(F.lit(1)).alias("repeats"),
                 F.min(F.struct("spread", "span", "start_us", "start_key", "seq", "drift", "hops",
                                "members", *extra)).alias("b"))
            .select("o", "repeats", "b.spread", "b.span", "b.drift", "b.hops", "b.members",
                    *[f"b.{c}" for c in extra]))
    if len(labels) > 1:
        along = [o for o, label in enumerate(labels) if label == ALONG]
        later = ~F.col("o").isin(along) | (F.size("hops") == 2)      # orientation != ALONG (mutual included)
        return best.orderBy("spread", "span", later, "members")
    return best.orderBy("spread", "span", "members")


def _parties(members: list[str], along: bool) -> tuple[list[str], list[str]]:
    """Each hop's seller and buyer, in hop (search) order, from a loop's members and its search orientation.

    The partition found the hops as a closed path of ``src → dst`` (seller → buyer along the invoice
    direction, buyer → seller against it) and wrote the members as the hops' sellers ``s`` along, or as
    ``[s[0], *s[:0:-1]]`` against (from the earliest invoice's seller in invoice direction). So ``s`` comes
    back the same way; hop ``i``'s buyer is the next hop's seller along (``s[i+1]``), the previous hop's
    against (``s[i−1]``), around the loop."""
    s = members if along else [members[0], *members[:0:-1]]
    n = len(s)
    return s, [s[(i + 1) % n] for i in range(n)] if along else [s[i - 1] for i in range(n)]


def _hop_details_into(hop_of: dict[str, Hop], batch: Any, labels: Sequence[str]) -> None:
    """Hops of a batch of loop rows that carry their invoices (``h_*`` columns) into ``hop_of``."""
    keys = batch.column("hops").flatten().to_pylist()
    sellers: list[str] = []
    buyers: list[str] = []
    for o, members in zip(batch.column("o").to_pylist(), batch.column("members").to_pylist(), strict=True):
        s, b = _parties(members, labels[o] == ALONG)
        sellers += s
        buyers += b
    flat = {a: batch.column(a).flatten() for a in _DETAILS}
    stamps = pd.Series(pd.to_datetime(flat["h_us"].to_numpy(zero_copy_only=False), unit="us", utc=True))
    iso = _iso(stamps.dt.tz_convert(schema.TZ))
    for k, se, b, when, a, it in zip(keys, sellers, buyers, iso, flat["h_total"].to_pylist(),
                                     flat["h_item"].to_pylist(), strict=True):
        if k not in hop_of:
            hop_of[k] = Hop(k, se, b, when, int(a), None if it is None else str(it))


def _hops_into(hop_of: dict[str, Hop], inv: pd.DataFrame) -> None:
    """Hops of some invoice rows (``lookup``'s pandas rows) into ``hop_of``."""
    totals = inv["total_fen"].to_numpy(dtype=np.float64).tolist()
    items = inv["item_code"].tolist() if "item_code" in inv else [None] * len(inv)
    for k, se, b, iso, a, it in zip(inv["key"].tolist(), inv["seller_tax_id"].tolist(), inv["buyer_tax_id"].tolist(),
                                    _iso(inv["issued_at"]), totals, items, strict=True):
        hop_of[str(k)] = Hop(str(k), str(se), str(b), iso, int(a), None if pd.isna(it) else str(it))


def _cycles(best: pd.DataFrame, hop_of: dict[str, Hop], labels: Sequence[str]) -> list[TemporalCycle]:
    """Best instances (in order) → :class:`TemporalCycle` objects, built as the in-process deduplication
    builds them: one :class:`Hop` per invoice, shared by every loop that uses it; members in invoice direction
    from the earliest invoice's seller (``members`` from the partitions)."""
    if len(best) == 0:
        return []
    return [TemporalCycle(members=tuple(members), hops=tuple(hop_of[k] for k in hops), span_days=span,
                          max_drift=drift, spread=spread, repeats=rep,
                          orientation=MUTUAL if len(hops) == 2 else labels[o])
            for o, rep, spread, span, drift, hops, members in zip(
                best["o"].tolist(), best["repeats"].tolist(), best["spread"].tolist(), best["span"].tolist(),
                best["drift"].tolist(), best["hops"].tolist(), best["members"].tolist(), strict=True)]


def _loops_dir(spark: SparkSession, loops_dir: str | None) -> tuple[str, str | None]:
    """Where the executors write this run's loops, and the folder to remove afterwards (created here)."""
    base = loops_dir or spark.conf.get(LOOPS_DIR_CONF, None)
    if not base:
        made = tempfile.mkdtemp(prefix="fapiao-loops-")
        return f"{made}/loops", made
    path = f"{base.rstrip('/')}/fapiao-loops-{time.time_ns()}"
    return path, path


def _filesystem(path: str) -> tuple[Any, str]:
    """A pyarrow file system and path for a local path or a URL (``hdfs://``, ``s3://``, ``file://``)."""
    from pyarrow import fs

    if "://" in path:
        got: tuple[Any, str] = fs.FileSystem.from_uri(path)
        return got
    return fs.LocalFileSystem(), path


def _selector(root: str) -> Any:
    from pyarrow import fs

    return fs.FileSelector(root, allow_not_found=True)


def _remove(path: str) -> None:
    """Remove a loop folder (local or URL); a folder already gone is fine."""
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        return
    fsys, root = _filesystem(path)
    try:
        fsys.delete_dir(root)
    except (FileNotFoundError, OSError):
        pass


class SparkCycleFinder:
    """``temporal_cycles`` for :func:`workbench.detect.run_detection` (``finder=``): ships each pandas table it
    is given (the store's invoices, the null model's shuffled copies) to Spark and searches it there."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.searches: list[SparkSearch] = []

    def __call__(self, invoices: pd.DataFrame, **search: Any) -> CycleSearch:
        inv = invoices.reset_index(drop=True)
        cols = [c for c in (*COLUMNS, "status", "item_code") if c in inv.columns]
        table = inv[cols].copy()
        table["issued_at"] = localized(table["issued_at"]).dt.tz_convert("UTC")
        table["key"] = table["key"].astype(str)
        df = self.spark.createDataFrame(table)
        by_key = inv.assign(key=inv["key"].astype(str)).drop_duplicates("key").set_index("key", drop=False)

        def lookup(keys: list[str]) -> pd.DataFrame:
            return by_key.loc[keys].reset_index(drop=True)

        result = spark_cycles(df, lookup=lookup, **search)
        self.searches.append(result)
        return result.search


def iter_partitions(results: Sequence[SparkSearch]) -> Iterator[PartitionStats]:
    """Every partition of several searches (the CLI and the benchmark report the busiest)."""
    for r in results:
        yield from r.partitions

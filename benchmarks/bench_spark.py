"""The temporal cycle search on Spark (local mode) against the in-process search, on the same invoices.

\b
    .venv/bin/python benchmarks/bench_spark.py --sizes 1000000 --data /tmp/benchdata
    .venv/bin/python benchmarks/bench_spark.py --sizes 100000 --master local[2]

For each size the generator writes ``size`` invoices for ``size / 10`` taxpayers (reused from ``--data``),
converted to the store's columns and written as a Parquet dataset partitioned by month. Then, each in its
own child process so that peak memory is its own:

* **in-process**: ``algorithms.cycles.temporal_cycles`` on the table read into pandas (drift gate 0.25,
  window 90 days, as the pipeline runs it); peak RSS of that process;
* **spark**: ``workbench.spark_engine.cycles.spark_cycles`` over ``spark.read.parquet(dataset)`` with
  ``collect=False``: the executors write the deduplicated loops (with their invoices) to Parquet and the
  driver reads them a batch at a time to digest them, as a consumer that scores them would; peak RSS of the Python driver, of the JVM (driver and executor
  in local mode) and of the Python workers, sampled every 50 ms. From Spark's REST API: executor run time,
  shuffle write time and shuffle fetch wait summed over stages; from the partitions: kernel seconds (the
  search) and the busiest partition.

Both must find the same loops (checked). Quote ratios from one run with the load (``uptime``).

``--stages`` times instead, in one process and one Spark session, the other stages the Spark engine runs
(each against its in-process function on the same table, results checked equal): the activity table, the
edge table, and the risk model (IsolationForest fitted on the driver, applied in ``mapInPandas``) on the
activity table's numeric columns as the matrix (one row per taxpayer; a forest's cost per row depends on
its trees, not on the column count).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")
WINDOW, DRIFT = 90, 0.25


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


def _children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads started them (the JVM forks Python workers
    from a non-main thread: reading only the main thread's list missed them in the first 1M run)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


class TreeSampler:
    """Peak RSS of this process, its JVM child and the JVM's Python workers, sampled every 50 ms."""

    def __init__(self) -> None:
        self.peak = {"driver": 0.0, "jvm": 0.0, "workers": 0.0, "total": 0.0}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            jvms = _children(me)
            workers = [w for j in jvms for w in _children(j)]
            workers += [g for w in workers for g in _children(w)]       # daemon → forked workers
            now = {"driver": _rss_mb(me), "jvm": sum(map(_rss_mb, jvms)), "workers": sum(map(_rss_mb, workers))}
            now["total"] = sum(now.values())
            for k, v in now.items():
                self.peak[k] = max(self.peak[k], v)
            time.sleep(0.05)

    def __enter__(self) -> TreeSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def prepare(size: int, seed: int, data_root: Path) -> Path:
    """Generated invoices → ``data_root/gen-SIZE-sSEED/dataset`` (Parquet, partitioned by month)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from loaders.generate import generate
    from tests.helpers.detect_data import tables_from_generated

    data = data_root / f"gen-{size}-s{seed}"
    dataset = data / "dataset"
    if (dataset / "_done").exists():
        return dataset
    if not (data / "taxpayers.parquet").exists():
        generate(data, taxpayers=size // 10, invoices=size, seed=seed)
    inv, _, _ = tables_from_generated(data)
    cols = ["key", "seller_tax_id", "buyer_tax_id", "issued_at", "total_fen", "status", "item_code"]
    table = inv.select(cols).sort_by([("issued_at", "ascending"), ("key", "ascending")])
    month = pc.strftime(table["issued_at"], format="%Y-%m", locale="C")
    pq.write_to_dataset(table.append_column("month", month), dataset, partition_cols=["month"])
    (dataset / "_done").write_text("ok")
    return dataset


def prepare_copies(size: int, unit: int, seed: int, data_root: Path) -> Path:
    """``size / unit`` disjoint copies of the generated ``unit``-invoice market (``--copies-of``): copy ``r``
    renames every taxpayer (``<tax id>~r``) and invoice key (``<key>~r``), dates and amounts kept, so each copy
    trades only within itself — a province as several regions of the same density. Loops grow exactly with
    the copies (a check of the engines' scaling at constant loop density)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if size % unit:
        raise click.UsageError(f"{size} is not a multiple of --copies-of {unit}")
    base = prepare(unit, seed, data_root)
    dataset = data_root / f"gen-{unit}-s{seed}-x{size // unit}" / "dataset"
    if (dataset / "_done").exists():
        return dataset
    table = pq.read_table(base).drop_columns(["month"])
    parts = [table]
    for r in range(1, size // unit):
        t = table
        for col in ("key", "seller_tax_id", "buyer_tax_id"):
            t = t.set_column(t.schema.get_field_index(col), col,
                             pc.binary_join_element_wise(t[col], pa.scalar(str(r)), "~"))
        parts.append(t)
    out = pa.concat_tables(parts).sort_by([("issued_at", "ascending"), ("key", "ascending")])
    month = pc.strftime(out["issued_at"], format="%Y-%m", locale="C")
    pq.write_to_dataset(out.append_column("month", month), dataset, partition_cols=["month"])
    (dataset / "_done").write_text("ok")
    return dataset


def _read_pandas(dataset: Path) -> Any:
    import pyarrow.parquet as pq

    t = pq.read_table(dataset).drop_columns(["month"]).sort_by([("issued_at", "ascending"), ("key", "ascending")])
    return t.to_pandas()


def run_local(dataset: Path) -> dict[str, Any]:
    import resource

    from algorithms.cycles import temporal_cycles

    inv = _read_pandas(dataset)
    temporal_cycles(inv.head(2), max_drift=DRIFT)                          # load the numba kernel
    t = time.perf_counter()
    res = temporal_cycles(inv, window_days=WINDOW, max_drift=DRIFT)
    secs = time.perf_counter() - t
    return {"seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loops": len(res.cycles), "instances": res.instances, "truncated": res.truncated_starts,
            "digest": _digest(res.cycles), "stats": {k: round(v, 2) for k, v in res.stats.items()
                                                     if k in ("scc", "search", "dedup")}}


def run_spark(dataset: Path, master: str, shuffle_partitions: int, driver_memory: str = "4g") -> dict[str, Any]:
    from workbench.spark_engine.cycles import spark_cycles
    from workbench.spark_engine.session import spark_session

    with TreeSampler() as sampler:
        t = time.perf_counter()
        spark = spark_session(master, {"spark.sql.shuffle.partitions": str(shuffle_partitions),
                                       "spark.driver.memory": driver_memory}, app_name="fapiao-bench")
        started = time.perf_counter() - t
        t = time.perf_counter()
        # the loops stay in the executors' Parquet files; the driver reads them a batch at a time (as a
        # consumer that scores or stores them would), here to digest them
        res = spark_cycles(spark.read.parquet(str(dataset)), window_days=WINDOW, max_drift=DRIFT, collect=False)
        files = res.loop_files
        t_read = time.perf_counter()
        h = hashlib.sha256()
        loops = 0
        try:
            for batch in (files.batches() if files is not None else iter(())):
                loops += len(batch)
                _digest_into(h, batch)
        finally:
            if files is not None:
                files.close()
        secs = time.perf_counter() - t
        res.seconds["read_batches"] = time.perf_counter() - t_read
        metrics = _stage_metrics(spark)
        spark.stop()
    busy = res.busiest()
    search = sum(p.seconds for p in res.partitions)
    return {"seconds": secs, "startup": started, "peak_mb": sampler.peak, "loops": loops,
            "instances": res.search.instances, "truncated": res.search.truncated_starts,
            "digest": h.hexdigest()[:16], "phases": res.seconds, "search_task_seconds": search,
            "partitions": len(res.partitions), "metrics": metrics,
            "busiest": None if busy is None else busy.__dict__,
            "busiest_share": 0.0 if busy is None or search == 0 else busy.seconds / search,
            "largest": max((p.invoices for p in res.partitions), default=0)}


def _stage_metrics(spark: Any) -> dict[str, float]:
    """Executor run time, shuffle write time, shuffle fetch wait (seconds, summed over stages) from the UI's
    REST API; empty when the UI is off."""
    from urllib.request import urlopen

    url = spark.sparkContext.uiWebUrl
    if not url:
        return {}
    app = spark.sparkContext.applicationId
    with urlopen(f"{url}/api/v1/applications/{app}/stages?details=false", timeout=30) as r:
        stages = json.load(r)
    return {"executor_run_s": sum(s.get("executorRunTime", 0) for s in stages) / 1e3,
            "executor_cpu_s": sum(s.get("executorCpuTime", 0) for s in stages) / 1e9,
            "shuffle_write_s": sum(s.get("shuffleWriteTime", 0) for s in stages) / 1e9,
            "shuffle_fetch_wait_s": sum(s.get("shuffleFetchWaitTime", 0) for s in stages) / 1e3,
            "shuffle_write_mb": sum(s.get("shuffleWriteBytes", 0) for s in stages) / 2**20,
            "stages": float(len(stages))}


def run_stages(dataset: Path, master: str, shuffle_partitions: int) -> list[str]:
    """The activity, edge and model stages in process vs on Spark, same process and session (see the doc)."""
    import numpy as np
    import pandas as pd

    from algorithms.risk import isolation
    from algorithms.shell import activity
    from workbench.detect import invoice_edges
    from workbench.spark_engine.features import SparkActivity, SparkEdges
    from workbench.spark_engine.risk import SparkIsolation
    from workbench.spark_engine.session import spark_session

    inv = _read_pandas(dataset)
    spark = spark_session(master, {"spark.sql.shuffle.partitions": str(shuffle_partitions),
                                   "spark.driver.memory": "4g"}, app_name="fapiao-bench-stages")
    lines = [f"## stages, {len(inv):,} invoices, Spark {master} (load: {' '.join(f'{x:.1f}' for x in os.getloadavg())})"]
    try:
        SparkEdges(spark)(inv.head(1_000))                                  # first job: JVM and workers warm
        act = None
        pairs: list[tuple[str, Callable[[], pd.DataFrame], Callable[[], pd.DataFrame]]] = [
            ("activity", lambda: activity(inv, None), lambda: SparkActivity(spark)(inv, None)),
            ("edges", lambda: invoice_edges(inv), lambda: SparkEdges(spark)(inv))]
        for name, local_fn, spark_fn in pairs:
            t = time.perf_counter()
            a = local_fn()
            t_local = time.perf_counter() - t
            t = time.perf_counter()
            b = spark_fn()
            t_spark = time.perf_counter() - t
            pd.testing.assert_frame_equal(b, a, check_exact=True, check_dtype=False)
            act = a if name == "activity" else act
            lines.append(f"{name:<10} in process {t_local:7.2f} s, Spark {t_spark:7.2f} s ({t_spark / t_local:.1f}x), "
                         f"{len(a):,} rows, equal")
        assert act is not None
        x = act.select_dtypes("number").fillna(0.0).to_numpy(dtype=np.float64)
        t = time.perf_counter()
        a_m = isolation(x, 0)
        t_local = time.perf_counter() - t
        model = SparkIsolation(spark)
        t = time.perf_counter()
        b_m = model(x, 0)
        t_spark = time.perf_counter() - t
        lines.append(f"{'model':<10} in process {t_local:7.2f} s, Spark {t_spark:7.2f} s ({t_spark / t_local:.1f}x), "
                     f"{x.shape[0]:,} x {x.shape[1]} matrix, fitted on {model.fitted_on:,} rows, "
                     f"equal: {bool(np.array_equal(a_m, b_m))}")
    finally:
        spark.stop()
    return lines


def _digest(cycles: Any) -> str:
    h = hashlib.sha256()
    _digest_into(h, cycles)
    return h.hexdigest()[:16]


def _digest_into(h: Any, cycles: Any) -> None:
    for c in cycles:
        h.update(repr((c.members, c.orientation, [x.key for x in c.hops], c.repeats)).encode())


def _child(kind: str, dataset: Path, master: str, shuffle_partitions: int, driver_memory: str,
           root: Path = ROOT) -> dict[str, Any]:
    """Run one side in a fresh interpreter (its own peak memory) with the code of checkout ``root``; its JSON
    result, with the child's own CPU seconds (``cpu_s``: user + system of the Python process and of what it
    waited for; the JVM's executor CPU is in the Spark metrics)."""
    import resource

    cmd = [sys.executable, str(root / "benchmarks" / "bench_spark.py"), "--child", kind, "--dataset", str(dataset),
           "--master", master, "--shuffle-partitions", str(shuffle_partitions), "--driver-memory", driver_memory]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(root)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def report(size: int, local: dict[str, Any], spark: dict[str, Any], master: str) -> list[str]:
    m = spark["metrics"]
    search = spark["search_task_seconds"]
    shuffle = m.get("shuffle_write_s", 0.0) + m.get("shuffle_fetch_wait_s", 0.0)
    run = m.get("executor_run_s", 0.0)
    b = spark["busiest"] or {}
    pk = spark["peak_mb"]
    mem = f"driver {pk['driver']:.0f} + JVM {pk['jvm']:.0f} + workers {pk['workers']:.0f}"
    return [
        f"## {size:,} invoices, window {WINDOW} d, drift gate {DRIFT}, Spark {master} "
        f"(load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f})",
        f"same loops: {local['digest'] == spark['digest']} ({local['loops']:,} loops, {local['instances']:,} instances;"
        f" truncated starts {local['truncated']} / {spark['truncated']})",
        f"{'engine':<12} {'wall s':>8} {'peak MB':>30}",
        f"{'in-process':<12} {local['seconds']:>8.1f} {local['peak_mb']:>30.0f}   stages {local['stats']}"
        f"; child CPU {local.get('cpu_s', 0):.1f} s",
        f"{'spark':<12} {spark['seconds']:>8.1f} "
        f"{mem:>30}"
        f"   (session start {spark['startup']:.1f} s not included; phases {json.dumps({k: round(v, 1) for k, v in spark['phases'].items()})}"
        f"; child CPU {spark.get('cpu_s', 0):.1f} s)",
        f"spark / in-process wall time: {spark['seconds'] / max(local['seconds'], 1e-9):.1f}x",
        f"executor task time {run:.1f} s (CPU {m.get('executor_cpu_s', 0):.1f} s) in {m.get('stages', 0):.0f} stages: "
        f"search kernel + partition setup {search:.1f} s ({search / max(run, 1e-9):.0%}), shuffle write + fetch wait "
        f"{shuffle:.1f} s ({shuffle / max(run, 1e-9):.0%}), shuffled {m.get('shuffle_write_mb', 0):.0f} MB",
        f"partitions (orientation x window x component): {spark['partitions']}; busiest: {b.get('orientation')} window "
        f"{b.get('window')}, {b.get('invoices', 0):,} invoices, {b.get('members', 0):,} taxpayers, "
        f"{b.get('seconds', 0):.1f} s = {spark['busiest_share']:.0%} of all partitions' search time",
    ]


@click.command(help=__doc__)
@click.option("--sizes", default="1000000", show_default=True, help="Invoice counts, comma-separated.")
@click.option("--seed", default=0, show_default=True)
@click.option("--master", default="local[2]", show_default=True, help="Spark master URL.")
@click.option("--shuffle-partitions", default=16, show_default=True, help="spark.sql.shuffle.partitions.")
@click.option("--data", "data_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep generated data here (gen-SIZE-sSEED/) and reuse it on the next run.")
@click.option("--driver-memory", default="4g", show_default=True, help="spark.driver.memory (local mode: the JVM).")
@click.option("--copies-of", "unit", type=int, default=None,
              help="Build each size as size/UNIT disjoint copies of the generated UNIT-invoice market (constant loop "
                   "density; the generator's own market grows its loops far faster than its invoices).")
@click.option("--stages", is_flag=True, help="Time the activity, edge and model stages instead of the search.")
@click.option("--baseline", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Also run the Spark side with the code of this checkout (e.g. an export of main before a change), "
                   "first, in the same run: its wall time, peak memory and phases, and whether its loops are the same.")
@click.option("--child", type=click.Choice(["local", "spark"]), default=None, hidden=True)
@click.option("--dataset", type=click.Path(path_type=Path), default=None, hidden=True)
def main(sizes: str, seed: int, master: str, shuffle_partitions: int, driver_memory: str, data_root: Path | None,
         unit: int | None,
         stages: bool, baseline: Path | None, child: str | None, dataset: Path | None) -> None:
    if child is not None and dataset is not None:
        res = run_local(dataset) if child == "local" else run_spark(dataset, master, shuffle_partitions, driver_memory)
        print(json.dumps(res, default=str))
        return
    with tempfile.TemporaryDirectory(prefix="fapiao-bench-spark-") as tmp:
        for size in (int(s) for s in sizes.split(",")):
            t = time.perf_counter()
            root = data_root or Path(tmp)
            ds = prepare(size, seed, root) if unit is None or size == unit else prepare_copies(size, unit, seed, root)
            click.echo(f"data ready in {time.perf_counter() - t:.0f} s: {ds}")
            if stages:
                for line in run_stages(ds, master, shuffle_partitions):
                    click.echo(line)
                continue
            base = None
            if baseline is not None:
                click.echo(f"{size:,}: baseline Spark ({baseline}) from {time.strftime('%H:%M:%S')} "
                           f"(load {os.getloadavg()[0]:.1f})")
                sys.stdout.flush()
                base = _child("spark", ds, master, shuffle_partitions, driver_memory, baseline)
            click.echo(f"{size:,}: in process from {time.strftime('%H:%M:%S')} (load {os.getloadavg()[0]:.1f})")
            sys.stdout.flush()
            local = _child("local", ds, master, shuffle_partitions, driver_memory)
            click.echo(f"{size:,}: Spark from {time.strftime('%H:%M:%S')} (load {os.getloadavg()[0]:.1f})")
            sys.stdout.flush()
            spark = _child("spark", ds, master, shuffle_partitions, driver_memory)
            for line in report(size, local, spark, master):
                click.echo(line)
            if base is not None:
                pk = base["peak_mb"]
                click.echo(f"baseline spark {base['seconds']:.1f} s, driver {pk['driver']:.0f} + JVM {pk['jvm']:.0f} + "
                           f"workers {pk['workers']:.0f} MB, same loops {base['digest'] == local['digest']}, phases "
                           f"{json.dumps({k: round(v, 1) for k, v in base['phases'].items()})}; child CPU "
                           f"{base.get('cpu_s', 0):.1f} s, executor task time "
                           f"{base['metrics'].get('executor_run_s', 0):.1f} s (CPU "
                           f"{base['metrics'].get('executor_cpu_s', 0):.1f} s), shuffled "
                           f"{base['metrics'].get('shuffle_write_mb', 0):.0f} MB")
            click.echo("")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

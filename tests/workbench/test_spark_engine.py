"""The Spark engine (``fapiao detect --engine spark``) finds what the in-process engine finds, in ``local[2]``.

Skipped, with a loud reason, when Java or PySpark is missing (``FAPIAO_REQUIRE_SPARK=1`` turns that into a
failure). One Spark session is shared by every test here.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from algorithms.cycles import temporal_cycles
from tests.algorithms.loop_market import market
from tests.helpers.detect_data import small_generated, store_from_generated
from workbench.detect import run_detection


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    problem = None if shutil.which("java") else "no `java` on PATH (Java 17+ is needed)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problem = "PySpark is not installed (pip install 'fapiao-workbench[spark]')"
    if problem:
        msg = f"SPARK UNAVAILABLE - Spark engine tests not run: {problem}"
        if os.environ.get("FAPIAO_REQUIRE_SPARK") == "1":
            pytest.fail(msg + " (FAPIAO_REQUIRE_SPARK=1)")
        pytest.skip(msg)
    from workbench.spark_engine.session import spark_session

    # local[2,2]: a failed task is tried once more, as a cluster retries a task on another executor
    session = spark_session("local[2,2]", {"spark.sql.shuffle.partitions": "4"}, app_name="fapiao-tests")
    yield session
    session.stop()


def _boundary_loops(inv: pd.DataFrame, window_days: int, rng: np.random.Generator) -> tuple[pd.DataFrame, list[
        frozenset[str]]]:
    """Plant one loop across every window edge ``t0 + k·window`` of ``inv``: its first invoice two days before
    the edge, the others after it, alternately along and against the invoice direction."""
    t0 = inv["issued_at"].min()
    end = inv["issued_at"].max()
    rows, planted = [], []
    k = 1
    while t0 + timedelta(days=window_days * k + 10) < end:
        size = 3 + k % 3
        names = [f"B{window_days}{k:02d}{m}" for m in range(size)]
        edge = t0 + timedelta(days=window_days * k)
        amount = int(rng.integers(1_000_000, 3_000_000))
        when = [edge - timedelta(days=2) + timedelta(days=1.5 * m) for m in range(size)]
        if k % 2:                                   # against: hop m is issued after hop m + 1
            when = when[::-1]
        for m in range(size):
            rows.append({"seller_tax_id": names[m], "buyer_tax_id": names[(m + 1) % size], "issued_at": when[m],
                         "total_fen": int(amount * (1 + rng.uniform(-0.05, 0.05))), "item_code": "9900001",
                         "key": f"P{window_days}{k:02d}{m}", "status": "normal"})
        planted.append(frozenset(names))
        k += 1
    out = pd.concat([inv, pd.DataFrame(rows)], ignore_index=True)
    return out.sort_values(["issued_at", "key"]).reset_index(drop=True), planted


@pytest.mark.parametrize("window_days", [30, 90])
def test_spark_finds_the_in_process_loops_across_window_and_component_edges(spark: Any, window_days: int) -> None:
    from workbench.spark_engine.cycles import SparkCycleFinder

    inv, _ = market(companies=150, invoices=6_000, loops=8, seed=2)
    inv, planted = _boundary_loops(inv, window_days, np.random.default_rng(window_days))
    assert len(planted) >= 3
    local = temporal_cycles(inv, window_days=window_days, max_drift=0.25)
    finder = SparkCycleFinder(spark)
    found = finder(inv, window_days=window_days, max_drift=0.25)
    assert local.truncated_starts == 0
    assert found.cycles == local.cycles                       # loop for loop, same order, same best instance
    assert found.instances == local.instances and found.invoices_used == local.invoices_used
    members = {frozenset(c.members) for c in found.cycles}
    assert all(p in members for p in planted)                 # each crosses a window edge
    parts = finder.searches[0].partitions
    assert len({p.window for p in parts}) >= 3 and len(parts) > len({(p.orientation, p.window) for p in parts})
    assert {p.orientation for p in parts} == {"along", "against"}


def _repeated_loops(inv: pd.DataFrame, window_days: int) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Plant three member sets, each repeated in windows 1, 3 and 5 (three partitions of the search, searched in
    different tasks and deduplicated across them), and return the hop keys of the instance the in-process rule
    keeps: ``S`` — the smallest spread is the middle repeat; ``T`` — the middle and last repeats tie on spread and
    span, the first in search order (the middle one) wins; ``M`` — a mutual pair (对开) repeated identically,
    the first wins."""
    t0 = inv["issued_at"].min()
    rows = []
    plans = {"S": (3, [0.04, 0.01, 0.03]), "T": (4, [0.05, 0.02, 0.02]), "M": (2, [0.0, 0.0, 0.0])}
    for name, (size, spreads) in plans.items():
        names = [f"{name}{m}" for m in range(size)]
        for rep, (k, spread) in enumerate(zip((1, 3, 5), spreads, strict=True)):
            start = t0 + timedelta(days=window_days * k + 3, hours=rep)        # inside window k, not at its edge
            for m in range(size):
                total = 2_000_000 if m == 0 else int(2_000_000 * (1 - spread))
                rows.append({"seller_tax_id": names[m], "buyer_tax_id": names[(m + 1) % size],
                             "issued_at": start + timedelta(days=m), "total_fen": total, "item_code": "9900001",
                             "key": f"{name}{k}{m}", "status": "normal"})
    best = {"S": tuple(f"S3{m}" for m in range(3)), "T": tuple(f"T3{m}" for m in range(4)),
            "M": tuple(f"M1{m}" for m in range(2))}
    out = pd.concat([inv, pd.DataFrame(rows)], ignore_index=True)
    return out.sort_values(["issued_at", "key"]).reset_index(drop=True), best


def test_spark_deduplicates_repeats_across_partitions_as_in_process(spark: Any) -> None:
    """The deduplication is a Spark aggregation over the repeats found in different window partitions: the
    same best instance (spread, then span, then first in search order) and repeat count as in process."""
    from workbench.spark_engine.cycles import SparkCycleFinder

    inv, best = _repeated_loops(market(companies=80, invoices=2_500, loops=4, seed=9)[0], 30)
    local = temporal_cycles(inv, window_days=30, max_drift=0.25)
    finder = SparkCycleFinder(spark)
    found = finder(inv, window_days=30, max_drift=0.25)
    assert found.cycles == local.cycles and found.instances == local.instances
    by_members = {frozenset(c.members): c for c in found.cycles}
    for name, keys in best.items():
        loop = by_members[frozenset(f"{name}{m}" for m in range(len(keys)))]
        assert tuple(h.key for h in loop.hops) == keys and loop.repeats == 3
    assert by_members[frozenset({"M0", "M1"})].orientation == "mutual"
    windows = {p.window for p in finder.searches[0].partitions if p.orientation == "along"}
    assert {1, 3, 5} <= windows


def test_spark_reads_a_parquet_dataset_partitioned_by_month(spark: Any, tmp_path: Path) -> None:
    """Read from a month-partitioned dataset, the loops are written by the executors (each with its invoices
    joined there) and read back a few at a time: the in-process loops, in order; the files are removed."""
    from workbench.spark_engine.cycles import spark_cycles

    inv, planted = _boundary_loops(market(companies=120, invoices=4_000, loops=6, seed=4)[0], 30,
                                   np.random.default_rng(7))
    table = pa.Table.from_pandas(inv.assign(month=inv["issued_at"].dt.strftime("%Y-%m")), preserve_index=False)
    pq.write_to_dataset(table, tmp_path / "invoices", partition_cols=["month"])
    assert len(list((tmp_path / "invoices").iterdir())) >= 12
    (tmp_path / "loops").mkdir()
    got = spark_cycles(spark.read.parquet(str(tmp_path / "invoices")), window_days=30, max_drift=0.25,
                       collect=False, loops_dir=str(tmp_path / "loops"))
    local = temporal_cycles(inv, window_days=30, max_drift=0.25)
    files = got.loop_files
    assert files is not None and got.search.cycles == [] and files.loops == len(local.cycles) > 20
    batches = list(files.batches(7))
    assert max(len(b) for b in batches) == 7 and len(batches) >= 3
    assert [c for b in batches for c in b] == local.cycles and got.search.instances == local.instances
    assert all(p in {frozenset(c.members) for c in local.cycles} for p in planted)
    assert got.busiest() is not None and got.busiest() in got.partitions
    assert list((tmp_path / "loops").iterdir()) != []
    files.close()
    assert list((tmp_path / "loops").iterdir()) == []                   # the run's loop files are gone


def test_a_failure_after_the_loops_are_written_leaves_no_loop_files(spark: Any, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.spark_engine import cycles

    def lost(*_: Any) -> list[Any]:
        raise RuntimeError("driver lost a batch")

    monkeypatch.setattr(cycles, "_cycles", lost)
    inv, _ = market(companies=60, invoices=1_500, loops=3, seed=5)
    with pytest.raises(RuntimeError, match="driver lost a batch"):
        cycles.SparkCycleFinder(spark)(inv, window_days=30, max_drift=0.25)
    spark.conf.set(cycles.LOOPS_DIR_CONF, str(tmp_path))
    try:
        with pytest.raises(RuntimeError, match="driver lost a batch"):
            cycles.SparkCycleFinder(spark)(inv, window_days=30, max_drift=0.25)
    finally:
        spark.conf.unset(cycles.LOOPS_DIR_CONF)
    assert list(tmp_path.iterdir()) == []


def test_a_result_over_the_driver_cap_names_the_setting_to_raise() -> None:
    from workbench.spark_engine.session import result_cap_error

    spark_says = RuntimeError("An error occurred while calling o123.collectToPython.\n: org.apache.spark.SparkException: "
                              "Job aborted due to stage failure: Total size of serialized results of 7 tasks "
                              "(1145.5 MiB) is bigger than spark.driver.maxResultSize (1024.0 MiB)")
    clear = result_cap_error(spark_says)
    assert clear is not None
    text = str(clear)
    assert text.startswith("Spark 任务返回驱动端的结果超过上限 spark.driver.maxResultSize")
    assert "--spark-conf spark.driver.maxResultSize=4g" in text and "1145.5 MiB" in text
    assert result_cap_error(RuntimeError("partition lost")) is None


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_generated(tmp_path_factory.mktemp("gen"))


def test_spark_detection_gives_the_in_process_rings_scores_and_tiers(spark: Any, generated: Path,
                                                                     tmp_path: Path) -> None:
    from workbench.spark_engine.run import spark_detection

    local_store, spark_store = store_from_generated(generated, tmp_path / "a"), store_from_generated(generated, tmp_path / "b")
    try:
        local = run_detection(local_store, seed=3, max_drift=0.25)      # the gate Spark uses (no adaptive choice)
        remote, busiest = spark_detection(spark_store, seed=3, master="local[2]")
        assert remote.run.run_id == local.run.run_id
        assert [r.__dict__ for r in remote.rings] == [r.__dict__ for r in local.rings]
        assert any(r.kind == "cycle" for r in local.rings)
        assert remote.scores.equals(local.scores) and remote.tier_counts() == local.tier_counts()
        stored = spark_store.runs()
        assert [r.run_id for r in stored] == [local.run.run_id] and stored[0].params["engine"] == "spark"
        assert stored[0].params["model_sample_rows"] == 1_000_000 and local.risk and local.risk.model == "isolation_forest"
        assert {r.ring_id for r in spark_store.rings(local.run.run_id)} == {r.ring_id for r in local.rings}
        assert busiest.startswith("spark: ") and "busiest" in busiest
    finally:
        local_store.close()
        spark_store.close()


def _failing_udf(*_: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        raise RuntimeError("partition lost")

    return run


def test_a_failed_partition_stores_no_findings_and_writes_no_findings_folder(spark: Any, generated: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from workbench.cli.detect import detect
    from workbench.spark_engine import cycles
    from workbench.spark_engine.run import spark_detection

    monkeypatch.setattr(cycles, "_search_udf", _failing_udf)
    store = store_from_generated(generated, tmp_path / "ws")
    try:
        with pytest.raises(Exception, match="partition lost"):
            spark_detection(store, seed=3)
        assert store.runs() == [] and store.rings() == []
    finally:
        store.close()
    out = CliRunner().invoke(detect, ["--engine", "spark", "--store", f"embedded:{tmp_path / 'ws'}", "--no-progress",
                                      "--findings-out", str(tmp_path / "findings")])
    assert out.exit_code != 0 and "partition lost" in str(out.exception)
    assert list((tmp_path / "findings").iterdir()) == []                   # nothing that looks like a finished run


def _dying_once_udf(marker: Path) -> Callable[..., Callable[[pd.DataFrame], pd.DataFrame]]:
    """The search UDF, except that the first partition to run kills its Python worker process (``os._exit``, as
    an executor lost mid-run) once; ``marker`` records that it happened."""
    from workbench.spark_engine import cycles

    real = cycles._search_udf

    def make(*args: Any, **kwargs: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
        inner = real(*args, **kwargs)

        def run(pdf: pd.DataFrame) -> pd.DataFrame:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)   # only one worker ever dies
            except FileExistsError:
                return inner(pdf)
            os.close(fd)
            os._exit(1)

        return run

    return make


def test_a_worker_killed_mid_run_is_retried_and_gives_the_in_process_findings(
        spark: Any, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.spark_engine import cycles
    from workbench.spark_engine.run import spark_detection

    marker = tmp_path / "worker-killed"
    monkeypatch.setattr(cycles, "_search_udf", _dying_once_udf(marker))
    local_store, spark_store = store_from_generated(generated, tmp_path / "a"), store_from_generated(generated, tmp_path / "b")
    try:
        local = run_detection(local_store, seed=3, max_drift=0.25)
        remote, _ = spark_detection(spark_store, seed=3)
        assert marker.exists()                                          # a worker did die during the search
        assert [r.__dict__ for r in remote.rings] == [r.__dict__ for r in local.rings]
        assert remote.scores.equals(local.scores)
        assert [r.run_id for r in spark_store.runs()] == [local.run.run_id]
    finally:
        local_store.close()
        spark_store.close()


@pytest.mark.slow
def test_a_master_that_cannot_be_reached_stops_detect_with_a_clear_error_and_stores_nothing(
        generated: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    if not shutil.which("java"):
        pytest.skip("SPARK UNAVAILABLE - no `java` on PATH (Java 17+ is needed)")
    pytest.importorskip("pyspark")
    store_from_generated(generated, tmp_path / "ws").close()
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "detect", "--engine", "spark", "--spark-master",
                          "spark://127.0.0.1:1", "--store", f"embedded:{tmp_path / 'ws'}", "--no-progress"],
                         capture_output=True, text=True, timeout=400, env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode != 0
    assert "could not start Spark with master 'spark://127.0.0.1:1'" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
    from graph import open_store

    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        assert store.runs() == [] and store.rings() == []


def _input_with_bad_rows(generated: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The generated invoices with three rows broken (tax id, date, total) as one Parquet file and as a
    dataset partitioned by month (month=YYYY-MM folders, the broken date under month=unknown)."""
    t = pq.read_table(generated / "invoices.parquet").to_pandas()
    t.loc[5, "seller_tax_id"] = "BAD"
    t.loc[9, "issue_date"] = "not a date"
    t.loc[13, "total_amount"] = "1.00"
    flat = tmp_path / "flat" / "invoices.parquet"
    flat.parent.mkdir()
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), flat)
    month = t["issue_date"].str.slice(0, 7).where(t["issue_date"].str.match(r"^\d{4}-\d{2}"), "unknown")
    pq.write_to_dataset(pa.Table.from_pandas(t.assign(month=month), preserve_index=False), tmp_path / "dataset",
                        partition_cols=["month"])
    return flat, tmp_path / "dataset"


def test_input_dataset_gives_the_rings_and_tiers_of_loading_it_and_quarantines_bad_rows(
        spark: Any, generated: Path, tmp_path: Path) -> None:
    from graph.embedded import EmbeddedStore
    from loaders.load import load_files
    from workbench.findings_parquet import write_findings
    from workbench.spark_engine.run import spark_detection
    from workbench.spark_engine.source import InputRows

    flat, dataset = _input_with_bad_rows(generated, tmp_path)
    assert len(list(dataset.iterdir())) >= 12
    loaded, target = EmbeddedStore(tmp_path / "a"), EmbeddedStore(tmp_path / "b")
    try:
        report = load_files(loaded, flat, report_dir=tmp_path / "load-report")
        assert report.rejected == 3
        local = run_detection(loaded, seed=3, max_drift=0.25)
        seen: list[InputRows] = []
        remote, _ = spark_detection(target, seed=3, master="local[2]", source=str(dataset),
                                    report_dir=tmp_path / "input-report", on_input=seen.append)
        assert remote.run.run_id == local.run.run_id
        assert [r.__dict__ for r in remote.rings] == [r.__dict__ for r in local.rings]
        assert any(r.kind == "cycle" for r in local.rings)
        assert remote.scores.equals(local.scores) and remote.tier_counts() == local.tier_counts()
        got = seen[0].report
        assert (got.read, got.loaded, got.rejected) == (6_000, 5_997, 3) == (report.read, report.loaded, 3)
        quarantine = pq.read_table(tmp_path / "input-report" / "quarantine.parquet").to_pandas()
        assert sorted(quarantine["rules"]) == ["date_unparseable", "tax_id_format", "total_mismatch"]
        assert quarantine["reasons"].str.len().min() > 0 and set(quarantine["month"]) >= {"unknown"}
        assert target.counts().invoices == 0                      # the input is not copied into the store
        stored = target.runs()
        assert [r.run_id for r in stored] == [local.run.run_id] and stored[0].params["input"] == str(dataset)
        assert {r.ring_id for r in target.rings(local.run.run_id)} == {r.ring_id for r in local.rings}
        folder = write_findings(remote, tmp_path / "findings")               # --findings-out on real findings
        rings = pq.read_table(folder / "rings.parquet").to_pandas()
        assert rings["ring_id"].tolist() == [r.ring_id for r in local.rings]
        assert pq.read_table(folder / "ring_members.parquet").num_rows == sum(len(r.members) for r in local.rings)
        scores = pq.read_table(folder / "taxpayer_scores.parquet").to_pandas()
        assert scores["tier"].value_counts().to_dict() == {k: v for k, v in local.tier_counts().items() if v}
    finally:
        loaded.close()
        target.close()


def test_input_without_a_required_column_is_refused_naming_it(spark: Any, generated: Path, tmp_path: Path) -> None:
    from graph.core.errors import ConfigError
    from graph.embedded import EmbeddedStore
    from workbench.spark_engine.run import spark_detection

    t = pq.read_table(generated / "invoices.parquet").drop_columns(["seller_tax_id"])
    pq.write_table(t, tmp_path / "no_seller.parquet")
    store = EmbeddedStore(tmp_path / "ws")
    try:
        with pytest.raises(ConfigError, match="seller_tax_id"):
            spark_detection(store, seed=3, source=str(tmp_path / "no_seller.parquet"), report_dir=tmp_path / "r")
        with pytest.raises(ConfigError, match="neither a Parquet path nor a table"):
            spark_detection(store, seed=3, source="no_such_db.no_such_table", report_dir=tmp_path / "r2")
        assert store.runs() == []
    finally:
        store.close()


def test_input_needs_the_spark_engine(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from workbench.cli.detect import detect

    out = CliRunner().invoke(detect, ["--store", f"embedded:{tmp_path / 'ws'}", "--input", str(tmp_path)])
    assert out.exit_code == 2 and "--input needs --engine spark" in out.output


def test_spark_activity_equals_the_in_process_activity_table(spark: Any, generated: Path) -> None:
    from algorithms.shell import activity
    from tests.helpers.detect_data import tables_from_generated
    from workbench.spark_engine.features import SparkActivity

    inv_t, tp_t, _ = tables_from_generated(generated)
    inv, tp = inv_t.to_pandas(), tp_t.to_pandas()
    tp.loc[tp.index[:5], "registered_on"] = None                 # unknown registration: age NaN
    tp = tp.iloc[:-3]                                             # taxpayers missing from the registry
    local = activity(inv, tp)
    assert local["out_n"].eq(0).any() and local["in_n"].eq(0).any() and local["age_days"].isna().any()
    got = SparkActivity(spark)(inv, tp)
    pd.testing.assert_frame_equal(got, local, check_exact=True)


def test_spark_edges_equal_the_in_process_edge_table(spark: Any, generated: Path) -> None:
    from tests.helpers.detect_data import tables_from_generated
    from workbench.detect import invoice_edges
    from workbench.spark_engine.features import SparkEdges

    inv = tables_from_generated(generated)[0].to_pandas()
    local = invoice_edges(inv)
    assert (local["count"] > 1).any() and len(local) < (inv["total_fen"] > 0).sum()     # pairs trade repeatedly
    got = SparkEdges(spark)(inv)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_dtype=False)
    assert got["count"].dtype == local["count"].dtype and got["total_fen"].dtype == local["total_fen"].dtype


def test_spark_void_red_counts_equal_the_in_process_ones(spark: Any, generated: Path) -> None:
    from algorithms.shell import void_red, void_red_counts
    from tests.helpers.detect_data import tables_from_generated
    from workbench.spark_engine.features import SparkVoidRed

    inv = tables_from_generated(generated)[0].to_pandas()
    inv.loc[inv.index[:40:2], "status"] = "void"                          # a voided and a red-lettered share
    inv.loc[inv.index[1:40:2], "amount_fen"] *= -1
    local = void_red_counts(inv)
    assert local["voids"].sum() >= 20 and local["red"].sum() > 0
    got = SparkVoidRed(spark)(inv)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_index_type=False)
    assert list(got.dtypes) == list(local.dtypes)
    pd.testing.assert_frame_equal(void_red(inv, counts=got).table, void_red(inv).table)


def test_spark_connected_components_are_igraphs(spark: Any) -> None:
    import igraph as ig

    from workbench.spark_engine.components import spark_components

    rng = np.random.default_rng(4)
    chain = np.arange(14)                                   # a long path: its far end needs 14 rounds
    src = np.concatenate([chain[:-1], rng.integers(14, 60, 40), [60, 61, 61]])
    dst = np.concatenate([chain[1:], rng.integers(14, 60, 40), [61, 60, 61]])   # both ways, a loop
    n = 70                                                  # 62..69: nodes without edges
    got = spark_components(spark, src, dst, n)
    want = ig.Graph(n=n, edges=list(zip(src.tolist(), dst.tolist(), strict=True))).connected_components().membership
    assert got.tolist() == pd.factorize(np.asarray(want))[0].tolist()
    assert len(set(got.tolist())) > 10 and len(set(got[:14].tolist())) == 1
    assert spark_components(spark, np.zeros(0), np.zeros(0), 0).tolist() == []


def test_spark_identity_clusters_equal_the_in_process_ones(spark: Any, generated: Path) -> None:
    from algorithms.identity import identity_clusters
    from tests.helpers.detect_data import tables_from_generated
    from workbench.spark_engine.components import SparkComponents

    ids = tables_from_generated(generated)[2].to_pandas()
    local = identity_clusters(ids)
    assert len(local) >= 2 and max(len(c.members) for c in local) >= 3
    assert identity_clusters(ids, components=SparkComponents(spark)) == local


def _model_matrix(rows: int, seed: int) -> np.ndarray:
    """A feature matrix like the risk model's: skewed columns, ties (counts), ten far-off rows at the top."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.lognormal(3, 1, rows), rng.poisson(2, rows).astype(float), rng.normal(0, 1, (rows, 6))])
    x[:10] += 40.0
    return x


def test_spark_risk_model_is_the_in_process_model_applied_in_parallel(spark: Any) -> None:
    from algorithms.risk import isolation
    from workbench.spark_engine.risk import SparkIsolation

    x = _model_matrix(3_000, seed=5)
    model = SparkIsolation(spark)
    got = model(x, 3)
    np.testing.assert_array_equal(got, isolation(x, 3))               # every rank, bit for bit
    assert (model.fitted_on, model.rows) == (3_000, 3_000)
    assert got[:10].min() > 0.99 and np.array_equal(model(x[:9], 3), np.zeros(9))


def test_spark_risk_model_trained_on_a_sample_still_ranks_the_outliers_first(spark: Any) -> None:
    from algorithms.risk import isolation
    from workbench.spark_engine.risk import SparkIsolation

    x = _model_matrix(3_000, seed=6)
    model = SparkIsolation(spark, sample_rows=500)
    got = model(x, 3)
    assert (model.fitted_on, model.rows) == (500, 3_000)
    assert not np.array_equal(got, isolation(x, 3))                   # another forest …
    np.testing.assert_array_equal(got, SparkIsolation(spark, sample_rows=500)(x, 3))   # … the same on every run
    assert got[:10].min() > 0.99 and np.corrcoef(got, isolation(x, 3))[0, 1] > 0.8
    with pytest.raises(ValueError, match="at least 10"):
        SparkIsolation(spark, sample_rows=5)


def test_spark_leiden_per_component_gives_the_in_process_communities(spark: Any, generated: Path) -> None:
    from algorithms.communities import communities, leiden_by_component, weighted_pairs
    from algorithms.identity import identity_links
    from tests.helpers.detect_data import tables_from_generated
    from workbench.detect import invoice_edges
    from workbench.spark_engine.communities import SparkLeiden

    inv, _, ids = (t.to_pandas() for t in tables_from_generated(generated))
    rng = np.random.default_rng(8)
    extra = [{"seller_tax_id": f"Q{k}{a}", "buyer_tax_id": f"Q{k}{b}", "total_fen": int(rng.integers(100_000, 1_000_000_000))}
             for k, size in enumerate([2, 5, 9, 14]) for a in range(size) for b in range(size)
             if a != b and rng.random() < 0.6]                       # separate components, one below min_size
    edges = pd.concat([invoice_edges(inv), pd.DataFrame(extra)], ignore_index=True)
    links = identity_links(ids)
    pairs, names = weighted_pairs(edges, links)
    leiden = SparkLeiden(spark)
    want = leiden_by_component(pairs, len(names), resolution=10.0, seed=3, min_size=3)
    got = leiden(pairs, len(names), resolution=10.0, seed=3, min_size=3)
    np.testing.assert_array_equal(got, want)
    assert leiden.components >= 4 and len(np.unique(want)) > 20           # several components, many communities
    # the pair table built by Spark aggregations: the same node numbers, pair weights (to the bit) and total
    on_spark, spark_names = leiden.weighted_pairs(edges, links)
    assert spark_names.tolist() == names.tolist()
    pd.testing.assert_frame_equal(on_spark.to_pandas(), pairs, check_exact=True, check_dtype=False)
    assert on_spark.total == math.fsum(pairs["w"].to_numpy()) and len(on_spark) == len(pairs)
    np.testing.assert_array_equal(leiden(on_spark, len(names), resolution=10.0, seed=3, min_size=3), want)
    local = communities(edges, links=links, seed=3)
    assert len(local) >= 3 and communities(edges, links=links, seed=3, leiden=leiden) == local


def test_exact_partials_sum_as_fsum_across_partitions() -> None:
    from workbench.spark_engine.communities import exact_partials

    rng = np.random.default_rng(3)
    values = (rng.standard_normal(3_000) * 10.0 ** rng.integers(-8, 12, 3_000)).tolist()
    parts = [exact_partials(iter(values[k:k + 700])) for k in range(0, len(values), 700)]
    assert math.fsum(p for ps in parts for p in ps) == math.fsum(values) != sum(values)

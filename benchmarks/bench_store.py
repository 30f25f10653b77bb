"""Store benchmark: load throughput, 2-hop ego-network latency, edge-table export, peak memory, per backend.

Generates invoices with ``loaders.generate`` (cached under benchmarks/out/), converts them to
graph.core.schema.INVOICES once, then for each backend (embedded workspace, a local Neo4j started with
``graph.local_neo4j.running``) measures:

- load throughput (invoices/s; Neo4j writes both ISSUED and BILLED_TO relationships),
- ``ego_network(hops=2, limit=500)`` latency p50 / p95 over random taxpayers,
- ``edge_table()`` time for the whole period,
- Neo4j with the ``fapiao.*`` read procedures: the same ego networks and the edge table also through plain Cypher
  (``procedures=False``) in the same run, one block of calls per path (interleaving let the Cypher calls' garbage
  collection land in the procedure's timings), with client + server CPU per call,
- Neo4j only: the bulk import (``graph.neo4j_import``: CSV files + ``neo4j-admin database import full`` into an
  empty data dir, then start + every index online) beside the Cypher ``UNWIND`` load,
- peak RSS of this Python process and of the Neo4j JVM (VmHWM).

A CPU calibration (a fixed numpy workload) and the load average are printed with the table: the machine
may be shared, so compare ratios measured in the same run, not absolute times across runs.

Usage::

    .venv/bin/python benchmarks/bench_store.py                 # 1M invoices, both backends
    .venv/bin/python benchmarks/bench_store.py --invoices 100000 --backends neo4j
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.core import schema
from graph.store import Store

OUT = Path(__file__).resolve().parent / "out"
CHUNK = 100_000
console = Console(width=120)


@dataclass
class Figure:
    name: str
    backend: str
    size: str
    value: float
    unit: str
    target: float | None
    higher_is_better: bool

    def ratio(self) -> str:
        if self.target is None or self.value == 0:
            return "-"
        r = self.value / self.target if self.higher_is_better else self.target / self.value
        return f"{r:.2f}"


def add(figures: list[Figure], figure: Figure) -> None:
    """Record a figure and print it at once (a long run that is interrupted still shows what it measured)."""
    figures.append(figure)
    console.print(f"  {figure.name} [{figure.backend}, {figure.size}]: {figure.value:,.2f} {figure.unit}")


def calibration_seconds() -> float:
    """A fixed CPU workload (sort 2M floats, three times): the machine-speed baseline of this run."""
    rng = np.random.default_rng(0)
    data = rng.random(2_000_000)
    t0 = time.perf_counter()
    for _ in range(3):
        np.sort(data)
    return time.perf_counter() - t0


def _fen(col: pa.ChunkedArray) -> pa.Array:
    return pc.cast(pc.multiply(pc.cast(col, pa.decimal128(18, 2)), pa.scalar(100, pa.decimal128(5, 0))),
                   pa.int64())


def invoices_table(invoices: int, taxpayers: int, seed: int) -> pa.Table:
    """Generated invoices (cached) converted to graph.core.schema.INVOICES."""
    data = OUT / f"data-{invoices}-{taxpayers}-{seed}"
    converted = data / "invoices.schema.parquet"
    if converted.is_file():
        return pq.read_table(converted)
    from loaders.generate import generate

    console.print(f"generating {invoices:,} invoices / {taxpayers:,} taxpayers into {data} ...")
    generate(data, taxpayers=taxpayers, invoices=invoices, seed=seed, progress=True)
    raw = pq.read_table(data / "invoices.parquet")
    code = pc.fill_null(raw["invoice_code"], "")
    number = raw["invoice_number"]
    key = pc.if_else(pc.equal(code, ""), number, pc.binary_join_element_wise(code, number, "-"))
    issued = pc.cast(pc.strptime(raw["issue_date"], format="%Y-%m-%dT%H:%M:%S%z", unit="s"), schema.TIMESTAMP)
    by_number = dict(zip(number.to_pylist(), key.to_pylist(), strict=True))
    red_ref = pa.array([None if r is None else by_number.get(r, r) for r in raw["red_ref"].to_pylist()], pa.string())
    table = pa.table({
        "key": key, "number": number, "code": code, "issued_at": issued,
        "seller_tax_id": raw["seller_tax_id"], "seller_name": raw["seller_name"],
        "buyer_tax_id": raw["buyer_tax_id"], "buyer_name": raw["buyer_name"],
        "amount_fen": _fen(raw["amount"]), "tax_fen": _fen(raw["tax_amount"]), "total_fen": _fen(raw["total_amount"]),
        "rate": pc.cast(raw["tax_rate"], pa.float64()), "kind": raw["invoice_type"], "status": raw["status"],
        "red_ref": red_ref, "item_code": raw["item_code"], "item_name": raw["item_name"],
    })
    table = schema.conform(table, schema.INVOICES)
    pq.write_table(table, converted)
    return table


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of this process, plus of ``pid`` (the Neo4j JVM) when given."""
    total = time.process_time()
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure_backend(backend_name: str, store: Store, table: pa.Table, samples: int, seed: int,
                    size: str, server_pid: int | None = None) -> list[Figure]:
    name = backend_name
    figures: list[Figure] = []
    with progress_bar() as bar:
        task = bar.add_task(f"{name}: loading", total=table.num_rows)
        cpu0 = cpu_seconds(server_pid)
        t0 = time.perf_counter()
        with store.writer() as w:
            for offset in range(0, table.num_rows, CHUNK):
                chunk = table.slice(offset, CHUNK)
                w.invoices(chunk)
                bar.advance(task, chunk.num_rows)
        load_s = time.perf_counter() - t0
        load_cpu = cpu_seconds(server_pid) - cpu0
    counts = store.counts()
    assert counts.invoices == len(set(table.column("key").to_pylist())), counts
    target = 100_000.0 if name == "neo4j" else 500_000.0
    add(figures, Figure("load throughput (invoices/s)", name, size, table.num_rows / load_s, "/s", target, True))
    add(figures, Figure("load per CPU-second, client+server", name, size, table.num_rows / load_cpu, "/cpu-s",
                          target, True))

    figures += measure_queries(name, store, table, samples, seed, counts.invoices, server_pid=server_pid)
    return figures


def cypher_peer(store: Store) -> Store | None:
    """The same Neo4j read through plain Cypher when ``store`` uses the fapiao.* procedures, else None."""
    from graph.neo4j_store import Neo4jStore

    if not isinstance(store, Neo4jStore) or not store.procedures:
        return None
    return Neo4jStore(store._driver, database=store.database, procedures=False)  # shares (does not close) the driver


def await_projection(store: Store, tax_id: str, timeout: float = 120.0) -> float | None:
    """Seconds until fapiao.ego answers from its in-memory TRADES projection (None: not a procedure store)."""
    import neo4j

    from graph.neo4j_store import Neo4jStore

    if not isinstance(store, Neo4jStore) or not store.procedures:
        return None
    t0 = time.perf_counter()
    with store._session(neo4j.READ_ACCESS) as session:
        while time.perf_counter() - t0 < timeout:
            found = session.run("CALL fapiao.ego($t, 1, 1) YIELD source RETURN source", t=tax_id).single()
            if found is None or found["source"] == "projection":
                break
            time.sleep(0.05)
    return time.perf_counter() - t0


def measure_queries(name: str, store: Store, table: pa.Table, samples: int, seed: int,
                    invoices: int, server_pid: int | None = None) -> list[Figure]:
    """Ego-network latency, search latency and the whole-period edge table on a loaded store; for a Neo4j with the
    read procedures the same ego networks (interleaved) and edge tables also through plain Cypher."""
    figures: list[Figure] = []
    backend_name = name
    peer = cypher_peer(store)
    paths: list[tuple[str, Store]] = [(name, store)] + ([(f"{name} cypher", peer)] if peer is not None else [])
    tax_ids = sorted(set(table.column("seller_tax_id").to_pylist()))
    rng = random.Random(seed)
    picks = [rng.choice(tax_ids) for _ in range(samples)]
    ready_s = await_projection(store, picks[0])  # the first call starts building it in the server
    if ready_s is not None:
        add(figures, Figure("ego: TRADES projection ready after (s)", name, "-", ready_s, "s", None, False))
    for tax_id in rng.sample(tax_ids, min(10, len(tax_ids))):  # warm-up (query plans, JIT, page cache)
        for _, s in paths:
            s.ego_network(tax_id, hops=2, limit=500)
    latencies: dict[str, list[float]] = {label: [] for label, _ in paths}
    cpu: dict[str, float] = {label: 0.0 for label, _ in paths}
    with progress_bar() as bar:
        for label, s in paths:  # one block per path, the same taxpayers in the same order
            task = bar.add_task(f"{label}: ego networks", total=samples)
            for tax_id in picks:
                c0 = cpu_seconds(server_pid)
                t0 = time.perf_counter()
                s.ego_network(tax_id, hops=2, limit=500)
                latencies[label].append((time.perf_counter() - t0) * 1000)
                cpu[label] += cpu_seconds(server_pid) - c0
                bar.advance(task)
    for label, _ in paths:
        q = statistics.quantiles(latencies[label], n=100)
        add(figures, Figure("ego 2-hop limit 500 p50 (ms)", label, f"{samples} taxpayers", q[49], "ms", None, False))
        add(figures, Figure("ego 2-hop limit 500 p95 (ms)", label, f"{samples} taxpayers", q[94], "ms", 50.0, False))
        if server_pid is not None:
            add(figures, Figure("ego CPU per call, client+server (ms)", label, f"{samples} taxpayers",
                                cpu[label] * 1000 / samples, "ms", None, False))
    if peer is not None:
        p95 = {label: statistics.quantiles(latencies[label], n=100)[94] for label, _ in paths}
        add(figures, Figure("ego p95: Cypher / procedure (x)", name, f"{samples} taxpayers",
                            p95[f"{name} cypher"] / p95[name], "x", None, True))

    names = table.column("seller_name").to_pylist()
    queries = []
    for _ in range(max(10, samples // 4)):  # a 2-character piece of a real name, as investigators type
        full = rng.choice(names) or "公司"
        i = rng.randrange(max(1, len(full) - 1))
        queries.append(full[i:i + 2])
    store.search("公司", limit=20)  # warm-up (query plan)
    search_ms = []
    for text in queries:
        t0 = time.perf_counter()
        store.search(text, limit=20)
        search_ms.append((time.perf_counter() - t0) * 1000)
    add(figures, Figure("search name contains p95 (ms)", backend_name, f"{len(queries)} queries",
                          statistics.quantiles(search_ms, n=20)[18], "ms", None, False))

    edge_s: dict[str, list[float]] = {label: [] for label, _ in paths}
    for call in (1, 2):  # the first call of each path, then a second one (warm plans and page cache)
        for label, s in paths:
            c0 = cpu_seconds(server_pid)
            t0 = time.perf_counter()
            edges = s.edge_table()
            edge_s[label].append(time.perf_counter() - t0)
            assert sum(edges.column("count").to_pylist()) == invoices
            size = f"{edges.num_rows:,} edges"
            add(figures, Figure("edge_table export (s)" if call == 1 else "edge_table export, 2nd call (s)", label,
                                size, edge_s[label][-1], "s", 5.0, False))
            if server_pid is not None:
                add(figures, Figure(f"edge_table CPU, client+server, call {call} (s)", label, size,
                                    cpu_seconds(server_pid) - c0, "s", None, False))
    if peer is not None:
        add(figures, Figure("edge_table: Cypher / procedure, 1st call (x)", name, "-",
                            edge_s[f"{name} cypher"][0] / edge_s[name][0], "x", None, True))
        peer.close()
    return figures


def measure_bulk_import(table: pa.Table, tmp: Path, size: str, samples: int, seed: int) -> list[Figure]:
    """``neo4j-admin database import full`` into an empty local data dir: CSV files written from the Arrow table,
    the importer, then the server started once and every constraint/index online."""
    from graph import local_neo4j
    from graph.neo4j_import import import_local, write_import_csv
    from graph.neo4j_store import Neo4jStore

    figures: list[Figure] = []
    n = table.num_rows

    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    cpu0, child0 = time.process_time(), children_cpu()
    t0 = time.perf_counter()
    csv = write_import_csv(tmp / "import-csv", invoices=table)
    csv_s = time.perf_counter() - t0
    import_s = import_local(tmp / "neo4j-import", csv)
    files_s = time.perf_counter() - t0
    files_cpu = time.process_time() - cpu0 + children_cpu() - child0
    with local_neo4j.running(tmp / "neo4j-import") as server:
        store = Neo4jStore(server.uri)  # creates constraints and indexes on the imported graph
        try:
            store.await_indexes()
            total_s = time.perf_counter() - t0
            jvm_cpu = cpu_seconds(server.pid) - time.process_time()
            total_cpu = time.process_time() - cpu0 + children_cpu() - child0 + jvm_cpu
            counts = store.counts()
            assert counts.invoices == len(set(table.column("key").to_pylist())), counts
            queries = measure_queries("neo4j bulk", store, table, samples, seed, counts.invoices)
        finally:
            store.close()
    console.print(f"  bulk import: CSV {csv_s:.1f} s, importer {import_s:.1f} s, start + indexes online "
                  f"{total_s - files_s:.1f} s")
    add(figures, Figure("bulk import: CSV + importer (invoices/s)", "neo4j", size, n / files_s, "/s", 100_000.0, True))
    add(figures, Figure("bulk import per CPU-second (CSV + importer)", "neo4j", size, n / files_cpu, "/cpu-s",
                        100_000.0, True))
    add(figures, Figure("bulk import to indexes online (invoices/s)", "neo4j", size, n / total_s, "/s", 100_000.0,
                        True))
    add(figures, Figure("bulk import to indexes online per CPU-second", "neo4j", size, n / total_cpu, "/cpu-s",
                        100_000.0, True))
    return figures + queries


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def embedded_store(tmp: Path) -> Iterator[Store]:
    from graph.embedded import EmbeddedStore

    store = EmbeddedStore(tmp / "workspace")
    try:
        yield store
    finally:
        store.close()


def run(args: argparse.Namespace) -> list[Figure]:
    size = f"{args.invoices:,} inv"
    table = invoices_table(args.invoices, args.taxpayers or max(100, args.invoices // 10), args.seed)
    console.print(f"data: {table.num_rows:,} invoices; calibration and load average follow the table")
    figures: list[Figure] = []
    backends: list[str] = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="fapiao-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "embedded" in backends:
            with embedded_store(tmp) as store:
                figures += measure_backend("embedded", store, table, args.samples, args.seed, size)
        if "neo4j" in backends:
            from graph import local_neo4j
            from graph.neo4j_store import Neo4jStore

            problem = local_neo4j.missing_prerequisites()
            if problem:
                console.print(f"[red]Neo4j skipped: {problem}")
            else:
                with local_neo4j.running(tmp / "neo4j") as server:
                    add(figures, Figure("Neo4j start (launcher built)", "neo4j", "empty db", server.started_in_s,
                                          "s", None, False))
                    store = Neo4jStore(server.uri)
                    if args.warmup:  # a fresh JVM is ~10x slower for its first minute (JIT): time a warm server
                        with store.writer() as w:
                            w.invoices(table.slice(0, args.warmup))
                        store.clear()
                    try:
                        figures += measure_backend("neo4j", store, table, args.samples, args.seed, size,
                                                   server_pid=server.pid)
                    finally:
                        store.close()
                    add(figures, Figure("peak RSS Neo4j JVM (MB)", "neo4j", size, vm_hwm_mb(server.pid), "MB",
                                          None, False))
                if args.bulk:
                    figures += measure_bulk_import(table, tmp, size, args.samples, args.seed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    add(figures, Figure("peak RSS Python process (MB)", "python", size, rss, "MB", None, False))
    return figures


def print_table(figures: list[Figure], calibration: float) -> None:
    t = Table(title="Store benchmark (ratio = how far past the target; >= 1 meets it)")
    for col in ("figure", "backend", "data size", "measured", "target", "ratio"):
        t.add_column(col, justify="right" if col in {"measured", "target", "ratio"} else "left")
    for f in figures:
        value = f"{f.value:,.0f}" if f.value >= 100 else f"{f.value:,.2f}"
        target = "-" if f.target is None else (f"{'>=' if f.higher_is_better else '<'} {f.target:,.0f}")
        t.add_row(f.name, f.backend, f.size, f"{value} {f.unit}", target, f.ratio())
    console.print(t)
    load1, load5, _ = os.getloadavg()
    console.print(f"CPU calibration (3 x numpy sort of 2M floats): {calibration:.2f} s; load average {load1:.1f} / "
                  f"{load5:.1f} on {os.cpu_count()} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=1_000_000, help="invoices to generate and load (1M)")
    parser.add_argument("--taxpayers", type=int, default=0, help="taxpayers (default invoices / 10)")
    parser.add_argument("--backends", default="embedded,neo4j", help="comma-separated: embedded,neo4j")
    parser.add_argument("--samples", type=int, default=200, help="random taxpayers for ego latency (200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=50_000,
                        help="Neo4j: load and clear this many invoices before timing, so JIT warm-up is not timed "
                             "(50,000; 0 = time a cold server)")
    parser.add_argument("--no-bulk", dest="bulk", action="store_false",
                        help="Neo4j: skip the bulk-import (neo4j-admin database import full) rows")
    args = parser.parse_args(argv)
    # millions of invoices need more than the interactive defaults (768m heap, 192 MB page cache)
    os.environ.setdefault("FAPIAO_NEO4J_HEAP", "1g")
    os.environ.setdefault("FAPIAO_NEO4J_PAGECACHE_MB", str(max(192, args.invoices // 1000)))
    console.print(f"Neo4j heap {os.environ['FAPIAO_NEO4J_HEAP']}, page cache "
                  f"{os.environ['FAPIAO_NEO4J_PAGECACHE_MB']} MB, batch {os.environ.get('FAPIAO_NEO4J_BATCH', '5000')}")
    calibration = calibration_seconds()
    figures = run(args)
    print_table(figures, (calibration + calibration_seconds()) / 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

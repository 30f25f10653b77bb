"""A Neo4j server killed (SIGKILL) in the middle of a load recovers, and re-loading converges exactly.

Runs its own local Neo4j on its own data directory (not the session server), because it kills it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import neo4j
import pyarrow as pa
import pytest

from graph import local_neo4j
from graph.core import schema
from graph.core.errors import StoreError
from graph.neo4j_store import Neo4jStore

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

TZ = ZoneInfo("Asia/Shanghai")
N_INVOICES = 6_000
N_TAXPAYERS = 300
BATCH = 200


def dataset() -> pa.Table:
    t0 = datetime(2024, 1, 1, tzinfo=TZ)
    rows = []
    for n in range(N_INVOICES):
        seller, buyer = n % N_TAXPAYERS, (n * 7 + 1) % N_TAXPAYERS
        if buyer == seller:
            buyer = (buyer + 1) % N_TAXPAYERS
        rows.append({
            "key": f"{n:020d}", "number": f"{n:020d}", "code": "", "issued_at": t0 + timedelta(minutes=n),
            "seller_tax_id": f"9133{seller:014d}", "seller_name": f"卖方{seller}",
            "buyer_tax_id": f"9133{buyer:014d}", "buyer_name": f"买方{buyer}", "amount_fen": 1000 + n,
            "tax_fen": 130, "total_fen": 1130 + n, "rate": 0.13, "kind": "digital_special", "status": "normal",
            "red_ref": None, "item_code": None, "item_name": "办公用品",
        })
    return pa.Table.from_pylist(rows, schema=schema.INVOICES)


def load(store: Neo4jStore, table: pa.Table) -> None:
    with store.writer() as w:
        for offset in range(0, table.num_rows, BATCH):
            w.invoices(table.slice(offset, BATCH))


def graph_facts(uri: str) -> dict[str, int]:
    with neo4j.GraphDatabase.driver(uri, auth=None) as driver:
        records, _, _ = driver.execute_query("""
            MATCH (i:Invoice)
            OPTIONAL MATCH (s:Taxpayer)-[:ISSUED]->(i)
            WITH i, count(s) AS sellers
            OPTIONAL MATCH (i)-[:BILLED_TO]->(b:Taxpayer)
            WITH i, sellers, count(b) AS buyers
            RETURN count(i) AS invoices, count(DISTINCT i.key) AS keys,
                   sum(CASE WHEN sellers = 1 AND buyers = 1 THEN 1 ELSE 0 END) AS wired""")
        taxpayers, _, _ = driver.execute_query("MATCH (t:Taxpayer) RETURN count(t) AS n, count(DISTINCT t.tax_id) AS ids")
    return {**records[0].data(), "taxpayers": taxpayers[0]["n"], "taxpayer_ids": taxpayers[0]["ids"]}


def test_sigkill_mid_load_then_restart_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problem = local_neo4j.missing_prerequisites()
    if problem:
        pytest.skip(f"REAL NEO4J UNAVAILABLE: {problem}")
    monkeypatch.setenv("FAPIAO_NEO4J_BATCH", str(BATCH))
    table = dataset()
    expected_taxpayers = len(set(table.column("seller_tax_id").to_pylist()) | set(table.column("buyer_tax_id").to_pylist()))
    data_dir = tmp_path / "neo4j-crash"
    failure: list[BaseException] = []

    with local_neo4j.running(data_dir) as server:
        driver = neo4j.GraphDatabase.driver(server.uri, auth=None, max_transaction_retry_time=1.0)
        store = Neo4jStore(driver)

        def run_load() -> None:
            try:
                load(store, table)
            except BaseException as e:  # the load is expected to fail when the server dies
                failure.append(e)

        loader = threading.Thread(target=run_load, daemon=True)
        loader.start()
        deadline = time.monotonic() + 120
        while graph_facts(server.uri)["invoices"] < 3 * BATCH:  # some batches committed, the load is running
            assert loader.is_alive(), f"load finished before the kill: {failure}"
            assert time.monotonic() < deadline, "load made no progress"
            time.sleep(0.2)
        server.kill()
        loader.join(120)
        driver.close()
    assert not loader.is_alive()
    assert failure and isinstance(failure[0], StoreError), failure  # the load saw the crash as a StoreError

    with local_neo4j.running(data_dir) as server:  # recovery on the same data directory
        partial = graph_facts(server.uri)
        assert 3 * BATCH <= partial["invoices"] < N_INVOICES
        assert partial["keys"] == partial["invoices"] == partial["wired"]  # committed batches are whole
        with Neo4jStore(server.uri) as store:
            load(store, table)
            counts = store.counts()
            edges = store.edge_table()
        facts = graph_facts(server.uri)
    assert counts.invoices == N_INVOICES and counts.taxpayers == expected_taxpayers
    assert facts == {"invoices": N_INVOICES, "keys": N_INVOICES, "wired": N_INVOICES,
                     "taxpayers": expected_taxpayers, "taxpayer_ids": expected_taxpayers}
    assert sum(edges.column("count").to_pylist()) == N_INVOICES
    assert sum(edges.column("total_fen").to_pylist()) == sum(table.column("total_fen").to_pylist())


def test_a_server_whose_parent_dies_shuts_down(tmp_path: Path) -> None:
    """A test run killed by a timeout (SIGKILL: no clean-up runs) took its Neo4j down with it: the JVM watches the
    stdin pipe its parent holds. Before, such servers ran on orphaned (three were found on the shared machine)."""
    import os
    import signal
    import subprocess
    import sys

    problem = local_neo4j.missing_prerequisites()
    if problem:
        pytest.skip(f"REAL NEO4J UNAVAILABLE: {problem}")
    script = ("import sys, time; from pathlib import Path; from graph import local_neo4j\n"
              "s = local_neo4j.start(Path(sys.argv[1]))\n"
              "print(s.process.pid, flush=True); time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "neo")], stdout=subprocess.PIPE,
                              cwd=Path(__file__).resolve().parents[2], text=True)
    assert parent.stdout is not None
    jvm = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{jvm}/stat").read_text().split()[2]
        except FileNotFoundError:
            break
        if state == "Z":   # exited, not reaped yet
            break
        time.sleep(0.5)
    else:
        os.kill(jvm, signal.SIGKILL)
        pytest.fail("the Neo4j server outlived its parent by 60 s")
    log = (tmp_path / "neo" / local_neo4j.LOG_NAME).read_text(encoding="utf-8", errors="replace")
    assert "READY" in log

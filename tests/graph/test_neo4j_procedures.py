"""The fapiao.* read procedures (tools/neo4j-local, loaded by the local launcher) against the plain Cypher reads on
the same real Neo4j: ego networks (kept order, ring bounds, dropped, node rows with identifiers, edges) from both
the store walk and the in-memory TRADES projection, and the whole-period edge table, must be identical; a write
makes the projection stale; the setting and a version mismatch fall back to Cypher."""

from __future__ import annotations

import random
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import neo4j
import pyarrow as pa
import pytest

import cypher
from graph import local_neo4j, neo4j_store
from graph.core import schema
from graph.core.errors import ConfigError
from graph.core.model import Subgraph
from graph.neo4j_store import Neo4jStore
from tests.helpers import g_trade_rows

pytestmark = pytest.mark.neo4j

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, 8, tzinfo=TZ)
HUBS = (1, 2, 3)
TIE_CENTRE, TIE_PARTNERS = 90, (93, 91, 92)   # one invoice of the same total to each partner
RED_A, RED_B = 95, 96                         # trade only by a red-letter (negative) invoice
EDGE_KEYS = [("seller_tax_id", "ascending"), ("buyer_tax_id", "ascending")]
EGO_CALL = ("CALL fapiao.ego($center, $hops, $limit, $options) YIELD kept, bounds, dropped, nodes, sellers, buyers, "
            "counts, totals, firsts, lasts, source RETURN *")


def tid(n: int) -> str:
    return g_trade_rows.tid(n, "P")


def invoice(n: int, seller: int, buyer: int, day: float, total: int) -> dict[str, Any]:
    return g_trade_rows.invoice(n, seller, buyer, day, total, "P")


def graph_rows(seed: int = 7) -> list[dict[str, Any]]:
    """80 taxpayers, three hubs, ~10 % red-letter negatives, a self-invoice, ties in volume, a negative-only pair."""
    rng = random.Random(seed)
    rows = []
    for n in range(1200):
        seller = rng.choice(HUBS) if rng.random() < 0.3 else rng.randrange(1, 81)
        buyer = rng.choice(HUBS) if rng.random() < 0.3 else rng.randrange(1, 81)
        total = rng.randrange(100, 500_000) * (-1 if rng.random() < 0.1 else 1)
        rows.append(invoice(n, seller, buyer, rng.uniform(0, 200), total))
    rows.append(invoice(5000, 7, 7, 3.0, 12_345))                       # seller == buyer: never an edge
    for i, partner in enumerate(TIE_PARTNERS):                          # equal volumes: tax id breaks the tie
        rows.append(invoice(5001 + i, TIE_CENTRE, partner, 1.0 + i, 50_000))
    rows.append(invoice(5010, TIE_PARTNERS[0], 4, 2.0, 7_000))
    rows.append(invoice(5011, RED_A, RED_B, 5.0, -80_000))              # pos_count = 0: not walked
    return rows


@pytest.fixture(scope="module")
def stores(neo4j_uri: str) -> Iterator[tuple[Neo4jStore, Neo4jStore, list[dict[str, Any]]]]:
    """(procedure store, Cypher store, invoice rows) over one loaded database."""
    proc = Neo4jStore(neo4j_uri, procedures=True)
    plain = Neo4jStore(neo4j_uri, procedures=False)
    proc.clear()
    rows = graph_rows()
    with proc.writer() as w:
        w.invoices(pa.Table.from_pylist(rows, schema=schema.INVOICES))
        w.identifiers(pa.table({"tax_id": [tid(1), tid(1), tid(2), tid(TIE_CENTRE)],
                                "kind": ["phone", "legal_rep", "phone", "address"],
                                "value": ["13800000001", "张三", "13800000001", "深圳市南山区1号"]}))
    try:
        yield proc, plain, rows
    finally:
        proc.clear()
        proc.close()
        plain.close()


def assert_same(a: Subgraph, b: Subgraph) -> None:
    assert [n.tax_id for n in a.nodes] == [n.tax_id for n in b.nodes]      # kept order, centre first
    assert a.nodes == b.nodes                                              # rows incl. identifiers
    assert a.hops == b.hops and a.dropped == b.dropped and a.truncated == b.truncated
    assert a.edges.schema == b.edges.schema and a.edges.equals(b.edges)


def call_ego(store: Neo4jStore, center: str, hops: int, limit: int, *, walk: bool) -> tuple[Subgraph, str | None]:
    """fapiao.ego directly: ``walk`` forces the store walk; returns the Subgraph and which source answered."""
    with store._session(neo4j.READ_ACCESS) as session:
        found = [dict(zip(r.keys(), r.values(), strict=True)) for r in session.run(
            EGO_CALL, center=center, hops=hops, limit=limit, options={"walk": walk})]
    return Neo4jStore._ego_subgraph(center, found), (found[0]["source"] if found else None)


def await_projection(store: Neo4jStore) -> None:
    """Call fapiao.ego until it answers from the TRADES projection (built in the background after a write)."""
    deadline = time.monotonic() + 120
    while call_ego(store, tid(1), 1, 1, walk=False)[1] != "projection":
        assert time.monotonic() < deadline, "fapiao.ego never answered from the projection"
        time.sleep(0.05)


def test_the_local_server_has_the_procedures(stores: tuple[Neo4jStore, Neo4jStore, Any]) -> None:
    proc, plain, _ = stores
    assert proc.procedures and proc.procedures_note == f"fapiao.* procedures version {neo4j_store.PROCEDURES_VERSION}"
    assert not plain.procedures
    jar = local_neo4j.plugin_jar()
    assert jar is not None and jar.name == f"fapiao-procedures-{neo4j_store.PROCEDURES_VERSION}.jar"
    with zipfile.ZipFile(jar) as z:  # the jar a self-managed server installs holds the procedures only
        assert "fapiao/procedures/FapiaoProcedures.class" in z.namelist()
        assert "fapiao/Neo4jLocal.class" not in z.namelist()


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
@pytest.mark.parametrize("limit", [1, 4, 25, 500])
def test_ego_equals_cypher(stores: tuple[Neo4jStore, Neo4jStore, Any], hops: int, limit: int) -> None:
    proc, plain, _ = stores
    for centre in (*HUBS, 7, 40, 80, TIE_CENTRE, TIE_PARTNERS[0], RED_A):
        assert_same(proc.ego_network(tid(centre), hops=hops, limit=limit),
                    plain.ego_network(tid(centre), hops=hops, limit=limit))


@pytest.mark.parametrize("source", ["store", "projection"])
def test_both_procedure_sources_equal_cypher(stores: tuple[Neo4jStore, Neo4jStore, Any], source: str) -> None:
    proc, plain, _ = stores
    if source == "projection":
        await_projection(proc)
    for centre in (*HUBS, 7, 40, TIE_CENTRE, TIE_PARTNERS[0], RED_A, 999):
        for hops in (0, 1, 2, 3):
            for limit in (1, 2, 3, 4, 25, 500):  # 2, 3: the cap falls inside the tie centre's equal volumes
                sub, used = call_ego(proc, tid(centre), hops, limit, walk=source == "store")
                expected = plain.ego_network(tid(centre), hops=hops, limit=limit)
                assert used == (None if centre == 999 else source)
                assert_same(sub, expected)


def test_projection_follows_writes(stores: tuple[Neo4jStore, Neo4jStore, list[dict[str, Any]]]) -> None:
    proc, plain, rows = stores
    await_projection(proc)
    assert call_ego(proc, tid(97), 2, 500, walk=False)[1] is None  # not in the graph yet
    new = invoice(6000, 97, 60, 4.0, 9_000_000)  # a new taxpayer, trading with 60
    with proc.writer() as w:
        w.invoices(pa.Table.from_pylist([new], schema=schema.INVOICES))
    rows.append(new)
    sub, used = call_ego(proc, tid(97), 2, 500, walk=False)
    assert used == "store"  # a transaction committed since the projection was built
    assert [n.tax_id for n in sub.nodes][:2] == [tid(97), tid(60)] and sub.hops[tid(60)] == 1
    assert_same(sub, plain.ego_network(tid(97), hops=2, limit=500))
    await_projection(proc)
    sub, used = call_ego(proc, tid(97), 2, 500, walk=False)
    assert used == "projection"
    assert_same(sub, plain.ego_network(tid(97), hops=2, limit=500))


def test_ego_raw_records_equal(stores: tuple[Neo4jStore, Neo4jStore, Any]) -> None:
    proc, _, _ = stores
    truncated = 0
    for centre in (*HUBS, 40, TIE_CENTRE):
        for hops in (1, 2, 3):
            p = proc._read("ego_procedure", raw=True, center=tid(centre), hops=hops, limit=30)[0]
            c = proc._read("ego_trades", raw=True, tax_id=tid(centre), hops=hops, limit=30)[0]
            assert list(p["kept"]) == list(c["kept"]) and list(p["bounds"]) == list(c["bounds"])
            assert p["dropped"] == c["dropped"]
            assert sorted(r[0] for r in p["nodes"]) == sorted(r[0] for r in c["nodes"])
            truncated += p["dropped"] > 0
    assert truncated  # the cap really is smaller than the reachable set somewhere


def test_ties_red_letter_and_unknown(stores: tuple[Neo4jStore, Neo4jStore, Any]) -> None:
    proc, plain, _ = stores
    sub = proc.ego_network(tid(TIE_CENTRE), hops=1, limit=10)
    assert [n.tax_id for n in sub.nodes] == [tid(TIE_CENTRE), *sorted(tid(p) for p in TIE_PARTNERS)]
    assert dict(sub.nodes[0].identifiers) == {"address": "深圳市南山区1号"}
    for limit in (2, 3):  # the cap cuts the tie: the lower tax ids are kept
        cut = proc.ego_network(tid(TIE_CENTRE), hops=1, limit=limit)
        assert [n.tax_id for n in cut.nodes] == [tid(TIE_CENTRE), *sorted(tid(p) for p in TIE_PARTNERS)[:limit - 1]]
        assert cut.dropped == 4 - limit
    red = proc.ego_network(tid(RED_A), hops=2)
    assert [n.tax_id for n in red.nodes] == [tid(RED_A)] and red.edges.num_rows == 0 and red.dropped == 0
    for store in (proc, plain):
        unknown = store.ego_network("NO-SUCH-TAXPAYER", hops=2)
        assert unknown.nodes == [] and unknown.edges.num_rows == 0
    assert proc._read("ego_procedure", raw=True, center="NO-SUCH-TAXPAYER", hops=2, limit=5) == []


def test_edge_table_equals_cypher(stores: tuple[Neo4jStore, Neo4jStore, list[dict[str, Any]]]) -> None:
    proc, plain, rows = stores
    a, b = proc.edge_table(), plain.edge_table()
    assert a.schema == schema.EDGES and a.num_rows == b.num_rows
    assert a.sort_by(EDGE_KEYS).equals(b.sort_by(EDGE_KEYS))
    assert sum(a.column("count").to_pylist()) == len(rows)
    red = [r for r in a.to_pylist() if r["seller_tax_id"] == tid(RED_A)]  # negative-only pairs stay in the table
    assert red == [{"seller_tax_id": tid(RED_A), "buyer_tax_id": tid(RED_B), "count": 1, "total_fen": -80_000,
                    "first_at": T0 + timedelta(days=5), "last_at": T0 + timedelta(days=5)}]


def test_empty_database(neo4j_uri: str, stores: Any) -> None:
    store = Neo4jStore(neo4j_uri, procedures=True)
    try:
        store.clear()
        assert store.edge_table().num_rows == 0 and store.edge_table().schema == schema.EDGES
        assert store.ego_network(tid(1), hops=2).nodes == []
    finally:
        with store.writer() as w:  # leave the module's graph as it was for the tests after this one
            w.invoices(pa.Table.from_pylist(stores[2], schema=schema.INVOICES))
        store.close()


def _spy(store: Neo4jStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = store._read

    def read(name: str, **kw: Any) -> list[dict[str, Any]]:
        names.append(name)
        return real(name, **kw)

    monkeypatch.setattr(store, "_read", read)
    return names


@pytest.mark.parametrize("setting, used", [("auto", True), ("off", False)])
def test_setting_picks_the_path(neo4j_uri: str, stores: Any, monkeypatch: pytest.MonkeyPatch, setting: str,
                                used: bool) -> None:
    monkeypatch.setenv("FAPIAO_NEO4J_PROCEDURES", setting)
    store = Neo4jStore(neo4j_uri)
    try:
        assert store.procedures is used
        names = _spy(store, monkeypatch)
        store.ego_network(tid(1), hops=2)
        store.edge_table()
        store.ego_network(tid(1), hops=2, min_amount_fen=1)  # a filter always walks the invoices
        expected = ["ego_procedure", "edge_table_procedure"] if used else ["ego_trades", "edge_table_trades"]
        assert names == [*expected, "ego_invoices"]
    finally:
        store.close()


def test_bad_setting_is_one_clear_line(neo4j_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_NEO4J_PROCEDURES", "sometimes")
    with pytest.raises(ConfigError, match="FAPIAO_NEO4J_PROCEDURES='sometimes': use 'auto' or 'off'"):
        Neo4jStore(neo4j_uri)


def test_version_mismatch_falls_back_to_cypher(neo4j_uri: str, stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neo4j_store, "PROCEDURES_VERSION", "999")
    store = Neo4jStore(neo4j_uri)
    try:
        assert not store.procedures and "version 1, this client needs 999" in store.procedures_note
        assert_same(store.ego_network(tid(2), hops=2, limit=25), stores[1].ego_network(tid(2), hops=2, limit=25))
    finally:
        store.close()


def test_server_without_the_procedures_falls_back(neo4j_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = cypher.load

    def load(name: str) -> str:  # what a server without the jar answers: ProcedureNotFound
        return "CALL fapiao.noSuchProcedure() YIELD version RETURN version" if name == "procedures_version" \
            else real(name)

    monkeypatch.setattr(cypher, "load", load)
    store = Neo4jStore(neo4j_uri)
    try:
        assert not store.procedures and "no fapiao.* procedures" in store.procedures_note
    finally:
        store.close()

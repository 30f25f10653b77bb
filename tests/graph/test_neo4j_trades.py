"""The (:Taxpayer)-[:TRADES]->(:Taxpayer) aggregates on a real Neo4j: every load path keeps them equal to the
invoices (creates across batches, overwrites that move an invoice to another pair, red-letter negatives), the
TRADES-based reads equal the invoice-based ones, and a database without them gets them on connect."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import neo4j
import pyarrow as pa
import pytest

from graph.core import schema
from graph.core.errors import ConfigError
from graph.neo4j_store import Neo4jStore
from tests.helpers import g_trade_rows

pytestmark = pytest.mark.neo4j

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, 8, tzinfo=TZ)
EARLY = T0 - timedelta(days=3650)


def tid(n: int) -> str:
    return g_trade_rows.tid(n, "F")


def invoice(n: int, seller: int, buyer: int, day: float, total: int) -> dict[str, Any]:
    return g_trade_rows.invoice(n, seller, buyer, day, total, "F")


def random_invoices(count: int, seed: int, start: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for n in range(start, start + count):
        seller = rng.randrange(1, 16)
        buyer = rng.choice([b for b in range(1, 16) if b != seller])
        total = rng.randrange(100, 900_000) * (-1 if rng.random() < 0.1 else 1)
        rows.append(invoice(n, seller, buyer, rng.uniform(0, 90), total))
    return rows


def reference(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What TRADES must hold, per (seller, buyer), computed from the final invoice rows."""
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        ts = int(r["issued_at"].timestamp())
        e = agg.setdefault((r["seller_tax_id"], r["buyer_tax_id"]), {
            "count": 0, "total_fen": 0, "first_ts": ts, "last_ts": ts, "pos_count": 0, "pos_total_fen": 0})
        e["count"] += 1
        e["total_fen"] += r["total_fen"]
        e["first_ts"], e["last_ts"] = min(e["first_ts"], ts), max(e["last_ts"], ts)
        if r["total_fen"] >= 0:
            e["pos_count"] += 1
            e["pos_total_fen"] += r["total_fen"]
            e["pos_first_ts"] = min(e.get("pos_first_ts", ts), ts)
            e["pos_last_ts"] = max(e.get("pos_last_ts", ts), ts)
    return agg


def stored_trades(uri: str) -> dict[tuple[str, str], dict[str, Any]]:
    with neo4j.GraphDatabase.driver(uri) as driver, driver.session() as s:
        return {(r["s"], r["b"]): dict(r["p"]) for r in s.run(
            "MATCH (s:Taxpayer)-[t:TRADES]->(b:Taxpayer) RETURN s.tax_id AS s, b.tax_id AS b, properties(t) AS p")}


def load(store: Neo4jStore, rows: list[dict[str, Any]]) -> None:
    with store.writer() as w:
        w.invoices(pa.Table.from_pylist(rows, schema=schema.INVOICES))


def edges(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda e: (e["seller_tax_id"], e["buyer_tax_id"]))


@pytest.fixture
def store(neo4j_uri: str) -> Iterator[Neo4jStore]:
    s = Neo4jStore(neo4j_uri)
    s.clear()
    s.batch = 37  # many small batches: pairs spread over several transactions
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def loaded(store: Neo4jStore) -> list[dict[str, Any]]:
    """400 invoices loaded in two writers, then 40 of them overwritten (other buyer, other total)."""
    rows = random_invoices(400, seed=1)
    load(store, rows[:250])
    load(store, rows[250:])
    rng = random.Random(2)
    changed = []
    for r in rng.sample(rows, 40):
        seller = int(r["seller_tax_id"][-6:-1])
        buyer = rng.choice([b for b in range(1, 16) if b != seller])
        changed.append(invoice(int(r["key"][1:]), seller, buyer, rng.uniform(0, 90), rng.randrange(-5000, 900_000)))
    again = rows[:30]  # identical re-loads (or, for a changed key, a change back) in the same batches
    load(store, changed + again)
    final = {r["key"]: r for r in rows} | {r["key"]: r for r in changed} | {r["key"]: r for r in again}
    return list(final.values())


def test_trades_equal_the_invoices_after_creates_overwrites_and_reds(store: Neo4jStore, loaded: list[dict[str, Any]],
                                                                     neo4j_uri: str) -> None:
    assert any(r["total_fen"] < 0 for r in loaded)
    assert stored_trades(neo4j_uri) == reference(loaded)
    expected = [{"seller_tax_id": s, "buyer_tax_id": b, "count": e["count"], "total_fen": e["total_fen"],
                 "first_at": datetime.fromtimestamp(e["first_ts"], tz=ZoneInfo("UTC")),
                 "last_at": datetime.fromtimestamp(e["last_ts"], tz=ZoneInfo("UTC"))}
                for (s, b), e in sorted(reference(loaded).items())]
    whole = store.edge_table()  # from TRADES
    windowed = store.edge_table(start=EARLY)  # from the invoices
    assert whole.schema == windowed.schema == schema.EDGES
    assert edges(whole) == edges(windowed) == expected


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("limit", [4, 500])
def test_ego_from_trades_equals_ego_from_invoices(store: Neo4jStore, loaded: list[dict[str, Any]], hops: int,
                                                  limit: int) -> None:
    for center in (1, 5, 9):
        fast = store.ego_network(tid(center), hops=hops, limit=limit)
        slow = store.ego_network(tid(center), hops=hops, limit=limit, start=EARLY)  # the invoice walk
        assert [t.tax_id for t in fast.nodes] == [t.tax_id for t in slow.nodes]
        assert fast.nodes[0].tax_id == tid(center) and len(fast.nodes) <= limit
        assert fast.hops == slow.hops and (fast.dropped, fast.truncated) == (slow.dropped, slow.truncated)
        assert edges(fast.edges) == edges(slow.edges)
        kept = {t.tax_id for t in fast.nodes}
        assert all(e["seller_tax_id"] in kept and e["buyer_tax_id"] in kept for e in fast.edges.to_pylist())


def test_trades_built_on_connect_for_an_older_database(store: Neo4jStore, loaded: list[dict[str, Any]],
                                                       neo4j_uri: str) -> None:
    with neo4j.GraphDatabase.driver(neo4j_uri) as driver, driver.session() as s:
        s.run("MATCH ()-[t:TRADES]->() DELETE t").consume()
        s.run("MATCH (m:FapiaoMeta) DELETE m").consume()
    assert stored_trades(neo4j_uri) == {}
    Neo4jStore(neo4j_uri).close()
    assert stored_trades(neo4j_uri) == reference(loaded)
    Neo4jStore(neo4j_uri).close()  # marked: connecting again changes nothing
    assert stored_trades(neo4j_uri) == reference(loaded)


def test_more_than_three_hops_is_a_clear_error(store: Neo4jStore) -> None:
    with pytest.raises(ConfigError, match="at most 3 hops"):
        store.ego_network(tid(1), hops=4)


def test_batches_of_new_keys_skip_the_lookup_and_stored_keys_are_redone_carefully(store: Neo4jStore,
                                                                                  neo4j_uri: str) -> None:
    """A writer writes batches without the stored-key lookup while they hold only new keys; a batch that meets a
    stored key fails the uniqueness constraint, is rolled back and redone with the lookup, and the writer returns
    to skipping the lookup once a looked-up batch holds no stored key. Counts and TRADES stay exact."""
    first = random_invoices(100, seed=3)
    load(store, first)
    later = random_invoices(150, seed=4, start=1000) + first[:20] + random_invoices(150, seed=5, start=2000)
    with store.writer() as w:
        table = pa.Table.from_pylist(later, schema=schema.INVOICES)
        w.invoices(table.slice(0, 148))  # 4 batches of 37 new keys: no lookup
        assert w._expect_new  # type: ignore[attr-defined]
        w.invoices(table.slice(148, 37))  # meets stored keys: redone with the lookup
        assert not w._expect_new  # type: ignore[attr-defined]
        w.invoices(table.slice(185, 37))  # looked up, none stored: the next batches skip the lookup again
        assert w._expect_new  # type: ignore[attr-defined]
        w.invoices(table.slice(222))
    final = {r["key"]: r for r in first + later}
    assert store.counts().invoices == len(final)
    assert stored_trades(neo4j_uri) == reference(list(final.values()))

"""Hostile names and search strings stay data on Neo4j: counts unchanged, names round-trip exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from graph.core import schema
from graph.core.model import Counts
from graph.neo4j_store import Neo4jStore

pytestmark = pytest.mark.neo4j

TZ = ZoneInfo("Asia/Shanghai")
HOSTILE = [
    "'}) MATCH (n) DETACH DELETE n //",
    '"}) MATCH (n) DETACH DELETE n //',
    "甲公司\\'; DROP CONSTRAINT invoice_key; //",
    "{name: $x} `backtick` $tax_id ${} \\u0027 \\\\",
    "乙公司\n换行\t制表 */ /* <script>alert(1)</script>",
    "MATCH (n) RETURN n UNION MATCH (m) DETACH DELETE m",
]


@pytest.fixture
def store(neo4j_uri: str) -> Iterator[Neo4jStore]:
    s = Neo4jStore(neo4j_uri)
    s.clear()
    try:
        yield s
    finally:
        s.close()


def load_hostile(store: Neo4jStore) -> list[str]:
    ids = [f"91110000HOSTILE{n:03d}" for n in range(len(HOSTILE))]
    taxpayers = pa.table({"tax_id": ids, "name": HOSTILE, "industry": HOSTILE, "legal_rep": HOSTILE})
    rows = [{
        "key": f"{n:020d}", "number": f"{n:020d}", "code": "", "issued_at": datetime(2024, 5, 1, 8, n, tzinfo=TZ),
        "seller_tax_id": ids[n], "seller_name": HOSTILE[n], "buyer_tax_id": ids[(n + 1) % len(ids)],
        "buyer_name": HOSTILE[(n + 1) % len(ids)], "amount_fen": 100_00, "tax_fen": 13_00, "total_fen": 113_00,
        "rate": 0.13, "kind": "digital_special", "status": "normal", "red_ref": None, "item_code": None,
        "item_name": HOSTILE[n],
    } for n in range(len(ids))]
    with store.writer() as w:
        w.taxpayers(taxpayers)
        w.invoices(pa.Table.from_pylist(rows, schema=schema.INVOICES))
        w.put_record("note", HOSTILE[0], {"text": HOSTILE[1]})
    return ids


def test_hostile_names_round_trip(store: Neo4jStore) -> None:
    ids = load_hostile(store)
    for tax_id, name in zip(ids, HOSTILE, strict=True):
        t = store.taxpayer(tax_id)
        assert t is not None
        assert t.name == name and t.industry == name
        assert t.identifiers == (("legal_rep", name),)
    stored = store.invoices([f"{n:020d}" for n in range(len(ids))])
    assert stored.column("item_name").to_pylist() == HOSTILE
    assert store.record("note", HOSTILE[0]) == {"text": HOSTILE[1]}


def test_hostile_search_strings_are_data(store: Neo4jStore) -> None:
    ids = load_hostile(store)
    before = store.counts()
    assert before == Counts(taxpayers=len(ids), invoices=len(ids), identifiers=len(ids), runs=0, rings=0)
    for text in [*HOSTILE, "'", '"', "\\", "}", "$", "' OR 1=1 //", "*", ".*", "%"]:
        found = store.search(text, limit=50)
        expected = {i for i, n in zip(ids, HOSTILE, strict=True) if text.strip() in n or i.startswith(text.strip())}
        assert {t.tax_id for t in found} == expected, text
        assert store.ego_network(text).nodes == []
        assert store.invoices_between(text, ids[0]).num_rows == 0
        assert store.record("note", text) is None or text == HOSTILE[0]
    assert store.counts() == before
    # the schema survived too: a duplicate key still cannot be created twice
    with store.writer() as w:
        w.invoices(store.invoices([f"{0:020d}"]))
    assert store.counts() == before

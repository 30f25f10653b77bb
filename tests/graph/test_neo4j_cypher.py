"""Every cypher/*.cypher statement parses and plans (EXPLAIN) against the real Neo4j."""

from __future__ import annotations

import re
from collections.abc import Iterator

import neo4j
import pytest

import cypher
from graph.neo4j_store import Neo4jStore, schema_statements

pytestmark = pytest.mark.neo4j

LIST_PARAMS = {
    "keys", "frontier", "ids", "tax_ids", "taxpayers", "rings", "invoices", "events", "needles",
    "key", "number", "code", "ts", "seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name", "amount_fen",
    "tax_fen", "total_fen", "rate", "kind", "status", "red_ref", "item_code", "item_name", "tax_id", "name",
    "registered_on", "industry", "region", "invoice_limit_fen", "value", "score", "tier", "reasons", "features",
    "count", "first_ts", "last_ts", "pos_count", "pos_total_fen", "pos_first_ts", "pos_last_ts",
    "party", "seller_idx", "buyer_idx", "lines", "kinds", "tiers", "industries", "regions",
}
STATEMENTS = [n for n in cypher.names() if n != "schema"]


def dummy(param: str) -> object:
    if param in LIST_PARAMS:
        return []
    if param in {"all", "issued"}:
        return False
    if param == "overrides":
        return {}
    if param in {"start", "end", "after_ts", "day_start", "day_end", "limit", "page", "min_amount_fen",
                 "after_seq", "skip", "created_ms", "created_us", "hops", "seconds", "min_score", "min_fen"}:
        return 0
    return "x"


@pytest.fixture(scope="module")
def session(neo4j_uri: str) -> Iterator[neo4j.Session]:
    Neo4jStore(neo4j_uri).close()  # creates the schema the statements rely on
    with neo4j.GraphDatabase.driver(neo4j_uri, auth=None) as driver, driver.session() as s:
        yield s


def test_statements_exist() -> None:
    assert "schema" in cypher.names() and len(STATEMENTS) >= 20
    with pytest.raises(KeyError, match="known"):
        cypher.load("no_such_statement")


@pytest.mark.parametrize("name", STATEMENTS)
def test_statement_explains(session: neo4j.Session, name: str) -> None:
    text = cypher.load(name)
    params = {p: dummy(p) for p in set(re.findall(r"\$(\w+)", text))}
    summary = session.run(f"EXPLAIN {text}", params).consume()
    assert summary.plan is not None, name
    assert summary.query_type in {"r", "w", "rw", "s"}


def test_schema_is_idempotent_and_complete(neo4j_uri: str, session: neo4j.Session) -> None:
    statements = schema_statements()
    for stmt in statements:  # schema commands cannot be EXPLAINed; running them again must be a no-op
        session.run(stmt).consume()
    created = {r["name"] for r in session.run("SHOW INDEXES YIELD name RETURN name")}
    declared = {re.search(r"(?:INDEX|CONSTRAINT) (\w+) IF NOT EXISTS", s).group(1) for s in statements}  # type: ignore[union-attr]
    constraints = {r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert declared <= created | constraints
    kinds = {r["type"] for r in session.run("SHOW INDEXES YIELD name, type WHERE name STARTS WITH 'taxpayer_name' "
                                            "RETURN type")}
    assert kinds == {"RANGE", "TEXT", "FULLTEXT"}

"""Smoke test of the real local Neo4j the test session starts (tests/conftest.py `neo4j_uri`)."""

from __future__ import annotations

import neo4j
import pytest

pytestmark = pytest.mark.neo4j


def test_driver_writes_and_reads_back(neo4j_uri: str) -> None:
    name = "烟雾测试 smoke 'quoted'"
    with neo4j.GraphDatabase.driver(neo4j_uri, auth=None) as driver:
        driver.verify_connectivity()
        records, _, _ = driver.execute_query("CREATE (n:SmokeTest {name: $name}) RETURN elementId(n) AS id",
                                             name=name)
        node_id = records[0]["id"]
        try:
            back, _, _ = driver.execute_query(
                "MATCH (n:SmokeTest) WHERE elementId(n) = $id RETURN n.name AS name", id=node_id)
            assert [r["name"] for r in back] == [name]
            version, _, _ = driver.execute_query("CALL dbms.components() YIELD name, versions, edition "
                                                 "RETURN versions[0] AS v, edition")
            assert version[0]["v"].startswith("5.26")
            assert version[0]["edition"] == "community"
        finally:
            driver.execute_query("MATCH (n:SmokeTest) WHERE elementId(n) = $id DELETE n", id=node_id)

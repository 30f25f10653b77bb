"""The `store` fixture: every contract test runs against each backend (embedded DuckDB, real Neo4j)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.store import Store

BACKENDS = ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each backend; closed after the test."""
    if request.param == "embedded":
        from graph.embedded import EmbeddedStore

        s: Store = EmbeddedStore(tmp_path / "ws")
    else:
        from graph.neo4j_store import Neo4jStore

        s = Neo4jStore(request.getfixturevalue("neo4j_uri"))
        s.clear()
    try:
        yield s
    finally:
        s.close()

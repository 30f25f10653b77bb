"""Graph storage: the store contract, its backends and the graph schema. Only this package talks to storage."""

from __future__ import annotations

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

from graph.core import schema
from graph.core.errors import (
    ConfigError,
    FapiaoError,
    FieldError,
    IntegrityError,
    InvalidData,
    NotFound,
    PermissionDenied,
    QueryError,
    StoreError,
)
from graph.core.model import AuditEvent, Counts, Invoice, Ring, Run, Subgraph, Taxpayer
from graph.store import Store, Writer

__all__ = [
    "AuditEvent", "ConfigError", "Counts", "FapiaoError", "FieldError", "IntegrityError", "InvalidData",
    "Invoice", "NotFound", "PermissionDenied", "QueryError", "Ring", "Run", "Store", "StoreError",
    "Subgraph", "Taxpayer", "Writer", "open_store", "schema",
]

NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")


def open_store(uri: str | None = None) -> Store:
    """Open the store named by ``uri`` (default: the ``FAPIAO_STORE`` setting).

    ``embedded:PATH`` opens (creating if needed) a workspace folder; a Neo4j URI connects to that server
    with ``FAPIAO_NEO4J_USER`` / ``FAPIAO_NEO4J_PASSWORD`` / ``FAPIAO_NEO4J_DATABASE``.
    """
    from graph.core import settings

    uri = uri or settings.get("FAPIAO_STORE")
    if uri.startswith("embedded:"):
        from graph.embedded import EmbeddedStore

        return EmbeddedStore(uri.removeprefix("embedded:"))
    if uri.startswith(NEO4J_SCHEMES):
        from graph.neo4j_store import Neo4jStore

        return Neo4jStore(uri)
    raise ConfigError(
        f"unknown store URI {uri!r}: use embedded:PATH (e.g. embedded:workspace) or a Neo4j URI such as "
        "bolt://127.0.0.1:7687"
    )

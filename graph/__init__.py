"""Graph storage: the store contract, its backends and the graph schema. Only this package talks to storage.

``graph.core`` (errors, settings, schema, model, vocabulary) is the shared core every package may import.
The names below are re-exported lazily (PEP 562): ``import graph.core.errors`` loads neither pyarrow nor a
backend, which keeps ``fapiao --help`` and the algorithms' imports light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("ConfigError", "FapiaoError", "FieldError", "IntegrityError", "InvalidData", "NotFound",
                     "PermissionDenied", "QueryError", "StoreError"), "graph.core.errors"),
    **dict.fromkeys(("AuditEvent", "Counts", "Invoice", "Ring", "Run", "Subgraph", "Taxpayer"), "graph.core.model"),
    "Store": "graph.store", "Writer": "graph.store",
}

NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")


def __getattr__(name: str) -> Any:
    if name == "schema":
        return importlib.import_module("graph.core.schema")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'graph' has no attribute {name!r}")


def open_store(uri: str | None = None) -> Store:
    """Open the store named by ``uri`` (default: the ``FAPIAO_STORE`` setting).

    ``embedded:PATH`` opens (creating if needed) a workspace folder; a Neo4j URI connects to that server
    with ``FAPIAO_NEO4J_USER`` / ``FAPIAO_NEO4J_PASSWORD`` / ``FAPIAO_NEO4J_DATABASE``.
    """
    from graph.core import settings
    from graph.core.errors import ConfigError

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

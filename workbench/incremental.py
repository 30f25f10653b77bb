"""Incremental detection: where a workspace keeps what a later run can reuse, and how it is invalidated.

An embedded workspace keeps the data's loop instances per time window in ``<workspace>/cache/loops/``
(:mod:`algorithms.loop_cache`): a run searches again only the start invoices of the windows whose invoices
changed (arrived, voided, corrected) since the previous run, and reads the other windows' loops back, so its
findings equal a run that searches everything. Each file is named after the search's settings and a hash of the
search's source, so a parameter change or a new release starts afresh; deleting the folder is always safe (the
next run searches everything and writes it again). A Neo4j workspace has no folder of its own: its runs search
everything.
"""

from __future__ import annotations

from pathlib import Path

from graph.embedded import EmbeddedStore
from graph.store import Store

LOOPS = ("cache", "loops")
#: the loop null copies' cache (:mod:`algorithms.null_cache`), beside the data's
NULLS = "nulls"


def incremental_cache(store: Store) -> Path | None:
    """The folder of ``store``'s loop cache, or None when the store keeps none (Neo4j)."""
    if isinstance(store, EmbeddedStore):
        return store.path.joinpath(*LOOPS)
    return None


def null_cache(loops: Path | None) -> Path | None:
    """The folder of the loop null copies' cache next to the data's loop cache ``loops`` (None: no cache)."""
    return None if loops is None else loops.parent / NULLS

"""Ordered reads stay ordered: the embedded store's invoice stream comes back sorted by (time, key) on every read.

DuckDB with ``preserve_insertion_order`` off returned ORDER BY results through Arrow with whole chunks out of
order now and then (1.2.0-1.5.6 in ~1 read of 8; 2.0.1 through a cursor), so two detection runs on the same data
saw invoices in a different order and disagreed in the null copies' draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.embedded import EmbeddedStore
from tests.helpers.detect_data import small_generated, tables_from_generated


def test_the_invoice_stream_is_sorted_on_every_read(tmp_path: Path) -> None:
    inv, tp, ids = tables_from_generated(small_generated(tmp_path / "gen"))
    store = EmbeddedStore(tmp_path / "ws")
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
    batch = np.random.default_rng(7).integers(0, 3, inv.num_rows)      # three loads: several row groups
    for b in range(3):
        with store.writer() as w:
            w.invoices(inv.filter(pa.array(batch == b)))
    for _ in range(30):
        got = store.invoice_stream()
        assert got.num_rows == inv.num_rows
        order = pc.sort_indices(got, sort_keys=[("issued_at", "ascending"), ("key", "ascending")])
        assert order.equals(pa.array(np.arange(got.num_rows), type=order.type)), "invoice stream out of order"

"""Incremental detection through the pipeline: invoices arrive in batches, findings equal a full re-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from graph.embedded import EmbeddedStore
from tests.helpers.detect_data import small_generated, tables_from_generated
from workbench.detect import DetectionResult, run_detection
from workbench.incremental import incremental_cache


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table, pa.Table]:
    return tables_from_generated(small_generated(tmp_path_factory.mktemp("gen")))


def findings(res: DetectionResult) -> tuple[Any, ...]:
    rings = [(r.ring_id, r.kind, r.members, r.invoice_keys, r.score, r.evidence, r.details) for r in res.rings]
    return res.run.run_id, rings, res.scores.to_pylist()


def test_batches_out_of_time_order_give_the_full_run(tables: tuple[pa.Table, pa.Table, pa.Table],
                                                      tmp_path: Path) -> None:
    """Three random batches (each spread over the whole time span, so older invoices arrive after newer ones),
    detected after each arrival with the workspace's cache; the last run's rings (ids, members, invoices,
    scores, evidence) and taxpayer scores, tiers and reasons equal a run that searches everything."""
    inv, tp, ids = tables
    store = EmbeddedStore(tmp_path / "ws")
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
    batch = np.random.default_rng(7).integers(0, 3, inv.num_rows)
    for b in range(3):
        with store.writer() as w:
            w.invoices(inv.filter(pa.array(batch == b)))
        inc = run_detection(store)
    folder = incremental_cache(store)
    assert folder is not None and len(list(folder.glob("loops-*.parquet"))) == 2
    # the loop null copies' loops, one file per copy (algorithms.null_cache), beside the data's
    assert len(list((folder.parent / "nulls").glob("null-*.parquet"))) >= 2
    full = run_detection(store, incremental=False)
    assert any(r.kind == "cycle" for r in full.rings)           # loops are part of what is compared
    assert findings(inc) == findings(full)
    assert "along_cache_searched" in inc.cycle_stats and "along_cache_searched" not in full.cycle_stats


def test_a_batch_of_recent_invoices_searches_only_recent_windows(tables: tuple[pa.Table, pa.Table, pa.Table],
                                                                 tmp_path: Path) -> None:
    inv, tp, ids = tables
    t = inv.column("issued_at").to_numpy()
    recent = t >= np.sort(t)[-300]
    store = EmbeddedStore(tmp_path / "ws")
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
        w.invoices(inv.filter(pa.array(~recent)))
    run_detection(store, window_days=30)
    with store.writer() as w:
        w.invoices(inv.filter(pa.array(recent)))
    inc = run_detection(store, window_days=30)
    st = inc.cycle_stats
    # the latest 300 of 6,000 invoices touch a few 30-day windows; the loops of the others are read back
    assert 1 <= st["along_cache_searched"] < st["along_cache_windows"] / 2
    assert findings(inc) == findings(run_detection(store, window_days=30, incremental=False))

"""The pages' read models (workbench.ui.views) on the small demo workspace: two runs, 1 and 2 rings."""

from __future__ import annotations

from pathlib import Path

from graph.embedded import EmbeddedStore
from tests.helpers.wb_data import Demo
from workbench.ui import views


def test_overview_counts_the_newest_runs_rings_only(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        view = views.overview(store)
        assert store.counts().rings == 3  # both runs' rings are stored
        assert view.rings == len(store.rings(store.runs()[0].run_id)) == 2
        assert view.latest is not None and view.latest.run_id == "run-2"
        assert list(view.tiers) == ["high", "medium", "low"]
        assert view.tiers["high"] == 4 and sum(view.tiers.values()) == len(demo_store.names)
    finally:
        store.close()


def test_news_since_the_previous_run(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        found = views.news(store)
        assert found is not None and (found.run.run_id, found.previous.run_id) == ("run-2", "run-1")
        assert found.new_high == [demo_store.high_new]
        assert [r.ring_id for r in found.new_rings] == [demo_store.new_ring.ring_id]
    finally:
        store.close()


def test_an_empty_store_has_no_latest_run_and_no_news(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "empty")
    try:
        view = views.overview(store)
        assert (view.taxpayers, view.invoices, view.rings, view.latest, view.tiers) == (0, 0, 0, None, {})
        assert views.news(store) is None
    finally:
        store.close()

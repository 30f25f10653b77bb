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


def test_ring_summaries_span_and_total_of_the_rings_invoices(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        got = {s.ring_id: s for s in views.ring_summaries(store, "run-2")}
    finally:
        store.close()
    assert set(got) == {demo_store.ring.ring_id, demo_store.new_ring.ring_id}
    by_key = {str(i["key"]): i for i in demo_store.invoices}
    for ring in (demo_store.ring, demo_store.new_ring):
        s, inv = got[ring.ring_id], [by_key[k] for k in ring.invoice_keys]
        assert (s.kind, s.members, s.invoices) == (ring.kind, len(ring.members), len(ring.invoice_keys))
        assert s.fen == sum(int(i["total_fen"]) for i in inv)  # type: ignore[call-overload]
        assert s.first == min(i["issued_at"] for i in inv) and s.last == max(i["issued_at"] for i in inv)  # type: ignore[type-var]


def test_missing_times_format_as_empty_never_nat() -> None:
    import pandas as pd

    from workbench.ui.fmt import day, when

    assert day(pd.NaT) == "" and when(pd.NaT) == "" and day(None) == ""
    frame = pd.DataFrame([{"first": None}, {"first": pd.Timestamp("2024-03-01T10:00:00+08:00")}])
    assert [day(t) for t in frame["first"]] == ["", "2024-03-01"]

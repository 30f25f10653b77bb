"""Overview: totals, tiers, monthly chart, what is new since the previous run."""

from __future__ import annotations

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench.fmt import money
from workbench.ui import views


def test_overview_shows_totals_and_news(app_env: Demo) -> None:
    at = open_page(app_env, "analyst", "overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["纳税人"] == f"{len(app_env.names):,}"
    assert metrics["发票"] == f"{len(app_env.invoices):,}"
    assert metrics["价税合计"] == money(sum(int(i["total_fen"]) for i in app_env.invoices))  # type: ignore[call-overload]
    assert metrics["可疑团伙"] == "2"  # the newest run's rings (it counted every run's: 3)
    store = EmbeddedStore(app_env.path)
    runs = store.runs()
    new_high = ({r["tax_id"] for r in store.scores(runs[0].run_id).to_pylist() if r["tier"] == "high"}
                - {r["tax_id"] for r in store.scores(runs[1].run_id).to_pylist() if r["tier"] == "high"})
    store.close()
    assert new_high == {app_env.high_new}
    assert metrics["新增高风险纳税人"] == str(len(new_high))
    assert metrics["新增团伙"] == "1"
    frames = [df.value for df in at.dataframe]
    assert any(app_env.high_new in df.iloc[:, 0].tolist() for df in frames)
    store = EmbeddedStore(app_env.path)
    title = views.ring_titles(store, [app_env.new_ring])[app_env.new_ring.ring_id][0]
    store.close()
    assert any(title in df.iloc[:, 0].tolist() for df in frames)   # the ring by its readable name
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")

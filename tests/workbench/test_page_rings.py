"""Rings: the list, one ring's members / invoices / network, and opening a case from it."""

from __future__ import annotations

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo


def test_ring_list_has_every_ring_of_the_latest_run(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings")
    store = EmbeddedStore(app_env.path)
    expected = sorted(r.ring_id for r in store.rings())
    store.close()
    assert sorted(at.dataframe[0].value["编号"].tolist()) == expected


def test_ring_detail_shows_members_invoices_in_time_order_and_exactly_the_ring(app_env: Demo) -> None:
    ring = app_env.ring
    at = open_page(app_env, "investigator", "rings", ring=ring.ring_id)
    members, invoices = at.dataframe[0].value, at.dataframe[1].value
    assert sorted(members["税号"]) == sorted(ring.members)
    assert sorted(invoices["发票号码"]) == sorted(k.split("-")[-1] for k in ring.invoice_keys)
    assert invoices["开票时间"].tolist() == sorted(invoices["开票时间"].tolist())
    html = at.get("iframe")[0].proto.srcdoc
    outsiders = set(app_env.names) - set(ring.members)
    assert all(t in html for t in ring.members)
    assert not any(t in html for t in outsiders)
    assert ring.evidence in "\n".join(m.value for m in at.markdown)


def test_open_case_from_a_ring_attaches_members_ring_and_invoices(fresh_env: Demo) -> None:
    ring = fresh_env.ring
    at = open_page(fresh_env, "investigator", "rings", ring=ring.ring_id)
    next(b for b in at.button if b.label.startswith("立案")).click().run()
    assert any("已立案" in s.value for s in at.success), [e.value for e in at.error]
    store = EmbeddedStore(fresh_env.path)
    cases = store.records("case")
    store.close()
    assert len(cases) == 1
    case = cases[0]
    assert sorted(case["taxpayers"]) == sorted(ring.members)
    assert case["rings"] == [ring.ring_id]
    assert sorted(case["invoices"]) == sorted(ring.invoice_keys)


def test_analyst_cannot_open_a_case(app_env: Demo) -> None:
    at = open_page(app_env, "analyst", "rings", ring=app_env.ring.ring_id)
    assert not [b for b in at.button if b.label.startswith("立案")]


def test_ring_list_filters_by_score(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings")
    at.slider(key="rings_score").set_value(0.9).run()
    assert at.dataframe[0].value["编号"].tolist() == [app_env.ring.ring_id]     # the hub (0.7) is filtered out

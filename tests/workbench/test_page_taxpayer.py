"""Taxpayer profile: facts, score, invoices in/out, counterparties, shared identifiers, override."""

from __future__ import annotations

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo


def test_profile_shows_facts_invoices_and_shared_identifiers(app_env: Demo) -> None:
    a = app_env.ring.members[0]
    at = open_page(app_env, "investigator", "taxpayer", tax_id=a)
    assert at.header[0].value == app_env.names[a]
    metrics = {m.label: m.value for m in at.metric}
    issued = sum(1 for i in app_env.invoices if i["seller_tax_id"] == a)
    received = sum(1 for i in app_env.invoices if i["buyer_tax_id"] == a)
    assert metrics["开出发票"] == str(issued) and metrics["取得发票"] == str(received)
    assert metrics["当前等级"] == "高风险"
    assert metrics["状态"] == "正常"      # the status in words (was the code "normal")
    shared = at.dataframe[-1].value
    store = EmbeddedStore(app_env.path)
    idents = store.identifiers().to_pylist()
    store.close()
    mine = {(r["kind"], r["value"]) for r in idents if r["tax_id"] == a}
    others = sorted(r["tax_id"] for r in idents if (r["kind"], r["value"]) in mine and r["tax_id"] != a)
    assert shared["共用者数"].sum() == len(others)
    assert all(o in "".join(shared["共用的纳税人"]) for o in others)


def test_search_by_name_fragment_picks_the_taxpayer(app_env: Demo) -> None:
    t = app_env.shared_phone[0]
    at = open_page(app_env, "analyst", "taxpayer", tax_id=app_env.names[t][:4])
    assert at.header[0].value == app_env.names[t]


def test_supervisor_override_from_the_profile(fresh_env: Demo) -> None:
    a = fresh_env.ring.members[1]
    at = open_page(fresh_env, "supervisor", "taxpayer", tax_id=a)
    next(s for s in at.selectbox if s.label == "新等级").set_value("medium")
    next(t for t in at.text_area if "理由" in t.label).input("已约谈，降为中风险")
    next(b for b in at.button if b.label == "保存调整").click().run()
    assert any("已保存调整" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["当前等级"] == "中风险"

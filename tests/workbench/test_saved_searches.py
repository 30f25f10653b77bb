"""Saved searches per user (issue 19 item 4): named filter sets on the rings list and the risk queue, each
user's own, audited; and the page's box that saves and reopens them."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.core.errors import InvalidData, NotFound, PermissionDenied
from graph.store import Store
from tests.helpers.g_case_data import open_embedded
from tests.helpers.wb_app import open_page, texts
from tests.helpers.wb_data import Demo
from workbench import audit, saved_searches
from workbench.auth import User

INV = User("zhang", ("investigator",))
INV2 = User("li", ("investigator",))
SUP = User("wang", ("supervisor",))
ANA = User("zhao", ("analyst",))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_embedded(tmp_path / "ws")


def test_a_user_saves_lists_opens_and_deletes_their_own(store: Store) -> None:
    a = saved_searches.save(store, INV, "rings", "  深圳 扇形  ", {"kind": "fan_hub", "score": "0.5"})
    saved_searches.save(store, INV, "rings", "高分", {"score": "0.9"})
    saved_searches.save(store, INV, "risk_queue", "高风险", {"tier": "high"})
    assert a.name == "深圳 扇形" and a.params == {"kind": "fan_hub", "score": "0.5"}
    assert [s.name for s in saved_searches.mine(store, INV, "rings")] in (["高分", "深圳 扇形"], ["深圳 扇形", "高分"])
    assert [s.name for s in saved_searches.mine(store, INV, "risk_queue")] == ["高风险"]
    assert saved_searches.open_search(store, INV, a.search_id).params == {"kind": "fan_hub", "score": "0.5"}
    again = saved_searches.save(store, INV, "rings", "深圳 扇形", {"kind": "cycle"})      # same name: replaced
    assert again.search_id == a.search_id and len(saved_searches.mine(store, INV, "rings")) == 2
    saved_searches.delete(store, INV, a.search_id)
    assert [s.name for s in saved_searches.mine(store, INV, "rings")] == ["高分"]
    with pytest.raises(NotFound):
        saved_searches.open_search(store, INV, a.search_id)
    actions = [(e.actor, e.action) for e in store.audit_page(actor="zhang")][::-1]
    assert actions == [("zhang", "saved_search_save")] * 3 + [("zhang", "saved_search_open"),
                                                               ("zhang", "saved_search_save"),
                                                               ("zhang", "saved_search_delete")]


def test_nobody_sees_or_opens_another_users_searches(store: Store) -> None:
    mine = saved_searches.save(store, INV, "rings", "我的", {"score": "0.9"})
    saved_searches.save(store, SUP, "risk_queue", "主管的", {"tier": "high"})
    assert saved_searches.mine(store, INV2, "rings") == [] and saved_searches.mine(store, INV, "risk_queue") == []
    for who in (INV2, SUP):
        with pytest.raises(NotFound):
            saved_searches.open_search(store, who, mine.search_id)
        with pytest.raises(NotFound):
            saved_searches.delete(store, who, mine.search_id)
    assert [s.name for s in saved_searches.mine(store, INV, "rings")] == ["我的"]


def test_the_pages_permission_and_the_name_are_checked(store: Store) -> None:
    with pytest.raises(PermissionDenied):
        saved_searches.save(store, ANA, "risk_queue", "x", {})           # analysts do not open the queue
    with pytest.raises(PermissionDenied):
        saved_searches.mine(store, None, "rings")
    with pytest.raises(InvalidData):
        saved_searches.save(store, INV, "rings", "   ", {})
    with pytest.raises(InvalidData):
        saved_searches.save(store, INV, "rings", "长" * 41, {})
    with pytest.raises(InvalidData):
        saved_searches.save(store, INV, "users", "x", {})
    assert store.audit_count() == 0 and audit.verify(store).ok


def test_the_rings_page_saves_and_reopens_a_search(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "investigator", "rings")
    assert "我的筛选（0）" in [e.label for e in at.expander]
    at.slider(key="rings_score").set_value(0.5).run()
    at.multiselect(key="rings_kinds").set_value(["fan_hub"]).run()
    at.text_input(key="rings_search_name").input("扇形高分")
    next(b for b in at.button if b.label == "保存").click().run()
    assert "已保存筛选“扇形高分”。" in texts(at) and "我的筛选（1）" in [e.label for e in at.expander]
    at.slider(key="rings_score").set_value(0.0).run()
    at.multiselect(key="rings_kinds").set_value([]).run()
    assert at.query_params.get("score") is None
    # by value: Streamlit 1.57's AppTest applies format_func to the label in select_index (KeyError)
    saved = saved_searches._id(fresh_env.users["investigator"].username, "rings", "扇形高分")
    at.selectbox(key="rings_search_pick").set_value(saved).run()
    at.button(key="rings_search_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="rings_score").value == 0.5 and at.multiselect(key="rings_kinds").value == ["fan_hub"]
    assert at.dataframe[0].value["编号"].tolist() == [fresh_env.new_ring.ring_id]
    other = open_page(fresh_env, "supervisor", "rings")                      # another user: none of these
    assert "我的筛选（0）" in [e.label for e in other.expander]

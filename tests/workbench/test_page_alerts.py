"""The 提醒 page and the sidebar's unread count, driven through Streamlit AppTest as real users."""

from __future__ import annotations

from graph import open_store
from tests.helpers.wb_app import open_page, texts
from tests.helpers.wb_data import Demo
from workbench import alerts


def test_inbox_page_marks_read_and_rules_only_for_supervisors(fresh_env: Demo) -> None:
    with open_store(fresh_env.uri) as store:
        raised = alerts.evaluate(store)
    mine = [a for a in raised.alerts if a.user == "supervisor"]
    assert mine
    router = open_page(fresh_env, "supervisor")           # the sidebar belongs to the router
    assert f"未读提醒：{len(mine)}" in [c.value for c in router.sidebar.caption]
    at = open_page(fresh_env, "supervisor", "alerts")
    assert f"未读提醒: {len(mine)}" in texts(at)
    table = at.dataframe[0].value
    assert sorted(table["编号"]) == sorted(a.alert_id for a in mine)
    assert any("提醒规则" in e.label for e in at.expander)
    next(b for b in at.button if b.label == "全部标为已读").click().run()
    assert not at.exception
    assert "未读提醒: 0" in texts(at)
    with open_store(fresh_env.uri) as store:
        assert alerts.unread_count(store, fresh_env.users["supervisor"]) == 0
    inv = open_page(fresh_env, "investigator", "alerts")
    assert "没有提醒" in texts(inv) and not any("提醒规则" in e.label for e in inv.expander)

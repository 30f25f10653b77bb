"""The 提醒 page and the sidebar's unread count, driven through Streamlit AppTest as real users."""

from __future__ import annotations

from graph import open_store
from tests.helpers.wb_app import open_page, texts
from tests.helpers.wb_data import Demo
from workbench import alerts
from workbench.alerts.engine import Candidate
from workbench.alerts.inbox import context, raise_candidates


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


def test_inbox_shows_where_a_fast_updates_alert_stands(fresh_env: Demo) -> None:
    """A fast update's provisional alert, one the exact run did not confirm and the follow-up that withdraws it
    each say so in the 状态 column; an ordinary alert says nothing there."""
    def cand(episode: str, data: dict[str, object]) -> Candidate:
        return Candidate("new_high", episode, "taxpayer:T1", f"新增高风险纳税人：{episode}", "详情",
                         frozenset({"supervisor"}), data=data, only_people=True)

    with open_store(fresh_env.uri) as store:
        raise_candidates(store, context(store), [
            cand("T1|run-a|fast", {"provisional": True}), cand("T2|run-a|fast", {"provisional": True}),
            cand("T3|run-b", {})])
        [kept] = [a for a in alerts.inbox(store, fresh_env.users["supervisor"]) if a.episode == "T2|run-a|fast"]
        raise_candidates(store, context(store), [cand("T2|run-a|fast|unconfirmed", {
            "unconfirmed": True, "retracts": {"supervisor": kept.alert_id}})])
    at = open_page(fresh_env, "supervisor", "alerts")
    table = at.dataframe[0].value
    standing = dict(zip(table["提醒"].str.removeprefix("新增高风险纳税人："), table["状态"], strict=True))
    assert standing == {"T1|run-a|fast": "快速更新（暂定）", "T2|run-a|fast": "快速更新，完整检测未确认",
                        "T2|run-a|fast|unconfirmed": "撤回快速更新的提醒", "T3|run-b": ""}


def test_first_run_summary_links_to_the_risk_queue(fresh_env: Demo) -> None:
    """The first run's summary names a few taxpayers; the page under it opens the risk queue, which holds them all.
    No summary, no link."""
    before = open_page(fresh_env, "supervisor", "alerts")
    assert not before.get("page_link")
    with open_store(fresh_env.uri) as store:
        raise_candidates(store, context(store), [Candidate(
            "first_run", "run-0", "run:run-0", "首次检测：3 家高风险纳税人", "详情", data={"run_id": "run-0", "count": 3})])
    at = open_page(fresh_env, "supervisor", "alerts")
    assert "首次检测：3 家高风险纳税人" in list(at.dataframe[0].value["提醒"])
    [link] = at.get("page_link")
    assert link.proto.label == "首次检测的高风险纳税人：打开风险队列" and link.proto.page.endswith("risk_queue")

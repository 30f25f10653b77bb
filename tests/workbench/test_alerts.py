"""Alerts: rules over the demo workspace, deduplication, the inbox, rule edits and subscriptions, audit."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from graph.core import schema, vocab
from graph.core.errors import InvalidData, NotFound, PermissionDenied
from graph.core.model import Ring, Run
from graph.embedded import EmbeddedStore
from graph.store import Store
from tests.helpers.wb_data import PASSWORD, ROLE_USERS, Demo, tax_id
from workbench import alerts, appeals, audit, cases
from workbench.alerts import engine
from workbench.alerts.model import alert_id
from workbench.auth import User
from workbench.users import create_user


@pytest.fixture()
def env(fresh_store: tuple[Demo, Store]) -> tuple[Demo, Store]:
    return fresh_store


def _actions(store: Store, action: str) -> list[str]:
    return [ev.target for ev in store.audit_events(0) if ev.action == action]


def test_new_high_goes_to_supervisors_once_and_is_audited(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    first = alerts.evaluate(store)
    highs = [a for a in first.alerts if a.rule == "new_high"]
    assert [(a.user, a.subject) for a in highs] == [("supervisor", f"taxpayer:{demo.high_new}")]
    name = store.taxpayer(demo.high_new).name   # type: ignore[union-attr]
    assert name and highs[0].title == f"新增高风险纳税人：{name}（{demo.high_new}）"   # named
    stored = json.loads(next(r for r in store.scores(store.runs()[0].run_id).to_pylist()
                             if r["tax_id"] == demo.high_new)["reasons"])
    assert stored and stored[0] in highs[0].detail and '["' not in highs[0].detail   # words, not the stored JSON
    assert alerts.inbox(store, inv) == []                   # investigators do not get every new high
    assert alerts.evaluate(store).alerts == []             # the same state raises nothing again
    raised = _actions(store, "alert_raise")
    assert sorted(raised) == sorted(f"alert:{a.alert_id}" for a in first.alerts)
    assert alerts.unread_count(store, sup) == len(alerts.inbox(store, sup)) >= 1


def test_watching_a_taxpayer_brings_new_rings_and_new_high(env: tuple[Demo, Store]) -> None:
    demo, store = env
    inv = demo.users["investigator"]
    member = demo.new_ring.members[1]
    alerts.subscribe(store, inv, watch=(demo.high_new, member))
    got = {(a.rule, a.subject) for a in alerts.evaluate(store).alerts if a.user == inv.username}
    assert got == {("new_high", f"taxpayer:{demo.high_new}"), ("new_ring", f"ring:{demo.new_ring.ring_id}")}
    # the old ring (same member set in both runs) is not new
    assert all(a.subject != f"ring:{demo.ring.ring_id}" for a in alerts.inbox(store, inv))


def test_new_ring_touching_an_open_case_reaches_owner_and_assignee(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    case = cases.open_case(store, sup, "枢纽调查", taxpayers=(demo.new_ring.members[2],))
    cases.assign_case(store, sup, case.case_id, inv.username)
    raised = alerts.evaluate(store).alerts
    ring_alerts = {a.user: a for a in raised if a.rule == "new_ring"}
    assert set(ring_alerts) == {"supervisor", "investigator"}
    assert ring_alerts["investigator"].case_id == case.case_id and ring_alerts["investigator"].assigned
    assert not ring_alerts["supervisor"].assigned
    assigned = alerts.inbox(store, inv, assigned=True)
    assert {a.rule for a in assigned} == {"new_ring", "case_assigned"}


def test_case_assigned_overdue_and_appeals(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    case = cases.open_case(store, inv, "调查甲", taxpayers=(demo.ring.members[0],))
    cases.assign_case(store, sup, case.case_id, inv.username)
    appeal = appeals.record_appeal(store, inv, demo.ring.members[0], "我们是正常交易",
                                   received_at=audit.now() - timedelta(days=20))
    workflow = ("case_assigned", "appeal_filed", "appeal_overdue", "case_overdue")
    rules_now = alerts.evaluate(store, only=workflow)
    got = {(a.rule, a.user) for a in rules_now.alerts}
    assert got == {("case_assigned", "investigator"), ("appeal_filed", "supervisor"),
                   ("appeal_overdue", "supervisor"), ("appeal_overdue", "investigator")}
    later = audit.now() + timedelta(days=31)
    overdue = alerts.evaluate(store, later, only=("case_overdue",)).alerts
    assert {(a.rule, a.user, a.subject) for a in overdue} == {
        ("case_overdue", "investigator", f"case:{case.case_id}"), ("case_overdue", "supervisor", f"case:{case.case_id}")}
    appeals.start_review(store, sup, appeal.appeal_id)
    assert alerts.evaluate(store, later, only=workflow).alerts == []      # nothing new: dedup, and the appeal is under review


def test_supervisors_edit_rules_and_users_mute_them(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    with pytest.raises(PermissionDenied):
        alerts.set_rule(store, inv, "new_high", enabled=False)
    with pytest.raises(InvalidData):
        alerts.set_rule(store, sup, "burst", params={"nonsense": 1})
    with pytest.raises(InvalidData):
        alerts.set_rule(store, sup, "burst", params={"min_count": -1})
    alerts.set_rule(store, sup, "new_high", roles=("supervisor", "investigator"))
    alerts.subscribe(store, sup, muted=("new_high",))
    raised = [a for a in alerts.evaluate(store).alerts if a.rule == "new_high"]
    assert [a.user for a in raised] == ["investigator"]
    assert _actions(store, "alert_rule") == ["alert_rule:new_high"]
    alerts.set_rule(store, sup, "new_ring", enabled=False)
    assert alerts.rules(store)["new_ring"].enabled is False


def test_burst_from_a_watched_taxpayer(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    seller, buyer = demo.shared_phone
    day = max(r["issued_at"] for r in demo.invoices) + timedelta(days=5)   # type: ignore[type-var]
    rows = [{**demo.invoices[0], "key": f"burst-{i}", "number": f"{90000000 + i}", "seller_tax_id": seller,
             "buyer_tax_id": buyer, "issued_at": day + timedelta(minutes=i)} for i in range(4)]
    with store.writer() as w:
        w.invoices(pa.Table.from_pylist(rows, schema=schema.INVOICES))
    alerts.set_rule(store, sup, "burst", params={"min_count": 4, "min_fen": 0})
    assert alerts.evaluate(store, only=("burst",)).alerts == []      # nobody watches the seller yet
    alerts.subscribe(store, inv, watch=(seller,))
    got = alerts.evaluate(store, only=("burst",)).alerts
    assert [(a.user, a.data["count"]) for a in got] == [("investigator", 4)]
    alerts.set_rule(store, sup, "burst", params={"min_count": 5})
    assert alerts.evaluate(store, only=("burst",)).alerts == []


def test_mark_read_only_own_alerts(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    appeals.record_appeal(store, inv, demo.high_new, "申诉")
    alerts.evaluate(store)
    mine = alerts.inbox(store, sup)
    assert len(mine) == 2
    with pytest.raises(InvalidData):
        alerts.mark_read(store, inv, [mine[0].alert_id])
    assert alerts.mark_read(store, sup, [mine[0].alert_id]) == 1
    assert alerts.unread_count(store, sup) == len(mine) - 1
    assert [a.alert_id for a in alerts.inbox(store, sup, unread=True)] == [a.alert_id for a in mine[1:]]
    assert alerts.mark_read(store, sup) == len(mine) - 1 and alerts.unread_count(store, sup) == 0
    assert _actions(store, "alert_read") == ["user:supervisor", "user:supervisor"]


def test_subscriptions_are_checked(env: tuple[Demo, Store]) -> None:
    demo, store = env
    inv, adm = demo.users["investigator"], demo.users["admin"]
    with pytest.raises(NotFound):
        alerts.subscribe(store, inv, watch=("NO-SUCH-TAXPAYER",))
    with pytest.raises(InvalidData):
        alerts.subscribe(store, inv, email="not an address")
    with pytest.raises(InvalidData):
        alerts.subscribe(store, inv, webhook_url="file:///etc/passwd")
    with pytest.raises(PermissionDenied):
        alerts.subscribe(store, inv, "supervisor", muted=("burst",))
    sub, secret = alerts.subscribe(store, inv, email="ivan@example.cn", webhook_url="http://127.0.0.1:9/x")
    assert secret is not None and secret.startswith("whsec_") and sub.webhook_secret == secret
    events = [ev for ev in store.audit_events(0) if ev.action == "alert_subscription"]
    assert events and secret not in events[-1].detail
    other, _ = alerts.subscribe(store, adm, "supervisor", muted=("burst",))    # admins manage anyone's
    assert alerts.subscription(store, "supervisor").muted == ("burst",) == other.muted


def test_verify_void_event_is_deduplicated_per_day(env: tuple[Demo, Store]) -> None:
    demo, store = env
    inv = store.invoice(str(demo.void_invoice["key"]))
    assert inv is not None and inv.status == "void"
    cand = engine.verify_void(inv, "api:ana", audit.now())
    first = alerts.notify(store, cand).alerts
    assert [a.user for a in first] == ["supervisor"] and "作废" in first[0].title
    assert alerts.notify(store, cand).alerts == []
    assert first[0].alert_id == alert_id("verify_void", "supervisor", cand.episode)


def test_the_inbox_reads_only_its_page_not_every_alert(env: tuple[Demo, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    demo, store = env
    sup = demo.users["supervisor"]
    appeals.record_appeal(store, demo.users["investigator"], demo.high_new, "申诉")
    alerts.evaluate(store)
    everything = alerts.inbox(store, sup)
    assert len(everything) == 2

    def every_record(kind: str) -> list[dict[str, object]]:
        raise AssertionError(f"read every {kind} record")

    monkeypatch.setattr(store, "records", every_record)
    assert alerts.inbox(store, sup, limit=1) == everything[:1]
    assert alerts.unread_count(store, sup) == 2
    assert alerts.mark_read(store, sup, [everything[1].alert_id]) == 1
    assert [a.alert_id for a in alerts.inbox(store, sup, unread=True)] == [everything[0].alert_id]
    assert alerts.mark_read(store, sup) == 1 and alerts.unread_count(store, sup) == 0


def test_the_background_round_brings_an_assignment_without_a_detection(env: tuple[Demo, Store]) -> None:
    import threading

    from workbench.alerts import background

    demo, store = env
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    case = cases.open_case(store, sup, "后台提醒", taxpayers=(demo.high_new,))
    cases.assign_case(store, sup, case.case_id, inv.username)
    assert alerts.inbox(store, inv) == []                  # nothing evaluated yet
    calls: list[int] = []

    def opener() -> Store:                                  # the first round fails, the next ones go on
        calls.append(1)
        if len(calls) == 1:
            raise OSError("workspace busy")
        return store

    stop = threading.Event()
    thread = background.start(opener, every=0.05, stop=stop)
    assert thread is not None and thread.name == "fapiao-alerts"
    try:
        for _ in range(200):
            if any(a.rule == "case_assigned" for a in alerts.inbox(store, inv)):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    got = [a for a in alerts.inbox(store, inv) if a.rule == "case_assigned"]
    assert [a.case_id for a in got] == [case.case_id] and got[0].assigned and len(calls) >= 2
    assert not thread.is_alive()
    assert background.start(opener, every=0) is None        # 0 = off



def _one_run_workspace(tmp_path: Path) -> tuple[Store, dict[str, User], list[str]]:
    """A workspace after its first detection run: seven high taxpayers (scores 0.95, 0.94 … 0.89, the lowest tax id
    highest) and one low; users of every role. (store, users, the high tax ids by score)"""
    ids = [tax_id(100 + i) for i in range(8)]
    store = EmbeddedStore(tmp_path / "ws")
    with store.writer() as w:
        w.taxpayers(pa.Table.from_pylist([{"tax_id": t, "name": f"首检{i}号贸易有限公司", "status": "normal"}
                                          for i, t in enumerate(ids)], schema=schema.TAXPAYERS))
        w.findings(Run("run-1", audit.now(), {}, "fp1"), [], _scores({t: 0.95 - i / 100 for i, t in enumerate(ids[:7])},
                                                                     ids))
    users = {name: create_user(store, name, PASSWORD, roles) for name, roles in ROLE_USERS.items()}
    return store, users, ids[:7]


def _scores(high: dict[str, float], ids: list[str]) -> pa.Table:
    return pa.Table.from_pylist([
        {"tax_id": t, "score": high.get(t, 0.1), "tier": "high" if t in high else "low",
         "reasons": json.dumps(["时序环路成员"] if t in high else [], ensure_ascii=False), "features": "{}"}
        for t in ids], schema=schema.SCORES)


def test_first_run_raises_one_summary_and_watchers_hear_of_their_taxpayer(tmp_path: Path) -> None:
    """A workspace's first run: every high taxpayer is 'new', so supervisors get one summary (count, the five highest
    named, the run as subject) instead of one alert each; a watcher of one of them still gets that taxpayer's
    new_high, and only the watcher. Evaluating again raises nothing; the second run alerts per taxpayer again."""
    store, users, high = _one_run_workspace(tmp_path)
    sup, inv = users["supervisor"], users["investigator"]
    try:
        alerts.subscribe(store, inv, watch=(high[3],))
        first = alerts.evaluate(store)
        assert sorted((a.rule, a.user, a.subject) for a in first.alerts) == [
            ("first_run", "supervisor", "run:run-1"), ("new_high", "investigator", f"taxpayer:{high[3]}")]
        [summary] = alerts.inbox(store, sup)
        assert summary.title == "首次检测：7 家高风险纳税人"
        assert summary.data == {"run_id": "run-1", "count": 7, "tax_ids": high, "rings": 0}   # score descending
        named = [f"首检{i}号贸易有限公司（{t}）" for i, t in enumerate(high)]
        assert all(n in summary.detail for n in named[:5]) and not any(n in summary.detail for n in named[5:])
        assert "等 7 家" in summary.detail and "风险队列" in summary.detail
        doc = summary.payload()                                   # what a webhook receives
        assert (doc["rule_zh"], doc["rule_en"]) == vocab.ALERT_RULES["first_run"]
        assert doc["title"].startswith(doc["rule_zh"] + "：")
        [watched] = alerts.inbox(store, inv)
        assert watched.title == f"新增高风险纳税人：{named[3]}" and watched.data["run_id"] == "run-1"
        assert alerts.inbox(store, users["analyst"]) == []
        assert alerts.evaluate(store).alerts == []               # the same state raises nothing again
        assert _actions(store, "alert_raise") == [f"alert:{a.alert_id}" for a in first.alerts]

        # the second run: one taxpayer newly high → its new_high as before (supervisors), no summary
        newly = tax_id(107)
        with store.writer() as w:
            w.findings(Run("run-2", audit.now() + timedelta(days=1), {}, "fp2"), [],
                       _scores({**{t: 0.9 for t in high}, newly: 0.97}, [*high, newly]))
        second = alerts.evaluate(store).alerts
        assert [(a.rule, a.user, a.subject) for a in second] == [("new_high", "supervisor", f"taxpayer:{newly}")]
        assert second[0].title == f"新增高风险纳税人：首检7号贸易有限公司（{newly}）"
    finally:
        store.close()


def test_first_run_summary_is_a_rule_of_its_own(tmp_path: Path) -> None:
    """first_run is muted, switched and given roles like every other rule, apart from new_high."""
    store, users, high = _one_run_workspace(tmp_path)
    sup, inv = users["supervisor"], users["investigator"]
    try:
        assert alerts.rules(store)["first_run"].roles == ("supervisor",)
        alerts.set_rule(store, sup, "first_run", roles=("supervisor", "investigator"))
        alerts.subscribe(store, sup, muted=("first_run",))
        assert [(a.rule, a.user) for a in alerts.evaluate(store).alerts] == [("first_run", "investigator")]
        assert engine.first_run(engine.Context(store, audit.now(), alerts.rules(store), {}))[0].episode == "run-1"
        alerts.set_rule(store, sup, "first_run", enabled=False)
        alerts.subscribe(store, sup, muted=())
        assert alerts.evaluate(store).alerts == []
        assert alerts.inbox(store, inv)[0].data["count"] == len(high)
    finally:
        store.close()


def test_a_first_runs_rings_reach_the_roles_in_the_summary_and_watchers_one_by_one(tmp_path: Path) -> None:
    """new_ring given roles would send one alert per ring on a first run (every ring is new, 2,415 on AMLSim): the
    roles hear the count in the first_run summary; a watcher of a member still gets that ring's alert, and only
    the watcher. On the second run, a new ring reaches the roles again."""
    store, users, high = _one_run_workspace(tmp_path)
    sup, inv = users["supervisor"], users["investigator"]
    rings = [Ring(f"ring-{i}", "run-1", "cycle", (high[2 * i], high[2 * i + 1]), (), 0.9, "环路") for i in range(3)]
    try:
        with store.writer() as w:
            w.findings(Run("run-1", audit.now(), {}, "fp1"), rings,
                       _scores({t: 0.95 - i / 100 for i, t in enumerate(high)}, high))
        alerts.set_rule(store, sup, "new_ring", roles=("supervisor",))
        alerts.subscribe(store, inv, watch=(high[1],))
        got = alerts.evaluate(store).alerts
        assert sorted((a.rule, a.user, a.subject) for a in got) == [
            ("first_run", "supervisor", "run:run-1"), ("new_high", "investigator", f"taxpayer:{high[1]}"),
            ("new_ring", "investigator", "ring:ring-0")]
        [summary] = alerts.inbox(store, sup)
        assert summary.data["rings"] == 3 and "3 个团伙" in summary.detail

        more = [*rings, Ring("ring-9", "run-2", "cycle", (high[5], high[6]), (), 0.9, "环路")]
        with store.writer() as w:
            w.findings(Run("run-2", audit.now() + timedelta(days=1), {}, "fp2"),
                       [dataclasses.replace(r, ring_id=f"{r.ring_id}-2", run_id="run-2") for r in more],
                       _scores({t: 0.95 - i / 100 for i, t in enumerate(high)}, high))
        assert [(a.rule, a.user, a.subject) for a in alerts.evaluate(store).alerts] == [
            ("new_ring", "supervisor", "ring:ring-9-2")]
    finally:
        store.close()

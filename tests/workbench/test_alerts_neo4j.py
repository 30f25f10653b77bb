"""Alerts on a real Neo4j: rules, deduplication, inbox and webhook delivery through the store contract only."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph import open_store
from tests.helpers.alert_sinks import webhook_receiver
from tests.helpers.wb_data import build
from workbench import alerts, cases
from workbench.alerts import delivery

pytestmark = pytest.mark.neo4j


def test_alerts_on_neo4j(neo4j_uri: str, tmp_path: Path) -> None:
    demo = build(tmp_path / "unused", uri=neo4j_uri)
    sup, inv = demo.users["supervisor"], demo.users["investigator"]
    with open_store(neo4j_uri) as store, webhook_receiver() as hook:
        case = cases.open_case(store, sup, "枢纽", taxpayers=(demo.new_ring.members[1],))
        cases.assign_case(store, sup, case.case_id, inv.username)
        _, secret = alerts.subscribe(store, inv, webhook_url=hook.url, watch=(demo.high_new,))
        raised = alerts.evaluate(store)
        got = {(a.rule, a.user) for a in raised.alerts}
        assert {("new_high", "supervisor"), ("new_high", "investigator"), ("new_ring", "investigator"),
                ("case_assigned", "investigator")} <= got
        assert alerts.evaluate(store).alerts == []
        mine = alerts.inbox(store, inv, assigned=True)
        assert {a.rule for a in mine} == {"new_ring", "case_assigned"}
        assert alerts.deliver_due(store).sent == len([a for a in raised.alerts if a.user == "investigator"])
        assert alerts.mark_read(store, inv) == len(alerts.inbox(store, inv)) and alerts.unread_count(store, inv) == 0
    assert secret is not None and all(delivery.check_webhook(b, h, secret) is None for b, h in hook.received)

"""The served workbench raises alerts by itself (workbench.alerts.background): nobody runs a detection or
`fapiao alerts run`, yet the supervisor's inbox fills from the store's newest run."""

from __future__ import annotations

import time

import pytest

from graph import open_store
from tests.e2e.conftest import Served
from workbench import alerts

pytestmark = pytest.mark.browser   # the served workbench: the browser lane (its fixture needs Chromium)


def test_the_served_workbench_raises_the_new_high_alert_by_itself(served: Served) -> None:
    store = open_store(served.demo.uri)
    try:
        sup = served.demo.users["supervisor"]
        deadline = time.time() + 30
        got: list[alerts.Alert] = []
        while time.time() < deadline and not got:
            got = [a for a in alerts.inbox(store, sup) if a.rule == "new_high"]
            time.sleep(0.5)
        assert [a.subject for a in got] == [f"taxpayer:{served.demo.high_new}"], served.log.read_text()[-2000:]
        assert any(ev.action == "alert_raise" and ev.actor == "system:alerts" for ev in store.audit_events(0))
    finally:
        store.close()

"""The API's 查验 of a void invoice raises the verify_void alert (after the answer, deduplicated per day)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.api_env import running_api
from workbench import alerts

pytestmark = pytest.mark.slow   # a real API server (like test_api.py)


def test_verify_of_a_void_invoice_alerts_supervisors(tmp_path: Path) -> None:
    with running_api(tmp_path / "ws") as api:
        void, normal = api.demo.void_invoice, api.demo.invoices[0]

        def check(inv: dict[str, object]) -> dict[str, object]:
            with api.client("analyst") as c:
                body = {"number": inv["number"], "code": inv["code"],
                        "issue_date": inv["issued_at"].date().isoformat(),  # type: ignore[attr-defined]
                        "amount": f"{int(inv['amount_fen']) / 100:.2f}"}  # type: ignore[call-overload]
                r = c.post("/invoices/verify", json=body)
            assert r.status_code == 200, r.text
            return dict(r.json())

        assert check(normal)["status"] == "normal"
        assert check(void)["status"] == "void"
        assert check(void)["status"] == "void"          # the same caller, the same day: one alert
        sup, ana = api.demo.users["supervisor"], api.demo.users["analyst"]
        deadline = time.monotonic() + 20
        while not alerts.inbox(api.store, sup) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        got = alerts.inbox(api.store, sup)
        assert [(a.rule, a.subject) for a in got] == [("verify_void", f"invoice:{void['key']}")]
        assert got[0].data["caller"] == "api:analyst" and alerts.inbox(api.store, ana) == []
        events = [ev for ev in api.store.audit_events(0) if ev.action == "alert_raise"]
        assert [ev.target for ev in events] == [f"alert:{got[0].alert_id}"]

        # the inbox over the API: the token's user only
        with api.client("supervisor") as c:
            inbox = c.get("/alerts").json()
            assert inbox["unread"] == 1 and [a["alert_id"] for a in inbox["alerts"]] == [got[0].alert_id]
            assert inbox["alerts"][0]["rule"] == "verify_void" and inbox["alerts"][0]["read_at"] is None
            assert c.post("/alerts/read", json={}).status_code == 422
            assert c.post("/alerts/read", json={"alert_ids": ["AL-nope"]}).status_code == 422
        with api.client("analyst") as c:
            assert c.get("/alerts").json() == {"unread": 0, "alerts": []}
            refused = c.post("/alerts/read", json={"alert_ids": [got[0].alert_id]})
            assert refused.status_code == 422 and "inbox" in refused.json()["detail"]
        with api.client("supervisor") as c:
            assert c.post("/alerts/read", json={"all": True}).json() == {"marked": 1}
            assert c.get("/alerts", params={"unread": True}).json() == {"unread": 0, "alerts": []}
        assert alerts.unread_count(api.store, sup) == 0
        assert [ev.actor for ev in api.store.audit_events(0) if ev.action == "alert_read"] == ["supervisor"]

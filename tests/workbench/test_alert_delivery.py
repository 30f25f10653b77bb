"""Alert delivery to local receivers: an SMTP sink and an HTTP webhook on 127.0.0.1; signatures, retries,
back-off, a receiver that hangs, and the audit of every attempt."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from graph.core import vocab
from graph.store import Store
from tests.helpers.alert_sinks import smtp_sink, webhook_receiver
from tests.helpers.wb_data import Demo
from workbench import alerts, audit, signing
from workbench.alerts import delivery


@pytest.fixture()
def env(fresh_store: tuple[Demo, Store], monkeypatch: pytest.MonkeyPatch) -> tuple[Demo, Store]:
    monkeypatch.setenv("FAPIAO_ALERT_BACKOFF", "60")
    monkeypatch.setenv("FAPIAO_ALERT_RETRIES", "3")
    monkeypatch.setenv("FAPIAO_ALERT_TIMEOUT", "1")
    return fresh_store


def _audited(store: Store, action: str) -> list[str]:
    return [ev.detail for ev in store.audit_events(0) if ev.action == action]


def test_email_reaches_the_smtp_sink(env: tuple[Demo, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    demo, store = env
    sup = demo.users["supervisor"]
    with smtp_sink() as box:
        monkeypatch.setenv("FAPIAO_SMTP_HOST", box.host)
        monkeypatch.setenv("FAPIAO_SMTP_PORT", str(box.port))
        alerts.subscribe(store, sup, email="sue@example.cn")
        raised = alerts.evaluate(store)
        assert [d.channel for d in raised.deliveries] == ["email"] * len(raised.alerts)
        report = alerts.deliver_due(store)
        assert report.sent == len(raised.alerts) >= 1 and report.failed == report.retry == 0
        assert alerts.deliver_due(store).sent == 0                 # sent once
    subjects = sorted(m["Subject"] for m in box.messages)
    assert subjects == sorted(f"[发票工作台提醒] {a.title}" for a in raised.alerts)
    assert all(m["To"] == "sue@example.cn" for m in box.messages)
    ids = {a.alert_id for a in raised.alerts}
    bodies = {m["Message-ID"].strip("<>").split("@")[0]: m.get_payload(decode=True).decode() for m in box.messages}
    assert set(bodies) == ids and all(aid in body for aid, body in bodies.items())
    assert len(_audited(store, "alert_deliver")) == len(raised.alerts)


def test_email_without_smtp_server_retries_then_fails(env: tuple[Demo, Store]) -> None:
    demo, store = env
    alerts.subscribe(store, demo.users["supervisor"], email="sue@example.cn")
    n = len(alerts.evaluate(store).alerts)
    t = audit.now()
    for attempt in range(3):
        report = alerts.deliver_due(store, t)
        assert (report.retry, report.failed) == ((n, 0) if attempt < 2 else (0, n))
        assert alerts.deliver_due(store, t).waiting == (n if attempt < 2 else 0)   # back-off: not yet due
        t += timedelta(seconds=60 * 2 ** attempt + 1)
    assert all("FAPIAO_SMTP_HOST" in d.last_error and d.state == "failed" for d in delivery.deliveries(store))
    assert len(_audited(store, "alert_deliver_retry")) == 2 * n and len(_audited(store, "alert_deliver_failed")) == n


def test_webhook_is_signed_with_hmac_and_ed25519(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup = demo.users["supervisor"]
    with webhook_receiver() as hook:
        _, secret = alerts.subscribe(store, sup, webhook_url=hook.url)
        assert secret is not None
        raised = alerts.evaluate(store)
        assert alerts.deliver_due(store).sent == len(raised.alerts)
    assert len(hook.received) == len(raised.alerts)
    body, headers = hook.received[0]
    assert delivery.check_webhook(body, headers, secret) is None
    assert delivery.check_webhook(body + b" ", headers, secret) == "signature does not match"
    assert delivery.check_webhook(body, headers, "whsec_wrong") == "signature does not match"
    old = {**headers, "X-Fapiao-Timestamp": str(int(headers["X-Fapiao-Timestamp"]) - 3600)}
    assert "timestamp" in (delivery.check_webhook(body, old, secret) or "")
    doc = json.loads(body)
    assert doc["alert_id"] == headers["X-Fapiao-Alert"] and doc["user"] == "supervisor" and doc["rule_zh"]
    # a program reads the code and the values; the title is Chinese (it was "新增高风险纳税人 / taxpayer newly …")
    assert (doc["rule_zh"], doc["rule_en"]) == vocab.ALERT_RULES[doc["rule"]] and doc["data"]
    assert doc["title"].startswith(doc["rule_zh"] + "：") and doc["rule_en"] not in doc["title"]
    key, sig = headers["X-Fapiao-Signature-Ed25519"].split(":", 1)
    assert key == signing.fingerprint(signing.public_key())
    signing.public_key().verify(base64.b64decode(sig), body)            # raises when it does not verify


def test_webhook_retried_with_backoff_after_500_and_hang(env: tuple[Demo, Store]) -> None:
    demo, store = env
    sup = demo.users["supervisor"]
    with webhook_receiver(script=[500, "hang", 200], hang_s=3) as hook:
        alerts.subscribe(store, sup, webhook_url=hook.url)
        alerts.set_rule(store, sup, "new_high", enabled=True)
        raised = alerts.evaluate(store, only=("new_high",))
        assert len(raised.alerts) == 1
        t = audit.now()
        assert alerts.deliver_due(store, t).retry == 1                # 500
        assert alerts.deliver_due(store, t + timedelta(seconds=30)).waiting == 1
        assert alerts.deliver_due(store, t + timedelta(seconds=61)).retry == 1   # the receiver hangs: timeout
        assert alerts.deliver_due(store, t + timedelta(seconds=61 + 121)).sent == 1
    [d] = delivery.deliveries(store)
    assert d.state == "sent" and d.attempts == 3
    retries = _audited(store, "alert_deliver_retry")
    assert "HTTP 500" in retries[0] and "timeout" in retries[1].lower()
    assert len(_audited(store, "alert_deliver")) == 1


def test_refused_connection_ends_failed(env: tuple[Demo, Store]) -> None:
    demo, store = env
    with webhook_receiver() as hook:
        url = hook.url                        # the receiver is gone after this block: connections are refused
    alerts.subscribe(store, demo.users["supervisor"], webhook_url=url)
    n = len(alerts.evaluate(store).alerts)
    t = audit.now()
    for _ in range(3):
        alerts.deliver_due(store, t)
        t += timedelta(days=1)
    assert [d.state for d in delivery.deliveries(store)] == ["failed"] * n
    assert all("Refused" in d.last_error or "refused" in d.last_error for d in delivery.deliveries(store))

"""``fapiao alerts``: run, inbox, read, rule, subscribe, deliveries over a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.helpers.alert_sinks import webhook_receiver
from tests.helpers.wb_data import PASSWORD, build
from workbench import audit
from workbench.alerts import delivery
from workbench.cli import cli


def test_alerts_commands(tmp_path: Path) -> None:
    demo = build(tmp_path / "ws")
    store = ["--store", demo.uri]
    runner = CliRunner()

    def run(*args: str, password: bool = False) -> str:
        r = runner.invoke(cli, ["alerts", *args, *store], input=f"{PASSWORD}\n" if password else None)
        assert r.exit_code == 0, (r.output, r.exception)
        return r.output

    rules = json.loads(run("rules", "--json"))
    assert rules["burst"]["params"]["min_count"] == 20 and rules["new_high"]["roles"] == ["supervisor"]
    refused = runner.invoke(cli, ["alerts", "rule", "burst", "--set", "min_count=3", "--user", "investigator",
                                  "--password-stdin", *store], input=f"{PASSWORD}\n")
    assert refused.exit_code != 0 and "edit_alert_rules" in str(refused.exception)
    assert "min_count=3" in run("rule", "burst", "--set", "min_count=3", "--user", "supervisor", "--password-stdin",
                                password=True)
    with webhook_receiver() as hook:
        out = run("subscribe", "--user", "supervisor", "--webhook", hook.url, "--password-stdin", password=True)
        secret = out.split("shown once): ")[1].strip()
        first = json.loads(run("run", "--json"))
        assert first["raised"] == {"new_high": 1} and first["sent"] == 1
        assert json.loads(run("run", "--json")) == {"raised": {}, "sent": 0, "retry": 0, "failed": 0, "waiting": 0}
    body, headers = hook.received[0]
    assert delivery.check_webhook(body, headers, secret) is None
    inbox = json.loads(run("inbox", "--user", "supervisor", "--password-stdin", "--json", password=True))
    assert inbox["unread"] == 1 and inbox["alerts"][0]["subject"] == f"taxpayer:{demo.high_new}"
    assert "marked 1 read" in run("read", "--user", "supervisor", "--all", "--password-stdin", password=True)
    assert json.loads(run("inbox", "--user", "supervisor", "--unread", "--password-stdin", "--json",
                          password=True)) == {"unread": 0, "alerts": []}
    sent = json.loads(run("deliveries", "--state", "sent", "--json"))
    assert [d["channel"] for d in sent] == ["webhook"]
    from graph import open_store

    with open_store(demo.uri) as s:
        actors = {ev.actor for ev in s.audit_events(0) if ev.action in ("alert_raise", "alert_deliver")}
    assert actors == {audit.cli_actor()}

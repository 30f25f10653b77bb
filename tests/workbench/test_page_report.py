"""The 期间报告 page: supervisors make the report (audited, HTML to download and shown); investigators are refused."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from graph import open_store
from tests.helpers.paths import SOURCES
from tests.helpers.wb_app import TIMEOUT, open_page, texts
from tests.helpers.wb_data import Demo


def _reports(demo: Demo) -> list[tuple[str, str, str]]:
    store = open_store(demo.uri)
    try:
        return [(e.actor, e.target, e.detail) for e in store.audit_events() if e.action == "report"]
    finally:
        store.close()


def test_a_supervisor_makes_the_report_and_it_is_audited(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "supervisor", "report")
    assert "期间报告" in texts(at)
    assert not at.get("download_button")            # nothing made yet
    first, last = at.date_input[0].value, at.date_input[1].value
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["下载 HTML"]
    assert _reports(fresh_env) == [("supervisor", f"period:{first}..{last}", "html")]


def test_an_investigator_opening_the_page_file_directly_is_refused_and_nothing_is_made(fresh_env: Demo) -> None:
    at = AppTest.from_file(str(SOURCES / "workbench" / "ui" / "screens" / "report.py"), default_timeout=TIMEOUT)
    at.session_state["fapiao_user"] = fresh_env.users["investigator"]
    at.session_state["fapiao_signed_in_at"] = time.time()
    at.run()
    assert any("无权访问" in e.value for e in at.error)
    assert not at.button and not at.date_input
    assert _reports(fresh_env) == []

"""Run the workbench in Streamlit's AppTest as a signed-in user of the demo store."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from tests.helpers.wb_data import APP, Demo

TIMEOUT = 60


def open_page(demo: Demo, role: str | None, page: str | None = None, /, **query: str) -> AppTest:
    """The app signed in as the ``role`` demo user (None: nobody), switched to ``screens/<page>.py``, run."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if role is not None:
        at.session_state["fapiao_user"] = demo.users[role]
        at.session_state["fapiao_signed_in_at"] = time.time()
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(f"screens/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """All visible text of markdown, captions, titles, alerts and metrics, for ``in`` checks."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(parts)

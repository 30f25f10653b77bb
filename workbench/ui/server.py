"""The workbench as served: ``streamlit run workbench/ui/server.py`` (what ``fapiao serve`` starts).

Streamlit's own server runs :mod:`workbench.ui.app` with the routes and middleware of
:mod:`workbench.ui.http`: the session cookie is set by the server, HttpOnly, and ``/_stcore/metrics`` is
not served, so no proxy rule is needed to hide it. Import this module only to serve: building the app
fixes Streamlit's script folder for the whole process. While the server starts, a thread imports what
the pages need (:mod:`workbench.ui.warmup`), and another evaluates the alert rules every
``FAPIAO_ALERTS_EVERY`` seconds (:mod:`workbench.alerts.background`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from streamlit.starlette import App

from workbench.alerts import background
from workbench.ui import http, state, warmup

threading.Thread(target=warmup.warm, name="fapiao-warm-up", daemon=True).start()
background.start(state.get_store)
app = App(Path(__file__).resolve().with_name("app.py"), routes=http.ROUTES, middleware=http.MIDDLEWARE)

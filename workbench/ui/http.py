"""What the workbench's server adds to Streamlit's (used by :mod:`workbench.ui.server`; importing it has no
side effect): the route that sets the HttpOnly session cookie (:mod:`workbench.ui.cookie_handoff`), and a
404 for Streamlit's ``/_stcore/metrics``, which no Streamlit setting turns off."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench.ui import cookie_handoff

HIDDEN = ("_stcore/metrics",)


class HideEndpoints:
    """Answers 404 for Streamlit endpoints the workbench does not offer (in any case, whatever the slashes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).strip("/").lower().endswith(HIDDEN):
            await PlainTextResponse("not found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


ROUTES: list[BaseRoute] = [Route(cookie_handoff.PATH, cookie_handoff.endpoint, methods=["POST", "DELETE"])]
MIDDLEWARE = [Middleware(HideEndpoints)]

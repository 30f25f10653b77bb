"""The session cookie is set by the server, ``HttpOnly``: no page script ever reads or writes it.

A Streamlit page cannot set response headers, so after sign-in the page gets a one-time *handoff code*
(256 random bits, valid :data:`TTL_S` seconds, usable once) and posts it to :data:`PATH`. That endpoint,
served in the same process by :mod:`workbench.ui.server`, swaps the code for the session text and answers
``Set-Cookie: fapiao_session=…; HttpOnly; SameSite=Strict; Path=/`` (``Secure`` over https). ``DELETE``
on the same path expires the cookie after sign-out (the session is already revoked in the store).
"""

from __future__ import annotations

import re
import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response

from graph.core import settings
from workbench import web_sessions

PATH = "/_fapiao/session"
TTL_S = 60.0
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_LOCK = threading.Lock()
_PENDING: dict[str, tuple[str, float]] = {}


def valid_code(code: str) -> bool:
    """True when ``code`` has the shape of a handoff code (nothing else is written into a page)."""
    return _CODE_RE.match(code or "") is not None


def offer(token: str, now: float | None = None) -> str:
    """A one-time code that the browser can swap for the session cookie ``token``."""
    at = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(32)
    with _LOCK:
        for old in [c for c, (_, until) in _PENDING.items() if until < at]:
            del _PENDING[old]
        _PENDING[code] = (token, at + TTL_S)
    return code


def redeem(code: str, now: float | None = None) -> str | None:
    """The session text behind ``code`` (once; None when unknown, used or expired)."""
    at = time.monotonic() if now is None else now
    with _LOCK:
        found = _PENDING.pop(code, None)
    if found is None or found[1] < at:
        return None
    return found[0]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


async def endpoint(request: Request) -> Response:
    """``POST`` a handoff code → the HttpOnly session cookie; ``DELETE`` → the cookie expired."""
    if request.method == "DELETE":
        gone = Response(status_code=204)
        gone.delete_cookie(web_sessions.COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict")
        return gone
    body = (await request.body())[:128].decode("ascii", "replace").strip()
    token = redeem(body) if valid_code(body) else None
    if token is None or not web_sessions.valid_text(token):
        return Response("unknown or used code", status_code=403, media_type="text/plain")
    done = Response(status_code=204)
    done.set_cookie(web_sessions.COOKIE, token, max_age=settings.get_int("FAPIAO_SESSION_MINUTES") * 60, path="/",
                    secure=_secure(request), httponly=True, samesite="strict")
    return done

"""The session cookie is set by the server, HttpOnly, from a one-time handoff code; Streamlit's metrics
endpoint is not served (issue 18). The real server is exercised by tests/e2e (test_browser_links, test_offline)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from workbench import web_sessions
from workbench.api.server import Background
from workbench.ui import cookie_handoff
from workbench.ui.http import MIDDLEWARE, ROUTES
from workbench.ui.session import cookie_script

TOKEN = "0123456789ab." + "A" * 43


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The workbench server's own routes and middleware on 127.0.0.1, with stand-ins for Streamlit's endpoints."""
    async def metrics(_request: object) -> PlainTextResponse:
        return PlainTextResponse("session_count 1")
    app = Starlette(routes=[*ROUTES, Route("/_stcore/metrics", metrics), Route("/_stcore/health", metrics)],
                    middleware=MIDDLEWARE)
    with Background(app) as served:
        yield served


def test_a_code_is_swapped_once_for_an_httponly_cookie(url: str) -> None:
    assert web_sessions.valid_text(TOKEN)
    code = cookie_handoff.offer(TOKEN)
    client = httpx.Client(base_url=url, timeout=10)
    first = client.post(cookie_handoff.PATH, content=code)
    assert first.status_code == 204
    header = first.headers["set-cookie"]
    assert header.startswith(f"{web_sessions.COOKIE}={TOKEN};")
    assert "HttpOnly" in header and "samesite=strict" in header.lower() and "Path=/" in header
    assert "Secure" not in header                                # plain http on 127.0.0.1
    again = client.post(cookie_handoff.PATH, content=code)
    assert again.status_code == 403 and "set-cookie" not in again.headers


def test_unknown_expired_or_malformed_codes_set_nothing(url: str) -> None:
    client = httpx.Client(base_url=url, timeout=10)
    for body in ("", "x" * 43, TOKEN, "'; alert(1); '"):
        reply = client.post(cookie_handoff.PATH, content=body)
        assert reply.status_code == 403 and "set-cookie" not in reply.headers
    old = cookie_handoff.offer(TOKEN, now=0.0)
    assert cookie_handoff.redeem(old, now=cookie_handoff.TTL_S + 1) is None


def test_secure_behind_an_https_proxy_and_sign_out_expires_the_cookie(url: str) -> None:
    client = httpx.Client(base_url=url, timeout=10)
    reply = client.post(cookie_handoff.PATH, content=cookie_handoff.offer(TOKEN), headers={"x-forwarded-proto": "https"})
    assert "Secure" in reply.headers["set-cookie"]
    gone = client.delete(cookie_handoff.PATH)
    assert gone.status_code == 204
    header = gone.headers["set-cookie"]
    assert header.startswith(f'{web_sessions.COOKIE}="";') and "Max-Age=0" in header and "HttpOnly" in header


def test_metrics_is_hidden_in_every_spelling_and_health_is_not(url: str) -> None:
    client = httpx.Client(base_url=url, timeout=10)
    for path in ("/_stcore/metrics", "//_stcore/metrics", "/_stcore/metrics/", "/_STCORE/Metrics"):
        assert client.get(path).status_code == 404, path
    assert client.get("/_stcore/health").status_code == 200


def test_the_page_script_carries_the_code_never_the_session() -> None:
    code = cookie_handoff.offer(TOKEN)
    script = cookie_script(code, "zh")
    assert code in script and TOKEN not in script and "fapiao_session" not in script
    assert "fetch('/_fapiao/session'" in script
    assert cookie_handoff.PATH not in cookie_script("not a code", "zh")
    assert "DELETE" in cookie_script(None, "en", clear=True)

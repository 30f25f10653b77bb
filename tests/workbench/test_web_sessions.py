"""Issue 19: a refresh keeps the user signed in (server-checked session cookie), deep links open the page
asked for after sign-in, and the language survives a new session."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers.wb_app import TIMEOUT, texts
from tests.helpers.wb_data import APP, PASSWORD, Demo
from workbench import audit, users, web_sessions
from workbench.ui import cookie_handoff, session
from workbench.ui.state import get_store


def test_a_session_resumes_until_it_expires_idles_or_ends(fresh_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    store = get_store()
    user = fresh_env.users["investigator"]
    t0 = audit.now()
    text = web_sessions.start(store, user, users.epoch(store, user.username), now=t0)
    found = web_sessions.resume(store, text, now=t0 + timedelta(minutes=5))
    assert found is not None and found.user.username == "investigator" and found.signed_in_at == t0
    assert web_sessions.resume(store, text[:-1] + ("A" if text[-1] != "A" else "B"), now=t0) is None  # forged secret
    assert web_sessions.resume(store, "not-a-token", now=t0) is None
    monkeypatch.setenv("FAPIAO_SESSION_IDLE_MINUTES", "30")
    assert web_sessions.resume(store, text, now=t0 + timedelta(minutes=31)) is None          # idle
    web_sessions.touch(store, text, now=t0 + timedelta(minutes=20))
    assert web_sessions.resume(store, text, now=t0 + timedelta(minutes=31)) is not None      # seen at 20 min
    monkeypatch.setenv("FAPIAO_SESSION_MINUTES", "40")
    assert web_sessions.resume(store, text, now=t0 + timedelta(minutes=41)) is None          # absolute expiry
    assert web_sessions.end(store, text) and not web_sessions.end(store, text)
    assert web_sessions.resume(store, text, now=t0 + timedelta(minutes=1)) is None           # signed out
    rec = store.record(web_sessions.KIND, text.split(".")[0])
    assert rec is not None and text.split(".")[1] not in str(rec)                           # only the digest is kept


def test_a_password_change_or_disabling_ends_the_stored_session(fresh_env: Demo) -> None:
    store = get_store()
    a = web_sessions.start(store, fresh_env.users["analyst"], users.epoch(store, "analyst"))
    b = web_sessions.start(store, fresh_env.users["investigator"], users.epoch(store, "investigator"))
    users.set_password(store, "analyst", "a-brand-new-passphrase")
    users.disable_user(store, "investigator")
    assert web_sessions.resume(store, a) is None and web_sessions.resume(store, b) is None


def _browser(monkeypatch: pytest.MonkeyPatch, cookies: dict[str, str]) -> None:
    """The cookies the browser sends with a new session (a refresh, a new tab)."""
    monkeypatch.setattr(session, "cookie", cookies.get)


def test_refresh_resumes_the_sign_in_and_the_language(fresh_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="fapiao_sign_in_name").input("supervisor")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    token = at.session_state[session.TOKEN_KEY]
    assert web_sessions.valid_text(token)
    bodies = [h.proto.body for h in at.get("html")]
    assert not any(token in b for b in bodies)                   # the page never holds the session itself
    codes = [m[1] for b in bodies for m in re.finditer(r"body: '([A-Za-z0-9_-]{43})'", b)]
    assert len(codes) == 1 and cookie_handoff.redeem(codes[0]) == token   # a one-time code for the HttpOnly cookie
    _browser(monkeypatch, {web_sessions.COOKIE: token, session.LANG_COOKIE: "en"})
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)     # F5: a new Streamlit session
    again.run()
    assert not again.exception
    assert again.session_state["fapiao_user"].username == "supervisor"
    assert again.title[0].value == "Overview" and "Sign in" not in texts(again)   # was: signed out, Chinese
    _browser(monkeypatch, {web_sessions.COOKIE: token})
    tab = AppTest.from_file(APP, default_timeout=TIMEOUT)       # another tab, Chinese by default
    tab.run()
    assert tab.title[0].value == "总览"
    next(b for b in tab.sidebar.button if b.label == "退出登录").click().run()
    assert web_sessions.resume(get_store(), token) is None      # sign-out revokes the cookie's session
    assert any("method: 'DELETE'" in h.proto.body for h in tab.get("html"))   # the server expires the cookie
    third = AppTest.from_file(APP, default_timeout=TIMEOUT)
    third.run()
    assert "fapiao_user" not in third.session_state


def test_a_deep_link_opened_signed_out_lands_on_its_page(app_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    _browser(monkeypatch, {})
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["ring"] = app_env.ring.ring_id
    at.run()
    at.switch_page("screens/rings.py")                           # /rings?ring=… typed or clicked while signed out
    at.run()
    assert [t.label for t in at.text_input][:2] == ["用户名", "密码"]
    at.text_input(key="fapiao_sign_in_name").input("investigator")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD)
    next(b for b in at.button if b.label == "登录").click().run()
    assert not at.exception
    assert "构成团伙的发票（按时间顺序）" in texts(at)             # the ring asked for, not the overview
    ring = at.query_params["ring"]                                # AppTest of Streamlit 1.56 (the floor) gives a list
    assert (ring if isinstance(ring, str) else ring[-1]) == app_env.ring.ring_id

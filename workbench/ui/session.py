"""Sign-in state of one Streamlit session, and the guard every page calls first.

``st.session_state["fapiao_user"]`` holds the signed-in :class:`~workbench.auth.User` and
``st.session_state["fapiao_signed_in_at"]`` the sign-in time (epoch seconds). Every request re-reads
the account from the store: its current roles are the ones used (a demotion counts at the next click),
and the session ends when the account is disabled or removed, or its password changed since sign-in
(password epoch). A session also ends ``FAPIAO_SESSION_MINUTES`` after sign-in, after
``FAPIAO_SESSION_IDLE_MINUTES`` without a request, or when the user signs out.

A refresh (F5) or a new tab starts a new Streamlit session; it resumes the sign-in from the browser's
``fapiao_session`` cookie, checked on the server by :mod:`workbench.web_sessions` (same expiry, idle
timeout, account and password checks). :func:`sync_cookies` has the server set that cookie (HttpOnly, see
:mod:`workbench.ui.cookie_handoff`) and writes the language cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from graph.core import settings
from graph.core.errors import FapiaoError
from workbench import auth, web_sessions
from workbench.auth import User
from workbench.ui import cookie_handoff
from workbench.users import DEMO_USERS, KIND, authenticate, epoch, get_user

USER_KEY = "fapiao_user"
SIGNED_IN_AT_KEY = "fapiao_signed_in_at"
EPOCH_KEY = "fapiao_epoch"
LAST_SEEN_KEY = "fapiao_last_seen"
TOKEN_KEY = "fapiao_session_token"
CLEAR_KEY = "fapiao_clear_cookie"
COOKIE_SENT_KEY = "fapiao_cookie_sent"
LANG_COOKIE = "fapiao_lang"


def _tr(zh: str, en: str) -> str:
    from workbench.ui.i18n import tr

    return tr(zh, en)


def sign_in(user: User, epoch: int | None = None, *, token: str | None = None,
            signed_in_at: float | None = None) -> None:
    """Mark ``user`` as signed in for this session (at ``signed_in_at``, default now), under password
    ``epoch``; ``token`` is the browser session (cookie text) that lets a refresh resume it."""
    st.session_state[USER_KEY] = user
    st.session_state[SIGNED_IN_AT_KEY] = signed_in_at if signed_in_at is not None else time.time()
    st.session_state[LAST_SEEN_KEY] = time.time()
    if epoch is not None:
        st.session_state[EPOCH_KEY] = epoch
    if token is not None:
        st.session_state[TOKEN_KEY] = token
        st.session_state.pop(CLEAR_KEY, None)


def sign_out() -> None:
    """Forget the signed-in user and revoke the browser session (its cookie is cleared on the next run)."""
    token = st.session_state.pop(TOKEN_KEY, None) or cookie(web_sessions.COOKIE)
    if token:
        from workbench.ui.state import get_store

        try:
            web_sessions.end(get_store(), str(token))
        except FapiaoError:
            pass   # the store is gone: the record cannot be used either
        st.session_state[CLEAR_KEY] = True
    for key in (USER_KEY, SIGNED_IN_AT_KEY, EPOCH_KEY, LAST_SEEN_KEY):
        st.session_state.pop(key, None)
    for key in [k for k in st.session_state if str(k).startswith(("case_export", "export_", "report_"))]:
        st.session_state.pop(key, None)   # a made case file, extract or report is not served to the next user


def expired(signed_in_at: float, now: float | None = None) -> bool:
    """True when a session that started at ``signed_in_at`` is older than ``FAPIAO_SESSION_MINUTES``."""
    minutes = settings.get_int("FAPIAO_SESSION_MINUTES")
    return ((now if now is not None else time.time()) - signed_in_at) > minutes * 60


def idle(last_seen: float, now: float | None = None) -> bool:
    """True when nothing happened in the session for ``FAPIAO_SESSION_IDLE_MINUTES``."""
    minutes = settings.get_int("FAPIAO_SESSION_IDLE_MINUTES")
    return ((now if now is not None else time.time()) - last_seen) > minutes * 60


def _seconds(key: str, default: float) -> float:
    try:
        return float(st.session_state.get(key, default))
    except (TypeError, ValueError):
        return 0.0


def _cookie_reader() -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        try:
            value = st.context.cookies.get(name)
        except (AttributeError, RuntimeError):
            return None
        return str(value) if value else None
    return read


#: reads a cookie of the browser's request (tests replace it)
cookie: Callable[[str], str | None] = _cookie_reader()


def _resume() -> User | None:
    """Sign in again from the browser's session cookie (after a refresh or in a new tab), or None."""
    if st.session_state.get(CLEAR_KEY):
        return None    # signed out in this tab: the cookie is being cleared
    text = cookie(web_sessions.COOKIE)
    if not text:
        return None
    from workbench.ui.state import get_store

    try:
        found = web_sessions.resume(get_store(), text)
    except FapiaoError:
        return None
    if found is None:
        return None
    sign_in(found.user, found.epoch, token=text, signed_in_at=found.signed_in_at.timestamp())
    return found.user


def current_user() -> User | None:
    """The signed-in user as the store knows them now, or None (the session is then ended): nobody
    signed in, the session expired or idled out, or the account was disabled, removed or had its
    password changed since sign-in. A new Streamlit session (refresh, new tab) resumes from the cookie."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User):
        user = _resume()
    if not isinstance(user, User):
        return None
    now = time.time()
    if expired(_seconds(SIGNED_IN_AT_KEY, 0.0), now) or idle(_seconds(LAST_SEEN_KEY, now), now):
        sign_out()
        st.session_state["fapiao_expired"] = True
        return None
    fresh = _as_stored(user)
    if fresh is None:
        sign_out()
        return None
    st.session_state[USER_KEY] = fresh
    st.session_state[LAST_SEEN_KEY] = now
    token = st.session_state.get(TOKEN_KEY)
    if token:
        from workbench.ui.state import get_store

        try:
            web_sessions.touch(get_store(), str(token))
        except FapiaoError:
            pass
    return fresh


def _as_stored(user: User) -> User | None:
    """The account re-read from the store (current roles), or None when it may no longer be used."""
    from workbench.ui.state import get_store

    try:
        store = get_store()
        rec = store.record(KIND, user.username)
    except FapiaoError:
        return None   # fail closed: no session without the account's current state
    if rec is None or rec.get("disabled"):
        return None
    stored_epoch = int(rec.get("epoch") or 0)
    if st.session_state.setdefault(EPOCH_KEY, stored_epoch) != stored_epoch:
        st.session_state["fapiao_password_changed"] = True
        return None
    fresh = get_user(store, user.username)
    return fresh if fresh is not None and not fresh.disabled else None


def _client() -> str:
    """The client's address as Streamlit sees it (for sign-in throttling), or ''."""
    try:
        return str(st.context.ip_address or "")
    except (AttributeError, RuntimeError):
        return ""


def sign_in_form() -> None:
    """Render the sign-in form; on success store the user in the session and rerun."""
    st.subheader(_tr("登录", "Sign in"))
    if st.session_state.pop("fapiao_expired", False):
        st.info(_tr("会话已过期，请重新登录。", "Your session expired; please sign in again."))
    if st.session_state.pop("fapiao_password_changed", False):
        st.info(_tr("密码已更改，请重新登录。", "The password was changed; please sign in again."))
    with st.form("fapiao_sign_in"):
        username = st.text_input(_tr("用户名", "User name"), key="fapiao_sign_in_name")
        password = st.text_input(_tr("密码", "Password"), type="password", key="fapiao_sign_in_password")
        submitted = st.form_submit_button(_tr("登录", "Sign in"))
    if settings.get_bool("FAPIAO_DEMO"):
        st.caption(_tr("演示账号：", "Demo accounts: ") + "; ".join(
            f"{name} / {pw}" for name, (pw, _) in DEMO_USERS.items()))
    from workbench.ui.state import get_store

    if not submitted:   # the form is on screen already: open the store while the user types (was 1.1 s of the sign-in)
        try:
            get_store()
        except FapiaoError:
            pass   # the page says why once signed in
        return
    store = get_store()
    user = authenticate(store, username.strip(), password, client=_client())
    if user is None:
        st.error(_tr("用户名或密码错误，或账号已停用（多次失败后需等待片刻）。",
                     "Wrong user name or password, or the account is disabled (after repeated failures, "
                     "wait a moment)."))
    else:
        ep = epoch(store, user.username)
        sign_in(user, ep, token=web_sessions.start(store, user, ep))
        st.rerun()


def require_page(action: str) -> User:
    """Guard a page: return the signed-in user allowed to ``action``; otherwise render and stop.

    Without a (valid, unexpired) session it renders the sign-in form; when the user's roles do not allow
    ``action`` it renders one access-denied message. In both cases nothing else of the page runs
    (``st.stop()``).
    """
    user = current_user()
    if user is None:
        sign_in_form()
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises
    if not auth.allowed(user.roles, action):
        from graph.core.vocab import ROLES

        needed = sorted(auth.PERMISSIONS.get(action, ()))
        needed_zh = "、".join(ROLES[r][0] if r in ROLES else r for r in needed)
        st.error(_tr(f"无权访问：此页面需要以下角色之一：{needed_zh}。",
                     f"Access denied: this page needs one of the roles: {', '.join(needed)}."))
        st.stop()
        raise AssertionError("unreachable")
    return user


def sign_out_button(user: User) -> None:
    """A small "signed in as … / sign out" control (for the sidebar)."""
    st.caption(_tr(f"已登录：{user.label}（{', '.join(user.roles)}）", f"Signed in: {user.label} ({', '.join(user.roles)})"))
    if st.button(_tr("退出登录", "Sign out"), key="fapiao_sign_out"):
        sign_out()
        st.rerun()


def cookie_script(handoff: str | None, lang: str, *, clear: bool = False, secure: bool = False) -> str:
    """The script that keeps the browser's cookies in step: the language cookie, and the session cookie
    set (``handoff``: a one-time code the server swaps for the HttpOnly cookie) or expired (``clear``).
    Only a code of the right shape and a language code reach the page, never the session itself."""
    attrs = "; Path=/; SameSite=Strict" + ("; Secure" if secure else "")
    lines = [f"document.cookie = '{LANG_COOKIE}={lang if lang in ('zh', 'en') else 'zh'}{attrs}; Max-Age=31536000';"]
    if clear:
        lines.append(f"fetch('{cookie_handoff.PATH}', {{method: 'DELETE', credentials: 'same-origin'}});")
    elif handoff and cookie_handoff.valid_code(handoff):
        lines.append(f"fetch('{cookie_handoff.PATH}', {{method: 'POST', body: '{handoff}', "
                     "credentials: 'same-origin'});")
    return "<script>" + "\n".join(lines) + "</script>"


def sync_cookies(lang: str) -> None:
    """Keep the browser's cookies in step with this session: the session cookie once after sign-in (or
    resuming), expired once after sign-out, and the language."""
    try:
        secure = str(st.context.url or "").startswith("https:")
    except (AttributeError, RuntimeError):
        secure = False
    token = st.session_state.get(TOKEN_KEY)
    clear = bool(st.session_state.get(CLEAR_KEY)) and not token
    wanted = str(token) if token else ("cleared" if clear else "")
    handoff = None
    if st.session_state.get(COOKIE_SENT_KEY) == wanted:
        clear = False     # already sent for this state
    elif token:
        handoff = cookie_handoff.offer(str(token))
    st.session_state[COOKIE_SENT_KEY] = wanted
    with st.sidebar:
        st.html(cookie_script(handoff, lang, clear=clear, secure=secure), unsafe_allow_javascript=True)

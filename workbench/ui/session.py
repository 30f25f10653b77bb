"""Sign-in state of one Streamlit session, and the guard every page calls first.

``st.session_state["fapiao_user"]`` holds the signed-in :class:`~workbench.auth.User` and
``st.session_state["fapiao_signed_in_at"]`` the sign-in time (epoch seconds). A session ends
``FAPIAO_SESSION_MINUTES`` after sign-in, when the user signs out, or when an administrator disables
the account.
"""

from __future__ import annotations

import time

import streamlit as st

from graph.core import settings
from graph.core.errors import FapiaoError
from workbench import auth
from workbench.auth import User
from workbench.users import DEMO_USERS, authenticate, get_user

USER_KEY = "fapiao_user"
SIGNED_IN_AT_KEY = "fapiao_signed_in_at"


def _tr(zh: str, en: str) -> str:
    from workbench.ui.i18n import tr

    return tr(zh, en)


def sign_in(user: User) -> None:
    """Mark ``user`` as signed in for this session (now)."""
    st.session_state[USER_KEY] = user
    st.session_state[SIGNED_IN_AT_KEY] = time.time()


def sign_out() -> None:
    """Forget the signed-in user."""
    st.session_state.pop(USER_KEY, None)
    st.session_state.pop(SIGNED_IN_AT_KEY, None)


def expired(signed_in_at: float, now: float | None = None) -> bool:
    """True when a session that started at ``signed_in_at`` is older than ``FAPIAO_SESSION_MINUTES``."""
    minutes = settings.get_int("FAPIAO_SESSION_MINUTES")
    return ((now if now is not None else time.time()) - signed_in_at) > minutes * 60


def current_user() -> User | None:
    """The signed-in user, or None when nobody is signed in or the session expired (it is then ended)."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User):
        return None
    try:
        started = float(st.session_state.get(SIGNED_IN_AT_KEY, 0.0))
    except (TypeError, ValueError):
        started = 0.0
    if expired(started):
        sign_out()
        st.session_state["fapiao_expired"] = True
        return None
    if user.disabled:
        sign_out()
        return None
    return user


def _still_enabled(user: User) -> bool:
    """Re-read the account: a user disabled since sign-in loses the session (unknown accounts pass)."""
    try:
        from workbench.ui.state import get_store

        stored = get_user(get_store(), user.username)
    except (FapiaoError, ImportError):
        return True
    return stored is None or not stored.disabled


def sign_in_form() -> None:
    """Render the sign-in form; on success store the user in the session and rerun."""
    st.subheader(_tr("登录", "Sign in"))
    if st.session_state.pop("fapiao_expired", False):
        st.info(_tr("会话已过期，请重新登录。", "Your session expired; please sign in again."))
    with st.form("fapiao_sign_in"):
        username = st.text_input(_tr("用户名", "User name"), key="fapiao_sign_in_name")
        password = st.text_input(_tr("密码", "Password"), type="password", key="fapiao_sign_in_password")
        submitted = st.form_submit_button(_tr("登录", "Sign in"))
    if settings.get_bool("FAPIAO_DEMO"):
        st.caption(_tr("演示账号：", "Demo accounts: ") + "; ".join(
            f"{name} / {pw}" for name, (pw, _) in DEMO_USERS.items()))
    if submitted:
        from workbench.ui.state import get_store

        user = authenticate(get_store(), username.strip(), password)
        if user is None:
            st.error(_tr("用户名或密码错误，或账号已停用。", "Wrong user name or password, or the account is disabled."))
        else:
            sign_in(user)
            st.rerun()


def require_page(action: str) -> User:
    """Guard a page: return the signed-in user allowed to ``action``; otherwise render and stop.

    Without a (valid, unexpired) session it renders the sign-in form; when the user's roles do not allow
    ``action`` it renders one access-denied message. In both cases nothing else of the page runs
    (``st.stop()``).
    """
    user = current_user()
    if user is not None and not _still_enabled(user):
        sign_out()
        user = None
    if user is None:
        sign_in_form()
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises
    if not auth.allowed(user.roles, action):
        needed = ", ".join(sorted(auth.PERMISSIONS.get(action, ())))
        st.error(_tr(f"无权访问：此页面需要以下角色之一：{needed}。",
                     f"Access denied: this page needs one of the roles: {needed}."))
        st.stop()
        raise AssertionError("unreachable")
    return user


def sign_out_button(user: User) -> None:
    """A small "signed in as … / sign out" control (for the sidebar)."""
    st.caption(_tr(f"已登录：{user.label}（{', '.join(user.roles)}）", f"Signed in: {user.label} ({', '.join(user.roles)})"))
    if st.button(_tr("退出登录", "Sign out"), key="fapiao_sign_out"):
        sign_out()
        st.rerun()

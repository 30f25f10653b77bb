"""The workbench router: ``streamlit run workbench/ui/app.py`` (or ``fapiao serve``).

Builds ``st.navigation`` from :data:`workbench.ui.navigation.PAGES`, showing each signed-in user only the
pages their roles allow (every page checks again with ``require_page``). Nobody signed in: only the
sign-in page. The sidebar carries the language switch (中文 default / English) and the user + sign out.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from graph.core.errors import FapiaoError
from workbench.auth import User, allowed
from workbench.ui.i18n import LANGS, tr
from workbench.ui.navigation import PAGES
from workbench.ui.session import current_user, require_page, sign_out

PAGES_DIR = Path(__file__).resolve().parent / "pages"
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"   # a local file: a material icon is a CDN fetch
ROLE_NAMES = {"investigator": ("调查员", "investigator"), "supervisor": ("审核主管", "supervisor"),
              "analyst": ("分析员", "analyst"), "admin": ("管理员", "admin")}

st.set_page_config(page_title="发票虚开团伙调查工作台", page_icon=str(ICON), layout="wide")

if "lang" not in st.session_state:
    st.session_state["lang"] = "zh"
st.sidebar.radio("语言 / Language", list(LANGS), format_func=lambda k: LANGS[k], key="lang", horizontal=True)


def _sign_in() -> None:
    """The sign-in page: engineer G's session view renders the form and stops until someone signs in."""
    require_page("view_overview")
    st.rerun()  # signed in during this run: rebuild the navigation with the user's pages


def _unread(user: User) -> int | None:
    """The sidebar's unread-alert count (None when the store cannot be read right now: the page says why)."""
    from workbench import alerts
    from workbench.ui.state import get_store

    try:
        return alerts.unread_count(get_store(), user)
    except FapiaoError:
        return None


user = current_user()
if user is None:
    pages = [st.Page(_sign_in, title=tr("登录", "Sign in"), icon=":material/login:", url_path="signin")]
else:
    pages = [
        st.Page(PAGES_DIR / spec.path, title=tr(spec.title_zh, spec.title_en), icon=spec.icon or None,
                url_path=spec.path.removesuffix(".py"), default=(spec.path == "overview.py"))
        for spec in PAGES
        if (PAGES_DIR / spec.path).is_file() and allowed(user.roles, spec.action)
    ]
    roles = "、".join(tr(*ROLE_NAMES.get(r, (r, r))) for r in user.roles)
    with st.sidebar:
        st.caption(tr("当前用户", "Signed in as"))
        st.markdown(f"**{user.display_name or user.username}** · {roles}")
        unread = _unread(user)
        if unread is not None:
            st.caption(tr(f"未读提醒：{unread}", f"Unread alerts: {unread}"))
        st.button(tr("退出登录", "Sign out"), on_click=sign_out, icon=":material/logout:")

st.sidebar.caption(tr("发票虚开团伙调查工作台", "Fapiao ring investigation workbench"))
if not pages:
    st.warning(tr("您的角色没有可访问的页面，请联系管理员。", "Your roles open no pages; ask an administrator."))
    st.stop()
st.navigation(pages).run()

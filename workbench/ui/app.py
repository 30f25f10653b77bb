"""The workbench router, run by Streamlit through ``workbench/ui/server.py`` (``fapiao serve``).

Builds ``st.navigation`` from :data:`workbench.ui.navigation.PAGES`, showing each signed-in user only the
pages their roles allow (every page checks again with ``require_page``). Every page's address exists
for everyone, so a link such as ``/rings?ring=…`` opened while signed out shows the sign-in form at that
address and, once signed in, the ring; a page the user's roles do not open says so instead of
"Page not found". The sidebar carries the language switch (中文 default / English, kept in a cookie
and ``?lang=``) and the user + sign out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from graph.core.errors import FapiaoError
from workbench.auth import User, allowed
from workbench.fmt import plain
from workbench.ui.i18n import LANGS, ROLES, term, tr
from workbench.ui.navigation import PAGES
from workbench.ui.session import LANG_COOKIE, cookie, current_user, require_page, sign_out, sync_cookies

PAGES_DIR = Path(__file__).resolve().parent / "screens"
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"   # a local file: a material icon is a CDN fetch
LOG = logging.getLogger("workbench.ui")

#: Streamlit's fixed English replaced by Chinese in the Chinese UI: the file uploader ("Upload", "200MB per file • CSV,
#: …") and the "No results" of a select box or multiselect whose typed text matches no option
ZH_WIDGET_CSS = """<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p { display: none; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after { content: "选择文件"; }
[data-testid="stFileUploaderDropzoneInstructions"] span { display: none; }
[data-testid="stFileUploaderDropzoneInstructions"] > div::after { content: "拖放文件到此处，或点击“选择文件”"; }
[role="listbox"][data-empty="true"] [role="option"] span { display: none; }
[role="listbox"][data-empty="true"]::after { content: "无匹配项"; display: block; padding: 0.5rem 1rem; opacity: 0.6; }
</style>"""

st.set_page_config(page_title="发票虚开团伙调查工作台", page_icon=str(ICON), layout="wide")

if "lang" not in st.session_state:   # a new session (refresh, new tab, link): the link's, then the browser's
    wanted = st.query_params.get("lang") or cookie(LANG_COOKIE) or "zh"
    st.session_state["lang"] = wanted if wanted in LANGS else "zh"


def _denied(action: str) -> Callable[[], None]:
    """A page the user's roles do not open, reached by its address: the page guard's access-denied message."""
    def page() -> None:
        require_page(action)
    page.__name__ = f"denied_{action}"
    return page


def _url(path: str) -> str:
    return path.removesuffix(".py")


def _unread(user: User) -> int | None:
    """The sidebar's unread-alert count (None when the store cannot be read right now: the page says why)."""
    from workbench import alerts
    from workbench.ui.state import get_store

    try:
        return alerts.unread_count(get_store(), user)
    except FapiaoError:
        return None


user = current_user()
specs = [spec for spec in PAGES if (PAGES_DIR / spec.path).is_file()]
if user is None:   # every address opens its page, whose guard shows the sign-in form and, once signed in, the page
    pages = [st.Page(PAGES_DIR / spec.path, title=tr("登录", "Sign in"), icon=":material/login:",
                     url_path=_url(spec.path), default=(spec.path == "overview.py"),
                     visibility="visible" if spec.path == "overview.py" else "hidden") for spec in specs]
else:
    pages = [
        st.Page(PAGES_DIR / spec.path, title=tr(spec.title_zh, spec.title_en), icon=spec.icon or None,
                url_path=_url(spec.path), default=(spec.path == "overview.py"))
        if allowed(user.roles, spec.action) else
        st.Page(_denied(spec.action), title=tr(spec.title_zh, spec.title_en), url_path=_url(spec.path), visibility="hidden")
        for spec in specs
    ]

if user is not None and not any(allowed(user.roles, spec.action) for spec in specs):
    st.warning(tr("您的角色没有可访问的页面，请联系管理员。", "Your roles open no pages; ask an administrator."))
    st.stop()
current = st.navigation(pages)
st.sidebar.radio("语言 / Language", list(LANGS), format_func=lambda k: LANGS[k], key="lang", horizontal=True)
if user is not None:
    roles = "、".join(term(ROLES, r) for r in user.roles)
    with st.sidebar:
        st.caption(tr("当前用户", "Signed in as"))
        st.markdown(f"**{plain(user.display_name or user.username)}** · {roles}")
        unread = _unread(user)
        if unread is not None:
            st.caption(tr(f"未读提醒：{unread}", f"Unread alerts: {unread}"))
        st.button(tr("退出登录", "Sign out"), on_click=sign_out, icon=":material/logout:")
st.sidebar.caption(tr("发票虚开团伙调查工作台", "Fapiao ring investigation workbench"))
sync_cookies(st.session_state["lang"])
if st.session_state["lang"] == "zh":
    st.html(ZH_WIDGET_CSS)   # Streamlit's file uploader has no text parameters: its English words, replaced
try:
    current.run()
except Exception:   # a fault no page expected: words and an incident number for the user, the traceback to the log
    incident = secrets.token_hex(4)
    LOG.exception("page /%s failed, incident %s", current.url_path, incident)
    st.error(tr(f"页面出错了，已记录（事件编号 {incident}）。请刷新页面重试；如果仍然出错，请把事件编号告诉管理员。",
                f"This page failed and the fault was logged (incident {incident}). Reload the page to try again; "
                f"if it fails again, give the incident number to an administrator."))

"""The saved-search box of a list page: name the current filters, reopen or delete one of your own.

The service (:mod:`workbench.saved_searches`) checks the permission, keeps each user's searches apart and
audits; this module only draws. Opening a search puts its parameters in the address and drops the filter
widgets' state, so the page seeds them from the address as it does for a link.
"""

from __future__ import annotations

import streamlit as st

from graph.core.errors import FapiaoError
from graph.store import Store
from workbench import saved_searches
from workbench.auth import User
from workbench.ui.flash import flash, show_flash
from workbench.ui.i18n import pick, tr
from workbench.ui.urlstate import Field, current


def _open(store: Store, user: User, search_id: str, fields: tuple[Field, ...]) -> None:
    found = saved_searches.open_search(store, user, search_id)
    for f in fields:
        st.session_state.pop(f.key, None)
        if f.param in st.query_params:
            del st.query_params[f.param]
    for param, text in found.params.items():
        st.query_params[param] = text
    flash(tr(f"已打开筛选“{found.name}”。", f"Opened the search “{found.name}”."))


def box(store: Store, user: User, page: str, fields: tuple[Field, ...]) -> None:
    """Draw the saved searches of ``page`` for ``user`` (in an expander) over the filter ``fields``."""
    show_flash()
    try:
        searches = saved_searches.mine(store, user, page)
    except FapiaoError as e:
        st.error(str(e))
        return
    with st.expander(tr(f"我的筛选（{len(searches)}）", f"My searches ({len(searches)})")):
        left, right = st.columns(2)
        with left.form(f"{page}_save_search", clear_on_submit=True, border=False):
            name = st.text_input(tr("将当前筛选保存为", "Save the current filters as"), key=f"{page}_search_name",
                                 placeholder=tr("例如：深圳扇形团伙", "e.g. Shenzhen fan hubs"))
            if st.form_submit_button(tr("保存", "Save")):
                try:
                    saved_searches.save(store, user, page, name, current(*fields))
                except FapiaoError as e:
                    st.error(str(e))
                else:
                    flash(tr(f"已保存筛选“{name.strip()}”。", f"Saved the search “{name.strip()}”."))
        if not searches:
            right.caption(tr("还没有保存的筛选。", "No saved searches yet."))
            return
        names = {s.search_id: s.name for s in searches}
        chosen = right.selectbox(tr("已保存的筛选", "Saved searches"), list(names), format_func=names.__getitem__,
                                 index=None, placeholder=pick(), key=f"{page}_search_pick")
        b1, b2 = right.columns(2)
        if b1.button(tr("打开", "Open"), key=f"{page}_search_open", disabled=chosen is None) and chosen:
            try:
                _open(store, user, chosen, fields)
            except FapiaoError as e:
                st.error(str(e))
        if b2.button(tr("删除", "Delete"), key=f"{page}_search_delete", disabled=chosen is None) and chosen:
            try:
                saved_searches.delete(store, user, chosen)
            except FapiaoError as e:
                st.error(str(e))
            else:
                st.session_state.pop(f"{page}_search_pick", None)
                flash(tr(f"已删除筛选“{names[chosen]}”。", f"Deleted the search “{names[chosen]}”."))

"""用户管理 Users (admins): accounts, roles, disabling."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from graph.core.errors import FapiaoError
from workbench import users
from workbench.auth import ROLES
from workbench.ui.exports import table
from workbench.ui.i18n import ROLES as ROLE_LABELS
from workbench.ui.i18n import pick, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("manage_users")
store = get_store()

st.title(tr("用户管理", "Users"))
accounts = users.list_users(store)
table(store, user, pd.DataFrame([{tr("用户名", "user"): u.username, tr("姓名", "name"): u.display_name,
                            tr("角色", "roles"): "、".join(term(ROLE_LABELS, r) for r in u.roles),
                            tr("状态", "status"): tr("停用", "disabled") if u.disabled else tr("启用", "active")}
                           for u in accounts]), "users", width="stretch")

with st.form("user_add", clear_on_submit=True):
    st.subheader(tr("新增用户", "Add user"))
    name = st.text_input(tr("用户名", "User name"))
    display = st.text_input(tr("姓名", "Display name"))
    roles = st.multiselect(tr("角色", "Roles"), ROLES, format_func=lambda r: term(ROLE_LABELS, r), placeholder=pick())
    pw = st.text_input(tr("初始密码（至少8位）", "Initial password (8+ characters)"), type="password")
    if st.form_submit_button(tr("创建", "Create")):
        try:
            users.create_user(store, name.strip(), pw, roles, display, actor=user)
            st.success(tr(f"已创建 {name}", f"Created {name}"))
        except FapiaoError as e:
            st.error(str(e))

if accounts:
    st.subheader(tr("修改用户", "Change a user"))
    who = st.selectbox(tr("用户", "User"), [u.username for u in accounts])
    target = next(u for u in accounts if u.username == who)
    new_roles = st.multiselect(tr("角色", "Roles"), ROLES, default=list(target.roles), key="user_roles",
                               format_func=lambda r: term(ROLE_LABELS, r), placeholder=pick())
    new_pw = st.text_input(tr("重置密码（至少8位）", "Reset password (8+ characters)"), type="password",
                           key="user_new_password")
    c1, c2, c3 = st.columns(3)
    try:
        if c1.button(tr("保存角色", "Save roles")):
            users.set_roles(store, who, new_roles, actor=user)
            st.rerun()
        if c3.button(tr("重置密码", "Reset password")):
            users.set_password(store, who, new_pw, actor=user)
            st.success(tr(f"已重置 {who} 的密码", f"Password reset for {who}"))
        if target.disabled:
            if c2.button(tr("启用", "Enable")):
                users.enable_user(store, who, actor=user)
                st.rerun()
        elif who != user.username and c2.button(tr("停用", "Disable")):
            users.disable_user(store, who, actor=user)
            st.rerun()
    except FapiaoError as e:
        st.error(str(e))

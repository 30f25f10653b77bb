"""审计日志 Audit trail: browse the hash-chained events (supervisors, admins) and check the chain."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import audit
from workbench.ui.exports import table
from workbench.ui.i18n import AUDIT_ACTIONS, ROLES, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("view_audit")
store = get_store()

st.title(tr("审计日志", "Audit trail"))
if st.button(tr("校验哈希链", "Verify the hash chain")):
    res = audit.verify_as(store, user)
    if res.ok:
        st.success(tr(f"审计日志完整：已校验 {res.checked} 条", f"Intact: {res.checked} events verified"))
    else:
        st.error(tr("审计日志被篡改：", "The audit trail was tampered with: ") + res.summary())
        for p in res.problems:
            st.text(p)

c1, c2, c3, c4 = st.columns(4)
actor = c1.text_input(tr("操作人", "Actor"))
action = c2.selectbox(tr("操作", "Action"), ["", *AUDIT_ACTIONS],
                      format_func=lambda a: tr("全部", "all") if not a else term(AUDIT_ACTIONS, a))
target = c3.text_input(tr("对象包含", "Target contains"))
limit = c4.number_input(tr("条数", "Rows"), min_value=10, max_value=5000, value=200, step=50)
rows = [audit.event_row(ev) for ev in audit.browse(store, user, actor=actor.strip() or None, action=action or None,
                                                            target=target.strip() or None, limit=int(limit))]
if rows:
    table(store, user, pd.DataFrame({
        tr("序号", "Seq"): [r["seq"] for r in rows], tr("时间", "Time"): [r["at"] for r in rows],
        tr("操作人", "Actor"): [r["actor"] for r in rows],
        tr("角色", "Role"): [term(ROLES, str(r["role"])) for r in rows],
        tr("操作", "Action"): [term(AUDIT_ACTIONS, str(r["action"])) for r in rows],
        tr("对象", "Target"): [r["target"] for r in rows], tr("详情", "Detail"): [r["detail"] for r in rows],
        tr("哈希", "Hash"): [r["hash"] for r in rows]}), "audit", width="stretch")
else:
    st.info(tr("没有符合条件的事件。", "No matching events."))

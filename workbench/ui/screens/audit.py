"""审计日志 Audit trail: browse the hash-chained events (supervisors, admins) and check the chain."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from graph.core.notes import en_text
from workbench import audit
from workbench.ui import urlstate
from workbench.ui.exports import table
from workbench.ui.i18n import AUDIT_ACTIONS, ROLES, lang, term, tr
from workbench.ui.paging import pager
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.urlstate import Field
from workbench.ui.views import audit_actor_zh, audit_detail_zh, audit_role_zh, audit_target_zh

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


def _action(text: str) -> str:
    if text not in AUDIT_ACTIONS:
        raise ValueError(text)
    return text


FILTERS = (Field("actor", "audit_actor", "", str.strip), Field("action", "audit_action", "", _action),
           Field("target", "audit_target", "", str.strip))
urlstate.seed(*FILTERS)   # in the address like the other pages' filters
c1, c2, c3 = st.columns(3)
actor = c1.text_input(tr("操作人", "Actor"), key="audit_actor").strip() or None
action = c2.selectbox(tr("操作", "Action"), ["", *AUDIT_ACTIONS], key="audit_action",
                      format_func=lambda a: tr("全部", "all") if not a else term(AUDIT_ACTIONS, a)) or None
target = c3.text_input(tr("对象包含", "Target contains"), key="audit_target").strip() or None
urlstate.publish(*FILTERS)
pg = pager("audit", audit.browse_count(store, user, actor=actor, action=action, target=target), (actor, action, target))
rows = [audit.event_row(ev) for ev in audit.browse_page(store, user, actor=actor, action=action, target=target,
                                                        skip=pg.skip, limit=pg.size)]
if rows:
    zh = lang() == "zh"
    shown = pd.DataFrame({
        tr("序号", "Seq"): [r["seq"] for r in rows], tr("时间", "Time"): [str(r["at"])[:16] for r in rows],
        tr("操作人", "Actor"): [audit_actor_zh(str(r["actor"])) if zh else r["actor"] for r in rows],
        tr("角色", "Role"): [audit_role_zh(str(r["role"])) if zh else term(ROLES, str(r["role"])) for r in rows],
        tr("操作", "Action"): [term(AUDIT_ACTIONS, str(r["action"])) for r in rows],
        tr("对象", "Target"): [audit_target_zh(str(r["target"])) if zh else r["target"] for r in rows],
        tr("详情", "Detail"): [audit_detail_zh(str(r["action"]), str(r["detail"])) if zh else en_text(str(r["detail"]))
                              for r in rows],
        tr("哈希", "Hash"): [r["hash"] for r in rows]})
    raw = pd.DataFrame({   # the file keeps the codes and text the hash chain covers
        tr("序号", "seq"): [r["seq"] for r in rows], tr("时间", "at"): [r["at"] for r in rows],
        tr("操作人", "actor"): [r["actor"] for r in rows], tr("角色代码", "role"): [r["role"] for r in rows],
        tr("操作代码", "action"): [r["action"] for r in rows], tr("对象", "target"): [r["target"] for r in rows],
        tr("详情（原文）", "detail"): [r["detail"] for r in rows], tr("哈希", "hash"): [r["hash"] for r in rows]})
    table(store, user, shown, "audit", export=raw, width="stretch")
else:
    st.info(tr("没有符合条件的事件。", "No matching events."))

"""申诉反馈 Appeals: record a taxpayer's appeal; supervisors review, answer and close; overdue ones surface."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from graph.core import settings, vocab
from workbench import appeals
from workbench.auth import allowed
from workbench.fmt import plain
from workbench.ui.exports import table
from workbench.ui.flash import flash, run_verb, show_flash
from workbench.ui.i18n import tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("record_appeal")
store = get_store()
show_flash()

STATUS_NAMES = vocab.APPEAL_STATUSES
OUTCOME_NAMES = vocab.APPEAL_OUTCOMES
AGAINST_NAMES = vocab.APPEAL_AGAINST


st.title(tr("申诉反馈", "Appeals"))
days = settings.get_int("FAPIAO_APPEAL_DAYS")
if allowed(user.roles, "review_appeal"):
    late = appeals.overdue_appeals(store, user)
    if late:
        st.warning(tr(f"{len(late)} 件申诉已超过 {days} 天答复期限：", f"{len(late)} appeals are past the {days}-day deadline: ")
                   + ", ".join(a.appeal_id for a in late))

all_appeals = appeals.list_appeals(store, user)
if all_appeals:
    table(store, user, pd.DataFrame([{tr("编号", "appeal"): a.appeal_id, tr("纳税人", "taxpayer"): a.tax_id,
                                tr("申诉对象", "against"): tr(*AGAINST_NAMES[a.against]),
                                tr("状态", "status"): tr(*STATUS_NAMES[a.status]),
                                tr("受理", "received"): a.received_at.strftime("%Y-%m-%d"),
                                tr("答复期限", "due"): a.due_at.strftime("%Y-%m-%d"),
                                tr("超期", "overdue"): "⚠" if a.overdue() else ""} for a in all_appeals]),
          "appeals", width="stretch")
else:
    st.info(tr("暂无申诉。", "No appeals yet."))

with st.expander(tr("登记申诉", "Record an appeal")), st.form("appeal_new", clear_on_submit=True):
    tax_id = st.text_input(tr("纳税人税号", "Taxpayer tax id"))
    against = st.selectbox(tr("申诉对象", "Against"), appeals.AGAINST, format_func=lambda k: tr(*AGAINST_NAMES[k]))
    case_id = st.text_input(tr("相关案件（可选）", "Case (optional)"))
    text = st.text_area(tr("申诉内容", "What the taxpayer says"))
    if st.form_submit_button(tr("登记", "Record")):
        made = run_verb(appeals.record_appeal, store, user, tax_id, text, against=against, case_id=case_id or None)
        if made is not None:   # rerun, so the list above shows it at once (it said 暂无申诉 until the next click)
            flash(tr(f"已登记 {made.appeal_id}，答复期限 {made.due_at:%Y-%m-%d}",
                     f"Recorded {made.appeal_id}, due {made.due_at:%Y-%m-%d}"))

if all_appeals:
    chosen = st.selectbox(tr("查看申诉", "Open appeal"), [a.appeal_id for a in all_appeals])
    a = appeals.get_appeal(store, user, chosen)
    st.subheader(plain(f"{a.appeal_id} · {a.tax_id} · {tr(*STATUS_NAMES[a.status])}"))
    for step in a.steps:
        st.markdown(f"- **{str(step.get('at', ''))[:16]}** {step.get('by', '')} · "
                    f"{tr(*STATUS_NAMES.get(str(step.get('action')), (str(step.get('action')),) * 2))}")
        if step.get("text"):
            st.text(str(step["text"]))
    if a.outcome:
        st.info(f"{tr('结论', 'Outcome')}: {tr(*OUTCOME_NAMES[a.outcome])}")
    if allowed(user.roles, "review_appeal") and a.status != "closed":
        c1, c2 = st.columns(2)
        if a.status == "received" and c1.button(tr("开始复核", "Start review")):
            if run_verb(appeals.start_review, store, user, a.appeal_id):
                st.rerun()
        if c2.button(tr("结束申诉", "Close appeal")) and run_verb(appeals.close_appeal, store, user, a.appeal_id):
            st.rerun()
        if a.status in ("received", "under_review"):
            with st.form("appeal_answer"):
                outcome = st.radio(tr("结论", "Outcome"), appeals.OUTCOMES, format_func=lambda k: tr(*OUTCOME_NAMES[k]),
                                   horizontal=True)
                answer = st.text_area(tr("答复内容", "Answer to the taxpayer"))
                if st.form_submit_button(tr("答复", "Answer")) and run_verb(
                        appeals.answer_appeal, store, user, a.appeal_id, answer, outcome=outcome):
                    st.rerun()

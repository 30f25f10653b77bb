"""案件 Cases: the cases you may see → one case: attachments, notes, status, assignee, dispositions, export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from graph.core import vocab
from workbench import cases, export
from workbench.auth import allowed
from workbench.fmt import plain
from workbench.ui.exports import table
from workbench.ui.flash import run_verb
from workbench.ui.i18n import tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.views import ring_titles
from workbench.users import list_users

user = require_page("view_cases")
store = get_store()

STATUS_NAMES = vocab.CASE_STATUSES
LABEL_NAMES = vocab.DISPOSITIONS


def _status(s: str) -> str:
    return tr(*STATUS_NAMES.get(s, (s, s)))


def _at(stamp: object) -> str:
    """A stored ISO time (``2026-12-03T22:45:10+08:00``) as ``2026-12-03 22:45`` (stored in Shanghai time)."""
    return str(stamp or "")[:16].replace("T", " ")


def _history(steps: list[dict[str, object]]) -> pd.DataFrame:
    """A case's history in words: when, who, what (status A → B, assigned to X), note."""
    def what(step: dict[str, object]) -> str:
        if "assignee" in step:
            return tr(f"指派给 {step['assignee']}", f"assigned to {step['assignee']}")
        before = _status(str(step["from"])) if step.get("from") else tr("立案", "opened")
        return f"{before} → {_status(str(step.get('to', '')))}" if step.get("from") else f"{before}（{_status(str(step.get('to', '')))}）"
    return pd.DataFrame({tr("时间", "When"): [_at(s.get("at")) for s in steps],
                         tr("操作人", "By"): [str(s.get("by", "")) for s in steps],
                         tr("变更", "Change"): [what(s) for s in steps],
                         tr("说明", "Note"): [str(s.get("note") or "") for s in steps]})


def _dispositions(recs: list[dict[str, object]]) -> pd.DataFrame:
    """A case's dispositions in words: taxpayer, outcome, who, when, note."""
    return pd.DataFrame({tr("税号", "Tax id"): [str(r.get("tax_id", "")) for r in recs],
                         tr("结论", "Outcome"): [tr(*LABEL_NAMES.get(str(r.get("label")), (str(r.get("label")),) * 2))
                                                for r in recs],
                         tr("记录人", "By"): [str(r.get("by", "")) for r in recs],
                         tr("时间", "When"): [_at(r.get("at")) for r in recs],
                         tr("说明", "Note"): [str(r.get("note") or "") for r in recs]})


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("，", ",").replace("\n", ",").split(",") if p.strip()]


st.title(tr("案件", "Cases"))
status_filter = st.selectbox(tr("状态", "Status"), ["", *cases.STATUSES],
                             format_func=lambda s: tr("全部", "all") if not s else _status(s))
visible = cases.list_cases(store, user, status=status_filter or None)
if visible:
    table(store, user, pd.DataFrame([{tr("案件号", "case"): c.case_id, tr("标题", "title"): c.title,
                                tr("状态", "status"): _status(c.status), tr("负责人", "owner"): c.owner,
                                tr("承办人", "assignee"): c.assignee or "-",
                                tr("纳税人", "taxpayers"): len(c.taxpayers), tr("立案", "opened"): _at(c.created_at)}
                               for c in visible]), "cases", width="stretch")
else:
    st.info(tr("没有您可查看的案件。", "No cases you may see."))

if allowed(user.roles, "open_case"):
    with st.expander(tr("新建案件", "New case")), st.form("case_new"):
        title = st.text_input(tr("标题", "Title"))
        tps = st.text_area(tr("纳税人税号（逗号分隔）", "Taxpayer tax ids (comma-separated)"))
        rings = st.text_input(tr("团伙编号", "Ring ids"))
        note = st.text_area(tr("备注", "Note"))
        if st.form_submit_button(tr("立案", "Open case")):
            created = run_verb(cases.open_case, store, user, title, taxpayers=_split(tps), rings=_split(rings), note=note)
            if created is not None:
                st.session_state["case_selected"] = created.case_id
                st.success(tr(f"已立案 {created.case_id}", f"Opened {created.case_id}"))

if allowed(user.roles, "open_case"):
    with st.expander(tr("从团伙或预警立案", "Open a case from a ring or an alert")):
        ring_ids = [r.ring_id for r in store.rings()]
        with st.form("case_from_ring"):
            rid = st.selectbox(tr("团伙", "Ring"), ring_ids)
            if st.form_submit_button(tr("按团伙立案", "Open from ring")) and rid:
                created = run_verb(cases.open_case_from_ring, store, user, rid)
                if created is not None:
                    st.session_state["case_selected"] = created.case_id
                    st.rerun()
        scores = store.scores().to_pylist()
        alerts = [r["tax_id"] for r in sorted(scores, key=lambda r: -r["score"]) if r["tier"] == "high"]
        with st.form("case_from_alert"):
            tid = st.selectbox(tr("高风险预警", "High-risk alert"), alerts)
            if st.form_submit_button(tr("按预警立案", "Open from alert")) and tid:
                created = run_verb(cases.open_case_from_taxpayer, store, user, tid, alert=True)
                if created is not None:
                    st.session_state["case_selected"] = created.case_id
                    st.rerun()

ids = [c.case_id for c in visible]
wanted = st.query_params.get("case") or st.session_state.get("case_selected")
if wanted and wanted not in ids:
    ids.insert(0, wanted)
if not ids:
    st.stop()
case_id = st.selectbox(tr("查看案件", "Open case"), ids, index=ids.index(wanted) if wanted in ids else 0)
# reading a case is audited once per selection, not on every rerun
if st.session_state.get("case_read") != case_id:
    case = run_verb(cases.get_case, store, user, case_id)
    if case is None:
        st.stop()
    st.session_state["case_read"] = case_id
else:
    loaded = store.record(cases.KIND, case_id)
    case = cases.Case.from_record(loaded) if loaded and cases.can_see(user, cases.Case.from_record(loaded)) else None
    if case is None:
        st.error(tr("无法查看此案件。", "You cannot see this case."))
        st.stop()

st.header(plain(f"{case.case_id} · {case.title}"))
c1, c2, c3, c4 = st.columns(4)
c1.metric(tr("状态", "Status"), _status(case.status))
c2.metric(tr("负责人", "Owner"), case.owner)
c3.metric(tr("承办人", "Assignee"), case.assignee or "-")
c4.metric(tr("纳税人", "Taxpayers"), len(case.taxpayers))

tab_att, tab_notes, tab_disp, tab_hist = st.tabs([tr("关联对象", "Attachments"), tr("备注", "Notes"),
                                                  tr("处理结论", "Dispositions"), tr("流转记录", "History")])
with tab_att:
    names = {r["tax_id"]: r["name"] for r in store.taxpayers(list(case.taxpayers)).to_pylist()} if case.taxpayers else {}
    table(store, user, pd.DataFrame({tr("税号", "tax id"): list(case.taxpayers),
                                     tr("名称", "name"): [names.get(t, "") for t in case.taxpayers]}), "case_taxpayers")
    found = [r for r in (store.ring(i) for i in case.rings) if r is not None]
    titles = ring_titles(store, found) if found else {}
    st.write(tr("团伙：", "Rings: ") + ("；".join(plain(f"{tr(*titles[i])}（{i}）") if i in titles else i
                                               for i in case.rings) or "-"))
    st.write(tr("发票：", "Invoices: ") + (", ".join(case.invoices[:50]) or "-"))
    if allowed(user.roles, "work_case"):
        with st.form("case_attach"):
            a_tps = st.text_input(tr("添加纳税人税号", "Add taxpayer tax ids"))
            a_inv = st.text_input(tr("添加发票", "Add invoice keys"))
            a_rings = st.text_input(tr("添加团伙", "Add ring ids"))
            if st.form_submit_button(tr("添加", "Attach")) and run_verb(
                    cases.attach, store, user, case.case_id, taxpayers=_split(a_tps), invoices=_split(a_inv),
                    rings=_split(a_rings)):
                st.rerun()
with tab_notes:
    for n in case.notes:
        st.markdown(f"**{n.get('by', '')}** · {_at(n.get('at'))}")
        st.text(str(n.get("text", "")))
    if allowed(user.roles, "work_case"):
        with st.form("case_note", clear_on_submit=True):
            text = st.text_area(tr("新备注", "New note"))
            if st.form_submit_button(tr("保存备注", "Save note")) and run_verb(cases.add_note, store, user, case.case_id, text):
                st.rerun()
with tab_disp:
    disp = cases.dispositions(store, case.case_id)
    if disp:
        table(store, user, _dispositions(disp), "case_dispositions", export=pd.DataFrame(disp))
    if allowed(user.roles, "record_disposition") and case.taxpayers:
        with st.form("case_disposition"):
            tid = st.selectbox(tr("纳税人", "Taxpayer"), list(case.taxpayers))
            label = st.radio(tr("结论", "Outcome"), cases.LABELS, format_func=lambda k: tr(*LABEL_NAMES[k]),
                             horizontal=True)
            dnote = st.text_input(tr("说明", "Note"))
            if st.form_submit_button(tr("记录结论", "Record disposition")) and run_verb(
                    cases.record_disposition, store, user, case.case_id, tid, label, note=dnote):
                st.rerun()
with tab_hist:
    table(store, user, _history(list(case.history)), "case_history", export=pd.DataFrame(list(case.history)))

if allowed(user.roles, "work_case") and cases.TRANSITIONS[case.status]:
    with st.form("case_status"):
        new_status = st.selectbox(tr("变更状态为", "Move to"), cases.TRANSITIONS[case.status], format_func=_status)
        snote = st.text_input(tr("说明", "Note"), key="status_note")
        if st.form_submit_button(tr("变更状态", "Change status")) and run_verb(
                cases.set_status, store, user, case.case_id, new_status, note=snote):
            st.rerun()

if allowed(user.roles, "assign_case"):
    candidates = [u.username for u in list_users(store)
                  if not u.disabled and {"investigator", "supervisor"}.intersection(u.roles)]
    if candidates:
        with st.form("case_assign"):
            who = st.selectbox(tr("指派给", "Assign to"), candidates)
            if st.form_submit_button(tr("指派", "Assign")) and run_verb(cases.assign_case, store, user, case.case_id, who):
                st.rerun()

if allowed(user.roles, "export_case"):
    if st.button(tr("导出案卷（ZIP）", "Export case file (ZIP)"), key="case_export"):
        with st.spinner(tr("正在生成案卷…", "Building the case file ...")), tempfile.TemporaryDirectory() as d:
            path = run_verb(export.export_case, store, user, case.case_id, Path(d))
            if path is not None:
                st.session_state["case_export_bytes"] = (path.name, path.read_bytes())
    ready = st.session_state.get("case_export_bytes")
    if ready:
        st.download_button(tr("下载案卷", "Download case file"), ready[1], file_name=ready[0], mime="application/zip")

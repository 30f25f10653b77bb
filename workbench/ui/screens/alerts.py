"""提醒 Alerts: the signed-in user's inbox (mark read, "assigned to me"), their subscription, and for
supervisors the alert rules. Renders only: every read and change is a :mod:`workbench.alerts` verb."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from graph.core import vocab
from workbench import alerts
from workbench.auth import ROLES, allowed
from workbench.fmt import plain, when
from workbench.ui.exports import table
from workbench.ui.flash import flash, run_verb, show_flash
from workbench.ui.i18n import ROLES as ROLE_LABELS
from workbench.ui.i18n import pick, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("view_alerts")
store = get_store()

st.title(tr("提醒", "Alerts"))
show_flash()

unread = alerts.unread_count(store, user)
st.metric(tr("未读提醒", "Unread alerts"), unread)
view = st.radio(tr("显示", "Show"), ("all", "unread", "assigned"), horizontal=True,
                format_func=lambda k: {"all": tr("全部", "all"), "unread": tr("未读", "unread"),
                                       "assigned": tr("指派给我", "assigned to me")}[k])
found = alerts.inbox(store, user, unread=view == "unread", assigned=view == "assigned", limit=500)
if found:
    table(store, user, pd.DataFrame([{
        tr("时间", "at"): when(a.created_at), tr("规则", "rule"): tr(*vocab.ALERT_RULES.get(a.rule, (a.rule, a.rule))),
        tr("提醒", "alert"): a.title, tr("状态", "standing"): tr(*vocab.ALERT_STANDING[a.standing]) if a.standing else "",
        tr("详情", "detail"): a.detail, tr("案件", "case"): a.case_id or "",
        tr("已读", "read"): "" if a.read_at is None else "✓", tr("编号", "id"): a.alert_id} for a in found]),
        "alerts", width="stretch", column_config={tr("状态", "standing"): st.column_config.TextColumn(width="medium")})
    if allowed(user.roles, "view_risk_queue") and any(a.rule == "first_run" for a in found):
        # the first run's summary names a few of its high-risk taxpayers: the queue holds them all
        st.page_link("screens/risk_queue.py", label=tr("首次检测的高风险纳税人：打开风险队列",
                                                      "The first run's high-risk taxpayers: open the risk queue"),
                     icon=":material/priority_high:")
    unread_ids = [a.alert_id for a in found if a.read_at is None]
    if unread_ids:
        picked = st.multiselect(tr("标为已读", "Mark read"), unread_ids, placeholder=pick())
        left, right = st.columns(2)
        if left.button(tr("标记所选为已读", "Mark selected read"), disabled=not picked):
            if run_verb(alerts.mark_read, store, user, picked) is not None:
                flash(tr(f"已读 {len(picked)} 条", f"{len(picked)} marked read"))
        if right.button(tr("全部标为已读", "Mark all read")):
            n = run_verb(alerts.mark_read, store, user)
            if n is not None:
                flash(tr(f"已读 {n} 条", f"{n} marked read"))
else:
    st.info(tr("没有提醒。", "No alerts."))

with st.expander(tr("我的订阅：关注的纳税人、邮件、Webhook", "My subscription: watched taxpayers, e-mail, webhook")):
    sub = alerts.subscription(store, user.username)
    if sub.watch:
        st.caption(tr(f"关注 {len(sub.watch)} 家：", f"Watching {len(sub.watch)}: ") + plain("、".join(sub.watch)))
    else:
        st.caption(tr("尚未关注任何纳税人；关注后，其发票、评分或团伙有变化时会提醒您。",
                      "You watch no taxpayer yet; once you do, changes to its invoices, score or rings raise alerts."))
    with st.form("alert_subscription"):
        add = st.text_input(tr("关注纳税人（税号，逗号分隔）", "Watch taxpayers (tax ids, comma-separated)"))
        drop = st.multiselect(tr("取消关注", "Stop watching"), list(sub.watch), placeholder=pick())
        muted = st.multiselect(tr("不接收的规则", "Muted rules"), list(vocab.ALERT_RULES), default=list(sub.muted),
                               format_func=lambda k: tr(*vocab.ALERT_RULES[k]), placeholder=pick())
        email = st.text_input(tr("邮件地址（留空则不发邮件）", "E-mail (empty: none)"), value=sub.email or "")
        hook = st.text_input(tr("Webhook 地址（留空则不推送）", "Webhook URL (empty: none)"), value=sub.webhook_url or "")
        if st.form_submit_button(tr("保存", "Save")):
            got = run_verb(alerts.subscribe, store, user,
                           watch=tuple(t.strip() for t in add.split(",") if t.strip()), unwatch=tuple(drop),
                           muted=tuple(muted), email=email, webhook_url=hook)
            if got is not None:
                secret = got[1]
                if secret:
                    st.warning(tr(f"Webhook 密钥（只显示这一次，请交给接收方）：{secret}",
                                  f"Webhook secret (shown once, give it to the receiver): {secret}"))
                else:
                    flash(tr("订阅已保存", "Subscription saved"))

if allowed(user.roles, "edit_alert_rules"):
    with st.expander(tr("提醒规则（主管）", "Alert rules (supervisors)")):
        current = alerts.rules(store)
        table(store, user, pd.DataFrame([{
            tr("规则", "rule"): tr(*vocab.ALERT_RULES[n]), tr("启用", "on"): "✓" if r.enabled else "",
            tr("接收角色", "roles"): "、".join(term(ROLE_LABELS, x) for x in r.roles),
            tr("阈值", "thresholds"): " ".join(f"{k}={v}" for k, v in r.params.items())} for n, r in current.items()]),
            "alert_rules", width="stretch")
        name = st.selectbox(tr("修改规则", "Change rule"), list(current), format_func=lambda k: tr(*vocab.ALERT_RULES[k]))
        rule = current[name]
        with st.form(f"alert_rule_{name}"):
            on = st.checkbox(tr("启用", "Enabled"), value=rule.enabled)
            roles = st.multiselect(tr("接收全部此类提醒的角色", "Roles receiving every alert of it"), list(ROLES),
                                   default=list(rule.roles), placeholder=pick())
            params = {k: st.number_input(k, min_value=0.0, value=float(v)) for k, v in rule.params.items()}
            if st.form_submit_button(tr("保存规则", "Save rule")):
                if run_verb(alerts.set_rule, store, user, name, enabled=on, roles=tuple(roles), params=params) is not None:
                    flash(tr("规则已保存", "Rule saved"))

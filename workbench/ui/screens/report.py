"""期间报告 Period report: pick the days, make the report (HTML shown here, HTML and PDF to download).

Supervisors and analysts only (``make_report``); :func:`workbench.report.make` checks the role again and
records every report it makes in the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from graph.core.errors import FapiaoError
from graph.core.schema import TZ
from workbench.report import make
from workbench.report.figures import Period
from workbench.ui import urlstate
from workbench.ui.flash import run_verb
from workbench.ui.i18n import tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.urlstate import Field
from workbench.ui.views import default_last_day

user = require_page("make_report")
store = get_store()

st.title(tr("期间报告", "Period report"))
st.caption(tr("期末风险等级分布及其与上一同长期间相比的变化、重点团伙、立案与结案、提醒；报告为中文，可打印或发送。",
              "Risk tiers at the period's end and their change since the previous period of the same length, top "
              "rings, cases opened and closed, alerts raised. The report is in Chinese, ready to print or send."))
last_day = default_last_day(store, datetime.now(ZoneInfo(TZ)).date())
FIELDS = (Field("from", "report_from", last_day - timedelta(days=29), urlstate.day, date.isoformat),
          Field("to", "report_to", last_day, urlstate.day, date.isoformat))
urlstate.seed(*FIELDS)
left, right = st.columns(2)
first = left.date_input(tr("开始日期", "First day"), key="report_from")
last = right.date_input(tr("结束日期（含）", "Last day (included)"), key="report_to")
urlstate.publish(*FIELDS)
if not isinstance(first, date) or not isinstance(last, date):
    st.stop()
try:
    period = Period(first, last)
except FapiaoError as e:
    st.error(tr("结束日期早于开始日期。", "The last day is before the first day.") + f" {e}")
    st.stop()
name = f"期间报告-{period.first}-{period.last}"

made = st.session_state.get("report_html")
if st.button(tr("生成报告", "Make the report"), type="primary"):
    with st.spinner(tr("正在生成报告…", "Making the report…")):
        result = run_verb(make, store, user, period, "html")
    if result is not None:
        made = st.session_state["report_html"] = (period, result[1])
if isinstance(made, tuple) and made[0] == period:
    html_bytes: bytes = made[1]
    a, b, _ = st.columns([1, 1, 3])
    a.download_button(tr("下载 HTML", "Download HTML"), html_bytes, file_name=f"{name}.html", mime="text/html")
    pdf = st.session_state.get("report_pdf")
    if b.button(tr("生成 PDF", "Make PDF")):
        with st.spinner(tr("正在生成 PDF…", "Printing the PDF…")):
            result = run_verb(make, store, user, period, "pdf")
        if result is not None:
            pdf = st.session_state["report_pdf"] = (period, result[1])
    if isinstance(pdf, tuple) and pdf[0] == period:
        b.download_button(tr("下载 PDF", "Download PDF"), pdf[1], file_name=f"{name}.pdf", mime="application/pdf")
    st.iframe(html_bytes.decode("utf-8"), height=1100)

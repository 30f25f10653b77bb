"""总览 Overview: totals, tier distribution, invoices per month, what is new since the previous run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.fmt import money, when
from workbench.ui.charts import month_frame, monthly_chart, score_columns, tier_chart
from workbench.ui.exports import table
from workbench.ui.i18n import RING_KINDS, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.views import news, overview, ring_titles

user = require_page("view_overview")
store = get_store()


@st.cache_data(ttl=3600, show_spinner=False, max_entries=4)
def _invoice_summary(uri: str, n_invoices: int, n_runs: int) -> tuple[int, pd.DataFrame]:
    """Total amount and the monthly series, aggregated by the store (cached per store and data size; reading
    every invoice for this took 0.5-0.7 s of the first sign-in at 100,000 invoices)."""
    per_month = month_frame(get_store().invoice_months())
    return int(per_month["fen"].sum()) if not per_month.empty else 0, per_month


st.title(tr("总览", "Overview"))
view = overview(store)
with st.spinner(tr("正在汇总发票…", "Summarising invoices…")):
    total_fen, per_month = _invoice_summary(store.uri, view.invoices, store.counts().runs)
c1, c2, c3, c4 = st.columns(4)
c1.metric(tr("纳税人", "Taxpayers"), f"{view.taxpayers:,}")
c2.metric(tr("发票", "Invoices"), f"{view.invoices:,}")
c3.metric(tr("价税合计", "Total amount"), money(total_fen))
c4.metric(tr("可疑团伙", "Suspicious rings"), f"{view.rings:,}")

left, right = st.columns(2)
with left:
    st.subheader(tr("风险等级分布", "Risk tiers"))
    if view.latest is None:
        st.info(tr("尚未运行检测。管理员可在“数据导入”页运行检测。",
                   "No detection run yet. An administrator can run detection on the Import page."))
    else:
        st.altair_chart(tier_chart(view.tiers), width="stretch")
        st.caption(tr(f"最近一次检测：{when(view.latest.created_at)}（{view.latest.run_id}）",
                      f"Latest detection run: {when(view.latest.created_at)} ({view.latest.run_id})"))
with right:
    st.subheader(tr("每月发票", "Invoices per month"))
    if per_month.empty:
        st.info(tr("还没有发票。", "No invoices yet."))
    else:
        measure = st.radio(tr("指标", "Measure"), ["count", "yuan"], horizontal=True,
                           format_func=lambda m: tr("张数", "count") if m == "count" else tr("金额", "amount"))
        st.altair_chart(monthly_chart(per_month, measure=measure), width="stretch")

st.subheader(tr("与上一次检测相比的新发现", "New since the previous run"))
found = news(store)
if found is None:
    st.caption(tr("需要至少两次检测才能比较。", "Two detection runs are needed to compare."))
else:
    new_high, new_rings = found.new_high, found.new_rings
    a, b = st.columns(2)
    a.metric(tr("新增高风险纳税人", "New high-risk taxpayers"), len(new_high))
    b.metric(tr("新增团伙", "New rings"), len(new_rings))
    if new_high:
        names = {row["tax_id"]: row["name"] for row in store.taxpayers(new_high[:500]).to_pylist()}
        table(store, user, pd.DataFrame({tr("税号", "Tax id"): new_high[:500],
                                         tr("名称", "Name"): [names.get(t, "") for t in new_high[:500]]}),
              "new_high", a, height=260)
    if new_rings:
        titles = ring_titles(store, new_rings)
        table(store, user, pd.DataFrame({
            tr("团伙", "Ring"): [tr(*titles[r.ring_id]) for r in new_rings],
            tr("类型", "Kind"): [term(RING_KINDS, r.kind) for r in new_rings],
            tr("成员数", "Members"): [len(r.members) for r in new_rings],
            tr("评分", "Score"): [round(r.score, 3) for r in new_rings],
        }), "new_rings", b, height=260, column_config=score_columns(tr("评分", "Score")))

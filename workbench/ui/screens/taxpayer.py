"""纳税人画像 Taxpayer profile: facts, score and reasons (+ override), invoices in and out, top
counterparties, timeline, identifiers shared with other taxpayers."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from graph.core.errors import FapiaoError
from graph.core.regions import region_name
from graph.core.schema import TZ as TZ_NAME
from graph.lists import SIDES
from workbench.auth import allowed
from workbench.fmt import day, money, plain
from workbench.ui import urlstate
from workbench.ui.charts import invoice_frame, monthly, monthly_chart, yuan_columns
from workbench.ui.exports import invoice_rows, table
from workbench.ui.flash import flash, show_flash
from workbench.ui.i18n import IDENTIFIER_KINDS, TAXPAYER_STATUSES, TIER_NAMES, term, tr
from workbench.ui.paging import pager
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.urlstate import Field
from workbench.ui.views import counterparties, ring_titles, rings_of, shared_identifiers

user = require_page("view_taxpayer")
store = get_store()
show_flash()
INVOICE_LIMIT = 5000
TZ = ZoneInfo(TZ_NAME)


@st.cache_data(ttl=600, show_spinner=False)
def _identifier_index(uri: str, n_identifiers: int) -> pa.Table:
    """Every (tax_id, kind, value) link, for finding who shares an identifier (cached per store size)."""
    return get_store().identifiers()


st.title(tr("纳税人画像", "Taxpayer profile"))
query = st.text_input(tr("税号或名称", "Tax id or name"), value=st.query_params.get("tax_id", ""),
                      key="tp_query").strip()
if not query:
    st.info(tr("输入税号或名称片段。", "Type a tax id or part of a name."))
    st.stop()
tp = store.taxpayer(query)
if tp is None:
    hits = store.search(query, limit=20)
    if not hits:
        st.warning(tr(f"没有找到“{query}”。", f"Nothing matches “{query}”."))
        st.stop()
    pick = st.selectbox(tr("选择纳税人", "Pick a taxpayer"), hits, format_func=lambda t: f"{t.name} · {t.tax_id}")
    tp = store.taxpayer(pick.tax_id)
    if tp is None:
        st.stop()

st.header(plain(tp.name))
st.caption(tp.tax_id)
facts = {
    tr("登记日期", "Registered"): day(tp.registered_on),
    tr("行业", "Industry"): tp.industry or "",
    tr("地区", "Region"): region_name(tp.region),
    tr("开票限额", "Invoice limit"): money(tp.invoice_limit_fen) if tp.invoice_limit_fen is not None else "",
    tr("状态", "Status"): term(TAXPAYER_STATUSES, tp.status) if tp.status else "",
}
# the facts in a smaller type than a metric's, so an industry or a limit in 万 is not cut to "道路运…"
st.html("<style>.st-key-tp_facts [data-testid='stMetricValue'] { font-size: 1.35rem; }</style>")
cols = st.container(key="tp_facts").columns([2, 3, 3, 3, 2])
for col, (label, value) in zip(cols, facts.items(), strict=True):
    col.metric(label, value or "—")
st.page_link("screens/explorer.py", label=tr("在网络探索中打开", "Open in the network explorer"),
             icon=":material/travel_explore:", query_params={"tax_id": tp.tax_id})

member_of = rings_of(store, tp.tax_id)
titles = ring_titles(store, member_of[:8])
for ring in member_of[:8]:
    st.page_link("screens/rings.py", label=tr(f"所在团伙：{titles[ring.ring_id][0]} · 评分 {ring.score:.2f}",
                                            f"Member of ring: {titles[ring.ring_id][1]} · score {ring.score:.2f}"),
                 icon=":material/hub:", query_params={"ring": ring.ring_id}, help=ring.ring_id)

# --- score, reasons, override ------------------------------------------------------------------------
st.subheader(tr("风险评分", "Risk score"))
if not store.runs():
    st.caption(tr("尚未运行检测。", "No detection run yet."))
else:
    from workbench.overrides import effective_scores, history

    scores = effective_scores(store)
    mine = scores[scores["tax_id"] == tp.tax_id]
    if mine.empty:
        st.caption(tr("本次检测未对该纳税人评分。", "Not scored in the latest run."))
    else:
        row = mine.iloc[0]
        a, b, c = st.columns(3)
        a.metric(tr("评分", "Score"), f"{row['score']:.2f}")
        b.metric(tr("当前等级", "Effective tier"), term(TIER_NAMES, row["tier"]))
        c.metric(tr("模型等级", "Model tier"), term(TIER_NAMES, row["model_tier"]))
        if row["overridden"]:
            st.info(tr(f"等级已由 {row['override_by']} 调整：{row['override_reason']}",
                       f"Tier overridden by {row['override_by']}: {row['override_reason']}"))
        if row.get("assignee"):
            st.caption(tr(f"承办调查员：{row['assignee']}", f"Assigned investigator: {row['assignee']}"))
        reasons = json.loads(row["reasons"]) if isinstance(row["reasons"], str) and row["reasons"] else []
        for r in reasons:
            st.markdown(f"- {r}")
        with st.expander(tr("特征值", "Features")):
            feats = json.loads(row["features"]) if isinstance(row["features"], str) and row["features"] else {}
            table(store, user, pd.DataFrame({tr("特征", "feature"): list(feats),
                                             tr("值", "value"): [str(v) for v in feats.values()]}), "features")
        if allowed(user.roles, "override_tier"):
            with st.expander(tr("调整风险等级", "Override the tier")), st.form("tp_override"):
                new_tier = st.selectbox(tr("新等级", "New tier"),   # not the tier in force: a no-op
                                        [t for t in ("high", "medium", "low") if t != row["tier"]],
                                        format_func=lambda t: term(TIER_NAMES, t))
                reason = st.text_area(tr("理由（必填）", "Reason (required)"))
                if st.form_submit_button(tr("保存调整", "Save override")):
                    from workbench.overrides import override_tier

                    try:
                        if not reason.strip():
                            raise FapiaoError(tr("请填写调整理由。", "Please write a reason."))
                        override_tier(store, user, tp.tax_id, new_tier, reason.strip())
                    except FapiaoError as e:
                        st.error(str(e))
                    else:
                        flash(tr("已保存调整并记入审计日志。", "Override saved and audited."))
        past = history(store, tp.tax_id)
        if past:
            with st.expander(tr(f"调整与分派记录（{len(past)}）", f"Overrides and assignments ({len(past)})")):
                table(store, user, pd.DataFrame(past), "overrides")

# --- invoices ---------------------------------------------------------------------------------------
# Counts, totals and the two invoice tables come from the store a page at a time (Store.invoices_of_page /
# invoices_of_tally); the monthly chart and the top counterparties are drawn from the latest INVOICE_LIMIT.
st.subheader(tr("发票往来", "Invoices"))
(n_out, fen_out), (n_in, fen_in) = (store.invoices_of_tally(tp.tax_id, side) for side in SIDES)
if n_out + n_in == 0:
    st.caption(tr("没有发票。", "No invoices."))
    st.stop()
m1, m2 = st.columns(2)
m1.metric(tr("开出发票", "Issued"), f"{n_out:,}", help=money(fen_out))
m2.metric(tr("取得发票", "Received"), f"{n_in:,}", help=money(fen_in))
inv = store.invoices_of(tp.tax_id, limit=INVOICE_LIMIT)
if inv.num_rows >= INVOICE_LIMIT:
    st.caption(tr(f"图表和主要交易对手按最近 {INVOICE_LIMIT:,} 张发票计算。",
                  f"The chart and the top counterparties use the latest {INVOICE_LIMIT:,} invoices."))
is_out = pc.equal(inv.column("seller_tax_id"), tp.tax_id)
direction = pc.if_else(is_out, tr("销项（开出）", "out (issued)"), tr("进项（取得）", "in (received)"))
st.altair_chart(monthly_chart(monthly(inv.append_column("direction", direction), by="direction"),
                              colour="direction", measure="yuan"), width="stretch")

# --- top counterparties -------------------------------------------------------------------------------
cp = counterparties(inv, tp.tax_id, limit=15)
st.subheader(tr("主要交易对手", "Top counterparties"))
cp_frame = pd.DataFrame({
    tr("税号", "Tax id"): [c.tax_id for c in cp], tr("名称", "Name"): [c.name for c in cp],
    tr("方向", "Direction"): [tr("销项（开出）", "out (issued)") if c.direction == "out" else tr("进项（取得）", "in (received)")
                             for c in cp],
    tr("张数", "Invoices"): [c.invoices for c in cp], tr("金额合计（元）", "Total (yuan)"): [c.fen / 100 for c in cp]})
table(store, user, cp_frame, "counterparties", export=pd.DataFrame(
    {"tax_id": [c.tax_id for c in cp], "name": [c.name for c in cp],
     "direction": [tr("销项", "out") if c.direction == "out" else tr("进项", "in") for c in cp],
     "invoices": [c.invoices for c in cp], "total_fen": [c.fen for c in cp]}),
      column_config=yuan_columns(tr("金额合计（元）", "Total (yuan)")))

today = date.today()
INVOICE_FILTERS = (
    Field("inv_min", "tp_inv_min", 0, urlstate.bounded(0, 10**12, int)),
    Field("inv_dated", "tp_inv_dated", False, urlstate.flag, urlstate.dump_flag),
)
INVOICE_DATES = Field("inv_dates", "tp_inv_dates", (today - timedelta(days=365), today), urlstate.days,
                      urlstate.dump_days)
urlstate.seed(*INVOICE_FILTERS)
st.subheader(tr("发票明细", "Invoice list"))
f1, f2 = st.columns(2)
min_yuan = f1.number_input(tr("最低价税合计（元）", "Minimum invoice total (yuan)"), min_value=0, max_value=10**12,
                           step=1000, key="tp_inv_min")
dates: tuple[date, ...] = ()
if f2.toggle(tr("限定开票日期", "Limit issue dates"), key="tp_inv_dated"):
    dates = tuple(f2.date_input(tr("日期范围", "Date range"), urlstate.initial(INVOICE_DATES), key="tp_inv_dates"))
urlstate.publish(*INVOICE_FILTERS, INVOICE_DATES)
start = datetime.combine(dates[0], time(), TZ) if dates else None
end = datetime.combine(dates[-1] + timedelta(days=1), time(), TZ) if len(dates) == 2 else None
min_fen, tax_id = int(min_yuan) * 100, tp.tax_id
tab_out, tab_in = st.tabs([tr(f"开出的发票（{n_out:,}）", f"Issued ({n_out:,})"),
                           tr(f"取得的发票（{n_in:,}）", f"Received ({n_in:,})")])
for tab, side, what, param in ((tab_out, "issued", "invoices_issued", "out_"), (tab_in, "received", "invoices_received", "in_")):
    count, fen = store.invoices_of_tally(tax_id, side, start=start, end=end, min_fen=min_fen)
    if start or min_fen:
        tab.caption(tr(f"筛选后 {count:,} 张，合计 {money(fen)}", f"{count:,} invoices after the filters, {money(fen)}"))
    pg = pager(f"tp_{what}", count, (tax_id, start, end, min_fen), tab, param=param)
    rows = store.invoices_of_page(tax_id, side, start=start, end=end, min_fen=min_fen, skip=pg.skip, limit=pg.size)

    def _export(side: str = side) -> pd.DataFrame:
        """Every invoice of this side the filters keep, read when an export is asked for."""
        return invoice_rows(store.invoices_of_page(tax_id, side, start=start, end=end, min_fen=min_fen))

    table(store, user, invoice_frame(rows), what, tab, export=_export if count else None,
          signature=repr((tax_id, side, start, end, min_fen, count)), height=320)

# --- shared identifiers -------------------------------------------------------------------------------
st.subheader(tr("与其他纳税人共用的身份信息", "Identifiers shared with other taxpayers"))
if not tp.identifiers:
    st.caption(tr("没有登记身份信息。", "No identifiers on record."))
else:
    shared = shared_identifiers(_identifier_index(store.uri, store.counts().identifiers), tp.tax_id, tp.identifiers)
    id_frame = pd.DataFrame({
        tr("类型", "Kind"): [term(IDENTIFIER_KINDS, s.kind) for s in shared], tr("值", "Value"): [s.value for s in shared],
        tr("共用者数", "Shared by"): [len(s.others) for s in shared],
        tr("共用的纳税人", "Other taxpayers"): ["、".join(s.others[:20]) for s in shared]})
    table(store, user, id_frame, "shared_identifiers")

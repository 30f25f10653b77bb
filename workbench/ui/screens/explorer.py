"""网络探索 Network explorer: search a taxpayer, draw its invoice neighbourhood, expand nodes, see the
same invoices as a timeline and a table. Large views are capped (most relevant first) and laid out in Python."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
import streamlit as st

from graph.core.model import Taxpayer
from graph.core.schema import TZ
from workbench import netgraph
from workbench.fmt import money
from workbench.ui import netview
from workbench.ui.charts import invoice_frame, monthly, monthly_chart, tier_map
from workbench.ui.exports import invoice_rows, table
from workbench.ui.i18n import lang, pick, tr
from workbench.ui.paging import pager
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.views import explore, invoices_in_view, ring_titles, rings_of

user = require_page("view_network")
store = get_store()
_TZ = ZoneInfo(TZ)
INVOICE_CAP = 20_000  # per focus node, newest first: hubs can have hundreds of thousands
st.title(tr("网络探索", "Network explorer"))

# --- pick the centre ------------------------------------------------------------------------------
query = st.text_input(tr("搜索纳税人（名称片段或税号）", "Find a taxpayer (name fragment or tax id)"),
                      value=st.query_params.get("tax_id", ""), key="ex_query").strip()
if not query:
    st.info(tr("输入名称片段（如“贸易”）或税号开头。", "Type part of a name or the start of a tax id."))
    st.stop()
found = store.search(query, limit=20)
if not found:
    st.warning(tr(f"没有找到与“{query}”匹配的纳税人。", f"No taxpayer matches “{query}”."))
    st.stop()
centre: Taxpayer = st.selectbox(tr("中心纳税人", "Centre taxpayer"), found, key="ex_centre",
                                format_func=lambda t: f"{t.name} · {t.tax_id}")

member_of = rings_of(store, centre.tax_id)
if member_of:
    st.markdown(f"**{tr('所在团伙', 'Member of rings')}**")
    titles = ring_titles(store, member_of[:8])
    for ring in member_of[:8]:   # one per line: a ring's title is long, four columns cut it off
        st.page_link(
            "screens/rings.py", label=tr(f"{titles[ring.ring_id][0]} · 评分 {ring.score:.2f}",
                                       f"{titles[ring.ring_id][1]} · score {ring.score:.2f}"),
            icon=":material/hub:", query_params={"ring": ring.ring_id}, help=ring.ring_id)
    if len(member_of) > 8:
        st.caption(tr(f"另有 {len(member_of) - 8} 个团伙，见纳税人画像。",
                      f"{len(member_of) - 8} more rings: see the taxpayer profile."))

# --- filters -------------------------------------------------------------------------------------
with st.container(border=True):
    c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
    hops = c1.slider(tr("跳数", "Hops"), 1, 3, 1, key="ex_hops")
    use_window = c2.toggle(tr("限定开票日期", "Limit issue dates"), key="ex_use_window")
    window: tuple[date, ...] = ()
    if use_window:
        today = date.today()
        window = tuple(c2.date_input(tr("日期范围", "Date range"), (today - timedelta(days=365), today),
                                     key="ex_window"))
    min_text = c3.text_input(tr("最小单张金额（元）", "Minimum invoice total (yuan)"), "0", key="ex_min")
    cap = c4.number_input(tr("最多节点", "Node cap"), 2, 3000, 400, step=50, key="ex_cap")
try:
    min_fen = int(Decimal(min_text or "0") * 100)
except InvalidOperation:
    st.error(tr(f"金额“{min_text}”无法识别。", f"Cannot read the amount “{min_text}”."))
    st.stop()
start = datetime.combine(window[0], time(), _TZ) if len(window) >= 1 else None
end = datetime.combine(window[-1] + timedelta(days=1), time(), _TZ) if len(window) == 2 else None

# --- the view: centre + expanded nodes ---------------------------------------------------------------
expanded_key = f"ex_expanded_{centre.tax_id}"
expanded: list[str] = st.session_state.setdefault(expanded_key, [])
focus = [centre.tax_id, *expanded]
view = explore(store, focus, hops=hops, start=start, end=end, min_fen=min_fen, cap=int(cap))
nodes_by_id, dropped = view.nodes, view.dropped

tiers = tier_map(store.scores()) if store.runs() else {}
nodes = [netgraph.taxpayer_node(t, tiers.get(t.tax_id), hops=view.hops.get(t.tax_id), lang=lang()) for t in nodes_by_id.values()]
edges = netgraph.edges_from_table(view.edges)
if dropped:
    st.warning(tr(f"网络较大：按距离和往来金额保留了最相关的 {len(nodes):,} 个节点，省略了 {dropped:,} 个。"
                  "可提高最小金额、缩小日期范围或减少跳数。",
                  f"Large network: kept the {len(nodes):,} most relevant nodes (closest, largest volume) and cut "
                  f"{dropped:,}. Raise the minimum amount, narrow the dates or use fewer hops."))
st.caption(tr(f"{len(nodes):,} 个纳税人，{len(edges):,} 条开票关系。颜色=风险等级（红高、橙中、绿低、灰未评分），"
              "线宽=金额，粗边框=中心与展开的节点。",
              f"{len(nodes):,} taxpayers, {len(edges):,} invoice links. Colour = tier (red high, orange medium, "
              "green low, grey unscored), width = amount, thick border = centre and expanded nodes."))
netview.show(nodes, edges, height=620, highlight=focus)

ex1, ex2 = st.columns([3, 1])
candidates = [t for t in nodes_by_id if t not in focus]
to_expand = ex1.selectbox(tr("展开节点（加入其关联网络）", "Expand a node (add its neighbourhood)"), candidates,
                          index=None, key=f"ex_pick_{centre.tax_id}",
                          format_func=lambda t: f"{nodes_by_id[t].name} · {t}", placeholder=pick())
if ex1.button(tr("展开", "Expand"), disabled=to_expand is None) and to_expand:
    expanded.append(to_expand)
    st.rerun()
if expanded and ex2.button(tr("收起全部展开", "Clear expansions")):
    st.session_state[expanded_key] = []
    st.rerun()


# --- the same invoices: timeline + table -------------------------------------------------------------
inv, capped = invoices_in_view(store, focus, nodes_by_id, start=start, end=end, min_fen=min_fen, cap=INVOICE_CAP)
if capped:
    st.caption(tr(f"交易量很大：每个节点只取最近 {INVOICE_CAP:,} 张发票。",
                  f"Very active taxpayer: only the latest {INVOICE_CAP:,} invoices per node are shown."))
st.subheader(tr("这些发票的时间分布", "These invoices over time"))
st.caption(tr("中心与展开节点在视图内的发票（同一日期与金额条件）。",
              "Invoices of the centre and expanded nodes inside the view (same date and amount filters)."))
if inv.num_rows == 0:
    st.info(tr("视图内没有发票。", "No invoices in the view."))
else:
    st.altair_chart(monthly_chart(monthly(inv), measure="yuan"), width="stretch")
    st.caption(tr(f"{inv.num_rows:,} 张，合计 {money(int(pc.sum(inv.column('total_fen')).as_py() or 0))}",
                  f"{inv.num_rows:,} invoices, total {money(int(pc.sum(inv.column('total_fen')).as_py() or 0))}"))
    pg = pager("ex_inv", inv.num_rows, (tuple(focus), start, end, min_fen))   # one page to the browser, all in the file
    table(store, user, invoice_frame(inv.slice(pg.skip, pg.size), tiers), "invoices", export=invoice_rows(inv),
          height=360)

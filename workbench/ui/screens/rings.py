"""团伙 Rings: the suspicious groups of the latest run → one ring: members, invoices in time order,
evidence, an interactive view of exactly the ring, and "open case"."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from graph.core.errors import FapiaoError
from graph.core.model import Ring
from workbench import netgraph
from workbench.auth import allowed
from workbench.fmt import day, money, money_full, plain, when
from workbench.ui import netview, saved, urlstate
from workbench.ui.charts import invoice_frame, score_columns, tier_map, yuan_columns
from workbench.ui.exports import invoice_rows, table
from workbench.ui.i18n import IDENTIFIER_KINDS, RING_KINDS, TIER_NAMES, lang, pick, term, tr
from workbench.ui.paging import pager
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.urlstate import Field
from workbench.ui.views import ring_identifiers, ring_invoices, ring_list, ring_query, ring_titles

user = require_page("view_rings")
store = get_store()


def _ring_detail(ring: Ring) -> None:
    ring_title = ring_titles(store, [ring])[ring.ring_id]
    st.subheader(plain(tr(*ring_title)))
    st.caption(tr(f"团伙编号：{ring.ring_id}", f"Ring id: {ring.ring_id}"))
    scores = store.scores(ring.run_id)
    tiers = tier_map(scores)
    st.markdown(f"**{tr('证据', 'Evidence')}：** {ring.evidence}" if ring.evidence else "")
    hops = ring.details.get("hops") if isinstance(ring.details, dict) else None
    invoices = ring_invoices(store, ring)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(tr("评分", "Score"), f"{ring.score:.2f}")
    m2.metric(tr("成员", "Members"), len(ring.members))
    m3.metric(tr("发票", "Invoices"), invoices.num_rows)
    m4.metric(tr("金额合计", "Total"), money(int(pc.sum(invoices.column("total_fen")).as_py() or 0))
              if invoices.num_rows else money(0))

    members = store.taxpayers(list(ring.members)).to_pylist()
    names = {m["tax_id"]: m["name"] for m in members}
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{tr('成员', 'Members')}**")
        table(store, user, pd.DataFrame({
            tr("税号", "Tax id"): [m["tax_id"] for m in members],
            tr("名称", "Name"): [m["name"] for m in members],
            tr("风险", "Risk"): [term(TIER_NAMES, tiers.get(m["tax_id"])) for m in members],
            tr("登记日期", "Registered"): [day(m["registered_on"]) for m in members],
            tr("行业", "Industry"): [m["industry"] or "" for m in members],
        }), "ring_members")
        for m in members[:12]:
            st.page_link("screens/taxpayer.py", label=f"{m['name']} ({m['tax_id']})", icon=":material/business:",
                         query_params={"tax_id": m["tax_id"]})
    with right:
        st.markdown(f"**{tr('团伙网络（仅本团伙成员与其发票）', 'The ring (members and its invoices only)')}**")
        edges = _edges(invoices)
        nodes = [netgraph.NetNode(t, names.get(t, t), tiers.get(t),
                                 f"{names.get(t, t)}\n{t}\n{tr('风险', 'risk')}: {term(TIER_NAMES, tiers.get(t)) or '-'}")
                 for t in ring.members]
        for i, shared in enumerate(ring_identifiers(store, ring) if ring.kind == "shared_identity" else []):
            node_id = f"identifier-{i}"
            label = f"{term(IDENTIFIER_KINDS, shared.kind)}：{shared.value}"
            nodes.append(netgraph.NetNode(node_id, label, title=label, identifier=True))
            edges += [netgraph.NetEdge(t, node_id, link=True, title=label) for t in shared.others]
        netview.show(nodes, edges, height=460, highlight=ring.members, replay=_replay(invoices))

    st.markdown(f"**{tr('构成团伙的发票（按时间顺序）', 'The invoices that make the ring, in time order')}**")
    if isinstance(hops, list) and hops:
        st.caption(tr(f"环路共 {len(hops)} 跳。", f"The cycle has {len(hops)} hops."))
    elif isinstance(hops, int):
        st.caption(tr(f"环路共 {hops} 跳。", f"The cycle has {hops} hops."))
    table(store, user, invoice_frame(invoices, tiers), "ring_invoices", export=invoice_rows(invoices))

    if allowed(user.roles, "open_case"):
        with st.form("ring_open_case"):
            title = st.text_input(tr("案件标题", "Case title"),
                                  value=tr(*ring_title))
            note = st.text_area(tr("备注", "Note"), value=ring.evidence)
            if st.form_submit_button(tr("立案（附带成员、团伙与发票）", "Open case (with members, ring and invoices)")):
                from workbench.cases import open_case

                try:
                    case = open_case(store, user, title, taxpayers=ring.members, rings=(ring.ring_id,),
                                     invoices=tuple(invoices.column("key").to_pylist()), note=note,
                                     source=f"ring:{ring.ring_id}")
                except FapiaoError as e:
                    st.error(str(e))
                else:
                    st.success(tr(f"已立案：{case.case_id}", f"Case opened: {case.case_id}"))


def _replay(invoices: pa.Table) -> list[netgraph.ReplayStep]:
    """The ring's invoices (already in time order) as replay steps: time, seller → buyer, amount."""
    return [netgraph.ReplayStep(r["seller_tax_id"], r["buyer_tax_id"],
                               f"{when(r['issued_at'])}　{r['seller_name']} → {r['buyer_name']}　{money_full(r['total_fen'])}")
            for r in invoices.select(["issued_at", "seller_tax_id", "buyer_tax_id", "seller_name", "buyer_name",
                                      "total_fen"]).to_pylist()]


def _edges(invoices: pa.Table) -> list[netgraph.NetEdge]:
    agg: dict[tuple[str, str], list[int]] = {}
    for s, b, fen in zip(invoices.column("seller_tax_id").to_pylist(), invoices.column("buyer_tax_id").to_pylist(),
                         invoices.column("total_fen").to_pylist(), strict=True):
        cur = agg.setdefault((s, b), [0, 0])
        cur[0] += 1
        cur[1] += fen
    return [netgraph.NetEdge(s, b, fen, n, f"{s} → {b}\n{n} {tr('张', 'invoices')}, {money_full(fen)}")
            for (s, b), (n, fen) in agg.items()]


st.title(tr("团伙", "Rings"))
runs = store.runs()
if not runs:
    st.info(tr("尚未运行检测，没有团伙。", "No detection run yet, so no rings."))
    st.stop()

wanted = st.query_params.get("ring")
if wanted:
    ring = store.ring(wanted)
    if ring is None:
        st.error(tr(f"找不到团伙 {wanted}。", f"No ring {wanted}."))
    else:
        if st.button(tr("← 返回团伙列表", "← All rings")):
            del st.query_params["ring"]
            st.rerun()
        _ring_detail(ring)
        st.stop()

run_id = runs[0].run_id
kind_counts = store.ring_kinds(run_id)
if not kind_counts:
    st.info(tr("最近一次检测没有发现团伙。", "The latest run found no rings."))
    st.stop()
kind_options = list(kind_counts)
today = date.today()
FILTERS = (
    Field("kind", "rings_kinds", [], urlstate.choices(kind_options), urlstate.join),
    Field("score", "rings_score", 0.0, urlstate.bounded(0.0, 1.0, float), lambda x: f"{x:g}"),
    Field("min_wan", "rings_amount", 0, urlstate.bounded(0, 10_000_000, int)),
    Field("dated", "rings_use_dates", False, urlstate.flag, urlstate.dump_flag),
)
DATES = Field("dates", "rings_dates", (today - timedelta(days=365), today), urlstate.days, urlstate.dump_days)
urlstate.restore(*FILTERS, DATES)   # opened from the sidebar: the filters last used on this page
urlstate.seed(*FILTERS)   # a refresh or a link keeps the filters (they are in the address)
with st.container(border=True):
    c1, c2, c3, c4 = st.columns([3, 2, 2, 3])
    kinds = c1.multiselect(tr("类型", "Kind"), kind_options,
                           format_func=lambda k: term(RING_KINDS, k), placeholder=pick(), key="rings_kinds")
    min_score = c2.slider(tr("最低评分", "Minimum score"), min_value=0.0, max_value=1.0, step=0.05, key="rings_score")
    min_wan = c3.number_input(tr("最低金额（万元）", "Minimum total (10k yuan)"), min_value=0, max_value=10_000_000,
                              step=10, key="rings_amount")
    use_dates = c4.toggle(tr("限定开票日期", "Limit issue dates"), key="rings_use_dates")
    dates: tuple[date, ...] = ()
    if use_dates:
        dates = tuple(c4.date_input(tr("日期范围", "Date range"), urlstate.initial(DATES), key="rings_dates"))
urlstate.publish(*FILTERS, DATES)
saved.box(store, user, "rings", (*FILTERS, DATES))
where = ring_query(kinds=kinds, min_score=min_score, min_fen=int(min_wan) * 1_000_000,
                   start=dates[0] if dates else None, end=dates[-1] if len(dates) == 2 else None)
total, everything = store.rings_count(run_id, where), sum(kind_counts.values())
st.caption(tr(f"最近一次检测（{run_id}）共 {everything} 个团伙，筛选后 {total} 个；勾选一行查看详情。",
              f"{total} of {everything} rings in the latest run ({run_id}); tick a row for details."))
pg = pager("rings", total, (kinds, min_score, min_wan, dates))
page = ring_list(store, run_id, where, skip=pg.skip, limit=pg.size)   # the store reads this page only


def _title(titles: dict[str, tuple[str, str]], ring_id: str) -> str:
    return titles[ring_id][1] if lang() == "en" else titles[ring_id][0]


def _export() -> pd.DataFrame:
    """Every ring the filters keep, read when an export is asked for."""
    found = ring_list(store, run_id, where)
    return pd.DataFrame({
        "ring_id": [r.ring_id for r in found.rows], "title": [_title(found.titles, r.ring_id) for r in found.rows],
        "kind": [term(RING_KINDS, r.kind) for r in found.rows], "members": [r.members for r in found.rows],
        "invoices": [r.invoices for r in found.rows], "score": [r.score for r in found.rows],
        "first": [day(r.first) for r in found.rows], "last": [day(r.last) for r in found.rows],
        "total_fen": [r.fen for r in found.rows]})


shown = pd.DataFrame({
    tr("团伙", "Ring"): [_title(page.titles, r.ring_id) for r in page.rows],
    tr("类型", "Kind"): [term(RING_KINDS, r.kind) for r in page.rows],
    tr("成员数", "Members"): [r.members for r in page.rows],
    tr("发票数", "Invoices"): [r.invoices for r in page.rows],
    tr("评分", "Score"): [r.score for r in page.rows],
    tr("起", "From"): [day(r.first) for r in page.rows],
    tr("止", "To"): [day(r.last) for r in page.rows],
    tr("金额合计（元）", "Total (yuan)"): [r.fen / 100 for r in page.rows],
    tr("编号", "Id"): [r.ring_id for r in page.rows],
})
picked = table(store, user, shown, "rings", export=_export if total else None, signature=repr((run_id, where, total)),
               on_select="rerun", selection_mode="single-row", key=f"ring_table_{pg.page}",
               column_config={**score_columns(tr("评分", "Score")), **yuan_columns(tr("金额合计（元）", "Total (yuan)"))})   # a ticked row belongs to its page
rows = picked.selection.rows if hasattr(picked, "selection") else []
if rows and rows[0] < len(page.rows):
    ring = store.ring(page.rows[rows[0]].ring_id)
    if ring is not None:
        st.divider()
        _ring_detail(ring)

"""纳税人画像 Taxpayer profile: facts, score and reasons (+ override), invoices in and out, top
counterparties, timeline, identifiers shared with other taxpayers."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from graph.core.errors import FapiaoError
from workbench.auth import allowed
from workbench.ui.charts import invoice_frame, monthly, monthly_chart
from workbench.ui.flash import flash, show_flash
from workbench.ui.fmt import day, money, plain
from workbench.ui.i18n import RING_KINDS, TIER_NAMES, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("view_taxpayer")
store = get_store()
show_flash()
IDENT_NAMES = {"legal_rep": ("法定代表人", "legal representative"), "phone": ("电话", "phone"),
               "address": ("地址", "address"), "bank_account": ("银行账户", "bank account")}
INVOICE_LIMIT = 5000


@st.cache_data(ttl=600, show_spinner=False)
def _identifier_index(uri: str, n_identifiers: int) -> pd.DataFrame:
    """Every (tax_id, kind, value) link, for finding who shares an identifier (cached per store size)."""
    frame: pd.DataFrame = get_store().identifiers().to_pandas()
    return frame


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
    tr("地区", "Region"): tp.region or "",
    tr("开票限额", "Invoice limit"): money(tp.invoice_limit_fen) if tp.invoice_limit_fen is not None else "",
    tr("状态", "Status"): tp.status or "",
}
cols = st.columns(len(facts))
for col, (label, value) in zip(cols, facts.items(), strict=True):
    col.metric(label, value or "—")
st.page_link("pages/explorer.py", label=tr("在网络探索中打开", "Open in the network explorer"),
             icon=":material/travel_explore:", query_params={"tax_id": tp.tax_id})

member_of = [r for r in store.rings() if tp.tax_id in r.members] if store.runs() else []
for ring in member_of[:8]:
    st.page_link("pages/rings.py", label=tr(f"所在团伙：{term(RING_KINDS, ring.kind)} · {len(ring.members)} 家 · 评分 {ring.score:.2f}",
                                            f"Member of ring: {term(RING_KINDS, ring.kind)} · {len(ring.members)} members · "
                                            f"score {ring.score:.2f}"),
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
            st.dataframe(pd.DataFrame({tr("特征", "feature"): list(feats),
                                       tr("值", "value"): [str(v) for v in feats.values()]}), hide_index=True)
        if allowed(user.roles, "override_tier"):
            with st.expander(tr("调整风险等级", "Override the tier")), st.form("tp_override"):
                new_tier = st.selectbox(tr("新等级", "New tier"), ["high", "medium", "low"],
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
                st.dataframe(pd.DataFrame(past), hide_index=True)

# --- invoices ---------------------------------------------------------------------------------------
inv = store.invoices_of(tp.tax_id, limit=INVOICE_LIMIT)
st.subheader(tr("发票往来", "Invoices"))
if inv.num_rows == 0:
    st.caption(tr("没有发票。", "No invoices."))
    st.stop()
if inv.num_rows >= INVOICE_LIMIT:
    st.caption(tr(f"仅显示最近 {INVOICE_LIMIT:,} 张。", f"Showing the latest {INVOICE_LIMIT:,} only."))
is_out = pc.equal(inv.column("seller_tax_id"), tp.tax_id)
direction = pc.if_else(is_out, tr("销项（开出）", "out (issued)"), tr("进项（取得）", "in (received)"))
out_inv, in_inv = inv.filter(is_out), inv.filter(pc.invert(is_out))
m1, m2 = st.columns(2)
m1.metric(tr("开出发票", "Issued"), f"{out_inv.num_rows:,}",
          help=money(int(pc.sum(out_inv.column("total_fen")).as_py() or 0)))
m2.metric(tr("取得发票", "Received"), f"{in_inv.num_rows:,}",
          help=money(int(pc.sum(in_inv.column("total_fen")).as_py() or 0)))
st.altair_chart(monthly_chart(monthly(inv.append_column("direction", direction), by="direction"),
                              colour="direction", measure="yuan"), width="stretch")

# --- top counterparties -------------------------------------------------------------------------------
other = pc.if_else(is_out, inv.column("buyer_tax_id"), inv.column("seller_tax_id"))
other_name = pc.if_else(is_out, inv.column("buyer_name"), inv.column("seller_name"))
cp = (pa.table({"tax_id": other, "name": other_name, "dir": direction, "fen": inv.column("total_fen")})
      .group_by(["tax_id", "name", "dir"]).aggregate([("fen", "sum"), ("fen", "count")])
      .sort_by([("fen_sum", "descending")]).slice(0, 15).to_pylist())
st.subheader(tr("主要交易对手", "Top counterparties"))
st.dataframe(pd.DataFrame({
    tr("税号", "Tax id"): [r["tax_id"] for r in cp], tr("名称", "Name"): [r["name"] for r in cp],
    tr("方向", "Direction"): [r["dir"] for r in cp], tr("张数", "Invoices"): [r["fen_count"] for r in cp],
    tr("金额合计", "Total"): [money(r["fen_sum"]) for r in cp]}), hide_index=True)

tab_out, tab_in = st.tabs([tr("开出的发票", "Issued"), tr("取得的发票", "Received")])
tab_out.dataframe(invoice_frame(out_inv), hide_index=True, height=320)
tab_in.dataframe(invoice_frame(in_inv), hide_index=True, height=320)

# --- shared identifiers -------------------------------------------------------------------------------
st.subheader(tr("与其他纳税人共用的身份信息", "Identifiers shared with other taxpayers"))
if not tp.identifiers:
    st.caption(tr("没有登记身份信息。", "No identifiers on record."))
else:
    idx = _identifier_index(store.uri, store.counts().identifiers)
    rows = []
    for kind, value in tp.identifiers:
        others = idx[(idx["kind"] == kind) & (idx["value"] == value) & (idx["tax_id"] != tp.tax_id)]["tax_id"].tolist()
        rows.append({tr("类型", "Kind"): tr(*IDENT_NAMES.get(kind, (kind, kind))), tr("值", "Value"): value,
                     tr("共用者数", "Shared by"): len(others), tr("共用的纳税人", "Other taxpayers"): "、".join(others[:20])})
    st.dataframe(pd.DataFrame(rows), hide_index=True)

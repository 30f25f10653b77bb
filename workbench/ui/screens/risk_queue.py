"""风险队列 Risk queue: scored taxpayers to review; supervisors override tiers (with a reason) and assign."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from graph.core.errors import FapiaoError
from graph.core.regions import region_name
from graph.core.vocab import TIERS
from workbench.auth import allowed
from workbench.fmt import plain
from workbench.ui import saved, urlstate
from workbench.ui.charts import score_columns
from workbench.ui.exports import table
from workbench.ui.flash import flash, show_flash
from workbench.ui.i18n import TIER_NAMES, pick, term, tr
from workbench.ui.paging import pager
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.urlstate import Field
from workbench.ui.views import QueueRow, queue_page, queue_query

user = require_page("view_risk_queue")
store = get_store()
show_flash()
st.title(tr("风险队列", "Risk queue"))

if not store.runs():
    st.info(tr("尚未运行检测，没有评分。", "No detection run yet, so nothing is scored."))
    st.stop()


def _frame(rows: list[QueueRow]) -> pd.DataFrame:
    """The queue's rows as shown (and exported): Chinese headers, tiers and regions in words."""
    return pd.DataFrame({
        tr("税号", "Tax id"): [r.tax_id for r in rows],
        tr("名称", "Name"): [r.name for r in rows],
        tr("评分", "Score"): [round(r.score, 3) for r in rows],
        tr("模型等级", "Model tier"): [term(TIER_NAMES, r.model_tier) for r in rows],
        tr("当前等级", "Effective tier"): [term(TIER_NAMES, r.tier) for r in rows],
        tr("行业", "Industry"): [r.industry for r in rows],
        tr("地区", "Region"): [region_name(r.region) for r in rows],
        tr("主要原因", "Reasons"): [r.reasons for r in rows],
        tr("调整理由", "Override reason"): [r.override_reason for r in rows],
        tr("调整人", "Overridden by"): [r.override_by for r in rows],
        tr("承办人", "Assignee"): [r.assignee for r in rows],
    })


facets = store.score_facets()
industry_options, region_options = facets["industry"], facets["region"]
FILTERS = (
    Field("tier", "rq_tiers", ["high", "medium"], urlstate.choices(TIERS), urlstate.join),
    Field("score", "rq_score", 0.0, urlstate.bounded(0.0, 1.0, float), lambda x: f"{x:g}"),
    Field("industry", "rq_industries", [], urlstate.choices(industry_options), urlstate.join),
    Field("region", "rq_regions", [], urlstate.choices(region_options), urlstate.join),
    Field("q", "rq_search", "", str.strip),
)
urlstate.seed(*FILTERS)   # a refresh or a link keeps the filters (they are in the address)
with st.container(border=True):
    f1, f2, f3, f4 = st.columns([4, 2, 2, 3])   # the tier column fits all three chips (they were cut off)
    tiers = f1.multiselect(tr("风险等级", "Tier"), list(reversed(TIERS)), format_func=lambda t: term(TIER_NAMES, t),
                           placeholder=pick(), key="rq_tiers")
    min_score = f2.slider(tr("最低评分", "Minimum score"), min_value=0.0, max_value=1.0, step=0.05, key="rq_score")
    industries = f3.multiselect(tr("行业", "Industry"), industry_options, placeholder=pick(), key="rq_industries")
    regions = f3.multiselect(tr("地区", "Region"), region_options, format_func=region_name, placeholder=pick(),
                             key="rq_regions")
    text = f4.text_input(tr("搜索名称或税号", "Search name or tax id"), key="rq_search").strip()
    f4.caption(tr("点击表头排序（本页内）；勾选一行以调整等级或分派。",
                  "Click a header to sort (within the page); tick a row to override or assign."))
urlstate.publish(*FILTERS)
saved.box(store, user, "risk_queue", FILTERS)

where = queue_query(store, tiers=tiers, min_score=min_score, industries=industries, regions=regions, text=text)
total, everything = store.scores_count(None, where), store.scores_count()
st.caption(tr(f"共 {total:,} 户（全部 {everything:,} 户）", f"{total:,} of {everything:,} taxpayers"))
pg = pager("rq", total, (tiers, min_score, industries, regions, text))
page = queue_page(store, where, skip=pg.skip, limit=pg.size)   # the store reads this page only
picked = table(store, user, _frame(page), "risk_queue", export=(lambda: _frame(queue_page(store, where))) if total else None,
               signature=repr((where, total)), on_select="rerun", selection_mode="single-row",
               key=f"rq_table_{pg.page}", height=420, column_config=score_columns(tr("评分", "Score")))
rows = [r for r in (picked.selection.rows if hasattr(picked, "selection") else []) if r < len(page)]
names = {r.tax_id: r.name for r in page}
ids = [r.tax_id for r in page]   # the picker lists the page shown
acting = st.session_state.get("rq_pick")
if acting and acting not in names:
    kept = queue_page(store, queue_query(store, tax_ids=[acting]), limit=1)
    if kept:   # e.g. just overridden out of the filter (to low): keep it, so it can still be assigned
        ids.append(acting)
        names[acting] = kept[0].name
tax_id = st.selectbox(tr("处理的纳税人", "Taxpayer to act on"), ids, key="rq_pick",
                      index=ids.index(page[rows[0]].tax_id) if rows else None,
                      format_func=lambda t: f"{t} · {names.get(t, '')}", placeholder=pick())
if tax_id is None:
    st.stop()
found = queue_page(store, queue_query(store, tax_ids=[tax_id]), limit=1)
if not found:
    st.stop()
row = found[0]
st.subheader(plain(f"{row.name} · {tax_id}"))
if not queue_page(store, replace(where, tax_ids=(tax_id,)), limit=1):
    st.caption(tr(f"当前等级：{term(TIER_NAMES, row.tier)}，已不在筛选结果中。",
                  f"Current tier: {term(TIER_NAMES, row.tier)}; no longer in the filtered queue."))
st.page_link("screens/taxpayer.py", label=tr("打开纳税人画像", "Open taxpayer profile"), icon=":material/business:",
             query_params={"tax_id": tax_id})
left, right = st.columns(2)
with left:
    if allowed(user.roles, "override_tier"):
        with st.form("rq_override"):
            st.markdown(f"**{tr('调整风险等级', 'Override the tier')}**")
            new_tier = st.selectbox(tr("新等级", "New tier"), [t for t in ("high", "medium", "low") if t != row.tier],
                                    format_func=lambda t: term(TIER_NAMES, t))   # not the tier in force: a no-op
            reason = st.text_area(tr("理由（必填，将记入审计日志）", "Reason (required, goes to the audit trail)"))
            if st.form_submit_button(tr("保存调整", "Save override")):
                if not reason.strip():
                    st.error(tr("请填写调整理由。", "Please write a reason."))
                else:
                    from workbench.overrides import override_tier

                    try:
                        override_tier(store, user, tax_id, new_tier, reason.strip())
                    except FapiaoError as e:
                        st.error(str(e))
                    else:
                        flash(tr("已保存调整并记入审计日志。", "Override saved and audited."))
    else:
        st.caption(tr("只有审核主管可以调整等级。", "Only supervisors can override tiers."))
with right:
    if allowed(user.roles, "assign_case"):
        from workbench.users import list_users

        investigators = [u.username for u in list_users(store) if "investigator" in u.roles and not u.disabled]
        with st.form("rq_assign"):
            st.markdown(f"**{tr('分派调查员', 'Assign an investigator')}**")
            who = st.selectbox(tr("调查员", "Investigator"), investigators)
            if st.form_submit_button(tr("分派", "Assign")) and who:
                from workbench.overrides import assign

                try:
                    assign(store, user, tax_id, who)
                except FapiaoError as e:
                    st.error(str(e))
                else:
                    flash(tr(f"已分派给 {who}。", f"Assigned to {who}."))

"""Tables and charts shared by the pages: invoice tables in words, monthly timelines (Altair, offline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.fmt import money, money_full, when
from workbench.ui.i18n import INVOICE_STATUSES, TIER_NAMES, term, tr


def invoice_frame(table: pa.Table, tiers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """schema.INVOICES rows as a display table: time, number, seller, buyer, amounts in ¥, rate, status.

    Parameters
    ----------
    table : invoices (schema.INVOICES).
    tiers : optional tax id -> tier, adds the seller's and buyer's risk tier.
    """
    rows = []
    for r in table.to_pylist():
        row: dict[str, object] = {
            tr("开票时间", "Issued"): when(r["issued_at"]),
            tr("发票代码", "Code"): r["code"] or "",
            tr("发票号码", "Number"): r["number"],
            tr("销方", "Seller"): r["seller_name"],
            tr("销方税号", "Seller tax id"): r["seller_tax_id"],
            tr("购方", "Buyer"): r["buyer_name"],
            tr("购方税号", "Buyer tax id"): r["buyer_tax_id"],
            tr("金额", "Amount"): money_full(r["amount_fen"]),
            tr("税额", "Tax"): money_full(r["tax_fen"]),
            tr("价税合计", "Total"): money_full(r["total_fen"]),
            tr("税率", "Rate"): f"{(r['rate'] or 0) * 100:g}%",
            tr("状态", "Status"): term(INVOICE_STATUSES, r["status"]),
            tr("货物或服务", "Item"): r.get("item_name") or r.get("item_code") or "",
        }
        if tiers is not None:
            row[tr("销方风险", "Seller risk")] = term(TIER_NAMES, tiers.get(r["seller_tax_id"]))
            row[tr("购方风险", "Buyer risk")] = term(TIER_NAMES, tiers.get(r["buyer_tax_id"]))
        rows.append(row)
    return pd.DataFrame(rows)


def score_columns(*headers: str) -> dict[str, Any]:
    """``column_config`` for ``st.dataframe`` that shows the score columns ``headers`` with two decimals
    (``1.00`` and ``0.97``, not ``1`` next to ``0.967``), as the ring and profile headlines show them; the
    values stay numbers, so a click on the header still sorts them."""
    import streamlit as st

    return {h: st.column_config.NumberColumn(h, format="%.2f") for h in headers}


def yuan_columns(*headers: str) -> dict[str, Any]:
    """``column_config`` for ``st.dataframe`` that shows the amount columns ``headers`` (yuan, from fen / 100)
    as ``1,234,567.89``: exact to the fen, and a click on the header sorts them by value (``¥1.2万`` strings
    sorted ``¥9.8万`` above ``¥12.3万``)."""
    import streamlit as st

    return {h: st.column_config.NumberColumn(h, format="accounting") for h in headers}


def monthly(table: pa.Table, *, by: str | None = None) -> pd.DataFrame:
    """Invoice count and total (yuan) per month (Asia/Shanghai), optionally split by column ``by``."""
    if table.num_rows == 0:
        return pd.DataFrame({"month": [], "count": [], "yuan": []})
    month = pc.strftime(table.column("issued_at"), format="%Y-%m")
    cols = {"month": month, "total_fen": table.column("total_fen")}
    if by:
        cols[by] = table.column(by)
    t = pa.table(cols)
    keys = ["month", by] if by else ["month"]
    agg = t.group_by(keys).aggregate([("total_fen", "count"), ("total_fen", "sum")]).to_pandas()
    agg = agg.rename(columns={"total_fen_count": "count", "total_fen_sum": "fen"})
    agg["yuan"] = agg["fen"] / 100
    agg["amount"] = [money(int(f)) for f in agg["fen"]]
    out: pd.DataFrame = agg.sort_values(keys).reset_index(drop=True)
    return out


def month_frame(months: pa.Table) -> pd.DataFrame:
    """schema.INVOICE_MONTHS rows (Store.invoice_months) as :func:`monthly` gives them, for :func:`monthly_chart`."""
    rows = months.to_pylist()
    return pd.DataFrame({"month": [r["month"] for r in rows], "count": [int(r["count"]) for r in rows],
                         "fen": [int(r["total_fen"]) for r in rows],
                         "yuan": [int(r["total_fen"]) / 100 for r in rows],
                         "amount": [money(int(r["total_fen"])) for r in rows]})


def monthly_chart(frame: pd.DataFrame, *, colour: str | None = None, measure: str = "count") -> alt.Chart:
    """A bar chart of ``monthly()`` output: invoices (``measure="count"``) or amount (``"yuan"``) per month."""
    title = tr("发票张数", "invoices") if measure == "count" else tr("价税合计（元）", "total (yuan)")
    enc: dict[str, object] = {
        "x": alt.X("month:N", title=tr("月份", "month")),
        "y": alt.Y(f"{measure}:Q", title=title),
        "tooltip": [alt.Tooltip("month:N", title=tr("月份", "month")),
                    alt.Tooltip("count:Q", title=tr("张数", "count")),
                    alt.Tooltip("amount:N", title=tr("金额", "amount"))],
    }
    if colour:
        enc["color"] = alt.Color(f"{colour}:N", title="")
    months = frame["month"].nunique() if "month" in frame else 0
    bar = alt.Chart(frame).mark_bar(size=48) if months <= 6 else alt.Chart(frame).mark_bar()   # 1 month: not a slab
    chart: alt.Chart = bar.encode(**enc).properties(height=260)
    return chart


def tier_chart(tiers: Mapping[str, int]) -> alt.Chart:
    """Taxpayers per risk tier (tier code -> count) as horizontal bars, high first, in the tier colours of the
    network views, each labelled with its count."""
    from workbench.netgraph import TIER_COLOURS

    order = [t for t in ("high", "medium", "low") if t in tiers] + [t for t in tiers if t not in TIER_COLOURS]
    names = [term(TIER_NAMES, t) for t in order]
    frame = pd.DataFrame({"tier": names, "n": [int(tiers[t]) for t in order]})
    y = alt.Y("tier:N", sort=names, title=None)
    colour = alt.Color("tier:N", scale=alt.Scale(domain=names, range=[TIER_COLOURS.get(t, "#9e9e9e") for t in order]),
                       legend=None)
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("n:Q", title=tr("纳税人数", "taxpayers"), axis=alt.Axis(tickMinStep=1, format=",d")), y=y, color=colour,
        tooltip=[alt.Tooltip("tier:N", title=tr("风险等级", "tier")),
                 alt.Tooltip("n:Q", title=tr("纳税人数", "taxpayers"), format=",d")])
    labels = alt.Chart(frame).mark_text(align="left", dx=4).encode(x="n:Q", y=y, text=alt.Text("n:Q", format=",d"))
    chart: alt.Chart = (bars + labels).properties(height=40 * max(len(order), 1) + 40)
    return chart


def tier_map(scores: pa.Table) -> dict[str, str]:
    """tax id -> tier from a schema.SCORES table."""
    return dict(zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(), strict=True))

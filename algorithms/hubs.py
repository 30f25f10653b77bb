"""Invoice-laundering hubs (变票): many sellers in, many buyers out, little value added; item mismatch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._tables import frame, invoice_frame
from algorithms.amounts import BLUE
from algorithms.shell import activity
from algorithms.signals import Signal, make_signal, pct


def fan_hub(
    invoices: pa.Table | pd.DataFrame,
    *,
    min_in: int = 5,
    min_out: int = 5,
    max_value_added: float = 0.05,
    coverage: pd.Series | None = None,
    max_coverage: float = 0.7,
    act: pd.DataFrame | None = None,
) -> Signal:
    """Fan-in / fan-out hub: ≥ ``min_in`` distinct sellers, ≥ ``min_out`` distinct buyers and
    |output − input| / output ≤ ``max_value_added`` (goods pass through with ~no value added).

    When ``coverage`` (tax_id → item coverage from :func:`item_mismatch`) is given, a hub is flagged only
    if its goods also change name on the way (coverage < ``max_coverage``): a trader that resells what
    it buys at a thin margin is normal business.

    ``value`` is 1 − |value added| (1.0 = output equals input exactly).
    """
    a = activity(invoices, None) if act is None else act.copy()
    va = (a["out_fen"] - a["in_fen"]) / a["out_fen"].replace(0, np.nan)
    a["value_added"] = va.fillna(-1.0)
    a["value"] = (1 - a["value_added"].abs()).clip(lower=0)
    a["flag"] = (a["in_partners"] >= min_in) & (a["out_partners"] >= min_out) & \
        (a["value_added"].abs() <= max_value_added)
    if coverage is not None:
        a["coverage"] = coverage.reindex(a.index).fillna(1.0)
        a["flag"] &= a["coverage"] < max_coverage
    a["evidence"] = [f"中转枢纽:{i:.0f} 家供应商进项、{o:.0f} 家客户销项,增值率仅 {v * 100:.1f}%"
                     for i, o, v in zip(a["in_partners"], a["out_partners"], a["value_added"], strict=True)]
    if coverage is not None:
        a["evidence"] = [f"{e},销项品目仅 {pct(c)} 有进项对应(变票)" for e, c in zip(a["evidence"], a["coverage"], strict=True)]
    return make_signal("fan_hub", a[["value", "flag", "evidence", "value_added"]])


def item_mismatch(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None,
    *,
    min_coverage: float = 0.7,
    typical_share: float = 0.05,
    min_invoices: int = 5,
) -> Signal:
    """Input/output mismatch (进销项不匹配): share of a seller's output amount whose item code it either
    bought (input) or is typical of its industry (≥ ``typical_share`` of the industry's output).

    *Practice*: coverage < 70 % alerts. ``value`` is the uncovered share (1 − coverage).
    """
    inv = invoice_frame(invoices)
    inv = inv[inv["status"].isin(BLUE) & (inv["amount_fen"] > 0) & inv["item_code"].notna()]
    tp = frame(taxpayers, ["tax_id", "industry"])
    industry = tp.set_index("tax_id")["industry"]
    out = pd.DataFrame({"tax_id": inv["seller_tax_id"].to_numpy(), "item": inv["item_code"].to_numpy(),
                        "fen": inv["amount_fen"].to_numpy(dtype=np.int64)})
    out["industry"] = out["tax_id"].map(industry).fillna("?")
    ind_share = out.groupby(["industry", "item"])["fen"].sum()
    ind_share = ind_share / ind_share.groupby(level=0).transform("sum")
    typ = ind_share[ind_share >= typical_share].reset_index()[["industry", "item"]].assign(typical=True)
    bought = pd.DataFrame({"tax_id": inv["buyer_tax_id"].to_numpy(), "item": inv["item_code"].to_numpy()})
    bought = bought.drop_duplicates().assign(bought=True)
    out = out.merge(typ, on=["industry", "item"], how="left").merge(bought, on=["tax_id", "item"], how="left")
    out["covered"] = out["typical"].notna() | out["bought"].notna()
    out["cov_fen"] = out["fen"].where(out["covered"], 0)
    g = out.groupby("tax_id").agg(n=("fen", "size"), fen=("fen", "sum"), cov=("cov_fen", "sum"))
    g["coverage"] = g["cov"] / g["fen"]
    g["value"] = 1 - g["coverage"]
    g["flag"] = (g["n"] >= min_invoices) & (g["coverage"] < min_coverage)
    g["evidence"] = [f"进销项不匹配:仅 {pct(c)} 的销项品目有进项或属本行业常见品目" for c in g["coverage"]]
    return make_signal("item_mismatch", g[["value", "flag", "evidence", "coverage"]])

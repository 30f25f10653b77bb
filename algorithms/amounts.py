"""Amount typologies: near-limit (顶额), Benford first digits, robust outliers, bursts, duplicates.

Each function takes the invoice table (``graph.core.schema.INVOICES`` columns, pandas or pyarrow) and
returns a :class:`~algorithms.signals.Signal` keyed by the *seller* (the company that issued them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._tables import DAY, epoch_seconds, frame, invoice_frame
from algorithms.signals import Signal, make_signal, pct
from graph.core.vocab import BLUE_STATUSES

BLUE = BLUE_STATUSES
BENFORD = np.log10(1 + 1 / np.arange(1, 10))


def _blue(invoices: pa.Table | pd.DataFrame) -> pd.DataFrame:
    inv = invoice_frame(invoices)
    return inv[inv["status"].isin(BLUE) & (inv["amount_fen"] > 0)]


def near_limit(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None,
    *,
    near: float = 0.9,
    min_share: float = 0.3,
    min_invoices: int = 5,
) -> Signal:
    """Share of a seller's invoices whose pre-tax amount lies in ``[near·L, L)`` (L = its invoice limit).

    *Practice*: amounts ≥ 90 % of the per-invoice limit (顶额开票, e.g. 99,9xx under 10万); flagged when
    at least ``min_share`` of ≥ ``min_invoices`` invoices are that close to the limit.
    """
    inv = _blue(invoices)
    tp = frame(taxpayers, ["tax_id", "invoice_limit_fen"])
    limits = tp.set_index("tax_id")["invoice_limit_fen"].dropna()
    lim = inv["seller_tax_id"].map(limits)
    has = lim.notna()
    x = inv.loc[has, "amount_fen"].astype(float)
    l_ = lim[has].astype(float)
    close = (x >= near * l_) & (x < l_)
    g = pd.DataFrame({"seller": inv.loc[has, "seller_tax_id"], "close": close}).groupby("seller")["close"]
    t = pd.DataFrame({"n": g.size(), "near_n": g.sum()})
    t["value"] = t["near_n"] / t["n"]
    t["flag"] = (t["n"] >= min_invoices) & (t["value"] >= min_share)
    t["evidence"] = [f"{pct(v)} 的发票（{k}/{n} 张）金额在开票限额的 {pct(near)} 以上（顶额开票）"
                     for v, k, n in zip(t["value"], t["near_n"], t["n"], strict=True)]
    return make_signal("near_limit", t.rename(columns={"n": "near_limit_invoices"}))


def benford(invoices: pa.Table | pd.DataFrame, *, min_amounts: int = 300, mad_nonconforming: float = 0.015) -> Signal:
    """Mean absolute deviation of first digits from Benford's law (Nigrini), per seller.

    Bands: ≤ 0.006 close, ≤ 0.012 acceptable, ≤ 0.015 marginal, > 0.015 nonconforming (flagged).
    Only sellers with at least ``min_amounts`` invoices are measured (the test needs a few hundred).
    """
    inv = _blue(invoices)
    counts = inv.groupby("seller_tax_id").size()
    enough = counts[counts >= min_amounts].index
    sub = inv[inv["seller_tax_id"].isin(enough)]
    a = sub["amount_fen"].to_numpy(dtype=np.float64)
    first = (a / 10 ** np.floor(np.log10(a))).astype(np.int64)
    tab = pd.crosstab(sub["seller_tax_id"].to_numpy(), first)
    tab = tab.reindex(columns=range(1, 10), fill_value=0)
    if len(tab) == 0:
        t = pd.DataFrame({"value": [], "flag": [], "evidence": []}, index=pd.Index([], dtype=str))
        return make_signal("benford", t)
    share = tab.to_numpy(dtype=np.float64) / tab.to_numpy().sum(axis=1, keepdims=True)
    mad = np.abs(share - BENFORD).mean(axis=1)
    t = pd.DataFrame({"value": mad}, index=tab.index)
    t["flag"] = t["value"] > mad_nonconforming
    t["evidence"] = [f"金额首位数字偏离本福特定律（MAD {v:.3f} > {mad_nonconforming}）" for v in t["value"]]
    return make_signal("benford", t)


def _robust_z(x: pd.Series, by: pd.Series) -> pd.Series:
    logx = pd.Series(np.log(x.astype(float).to_numpy()), index=x.index)
    g = logx.groupby(by)
    med = g.transform("median")
    mad = (logx - med).abs().groupby(by).transform("median")
    z: pd.Series = (logx - med) / (1.4826 * mad.replace(0, np.nan))
    return z


def amount_outliers(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None = None,
    *,
    z: float = 3.5,
    min_invoices: int = 10,
    min_share: float = 0.1,
) -> Signal:
    """Invoices far from the seller's own (and its industry's) usual amounts.

    Robust z = (x − median) / (1.4826·MAD) on log amounts; an invoice is an outlier when |z| > ``z``
    against its company or its industry. Flagged when ≥ ``min_share`` of the seller's invoices are.
    """
    inv = _blue(invoices)
    tp = frame(taxpayers, ["tax_id", "industry"])
    industry = inv["seller_tax_id"].map(tp.set_index("tax_id")["industry"].astype(object)).astype(object).fillna("?")
    zc = _robust_z(inv["amount_fen"], inv["seller_tax_id"]).abs()
    zi = _robust_z(inv["amount_fen"], industry).abs()
    out = (zc > z) | (zi > z)
    g = pd.DataFrame({"seller": inv["seller_tax_id"], "out": out}).groupby("seller")["out"]
    t = pd.DataFrame({"n": g.size(), "outliers": g.sum()})
    t["value"] = t["outliers"] / t["n"]
    t["flag"] = (t["n"] >= min_invoices) & (t["value"] >= min_share)
    t["evidence"] = [f"{k} 张发票金额异常（稳健 z > {z}，占 {pct(v)}）"
                     for k, v in zip(t["outliers"], t["value"], strict=True)]
    return make_signal("amount_outliers", t[["value", "flag", "evidence", "outliers"]])


def large_bursts(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None = None,
    *,
    window_days: float = 7,
    quantile: float = 0.95,
    min_count: int = 5,
) -> Signal:
    """Most large invoices a seller issued within any ``window_days`` (large = above its industry's p95).

    Flagged when that count is ≥ ``min_count`` and above the ``quantile`` of the same count over all sellers.
    """
    inv = _blue(invoices)
    tp = frame(taxpayers, ["tax_id", "industry"])
    industry = inv["seller_tax_id"].map(tp.set_index("tax_id")["industry"].astype(object)).astype(object).fillna("?")
    p95 = inv["amount_fen"].groupby(industry).transform(lambda s: s.quantile(quantile))
    big = inv[inv["amount_fen"] > p95]
    if len(big) == 0:
        t = pd.DataFrame({"value": [], "flag": [], "evidence": []}, index=pd.Index([], dtype=str))
        return make_signal("large_bursts", t)
    counts = max_in_window(big["seller_tax_id"], epoch_seconds(big["issued_at"]), None, window_days)
    thr = max(float(np.quantile(counts.to_numpy(), quantile)), float(min_count))
    t = pd.DataFrame({"value": counts.astype(float)})
    t["flag"] = t["value"] >= thr
    t["evidence"] = [f"{window_days:g} 天内开出 {v:.0f} 张大额发票（行业 P95 以上）" for v in t["value"]]
    return make_signal("large_bursts", t)


def max_in_window(keys: pd.Series, t: np.ndarray, weights: np.ndarray | None, window_days: float) -> pd.Series:
    """Per key, the largest count (or weight sum) of events inside any window of ``window_days``."""
    codes, names = pd.factorize(keys)
    codes = codes.astype(np.int64)
    tt = np.asarray(t, dtype=np.int64)
    order = np.lexsort((tt, codes))
    c, ts = codes[order], tt[order]
    w = np.ones(len(order)) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    composite = c * (1 << 34) + (ts - ts.min() if len(ts) else ts)
    lo = np.searchsorted(composite, composite - int(window_days * DAY), side="left")
    cum = np.concatenate([[0.0], np.cumsum(w)])
    in_window = cum[np.arange(len(order)) + 1] - cum[lo]
    return pd.Series(in_window).groupby(c).max().set_axis(names[np.unique(c)])


def duplicates(invoices: pa.Table | pd.DataFrame, *, min_groups: int = 1) -> Signal:
    """Near-duplicates: same seller, buyer, amount and day under different invoice numbers."""
    inv = _blue(invoices)
    day = (epoch_seconds(inv["issued_at"]) + 8 * 3600) // DAY          # calendar day in China
    k = pd.DataFrame({"seller": inv["seller_tax_id"], "buyer": inv["buyer_tax_id"],
                      "amount": inv["amount_fen"], "day": day, "number": inv["number"]})
    k = k[k.duplicated(["amount", "day"], keep=False)]     # only an amount repeated on its day can be a duplicate
    g = k.groupby(["seller", "buyer", "amount", "day"])["number"].nunique()
    dup = g[g > 1].reset_index()
    per = dup.groupby("seller").agg(groups=("number", "size"), extra=("number", "sum"))
    per["extra"] = per["extra"] - per["groups"]
    t = pd.DataFrame({"value": per["groups"].astype(float)}, index=per.index)
    t["flag"] = per["groups"] >= min_groups
    t["evidence"] = [f"{n:.0f} 组同日同买方同金额、号码不同的疑似重复发票" for n in t["value"]]
    return make_signal("duplicates", t)

"""Shell-company (走逃失联) and void / red-letter typologies, per taxpayer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._tables import DAY, epoch_seconds, frame, invoice_frame
from algorithms.amounts import BLUE, max_in_window
from algorithms.signals import Signal, make_signal, pct


def activity(invoices: pa.Table | pd.DataFrame, taxpayers: pa.Table | pd.DataFrame | None) -> pd.DataFrame:
    """Per taxpayer: output / input totals, first / last invoice, active span, age at first invoice.

    Columns: ``out_fen, in_fen, out_n, in_n, first_at, last_at`` (epoch seconds), ``span_days``,
    ``age_days`` (registration to first invoice; NaN when unknown), ``silent_days`` (last invoice to the
    end of the data), ``out_partners, in_partners`` (distinct buyers / sellers).
    """
    inv = invoice_frame(invoices)
    inv = inv[inv["status"].isin(BLUE) & (inv["total_fen"] > 0)]
    t = epoch_seconds(inv["issued_at"])
    end = int(t.max()) if len(t) else 0
    s = pd.DataFrame({"seller": inv["seller_tax_id"].to_numpy(), "buyer": inv["buyer_tax_id"].to_numpy(),
                      "fen": inv["total_fen"].to_numpy(dtype=np.int64), "t": t})
    out = s.groupby("seller").agg(out_fen=("fen", "sum"), out_n=("fen", "size"), out_partners=("buyer", "nunique"),
                                  out_first=("t", "min"), out_last=("t", "max"))
    inn = s.groupby("buyer").agg(in_fen=("fen", "sum"), in_n=("fen", "size"), in_partners=("seller", "nunique"),
                                 in_first=("t", "min"), in_last=("t", "max"))
    return finish_activity(out.join(inn, how="outer"), taxpayers, end)


def finish_activity(a: pd.DataFrame, taxpayers: pa.Table | pd.DataFrame | None, end: int) -> pd.DataFrame:
    """The activity table from the per-seller and per-buyer aggregates joined on tax id (``out_*`` and ``in_*``
    totals, counts, partners, first / last times; missing where a taxpayer only buys or only sells) and the
    end of the data (epoch seconds). Shared by :func:`activity` and the Spark engine's aggregation."""
    for c in ("out_fen", "out_n", "out_partners", "in_fen", "in_n", "in_partners"):
        a[c] = a[c].fillna(0)
    a["first_at"] = a[["out_first", "in_first"]].min(axis=1)
    a["last_at"] = a[["out_last", "in_last"]].max(axis=1)
    a["span_days"] = (a["last_at"] - a["first_at"]) / DAY
    a["silent_days"] = (end - a["last_at"]) / DAY
    tp = frame(taxpayers, ["tax_id", "registered_on"])
    reg = pd.to_datetime(tp.set_index("tax_id")["registered_on"], errors="coerce")
    reg_s = pd.Series(reg.to_numpy().astype("datetime64[s]").astype("float64"), index=reg.index)
    reg_s[reg.isna().to_numpy()] = np.nan
    a["age_days"] = (a["first_at"] - a.index.to_series().map(reg_s) + 8 * 3600) / DAY
    a.index.name = "tax_id"
    return a.drop(columns=["out_first", "out_last", "in_first", "in_last"])


def shell(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None,
    *,
    young_days: float = 180,
    burst_days: float = 30,
    burst_share: float = 0.6,
    silent_days: float = 60,
    output_ratio: float = 3.0,
    min_output_fen: int = 100_000_00,
    act: pd.DataFrame | None = None,
) -> Signal:
    """Shell pattern: registered recently, invoices large amounts fast (output ≫ input), then silence.

    Flagged when age at first invoice < ``young_days`` and output ≥ ``min_output_fen`` and output /
    input ≥ ``output_ratio`` and (share of output in the busiest ``burst_days`` ≥ ``burst_share`` or
    silent for ≥ ``silent_days`` before the data ends). ``value`` counts the conditions met (0..4).
    ``act`` is :func:`activity`'s table when the caller already has it.
    """
    a = activity(invoices, taxpayers) if act is None else act.copy()
    inv = invoice_frame(invoices)
    inv = inv[inv["status"].isin(BLUE) & (inv["total_fen"] > 0)]
    busiest = max_in_window(inv["seller_tax_id"], epoch_seconds(inv["issued_at"]),
                            inv["total_fen"].to_numpy(dtype=np.float64), burst_days)
    a["burst_share"] = (busiest.reindex(a.index).fillna(0) / a["out_fen"].replace(0, np.nan)).fillna(0)
    a["out_in_ratio"] = a["out_fen"] / a["in_fen"].clip(lower=1)
    young = a["age_days"] < young_days
    big = a["out_fen"] >= min_output_fen
    lopsided = a["out_fen"] >= output_ratio * a["in_fen"]
    bursty = a["burst_share"] >= burst_share
    silent = a["silent_days"] >= silent_days
    a["value"] = young.astype(int) + lopsided.astype(int) + bursty.astype(int) + silent.astype(int)
    a["flag"] = young & big & lopsided & (bursty | silent)
    ev = []
    cols = zip(a["flag"], a["age_days"], a["out_in_ratio"], a["burst_share"], a["silent_days"], strict=True)
    for flag, age, ratio, share, silence in cols:
        if not flag:
            ev.append("")
            continue
        parts = [f"登记后 {float(age):.0f} 天即开票", f"销项为进项的 {min(float(ratio), 999):.0f} 倍"]
        if float(share) >= burst_share:
            parts.append(f"{pct(float(share))} 的销项集中在 {burst_days:g} 天内")
        if float(silence) >= silent_days:
            parts.append(f"此后 {float(silence):.0f} 天无发票")
        ev.append("空壳企业特征：" + "，".join(parts))
    a["evidence"] = ev
    return make_signal("shell", a[["value", "flag", "evidence", "burst_share", "out_in_ratio"]])


def void_red(
    invoices: pa.Table | pd.DataFrame,
    *,
    void_ratio: float = 0.10,
    red_ratio: float = 0.20,
    min_invoices: int = 10,
    counts: pd.DataFrame | None = None,
) -> Signal:
    """Share of a seller's invoices voided (作废) and share of its blue amount red-lettered (红冲).

    *Practice*: void count / issued > 10 %, red amount > 20 % of blue amount. Flagged when either holds
    with ≥ ``min_invoices`` issued. ``value`` is the larger ratio relative to its threshold. ``counts``:
    :func:`void_red_counts` of the invoices when another engine has aggregated them.
    """
    g = void_red_counts(invoices) if counts is None else counts.copy()
    g["void_share"] = g["voids"] / g["n"]
    g["red_share"] = g["red"] / g["blue"].replace(0, np.nan)
    g["red_share"] = g["red_share"].fillna(0)
    g["value"] = np.maximum(g["void_share"] / void_ratio, g["red_share"] / red_ratio)
    g["flag"] = (g["n"] >= min_invoices) & (g["value"] > 1)
    g["evidence"] = [f"作废 {pct(v)}、红冲金额 {pct(r)}（阈值 {pct(void_ratio)} / {pct(red_ratio)}）"
                     for v, r in zip(g["void_share"], g["red_share"], strict=True)]
    return make_signal("void_red", g[["value", "flag", "evidence", "void_share", "red_share"]])


def void_red_counts(invoices: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Per seller (index ``seller``, sorted): invoices ``n``, ``voids``, red-letter amount ``red`` and blue amount
    ``blue`` (fen, from ``amount_fen``) — what :func:`void_red` judges."""
    inv = invoice_frame(invoices)
    s = pd.DataFrame({"seller": inv["seller_tax_id"], "void": inv["status"] == "void",
                      "red": inv["amount_fen"].where(inv["amount_fen"] < 0, 0).abs(),
                      "blue": inv["amount_fen"].where(inv["amount_fen"] > 0, 0)})
    return s.groupby("seller").agg(n=("void", "size"), voids=("void", "sum"), red=("red", "sum"), blue=("blue", "sum"))

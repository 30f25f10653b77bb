"""Per-taxpayer degree, amount and timing dynamics that exist on any invoice table (交易动态特征).

Only the required columns are read (seller, buyer, issue time, total, status), so every feature here
is available on data without item codes, identifiers or registration dates. Two groups:

* **static** — unchanged when issue times are shuffled: ``churn`` (share of trade relations used once),
  ``balance`` (1 − |output − input| / (output + input) in value: 1 = passes value through);
* **temporal** (GFP-style per-node motif counts inside a window of ``w`` days) — destroyed by a time
  shuffle, so their excess over the data's own null (:func:`temporal_excess`) is evidence of coordination:
  ``burstiness`` (Goh–Barabási B of inter-invoice gaps), ``peak_share`` (share of value in the busiest
  ``w`` days), ``fan_out_w`` / ``fan_in_w`` (most output / input invoices in ``w`` days),
  ``path_along`` (2-hop time-respecting paths: input, then output within ``w`` — 过票),
  ``path_against`` (output, then input within ``w`` — 虚抵进项 / buying input invoices),
  ``return_2`` (invoices answered by one in the opposite direction with the same counterparty within ``w``),
  ``flow_match`` (share of input value passed on as an output of a similar amount within ``w``, and the
  mirror for output followed by input), ``split_day`` (share of its invoices issued on the same day to or
  from the same counterparty as another one: 拆分开票, splitting one deal into several invoices; its null keeps
  the pairs and shuffles the days within months, :func:`shuffle_days`, since rewiring would break up every
  pair that legitimately trades several times a month).

The burst window ``w`` comes from the data (:func:`burst_window`): the median over taxpayers of their
median gap between invoices, so a burst means "faster than this data's usual pace".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from algorithms._tables import DAY, epoch_seconds, invoice_frame

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BLUE = ("normal", "out_of_control", "abnormal", "red_offset")
STATIC = ("churn", "balance")
TEMPORAL = ("burstiness", "peak_share", "fan_out_w", "fan_in_w", "path_along", "path_against", "return_2",
            "flow_match", "split_day")
#: feature → Chinese phrase used in reasons
ZH = {
    "churn": "一次性交易对手占比", "balance": "进销项金额持平", "burstiness": "开票时间高度集中",
    "peak_share": "金额集中在最忙的窗口内", "fan_out_w": "短期内向大量下游开票", "fan_in_w": "短期内从大量上游取得发票",
    "path_along": "取得发票后短期内开出（过票）", "path_against": "开出发票后短期内取得进项（虚抵进项）",
    "return_2": "与同一对手短期内互开发票", "flow_match": "进项与销项金额相近且紧接",
    "split_day": "同日向同一对手拆分开票",
}
#: how close two amounts must be (ratio) for ``flow_match``: a hop may skim or add up to a third
MATCH_RATIO = 1.5


def blue_frame(invoices: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """seller, buyer, t (days since the epoch, float) and fen of the blue, positive invoices."""
    inv = invoice_frame(invoices)
    inv = inv[inv["status"].isin(BLUE) & (inv["total_fen"] > 0)]
    return pd.DataFrame({"seller": inv["seller_tax_id"].astype(str).to_numpy(),
                         "buyer": inv["buyer_tax_id"].astype(str).to_numpy(),
                         "t": epoch_seconds(inv["issued_at"]) / DAY,
                         "fen": inv["total_fen"].to_numpy(dtype=np.float64)})


def burst_window(b: pd.DataFrame, *, lo: float = 1.0, hi: float = 90.0) -> float:
    """The data's burst window in days: median over taxpayers (≥ 3 invoices) of their median gap, in [lo, hi]."""
    ev = pd.DataFrame({"node": np.concatenate([b["seller"], b["buyer"]]), "t": np.concatenate([b["t"], b["t"]])})
    ev = ev.sort_values(["node", "t"], kind="stable")
    gap = ev["t"].diff().where(ev["node"].eq(ev["node"].shift()))
    med = gap.groupby(ev["node"]).median()
    n = ev.groupby("node").size()
    med = med[n.reindex(med.index) >= 3].dropna()
    return float(np.clip(med.median(), lo, hi)) if len(med) else hi


def _count_in(keys: F64, lo: F64, hi: F64) -> I64:
    """For each (lo, hi], how many sorted ``keys`` fall inside."""
    return np.asarray(np.searchsorted(keys, hi, side="right") - np.searchsorted(keys, lo, side="right"),
                      dtype=np.int64)


def dynamics(b: pd.DataFrame, index: Sequence[str] | pd.Index, *, w: float) -> pd.DataFrame:
    """Every feature of this module for the taxpayers of ``index`` (0 for those without invoices).

    ``b`` is :func:`blue_frame`'s output (or a shuffled copy of it); ``w`` the window in days.
    """
    idx = pd.Index(index, dtype=object)
    out = pd.DataFrame(0.0, index=idx, columns=[*STATIC, *TEMPORAL])
    if len(b) == 0:
        return out
    c = encode(b)
    feats = motifs(c, w=w, static=True)
    frame_ = pd.DataFrame(feats, index=pd.Index(c.nodes, dtype=object))
    return frame_.reindex(idx).fillna(0.0).astype(np.float64).reindex(columns=out.columns)


class Coded:
    """Invoices as integer arrays: seller / buyer codes into ``nodes``, days since the first invoice, fen."""

    def __init__(self, s: I64, r: I64, t0: F64, fen: F64, nodes: npt.NDArray[np.object_]) -> None:
        self.s, self.r, self.t0, self.fen, self.nodes = s, r, t0, fen, nodes

    def with_buyers(self, r: I64) -> Coded:
        """The same invoices with other buyers (a rewired copy)."""
        return Coded(self.s, r, self.t0, self.fen, self.nodes)


def encode(b: pd.DataFrame) -> Coded:
    """:func:`blue_frame`'s output as :class:`Coded` arrays."""
    codes, nodes = pd.factorize(pd.concat([b["seller"], b["buyer"]], ignore_index=True))
    n = len(b)
    t = b["t"].to_numpy(np.float64)
    return Coded(codes[:n].astype(np.int64), codes[n:].astype(np.int64), t - (t.min() if n else 0.0),
                 b["fen"].to_numpy(np.float64), np.asarray(nodes, dtype=object))


def motifs(c: Coded, *, w: float, static: bool = False, return_2: bool = True,
           keep: npt.NDArray[np.bool_] | None = None) -> dict[str, F64]:
    """Feature name → one value per node code (the temporal features; the static ones too with ``static``;
    without ``return_2`` when the caller computes it its own way). ``keep`` (per node code): only these nodes'
    values are wanted, the others' come out partial — the per-node sorts then hold only the kept nodes' events
    (a node's values depend on its own events only)."""
    s, r, t0, fen = c.s, c.r, c.t0, c.fen
    m = len(c.nodes)
    span = float(t0.max()) + 2 * w + 1.0 if len(t0) else 1.0   # node blocks on one axis: key = node · span + t
    if keep is not None:            # the sellers' side (s) and the buyers' side (r) of the kept nodes' invoices
        ks, kr = keep[s], keep[r]
        so, to_, fo = s[ks], t0[ks], fen[ks]
        ri, ti, fi = r[kr], t0[kr], fen[kr]
    else:
        so, to_, fo, ri, ti, fi = s, t0, fen, r, t0, fen
    feats: dict[str, F64] = {}
    vo, vi = _bc(s, weights=fen, minlength=m), _bc(r, weights=fen, minlength=m)
    if static:
        pair, count = np.unique(s * m + r, return_counts=True)
        rel_nodes = np.concatenate([pair // m, pair % m])
        once = np.concatenate([count == 1] * 2)
        feats["churn"] = _ratio(_bc(rel_nodes, weights=once, minlength=m), _bc(rel_nodes, minlength=m))
        feats["balance"] = np.asarray(np.where((vo > 0) & (vi > 0), 1 - np.abs(vo - vi) / np.maximum(vo + vi, 1),
                                               0.0), dtype=np.float64)

    # all events of a node, sorted: burstiness and peak share
    en = np.concatenate([so, ri])
    et = np.concatenate([to_, ti])
    ef = np.concatenate([fo, fi])
    o = np.lexsort((et, en))
    en, et, ef = en[o], et[o], ef[o]
    same = np.r_[False, en[1:] == en[:-1]]
    gn, gap = en[same], np.diff(et)[same[1:]] if len(et) > 1 else np.zeros(0)
    k = _bc(gn, minlength=m)
    mean = _ratio(_bc(gn, weights=gap, minlength=m), k)
    var = np.maximum(_ratio(_bc(gn, weights=gap * gap, minlength=m), k) - mean**2, 0.0) * _ratio(k, k - 1)
    sd = np.sqrt(var)
    feats["burstiness"] = np.where((k >= 2) & (sd + mean > 0), _ratio(sd - mean, sd + mean), 0.0)
    key = en * span + et
    cum = np.r_[0.0, np.cumsum(ef)]
    end = np.searchsorted(key, key + w, side="left")
    win_val = cum[end] - cum[np.arange(len(key))]
    tot = _bc(en, weights=ef, minlength=m)
    peak = np.zeros(m)
    np.maximum.at(peak, en, win_val)
    feats["peak_share"] = _ratio(peak, tot)

    # per direction: most invoices within w
    for name, node, tt in (("fan_out_w", so, to_), ("fan_in_w", ri, ti)):
        oo = np.lexsort((tt, node))
        k = node[oo] * span + tt[oo]
        cnt = np.searchsorted(k, k + w, side="left") - np.arange(len(k))
        best = np.zeros(m)
        np.maximum.at(best, node[oo], cnt.astype(np.float64))
        feats[name] = best

    # 2-hop time-respecting paths through a node, both orientations
    oo, oi = np.lexsort((to_, so)), np.lexsort((ti, ri))
    out_key, in_key = so[oo] * span + to_[oo], ri[oi] * span + ti[oi]
    along = _count_in(out_key, in_key, in_key + w)              # input at t → outputs in (t, t + w]
    against = _count_in(in_key, out_key, out_key + w)           # output at t → inputs in (t, t + w]
    feats["path_along"] = _bc(ri[oi], weights=along, minlength=m)
    feats["path_against"] = _bc(so[oo], weights=against, minlength=m)

    # the next invoice in the other direction within w: amount close → value flows through (either order)
    fm_in = _next_match(in_key, fi[oi], out_key, fo[oo], w)    # input → next output
    fm_out = _next_match(out_key, fo[oo], in_key, fi[oi], w)   # output → next input
    matched = _bc(ri[oi], weights=fi[oi] * fm_in, minlength=m) + \
        _bc(so[oo], weights=fo[oo] * fm_out, minlength=m)
    feats["flow_match"] = _ratio(matched, vo + vi)

    # 2-cycles: an invoice answered by the counterparty within w
    if return_2:
        pair_fwd = s * m + r
        pk = np.sort(pair_fwd.astype(np.float64) * span + t0)
        back = (r * m + s).astype(np.float64) * span + t0
        answered = (_count_in(pk, back, back + w) > 0).astype(np.float64)
        feats["return_2"] = _bc(s, weights=answered, minlength=m) + _bc(r, weights=answered, minlength=m)

    feats["split_day"] = split_day(c)
    return feats


def split_day(c: Coded) -> F64:
    """Per node code: share of its invoices issued on the same day to / from the same counterparty as another
    one (拆分开票: several invoices of one pair on one day)."""
    s, r, t0, m = c.s, c.r, c.t0, len(c.nodes)
    day = np.floor(t0).astype(np.int64)
    _, inv_ix, cnt = np.unique((s * m + r) * (int(day.max()) + 1 if len(day) else 1) + day,
                               return_inverse=True, return_counts=True)
    split = (cnt[inv_ix] > 1).astype(np.float64)
    return _ratio(_bc(s, weights=split, minlength=m) + _bc(r, weights=split, minlength=m),
                  _bc(s, minlength=m) + _bc(r, minlength=m))


def shuffle_days(c: Coded, rng: np.random.Generator, *, period: float = 30.0) -> Coded:
    """The same invoices (same seller → buyer pairs, amounts) with times permuted within ``period``-day blocks:
    a pair-preserving null (a pair keeps how often it trades each month, not on which days)."""
    from algorithms.significance import _group_permutation

    perm = _group_permutation(np.floor(c.t0 / period).astype(np.int64), rng)
    return Coded(c.s, c.r, c.t0[perm], c.fen, c.nodes)


def _bc(x: npt.NDArray[Any], weights: npt.ArrayLike | None = None, minlength: int = 0) -> F64:
    return np.asarray(np.bincount(x, weights=weights, minlength=minlength), dtype=np.float64)


def _ratio(a: F64, b: F64) -> F64:
    return np.asarray(np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0), dtype=np.float64)


def _next_match(from_key: F64, from_fen: F64, to_key: F64, to_fen: F64, w: float) -> F64:
    """1 where the first ``to`` event after each ``from`` event (same node, within ``w``) has an amount
    within :data:`MATCH_RATIO` of it; both key arrays sorted (node · span + t)."""
    j = np.searchsorted(to_key, from_key, side="right")
    ok = j < len(to_key)
    jj = np.minimum(j, len(to_key) - 1) if len(to_key) else np.zeros_like(j)
    if not len(to_key):
        return np.zeros(len(from_key))
    ok &= (to_key[jj] - from_key) <= w
    ratio = np.maximum(to_fen[jj], from_fen) / np.maximum(np.minimum(to_fen[jj], from_fen), 1.0)
    return np.asarray(ok & (ratio <= MATCH_RATIO), dtype=np.float64)

"""Repeated-pair bursts (多户短期重复开票): a company that invoices several of its partners repeatedly within days.

:func:`algorithms.patterns` ``split_burst`` judges one seller–buyer pair at a time: three or more
invoices on the pair within a window. A company that splits its invoicing with *many* partners leaves
pairs with only two invoices each; none is rare alone. This detector judges the company instead:

* the unit is a company on one side (as seller, 开票方; or as buyer, 受票方);
* its **opportunity** is the number of partners with at least two invoices in one calendar month
  (the pairs that could repeat within days);
* its **statistic** is how many of those partners it met twice or more within ``w`` days (a repeated
  pair), as a share of the opportunity (capped at 1), ties broken by the count;
* the **null** is the data's own: issue times permuted within calendar months, every invoice keeping its
  seller, buyer and amount (:func:`algorithms.significance.shuffle_times`: pair-preserving — regular
  partners that trade several times a month keep doing so; only how close together the repeats fall
  changes). Units of comparable opportunity share a stratum (:func:`algorithms.patterns.strata`);
  the p-value is the best over the data's burst windows, Bonferroni-corrected; Benjamini–Hochberg
  over every unit of both sides gives the q-value.

Members of a finding are the company and the partners it met repeatedly within the window; the evidence
(Chinese) names the subject's side, the partners, invoices, the opportunity and the null's typical count.

It needs issue times only (amounts are quoted when present): without ``issued_at`` it stays silent with
the other pattern detectors (:func:`algorithms.patterns.prepare`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms._tables import DAY
from algorithms.significance import bh_fdr, pq

if TYPE_CHECKING:
    from algorithms.patterns import Pattern, _Run

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
KIND = "repeat_pairs"
ZH = "多户短期重复开票"


class MonthSpans:
    """Pair-months with two or more invoices of one invoice table, to measure their spans under any issue times.

    A pair is *repeated within w days* when all its invoices of some month lie within ``w``: the split-up
    deal or the repeated payment. Times shuffled within months keep every pair's monthly counts (the same
    pair-months), so :meth:`spans` of the shuffled copies are this statistic's null.

    >>> ms = MonthSpans(np.array([0, 0, 1, 1, 0]), np.array([1, 1, 1, 2, 1]), 3)
    >>> ms.spans(np.array([10, 14, 0, 100, 40])).tolist(), ms.can.tolist()
    ([30.0, inf, inf], [True, False, False])
    """

    def __init__(self, pid: I64, month: I64, n_pairs: int) -> None:
        base = int(month.max()) + 1 if len(month) else 1
        grp = pid * base + month
        order = np.argsort(grp, kind="stable")
        g = grp[order]
        first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, dtype=np.int64)
        size = np.diff(np.r_[first, len(g)])
        many = size >= 2
        self._order, self._first, self._many = order, first, many
        self._pair = (g[first] // base)[many]
        self.n_pairs = n_pairs
        self.can = np.zeros(n_pairs, dtype=bool)
        self.can[self._pair] = True

    def spans(self, t: I64) -> F64:
        """Per pair id: the shortest span (seconds, first to last invoice) of its months with ≥ 2 invoices; inf
        for a pair without such a month."""
        out = np.full(self.n_pairs, np.inf)
        if not len(self._first):
            return out
        ts = t[self._order]
        span = (np.maximum.reduceat(ts, self._first) - np.minimum.reduceat(ts, self._first))[self._many]
        np.minimum.at(out, self._pair, span.astype(np.float64))
        return out

    def invoice_spans(self, t: I64) -> F64:
        """Per invoice: the span (seconds) of its pair's invoices in its month; inf when it is the only one."""
        out = np.full(len(t), np.inf)
        if not len(self._first):
            return out
        ts = t[self._order]
        span = (np.maximum.reduceat(ts, self._first) - np.minimum.reduceat(ts, self._first)).astype(np.float64)
        size = np.diff(np.r_[self._first, len(ts)])
        out[self._order] = np.repeat(np.where(size >= 2, span, np.inf), size)
        return out


def _side_counts(owner: I64, mask: npt.NDArray[np.bool_], n_units: int) -> F64:
    return np.bincount(owner[mask], minlength=n_units).astype(np.float64)


def repeat_pairs(run: _Run) -> tuple[list[Pattern], int]:
    """Significant repeated-pair bursts of one :func:`algorithms.patterns.detect_patterns` run, and units tested."""
    from algorithms.patterns import Pattern, best_setting, strata

    fl, p = run.fl, run.p
    pid, pairs = pd.factorize(fl.s * fl.n + fl.b)
    pid = np.asarray(pid, dtype=np.int64)
    pairs = np.asarray(pairs, dtype=np.int64)
    n_pairs = len(pairs)
    # units: seller side codes 0..n-1, buyer side codes n..2n-1; each pair belongs to one unit per side
    owner = np.concatenate([pairs // fl.n, fl.n + pairs % fl.n])
    n_units = 2 * fl.n
    ms = MonthSpans(pid, fl.month, n_pairs)
    obs_gap, can = ms.spans(fl.t), ms.can
    inv_span = ms.invoice_spans(fl.t)
    by_pair = np.argsort(pid, kind="stable")
    pair_lo = np.searchsorted(pid[by_pair], np.arange(n_pairs), side="left")
    pair_hi = np.searchsorted(pid[by_pair], np.arange(n_pairs), side="right")
    opp = _side_counts(owner, np.concatenate([can, can]), n_units)
    units = np.flatnonzero(opp >= 1)
    if len(units) == 0:
        return [], 0
    widths = [float(w) * DAY for w in run.windows]
    null_gaps = [ms.spans(tn) for tn in run.null_t]
    st = strata(opp[units], p.min_units)
    o = opp[units]

    def stat(gap: F64, w: float) -> F64:
        k = _side_counts(owner, np.concatenate([gap <= w, gap <= w]), n_units)[units]
        return np.asarray(np.minimum(k, o) / o + 1e-3 * k, dtype=np.float64)

    # at least one repeated pair (ratio > 0)
    best_p, best_w, typical = best_setting(widths, stat, obs_gap, null_gaps, st, o, 1e-3 * 2)
    reject, q = bh_fdr(best_p, p.fdr)
    out: list[Pattern] = []
    for i in np.flatnonzero(reject).tolist():
        u, wi = int(units[i]), int(best_w[i])
        w = widths[wi]
        seller_side = u < fl.n
        code = u if seller_side else u - fl.n
        mine = np.flatnonzero((owner[:n_pairs] if seller_side else owner[n_pairs:]) == u)
        rep = mine[obs_gap[mine] <= w]
        partners = (pairs[rep] % fl.n) if seller_side else (pairs[rep] // fl.n)
        idx = np.concatenate([by_pair[pair_lo[r]:pair_hi[r]] for r in rep.tolist()])
        idx = np.sort(idx[inv_span[idx] <= w])
        start, end = run.when(idx)
        k, m = len(rep), int(opp[u])
        amount = float(np.nansum(fl.a[idx])) if fl.has_amounts else float("nan")
        role, other = ("开票方", "购方") if seller_side else ("受票方", "销方")
        ev = [f"主体为{role} {run.name(code)}：与 {k} 家{other}各在 {w / DAY:g} 天内重复开票，共 {len(idx)} 张"
              + (f"，合计 ¥{amount / 100:,.0f}" if fl.has_amounts else ""),
              f"同月内有 2 张以上发票的{other}共 {m} 家；打乱开票时间（同月内，购销关系不变）后通常只有 "
              f"{typical[i]:.0f} 家在 {w / DAY:g} 天内重复",
              pq(best_p[i], q[i])]
        members = (run.name(code), *(run.name(int(x)) for x in np.unique(partners)))
        out.append(Pattern(KIND, run.name(code), members, run.keys(idx), start, end, float(k), float(typical[i]),
                           float(best_p[i]), float(q[i]), "", "，".join(ev),
                           {"side": "seller" if seller_side else "buyer", "window_days": w / DAY,
                            "repeated_partners": k, "opportunity": m, "invoices": int(len(idx)),
                            "total_fen": amount, "subject": run.name(code)}))
    return _distinct(out), int(len(units))


def _distinct(found: list[Pattern]) -> list[Pattern]:
    """One finding per member set: a pair repeated as the only partner on both sides (seller A's finding
    {A, B} and buyer B's finding {B, A}) is one structure, reported once from its more significant side."""
    best: dict[frozenset[str], Pattern] = {}
    for f in sorted(found, key=lambda f: (f.qvalue, f.pvalue, -f.statistic, f.details["side"] != "seller")):
        best.setdefault(frozenset(f.members), f)
    return list(best.values())


"""Invoices far below both parties' usual amounts (双方异常小额往来): a company that carries many of them.

Value passed inside a scheme need not look like either party's trade: a payment relation turned into
invoices, a token invoice that opens a relation, a ring's small transfers between companies whose ordinary
business runs at other amounts. One such invoice proves nothing (every market has small invoices); many
of them on one company, each far below what *both* sides usually trade at, is rare — unless the data
itself makes it common. This detector judges it against the data's own null:

* a party's **usual amount** is the 90th percentile (:data:`USUAL_QUANTILE`) of the totals of all its
  invoices (output and input) — the amounts it regularly trades at, not its rare largest deals — known for
  parties with at least :data:`MIN_INVOICES` invoices;
* an invoice is **far below both parties** when its total is below 1 / ``f`` (:data:`FACTORS`: ``f`` = 10;
  with several factors the best per unit, Bonferroni-corrected) of the seller's usual amount *and* below
  1 / ``f`` of the buyer's — a company that sells small goods to large buyers is not far below *its own*
  usual amounts, so its invoices do not count;
* the **unit** is a company (with a usual amount); its statistic is the share of its invoices that are far
  below both parties (ties broken by the count);
* the **null** is the same data with totals permuted among the invoices of the same calendar month (every
  invoice keeps its seller, buyer and time; the month's amount distribution is kept): usual amounts and
  the statistic are recomputed in every copy, units of comparable invoice count share a stratum
  (:func:`algorithms.patterns.strata`); Benjamini–Hochberg over every unit gives the q-value.

Members of a finding: the company (subject) and the counterparties of its invoices that are far below both
parties — for each of them the invoice is far below its own usual amounts too. Two findings with the same members
(two companies each the other's only such counterparty) are reported once, from the more significant side. The evidence (Chinese) names
the invoices, the factor, the counterparties and what the shuffled copies show.

Needs amounts (``total_fen`` or ``amount_fen``): without them, or when every amount is the same, it stays
silent (:func:`algorithms.patterns.prepare`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from algorithms.patterns_kernels import sorted_by_group
from algorithms.significance import bh_fdr, pq

if TYPE_CHECKING:
    from algorithms.patterns import Pattern, _Run

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
KIND = "low_amount"
ZH = "双方异常小额往来"
#: a party's usual amount: this quantile of the log totals of its invoices
USUAL_QUANTILE = 0.9
#: fewest invoices for a party's usual amount to be known
MIN_INVOICES = 5
#: "far below": the invoice's total is below 1 / factor of both parties' usual amounts (the best per unit)
FACTORS = (10.0,)


def usual_amounts(s: I64, b: I64, log_a: F64, n: int, *, quantile: float = USUAL_QUANTILE,
                  min_invoices: int = MIN_INVOICES) -> F64:
    """Per party: the ``quantile`` of the log totals of its invoices (as seller or buyer); NaN for a party
    with fewer than ``min_invoices`` invoices.

    >>> usual_amounts(np.array([0, 0, 0, 1]), np.array([1, 1, 1, 0]), np.log10([10., 100, 1000, 10]), 2,
    ...               quantile=0.75, min_invoices=4).round(2).tolist()
    [2.25, 2.25]
    """
    side = np.concatenate([s, b])
    cnt = np.bincount(side, minlength=n)
    v = sorted_by_group(side.astype(np.int64), np.concatenate([log_a, log_a]).astype(np.float64), len(cnt))
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    pos = (cnt - 1) * quantile
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    ok = cnt >= max(min_invoices, 1)
    out = np.full(n, np.nan)
    i = np.flatnonzero(ok)
    frac = pos[i] - lo[i]
    out[i] = v[start[i] + lo[i]] * (1 - frac) + v[start[i] + hi[i]] * frac
    return out


def below_both(s: I64, b: I64, log_a: F64, n: int) -> F64:
    """Per invoice: how far (log10) its total lies below the smaller of the two parties' usual amounts
    (NaN when either party's usual amount is unknown)."""
    u = usual_amounts(s, b, log_a, n)
    return np.asarray(np.minimum(u[s], u[b]) - log_a, dtype=np.float64)


def _permute_within(month: I64, x: F64, rng: np.random.Generator) -> F64:
    """``x`` permuted among the positions of the same month."""
    order = np.argsort(month, kind="stable")
    m = month[order]
    first = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    bounds = np.r_[first, len(m)]
    out = x.copy()
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        idx = order[lo:hi]
        out[idx] = x[rng.permutation(idx)]
    return out


def low_amount(run: _Run) -> tuple[list[Pattern], int]:
    """Significant low-amount units of one :func:`algorithms.patterns.detect_patterns` run, and units tested."""
    from algorithms.patterns import Pattern, best_setting, strata

    fl, p = run.fl, run.p
    n = fl.n
    log_a = np.log10(fl.a)
    cnt = np.bincount(np.concatenate([fl.s, fl.b]), minlength=n).astype(np.float64)
    usual = usual_amounts(fl.s, fl.b, log_a, n)
    units = np.flatnonzero(~np.isnan(usual))
    if len(units) == 0:
        return [], 0
    st = strata(cnt[units], p.min_units)
    o = cnt[units]
    logf = np.log10(np.asarray(FACTORS))
    # its own stream, seeded by the run's seed: the same copies whichever detectors run before it, and theirs untouched
    rng = np.random.default_rng([run.seed, 7])

    def counts(gap: F64, lf: float) -> F64:
        hit = gap >= lf
        k = np.bincount(np.concatenate([fl.s[hit], fl.b[hit]]), minlength=n).astype(np.float64)[units]
        return np.asarray(k / o + 1e-3 * k, dtype=np.float64)

    gap = below_both(fl.s, fl.b, log_a, n)
    null_gaps = [below_both(fl.s, fl.b, _permute_within(fl.month, log_a, rng), n) for _ in range(run.copies)]
    # a unit with no invoice that far below keeps p 1 (counts(...) > 1e-3 for one invoice or more)
    best_p, best_f, typical = best_setting(logf.tolist(), counts, gap, null_gaps, st, o, 1e-3)
    reject, q = bh_fdr(best_p, p.fdr)
    out: list[Pattern] = []
    for i in np.flatnonzero(reject).tolist():
        u, f = int(units[i]), FACTORS[int(best_f[i])]
        idx = np.flatnonzero(((fl.s == u) | (fl.b == u)) & (gap >= np.log10(f)))
        if not len(idx):                                      # p = 1 (nothing far below), kept only at fdr 1
            continue
        partners = np.unique(np.where(fl.s[idx] == u, fl.b[idx], fl.s[idx]))
        start, end = run.when(idx)
        amount = float(np.nansum(fl.a[idx]))
        usual_fen = 10 ** usual[u]
        ev = [f"主体 {run.name(u)}：{len(idx)} 张发票（共 {int(cnt[u])} 张）金额不足交易双方各自常规金额的 1/{f:g}"
              f"（本企业常规金额约 ¥{usual_fen / 100:,.0f}，按其发票金额第 90 百分位），合计 ¥{amount / 100:,.0f}，"
              f"涉及 {len(partners)} 家往来方，对其而言同样远低于其常规金额",
              f"同月内打乱发票金额（购销关系与开票时间不变）后通常只有 {typical[i]:.0f} 张",
              pq(best_p[i], q[i])]
        members = (run.name(u), *(run.name(int(x)) for x in partners))
        out.append(Pattern(KIND, run.name(u), members, run.keys(idx), start, end, float(len(idx)),
                           float(typical[i]), float(best_p[i]), float(q[i]), "", "，".join(ev),
                           {"factor": f, "invoices": int(len(idx)), "of_invoices": int(cnt[u]),
                            "usual_fen": round(float(usual_fen)), "total_fen": amount,
                            "counterparties": int(len(partners)), "subject": run.name(u)}))
    return _distinct(out), int(len(units))


def _distinct(found: list[Pattern]) -> list[Pattern]:
    """One finding per member set: two companies each other's only such counterparty (A's finding {A, B} and
    B's finding {B, A}) are one structure, reported once from its more significant side."""
    best: dict[frozenset[str], Pattern] = {}
    for f in sorted(found, key=lambda f: (f.qvalue, f.pvalue, -f.statistic, f.anchor)):
        best.setdefault(frozenset(f.members), f)
    return sorted(best.values(), key=lambda f: (f.qvalue, f.pvalue, f.anchor))

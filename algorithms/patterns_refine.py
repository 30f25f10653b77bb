"""Exact-enough p-values for the burst detectors' strongest units (逐户零模型细化).

The burst tests of :mod:`algorithms.patterns` (fan-in / fan-out, gather-scatter, split invoicing) first
compare each unit with the pooled null of its stratum: the statistics of comparable units in the
``null_copies`` shuffled copies. That p-value cannot fall below about 1 / (copies × units in the stratum),
and on larger data (fewer copies fit into the shuffling budget, more units share the false discovery rate)
that floor sits above what Benjamini–Hochberg needs for even one discovery: on the generator's default
profile at 3,000 taxpayers / 100,000 invoices a planted fan-in hub met 6 of its 6 sellers in 4 days
(p ≈ 0.007, the floor, q 0.81) and no fan burst was reported at all.

For the units that could be discoveries (pooled p ≤ the FDR) the p-value is recomputed against the unit's
**own** null under the same model: each of its invoices gets an issue time drawn from the issue times of
its calendar month (what the within-month shuffle does to it), many times over, and the statistic (the
share of its busiest month's counterparties met within the window, capped at 1) is recomputed on each draw.
p = (1 + draws at least as extreme) / (1 + draws), best over the windows, Bonferroni-corrected. Every
candidate first gets MIN_DRAWS draws; the candidates that no draw reached (p at that floor: the real bursts)
get as many as Benjamini–Hochberg needs to resolve one discovery among all units (units × windows ÷ FDR, twice
over), within an event budget.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from algorithms.patterns_kernels import draws_breadth

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
#: fewest and most draws of one unit's own null; events drawn per unit, and per test over all its units, at most
MIN_DRAWS, MAX_DRAWS, UNIT_BUDGET, TEST_BUDGET = 1_000, 50_000, 2_000_000, 30_000_000


class MonthPools:
    """Issue times grouped by calendar month: draws a time of the same month for any invoice.

    >>> pools = MonthPools(np.array([5, 1, 9, 40]), np.array([1, 1, 1, 2]))
    >>> d = pools.draw(np.array([1, 2]), np.random.default_rng(0), 4)
    >>> d.shape, set(d[:, 0].tolist()) <= {1, 5, 9}, set(d[:, 1].tolist())
    ((4, 2), True, {40})
    """

    def __init__(self, t: I64, month: I64) -> None:
        order = np.argsort(month, kind="stable")
        self._t = t[order]
        self._months, self._start = np.unique(month[order], return_index=True)
        self._size = np.diff(np.r_[self._start, len(order)])

    def draw(self, month: I64, rng: np.random.Generator, draws: int) -> I64:
        """``draws`` × len(month) issue times, each drawn from its column's month."""
        first, size = self.months_of(month)
        pick = first + (rng.random((draws, len(month))) * size).astype(np.int64)
        return np.asarray(self._t[pick], dtype=np.int64)

    def months_of(self, month: I64) -> tuple[I64, I64]:
        """Where each month's issue times start in :attr:`times`, and how many it holds."""
        m = np.searchsorted(self._months, month)
        return self._start[m], self._size[m]

    @property
    def times(self) -> I64:
        """The issue times, grouped by month."""
        return self._t


def draws_needed(units: int, windows: int, fdr: float, events: int = 0) -> int:
    """Draws that resolve the p-value one discovery among ``units`` needs (p ≤ fdr / (units × windows)), twice
    over, between MIN_DRAWS and MAX_DRAWS, and fewer when the candidates' ``events`` would exceed TEST_BUDGET.

    >>> draws_needed(240, 4, 0.05), draws_needed(2, 1, 0.05), draws_needed(10_000, 4, 0.05)
    (38400, 1000, 50000)
    >>> draws_needed(240, 4, 0.05, events=3_000)
    10000
    """
    want = int(np.clip(np.ceil(2 * units * windows / fdr), MIN_DRAWS, MAX_DRAWS))
    return max(MIN_DRAWS, min(want, TEST_BUDGET // max(events, 1)))


def own_null(events: I64, cp: I64, month: I64, side: I64 | None, pools: MonthPools, widths_s: list[int],
             obs_stat: I64, breadth: float, min_stat: int, draws: int,
             rng: np.random.Generator) -> tuple[float, int, float]:
    """One unit's (p-value, best window index, its null median statistic there) against its own null.

    ``events`` index the caller's event arrays (``cp``, ``month``, ``side``); ``obs_stat`` holds the unit's
    observed statistic per window; windows where it is below ``min_stat`` are not tested (p = 1).
    """
    n_e = len(events)
    draws = max(1, min(draws, UNIT_BUDGET // max(n_e, 1)))
    first, size = pools.months_of(month[events])
    u = rng.random((draws, n_e))                 # the draws of MonthPools.draw, times picked in the kernel
    _, codes = np.unique(cp[events], return_inverse=True)
    sides = np.zeros(n_e, dtype=np.int64) if side is None else side[events].astype(np.int64)
    stat = draws_breadth(u, first.astype(np.int64), size.astype(np.int64), pools.times, codes.astype(np.int64),
                         sides, np.asarray(widths_s, dtype=np.int64), int(codes.max(initial=0)) + 1,
                         side is not None)
    best_p, best_w, typical, best_obs = 1.0, 0, float("nan"), -1.0
    for wi in range(len(widths_s)):
        if obs_stat[wi] < min_stat:
            continue
        ratio = np.minimum(stat[wi], breadth) / breadth + 1e-3 * stat[wi]
        obs = min(float(obs_stat[wi]), breadth) / breadth + 1e-3 * float(obs_stat[wi])
        pv = min(1.0, (1 + float((ratio >= obs - 1e-12).sum())) / (1 + draws) * len(widths_s))
        if pv < best_p or (pv == best_p and obs > best_obs):   # equally rare: the window holding more of the burst
            best_p, best_w, typical, best_obs = pv, wi, float(np.median(stat[wi])), obs
    return best_p, best_w, typical

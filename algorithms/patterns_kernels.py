"""numba kernels of the temporal pattern detectors (see :mod:`algorithms.patterns`).

Every kernel walks events already sorted by (group, time) and releases nothing but small arrays: one
pass, O(events), with a counter array indexed by counterparty code that is cleared as the window
moves on (so it never needs resetting between groups).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@njit(cache=True)
def window_breadth(starts: I64, ends: I64, t: I64, cp: I64, side: I64, widths: I64,
                   n_codes: int, both: bool) -> tuple[I64, I64, I64, I64, I64]:
    """Per window width and group ``[starts[g], ends[g])`` of time-sorted events, the most distinct
    counterparties met inside any window of that many seconds.

    With ``both`` the events carry a ``side`` (0 = in, 1 = out) and the statistic is
    min(distinct in-counterparties, distinct out-counterparties) of one window (gather-scatter);
    otherwise it is the distinct count (fan bursts). Returns (stat, lo, hi, distinct_in, distinct_out),
    each shaped (widths, groups): the best window is events ``lo..hi-1`` (the first reaching the maximum).
    """
    n_groups = len(starts)
    shape = (len(widths), n_groups)
    stat = np.zeros(shape, dtype=np.int64)
    best_lo = np.zeros(shape, dtype=np.int64)
    best_hi = np.zeros(shape, dtype=np.int64)
    best_in = np.zeros(shape, dtype=np.int64)
    best_out = np.zeros(shape, dtype=np.int64)
    count = np.zeros(2 * n_codes, dtype=np.int64)
    for wi in range(len(widths)):
        width = widths[wi]
        for g in range(n_groups):
            lo = starts[g]
            d_in = 0
            d_out = 0
            for j in range(starts[g], ends[g]):
                k = cp[j] + (n_codes * side[j] if both else 0)
                if count[k] == 0:
                    if both and side[j] == 1:
                        d_out += 1
                    else:
                        d_in += 1
                count[k] += 1
                while t[j] - t[lo] > width:
                    k0 = cp[lo] + (n_codes * side[lo] if both else 0)
                    count[k0] -= 1
                    if count[k0] == 0:
                        if both and side[lo] == 1:
                            d_out -= 1
                        else:
                            d_in -= 1
                    lo += 1
                s = min(d_in, d_out) if both else d_in
                if s > stat[wi, g]:
                    stat[wi, g] = s
                    best_lo[wi, g] = lo
                    best_hi[wi, g] = j + 1
                    best_in[wi, g] = d_in
                    best_out[wi, g] = d_out
            for i in range(lo, ends[g]):
                count[cp[i] + (n_codes * side[i] if both else 0)] -= 1
    return stat, best_lo, best_hi, best_in, best_out


@njit(cache=True)
def draws_breadth(u: F64, first: I64, size: I64, pool_t: I64, cp: I64, side: I64, widths: I64, n_codes: int,
                  both: bool) -> I64:
    """:func:`window_breadth`'s statistic for one unit's events in each of many draws of their issue times (the
    own-null draws of :mod:`algorithms.patterns_refine`). ``u`` holds uniform draws shaped (draws, events); event
    ``e`` of draw ``d`` is issued at ``pool_t[first[e] + int(u[d, e] * size[e])]`` (a time of its month, as
    :meth:`algorithms.patterns_refine.MonthPools.draw` picks it); ``cp`` / ``side`` are the events' counterparty
    codes and sides. Each draw's events are taken in time order (the statistic does not depend on the order of
    equal times: the most counterparties in a window is reached at the last of them). Returns the statistic
    shaped (widths, draws): what window_breadth gives over the draws as groups of time-sorted events, without
    materialising, sorting and gathering the draws in arrays of their own first. Events with distinct
    counterparties (split invoicing: every invoice its own) are counted by window length alone."""
    n_draws, n_e = u.shape
    stat = np.zeros((len(widths), n_draws), dtype=np.int64)
    count = np.zeros(2 * n_codes, dtype=np.int64)
    times = np.empty(n_e, dtype=np.int64)
    t = np.empty(n_e, dtype=np.int64)
    k = np.empty(n_e, dtype=np.int64)
    out = np.empty(n_e, dtype=np.bool_)
    order = np.empty(n_e, dtype=np.int64)
    distinct = not both and n_codes == n_e
    for d in range(n_draws):
        for e in range(n_e):
            times[e] = pool_t[first[e] + np.int64(u[d, e] * size[e])]
        if n_e > 32:
            for i in range(n_e):
                order[i] = i
            _shell_sort_by(order, times)
        else:                                 # a few events (most units): insertion sort as the events come
            for i in range(n_e):
                e = i
                while e > 0 and times[order[e - 1]] > times[i]:
                    order[e] = order[e - 1]
                    e -= 1
                order[e] = i
        if distinct:
            for i in range(n_e):
                t[i] = times[order[i]]
            for wi in range(len(widths)):
                width = widths[wi]
                lo = 0
                best = 0
                for j in range(n_e):
                    while t[j] - t[lo] > width:
                        lo += 1
                    if j - lo + 1 > best:
                        best = j - lo + 1
                stat[wi, d] = best
            continue
        for i in range(n_e):
            e = order[i]
            t[i] = times[e]
            k[i] = cp[e] + (n_codes * side[e] if both else 0)
            out[i] = both and side[e] == 1
        for wi in range(len(widths)):
            width = widths[wi]
            lo = 0
            d_in = 0
            d_out = 0
            best = 0
            for j in range(n_e):
                if count[k[j]] == 0:
                    if out[j]:
                        d_out += 1
                    else:
                        d_in += 1
                count[k[j]] += 1
                while t[j] - t[lo] > width:
                    count[k[lo]] -= 1
                    if count[k[lo]] == 0:
                        if out[lo]:
                            d_out -= 1
                        else:
                            d_in -= 1
                    lo += 1
                s = min(d_in, d_out) if both else d_in
                if s > best:
                    best = s
            stat[wi, d] = best
            for i in range(lo, n_e):
                count[k[i]] -= 1
    return stat


@njit(cache=True)
def sorted_by_group(group: I64, v: F64, n_groups: int) -> F64:
    """The values of ``v`` grouped by ``group`` (codes 0 … n_groups − 1, in code order) and sorted within each
    group, NaN last: the values of ``v[np.lexsort((v, group))]``, by one counting pass and a sort of each group
    (a lexsort of the whole array per null copy was most of :func:`algorithms.patterns_low.usual_amounts`)."""
    bounds = np.zeros(n_groups + 1, dtype=np.int64)
    for g in group:
        bounds[g + 1] += 1
    for i in range(n_groups):
        bounds[i + 1] += bounds[i]
    pos = bounds[:-1].copy()
    out = np.empty(len(v), dtype=np.float64)
    for i in range(len(v)):
        out[pos[group[i]]] = v[i]
        pos[group[i]] += 1
    for g in range(n_groups):
        if bounds[g + 1] - bounds[g] > 1:
            _shell_sort(out[bounds[g]:bounds[g + 1]])
    return out


# Shell sorts (Ciura's gaps, then ×2.25): small to compile, unlike numba's np.sort / np.argsort (5 and 3 s of a
# cold cache's first detection), and quick on the few to few thousand values sorted at a time here.
_GAPS = np.array([1, 4, 10, 23, 57, 132, 301, 701, 1577, 3548, 7983, 17961, 40412, 90927, 204585, 460316,
                  1035711, 2330349, 5243285, 11797391, 26544129], dtype=np.int64)


@njit(cache=True)
def _before(a: float, b: float) -> bool:
    """a sorts before b: ascending, NaN last (as np.sort)."""
    return a < b or (b != b and a == a)


@njit(cache=True)
def _shell_sort(x: F64) -> None:
    """Sort ``x`` in place, ascending, NaN last (the same values, in the same order, as ``np.sort``)."""
    n = len(x)
    k = 0
    while k + 1 < len(_GAPS) and _GAPS[k + 1] < n:
        k += 1
    while k >= 0:
        gap = _GAPS[k]
        for i in range(gap, n):
            v = x[i]
            j = i
            while j >= gap and _before(v, x[j - gap]):
                x[j] = x[j - gap]
                j -= gap
            x[j] = v
        k -= 1


@njit(cache=True)
def _shell_sort_by(order: I64, key: I64) -> None:
    """Sort the indices ``order`` in place by ``key[order]`` ascending (ties in no particular order)."""
    n = len(order)
    k = 0
    while k + 1 < len(_GAPS) and _GAPS[k + 1] < n:
        k += 1
    while k >= 0:
        gap = _GAPS[k]
        for i in range(gap, n):
            v = order[i]
            j = i
            while j >= gap and key[v] < key[order[j - gap]]:
                order[j] = order[j - gap]
                j -= gap
            order[j] = v
        k -= 1

"""numba kernel of the temporal cycle search (see :mod:`algorithms.cycles`).

Each depth-first frame first gathers its candidate hops into a shared stack buffer, then walks them in
time order. With a drift gate, candidates come from an *amount-band index*: a taxpayer's outgoing
invoices grouped by time slot (``window`` long) and sorted by total inside a slot, so only invoices
within ``gate`` of the previous hop's total are touched (two binary searches per slot, at most two
slots per frame) instead of every invoice of a trading hub in the window. Without a gate the frame
takes every invoice in ``(t, deadline]`` from the time-ordered list, as before. Both orders are
(time, invoice index), so the search visits exactly the hops the plain time scan would.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@njit(cache=True)
def first_after(times: I64, lo: int, hi: int, t: int) -> int:
    """Index of the first element of ``times[lo:hi]`` greater than ``t`` (``hi`` when none)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _first_at_least(vals: F64, lo: int, hi: int, x: float) -> int:
    while lo < hi:
        mid = (lo + hi) // 2
        if vals[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _gather(
    y: int, t: int, deadline: int, prev_amt: float, gate: float, gated: bool, w: int, cs: int,
    e_dst: I64, e_time: I64, e_amt: F64, comp: I64,
    out_ptr: I64, out_edge: I64, out_time: I64,
    band_ptr: I64, band_edge: I64, band_amt: F64, n_slots: int, t0: int, window: int,
    cand: I64, top: int,
) -> int:
    """Push keys ``(time - t0) * n_edges + edge`` of ``y``'s usable hops in ``(t, deadline]`` onto
    ``cand`` from ``top``, in time order; returns the new top."""
    n_e = e_dst.shape[0]
    hi_top = top
    if gated:
        lo_amt = prev_amt - gate * prev_amt
        up_amt = prev_amt + gate * prev_amt
        slack = 1e-9 * (abs(prev_amt) + 1.0)       # widen the search; the exact test decides
        first_slot = (t - t0) // window
        last_slot = min((deadline - t0) // window, n_slots - 1)
        for sl in range(first_slot, last_slot + 1):
            b = y * n_slots + sl
            lo = _first_at_least(band_amt, band_ptr[b], band_ptr[b + 1], lo_amt - slack)
            for j in range(lo, band_ptr[b + 1]):
                if band_amt[j] > up_amt + slack:
                    break
                e = band_edge[j]
                te = e_time[e]
                if te <= t or te > deadline or comp[w, e_dst[e]] != cs:
                    continue
                if abs(e_amt[e] - prev_amt) > gate * prev_amt:
                    continue
                cand[hi_top] = (te - t0) * n_e + e
                hi_top += 1
        if hi_top - top > 1:
            cand[top:hi_top].sort()
    else:
        j = first_after(out_time, out_ptr[y], out_ptr[y + 1], t)
        while j < out_ptr[y + 1] and out_time[j] <= deadline:
            e = out_edge[j]
            if comp[w, e_dst[e]] == cs:
                cand[hi_top] = (out_time[j] - t0) * n_e + e
                hi_top += 1
            j += 1
    return hi_top


@njit(cache=True)
def _closing_edge(y: int, s: int, t: int, deadline: int, prev_amt: float, gate: float, e_amt: F64,
                  in_ptr: I64, pair_src: I64, pair_time: I64, pair_edge: I64) -> int:
    """First invoice ``y → s`` in ``(t, deadline]`` (time, index order) passing the gate; -1 if none.

    ``pair_*`` hold each taxpayer's incoming invoices sorted by (seller, time)."""
    lo = first_after(pair_src, in_ptr[s], in_ptr[s + 1], y - 1)      # invoices of s sold by y
    stop = first_after(pair_src, lo, in_ptr[s + 1], y)
    j = first_after(pair_time, lo, stop, t)
    while j < stop and pair_time[j] <= deadline:
        e = pair_edge[j]
        if abs(e_amt[e] - prev_amt) <= gate * prev_amt:
            return int(e)
        j += 1
    return -1


@njit(cache=True)
def search(
    n_nodes: int, e_src: I64, e_dst: I64, e_time: I64, e_amt: F64, gate: float,
    out_ptr: I64, out_edge: I64, out_time: I64, in_ptr: I64, in_time: I64, comp: I64, start_edges: I64,
    band_ptr: I64, band_edge: I64, band_amt: F64, cand: I64, pair_src: I64, pair_time: I64, pair_edge: I64,
    first: int, window: int, t0: int, min_len: int, max_len: int, max_expansions: int, out: I64,
) -> tuple[int, int, int, int, int]:
    """Depth-first time-respecting search from each start edge; writes edge-index rows into ``out``.

    Per frame, the node's usable hops are walked in time order; only the first one to each neighbour
    is followed (``seen[depth, node]``): it dominates every later parallel invoice for reachability.
    Returns (next start position to process, rows written, truncated starts, hops followed, candidates
    gathered)."""
    n_out = 0
    truncated = 0
    followed = 0
    gathered = 0
    n_e = e_dst.shape[0]
    n_slots = comp.shape[0]
    gated = gate < np.inf
    on_path = np.zeros(n_nodes, dtype=np.bool_)
    seen = np.full((max_len + 1, n_nodes), -1, dtype=np.int64)
    path_edge = np.empty(max_len, dtype=np.int64)
    cur = np.empty(max_len + 1, dtype=np.int64)    # next candidate to try, per depth
    end = np.empty(max_len + 1, dtype=np.int64)
    node_at = np.empty(max_len + 1, dtype=np.int64)
    frame_at = np.empty(max_len + 1, dtype=np.int64)
    frame = 0
    for p in range(first, start_edges.shape[0]):
        if n_out + 64 > out.shape[0]:
            return p, n_out, truncated, followed, gathered
        e0 = start_edges[p]
        s = e_src[e0]
        v = e_dst[e0]
        ts = e_time[e0]
        deadline = ts + window
        w = (ts - t0) // window
        cs = comp[w, s]
        if cs < 0 or comp[w, v] != cs:
            continue
        # prune: s must receive an invoice in (ts, deadline]
        k = first_after(in_time, in_ptr[s], in_ptr[s + 1], ts)
        if k >= in_ptr[s + 1] or in_time[k] > deadline:
            continue
        # every hop must come no later than the last invoice s receives by the deadline
        deadline = in_time[first_after(in_time, k, in_ptr[s + 1], deadline) - 1]
        path_edge[0] = e0
        on_path[s] = True
        on_path[v] = True
        depth = 1                    # number of edges on the path
        node_at[depth] = v
        frame += 1
        frame_at[depth] = frame
        cur[depth] = 0
        end[depth] = _gather(v, ts, deadline, e_amt[e0], gate, gated, w, cs, e_dst, e_time, e_amt, comp,
                             out_ptr, out_edge, out_time, band_ptr, band_edge, band_amt, n_slots, t0, window,
                             cand, 0)
        gathered += end[depth]
        expansions = 0
        while depth >= 1:
            j = cur[depth]
            if j >= end[depth] or expansions > max_expansions:
                if expansions > max_expansions and depth == 1:
                    truncated += 1
                on_path[node_at[depth]] = False
                depth -= 1
                continue
            cur[depth] = j + 1
            e = cand[j] % n_e
            y = e_dst[e]
            if seen[depth, y] == frame_at[depth]:
                continue
            if y != s and on_path[y]:
                continue
            seen[depth, y] = frame_at[depth]
            expansions += 1
            followed += 1
            if y == s:
                if depth + 1 >= min_len:
                    for q in range(depth):
                        out[n_out, q] = path_edge[q]
                    out[n_out, depth] = e
                    for q in range(depth + 1, max_len):
                        out[n_out, q] = -1
                    n_out += 1
                    if n_out >= out.shape[0]:
                        on_path[:] = False
                        return p + 1, n_out, truncated, followed, gathered
                continue
            if depth + 1 >= max_len:
                continue          # no room left to come back to s
            if depth + 2 == max_len:
                # y's frame could only close the loop: look up y → s directly
                if depth + 2 >= min_len:
                    c = _closing_edge(y, s, e_time[e], deadline, e_amt[e], gate, e_amt, in_ptr, pair_src,
                                      pair_time, pair_edge)
                    if c >= 0:
                        for q in range(depth):
                            out[n_out, q] = path_edge[q]
                        out[n_out, depth] = e
                        out[n_out, depth + 1] = c
                        for q in range(depth + 2, max_len):
                            out[n_out, q] = -1
                        n_out += 1
                        if n_out >= out.shape[0]:
                            on_path[:] = False
                            return p + 1, n_out, truncated, followed, gathered
                continue
            path_edge[depth] = e
            top = end[depth]
            depth += 1
            node_at[depth] = y
            frame += 1
            frame_at[depth] = frame
            cur[depth] = top
            end[depth] = _gather(y, e_time[e], deadline, e_amt[e], gate, gated, w, cs, e_dst, e_time, e_amt,
                                 comp, out_ptr, out_edge, out_time, band_ptr, band_edge, band_amt, n_slots, t0,
                                 window, cand, top)
            gathered += end[depth] - top
            on_path[y] = True
        on_path[s] = False
    return start_edges.shape[0], n_out, truncated, followed, gathered

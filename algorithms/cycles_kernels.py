"""numba kernel of the temporal cycle search (see :mod:`algorithms.cycles`).

Each depth-first frame first gathers its candidate hops into a shared stack buffer, then walks them in
time order. With a drift gate, candidates come from an *amount-band index*: a taxpayer's outgoing
invoices grouped by time slot (``window`` long) and sorted by total inside a slot, so only invoices
in ``[lo_f, up_f]`` × the loop's first invoice's total are touched (two binary searches per slot, at most
two slots per frame) instead of every invoice of a trading hub in the window. Without a gate the frame
takes every invoice in ``(t, deadline]`` from the time-ordered list. Both orders are (time, invoice
index), so the search visits exactly the hops the plain time scan would.

Before a start is searched, :func:`_reach` walks backwards from its seller (temporal reachability, as in
2SCENT and Blanuša et al. 2023) and the frames push no hop into a taxpayer that cannot get back in time
with the hops left. A per-start memo of dead ends (:func:`search`, after 2SCENT's closing times) skips a
taxpayer reached again no earlier and no shallower than when it was last shown to lead nowhere (with the
reachability walk it rarely fires); and :func:`search` releases the GIL, so threads search disjoint ranges
of start invoices at once.
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
    y: int, t: int, deadline: int, prev_amt: float, lo_f: float, up_f: float, gated: bool, w: int, cs: int,
    e_dst: I64, e_time: I64, e_amt: F64, comp: I64,
    out_ptr: I64, out_edge: I64, out_time: I64, out_dst: I64,
    band_ptr: I64, band_edge: I64, band_amt: F64, band_time: I64, band_dst: I64, n_slots: int, t0: int, window: int,
    cand: I64, top: int, memo_at: I64, memo_t: I64, memo_d: I64, p: int, d_next: int, skips: I64,
    s: int, reach_hops: int, ld: I64, ld_at: I64,
) -> int:
    """Push keys ``(time - t0) * n_edges + edge`` of ``y``'s usable hops in ``(t, deadline]`` onto
    ``cand`` from ``top``, in time order; returns the new top. Hops into a taxpayer the memo already
    rules out (see :func:`search`) are not pushed; ``skips[0]`` counts them. Nor is a hop into a taxpayer
    other than the start ``s`` that cannot get back to ``s`` in time with the hops left, when at most
    ``reach_hops`` are left (see :func:`_reach`); ``skips[1]`` counts them."""
    n_e = e_dst.shape[0]
    hi_top = top
    rem = ld.shape[1] - d_next           # hops left after this one (ld has max_len rows)
    check = rem <= reach_hops
    if gated:
        lo_amt = prev_amt * lo_f
        up_amt = prev_amt * up_f
        slack = 1e-9 * (abs(prev_amt) + 1.0)       # widen the search; the exact test decides
        first_slot = (t - t0) // window
        last_slot = min((deadline - t0) // window, n_slots - 1)
        for sl in range(first_slot, last_slot + 1):
            b = y * n_slots + sl
            lo = _first_at_least(band_amt, band_ptr[b], band_ptr[b + 1], lo_amt - slack)
            for j in range(lo, band_ptr[b + 1]):
                if band_amt[j] > up_amt + slack:
                    break
                te = band_time[j]             # band_* run parallel to band_edge: no random reads
                z = band_dst[j]
                if te <= t or te > deadline or comp[w, z] != cs:
                    continue
                if band_amt[j] < lo_amt or band_amt[j] > up_amt:
                    continue
                e = band_edge[j]
                if memo_at[z] == p and te >= memo_t[z] and d_next >= memo_d[z]:
                    skips[0] += 1
                    continue
                if check and z != s and (ld_at[z] != p or te >= ld[z, rem]):
                    skips[1] += 1
                    continue
                cand[hi_top] = (te - t0) * n_e + e
                hi_top += 1
        if hi_top - top > 1:
            cand[top:hi_top].sort()
    else:
        j = first_after(out_time, out_ptr[y], out_ptr[y + 1], t)
        while j < out_ptr[y + 1] and out_time[j] <= deadline:
            e = out_edge[j]
            z = out_dst[j]
            te = out_time[j]
            j += 1
            if comp[w, z] != cs:
                continue
            if memo_at[z] == p and te >= memo_t[z] and d_next >= memo_d[z]:
                skips[0] += 1
                continue
            if check and z != s and (ld_at[z] != p or te >= ld[z, rem]):
                skips[1] += 1
                continue
            cand[hi_top] = (te - t0) * n_e + e
            hi_top += 1
    return hi_top


@njit(cache=True)
def _leaves(y: int, t: int, deadline: int, lo_amt: float, up_amt: float, gated: bool, w: int, cs: int, comp: I64,
            out_ptr: I64, out_time: I64, out_dst: I64, band_ptr: I64, band_amt: F64, band_time: I64, band_dst: I64,
            t0: int, window: int) -> bool:
    """Whether ``y`` has any usable hop in ``(t, deadline]`` (total in ``[lo_amt, up_amt]`` when gated)."""
    n_slots = comp.shape[0]
    if gated:
        slack = 1e-9 * (max(abs(lo_amt), abs(up_amt)) + 1.0)
        for sl in range((t - t0) // window, min((deadline - t0) // window, n_slots - 1) + 1):
            b = y * n_slots + sl
            for j in range(_first_at_least(band_amt, band_ptr[b], band_ptr[b + 1], lo_amt - slack), band_ptr[b + 1]):
                a = band_amt[j]
                if a > up_amt + slack:
                    break
                if t < band_time[j] <= deadline and lo_amt <= a <= up_amt and comp[w, band_dst[j]] == cs:
                    return True
        return False
    j = first_after(out_time, out_ptr[y], out_ptr[y + 1], t)
    while j < out_ptr[y + 1] and out_time[j] <= deadline:
        if comp[w, out_dst[j]] == cs:
            return True
        j += 1
    return False


NEVER = -(1 << 62)         # a latest departure meaning "cannot get back"


@njit(cache=True)
def _reach(
    s: int, ts: int, deadline: int, base: float, lo_f: float, up_f: float, gated: bool, w: int, cs: int, comp: I64,
    in_ptr: I64, in_time: I64, in_src: I64, ib_ptr: I64, ib_amt: F64, ib_time: I64, ib_src: I64, t0: int, window: int,
    p: int, hops: int, ld: I64, ld_at: I64, cur: I64, scanned: I64, front: I64, fval: I64, nxt: I64, in_nxt: I64,
    touched: I64,
) -> tuple[int, int]:
    """Latest departures back to the start ``s`` (temporal reachability, after 2SCENT / Blanuša et al. 2023).

    Walks the usable hops backwards from ``s``, hop count by hop count up to ``hops``, keeping only hops in
    ``(ts, deadline]``
    that pass the gate and stay in the start's component: afterwards, for every taxpayer ``x`` with
    ``ld_at[x] == p``, ``ld[x, r]`` (``r <= hops``) is the latest time at which a time-ordered path of at most ``r`` hops can
    leave ``x`` and reach ``s`` by ``deadline`` (``NEVER`` when none; taxpayers never reached are left
    with ``ld_at[x] != p``). A hop into ``x`` at time ``te`` with ``r`` hops left can only lie on a loop when
    ``te < ld[x, r]``. Paths need not be simple, so this over-approximates and prunes nothing that
    closes. ``scanned[x]``: the hops into ``x`` below it were already relaxed (each is read once, not
    once per round). Returns (taxpayers reached, hops read)."""
    max_len = ld.shape[1]
    rounds = min(max_len - 1, hops)
    n_slots = comp.shape[0]
    ld_at[s] = p
    ld[s, :] = deadline + 1              # at s: any arrival up to the deadline closes
    n_t = 0
    touched[n_t] = s
    n_t += 1
    scanned[s] = ts + 1
    cur[s] = deadline + 1
    front[0] = s
    fval[0] = deadline + 1
    nf = 1
    read = 0
    lo_amt = base * lo_f
    up_amt = base * up_f
    slack = 1e-9 * (abs(base) + 1.0)
    for r in range(1, rounds + 1):
        stamp = p * max_len + r
        nn = 0
        for i in range(nf):
            x = front[i]
            hi = fval[i]                 # relax hops into x with time in [lo, hi)
            lo = scanned[x]
            if hi <= lo:
                continue
            scanned[x] = hi
            if gated:
                first_slot = (lo - t0) // window
                last_slot = min((hi - 1 - t0) // window, n_slots - 1)
                for sl in range(first_slot, last_slot + 1):
                    b = x * n_slots + sl
                    j0 = _first_at_least(ib_amt, ib_ptr[b], ib_ptr[b + 1], lo_amt - slack)
                    for j in range(j0, ib_ptr[b + 1]):
                        a = ib_amt[j]
                        if a > up_amt + slack:
                            break
                        te = ib_time[j]
                        if te < lo or te >= hi or a < lo_amt or a > up_amt:
                            continue
                        read += 1
                        u = ib_src[j]
                        if u == s or comp[w, u] != cs:
                            continue
                        if ld_at[u] != p:
                            ld_at[u] = p
                            ld[u, :] = NEVER
                            cur[u] = NEVER
                            scanned[u] = ts + 1
                            touched[n_t] = u
                            n_t += 1
                        if te > cur[u]:
                            cur[u] = te
                            if in_nxt[u] != stamp:
                                in_nxt[u] = stamp
                                nxt[nn] = u
                                nn += 1
            else:
                j = first_after(in_time, in_ptr[x], in_ptr[x + 1], lo - 1)
                while j < in_ptr[x + 1] and in_time[j] < hi:
                    te = in_time[j]
                    u = in_src[j]
                    j += 1
                    read += 1
                    if u == s or comp[w, u] != cs:
                        continue
                    if ld_at[u] != p:
                        ld_at[u] = p
                        ld[u, :] = NEVER
                        cur[u] = NEVER
                        scanned[u] = ts + 1
                        touched[n_t] = u
                        n_t += 1
                    if te > cur[u]:
                        cur[u] = te
                        if in_nxt[u] != stamp:
                            in_nxt[u] = stamp
                            nxt[nn] = u
                            nn += 1
        for i in range(nn):
            u = nxt[i]
            ld[u, r] = cur[u]
            front[i] = u
            fval[i] = cur[u]
        nf = nn
        if nf == 0:
            break
    for i in range(1, n_t):              # at most r hops: the best over 0..r
        x = touched[i]
        for r in range(1, rounds + 1):
            if ld[x, r - 1] > ld[x, r]:
                ld[x, r] = ld[x, r - 1]
    return n_t, read


@njit(cache=True)
def _closing_edge(y: int, s: int, t: int, deadline: int, prev_amt: float, lo_f: float, up_f: float, e_amt: F64,
                  in_ptr: I64, pair_src: I64, pair_time: I64, pair_edge: I64) -> int:
    """First invoice ``y → s`` in ``(t, deadline]`` (time, index order) passing the gate; -1 if none.

    ``pair_*`` hold each taxpayer's incoming invoices sorted by (seller, time)."""
    lo = first_after(pair_src, in_ptr[s], in_ptr[s + 1], y - 1)      # invoices of s sold by y
    stop = first_after(pair_src, lo, in_ptr[s + 1], y)
    j = first_after(pair_time, lo, stop, t)
    while j < stop and pair_time[j] <= deadline:
        e = pair_edge[j]
        if prev_amt * lo_f <= e_amt[e] <= prev_amt * up_f:
            return int(e)
        j += 1
    return -1


@njit(cache=True)
def _emit(out: I64, n_out: int, path_edge: I64, depth: int, e: int, c: int) -> int:
    """Write one loop as row ``n_out``: ``path_edge[:depth]``, then ``e``, then ``c`` unless it is -1;
    the rest of the row is -1. Returns the next free row."""
    for q in range(depth):
        out[n_out, q] = path_edge[q]
    out[n_out, depth] = e
    q = depth + 1
    if c >= 0:
        out[n_out, q] = c
        q += 1
    for r in range(q, out.shape[1]):
        out[n_out, r] = -1
    return n_out + 1


@njit(cache=True, nogil=True)
def search(
    n_nodes: int, e_src: I64, e_dst: I64, e_time: I64, e_amt: F64, lo_f: float, up_f: float,
    out_ptr: I64, out_edge: I64, out_time: I64, out_dst: I64, in_ptr: I64, in_time: I64, comp: I64,
    start_edges: I64, band_ptr: I64, band_edge: I64, band_amt: F64, band_time: I64, band_dst: I64, cand: I64,
    pair_src: I64, pair_time: I64, pair_edge: I64, in_src: I64, ib_ptr: I64, ib_amt: F64, ib_time: I64, ib_src: I64,
    first: int, last: int, window: int, t0: int, min_len: int, max_len: int, max_expansions: int, memo: bool,
    reach_hops: int, out: I64,
) -> tuple[int, int, int, int, int, int, int, int]:
    """Depth-first time-respecting search from ``start_edges[first:last]``; writes edge-index rows into ``out``.

    Releases the GIL: several threads may search disjoint start ranges at once (each with its own
    ``cand`` and ``out``). When ``out`` fills up during a start, that start's rows are dropped and its
    position returned, so the caller retries it with a larger ``out``: rows never depend on buffer size.

    Per frame, the node's usable hops are walked in time order; only the first one to each neighbour
    is followed (``seen[depth, node]``): the usable hops out of a node depend only on the arrival time
    (the gate compares with the *first* invoice's total), so the earliest arrival dominates.

    ``memo`` (the closing-time idea of 2SCENT): when a frame at depth ``d`` reached at time ``t`` finds
    no loop and nothing in it was blocked by the path above it, arriving at that taxpayer again (same
    start) at a time >= ``t`` and a depth >= ``d`` cannot find a loop either, so it is skipped.

    ``reach_hops`` (temporal reachability, as in 2SCENT and Blanuša et al. 2023; 0 = off): before a start is
    searched, :func:`_reach` walks backwards from its seller, up to ``reach_hops`` hops, the hops that could
    close a loop (``ib_*``: each
    taxpayer's incoming invoices per time slot sorted by total, the backward twin of ``band_*``;
    ``in_src``: the seller of each ``in_time`` entry); once at most ``reach_hops`` hops are left, no hop is
    followed into a taxpayer that cannot get back in time with them (nor a start whose buyer cannot). Same
    loops either way (the walk ignores only simplicity, so it never rules out a path that closes); off only for tests.
    Returns (next start position, rows written, truncated starts, hops followed, candidates gathered,
    arrivals skipped by the memo, hops ruled out by reachability, hops read walking backwards)."""
    n_out = 0
    truncated = 0
    followed = 0
    gathered = 0
    skipped = 0
    n_e = e_dst.shape[0]
    n_slots = comp.shape[0]
    gated = lo_f > -np.inf or up_f < np.inf
    pos_of = np.full(n_nodes, -1, dtype=np.int64)      # depth of a taxpayer on the current path, -1 = off it
    seen = np.full((max_len + 1, n_nodes), -1, dtype=np.int64)
    memo_at = np.full(n_nodes, -1, dtype=np.int64)     # start position of the memo entry (-1: none)
    memo_t = np.zeros(n_nodes, dtype=np.int64)
    memo_d = np.zeros(n_nodes, dtype=np.int64)
    path_edge = np.empty(max_len, dtype=np.int64)
    cur = np.empty(max_len + 1, dtype=np.int64)    # next candidate to try, per depth
    end = np.empty(max_len + 1, dtype=np.int64)
    node_at = np.empty(max_len + 1, dtype=np.int64)
    frame_at = np.empty(max_len + 1, dtype=np.int64)
    found_at = np.zeros(max_len + 1, dtype=np.bool_)   # a loop was found below this frame
    low_at = np.empty(max_len + 1, dtype=np.int64)     # shallowest path depth that blocked a hop below it
    if not memo:
        memo_at[:] = -2                                # never equal to a start position
    skips = np.zeros(2, dtype=np.int64)                # arrivals ruled out while gathering: memo, reachability
    ld = np.empty((n_nodes, max_len), dtype=np.int64)  # latest departures back to the start (see _reach)
    ld_at = np.full(n_nodes, -1, dtype=np.int64)
    r_cur = np.empty(n_nodes, dtype=np.int64)
    r_scanned = np.empty(n_nodes, dtype=np.int64)
    r_front = np.empty(n_nodes, dtype=np.int64)
    r_fval = np.empty(n_nodes, dtype=np.int64)
    r_next = np.empty(n_nodes, dtype=np.int64)
    r_in_next = np.full(n_nodes, -1, dtype=np.int64)
    r_touched = np.empty(n_nodes, dtype=np.int64)
    read = 0
    frame = 0
    for p in range(first, last):
        row0, followed0, gathered0, skipped0 = n_out, followed, gathered, skipped + skips[0]    # to undo an overflow
        pruned0, read0 = skips[1], read
        e0 = start_edges[p]
        s = e_src[e0]
        v = e_dst[e0]
        ts = e_time[e0]
        base = e_amt[e0]             # the gate compares every hop with the first invoice
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
        if reach_hops > 0:
            if not _leaves(v, ts, deadline, base * lo_f, base * up_f, gated, w, cs, comp, out_ptr, out_time, out_dst,
                           band_ptr, band_amt, band_time, band_dst, t0, window):
                continue                 # nowhere to go from v: no walk back needed
            read += _reach(s, ts, deadline, base, lo_f, up_f, gated, w, cs, comp, in_ptr, in_time, in_src, ib_ptr,
                           ib_amt, ib_time, ib_src, t0, window, p, reach_hops, ld, ld_at, r_cur, r_scanned, r_front,
                           r_fval, r_next, r_in_next, r_touched)[1]
            if max_len - 1 <= reach_hops and (ld_at[v] != p or ts >= ld[v, max_len - 1]):
                skips[1] += 1
                continue                 # v cannot get back to s in time
        path_edge[0] = e0
        pos_of[s] = 0
        pos_of[v] = 1
        depth = 1                    # number of edges on the path
        node_at[depth] = v
        frame += 1
        frame_at[depth] = frame
        found_at[depth] = False
        low_at[depth] = max_len + 1
        cur[depth] = 0
        end[depth] = _gather(v, ts, deadline, base, lo_f, up_f, gated, w, cs, e_dst, e_time, e_amt, comp,
                             out_ptr, out_edge, out_time, out_dst, band_ptr, band_edge, band_amt, band_time,
                             band_dst, n_slots, t0, window,
                             cand, 0, memo_at, memo_t, memo_d, p, 2, skips, s, reach_hops, ld, ld_at)
        gathered += end[depth]
        expansions = 0
        cut = False
        while depth >= 1:
            j = cur[depth]
            if j >= end[depth] or cut:
                y = node_at[depth]
                if memo and not cut and not found_at[depth] and low_at[depth] >= depth:
                    memo_at[y] = p
                    memo_t[y] = e_time[path_edge[depth - 1]]
                    memo_d[y] = depth
                pos_of[y] = -1
                if depth > 1:
                    found_at[depth - 1] |= found_at[depth]
                    low_at[depth - 1] = min(low_at[depth - 1], low_at[depth])
                depth -= 1
                continue
            cur[depth] = j + 1
            e = cand[j] % n_e
            y = e_dst[e]
            if seen[depth, y] == frame_at[depth]:
                continue
            if y != s and pos_of[y] >= 0:
                low_at[depth] = min(low_at[depth], pos_of[y])
                continue
            seen[depth, y] = frame_at[depth]
            if memo_at[y] == p and e_time[e] >= memo_t[y] and depth + 1 >= memo_d[y]:
                skipped += 1
                continue
            expansions += 1
            followed += 1
            if expansions > max_expansions:
                truncated += 1
                cut = True
                continue
            if y == s:
                if depth + 1 >= min_len:
                    n_out = _emit(out, n_out, path_edge, depth, e, -1)
                    found_at[depth] = True
                    if n_out >= out.shape[0]:
                        pos_of[:] = -1
                        return p, row0, truncated, followed0, gathered0, skipped0, pruned0, read0
                else:
                    low_at[depth] = 0            # too short here, maybe long enough from deeper: no memo
                continue
            if depth + 1 >= max_len:
                continue          # no room left to come back to s
            if depth + 2 == max_len:
                # y's frame could only close the loop: look up y → s directly
                if depth + 2 >= min_len:
                    c = _closing_edge(y, s, e_time[e], deadline, base, lo_f, up_f, e_amt, in_ptr, pair_src,
                                      pair_time, pair_edge)
                    if c >= 0:
                        n_out = _emit(out, n_out, path_edge, depth, e, c)
                        found_at[depth] = True
                        if n_out >= out.shape[0]:
                            pos_of[:] = -1
                            return p, row0, truncated, followed0, gathered0, skipped0, pruned0, read0
                else:
                    low_at[depth] = 0
                continue
            path_edge[depth] = e
            top = end[depth]
            depth += 1
            node_at[depth] = y
            frame += 1
            frame_at[depth] = frame
            found_at[depth] = False
            low_at[depth] = max_len + 1
            cur[depth] = top
            end[depth] = _gather(y, e_time[e], deadline, base, lo_f, up_f, gated, w, cs, e_dst, e_time, e_amt,
                                 comp, out_ptr, out_edge, out_time, out_dst, band_ptr, band_edge, band_amt,
                                 band_time, band_dst, n_slots, t0,
                                 window, cand, top, memo_at, memo_t, memo_d, p, depth + 1, skips, s, reach_hops, ld,
                                 ld_at)
            gathered += end[depth] - top
            pos_of[y] = depth
        pos_of[s] = -1
    return last, n_out, truncated, followed, gathered, skipped + skips[0], skips[1], read


@njit(cache=True)
def loop_starts(member_of: I64, e_src: I64, e_dst: I64, e_time: I64, e_amt: F64, edges: I64, k: int, window: int,
                lo_f: float, up_f: float) -> int:
    """How many of ``edges`` (every invoice from one member of a loop to another, in time order) start a
    time-ordered loop through exactly the ``k`` members, as :func:`search` would find it: hops strictly later
    than the one before, the last by the first invoice's time + ``window``, every total within
    [``lo_f``, ``up_f``] × the first invoice's. ``member_of[node]``: 0..k-1 for a member (-1 otherwise; only
    members are read). A small depth-first search over the loop's own invoices: each frame follows only the
    earliest usable invoice to each member (as the kernel does), and a (member, members visited) state already
    shown to lead nowhere from an arrival no later is not searched again (the options only shrink with time)."""
    n_e = edges.shape[0]
    full = (1 << k) - 1
    # each member's outgoing invoices (among the members) in time order
    src_l = np.empty(n_e, dtype=np.int64)
    for i in range(n_e):
        src_l[i] = member_of[e_src[edges[i]]]
    order = np.argsort(src_l * n_e + np.arange(n_e), kind="mergesort")
    ptr = np.zeros(k + 1, dtype=np.int64)
    for i in range(n_e):
        ptr[src_l[i] + 1] += 1
    for x in range(k):
        ptr[x + 1] += ptr[x]
    o_time = np.empty(n_e, dtype=np.int64)
    o_dst = np.empty(n_e, dtype=np.int64)
    o_amt = np.empty(n_e, dtype=np.float64)
    for q in range(n_e):
        e = edges[order[q]]
        o_time[q] = e_time[e]
        o_dst[q] = member_of[e_dst[e]]
        o_amt[q] = e_amt[e]
    dead_at = np.full((full + 1) * k, -1, dtype=np.int64)   # start that wrote the entry
    dead_t = np.empty((full + 1) * k, dtype=np.int64)       # earliest arrival shown to lead nowhere
    node_at = np.empty(k + 1, dtype=np.int64)
    t_at = np.empty(k + 1, dtype=np.int64)
    mask_at = np.empty(k + 1, dtype=np.int64)
    pos_at = np.empty(k + 1, dtype=np.int64)
    tried_at = np.empty(k + 1, dtype=np.int64)
    count = 0
    for i in range(n_e):
        e0 = edges[i]
        s = member_of[e_src[e0]]
        ts = e_time[e0]
        base = e_amt[e0]
        lo_amt = base * lo_f
        up_amt = base * up_f
        deadline = ts + window
        depth = 1
        x = member_of[e_dst[e0]]
        node_at[1] = x
        t_at[1] = ts
        mask_at[1] = (1 << s) | (1 << x)
        pos_at[1] = first_after(o_time, ptr[x], ptr[x + 1], ts)
        tried_at[1] = 0
        closed = False
        while depth >= 1 and not closed:
            x = node_at[depth]
            j = pos_at[depth]
            moved = False
            while j < ptr[x + 1]:
                te = o_time[j]
                if te > deadline:
                    j = ptr[x + 1]
                    break
                a = o_amt[j]
                y = o_dst[j]
                j += 1
                if a < lo_amt or a > up_amt:
                    continue
                if y == s:
                    if mask_at[depth] == full:
                        closed = True
                        break
                    continue
                if (mask_at[depth] >> y) & 1 or (tried_at[depth] >> y) & 1:
                    continue
                tried_at[depth] |= 1 << y          # the earliest usable invoice to y only
                m2 = mask_at[depth] | (1 << y)
                st = m2 * k + y
                if dead_at[st] == i and te >= dead_t[st]:
                    continue
                pos_at[depth] = j
                depth += 1
                node_at[depth] = y
                t_at[depth] = te
                mask_at[depth] = m2
                pos_at[depth] = first_after(o_time, ptr[y], ptr[y + 1], te)
                tried_at[depth] = 0
                moved = True
                break
            if closed:
                break
            if not moved:
                st = mask_at[depth] * k + node_at[depth]
                if dead_at[st] != i or t_at[depth] < dead_t[st]:
                    dead_at[st] = i
                    dead_t[st] = t_at[depth]
                depth -= 1
        if closed:
            count += 1
    return count

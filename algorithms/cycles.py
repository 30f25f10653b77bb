"""Temporal cycles (循环开票 / 对开 / 环开): issuer→buyer loops whose invoices are time-ordered.

A *temporal cycle* of length k is a sequence of invoices ``e1 .. ek`` with ``seller(e1) = buyer(ek)``,
``buyer(ei) = seller(ei+1)``, distinct taxpayers, strictly increasing issue times, and the whole loop
inside ``window_days`` (``t(ek) - t(e1) <= window``). Every cycle is found from its earliest invoice,
so no rotation is reported twice.

Two orientations (``orientation="both"``, the default):

* **along** (过票链, pass-through): ``buyer(ei) = seller(ei+1)`` as above — each company is invoiced,
  then invoices on;
* **against** (虚抵进项, buying input invoices): ``seller(ei) = buyer(ei+1)`` — each company first issues
  an output invoice, then obtains an input invoice to offset it. Payment loops turned into invoices
  (the payee invoices the payer) look like this. Found by the same search on the reversed invoices
  (buyer → seller) and mapped back;
* a two-company loop (对开) is time-ordered both ways; it is searched once and labelled **mutual**.

A loop time-ordered in neither direction is not a temporal cycle and is never reported.

Pruning before enumerating, in the spirit of 2SCENT (Kumar & Calders 2018):

1. the time axis is cut into overlapping windows of length ``2·window`` (step ``window``); any loop that
   fits in ``window`` lies inside the window that starts at its first invoice's slot. Strongly
   connected components (igraph, C) are computed per window; a hop is followed only when both ends
   sit in the same non-trivial component of that window;
2. a start invoice ``s → v`` is skipped unless ``s`` receives an invoice in ``(t1, t1 + window]``;
3. the depth-first search (numba) scans a taxpayer's outgoing invoices in time order inside
   ``(t, deadline]`` and follows, per neighbour, only the *earliest* one (passing the optional drift
   gate, which compares every hop with the loop's first invoice, so what can follow a taxpayer depends
   only on when it was reached): it dominates every later parallel invoice, so parallel invoices do not
   multiply the work. With a drift gate a frame reads only the amount band it can pass (see
   :mod:`algorithms.cycles_kernels`); the deadline shrinks to the last invoice ``s`` receives by it;
   a frame that could only close the loop is replaced by a direct lookup of the ``y → s`` invoices;
4. temporal reachability (2SCENT; Blanuša et al. 2023): before searching from a start invoice, a walk
   backwards from its seller over the hops that could close a loop (in time, in the component, passing
   the gate) gives, per taxpayer and per number of hops left, the latest time it can still leave and get
   back by the deadline; a start whose buyer has no usable hop or cannot get back is dropped, and no hop
   is followed into a taxpayer it would reach too late. On 1M invoices at gate 0.25 the search follows
   ~20× fewer hops;
5. dead ends are remembered per start (2SCENT's closing times): a taxpayer whose frame found no loop,
   without being blocked by the path above it, is not expanded again when reached later or deeper;
6. start invoices are searched in contiguous chunks by several threads (the kernel releases the GIL);
   chunks are concatenated in order, so the result does not depend on the number of threads.

The static graph's simple cycles are never enumerated (see :func:`static_cycles` for that baseline).

Example
-------
>>> import pandas as pd
>>> inv = pd.DataFrame({"key": ["1", "2", "3"], "seller_tax_id": ["A", "B", "C"],
...     "buyer_tax_id": ["B", "C", "A"], "total_fen": [100_00, 98_00, 97_00],
...     "issued_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09"]).tz_localize("Asia/Shanghai")})
>>> [(c.members, c.orientation) for c in temporal_cycles(inv).cycles]
[(('A', 'B', 'C'), 'along')]
>>> back = inv.assign(seller_tax_id=inv["buyer_tax_id"], buyer_tax_id=inv["seller_tax_id"])
>>> [(c.members, c.orientation) for c in temporal_cycles(back).cycles]
[(('B', 'A', 'C'), 'against')]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from algorithms import loop_cache
from algorithms._igraph import ig
from algorithms._tables import epoch_seconds, invoice_frame, localized
from algorithms.cycles_kernels import loop_starts, search
from graph.core.collector import paused_gc
from graph.core.settings import usable_cpus
from graph.core.vocab import BLUE_STATUSES

DAY = 86_400
I64 = npt.NDArray[np.int64]
VALID_STATUSES = BLUE_STATUSES
#: loop orientations: invoices time-ordered along seller → buyer (each company is invoiced, then invoices on:
#: 过票 pass-through), against it (each company first issues, then obtains input to offset it: 虚抵进项), or a
#: two-company loop, which is ordered both ways (对开)
ALONG, AGAINST, MUTUAL = "along", "against", "mutual"
BOTH = "both"
ORIENTATION_ZH = {ALONG: "过票链", AGAINST: "虚抵进项", MUTUAL: "对开"}
#: ``orientation`` argument of :func:`temporal_cycles` → searches run
ORIENTATION_SEARCHES: dict[str, tuple[str, ...]] = {ALONG: (ALONG,), AGAINST: (AGAINST,), BOTH: (ALONG, AGAINST)}


@dataclass(frozen=True)
class Hop:
    """One invoice that closes part of a loop."""

    key: str
    seller: str
    buyer: str
    issued_at: str     # ISO 8601 with offset
    total_fen: int
    item_code: str | None = None


@dataclass(frozen=True)
class TemporalCycle:
    """One loop (deduplicated by member set: the best-evidenced instance, with the repeat count)."""

    members: tuple[str, ...]      # loop order, starting at the seller of the earliest invoice
    hops: tuple[Hop, ...]         # time order
    span_days: float              # first to last invoice
    max_drift: float              # largest relative change of total between consecutive hops
    spread: float                 # (max - min) / max of the hop totals
    repeats: int                  # instances found with the same member set (distinct invoice sequences)
    orientation: str = ALONG      # ALONG (过票链), AGAINST (虚抵进项) or MUTUAL (对开, two companies)

    @property
    def length(self) -> int:
        return len(self.members)

    def details(self) -> dict[str, Any]:
        """JSON-able hops and measures, for ``Ring.details``."""
        return {
            "hops": [h.__dict__ for h in self.hops], "span_days": round(self.span_days, 2),
            "max_drift": round(self.max_drift, 4), "spread": round(self.spread, 4), "repeats": self.repeats,
            "orientation": self.orientation,
        }


@dataclass(frozen=True)
class CycleSearch:
    """Result of :func:`temporal_cycles` with the pruning statistics."""

    cycles: list[TemporalCycle]
    instances: int                # loops found before deduplication
    invoices_used: int            # invoices eligible (status, positive amount, not self-billing)
    invoices_in_scc: int          # invoices left after window/SCC pruning
    truncated_starts: int         # start invoices whose search hit ``max_expansions``
    seconds: float
    stats: dict[str, float] = field(default_factory=dict)
    gate: float | None = None      # ratio gate used (``gate_ratio`` or chosen by ``budget``); None = none
    gate_trials: tuple[GateTrial, ...] = ()   # the automatic choice's sampled gates, narrowest first


# --------------------------------------------------------------------------------------------------
# preparation (numpy / igraph)


def _window_components(src: I64, dst: I64, tm: I64, n: int, window: int, t0: int) -> npt.NDArray[np.int64]:
    """comp[w, node]: SCC id of ``node`` in window ``[t0 + w·window, t0 + (w+2)·window)``; -1 = trivial."""
    n_win = int((tm.max() - t0) // window) + 1 if len(tm) else 0
    comp = np.full((max(n_win, 1), n), -1, dtype=np.int64)
    for w in range(n_win):
        lo, hi = t0 + w * window, t0 + (w + 2) * window
        m = (tm >= lo) & (tm < hi)
        if not m.any():
            continue
        code = np.unique(src[m] * n + dst[m])
        pairs = np.stack([code // n, code % n], axis=1)
        g = ig.Graph(n=n, edges=pairs.tolist(), directed=True)
        memb = np.asarray(g.connected_components(mode="strong").membership, dtype=np.int64)
        sizes = np.bincount(memb)
        memb[sizes[memb] < 2] = -1
        comp[w] = memb
    return comp


def _eligible(inv: pd.DataFrame, statuses: Sequence[str]) -> pd.DataFrame:
    keep = inv["status"].isin(list(statuses)) if "status" in inv else pd.Series(True, index=inv.index)
    keep &= inv["total_fen"] > 0
    keep &= inv["seller_tax_id"] != inv["buyer_tax_id"]
    return inv.loc[keep]


def temporal_cycles(
    invoices: pa.Table | pd.DataFrame,
    *,
    window_days: float = 90,
    min_len: int = 2,
    max_len: int = 12,
    max_drift: float | None = None,
    statuses: Sequence[str] = VALID_STATUSES,
    max_expansions: int = 50_000,
    workers: int | None = None,
    memo: bool = True,
    reach: bool = True,
    orientation: str = BOTH,
    gate_ratio: float | None = None,
    budget: float | None = None,
    cache: Path | None = None,
    loops_per_hop: float | None = None,
) -> CycleSearch:
    """Find time-ordered issuer→buyer loops of ``min_len..max_len`` taxpayers inside a window, in both orientations.

    Parameters
    ----------
    invoices
        Table with ``key, seller_tax_id, buyer_tax_id, issued_at, total_fen`` (and ``status``).
    window_days
        The whole loop (first to last invoice) must fit in this many days.
    min_len, max_len
        Number of taxpayers (= invoices) around the loop.
    max_drift
        Optional hard gate, applied *during* the search: a hop is only followed when its total is within
        this fraction of the loop's first invoice's total (so the usable hops out of a taxpayer depend
        only on the arrival time, which keeps the pruning exact). Off by default (a hard tolerance is easy to evade);
        drift is always measured and reported. On busy real-world graphs (hubs with thousands of
        invoices) the number of ungated time-ordered loops explodes; a lenient gate (0.3-0.5) keeps
        the search fast while every loop that moves "the same money" around survives.
    gate_ratio
        Optional ratio gate (used when ``max_drift`` is None): a hop is only followed when its total lies
        within a factor ``1 + gate_ratio`` of the first invoice's (symmetric on the log scale, so a loop
        whose amounts shrink hop after hop by fees is kept as long as a loop that grows). The null model
        passes the gate the real search used.
    budget
        Data-adaptive gate (used when ``max_drift`` and ``gate_ratio`` are None): the widest gate of
        :data:`AUTO_GATES` (no gate last) whose whole search, estimated on a fixed sample of start invoices,
        follows at most ``budget`` hops and finds at most ``budget * LOOPS_PER_HOP`` loops (see
        :func:`_choose_gate`); the choice and its sampled trials are returned (``gate``, ``gate_trials``).
        None (and no gate given) = no gate.
    loops_per_hop
        Loops the budget allows per hop (default :data:`LOOPS_PER_HOP`; the pipeline's second, wider family of
        loops uses :data:`WIDE_LOOPS_PER_HOP`).
    cache
        A folder for the data's loop instances per time window (:mod:`algorithms.loop_cache`): only the start
        invoices of windows whose invoices changed since the cached search are searched again. Same result.
    statuses
        Invoice statuses that count as real trade (void and red-letter invoices do not).
    max_expansions
        Safety cap on hops tried per start invoice (counted in ``truncated_starts``).
    workers
        Threads searching disjoint ranges of start invoices (default: one per CPU). The result does not
        depend on it.
    memo
        Skip arrivals the search has already shown to be dead ends (2SCENT's closing times; see
        :func:`algorithms.cycles_kernels.search`). Same result either way; off only for tests.
    reach
        Before searching from a start invoice, walk backwards from its seller which taxpayers can still get
        back to it in time and with the hops left, and never extend a path into one that cannot (temporal
        reachability; see :func:`algorithms.cycles_kernels._reach`). Same result either way; off only for tests.
    orientation
        ``"along"``, ``"against"`` or ``"both"`` (see the module docstring). A member set found in both
        orientations is reported once per orientation.

    Returns
    -------
    CycleSearch
        One :class:`TemporalCycle` per member set and orientation (best instance: smallest spread, then
        shortest span), ordered by (spread, span).
    """
    started = time.perf_counter()
    if orientation not in ORIENTATION_SEARCHES:
        raise ValueError(f"orientation must be one of {sorted(ORIENTATION_SEARCHES)}, got {orientation!r}")
    inv = _eligible(invoice_frame(invoices), statuses).reset_index(drop=True)
    window = int(round(window_days * DAY))
    if len(inv) == 0 or max_len < 2:
        return CycleSearch([], 0, len(inv), 0, 0, time.perf_counter() - started)
    codes, names = pd.factorize(pd.concat([inv["seller_tax_id"], inv["buyer_tax_id"]], ignore_index=True))
    n_inv = len(inv)
    seller = codes[:n_inv].astype(np.int64)
    buyer = codes[n_inv:].astype(np.int64)
    tm = _epoch_seconds(inv["issued_at"])
    amt = inv["total_fen"].to_numpy(dtype=np.float64)
    searches = ORIENTATION_SEARCHES[orientation]
    stats: dict[str, float] = {}
    lo_len = {label: min_len if label == ALONG else max(min_len, 3) for label in searches}  # 2 members: once
    fixed = max_drift is not None or gate_ratio is not None or budget is None
    # with a cache and a gate known in advance only the changed windows' invoices are indexed (their components
    # are those of all the invoices: a window's component depends only on the window's invoices)
    inc = None if cache is None else _Incremental(cache, inv, tm, window, max_len)
    if inc is not None and fixed:
        factors0 = _fixed_factors(max_drift, gate_ratio)
        inc.plan({label: _settings(window, factors0, lo_len[label], max_len, max_expansions, memo, reach, statuses)
                  for label in searches})
    rows = None if inc is None or not fixed else inc.rows
    indexes: dict[str, _Index] = {}
    for label in searches:
        # "against": the same search on the reversed invoices (buyer → seller) finds the loops whose
        # invoices are time-ordered against the invoice direction
        src, dst = (seller, buyer) if label == ALONG else (buyer, seller)
        if rows is not None:
            src, dst = src[rows], dst[rows]
        # the other orientation's index is this one's mirror: its components and lists are reused
        indexes[label] = _prepare(src, dst, tm if rows is None else tm[rows], amt if rows is None else amt[rows],
                                  len(names), window, indexes.get(AGAINST if label == ALONG else ALONG),
                                  t0=None if inc is None else inc.t0)
    trials: tuple[GateTrial, ...] = ()
    if fixed or budget is None:
        chosen = None if max_drift is not None else gate_ratio
        factors = _fixed_factors(max_drift, gate_ratio)
    else:
        t_gate = time.perf_counter()
        chosen, trials = _choose_gate(indexes, lo_len, budget, max_len, max_expansions, memo, workers,
                                      LOOPS_PER_HOP if loops_per_hop is None else loops_per_hop)
        factors = _ratio_factors(chosen)
        stats["gate_choice"] = time.perf_counter() - t_gate
        if inc is not None:
            inc.plan({label: _settings(window, factors, lo_len[label], max_len, max_expansions, memo, reach,
                                       statuses) for label in searches})
    cycles: list[TemporalCycle] = []
    instances = truncated = kept = 0
    for label in searches:
        t_dir = time.perf_counter()
        ix = indexes[label]
        if inc is None:
            found, counts = _search_all(ix, factors, lo_len[label], max_len, max_expansions, memo, workers, reach)
        else:
            def run(starts: I64, ix: _Index = ix, label: str = label) -> tuple[I64, list[int]]:
                return _search_all(ix, factors, lo_len[label], max_len, max_expansions, memo, workers, reach,
                                   starts=starts)

            found, counts = inc.search(label, ix, run, subset=rows is not None)
            stats |= inc.use[label].stats(label)
        t_search = time.perf_counter()
        cycles.extend(deduplicate(found, inv, seller, tm, label))
        done = time.perf_counter()
        instances += len(found)
        truncated += counts[0]
        kept = max(kept, ix.kept)
        stats |= {f"{label}_scc": ix.seconds, f"{label}_search": t_search - t_dir,
                  f"{label}_dedup": done - t_search, f"{label}_loops": float(len(cycles)),
                  f"{label}_hops_followed": float(counts[1]), f"{label}_memo_skips": float(counts[3])}
        stats["scc"] = stats.get("scc", 0.0) + ix.seconds
        stats["search"] = stats.get("search", 0.0) + t_search - t_dir
        stats["dedup"] = stats.get("dedup", 0.0) + done - t_search
        stats["hops_followed"] = stats.get("hops_followed", 0.0) + counts[1]
        stats["hops_gathered"] = stats.get("hops_gathered", 0.0) + counts[2]
        stats["memo_skips"] = stats.get("memo_skips", 0.0) + counts[3]
        stats["reach_pruned"] = stats.get("reach_pruned", 0.0) + counts[4]
        stats["reach_read"] = stats.get("reach_read", 0.0) + counts[5]
    if len(searches) > 1:
        cycles.sort(key=lambda c: (c.spread, c.span_days, c.orientation != ALONG, c.members))
    return CycleSearch(cycles, instances, n_inv, kept, truncated, time.perf_counter() - started, stats,
                       gate=chosen, gate_trials=trials)


def _fixed_factors(max_drift: float | None, gate_ratio: float | None) -> tuple[float, float]:
    """[lo_f, up_f] of a fixed drift gate, else of the ratio gate (None = no gate)."""
    if max_drift is not None:
        return 1.0 - float(max_drift), 1.0 + float(max_drift)
    return _ratio_factors(gate_ratio)


def _settings(window: int, factors: tuple[float, float], min_len: int, max_len: int, max_expansions: int,
              memo: bool, reach: bool, statuses: Sequence[str]) -> dict[str, Any]:
    """What a cached search depends on besides the invoices (the cache file's name is derived from it)."""
    return {"window": window, "factors": [repr(f) for f in factors], "min_len": min_len, "max_len": max_len,
            "max_expansions": max_expansions, "memo": memo, "reach": reach, "statuses": sorted(statuses)}


class _Incremental:
    """The search through the per-window cache in ``folder`` (see :mod:`algorithms.loop_cache`): per orientation
    a :class:`loop_cache.Plan`; ``rows``: the invoices of the windows some orientation must search again (their
    slots and the next ones), which is all an index needs when the gate is known in advance."""

    def __init__(self, folder: Path, inv: pd.DataFrame, tm: I64, window: int, max_len: int) -> None:
        self.folder, self.window, self.width = folder, window, max_len
        self.t0 = loop_cache.grid_origin(int(tm.min()), window)
        self.tm = tm
        self.w_of = (tm - self.t0) // window
        self.n_windows = int(self.w_of.max()) + 1
        self.hashes = loop_cache.row_hashes(inv["key"], inv["seller_tax_id"], inv["buyer_tax_id"], tm,
                                            inv["total_fen"].to_numpy(dtype=np.float64))
        self.keys = pa.array(inv["key"].astype(str).to_numpy(), pa.string())
        self.plans: dict[str, loop_cache.Plan] = {}
        self.use: dict[str, loop_cache.CacheUse] = {}
        self.rows: I64 | None = None

    def plan(self, settings: dict[str, dict[str, Any]]) -> None:
        for label, st in settings.items():
            self.plans[label] = loop_cache.plan(self.folder / f"{loop_cache.settings_key(label, st)}.parquet",
                                                w_of=self.w_of, t0=self.t0, window=self.window,
                                                n_windows=self.n_windows, hashes=self.hashes, keys=self.keys,
                                                width=self.width)
        dirty = np.zeros(self.n_windows, dtype=bool)
        for pl in self.plans.values():
            dirty |= pl.dirty()
        prev = np.maximum(self.w_of - 1, 0)
        self.rows = np.flatnonzero(dirty[self.w_of] | (dirty[prev] & (self.w_of >= 1))).astype(np.int64)

    def search(self, label: str, ix: _Index, run: loop_cache.Runner, *, subset: bool) -> tuple[I64, list[int]]:
        """Loop rows (numbers of the rows of all invoices) of every start invoice, searched or read back
        (``subset``: ``ix`` indexes only :attr:`rows`)."""
        pl = self.plans[label]
        dirty = pl.dirty()
        start_w = (ix.tm[ix.start_edges] - self.t0) // self.window
        found, counts, cut, n_todo = loop_cache.search_dirty(run, ix.start_edges, start_w, dirty)
        if subset and self.rows is not None:                # an index over ``rows``: back to all rows
            found = np.where(found >= 0, self.rows[np.maximum(found, 0)], -1)
        searched = np.unique(start_w[dirty[start_w]]).tolist()
        cut_abs = {int(pl.w_abs[w]): 0 for w in searched} | {int(pl.w_abs[w]): c for w, c in cut.items()}
        rows, counts[0] = loop_cache.finish(pl, found, cut_abs, w_of=self.w_of, tm=self.tm, keys=self.keys)
        self.use[label] = loop_cache.CacheUse(len(pl.current), len(set(pl.current) - pl.clean), n_todo)
        return rows, counts


def _ratio_factors(ratio: float | None) -> tuple[float, float]:
    """[lo_f, up_f] of a ratio gate: a hop's total within a factor ``1 + ratio`` of the first invoice's."""
    if ratio is None:
        return -np.inf, np.inf
    return 1.0 / (1.0 + ratio), 1.0 + ratio


def _search_all(ix: _Index, factors: tuple[float, float], min_len: int, max_len: int, max_expansions: int,
                memo: bool, workers: int | None, reach: bool = True, starts: I64 | None = None
                ) -> tuple[I64, list[int]]:
    """The kernel over every start invoice (or ``starts``): (loop rows of invoice indices,
    [truncated starts, hops followed, gathered, memo skips, ruled out by reachability, hops read backwards])."""
    starts = ix.start_edges if starts is None else starts
    # contiguous chunks of start invoices, results kept in chunk order: the same rows for any thread count
    n_chunks = max(1, min(256, len(starts) // 2048))
    bounds = np.linspace(0, len(starts), n_chunks + 1).astype(np.int64).tolist()
    chunks = list(zip(bounds[:-1], bounds[1:], strict=True))
    threads = max(1, min(workers if workers is not None else usable_cpus(), n_chunks))

    def one(c: tuple[int, int]) -> tuple[list[I64], I64]:
        return _run(ix, starts, c[0], c[1], factors, min_len, max_len, max_expansions, memo, reach)

    if threads == 1:
        results = [one(c) for c in chunks]
    else:
        with ThreadPoolExecutor(threads) as ex:
            results = list(ex.map(one, chunks))
    rows = [part for r in results for part in r[0]]
    counts = [int(x) for x in np.sum([r[1] for r in results], axis=0)]
    found = np.concatenate(rows) if rows else np.zeros((0, max_len), dtype=np.int64)
    return found, counts


@dataclass(frozen=True)
class GateTrial:
    """One gate tried on a sample of start invoices (both orientations): what the whole search would cost."""

    ratio: float | None            # None = no gate
    est_hops: float                # hops the whole search would follow (sample × starts / sampled)
    est_loops: float               # distinct loops (member sets per orientation) it would find (unbiased)
    sample_loops: int              # loop instances found from the sampled starts
    truncated: int                 # sampled starts cut by ``max_expansions``
    complete: bool                 # False when the sample was stopped early (already over the budget)
    searched: float = 1.0          # share of the sampled start invoices searched before it stopped

    def fits(self, budget: float, loops_per_hop: float | None = None) -> bool:
        per_hop = LOOPS_PER_HOP if loops_per_hop is None else loops_per_hop
        return self.complete and self.est_hops <= budget and self.est_loops <= budget * per_hop \
            and self.truncated == 0

    def stopped_by_loops(self, budget: float) -> bool:
        """This gate failed only on the loop allowance: its hops fit ``budget`` and no start was cut, so a larger
        allowance (:data:`WIDE_LOOPS_PER_HOP`) could search it; a gate over the hop budget stays out of reach.

        A sample stopped early counted only part of the hops: they are extrapolated to the whole sample.

        >>> GateTrial(2.0, 5e6, 40_000, 900, 0, False).stopped_by_loops(1e7), GateTrial(2.0, 2e7, 4e4, 9, 0, False).stopped_by_loops(1e7)
        (True, False)
        >>> GateTrial(0.25, 9e6, 42_000, 900, 0, False, searched=1 / 16).stopped_by_loops(1e7)   # ~144 M hops
        False
        """
        return self.est_hops / max(self.searched, 1e-9) <= budget and self.truncated == 0 \
            and self.est_loops > budget * LOOPS_PER_HOP

    def describe(self) -> dict[str, Any]:
        """JSON-able, for the run's parameters."""
        return {"ratio": self.ratio, "est_hops": round(self.est_hops), "est_loops": round(self.est_loops),
                "sample_loops": self.sample_loops, "truncated": self.truncated, "complete": self.complete}


#: ratio gates tried by the automatic choice, narrowest first (a hop's total within a factor 1 + r of the
#: loop's first invoice's); ``None`` = no gate. Steps of about ×1.25-1.5 in the factor above ×3: a loop that
#: loses fees at every hop drifts geometrically with its length (7 companies at -25 % a hop: ×5.3 from the first
#: invoice), so a coarse ladder (×3, ×5, none) could stop one step short of it while the next step still fits
AUTO_GATES: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, None)
#: start invoices sampled per orientation to estimate a gate's cost
GATE_SAMPLE = 2_000
#: loops allowed per hop of the budget (3,000 per million): every loop found is deduplicated and then compared
#: with ~10 null loops, each found by searching a shuffled copy (measured 2026-12-02: a hop costs 0.3-1 µs, a
#: loop and its null share ~0.5 ms per copy)
LOOPS_PER_HOP = 0.003
#: loops allowed per hop for the pipeline's *second* family of loops (12,500 per million: 125,000 at the default
#: budget = the null model's 250,000-loop cap over the two copies it always searches): the loops that only a gate
#: wider than the one :data:`LOOPS_PER_HOP` affords finds, tested as a family of their own at a small share of the
#: false discovery rate (``cycle_scoring.WIDE_FDR_SHARE``), so they do not dilute the loops inside the gate
WIDE_LOOPS_PER_HOP = 0.0125


def _choose_gate(indexes: dict[str, _Index], lo_len: dict[str, int], budget: float, max_len: int,
                 max_expansions: int, memo: bool, workers: int | None,
                 loops_per_hop: float = LOOPS_PER_HOP) -> tuple[float | None, tuple[GateTrial, ...]]:
    """The widest gate of :data:`AUTO_GATES` whose search, estimated on a fixed sample of start invoices
    (every k-th in time order, both orientations), fits ``budget`` hops and ``budget * LOOPS_PER_HOP`` loops
    without cutting any sampled start. The narrowest gate when none fits. Deterministic (no randomness).

    Loops are counted as what the scoring pays for: distinct member sets per orientation (each is scored and
    compared with ~10 null loops), never the instances, which repeat a loop. A loop found from ``m`` start
    invoices (parallel invoices, or its members visited in another order) is counted ``1 / m`` from each of
    them (the multiplicity estimator of network sampling), with ``m`` counted exactly by trying every invoice
    between two of its members as a loop's first hop (:class:`_Multiplicity`): the sum over all starts is then exactly
    the number of distinct loops, so the sample's sum × starts / sampled is unbiased. (Until detector .27 each
    distinct member set of the sample counted 1 × starts / sampled, which counts a loop found from m starts
    up to m times: 1.3-1.5× the true count on the generator's profiles.)"""
    samples = {}
    for label, ix in indexes.items():
        step = max(1, len(ix.start_edges) // GATE_SAMPLE)
        samples[label] = (ix.start_edges[::step], len(ix.start_edges) / max(1, len(ix.start_edges[::step])))
    trials: list[GateTrial] = []
    chosen: float | None = AUTO_GATES[0]
    n_sampled = sum(len(starts) for starts, _ in samples.values())
    for ratio in AUTO_GATES:
        hops = loops = 0.0
        found = cut = done = 0
        complete = True
        for label, ix in indexes.items():
            starts, scale = samples[label]
            mult = _Multiplicity(ix, _ratio_factors(ratio), lo_len[label], max_len, max_expansions, memo, workers)
            for part in np.array_split(starts, 8):        # stop early once the estimate is over the budget
                if not len(part):
                    continue
                # the plain search's hops (no reachability walk): what a gate costs is measured the same
                # way whatever pruning the full search then uses, so the choice and its loops never change
                rows, counts = _search_all(ix, _ratio_factors(ratio), lo_len[label], max_len, max_expansions,
                                           memo, workers, False, starts=part)
                hops += counts[1] * scale
                loops += mult.weight(rows) * scale
                found += len(rows)
                cut += counts[0]
                done += len(part)
                if hops > budget or loops > budget * loops_per_hop or cut:
                    complete = False
                    break
            if not complete:
                break
        trial = GateTrial(ratio, hops, loops, found, cut, complete, done / max(1, n_sampled))
        trials.append(trial)
        if not trial.fits(budget, loops_per_hop):
            break
        chosen = ratio
    return chosen, tuple(trials)


class _Multiplicity:
    """For :func:`_choose_gate`: Σ over a sample's start invoices of Σ 1 / m over the distinct loops (member
    sets) each start finds, where ``m`` is the number of start invoices of the whole search that find that
    member set: every invoice from one member to another is tried as the first hop of a loop through exactly
    those members (:func:`algorithms.cycles_kernels.loop_starts`, a search over the loop's own invoices)."""

    def __init__(self, ix: _Index, factors: tuple[float, float], min_len: int, max_len: int, max_expansions: int,
                 memo: bool, workers: int | None) -> None:
        self.ix, self.factors = ix, factors
        st = ix.start_edges                                   # in time order
        code = ix.src[st] * ix.n + ix.dst[st]
        order = np.argsort(code, kind="stable")
        self.pair_code, self.pair_pos = code[order], order.astype(np.int64)
        self.member_of = np.full(ix.n, -1, dtype=np.int64)
        self.count: dict[bytes, int] = {}                      # member set -> start invoices that find it

    def weight(self, rows: I64) -> float:
        """Σ 1 / m over the distinct (start invoice, member set) pairs of ``rows`` (loop rows of sampled starts)."""
        if not len(rows):
            return 0.0
        pairs = set(zip(rows[:, 0].tolist(), _member_keys(rows, self.ix.src), strict=True))
        for _, key in pairs:
            if key not in self.count:
                self.count[key] = self._starts(np.frombuffer(key, dtype=np.int64))
        return float(sum(1.0 / max(1, self.count[k]) for _, k in pairs))

    def _starts(self, members: I64) -> int:
        """Start invoices from which the search finds a loop through exactly ``members`` (-1 padded)."""
        m = members[members >= 0]
        codes = (m[:, None] * self.ix.n + m[None, :])[~np.eye(len(m), dtype=bool)]
        lo = np.searchsorted(self.pair_code, codes, side="left")
        hi = np.searchsorted(self.pair_code, codes, side="right")
        cnt = hi - lo
        pos = np.sort(self.pair_pos[np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))])
        self.member_of[m] = np.arange(len(m), dtype=np.int64)
        try:
            return int(loop_starts(self.member_of, self.ix.src, self.ix.dst, self.ix.tm, self.ix.amt,
                                   self.ix.start_edges[pos], len(m), self.ix.window, *self.factors))
        finally:
            self.member_of[m] = -1


def _member_keys(rows: I64, src: I64) -> list[bytes]:
    """One key per loop row (invoice rows, -1 padded): its sorted member codes (``src`` per invoice row)."""
    if not len(rows):
        return []
    mem = np.where(rows >= 0, src[np.maximum(rows, 0)], -1)
    mem.sort(axis=1)
    return [r.tobytes() for r in mem]


@dataclass(frozen=True)
class _Lists:
    """One side's invoices per taxpayer (``node``: the seller for outgoing lists, the buyer for incoming ones):
    in time order (``ptr``, ``edge``, ``time``, ``other`` = the counterparty), and per (taxpayer, time slot)
    sorted by total (``band_*``, the amount-band index)."""

    ptr: I64
    edge: I64
    time: I64
    other: I64
    band_ptr: I64
    band_edge: I64
    band_amt: npt.NDArray[np.float64]
    band_time: I64
    band_other: I64


def _lists(node: I64, other: I64, tm: I64, amt: npt.NDArray[np.float64], keep: I64, n: int, n_slots: int,
           w_of: I64) -> _Lists:
    """:class:`_Lists` of the invoices ``keep`` grouped by ``node`` (ties in invoice order)."""
    edge = keep[np.lexsort((tm[keep], node[keep]))].astype(np.int64)
    ptr = np.searchsorted(node[edge], np.arange(n + 1)).astype(np.int64)
    key = node[keep] * n_slots + w_of[keep]
    order = np.lexsort((keep, amt[keep], key))
    band_edge = keep[order].astype(np.int64)
    band_ptr = np.searchsorted(key[order], np.arange(n * n_slots + 1)).astype(np.int64)
    return _Lists(ptr, edge, tm[edge].astype(np.int64), other[edge].astype(np.int64), band_ptr, band_edge,
                  amt[band_edge], tm[band_edge].astype(np.int64), other[band_edge].astype(np.int64))


@dataclass(frozen=True)
class _Index:
    """The search's arrays for one orientation (``src → dst``), built once, searched with any gate."""

    n: int
    src: I64
    dst: I64
    tm: I64
    amt: npt.NDArray[np.float64]
    window: int
    t0: int
    comp: I64
    keep: I64
    lists: tuple[_Lists, _Lists]   # outgoing, incoming
    arrays: tuple[Any, ...]       # the kernel's lookup arrays (see :func:`_run`)
    start_edges: I64
    max_out: int
    seconds: float                # time spent on the pruning (components)

    @property
    def kept(self) -> int:
        return len(self.keep)


def _prepare(src: I64, dst: I64, tm: I64, amt: npt.NDArray[np.float64], n: int, window: int,
             mirror: _Index | None = None, t0: int | None = None) -> _Index:
    """Window components, pruning and the kernel's lookup arrays of ``src → dst``. ``mirror``: the index of the
    same invoices reversed (``dst → src``), whose components, kept invoices and lists are reused: a graph and
    its reverse have the same strongly connected components, and one's outgoing lists are the other's incoming."""
    started = time.perf_counter()
    # a calendar grid: an older invoice adds a window in front instead of moving every window's edges
    t0 = loop_cache.grid_origin(int(tm.min()) if len(tm) else 0, window) if t0 is None else t0
    if mirror is not None:
        comp, keep = mirror.comp, mirror.keep
    else:
        comp = _window_components(src, dst, tm, n, window, t0)
        w_of = (tm - t0) // window
        in_scc = (comp[w_of, src] >= 0) & (comp[w_of, src] == comp[w_of, dst])
        # an edge can also serve as a later hop of a loop started in the previous window
        w_prev = np.maximum(w_of - 1, 0)
        in_scc |= (comp[w_prev, src] >= 0) & (comp[w_prev, src] == comp[w_prev, dst])
        keep = np.flatnonzero(in_scc).astype(np.int64)
    t_scc = time.perf_counter() - started
    start_edges = keep[np.argsort(tm[keep], kind="stable")].astype(np.int64)
    return _index(src, dst, tm, amt, n, comp, keep, start_edges, window, t0, t_scc, mirror)


def _index(src: I64, dst: I64, tm: I64, amt: npt.NDArray[np.float64], n: int, comp: I64, keep: I64, start_edges: I64,
           window: int, t0: int, seconds: float = 0.0, mirror: _Index | None = None) -> _Index:
    """The kernel's lookup arrays over the invoices ``keep`` of ``src → dst`` (``mirror``: see :func:`_prepare`)."""
    if mirror is not None:
        out, inc = mirror.lists[1], mirror.lists[0]
    else:
        w_of = (tm - t0) // window
        out = _lists(src, dst, tm, amt, keep, n, comp.shape[0], w_of)
        inc = _lists(dst, src, tm, amt, keep, n, comp.shape[0], w_of)
    # incoming invoices per node sorted by (seller, time): the direct closing-hop lookup
    pair_edge = keep[np.lexsort((tm[keep], src[keep], dst[keep]))].astype(np.int64)
    pair_src = src[pair_edge]
    pair_time = tm[pair_edge].astype(np.int64)
    max_out = int(np.diff(out.ptr).max()) if n else 0
    # outgoing lists by time and by amount band; incoming lists by time (closing check, walk back) and by band
    arrays = (out.ptr, out.edge, out.time, out.other, inc.ptr, inc.time, comp, out.band_ptr, out.band_edge,
              out.band_amt, out.band_time, out.band_other, pair_src, pair_time, pair_edge, inc.other, inc.band_ptr,
              inc.band_amt, inc.band_time, inc.band_other)
    return _Index(n, src, dst, tm, amt, window, t0, comp, keep, (out, inc), arrays, start_edges, max_out, seconds)


def search_loops(
    src: I64, dst: I64, tm: I64, amt: npt.NDArray[np.float64], n: int, comp: I64, keep: I64, start_edges: I64, *,
    window: int, t0: int, gate: float, min_len: int, max_len: int, max_expansions: int, memo: bool,
    workers: int | None, factors: tuple[float, float] | None = None,
) -> tuple[I64, list[int]]:
    """Run the numba kernel (:func:`algorithms.cycles_kernels.search`) from ``start_edges`` over the invoices
    ``keep`` of ``src → dst`` (``comp[w, node]``: component of ``node`` in window ``w`` counted from ``t0``, -1 =
    none): (loop rows of invoice indices, -1 padded, in start order; [truncated starts, hops followed, gathered,
    memo skips]). ``gate``: a fixed gate (within ``gate`` of the first invoice's total, ``inf`` = none);
    ``factors`` (a ratio gate's [lo, up], see :func:`_ratio_factors`) replaces it.

    The in-process search uses the same kernel over the whole table; the Spark engine
    (:mod:`workbench.spark_engine`) calls this once per time window × strongly connected component, with that
    partition's invoices, so both run the same kernel on the same hops."""
    if factors is None:
        factors = (-np.inf, np.inf) if gate == np.inf else (1.0 - gate, 1.0 + gate)
    ix = _index(src, dst, tm, amt, n, comp, keep, start_edges, window, t0)
    found, counts = _search_all(ix, factors, min_len, max_len, max_expansions, memo, workers)
    return found, counts[:4]


def _run(ix: _Index, starts: I64, lo: int, hi: int, factors: tuple[float, float], min_len: int, max_len: int,
         max_expansions: int, memo: bool, reach: bool = True) -> tuple[list[I64], I64]:
    """Search start positions [lo, hi) of ``starts`` (one thread; the kernel releases the GIL): loop rows and
    [truncated, followed, gathered, memo skips, reach pruned, reach read]. ``factors``: a hop's total must lie in [lo_f, up_f] × the
    first invoice's."""
    out_ptr, out_edge, out_time, out_dst, in_ptr, in_time, comp, band_ptr, band_edge, band_amt, band_time, \
        band_dst, pair_src, pair_time, pair_edge, in_src, ib_ptr, ib_amt, ib_time, ib_src = ix.arrays
    cand = np.empty((max_len + 1) * max(ix.max_out, 1), dtype=np.int64)
    parts: list[I64] = []
    counts = np.zeros(6, dtype=np.int64)    # truncated, followed, gathered, memo skips, reach pruned, reach read
    pos, cap = lo, 1 << 10
    while pos < hi:
        out = np.empty((cap, max_len), dtype=np.int64)
        pos, n_out, *more = search(
            ix.n, ix.src, ix.dst, ix.tm, ix.amt, factors[0], factors[1], out_ptr, out_edge, out_time, out_dst,
            in_ptr, in_time, comp, starts, band_ptr, band_edge, band_amt, band_time, band_dst, cand,
            pair_src, pair_time, pair_edge, in_src, ib_ptr, ib_amt, ib_time, ib_src, pos, hi, ix.window, ix.t0,
            min_len, max_len, max_expansions, memo, REACH_HOPS if reach else 0, out,
        )
        counts += np.asarray(more, dtype=np.int64)
        parts.append(out[:n_out].copy())
        cap = cap * 2 if n_out == 0 else min(cap * 2, 1 << 18)    # one start may need more rows
    return parts, counts


#: hops walked backwards from each start by the reachability pruning (see :func:`algorithms.cycles_kernels._reach`)
REACH_HOPS = 11


def _epoch_seconds(col: pd.Series) -> I64:
    return epoch_seconds(col)


def _measures(amounts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row (NaN-padded): largest consecutive relative change, and (max - min) / max."""
    prev, nxt = amounts[:, :-1], amounts[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        drift = np.abs(nxt - prev) / np.maximum(prev, 1.0)
    drift = np.where(np.isnan(drift), 0.0, drift).max(axis=1)
    hi = np.nanmax(amounts, axis=1)
    lo = np.nanmin(amounts, axis=1)
    return drift, (hi - lo) / np.maximum(hi, 1.0)


def _member_groups(members: I64) -> tuple[I64, I64]:
    """Group equal rows of ``members`` (sorted member ids per loop): (group per row, rows per group).

    Hashes each row to 64 bits and groups the hashes (a 1-d sort, much faster than ``np.unique(axis=0)``);
    rows that share a hash are then compared, so a hash collision can never merge two member sets."""
    h = np.full(len(members), 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in members.T.astype(np.uint64):
            h = (h ^ col) * np.uint64(0x100000001B3)
            h ^= h >> np.uint64(29)
    _, group, counts = np.unique(h, return_inverse=True, return_counts=True)
    group = np.asarray(group, dtype=np.int64).reshape(-1)
    first = np.full(len(counts), len(members), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(members), dtype=np.int64))
    if not (members == members[first[group]]).all():                  # a collision: exact fallback
        _, group, counts = np.unique(members, axis=0, return_inverse=True, return_counts=True)
        group = np.asarray(group, dtype=np.int64).reshape(-1)
    return group, np.asarray(counts, dtype=np.int64)


def deduplicate(found: I64, inv: pd.DataFrame, src: I64, tm: I64, orientation: str) -> list[TemporalCycle]:
    """Loop rows (invoice row numbers of ``inv``, -1 padded, in search order) → one :class:`TemporalCycle` per
    member set (``src``: a taxpayer code per invoice row's seller, ``tm``: its epoch seconds)."""
    if len(found) == 0:
        return []
    with paused_gc():   # millions of small objects (hops, tuples, cycles)
        return _best_instances(found, inv, src, tm, orientation)


def _best_instances(found: I64, inv: pd.DataFrame, src: I64, tm: I64, orientation: str) -> list[TemporalCycle]:
    """One :class:`TemporalCycle` per member set: smallest spread, then shortest span; repeats counted."""
    valid = found >= 0
    safe = np.where(valid, found, 0)
    totals = inv["total_fen"].to_numpy(dtype=np.float64)
    amounts = np.where(valid, totals[safe], np.nan)
    drift, spread = _measures(amounts)
    lengths = valid.sum(axis=1)
    last = safe[np.arange(len(found)), lengths - 1]
    span = (tm[last] - tm[found[:, 0]]) / DAY
    members = np.where(valid, src[safe], np.iinfo(np.int64).max)
    members.sort(axis=1)
    group, counts = _member_groups(members)
    best = np.lexsort((span, spread, group))          # within a group: smallest spread, then span
    first_of_group = best[np.r_[True, group[best][1:] != group[best][:-1]]]
    best_rows = found[first_of_group]
    best_valid = best_rows >= 0
    flat = best_rows[best_valid]                       # the loops' invoices, row after row
    ends = np.cumsum(best_valid.sum(axis=1)).tolist()
    needed, where = np.unique(flat, return_inverse=True)
    keys, sellers, buyers, items = (inv[c].to_numpy()[needed].tolist() if c in inv else [None] * len(needed)
                                    for c in ("key", "seller_tax_id", "buyer_tax_id", "item_code"))
    # one Hop per invoice, shared by every loop that uses it
    hop_list = [Hop(str(k), str(se), str(b), iso, int(a), None if pd.isna(it) else str(it))
                for k, se, b, iso, a, it in zip(keys, sellers, buyers, _iso(inv["issued_at"].iloc[needed]),
                                                totals[needed].tolist(), items, strict=True)]
    pos = np.asarray(where).reshape(-1).tolist()
    hops_flat = [hop_list[q] for q in pos]
    sellers_flat = [hops_flat[q].seller for q in range(len(hops_flat))]
    sp_l, dr_l, spr_l = span[first_of_group], drift[first_of_group], spread[first_of_group]
    # members in invoice direction from the earliest invoice's seller: the hops' sellers in time order
    # ("along"), or the first hop's seller followed by the others' in reverse time order ("against")
    out = [TemporalCycle(members=tuple(sellers_flat[a:b]) if orientation == ALONG
                         else (sellers_flat[a], *sellers_flat[b - 1:a:-1]),
                         hops=tuple(hops_flat[a:b]), span_days=sp, max_drift=dr,
                         spread=spr, repeats=rep, orientation=MUTUAL if b - a == 2 else orientation)
           for a, b, sp, dr, spr, rep in zip([0, *ends[:-1]], ends, sp_l.tolist(), dr_l.tolist(), spr_l.tolist(),
                                             counts[group[first_of_group]].tolist(), strict=True)]
    # order by (spread, span, members): numpy for the first two keys, members only inside exact ties
    order = np.lexsort((sp_l, spr_l)).tolist()
    ranked = [out[q] for q in order]
    k = 0
    while k < len(ranked):
        m = k + 1
        while m < len(ranked) and ranked[m].spread == ranked[k].spread and ranked[m].span_days == ranked[k].span_days:
            m += 1
        if m - k > 1:
            ranked[k:m] = sorted(ranked[k:m], key=lambda c: c.members)
        k = m
    return ranked


def _iso(stamps: pd.Series) -> list[str]:
    """``Timestamp.isoformat()`` of each value (taken as Asia/Shanghai when naive), vectorised for whole seconds."""
    s = localized(stamps)
    wall = s.dt.tz_localize(None).to_numpy()
    whole = wall.astype("datetime64[s]")
    if (whole != wall).any():
        return [t.isoformat() for t in s]
    utc = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    off = ((wall - utc) // np.timedelta64(1, "m")).astype(np.int64).tolist()
    suffix = {o: f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in set(off)}
    return [t + suffix[o] for t, o in zip(np.datetime_as_string(whole, unit="s").tolist(), off, strict=True)]


# --------------------------------------------------------------------------------------------------
# baseline


@dataclass(frozen=True)
class StaticCycles:
    """Plain bounded cycles of the aggregated graph (no time, no amounts): the baseline."""

    cycles: list[tuple[str, ...]]
    complete: bool               # False when ``time_limit_s`` or ``max_cycles`` stopped the enumeration
    seconds: float


def static_cycles(
    invoices: pa.Table | pd.DataFrame,
    *,
    max_len: int = 10,
    max_cycles: int = 1_000_000,
    time_limit_s: float = 60.0,
    statuses: Sequence[str] = VALID_STATUSES,
) -> StaticCycles:
    """Every simple cycle of ≤ ``max_len`` taxpayers on the aggregated issuer→buyer graph.

    networkx ``simple_cycles(G, length_bound=max_len)`` per strongly connected component; stops after
    ``time_limit_s`` seconds or ``max_cycles`` cycles (``complete`` is then False). This ignores time
    and amounts on purpose: it is the baseline that shows what the temporal constraints buy.
    """
    import networkx as nx

    started = time.perf_counter()
    inv = _eligible(invoice_frame(invoices), statuses)
    pairs = inv[["seller_tax_id", "buyer_tax_id"]].drop_duplicates()
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_edges_from(pairs.itertuples(index=False, name=None))
    cycles: list[tuple[str, ...]] = []
    complete = True
    for scc in nx.strongly_connected_components(g):
        if len(scc) < 2:
            continue
        for cyc in nx.simple_cycles(g.subgraph(scc), length_bound=max_len):
            cycles.append(tuple(str(x) for x in cyc))
            if len(cycles) >= max_cycles or time.perf_counter() - started > time_limit_s:
                complete = False
                break
        if not complete:
            break
    return StaticCycles(cycles, complete, time.perf_counter() - started)

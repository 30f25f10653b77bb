"""How rare a temporal cycle is in *this* data (显著性): evidence components, a null model, p-values and FDR.

Busy trade closes time-ordered loops by chance: two manufacturers that buy from each other every month
close a loop every few weeks. What sets 循环开票 apart is measured per loop as *evidence*:

========================  ===========================================================  ==================
component                 raw statistic (more suspicious →)                             needs
========================  ===========================================================  ==================
``fast``                  days per hop, first to last invoice (fewer)                   —
``tight``                 largest hop-to-hop change of the total (closing pair: 2 only)  —
``exclusive``             invoices per hop relation over the whole data, per repeat     —
``small_parties``         geometric mean of the members' distinct partners (fewer)      —
``unusual_amount``        share of hops > 2 robust z above the seller's usual amount    —
``same_item``             every hop carries the same item code                           item codes
``shared_identity``       members share a phone / bank account                          identifiers
``young``                 a member registered < 180 days before its first invoice       registration dates
========================  ===========================================================  ==================

**Null model.** The same loop search runs on shuffled copies of the invoice table: buyers rewired
among the invoices of each month (every company keeps its number of output and input invoices per
month, :func:`algorithms.significance.rewire`), then issue times permuted within each month
(:func:`algorithms.significance.shuffle_times`). Loops found there are chance loops of a market with
the same companies, volumes and rhythm. Each component of a loop is turned into its tail probability
among the null loops of its stratum (two-company loops, longer loops; all null loops when the stratum holds fewer
than :data:`MIN_COMPONENT_REF`: :func:`algorithms.significance.empirical_pvalue`;
a continuous component beyond the top null values gets the tail fitted to them); Fisher's combination
``−2 Σ log p`` over the *available* components is the loop's test statistic, its **p-value** is the share
of null loops whose statistic is at least as high (beyond the top 250 null loops, an exponential tail
fitted to them, so a loop stronger than every chance loop is not capped at ``1 / (1 + n)``), and loops are reported when the Benjamini–Hochberg
q-value is at most the FDR (default 5 %). For ranking and display the **score** (0–1) is the mean rank of
the available components among the null loops (0 = as ordinary as any chance loop, 1 = beyond all).

**Renormalisation.** A component whose input is missing or constant in the data (no item codes, no
identifiers, every registration date the same) is left out of the mean: it neither adds nor subtracts,
and :attr:`ScoredCycle.unavailable` names it so the evidence text can say so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms.cycles import CycleSearch, TemporalCycle
from algorithms.significance import DEFAULT_FDR, bh_fdr, empirical_pvalue

F64 = npt.NDArray[np.float64]
#: evidence component → (Chinese name, input it needs or None when it only needs the invoices' parties, times, totals)
COMPONENTS: dict[str, tuple[str, str | None]] = {
    "fast": ("闭合速度", None),
    "tight": ("金额一致", None),
    "exclusive": ("交易关系专用", None),
    "small_parties": ("成员规模小", None),
    "unusual_amount": ("金额异常", None),
    "same_item": ("同一品目", "item_code"),
    "shared_identity": ("共用身份信息", "identifiers"),
    "young": ("新设企业", "registered_on"),
}
#: Chinese name of each optional input, for "unavailable" evidence
INPUT_ZH = {"item_code": "商品编码", "identifiers": "电话/银行账户等身份信息", "registered_on": "登记日期"}
YOUNG_DAYS = 180
#: null loops whose statistic's tail is extrapolated beyond the largest null values (see ``empirical_pvalue``)
TAIL = 250
#: components measured on a continuous scale: their tail probability beyond the null's top :data:`TAIL` values is
#: extrapolated (the others are shares or yes / no, where a fitted tail would invent resolution)
CONTINUOUS = frozenset({"fast", "tight", "exclusive", "small_parties"})
#: fewest null loops of a stratum for its loops' components to be compared with that stratum's null loops only
MIN_COMPONENT_REF = 10_000
#: fewest null loops of a stratum (two-company loops / longer loops) for it to be judged on its own
MIN_STRATUM = 500
#: null loops wanted per loop tested (more shuffled copies are made until the null holds this many, at most
#: ``max_copies`` copies and :data:`MAX_NULL_LOOPS` loops)
NULL_PER_LOOP = 10
MAX_NULL_LOOPS = 250_000
#: share of ``--cycle-fdr`` spent on the second family of loops (those only a wider amount gate finds, see
#: ``algorithms.cycles.WIDE_LOOPS_PER_HOP``); the loops inside the main gate keep the rest. Thousands of long chance
#: loops come with a wider gate: tested together with the others they would spread the false discovery rate over
#: all of them; as a family of their own with a tenth of it, the loops inside the gate keep 90 % of their rate
WIDE_FDR_SHARE = 0.1
#: the invoice columns of a null copy: what the loop search (this process's or the Spark engine's) and
#: :func:`loop_statistics` read; the buyer name, amounts before tax, numbers etc. are not shuffled along
COPY_COLUMNS = ("key", "seller_tax_id", "buyer_tax_id", "issued_at", "total_fen", "status", "item_code")


@dataclass(frozen=True)
class LoopContext:
    """Data-wide facts a loop's evidence is measured against (one per invoice table)."""

    pair_counts: Mapping[tuple[str, str], int]            # (seller, buyer) → invoices
    degree: Mapping[str, float]                           # tax_id → distinct trade partners
    seller_amounts: Mapping[str, tuple[float, float]]     # tax_id → (median, MAD) of log10 totals
    shared: Mapping[frozenset[str], tuple[str, ...]] = field(default_factory=dict)   # {a, b} → shared kinds
    young: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ScoredCycle:
    """A loop with its evidence, rank score (0–1), p-value and FDR decision."""

    cycle: TemporalCycle
    score: float                         # mean rank of the available components among the null loops, 0..1
    p_value: float
    q_value: float
    significant: bool                    # q ≤ the FDR
    components: dict[str, float]         # available component → rank 0..1
    unavailable: tuple[str, ...]         # components left out (input missing or constant)
    closing_drift: float                 # largest relative change between consecutive hops, incl. last → first
    pair_use: float                      # mean invoices per hop relation over the whole data, per repeat
    member_degree: float                 # mean number of distinct trade partners of the members
    shared_kinds: tuple[str, ...] = ()   # identifier kinds shared among members
    young_members: int = 0
    null_loops: int = 0                  # loops in the shuffled copies the loop was compared with
    hop_drift: float | None = None       # largest change between consecutive hops in time order (``tight``'s
    #                                      statistic: the closing pair counts only in a two-company loop)
    wide: bool = False                   # in the second family: needs a wider amount gate than the main search's

    @property
    def orientation(self) -> str:
        return self.cycle.orientation


def closing_drift(c: TemporalCycle) -> float:
    """Largest relative change of total between consecutive hops, the closing hop (last → first) included."""
    a = [h.total_fen for h in c.hops]
    a2 = [*a, a[0]]
    return max(abs(a2[i + 1] - a2[i]) / max(a2[i], 1) for i in range(len(a)))


def available_components(
    invoices: pd.DataFrame, taxpayers: pd.DataFrame | None = None, identifiers: pd.DataFrame | None = None,
) -> dict[str, bool]:
    """Which components have input in this data: a missing column, or one with fewer than two distinct
    values, gives none.

    >>> import pandas as pd
    >>> inv = pd.DataFrame({"item_code": [None, None]})
    >>> av = available_components(inv, pd.DataFrame({"registered_on": ["2020-01-01", "2021-05-01"]}))
    >>> av["same_item"], av["young"], av["shared_identity"], av["tight"]
    (False, True, False, True)
    """
    def varies(df: pd.DataFrame | None, col: str) -> bool:
        return df is not None and col in df and df[col].dropna().nunique() >= 2

    have = {"item_code": varies(invoices, "item_code"), "registered_on": varies(taxpayers, "registered_on"),
            "identifiers": identifiers is not None and len(identifiers) > 0 and varies(identifiers, "value")}
    return {k: need is None or have[need] for k, (_, need) in COMPONENTS.items()}


def loop_context(inv: pd.DataFrame, *, act: pd.DataFrame | None = None, links: pd.DataFrame | None = None,
                 strong_link: float = 1.0) -> LoopContext:
    """:class:`LoopContext` of an invoice table (positive totals): relation counts, partner counts, usual amounts;
    shared identifiers from identity ``links`` (weight ≥ ``strong_link``) and youth from ``act`` (``age_days``)."""
    pos = inv[inv["total_fen"] > 0]
    pair_counts, degree = _relations(pos)
    logs = pd.Series(np.log10(pos["total_fen"].astype(float).to_numpy()), index=pos.index)
    med = logs.groupby(pos["seller_tax_id"]).median()
    mad = (logs - pos["seller_tax_id"].map(med)).abs().groupby(pos["seller_tax_id"]).median().reindex(med.index)
    stats = {str(k): (float(a), float(b)) for k, a, b in zip(med.index, med.tolist(), mad.tolist(), strict=True)}
    shared: dict[frozenset[str], tuple[str, ...]] = {}
    if links is not None and len(links):
        strong = links[links["weight"] >= strong_link]
        shared = {frozenset((str(a), str(b))): tuple(str(k).split(";"))
                  for a, b, k in zip(strong["a"], strong["b"], strong["kinds"], strict=True)}
    young = frozenset() if act is None or "age_days" not in act else \
        frozenset(str(t) for t in act.index[(act["age_days"] < YOUNG_DAYS).to_numpy()])
    return LoopContext(pair_counts, degree, stats, shared, young)


def _relations(pos: pd.DataFrame, sellers: set[str] | None = None) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """(seller, buyer) → invoices and tax_id → distinct trade partners of the invoices ``pos``; with ``sellers``
    only the relations and partner counts of those sellers (what :func:`loop_statistics` looks up for loops
    whose hops those sellers issue): then only the invoices those sellers issue or receive are grouped (a
    seller's partners, in either role, all lie there)."""
    if sellers is not None:
        wanted = list(sellers)
        pos = pos[pos["seller_tax_id"].isin(wanted).to_numpy() | pos["buyer_tax_id"].isin(wanted).to_numpy()]
    pairs = pos.groupby(["seller_tax_id", "buyer_tax_id"]).size()
    first, second = (_strings(pairs.index.get_level_values(i)) for i in (0, 1))
    degree = pd.Series(first + second).value_counts(sort=False)
    if sellers is not None:
        keep = [a in sellers for a in first]
        pair_counts = {(a, b): n for a, b, n, k in zip(first, second, pairs.tolist(), keep, strict=True) if k}
        return pair_counts, {str(t): float(v) for t, v in zip(degree.index.tolist(), degree.tolist(), strict=True)
                             if t in sellers}
    pair_counts = dict(zip(zip(first, second, strict=True), pairs.tolist(), strict=True))
    return pair_counts, {str(t): float(v) for t, v in zip(degree.index.tolist(), degree.tolist(), strict=True)}


def _strings(values: pd.Index) -> list[str]:
    """The values as a list of ``str`` (a list of Python objects first: iterating an Arrow-backed index
    element by element is ~20× slower)."""
    return [v if isinstance(v, str) else str(v) for v in values.to_numpy(dtype=object).tolist()]


@dataclass(frozen=True)
class LoopTable:
    """Loops as columns, what :func:`loop_statistics` reads: per loop its hop count, repeats and span (days); per
    hop, loop after loop in time order, its seller, buyer, total and item code. A cached null copy's loops are
    read back as one (:mod:`algorithms.null_cache`) instead of as :class:`TemporalCycle` objects."""

    lengths: npt.NDArray[np.int64]
    repeats: F64
    span: F64
    seller: list[str]
    buyer: list[str]
    total: F64
    item: list[str | None]

    @classmethod
    def of(cls, cycles: Sequence[TemporalCycle]) -> LoopTable:
        n = len(cycles)
        hops = [h for c in cycles for h in c.hops]
        return cls(np.fromiter((len(c.hops) for c in cycles), dtype=np.int64, count=n),
                   np.fromiter((c.repeats for c in cycles), dtype=np.float64, count=n),
                   np.fromiter((c.span_days for c in cycles), dtype=np.float64, count=n),
                   [h.seller for h in hops], [h.buyer for h in hops],
                   np.fromiter((h.total_fen for h in hops), dtype=np.float64, count=len(hops)),
                   [h.item_code for h in hops])

    def __len__(self) -> int:
        return len(self.lengths)


def copy_context(shuffled: pd.DataFrame, loops: Sequence[TemporalCycle] | LoopTable, ctx: LoopContext) -> LoopContext:
    """The :class:`LoopContext` of a shuffled copy as :func:`loop_statistics` reads it for the copy's ``loops``:
    the copy's relation and partner counts, of the loops' sellers only; the data's usual amounts, shared
    identifiers and youth from ``ctx`` (the copy is the data with buyers rewired and times permuted: every
    invoice keeps its seller and total, so each seller's usual amount is the data's, and rewiring changes no
    identifier or registration). Equals the full context of the copy for those loops (tested), at a fraction
    of the cost on a large table."""
    sellers: set[str] = set(loops.seller) if isinstance(loops, LoopTable) else \
        set().union(*(c.members for c in loops))     # a loop's members are its hops' sellers
    pair_counts, degree = _relations(shuffled[shuffled["total_fen"] > 0], sellers)
    return LoopContext(pair_counts, degree, ctx.seller_amounts, ctx.shared, ctx.young)


def loop_statistics(cycles: Sequence[TemporalCycle] | LoopTable, ctx: LoopContext) -> pd.DataFrame:
    """One row per loop, one column per component: the raw statistic, signed so that larger = more suspicious.

    Also ``closing_drift``, ``pair_use``, ``member_degree``, ``young_members`` as measured (unsigned). Vectorised.
    Each row depends only on its own loop and ``ctx``."""
    lt = cycles if isinstance(cycles, LoopTable) else LoopTable.of(cycles)
    n = len(lt)
    cols = [*COMPONENTS, "closing_drift", "pair_use", "member_degree", "young_members", "length", "first_ratio"]
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    lengths = lt.lengths
    seller = pd.Series(lt.seller, dtype=object)
    total = lt.total
    item = pd.Series(lt.item, dtype=object)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    nxt = np.arange(len(total)) + 1
    nxt[starts + lengths - 1] = starts
    change = np.abs(total[nxt] - total) / np.maximum(total, 1)
    closing = np.maximum.reduceat(change, starts)
    # hop to hop in time order: the closing pair (last hop → first) counts only for two-company loops, where it is
    # the only pair; a longer loop that loses a fee at every hop drifts by all of them from its first invoice
    # to its last, which says nothing about how tightly each company passed on what it got
    wrap = np.zeros(len(total), dtype=bool)
    wrap[(starts + lengths - 1)[lengths > 2]] = True
    hop = np.maximum.reduceat(np.where(wrap, 0.0, change), starts)
    # the amount gate a loop needs: its largest factor from its first invoice's total (time order), minus 1
    first = np.maximum(np.repeat(total[starts], lengths), 1.0)
    tot = np.maximum(total, 1.0)
    first_ratio = np.maximum.reduceat(np.maximum(tot / first, first / tot), starts) - 1.0
    repeats = lt.repeats
    # per distinct seller / relation, then spread to the hops (the context's maps can be much larger than the loops)
    code, uniq = pd.factorize(seller)
    names = uniq.tolist()
    bcode, buniq = pd.factorize(pd.Series(lt.buyer, dtype=object))
    bnames = buniq.tolist()
    rel, rel_of_hop = np.unique(code.astype(np.int64) * len(bnames) + bcode, return_inverse=True)
    use_v = np.array([ctx.pair_counts.get((names[r // len(bnames)], bnames[r % len(bnames)]), 1) for r in rel.tolist()],
                     dtype=np.float64)[np.asarray(rel_of_hop).reshape(-1)]
    use = np.add.reduceat(use_v, starts) / lengths / repeats
    nan2 = (np.nan, np.nan)
    member_deg = np.array([ctx.degree.get(t, 0.0) for t in names], dtype=np.float64)[code]
    deg = np.add.reduceat(member_deg, starts) / lengths
    # ``small_parties``: the geometric mean of the members' partner counts (mean log), not the arithmetic mean. In a
    # market that wires trade at random the chance of a loop through given companies grows with the *product* of
    # their degrees, so one busy member among small ones leaves the loop almost as unlikely as an all-small one;
    # the arithmetic mean let that one member decide
    log_deg = np.add.reduceat(np.log10(np.maximum(member_deg, 1.0)), starts) / lengths
    n_young = np.add.reduceat(np.array([t in ctx.young for t in names], dtype=np.int64)[code], starts)
    usual = np.array([ctx.seller_amounts.get(t, nan2) for t in names], dtype=np.float64).reshape(-1, 2)[code]
    med, mad = usual[:, 0], usual[:, 1]
    logt = np.log10(np.maximum(total, 1))
    med = np.where(np.isnan(med), logt, med)
    mad = np.where(np.isnan(mad), 0.0, mad)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(mad > 0, (logt - med) / (1.4826 * mad), 0.0)
    unusual = np.add.reduceat((z > 2).astype(np.float64), starts) / lengths
    first_item = item.iloc[starts].to_numpy()
    same = item.to_numpy() == np.repeat(first_item, lengths)
    same_item = np.logical_and.reduceat(same, starts) & np.array([isinstance(x, str) and bool(x) for x in first_item])
    linked = {m for pair in ctx.shared for m in pair}
    shared_any = np.zeros(n, dtype=bool)
    if linked:
        n_linked = np.add.reduceat(seller.isin(linked).to_numpy().astype(np.int64), starts)
        for i in np.flatnonzero(n_linked >= 2).tolist():
            ms = lt.seller[starts[i]:starts[i] + lengths[i]]     # the loop's members (its hops' sellers)
            shared_any[i] = any(ctx.shared.get(frozenset((a, b))) for j, a in enumerate(ms) for b in ms[j + 1:])
    span = lt.span
    return pd.DataFrame({
        "fast": -span / lengths, "tight": -hop, "exclusive": -use, "small_parties": -log_deg,
        "unusual_amount": unusual, "same_item": same_item.astype(float), "shared_identity": shared_any.astype(float),
        "young": (n_young > 0).astype(float),
        "closing_drift": closing, "pair_use": use, "member_degree": deg, "young_members": n_young.astype(float),
        "length": lengths.astype(float), "first_ratio": first_ratio,
    })


def _ranks(obs: F64, null: F64) -> F64:
    """Mid-rank of each observation among the null values, 0..1 (ties count half)."""
    if len(null) == 0:
        return np.full(len(obs), 0.5)
    s = np.sort(null)
    below = np.searchsorted(s, obs, side="left")
    upto = np.searchsorted(s, obs, side="right")
    return np.asarray((below + upto) / (2.0 * len(s)), dtype=np.float64)


def significance(
    observed: pd.DataFrame, null: pd.DataFrame, available: Mapping[str, bool], *, fdr: float = DEFAULT_FDR,
) -> tuple[F64, F64, F64, npt.NDArray[np.bool_], pd.DataFrame]:
    """(score, p-value, q-value, significant, component ranks) of each observed loop against the null loops.

    ``observed`` and ``null`` come from :func:`loop_statistics`; only the ``available`` components count.

    >>> import pandas as pd
    >>> null = pd.DataFrame({"tight": [-0.5, -0.4, -0.3, -0.6] * 25, "fast": [-9.0, -8.0, -7.0, -6.0] * 25})
    >>> obs = pd.DataFrame({"tight": [-0.01, -0.45], "fast": [-0.5, -8.0]})
    >>> score, p, q, sig, comp = significance(obs, null, {"tight": True, "fast": True})
    >>> sig.tolist(), round(float(p[0]), 3)
    ([True, False], 0.01)
    """
    names = [k for k in COMPONENTS if available.get(k, False) and k in observed]
    if not names:
        raise ValueError("no evidence component is available")
    comp_obs = pd.DataFrame({k: _ranks(observed[k].to_numpy(float), null[k].to_numpy(float)) for k in names},
                            index=observed.index)
    score = comp_obs.to_numpy().mean(axis=1) if len(comp_obs) else np.zeros(0)

    def fisher(frame: pd.DataFrame, ref: pd.DataFrame) -> F64:
        """Fisher's combination of the per-component tail probabilities among the null loops ``ref`` (the loop's
        stratum); a continuous component beyond the top :data:`TAIL` null values gets the tail fitted to them
        (:func:`empirical_pvalue`), so a loop far beyond every chance loop on one component is not capped at
        ``1 / (1 + n)`` there (a planted loop among small companies typically is: chance loops form among busy ones)."""
        logs = [np.log(empirical_pvalue(frame[k].to_numpy(float), ref[k].to_numpy(float),
                                        tail=min(TAIL, len(ref) // 10) if k in CONTINUOUS else None)) for k in names]
        return np.asarray(-2.0 * np.sum(logs, axis=0), dtype=np.float64) if len(frame) else np.zeros(0)

    p, q = np.ones(len(observed)), np.ones(len(observed))
    strata = _strata(observed, null)
    for o_rows, n_rows in strata:
        sub = null.iloc[n_rows]
        # the components' tail probabilities among the stratum's own null loops when they are enough to resolve them,
        # else among all null loops (two-company loops: ~2,000 null loops against ~200,000 longer ones)
        ref = sub if len(sub) >= MIN_COMPONENT_REF else null
        null_stat = fisher(sub, ref) if len(sub) else np.zeros(0)
        p[o_rows] = empirical_pvalue(fisher(observed.iloc[o_rows], ref), null_stat, tail=min(TAIL, len(null_stat) // 10))
        # Benjamini-Hochberg per stratum at fdr / strata: the union of the strata's discoveries keeps the false
        # discovery rate at most ``fdr`` whatever each stratum holds, and a wider amount gate, which adds long
        # chance loops by the thousand and hardly any two-company loop, no longer dilutes the two-company loops
        q[o_rows] = np.minimum(1.0, bh_fdr(p[o_rows], q=fdr)[1] * len(strata))
    reject = q <= fdr
    return score, p, q, reject, comp_obs


def _strata(observed: pd.DataFrame, null: pd.DataFrame) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """(observed rows, null rows) per stratum: two-company loops (对开, which busy trading partners close all the
    time) are compared with the null's two-company loops, longer loops with the longer ones; one stratum when
    either side has fewer than :data:`MIN_STRATUM` null loops or there is no ``length`` column."""
    everything = [(np.arange(len(observed)), np.arange(len(null)))]
    if "length" not in observed or "length" not in null:
        return everything
    o2, n2 = observed["length"].to_numpy() <= 2, null["length"].to_numpy() <= 2
    if min(int(n2.sum()), int((~n2).sum())) < MIN_STRATUM:
        return everything
    return [(np.flatnonzero(o2), np.flatnonzero(n2)), (np.flatnonzero(~o2), np.flatnonzero(~n2))]


def null_statistics(
    inv: pd.DataFrame, ctx: LoopContext, *, copies: int = 2, seed: int = 0, max_invoices: int = 300_000,
    min_loops: int = 0, max_copies: int = 20, finder: Callable[..., CycleSearch] | None = None,
    cache: Path | None = None, **search: Any,
) -> pd.DataFrame:
    """:func:`loop_statistics` of the loops in ``copies`` shuffled copies of ``inv`` (the null model).

    Each copy: buyers rewired within each month, then issue times permuted within each month (each month's
    shuffle seeded by ``seed``, the copy number and a fingerprint of that month's invoices, so a month whose
    invoices did not change is shuffled the same way in every run: see :class:`_MonthSlices`). The loop search (:func:`algorithms.cycles.temporal_cycles` with
    ``search``) runs on a run of whole months holding at most ``max_invoices`` invoices, chosen at random:
    the statistics are local in time, so a slice of a large table gives the same null distribution for a
    fraction of the time. Relation counts and partner counts come from the whole shuffled copy; usual amounts,
    shared identifiers and youth from ``ctx``, the :func:`loop_context` of ``inv`` (a copy keeps every invoice's
    seller and total, and rewiring changes no identifier or registration: :func:`copy_context`). ``finder`` replaces ``temporal_cycles`` with
    an engine that finds the same loops (the Spark engine). ``cache``: a folder where the in-process search of
    each copy keeps its loops (:mod:`algorithms.null_cache`), so a later run searches again only the copies
    whose slice holds a month whose invoices changed; the statistics are measured every run. Same result.

    More copies are made (up to ``max_copies``, and only while that can bring the null at least halfway to
    ``min_loops``: :func:`_worth_growing`) while the null holds fewer than ``min_loops`` loops: a
    p-value cannot be smaller than about 1 / (null loops), so the null must grow with the number of loops
    tested for the false discovery rate to be reachable (``score_cycles`` asks for
    :data:`NULL_PER_LOOP` null loops per loop found)."""
    from graph.core.collector import paused_gc

    with paused_gc():         # many small objects (loops, hops): the cyclic GC would rescan them again and again
        return _null_statistics(inv, ctx, copies=copies, seed=seed, max_invoices=max_invoices, min_loops=min_loops,
                                max_copies=max_copies, finder=finder, cache=cache, **search)


def _null_statistics(
    inv: pd.DataFrame, ctx: LoopContext, *, copies: int, seed: int, max_invoices: int, min_loops: int,
    max_copies: int, finder: Callable[..., CycleSearch] | None, cache: Path | None, **search: Any,
) -> pd.DataFrame:
    from algorithms.cycles import temporal_cycles
    from algorithms.null_cache import NullCache

    parts: list[pd.DataFrame] = []
    slices = _MonthSlices(inv)
    store = None if cache is None or finder is not None else \
        NullCache(cache, seed=seed, max_invoices=max_invoices, search=search)
    counts = np.array([len(rows) for rows, _ in slices.groups], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    k = 0
    while k < copies or (k < max_copies and _worth_growing(sum(len(x) for x in parts), k, max_copies, min_loops)):
        rng = np.random.default_rng([seed, k])
        shuffled = slices.shuffled(seed, k)       # months in calendar order, each month's rows together
        k += 1
        first, last = 0, len(counts) - 1
        if len(shuffled) > max_invoices:          # a random run of whole months holding at most max_invoices
            first = int(rng.integers(0, len(counts)))
            last = first
            while last + 1 < len(counts) and counts[first:last + 2].sum() <= max_invoices:
                last += 1
            while first > 0 and counts[first - 1:last + 1].sum() <= max_invoices:
                first -= 1
        sub = shuffled.iloc[offsets[first]:offsets[last + 1]] if len(shuffled) > max_invoices else shuffled
        months = [] if store is None else slices.keys(first, last)
        loops = None if store is None else store.load(k - 1, months)
        if loops is None:
            loops = LoopTable.of((finder(sub, **search) if finder is not None else temporal_cycles(sub, **search)).cycles)
            if store is not None:
                store.save(k - 1, months, loops)
        parts.append(loop_statistics(loops, copy_context(shuffled, loops, ctx)))
    return pd.concat(parts, ignore_index=True) if parts else loop_statistics([], ctx)


class _MonthSlices:
    """The invoice table cut into calendar months (Asia/Shanghai), each month's rows in an order that depends only
    on their content (a hash of key, parties, time and total), with the month's content fingerprint. Only the
    columns a loop search and a loop's statistics read (:data:`COPY_COLUMNS`) are kept: shuffling copies every
    kept column month by month, and an invoice table has ~17."""

    def __init__(self, inv: pd.DataFrame) -> None:
        from algorithms._tables import TZ, epoch_seconds, localized
        from algorithms.loop_cache import row_hashes

        inv = inv[[c for c in COPY_COLUMNS if c in inv]]
        self.inv = inv
        self._extra: list[int] | None = None
        if len(inv) == 0:
            self.groups: list[tuple[npt.NDArray[np.int64], list[int]]] = []
            return
        local = localized(inv["issued_at"]).dt.tz_convert(TZ)
        month = np.asarray(local.dt.year * 12 + local.dt.month, dtype=np.int64)
        ha, hb = row_hashes(inv["key"], inv["seller_tax_id"], inv["buyer_tax_id"], epoch_seconds(inv["issued_at"]),
                            inv["total_fen"].to_numpy(dtype=np.float64))
        order = np.lexsort((hb, ha, month))
        cuts = np.flatnonzero(np.diff(month[order])) + 1
        self.groups = []
        for rows in np.split(order, cuts):
            fp = [int(month[rows[0]]), len(rows), int(ha[rows].sum(dtype=np.uint64)), int(hb[rows].sum(dtype=np.uint64))]
            self.groups.append((rows.astype(np.int64), fp))

    def keys(self, first: int, last: int) -> list[list[int]]:
        """What the loops of a copy's slice of months ``first..last`` (indexes of :attr:`groups`) depend on: each
        month's fingerprint (which seeds its shuffle) and a sum over its invoices' status and item code."""
        from algorithms.null_cache import extra_sums

        if self._extra is None:
            self._extra = extra_sums(self.inv, [rows for rows, _ in self.groups])
        return [[*self.groups[g][1], self._extra[g]] for g in range(first, last + 1)]

    def shuffled(self, seed: int, copy: int) -> pd.DataFrame:
        """One null copy: per month, buyers rewired then times permuted among that month's invoices, with a random
        stream seeded by (``seed``, ``copy``, the month's fingerprint)."""
        from algorithms.significance import rewire, shuffle_times

        if not self.groups:
            return self.inv.copy()
        parts = []
        for rows, fp in self.groups:
            rng = np.random.default_rng([seed, copy, *fp])
            part = self.inv.iloc[rows]
            parts.append(shuffle_times(rewire(part, rng=rng), rng=rng))
        return pd.concat(parts, ignore_index=True)


def _worth_growing(held: int, made: int, max_copies: int, min_loops: int) -> bool:
    """More null copies while the null holds fewer than ``min_loops`` loops and, at the rate seen so far, the
    remaining copies can bring it at least halfway there. Data whose shuffled copies close far fewer loops than
    the data itself (the public AMLSim set: ~10 % of the target at 20 copies) would otherwise pay for every
    copy up to the cap without a p-value that could pass the FDR (detection 31.5 s → 226.7 s, measured).

    >>> _worth_growing(60_000, 2, 20, 140_000), _worth_growing(200, 2, 20, 20_000), _worth_growing(150_000, 5, 20, 140_000)
    (True, False, False)
    """
    if held >= min_loops:
        return False
    projected = held + (max_copies - made) * held / max(made, 1)
    return projected >= min_loops / 2


def beyond_gate(stats: pd.DataFrame, gate: float) -> npt.NDArray[np.bool_]:
    """Rows of :func:`loop_statistics` whose loop needs a wider amount gate than ``gate`` (some invoice's total is
    more than a factor ``1 + gate`` from the first invoice's), with a small tolerance for rounding.

    >>> import pandas as pd
    >>> beyond_gate(pd.DataFrame({"first_ratio": [0.5, 1.0, 1.2]}), 1.0).tolist()
    [False, False, True]
    """
    return np.asarray(stats["first_ratio"].to_numpy(float) > gate * (1 + 1e-9) + 1e-12, dtype=bool)


def score_loops(
    cycles: Sequence[TemporalCycle], ctx: LoopContext, null: pd.DataFrame, available: Mapping[str, bool], *,
    fdr: float = DEFAULT_FDR, wide: bool = False,
) -> list[ScoredCycle]:
    """Every loop scored against the null loops' statistics (:func:`null_statistics`), ranked by
    (significant, score) descending. See the module docstring."""
    obs = loop_statistics(cycles, ctx)
    score, p, q, sig, comp = significance(obs, null, available, fdr=fdr)
    unavailable = tuple(k for k in COMPONENTS if not available.get(k, False))
    rank_rows = comp.to_dict("records")
    measured = obs[["closing_drift", "pair_use", "member_degree", "young_members"]].to_numpy(dtype=np.float64)
    hop_drift = -obs["tight"].to_numpy(dtype=np.float64)
    shares = obs["shared_identity"].to_numpy() > 0      # some pair of members shares an identifier
    out = []
    for i, c in enumerate(cycles):
        kinds = sorted({k for j, a in enumerate(c.members) for b in c.members[j + 1:]
                        for k in ctx.shared.get(frozenset((a, b)), ())}) if shares[i] else []
        out.append(ScoredCycle(
            c, round(float(score[i]), 4), float(p[i]), float(q[i]), bool(sig[i]),
            {str(k): float(v) for k, v in rank_rows[i].items()}, unavailable,
            float(measured[i, 0]), float(measured[i, 1]), float(measured[i, 2]),
            tuple(kinds), int(measured[i, 3]), len(null), float(hop_drift[i]), wide,
        ))
    out.sort(key=lambda s: (not s.significant, -s.score, s.p_value, s.cycle.members))
    return out


def describe(sc: ScoredCycle) -> dict[str, Any]:
    """JSON-able significance facts for ``Ring.details``."""
    return {"orientation": sc.orientation, "p_value": round(sc.p_value, 6), "q_value": round(sc.q_value, 6),
            "significant": sc.significant, "null_loops": sc.null_loops,
            "components": {k: round(v, 3) for k, v in sc.components.items()},
            "unavailable": list(sc.unavailable), "closing_drift": round(sc.closing_drift, 4),
            "hop_drift": None if sc.hop_drift is None else round(sc.hop_drift, 4),
            "pair_use": round(sc.pair_use, 2), "member_degree": round(sc.member_degree, 1), "wide_family": sc.wide}


def unavailable_inputs_zh(unavailable: Sequence[str]) -> list[str]:
    """Chinese names of the inputs behind the unavailable components, each once, in component order."""
    seen: list[str] = []
    for k in unavailable:
        need = COMPONENTS[k][1]
        if need and INPUT_ZH[need] not in seen:
            seen.append(INPUT_ZH[need])
    return seen

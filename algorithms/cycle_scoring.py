"""How suspicious a temporal cycle is, in points an investigator can follow (0..1).

Busy real-world graphs are full of time-ordered loops: a steel mill and a machinery maker that buy
from each other every month close a 2-hop loop every few weeks. What sets 循环开票 apart is the
*money*: the same amount moving around (small drift), on trade relations used for little else
(exclusive hops), among companies that are not large trading hubs, often young or sharing an
identity. Each component is reported so the score can be explained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms.cycles import TemporalCycle

#: component → weight (sum 1.0)
WEIGHTS = {"tight": 0.25, "exclusive": 0.15, "small_parties": 0.15, "unusual_amount": 0.1, "length": 0.1,
           "same_item": 0.1, "shared_identity": 0.1, "young": 0.05}


@dataclass(frozen=True)
class ScoredCycle:
    cycle: TemporalCycle
    score: float
    components: dict[str, float]     # each 0..1 before weighting
    closing_drift: float             # largest relative change between consecutive hops, incl. last → first
    hop_drift: float                 # largest relative change between consecutive hops (without the closing pair)
    pair_use: float                  # mean invoices per hop pair over the whole data, per repeat
    member_degree: float             # mean number of distinct trade partners of the members
    shared_kinds: tuple[str, ...]    # identifier kinds shared among members
    young_members: int


def closing_drift(c: TemporalCycle) -> float:
    """Largest relative change of total between consecutive hops, the closing hop (last → first) included."""
    a = [h.total_fen for h in c.hops]
    a2 = [*a, a[0]]
    return max(abs(a2[i + 1] - a2[i]) / max(a2[i], 1) for i in range(len(a)))


def score_cycle(
    c: TemporalCycle,
    *,
    pair_counts: Mapping[tuple[str, str], int],
    degree: Mapping[str, float],
    shared: Mapping[frozenset[str], tuple[str, ...]],
    young: set[str],
    seller_amounts: Mapping[str, tuple[float, float]] | None = None,
    tight_drift: float = 0.1,
    hub_degree: float = 50,
) -> ScoredCycle:
    """Score one cycle.

    Parameters
    ----------
    pair_counts
        (seller, buyer) → invoices between them in the whole data.
    degree
        tax_id → distinct trade partners.
    shared
        {a, b} → identifier kinds the two share.
    young
        Taxpayers registered < 6 months before their first invoice.
    seller_amounts
        tax_id → (median, MAD) of log10 invoice totals: loop invoices far above a company's usual
        amounts (robust z > 2) inflate turnover, a hallmark of 虚开.
    tight_drift
        Largest hop-to-hop drift at which the "tight amounts" component reaches 0. Longer loops earn the
        "length" component: every extra hop that keeps the amount is less likely to happen by chance.
    hub_degree
        Mean member degree from which the "small parties" component starts to fall (it is 0 at 20×).
    """
    drift = closing_drift(c)
    hop = c.max_drift if c.length > 2 else drift
    use = sum(pair_counts.get((h.seller, h.buyer), 1) for h in c.hops) / len(c.hops) / c.repeats
    deg = sum(degree.get(m, 0) for m in c.members) / len(c.members)
    kinds = sorted({k for i, a in enumerate(c.members) for b in c.members[i + 1:]
                    for k in shared.get(frozenset((a, b)), ())})
    n_young = len(young & set(c.members))
    comp = {
        "tight": max(0.0, 1 - hop / tight_drift),
        "exclusive": min(1.0, 2 / max(use, 1.0)),
        "small_parties": min(1.0, max(0.0, 1 - math.log10(max(deg, 1) / hub_degree) / math.log10(20))),
        "length": min(1.0, (c.length - 2) / 3),
        "unusual_amount": _unusual(c, seller_amounts or {}),
        "same_item": 1.0 if len({h.item_code for h in c.hops}) == 1 and c.hops[0].item_code else 0.0,
        "shared_identity": 1.0 if kinds else 0.0,
        "young": 1.0 if n_young else 0.0,
    }
    score = round(sum(WEIGHTS[k] * v for k, v in comp.items()), 4)
    return ScoredCycle(c, score, comp, drift, hop, use, deg, tuple(kinds), n_young)


def _unusual(c: TemporalCycle, stats: Mapping[str, tuple[float, float]]) -> float:
    """Share of hops whose total is > 2 robust z above the seller's usual log10 total."""
    hits = 0
    for h in c.hops:
        med, mad = stats.get(h.seller, (math.log10(max(h.total_fen, 1)), 0.0))
        z = (math.log10(max(h.total_fen, 1)) - med) / (1.4826 * mad) if mad > 0 else 0.0
        hits += z > 2
    return hits / len(c.hops)


def quick_scores(
    cycles: Sequence[TemporalCycle],
    *,
    pair_counts: Mapping[tuple[str, str], int],
    degree: Mapping[str, float],
    shared: Mapping[frozenset[str], tuple[str, ...]],
    young: set[str],
    seller_amounts: Mapping[str, tuple[float, float]] | None = None,
    tight_drift: float = 0.1,
    hub_degree: float = 50,
) -> npt.NDArray[np.float64]:
    """:func:`score_cycle`'s score for many cycles at once, vectorised (numpy), without the explanation.

    Equal to ``score_cycle(...).score`` up to floating-point rounding (tested); used to pick the cycles
    worth scoring in full when hundreds of thousands of loops come out of a busy graph."""
    n = len(cycles)
    if n == 0:
        return np.zeros(0)
    lengths = np.fromiter((len(c.hops) for c in cycles), dtype=np.int64, count=n)
    hops = [h for c in cycles for h in c.hops]
    seller = pd.Series([h.seller for h in hops], dtype=object)
    total = np.fromiter((h.total_fen for h in hops), dtype=np.float64, count=len(hops))
    item = pd.Series([h.item_code for h in hops], dtype=object)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    # drift: consecutive hops, and with the closing pair (last → first)
    nxt = np.arange(len(hops)) + 1
    nxt[starts + lengths - 1] = starts
    step = np.abs(total[nxt] - total) / np.maximum(total, 1)
    closing = np.maximum.reduceat(step, starts)
    hop_drift = np.where(lengths > 2, np.array([c.max_drift for c in cycles]), closing)
    repeats = np.fromiter((c.repeats for c in cycles), dtype=np.float64, count=n)
    use_v = np.fromiter((pair_counts.get((h.seller, h.buyer), 1) for h in hops), dtype=np.float64, count=len(hops))
    use = np.add.reduceat(use_v, starts) / lengths / repeats
    deg_v = seller.map(degree).fillna(0).to_numpy(dtype=np.float64)
    deg = np.add.reduceat(deg_v, starts) / lengths
    young_v = seller.isin(young).to_numpy()
    has_young = np.logical_or.reduceat(young_v, starts)
    stats = seller_amounts or {}
    med = seller.map({k: v[0] for k, v in stats.items()}).to_numpy(dtype=np.float64)
    mad = seller.map({k: v[1] for k, v in stats.items()}).to_numpy(dtype=np.float64)
    logt = np.log10(np.maximum(total, 1))
    med = np.where(np.isnan(med), logt, med)
    mad = np.where(np.isnan(mad), 0.0, mad)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(mad > 0, (logt - med) / (1.4826 * mad), 0.0)
    unusual = np.add.reduceat((z > 2).astype(np.float64), starts) / lengths
    first_item = item.iloc[starts].to_numpy()
    same = (item.to_numpy() == np.repeat(first_item, lengths))
    same_item = np.logical_and.reduceat(same, starts) & np.array([bool(x) for x in first_item])
    # shared identity: only cycles with two members that have strong links at all need the pair check
    linked = {m for pair in shared for m in pair}
    shared_any = np.zeros(n, dtype=bool)
    n_linked = np.add.reduceat(seller.isin(linked).to_numpy().astype(np.int64), starts)
    for i in np.flatnonzero(n_linked >= 2).tolist():
        ms = cycles[i].members
        shared_any[i] = any(shared.get(frozenset((a, b))) for j, a in enumerate(ms) for b in ms[j + 1:])
    comp = {
        "tight": np.maximum(0.0, 1 - hop_drift / tight_drift),
        "exclusive": np.minimum(1.0, 2 / np.maximum(use, 1.0)),
        "small_parties": np.minimum(1.0, np.maximum(0.0, 1 - np.log10(np.maximum(deg, 1) / hub_degree)
                                                    / math.log10(20))),
        "length": np.minimum(1.0, (lengths - 2) / 3),
        "unusual_amount": unusual,
        "same_item": same_item.astype(np.float64),
        "shared_identity": shared_any.astype(np.float64),
        "young": has_young.astype(np.float64),
    }
    out = np.zeros(n)
    for k, v in comp.items():
        out = out + WEIGHTS[k] * v
    return np.round(out, 4)

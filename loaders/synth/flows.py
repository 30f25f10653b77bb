"""Value-flow patterns planted among companies that keep their ordinary trade (issue 13).

Unlike the typologies in :mod:`loaders.synth.patterns`, whose members are young companies or the
busiest ones, these members are drawn like any taxpayer and keep their legitimate ("cover") trade,
and their amounts come from the same law as that trade (:func:`loaders.synth.trade.draw_amount`):
degree and volume do not give them away; only the timing and the shape of the flows do.

* ``cycle`` (:func:`plant_flow_cycle`): a loop of 2-12 companies, time-ordered along the invoice
  direction (过票) or against it (虚抵进项), closing within 10-90 days, amounts drifting hop to hop
  by up to ``max_drift`` (fees skimmed or marked up).
* ``fan_in`` / ``fan_out``: one company obtains invoices from (issues invoices to) 6-20 others within
  a burst of 1-7 days. Members: the hub first, then its counterparties.
* ``scatter_gather``: a source invoices 3-8 intermediaries within a few days; each passes the value
  on (less a fee) to one sink within days. Members: source first, intermediaries, sink last.
"""

from __future__ import annotations

import numpy as np

from loaders.synth import catalog
from loaders.synth.planter import Planter
from loaders.synth.trade import draw_amount

FLOW_TYPOLOGIES = ("fan_in", "fan_out", "scatter_gather")


def _amount(p: Planter, seller: int) -> int:
    """An amount from the seller's ordinary trade distribution (below its limit)."""
    return int(draw_amount(p.rng, p.pop, np.array([seller], dtype=np.int64))[0])


def _item(p: Planter, seller: int) -> int:
    ind = int(p.pop.industry[seller])
    return catalog.ITEM_START[ind] + int(p.rng.integers(0, catalog.ITEM_COUNT[ind]))


def _start(p: Planter, members: list[int], span: int) -> int:
    """A first day after every member's registration, leaving ``span`` days before the end."""
    lo = max(30, max(int(p.pop.reg_day[m]) for m in members) + 10)
    hi = p.cal.days - span - 1
    return int(p.rng.integers(lo, hi)) if lo < hi else max(hi, 0)


def _drift(p: Planter, max_drift: float) -> float:
    """A hop's amount factor: mostly a fee skimmed, sometimes a mark-up, up to ``max_drift``."""
    d = float(p.rng.uniform(0.0, max_drift))
    return 1.0 - d if p.rng.random() < 0.75 else 1.0 + d


def flow_cycle_length(p: Planter) -> int:
    """2-12 members, mostly 3-6."""
    return int(p.rng.choice(np.arange(2, 13), p=[0.12, 0.2, 0.2, 0.15, 0.1, 0.07, 0.05, 0.04, 0.03, 0.02, 0.02]))


def hop(members: list[int], i: int, orientation: str) -> tuple[int, int]:
    """(seller, buyer) of the ``i``-th invoice in time of a loop over ``members`` (invoice direction).

    ``along`` (过票): members[0]→members[1] first, each company is invoiced and then invoices on.
    ``against`` (虚抵进项): members[k-1]→members[0] first and backwards round the loop, so each company
    first issues an output invoice and then obtains an input invoice.

    >>> [hop([0, 1, 2], i, "along") for i in range(3)], [hop([0, 1, 2], i, "against") for i in range(3)]
    ([(0, 1), (1, 2), (2, 0)], [(2, 0), (1, 2), (0, 1)])
    """
    k = len(members)
    j = i % k if orientation == "along" else (k - 1 - i) % k
    return members[j], members[(j + 1) % k]


def plant_flow_cycle(p: Planter, *, orientation: str, max_drift: float) -> None:
    """A loop among ordinary companies, time-ordered ``along`` or ``against`` the invoice direction."""
    k = flow_cycle_length(p)
    members = p.claim(k, anywhere=True)
    window = int(p.rng.integers(10, 91))
    t0 = _start(p, members, 2 * window + 60)
    ring = p.ring("cycle", members, orientation=orientation)
    cap = 0.85 * float(min(p.pop.limit_fen[members]))      # every member may issue every amount
    amount = min(max(float(_amount(p, hop(members, 0, orientation)[0])), 100_000.0), cap / 1.7)
    start = t0
    for _ in range(1 if p.rng.random() < 0.7 else 2):
        day = start
        step_max = max(1, window // k)
        for i in range(k):
            if i:
                day += int(p.rng.integers(1, step_max + 1))
                f = _drift(p, max_drift)
                amount *= f if amount * f <= cap else 2.0 - f    # a mark-up over the cap becomes a fee
            seller, buyer = hop(members, i, orientation)
            ring.rows.append(p.invoice(seller, buyer, day, int(amount), _item(p, seller)))
        start = day + int(p.rng.integers(20, 60))
        if start + window >= p.cal.days:
            break


def _capped(p: Planter, seller: int, amount: float) -> int:
    return int(max(1000, min(amount, p.pop.limit_fen[seller] * 0.85)))


def plant_fan(p: Planter, i: int, *, kind: str) -> None:
    """``fan_in``: many companies invoice one hub within days; ``fan_out``: the hub invoices many."""
    n = int(p.rng.integers(6, 21))
    members = p.claim(n + 1, anywhere=True)
    hub, others = members[0], members[1:]
    burst = int(p.rng.integers(1, 8))
    t0 = _start(p, members, burst + 1)
    ring = p.ring(kind, members)
    for other in others:
        day = t0 + int(p.rng.integers(0, burst))
        seller, buyer = (other, hub) if kind == "fan_in" else (hub, other)
        ring.rows.append(p.invoice(seller, buyer, day, _amount(p, seller), _item(p, seller)))


def plant_scatter_gather(p: Planter, i: int, *, max_drift: float) -> None:
    """A source splits value over 3-8 intermediaries within days; they re-join it at one sink."""
    n = int(p.rng.integers(3, 9))
    members = p.claim(n + 2, anywhere=True)
    source, mids, sink = members[0], members[1:-1], members[-1]
    t0 = _start(p, members, 25)
    ring = p.ring("scatter_gather", members)
    total = float(_amount(p, source)) * n
    shares = p.rng.uniform(0.8, 1.2, n)
    shares /= shares.sum()
    for m, share in zip(mids, shares, strict=True):
        day = t0 + int(p.rng.integers(0, 4))
        amount = total * share
        ring.rows.append(p.invoice(source, m, day, _capped(p, source, amount), _item(p, source)))
        fee = min(abs(1.0 - _drift(p, max_drift)), 0.1)
        ring.rows.append(p.invoice(m, sink, day + int(p.rng.integers(1, 8)), _capped(p, m, amount * (1 - fee)),
                                   _item(p, m)))

"""Planted fake-invoicing patterns (see /work/shared/domain/typologies.md) and legitimate decoys.

Each ``plant_*`` function claims taxpayers from the :class:`Planter`, appends its invoices and
records a :class:`PlantedRing` in the truth. Amounts stay below every seller's limit and dates never
precede a party's registration, so every planted invoice passes the loader's checks.
"""

from __future__ import annotations

from loaders.synth import catalog
from loaders.synth.planter import Planter

GOODS_INDUSTRIES = tuple(i for i, ind in enumerate(catalog.INDUSTRIES)
                         if all(it.category == "goods" for it in ind.items))


def _item(p: Planter, industry: int) -> int:
    return catalog.ITEM_START[industry] + int(p.rng.integers(0, catalog.ITEM_COUNT[industry]))


def _make_young(p: Planter, members: list[int], first_day: int, *, share_phone: bool, limit_fen: int) -> None:
    """Recently registered companies with no legitimate trade; optionally one shared phone number."""
    for m in members:
        p.pop.reg_day[m] = first_day - int(p.rng.integers(20, 150))
        p.pop.weight[m] = 0.0
        p.pop.limit_fen[m] = limit_fen
    if share_phone and len(members) > 1:
        p.pop.phone[members] = p.pop.phone[members[0]]


def cycle_length(p: Planter) -> int:
    """2-8 members, mostly 2-4 (published GST work: most circular trades involve 2-3 dealers)."""
    return int(p.rng.choice([2, 3, 4, 5, 6, 7, 8], p=[0.3, 0.3, 0.2, 0.08, 0.05, 0.04, 0.03]))


def plant_cycle(p: Planter, *, hidden: bool) -> None:
    """A→B→…→A with time-ordered hops inside 80 days and a few % amount drift, once or twice.

    ``hidden`` rings are busy companies that also trade legitimately; the others are young companies
    registered shortly before, sharing a phone (also recorded as a shared_identity ring).
    """
    k = cycle_length(p)
    days = p.cal.days
    members = p.claim(k, busy=hidden)
    if hidden:
        t0 = int(p.rng.integers(max(30, int(max(p.pop.reg_day[members])) + 10), days - 100)) \
            if max(p.pop.reg_day[members]) + 10 < days - 100 else days - 100
        limit = int(min(p.pop.limit_fen[members]))
    else:
        t0 = int(p.rng.integers(180, days - 100))
        limit = int(p.rng.choice([1_000_000_00, 10_000_000_00], p=[0.7, 0.3]))
        _make_young(p, members, t0, share_phone=True, limit_fen=limit)
    ring = p.ring("cycle", members)
    if not hidden:
        p.ring("shared_identity", members)
    item = _item(p, int(p.rng.choice(GOODS_INDUSTRIES)))
    amount = limit * p.rng.uniform(0.3, 0.6)
    start = t0
    for _ in range(1 if p.rng.random() < 0.7 else 2):
        day = start
        step_max = max(2, 75 // k)
        for i in range(k):
            if i:
                day += int(p.rng.integers(1, step_max + 1))
                amount *= 1 + p.rng.uniform(-0.02, 0.035)
            ring.rows.append(p.invoice(members[i], members[(i + 1) % k], day, int(amount), item))
        start = day + int(p.rng.integers(20, 60))
        if start + 80 >= days:
            break


def default_counts(taxpayers: int) -> dict[str, int]:
    """Planted rings per typology, scaled to the population."""
    return {"cycle": max(4, taxpayers // 400)}


PLANTERS = {"cycle": lambda p, i: plant_cycle(p, hidden=i % 2 == 0)}
FRAUD_TYPOLOGIES = ("cycle", "shared_identity")
DECOY_KINDS: tuple[str, ...] = ()

"""Planted fake-invoicing patterns (see /work/shared/domain/typologies.md) and legitimate decoys.

Each ``plant_*`` function claims taxpayers from the :class:`Planter`, appends its invoices and
records a :class:`PlantedRing` in the truth. Amounts stay below every seller's limit and dates never
precede a party's registration, so every planted invoice passes the loader's checks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from loaders.synth import catalog
from loaders.synth.flows import hop
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


def plant_cycle(p: Planter, *, hidden: bool, orientation: str = "along") -> None:
    """A→B→…→A with time-ordered hops inside 80 days and a few % amount drift, once or twice.

    ``hidden`` rings are busy companies that also trade legitimately; the others are young companies
    registered shortly before, sharing a phone (also recorded as a shared_identity ring).
    ``orientation``: the hops' time order runs along the invoice direction or against it (:func:`hop`).
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
    ring = p.ring("cycle", members, orientation=orientation)
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
            ring.rows.append(p.invoice(*hop(members, i, orientation), day, int(amount), item))
        start = day + int(p.rng.integers(20, 60))
        if start + 80 >= days:
            break


ORIENTATIONS = ("along", "against")


def _ind(key: str) -> int:
    return catalog.INDUSTRY_INDEX[key]


def _suppliers_of(industry: int) -> tuple[int, ...]:
    """Industries that sell to ``industry`` in the supply-chain table."""
    key = catalog.INDUSTRIES[industry].key
    sup = tuple(i for i, ind in enumerate(catalog.INDUSTRIES) if any(c == key for c, _ in ind.customers))
    return sup or GOODS_INDUSTRIES


def _customers_of(industry: int) -> tuple[int, ...]:
    return tuple(_ind(c) for c, _ in catalog.INDUSTRIES[industry].customers)


def _cap(p: Planter, seller: int, amount: float) -> int:
    """An amount kept below the seller's per-invoice limit (at most 85% of it)."""
    return int(max(1000, min(amount, p.pop.limit_fen[seller] * 0.85)))


def _settle(p: Planter, member: int, first_day: int) -> None:
    """Make sure ``member`` was registered well before ``first_day``."""
    p.pop.reg_day[member] = min(int(p.pop.reg_day[member]), first_day - int(p.rng.integers(200, 2000)))


def _spread(p: Planter, start: int, span: int, n: int) -> list[int]:
    return sorted(int(d) for d in start + p.rng.integers(0, max(span, 1), n))


def plant_shell(p: Planter, i: int) -> None:
    """Shell companies 走逃失联: 1-3 young companies (sharing a legal rep), a burst of large invoices, silence."""
    g = int(p.rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    members = p.claim(g, industries=(_ind("wholesale"), _ind("steel"), _ind("electronics"), _ind("chemicals")))
    t0 = int(p.rng.integers(150, p.cal.days - 90))
    limit = int(p.rng.choice([100_000_00, 1_000_000_00], p=[0.3, 0.7]))
    _make_young(p, members, t0, share_phone=False, limit_fen=limit)
    for m in members:
        p.pop.status[m] = 1 if p.rng.random() < 0.5 else 0
    ring = p.ring("shell", members)
    if g > 1:
        p.pop.legal_rep[members] = p.pop.legal_rep[members[0]]
        p.ring("shared_identity", members)
    for m in members:
        ind = int(p.pop.industry[m])
        buyers = p.partners(int(p.rng.integers(8, 20)), before_day=t0, industries=_customers_of(ind))
        span = int(p.rng.integers(20, 45))
        for k, day in enumerate(_spread(p, t0, span, int(p.rng.integers(15, 50)))):
            ring.rows.append(p.invoice(m, buyers[k % len(buyers)], day, int(limit * p.rng.uniform(0.5, 0.97)),
                                       _item(p, ind)))
        for s in p.partners(int(p.rng.integers(0, 3)), before_day=t0, industries=_suppliers_of(ind)):
            ring.rows.append(p.invoice(s, m, t0 + int(p.rng.integers(0, span)), _cap(p, s, limit * 0.02),
                                       _item(p, int(p.pop.industry[s]))))


def plant_fan_hub(p: Planter, i: int) -> None:
    """变票 hub: many sellers → hub → many buyers, output ≈ input, goods renamed on the way."""
    hub = p.claim(1, industries=(_ind("wholesale"), _ind("logistics"), _ind("consulting")))[0]
    t0 = int(p.rng.integers(60, p.cal.days - 150))
    _settle(p, hub, t0)
    p.pop.weight[hub] = 0.0
    p.pop.limit_fen[hub] = max(int(p.pop.limit_fen[hub]), 1_000_000_00)
    ring = p.ring("fan_hub", [hub])
    p.ring_typology(hub, "item_mismatch")
    in_ind = GOODS_INDUSTRIES[int(p.rng.integers(0, len(GOODS_INDUSTRIES)))]
    # goods renamed on the way, same VAT category (so totals as well as amounts pass straight through)
    out_ind = int(p.rng.choice([g for g in GOODS_INDUSTRIES if g != in_ind]))
    sellers = p.partners(int(p.rng.integers(6, 15)), before_day=t0, industries=(in_ind,))
    buyers = p.partners(int(p.rng.integers(6, 15)), before_day=t0, industries=_customers_of(out_ind))
    hub_limit = int(p.pop.limit_fen[hub])
    total = 0
    for s, day in zip(sellers, _spread(p, t0, 80, len(sellers)), strict=True):
        amt = _cap(p, s, hub_limit * p.rng.uniform(0.3, 0.8))
        total += amt
        ring.rows.append(p.invoice(s, hub, day, amt, _item(p, in_ind)))
    out_total = total * p.rng.uniform(1.0, 1.03)
    n_out = max(len(buyers), int(np.ceil(out_total / (0.8 * hub_limit))))
    shares = p.rng.uniform(0.9, 1.1, n_out)
    shares /= shares.sum()
    for k, day in enumerate(_spread(p, t0 + 10, 90, n_out)):
        ring.rows.append(p.invoice(hub, buyers[k % len(buyers)], day, int(out_total * shares[k]), _item(p, out_ind)))


def plant_near_limit(p: Planter, i: int) -> None:
    """顶额开票: most invoices in [0.9·L, L) of the company's per-invoice limit."""
    m = p.claim(1)[0]
    t0 = int(p.rng.integers(30, p.cal.days - 360))
    _settle(p, m, t0)
    p.pop.weight[m] = 0.0
    limit = int(p.rng.choice([100_000_00, 1_000_000_00], p=[0.6, 0.4]))
    p.pop.limit_fen[m] = limit
    ring = p.ring("near_limit", [m])
    ind = int(p.pop.industry[m])
    buyers = p.partners(int(p.rng.integers(8, 20)), before_day=t0, industries=_customers_of(ind))
    for k, day in enumerate(_spread(p, t0, 330, int(p.rng.integers(20, 50)))):
        amt = min(int(limit * p.rng.uniform(0.9, 0.9999)), limit - 1)
        ring.rows.append(p.invoice(m, buyers[k % len(buyers)], day, amt, _item(p, ind)))
    for s, day in zip(suppliers := p.partners(int(p.rng.integers(3, 8)), before_day=t0,
                                              industries=_suppliers_of(ind)),
                      _spread(p, t0, 300, len(suppliers)), strict=True):
        ring.rows.append(p.invoice(s, m, day, _cap(p, s, limit * p.rng.uniform(0.1, 0.5)),
                                   _item(p, int(p.pop.industry[s]))))


def plant_item_mismatch(p: Planter, i: int) -> None:
    """进销项不匹配: buys goods of one industry, sells goods/services it never bought."""
    m = p.claim(1)[0]
    t0 = int(p.rng.integers(30, p.cal.days - 200))
    _settle(p, m, t0)
    p.pop.weight[m] = 0.0
    p.pop.limit_fen[m] = max(int(p.pop.limit_fen[m]), 1_000_000_00)
    ring = p.ring("item_mismatch", [m])
    in_ind = GOODS_INDUSTRIES[int(p.rng.integers(0, len(GOODS_INDUSTRIES)))]
    out_ind = int(p.rng.choice([_ind("software"), _ind("pharma"), _ind("food"), _ind("textiles")]))
    sellers = p.partners(int(p.rng.integers(8, 15)), before_day=t0, industries=(in_ind,))
    buyers = p.partners(int(p.rng.integers(8, 15)), before_day=t0, industries=_customers_of(out_ind))
    limit = int(p.pop.limit_fen[m])
    total = 0
    for s, day in zip(sellers, _spread(p, t0, 150, len(sellers)), strict=True):
        amt = _cap(p, s, limit * p.rng.uniform(0.05, 0.3))
        total += amt
        ring.rows.append(p.invoice(s, m, day, amt, _item(p, in_ind)))
    shares = p.rng.uniform(0.8, 1.2, len(buyers))
    out_total = total * p.rng.uniform(1.05, 1.3)
    for b, day, sh in zip(buyers, _spread(p, t0 + 10, 170, len(buyers)), shares / shares.sum(), strict=True):
        ring.rows.append(p.invoice(m, b, day, min(int(out_total * sh), int(limit * 0.85)), _item(p, out_ind)))


def plant_shared_identity(p: Planter, i: int) -> None:
    """3-6 companies share a legal representative and phone (often a bank account) and bill each other."""
    members = p.claim(int(p.rng.integers(3, 7)))
    t0 = int(p.rng.integers(30, p.cal.days - 120))
    for m in members:
        _settle(p, m, t0)
    p.pop.legal_rep[members] = p.pop.legal_rep[members[0]]
    p.pop.phone[members] = p.pop.phone[members[0]]
    if p.rng.random() < 0.5:
        p.pop.bank_account[members] = p.pop.bank_account[members[0]]
    ring = p.ring("shared_identity", members)
    day = t0
    for a, b in zip(members, members[1:], strict=False):
        day += int(p.rng.integers(3, 20))
        ring.rows.append(p.invoice(a, b, day, _cap(p, a, p.pop.limit_fen[a] * p.rng.uniform(0.3, 0.8)),
                                   _item(p, int(p.pop.industry[a]))))


def plant_void_red(p: Planter, i: int) -> None:
    """High void / red-letter ratios: a quarter voided, a fifth red-lettered."""
    m = p.claim(1)[0]
    t0 = int(p.rng.integers(30, p.cal.days - 400))
    _settle(p, m, t0)
    p.pop.weight[m] = 0.0
    ring = p.ring("void_red", [m])
    ind = int(p.pop.industry[m])
    buyers = p.partners(int(p.rng.integers(6, 15)), before_day=t0, industries=_customers_of(ind))
    for k, day in enumerate(_spread(p, t0, 300, int(p.rng.integers(30, 60)))):
        u = p.rng.random()
        row = p.invoice(m, buyers[k % len(buyers)], day, _cap(p, m, p.pop.limit_fen[m] * p.rng.uniform(0.2, 0.8)),
                        _item(p, ind), paper=True, status="void" if u < 0.25 else "normal")
        ring.rows.append(row)
        if 0.25 <= u < 0.47:
            ring.rows.append(p.red_letter(row, int(p.rng.integers(1, 30)), full=p.rng.random() < 0.7))


# -- decoys: legitimate structures that look suspicious at first sight -----------------------------
def decoy_loop(p: Planter, i: int) -> None:
    """Long-running supplier/customer loop: different goods, months between hops, value added each hop."""
    k = int(p.rng.choice([2, 3, 4], p=[0.4, 0.4, 0.2]))
    members = p.claim(k, busy=True)
    lim = min(int(p.pop.limit_fen[m]) for m in members)
    amount = lim * p.rng.uniform(0.03, 0.06)
    day = int(p.rng.integers(0, 200))
    for m in members:
        _settle(p, m, day)
    ring = p.ring("decoy_loop", members, fraud=False)
    for _ in range(2):
        for j in range(k):
            if day >= p.cal.days:
                return
            seller = members[j]
            ring.rows.append(p.invoice(seller, members[(j + 1) % k], day, _cap(p, seller, amount),
                                       _item(p, int(p.pop.industry[seller]))))
            day += int(p.rng.integers(100, 200))
            amount *= p.rng.uniform(1.3, 1.8)


def decoy_group(p: Planter, i: int) -> None:
    """Group companies (集团) at one address, one brand, normal internal trade."""
    members = p.claim(int(p.rng.integers(3, 6)))
    t0 = int(p.rng.integers(30, p.cal.days - 100))
    head = members[0]
    brand = str(p.pop.name[head])[2:4]
    for m in members:
        _settle(p, m, t0)
        p.pop.address[m] = p.pop.address[head]
        p.pop.region[m] = p.pop.region[head]
        words = catalog.INDUSTRIES[int(p.pop.industry[m])].name_words
        city = catalog.REGIONS[int(p.pop.region[head])][0]
        p.pop.name[m] = f"{city}{brand}{words[0]}有限公司"
    p.pop.name[head] = f"{catalog.REGIONS[int(p.pop.region[head])][0]}{brand}集团有限公司"
    ring = p.ring("decoy_group", members, fraud=False)
    for a, b in zip(members[1:], members[2:] + members[:1], strict=False):
        day = t0 + int(p.rng.integers(0, 90))
        ring.rows.append(p.invoice(a, b, day, _cap(p, a, p.pop.limit_fen[a] * p.rng.uniform(0.05, 0.3)),
                                   _item(p, int(p.pop.industry[a]))))


def decoy_wholesaler(p: Planter, i: int) -> None:
    """A wholesaler selling what it buys to very many buyers, with a normal margin, over years."""
    m = p.claim(1, industries=(_ind("wholesale"),))[0]
    _settle(p, m, 0)
    p.pop.weight[m] = 0.0
    p.pop.limit_fen[m] = max(int(p.pop.limit_fen[m]), 1_000_000_00)
    ring = p.ring("decoy_wholesaler", [m], fraud=False)
    goods = (_ind("food"), _ind("textiles"), _ind("electronics"))
    sellers = p.partners(int(p.rng.integers(5, 10)), before_day=0, industries=goods)
    buyers = p.partners(int(p.rng.integers(60, 150)), before_day=0, industries=(_ind("retail"),))
    days = p.cal.days
    bought: list[int] = []
    for s, day in zip(sellers * 4, _spread(p, 0, days - 30, len(sellers) * 4), strict=True):
        item = _item(p, int(p.pop.industry[s]))
        bought.append(item)
        ring.rows.append(p.invoice(s, m, day, _cap(p, s, p.pop.limit_fen[m] * p.rng.uniform(0.2, 0.6)), item))
    total_in = sum(p._rows["amount"][r] for r in ring.rows)
    shares = p.rng.lognormal(0, 0.5, len(buyers))
    shares /= shares.sum()
    for b, day, sh in zip(buyers, _spread(p, 20, days - 21, len(buyers)), shares, strict=True):
        amt = min(int(total_in * 1.25 * sh), int(p.pop.limit_fen[m] * 0.85))
        ring.rows.append(p.invoice(m, b, day, max(amt, 10_000), bought[int(p.rng.integers(0, len(bought)))]))


def decoy_seasonal(p: Planter, i: int) -> None:
    """A seasonal business (mooncakes 月饼): a burst every August-September, quiet otherwise, for years."""
    m = p.claim(1, industries=(_ind("food"),))[0]
    _settle(p, m, 0)
    p.pop.weight[m] = 0.0
    ring = p.ring("decoy_seasonal", [m], fraud=False)
    buyers = p.partners(int(p.rng.integers(10, 25)), before_day=0, industries=(_ind("retail"), _ind("wholesale")))
    suppliers = p.partners(3, before_day=0, industries=(_ind("plastics"), _ind("food")))
    item = catalog.ITEM_START[_ind("food")] + 2   # 糕点
    for year in range(p.cal.start.year, p.cal.end.year + 1):
        season = p.cal.offset(p.cal.start.replace(year=year, month=8, day=1))
        if season + 50 >= p.cal.days or season < 0:
            continue
        for s in suppliers:
            ring.rows.append(p.invoice(s, m, season - int(p.rng.integers(5, 25)),
                                       _cap(p, s, p.pop.limit_fen[m] * 0.3), _item(p, int(p.pop.industry[s]))))
        for k, day in enumerate(_spread(p, season, 40, int(p.rng.integers(20, 40)))):
            ring.rows.append(p.invoice(m, buyers[k % len(buyers)], day,
                                       _cap(p, m, p.pop.limit_fen[m] * p.rng.uniform(0.1, 0.6)), item))


def default_counts(taxpayers: int) -> dict[str, int]:
    """Planted rings per typology, scaled to the population."""
    t = taxpayers
    return {"cycle": max(4, t // 400), "shell": max(2, t // 1500), "fan_hub": max(1, t // 3000),
            "near_limit": max(2, t // 1500), "item_mismatch": max(2, t // 1500),
            "shared_identity": max(2, t // 1500), "void_red": max(2, t // 1500),
            "decoy_loop": max(2, t // 1000), "decoy_group": max(2, t // 1500),
            "decoy_wholesaler": max(1, t // 3000), "decoy_seasonal": max(1, t // 3000)}


PLANTERS: dict[str, Callable[[Planter, int], None]] = {
    # hidden / young alternate, and so do the orientations within each (along, along, against, against …)
    "cycle": lambda p, i: plant_cycle(p, hidden=i % 2 == 0, orientation=ORIENTATIONS[(i // 2) % 2]),
    "shell": plant_shell, "fan_hub": plant_fan_hub, "near_limit": plant_near_limit,
    "item_mismatch": plant_item_mismatch, "shared_identity": plant_shared_identity, "void_red": plant_void_red,
    "decoy_loop": decoy_loop, "decoy_group": decoy_group, "decoy_wholesaler": decoy_wholesaler,
    "decoy_seasonal": decoy_seasonal,
}
FRAUD_TYPOLOGIES = ("cycle", "shell", "fan_hub", "near_limit", "item_mismatch", "shared_identity", "void_red")
DECOY_KINDS = ("decoy_loop", "decoy_group", "decoy_wholesaler", "decoy_seasonal")

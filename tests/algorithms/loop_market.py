"""A small random market with optional planted loops, for the loop-significance tests.

Background trade: companies with lognormal activity pick partners in proportion to activity (large
companies trade with each other often and close chance loops), amounts lognormal around each seller's
own level, item codes random per invoice. Planted loops: small new companies moving one amount round
with 5-25 % skimmed or added per hop, within a few weeks, in either orientation, the same item code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=TZ)


def market(*, companies: int = 150, invoices: int = 6_000, days: int = 365, loops: int = 0,
           seed: int = 0, ring_items: bool = True, drift: tuple[float, float] = (0.05, 0.25), fees_only: bool = False,
           sizes: tuple[int, int] = (3, 6),
           ) -> tuple[pd.DataFrame, list[tuple[frozenset[str], str]]]:
    """(invoice frame, planted loops as (member set, orientation)); ``ring_items=False``: the planted loops'
    invoices carry random item codes like the background's (loops that do not need item codes); ``drift``:
    range of the hop-to-hop change of the amount; ``fees_only``: every hop skims (the amount only shrinks);
    ``sizes``: fewest and most companies per planted loop."""
    rng = np.random.default_rng(seed)
    act = rng.lognormal(0, 1.2, companies)
    p = act / act.sum()
    seller = rng.choice(companies, invoices, p=p)
    buyer = rng.choice(companies, invoices, p=p)
    clash = seller == buyer
    buyer[clash] = (buyer[clash] + 1) % companies
    level = rng.normal(5.5, 0.6, companies)                          # log10 fen per seller
    total = np.round(10 ** (level[seller] + rng.normal(0, 0.35, invoices))).astype(np.int64)
    when = rng.uniform(0, days, invoices)
    rows = {
        "seller_tax_id": [f"C{s:04d}" for s in seller], "buyer_tax_id": [f"C{b:04d}" for b in buyer],
        "day": when.tolist(), "total_fen": total.tolist(),
        "item_code": [f"10{x:05d}" for x in rng.integers(0, 40, invoices)],
    }
    planted: list[tuple[frozenset[str], str]] = []
    for k in range(loops):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        names = [f"R{k:02d}{m}" for m in range(size)]
        orientation = "along" if k % 2 == 0 else "against"
        amount = float(rng.integers(500_000, 5_000_000))
        start = float(rng.uniform(0, days - 40))
        day = start
        item = f"99{k:05d}"
        for m in range(size):
            a, b = names[m], names[(m + 1) % size]
            # along: hop m happens before hop m+1; against: after it
            hop_day = day if orientation == "along" else start + 30 - (day - start)
            rows["seller_tax_id"].append(a)
            rows["buyer_tax_id"].append(b)
            rows["day"].append(hop_day)
            rows["total_fen"].append(int(amount))
            rows["item_code"].append(item if ring_items else f"10{int(rng.integers(0, 40)):05d}")
            sign = -1.0 if fees_only else float(rng.choice([-1, 1]))
            amount *= 1 + sign * float(rng.uniform(*drift))
            day += float(rng.uniform(1, 5))
        # each member also trades a little with the background
        for a in names:
            for _ in range(2):
                b = f"C{int(rng.choice(companies, p=p)):04d}"
                sell = bool(rng.integers(0, 2))
                rows["seller_tax_id"].append(a if sell else b)
                rows["buyer_tax_id"].append(b if sell else a)
                rows["day"].append(float(rng.uniform(0, days)))
                rows["total_fen"].append(int(10 ** rng.normal(5.5, 0.5)))
                rows["item_code"].append(f"10{int(rng.integers(0, 40)):05d}")
        planted.append((frozenset(names), orientation))
    frame = pd.DataFrame(rows)
    frame["issued_at"] = [T0 + timedelta(days=d) for d in frame.pop("day")]
    frame["issued_at"] = pd.to_datetime(frame["issued_at"])
    frame["key"] = [f"K{i:06d}" for i in range(len(frame))]
    frame["status"] = "normal"
    return frame, planted

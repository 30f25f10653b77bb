"""Small hand-built invoice graphs for the temporal pattern detectors: a random background plus planted patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")


def background(rng: np.random.Generator, *, companies: int = 400, invoices: int = 8000, days: int = 360) -> list[tuple]:
    """Random trade: parties drawn ∝ Pareto weights, times uniform, log-normal amounts (fen)."""
    w = rng.pareto(1.5, companies) + 1
    w /= w.sum()
    s = rng.choice(companies, invoices, p=w)
    b = rng.choice(companies, invoices, p=w)
    keep = s != b
    t = rng.uniform(0, days, invoices)
    a = np.exp(rng.normal(11, 1, invoices)).astype(np.int64) + 100
    return [(f"C{x:04d}", f"C{y:04d}", float(d), int(v)) for x, y, d, v, k in zip(s, b, t, a, keep, strict=True) if k]


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows (seller, buyer, day offset, total fen) → an invoice frame with keys, statuses and tz-aware times."""
    df = pd.DataFrame(rows, columns=["seller_tax_id", "buyer_tax_id", "day", "total_fen"])
    df["issued_at"] = START + pd.to_timedelta(df.pop("day"), unit="D")
    df["key"] = [f"K{i:06d}" for i in range(len(df))]
    df["status"] = "normal"
    return df


def plant_fan(rng: np.random.Generator, hub: str, k: int, day: float, *, out: bool = True) -> list[tuple]:
    """``hub`` invoices (``out``) or is invoiced by k fresh companies within 2 days."""
    rows = []
    for i in range(k):
        other = f"{hub}-P{i:02d}"
        rows.append((hub, other) if out else (other, hub))
    return [(*r, day + rng.uniform(0, 2), int(rng.integers(50_000, 90_000))) for r in rows]


def plant_scatter_gather(rng: np.random.Generator, src: str, dst: str, k: int, day: float, *,
                         along: bool = True) -> list[tuple]:
    """src → k intermediaries → dst, the second leg 0.5–2 days after (``along``) or before the first."""
    rows = []
    for i in range(k):
        mid = f"{src}-M{i:02d}"
        amt = int(rng.integers(80_000, 120_000))
        t1 = day + rng.uniform(0, 1)
        t2 = t1 + rng.uniform(0.5, 2) * (1 if along else -1)
        rows += [(src, mid, t1, amt), (mid, dst, t2, int(amt * 0.97))]
    return rows


def plant_gather_scatter(rng: np.random.Generator, hub: str, k: int, day: float) -> list[tuple]:
    """k fresh sellers invoice ``hub`` within a day, then ``hub`` invoices k fresh buyers within the next two."""
    rows = [(f"{hub}-S{i:02d}", hub, day + rng.uniform(0, 1), 100_000) for i in range(k)]
    rows += [(hub, f"{hub}-B{i:02d}", day + 1 + rng.uniform(0, 1), 98_000) for i in range(k)]
    return rows


def plant_layered(rng: np.random.Generator, name: str, widths: tuple[int, ...], day: float) -> list[tuple]:
    """A source, layers of the given widths, a sink; every company of a layer invoices every company of
    the next 0.5–1.5 days after it was invoiced (a bipartite chain)."""
    layers = [[f"{name}-src"]] + [[f"{name}-L{j}{i}" for i in range(w)] for j, w in enumerate(widths)] + [[f"{name}-dst"]]
    rows, t = [], day
    for a, b in zip(layers[:-1], layers[1:], strict=True):
        for x in a:
            for y in b:
                rows.append((x, y, t + rng.uniform(0, 0.5), int(rng.integers(60_000, 70_000))))
        t += 1.5
    return rows


def plant_pass_through(rng: np.random.Generator, hub: str, k: int, day: float, months: int = 3) -> list[tuple]:
    """``hub`` buys from k sellers and sells the same value to k buyers 1–2 days later, every ~10 days."""
    rows = []
    for j in range(months * 3):
        t = day + 10 * j + rng.uniform(0, 3)
        amt = int(rng.integers(200_000, 400_000))
        rows.append((f"{hub}-S{j % k:02d}", hub, t, amt))
        rows.append((hub, f"{hub}-B{j % k:02d}", t + rng.uniform(1, 2), amt))
    return rows


def plant_split(rng: np.random.Generator, seller: str, buyer: str, k: int, day: float) -> list[tuple]:
    """``seller`` splits one deal into k invoices to ``buyer`` on one day (拆分开票)."""
    return [(seller, buyer, day + rng.uniform(0, 0.5), int(rng.integers(90_000, 99_000))) for _ in range(k)]

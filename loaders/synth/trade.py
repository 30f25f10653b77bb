"""Legitimate trade: supply-chain driven seller→buyer invoices with realistic dates, amounts and rates."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from loaders.synth import catalog
from loaders.synth.population import Population

Ints = npt.NDArray[np.int64]

KINDS = ("special", "ordinary", "digital_special", "digital_ordinary")
STATUS_CODES = {"normal": 0, "void": 1, "red": 2, "red_offset": 3, "out_of_control": 4, "abnormal": 5}
VOID_RATE = 0.015
RED_RATE = 0.008

_CATS = tuple(catalog.CATEGORY_RATES)
ITEM_CATEGORY = np.array([_CATS.index(it.category) for it in catalog.ITEMS], dtype=np.int64)
_RATE_TABLE = np.array([catalog.CATEGORY_RATES[c] for c in _CATS], dtype=np.int64)   # (category, era)


@dataclass(frozen=True)
class Calendar:
    """The generated span: day 0 = ``start``; per-day weights with month-end / quarter-end peaks."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def offset(self, d: date) -> int:
        return (d - self.start).days

    def day_weights(self) -> npt.NDArray[np.float64]:
        w = np.ones(self.days)
        for i in range(self.days):
            d = self.start + timedelta(days=i)
            nxt = d + timedelta(days=1)
            wd = d.weekday()
            w[i] = 0.35 if wd == 5 else 0.2 if wd == 6 else 1.0
            days_left = ((d.replace(day=28) + timedelta(days=4)).replace(day=1) - d).days
            if days_left <= 3:
                w[i] *= 1.9 if d.month % 3 else 2.6       # month-end, quarter-end peaks
            if d.month == 2 and d.day <= 14 or d.month == 1 and d.day >= 25:
                w[i] *= 0.45                              # Spring Festival lull (approximate)
            del nxt
        return w

    def era(self, day: Ints) -> Ints:
        """Rate era per day: 0 before 2018-05-01, 1 until 2019-03-31, 2 after."""
        return np.searchsorted(np.array([self.offset(date(2018, 5, 1)), self.offset(date(2019, 4, 1))]),
                               day, side="right").astype(np.int64)

    def year(self, day: Ints) -> Ints:
        first = [self.offset(date(y, 1, 1)) for y in range(self.start.year + 1, self.end.year + 1)]
        return self.start.year + np.searchsorted(np.array(first, dtype=np.int64), day, side="right")


@dataclass
class Batch:
    """Invoices as columns; ``red_of`` is the row index (inside the batch) of a red invoice's original."""

    seller: Ints
    buyer: Ints
    day: Ints
    sec: Ints
    amount: Ints
    rate_bp: Ints
    kind: Ints
    status: Ints
    red_of: Ints
    item: Ints

    def __len__(self) -> int:
        return len(self.seller)

    @staticmethod
    def concat(batches: list[Batch], *, shift: bool = True) -> Batch:
        """Concatenate; with ``shift`` each batch's red_of is moved by the batch's offset."""
        offs = np.cumsum([0] + [len(b) for b in batches])[:-1]
        cols = {}
        for f in fields(Batch):
            parts = [getattr(b, f.name) for b in batches]
            if f.name == "red_of" and shift:
                parts = [np.where(p >= 0, p + o, -1) for p, o in zip(parts, offs, strict=True)]
            cols[f.name] = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return Batch(**cols)


def tax_rate_bp(cal: Calendar, item: Ints, day: Ints, small: npt.NDArray[np.bool_]) -> Ints:
    """The rate in force (basis points) for each item on each day; small-scale sellers: 3%, 1% from 2023."""
    rate = _RATE_TABLE[ITEM_CATEGORY[item], cal.era(day)]
    small_rate = np.where(day >= cal.offset(date(2023, 1, 1)), 100, 300)
    return np.where(small, small_rate, rate).astype(np.int64)


def tax_fen(amount: Ints, rate_bp: Ints) -> Ints:
    """round(amount × rate) in fen, half away from zero (red invoices mirror their originals)."""
    a = np.abs(amount) * rate_bp
    return (np.sign(amount) * ((a + 5000) // 10000)).astype(np.int64)


def choose_kind(rng: np.random.Generator, cal: Calendar, day: Ints, small: npt.NDArray[np.bool_]) -> Ints:
    """数电 share grows with the year; small-scale sellers issue ordinary invoices."""
    year = cal.year(day)
    # 数电 pilots began in December 2021; nationwide roll-out through 2023-2024
    p_digital = np.select([year <= 2020, year == 2021, year == 2022, year == 2023], [0.0, 0.02, 0.1, 0.4], 0.8)
    digital = rng.random(len(day)) < p_digital
    special = (rng.random(len(day)) < 0.7) & ~small
    return (np.where(digital, 2, 0) + np.where(special, 0, 1)).astype(np.int64)


def draw_amount(rng: np.random.Generator, pop: Population, seller: Ints) -> Ints:
    """Log-normal amounts per industry, larger for larger sellers, always below the seller's limit."""
    mu = np.array([ind.mu for ind in catalog.INDUSTRIES])[pop.industry[seller]]
    sigma = np.array([ind.sigma for ind in catalog.INDUSTRIES])[pop.industry[seller]]
    size = 0.25 * np.log(np.maximum(pop.weight[seller], 0.05) / 0.8)
    yuan = np.exp(rng.normal(mu + size, sigma))
    fen = np.maximum((yuan * 100).astype(np.int64), 1000)
    limit = pop.limit_fen[seller]
    over = fen >= limit
    fen[over] = (limit[over] * rng.uniform(0.2, 0.85, int(over.sum()))).astype(np.int64)
    return fen


class Market:
    """Samplers over the population: sellers ∝ weight, buyers ∝ weight within a customer industry."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        self.seller_cum = np.cumsum(pop.weight)
        self.by_industry: list[tuple[Ints, npt.NDArray[np.float64]]] = []
        for g in range(len(catalog.INDUSTRIES)):
            members = np.flatnonzero(pop.industry == g)
            self.by_industry.append((members, np.cumsum(pop.weight[members])))
        n_ind = len(catalog.INDUSTRIES)
        self.customer_p = np.zeros((n_ind, n_ind))
        for i, ind in enumerate(catalog.INDUSTRIES):
            for key, w in ind.customers:
                self.customer_p[i, catalog.INDUSTRY_INDEX[key]] = w
            # a little trade with anyone, so the graph is not a strict DAG of industries
            self.customer_p[i] += 0.15
            self.customer_p[i] /= self.customer_p[i].sum()

    def sellers(self, rng: np.random.Generator, n: int) -> Ints:
        pos: Ints = np.searchsorted(self.seller_cum, rng.random(n) * self.seller_cum[-1], side="right").astype(np.int64)
        return pos

    def buyers_in(self, rng: np.random.Generator, industry: Ints) -> Ints:
        out = np.full(len(industry), -1, dtype=np.int64)
        for g in np.unique(industry):
            mask = industry == g
            members, cum = self.by_industry[int(g)]
            if len(members) == 0 or cum[-1] <= 0:
                continue
            pos = np.searchsorted(cum, rng.random(int(mask.sum())) * cum[-1], side="right")
            out[mask] = members[np.minimum(pos, len(members) - 1)]
        return out

    def buyers(self, rng: np.random.Generator, seller: Ints) -> Ints:
        """Buyer for each seller along the supply chain; never the seller itself."""
        ind = self.pop.industry[seller]
        cum = np.cumsum(self.customer_p, axis=1)
        u = rng.random(len(seller))
        buyer_ind = (u[:, None] > cum[ind]).sum(axis=1).astype(np.int64)
        buyer = self.buyers_in(rng, buyer_ind)
        bad = (buyer < 0) | (buyer == seller)
        while bad.any():
            buyer[bad] = self.sellers(rng, int(bad.sum()))
            bad = buyer == seller
        return buyer


def legit_batch(rng: np.random.Generator, market: Market, cal: Calendar, day_p: npt.NDArray[np.float64],
                n: int, *, red_and_void: bool = True) -> Batch:
    """``n`` legitimate invoices: blue invoices plus a few red-letter ones referencing them (and a few
    paper ones voided) unless ``red_and_void`` is False."""
    pop = market.pop
    n_red = int(round(n * RED_RATE)) if red_and_void else 0
    nb = n - n_red
    seller = market.sellers(rng, nb)
    buyer = market.buyers(rng, seller)
    day = rng.choice(cal.days, nb, p=day_p).astype(np.int64)
    lo = np.maximum(np.maximum(pop.reg_day[seller], pop.reg_day[buyer]) + 1, 0)
    early = day < lo
    day[early] = lo[early] + (rng.random(int(early.sum())) * (cal.days - lo[early])).astype(np.int64)
    day = np.minimum(day, cal.days - 1)
    sec = np.clip(rng.normal(14.0, 2.6, nb) * 3600, 8 * 3600, 21 * 3600).astype(np.int64)
    ind = pop.industry[seller]
    item = (np.array(catalog.ITEM_START)[ind] + rng.integers(0, 1 << 30, nb) % np.array(catalog.ITEM_COUNT)[ind])
    item = item.astype(np.int64)
    small = pop.small[seller]
    rate = tax_rate_bp(cal, item, day, small)
    kind = choose_kind(rng, cal, day, small)
    amount = draw_amount(rng, pop, seller)
    status = np.zeros(nb, dtype=np.int64)
    paper = kind < 2
    void = paper & (rng.random(nb) < VOID_RATE)
    if red_and_void:
        status[void] = STATUS_CODES["void"]
    blue = Batch(seller, buyer, day, sec, amount, rate, kind, status, np.full(nb, -1, dtype=np.int64), item)
    if n_red == 0:
        return blue
    cand = np.flatnonzero(blue.status == 0)
    orig = rng.choice(cand, n_red, replace=False) if len(cand) >= n_red else cand
    return with_red_letters(rng, cal, blue, orig)


def with_red_letters(rng: np.random.Generator, cal: Calendar, blue: Batch, orig: Ints, *,
                     full_share: float = 0.6) -> Batch:
    """``blue`` followed by red-letter invoices (negative) against its rows ``orig``.

    A red invoice never exceeds its original; fully offset originals get status red_offset.
    """
    k = len(orig)
    full = rng.random(k) < full_share
    part = np.maximum((blue.amount[orig] * rng.uniform(0.1, 0.9, k)).astype(np.int64), 1)
    amount = -np.where(full, blue.amount[orig], part)
    day = np.minimum(blue.day[orig] + rng.integers(1, 45, k), cal.days - 1)
    # a red invoice carries its original's rate: keep it inside the same rate era (and year)
    moved = (cal.era(day) != cal.era(blue.day[orig])) | (cal.year(day) != cal.year(blue.day[orig]))
    day[moved] = blue.day[orig][moved]
    same = day == blue.day[orig]
    sec = np.where(same, np.minimum(blue.sec[orig] + 600, 86_399), blue.sec[orig])
    blue.status[orig[full]] = STATUS_CODES["red_offset"]
    red = Batch(blue.seller[orig].copy(), blue.buyer[orig].copy(), day, sec, amount, blue.rate_bp[orig].copy(),
                 blue.kind[orig].copy(), np.full(k, STATUS_CODES["red"], dtype=np.int64), orig.astype(np.int64),
                blue.item[orig].copy())
    return Batch.concat([blue, red], shift=False)

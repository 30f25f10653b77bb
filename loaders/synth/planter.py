"""Bookkeeping for planted patterns: claims taxpayers, collects pattern invoices, records the truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from loaders.synth.population import Population
from loaders.synth.trade import STATUS_CODES, Batch, Calendar, choose_kind, tax_rate_bp

Ints = npt.NDArray[np.int64]


@dataclass
class PlantedRing:
    ring_id: str
    typology: str
    members: list[int]
    rows: list[int] = field(default_factory=list)   # rows of the pattern batch, in time order
    orientation: str = ""                           # cycles: "along" or "against" the invoice direction


class Planter:
    """Collects pattern invoices row by row (they are few) and the ground truth."""

    def __init__(self, rng: np.random.Generator, pop: Population, cal: Calendar) -> None:
        self.rng = rng
        self.pop = pop
        self.cal = cal
        self.used = np.zeros(len(pop), dtype=bool)
        self.rings: list[PlantedRing] = []
        self.typologies: dict[int, list[str]] = {}
        self.fraud: set[int] = set()
        self._rows: dict[str, list[int]] = {k: [] for k in
                                            ("seller", "buyer", "day", "sec", "amount", "kind", "status", "red_of",
                                             "item")}
        self._counter: dict[str, int] = {}
        self._busy_cut = float(np.quantile(pop.weight, 0.9))
        self._order = rng.permutation(len(pop))
        self._pools: dict[tuple[bool | None, tuple[int, ...] | None], tuple[Ints, list[int]]] = {}
        self._by_ind: list[tuple[Ints, npt.NDArray[np.float64]]] = []
        for g in range(int(pop.industry.max()) + 1):
            members = np.flatnonzero(pop.industry == g)
            self._by_ind.append((members, np.cumsum(pop.weight[members] + 0.01)))

    # -- taxpayers -------------------------------------------------------------------------------
    def _pool(self, busy: bool | None, industries: tuple[int, ...] | None) -> tuple[Ints, list[int]]:
        key = (busy, industries)
        if key not in self._pools:
            ok = (np.ones(len(self.pop), dtype=bool) if busy is None else
                  self.pop.weight >= self._busy_cut if busy else self.pop.weight < self._busy_cut)
            ok &= self.pop.reg_day < self.cal.days - 200
            if industries is not None:
                ok &= np.isin(self.pop.industry, np.array(industries))
            self._pools[key] = (self._order[ok[self._order]], [0])
        return self._pools[key]

    def claim(self, n: int, *, busy: bool = False, industries: tuple[int, ...] | None = None,
              anywhere: bool = False) -> list[int]:
        """``n`` unused taxpayers (busy = among the top 10% by activity; ``anywhere`` = drawn like any
        taxpayer, whatever its activity), marked used."""
        picked: list[int] = []
        for b in ((None,) if anywhere else (busy, not busy)):
            order, ptr = self._pool(b, industries)
            while len(picked) < n and ptr[0] < len(order):
                t = int(order[ptr[0]])
                ptr[0] += 1
                if not self.used[t]:
                    picked.append(t)
                    self.used[t] = True
            if len(picked) == n:
                break
        if len(picked) < n:
            raise _TooSmall()
        self.pop.small[picked] = False
        return picked

    def partners(self, n: int, *, before_day: int, industries: tuple[int, ...] | None = None) -> list[int]:
        """Up to ``n`` distinct legitimate counterparties (∝ activity) registered before ``before_day``."""
        inds = industries if industries is not None else tuple(range(len(self._by_ind)))
        tot = np.array([self._by_ind[g][1][-1] if len(self._by_ind[g][0]) else 0.0 for g in inds])
        out: list[int] = []
        for _ in range(20):
            g = self.rng.choice(len(inds), 4 * n, p=tot / tot.sum())
            for gi in g:
                members, cum = self._by_ind[inds[int(gi)]]
                t = int(members[min(int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right")),
                                    len(members) - 1)])
                if not self.used[t] and self.pop.reg_day[t] < before_day and t not in out:
                    out.append(t)
                    if len(out) == n:
                        return out
        return out

    def ring(self, typology: str, members: list[int], *, fraud: bool = True, orientation: str = "") -> PlantedRing:
        self._counter[typology] = self._counter.get(typology, 0) + 1
        r = PlantedRing(f"{typology}-{self._counter[typology]:04d}", typology, list(members), orientation=orientation)
        self.rings.append(r)
        for m in members:
            tl = self.typologies.setdefault(m, [])
            if typology not in tl:
                tl.append(typology)
            if fraud:
                self.fraud.add(m)
        return r

    def ring_typology(self, member: int, typology: str) -> None:
        """Record an extra typology on a fraudulent member without a ring of its own."""
        tl = self.typologies.setdefault(member, [])
        if typology not in tl:
            tl.append(typology)

    # -- invoices --------------------------------------------------------------------------------
    def invoice(self, seller: int, buyer: int, day: int, amount_fen: int, item: int, *, sec: int | None = None,
                status: str = "normal", paper: bool = False) -> int:
        """Append one blue invoice; returns its row. ``paper`` forces a code+number invoice (can be voided)."""
        r = self._rows
        day = int(min(max(day, 0), self.cal.days - 1))
        r["seller"].append(seller)
        r["buyer"].append(buyer)
        r["day"].append(day)
        r["sec"].append(int(sec if sec is not None else self.rng.integers(9 * 3600, 18 * 3600)))
        r["amount"].append(int(amount_fen))
        r["kind"].append(-2 if paper else -1)
        r["status"].append(STATUS_CODES[status])
        r["red_of"].append(-1)
        r["item"].append(item)
        return len(r["seller"]) - 1

    def red_letter(self, orig: int, days_after: int, *, full: bool = True) -> int:
        """Append a red-letter invoice against row ``orig`` (never exceeding it)."""
        r = self._rows
        amount = r["amount"][orig] if full else max(1, int(r["amount"][orig] * self.rng.uniform(0.2, 0.8)))
        day = min(r["day"][orig] + days_after, self.cal.days - 1)
        a, b = np.array([r["day"][orig]]), np.array([day])
        if self.cal.era(a)[0] != self.cal.era(b)[0] or self.cal.year(a)[0] != self.cal.year(b)[0]:
            day = r["day"][orig]   # a red invoice keeps its original's rate era and year
        row = self.invoice(r["seller"][orig], r["buyer"][orig], day, -amount, r["item"][orig],
                           sec=min(r["sec"][orig] + 600, 86_399) if day == r["day"][orig] else None, status="red")
        r["red_of"][row] = orig
        if full:
            r["status"][orig] = STATUS_CODES["red_offset"]
        return row

    def batch(self) -> Batch:
        """The pattern invoices as a Batch, with rates and invoice kinds resolved."""
        r = {k: np.array(v, dtype=np.int64) for k, v in self._rows.items()}
        n = len(r["seller"])
        b = Batch(r["seller"], r["buyer"], r["day"], r["sec"], r["amount"], np.zeros(n, dtype=np.int64),
                  r["kind"], r["status"], r["red_of"], r["item"])
        small = self.pop.small[b.seller]
        b.rate_bp = tax_rate_bp(self.cal, b.item, b.day, small)
        kind = choose_kind(self.rng, self.cal, b.day, small)
        paper = b.kind == -2
        kind[paper] = kind[paper] % 2
        b.kind = kind
        red = b.red_of >= 0
        b.kind[red] = b.kind[b.red_of[red]]
        b.rate_bp[red] = b.rate_bp[b.red_of[red]]
        return b


class _TooSmall(Exception):
    """Raised internally when the population cannot host the requested patterns."""

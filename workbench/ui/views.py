"""Read models of the pages: plain functions from the store to typed results, tested without Streamlit.

Pages call these and keep only widgets and ``st.*`` calls. Missing values come back as ``""`` or ``None``
for the page's formatter, never as NaN/NaT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from graph.core import vocab
from graph.core.model import Ring, Run
from graph.store import Store


@dataclass(frozen=True)
class Overview:
    """The overview's totals. ``rings`` counts the newest run's rings only (earlier runs are history)."""

    taxpayers: int
    invoices: int
    rings: int
    latest: Run | None
    tiers: dict[str, int] = field(default_factory=dict)   # newest run: taxpayers per tier, high first


@dataclass(frozen=True)
class News:
    """What the newest run found that the previous one did not."""

    run: Run
    previous: Run
    new_high: list[str]          # tax ids high in the newest run and not high in the previous one, sorted
    new_rings: list[Ring]        # rings whose member set the previous run did not have


def _high(scores: pa.Table) -> set[str]:
    return {t for t, tier in zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(),
                                 strict=True) if tier == "high"}


def overview(store: Store) -> Overview:
    """Totals for the overview page, tiers and rings from the newest detection run."""
    counts = store.counts()
    runs = store.runs()
    if not runs:
        return Overview(counts.taxpayers, counts.invoices, 0, None)
    tiers = store.scores(runs[0].run_id).column("tier").to_pylist()
    return Overview(counts.taxpayers, counts.invoices, len(store.rings(runs[0].run_id)), runs[0],
                    {t: tiers.count(t) for t in reversed(vocab.TIERS)})


def news(store: Store) -> News | None:
    """New high-risk taxpayers and new rings of the newest run against the previous one (None: fewer than two)."""
    runs = store.runs()
    if len(runs) < 2:
        return None
    new, old = runs[0], runs[1]
    old_sets = {frozenset(r.members) for r in store.rings(old.run_id)}
    return News(new, old, sorted(_high(store.scores(new.run_id)) - _high(store.scores(old.run_id))),
                [r for r in store.rings(new.run_id) if frozenset(r.members) not in old_sets])


@dataclass(frozen=True)
class RingSummary:
    """One row of the rings list: size, time span and amount of the ring's invoices found in the store."""

    ring_id: str
    kind: str
    members: int
    invoices: int
    score: float
    first: datetime | None       # None when none of its invoices is stored
    last: datetime | None
    fen: int                     # total_fen of its stored invoices


def ring_summaries(store: Store, run_id: str) -> list[RingSummary]:
    """The rings of ``run_id`` (highest score first) with the span and total of their invoices."""
    rings = store.rings(run_id)
    keys = sorted({k for r in rings for k in r.invoice_keys})
    by_key: dict[str, tuple[datetime, int]] = {}
    if keys:
        inv = store.invoices(keys).select(["key", "issued_at", "total_fen"])
        for k, at, fen in zip(inv.column("key").to_pylist(), inv.column("issued_at").to_pylist(),
                              inv.column("total_fen").to_pylist(), strict=True):
            by_key[k] = (at, fen)
    out = []
    for r in rings:
        got = [by_key[k] for k in r.invoice_keys if k in by_key]
        times = [g[0] for g in got]
        out.append(RingSummary(r.ring_id, r.kind, len(r.members), len(r.invoice_keys), round(r.score, 3),
                               min(times) if times else None, max(times) if times else None,
                               sum(g[1] for g in got)))
    return out

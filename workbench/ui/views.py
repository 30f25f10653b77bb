"""Read models of the pages: plain functions from the store to typed results, tested without Streamlit.

Pages call these and keep only widgets and ``st.*`` calls. Missing values come back as ``""`` or ``None``
for the page's formatter, never as NaN/NaT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

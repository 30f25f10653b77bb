"""Ring names and summaries, shared by the workbench pages (through workbench.ui.views) and the period report.

A ring's readable title (kind, its two largest members, size, first month) and its row in a list (size,
time span, total amount of its stored invoices).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from graph.core import vocab
from graph.core.model import Ring, RingRow
from graph.core.schema import TZ
from graph.store import Store

_TZ = ZoneInfo(TZ)


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


def summary(row: RingRow) -> RingSummary:
    """The list row of a ring read with :meth:`graph.store.Store.rings_page`."""
    r = row.ring
    return RingSummary(r.ring_id, r.kind, len(r.members), len(r.invoice_keys), round(r.score, 3), row.first, row.last,
                       row.fen)


def ring_summaries(store: Store, run_id: str) -> list[RingSummary]:
    """The rings of ``run_id`` (highest score first) with the span and total of their invoices."""
    return [summary(row) for row in store.rings_page(run_id)]


_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")


def short_name(name: str) -> str:
    """A company name without its legal-form suffix (``深圳甲贸易有限公司`` → ``深圳甲贸易``)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] if len(name) > len(suffix) else name
    return name


def ring_titles(store: Store, rings: Sequence[Ring]) -> dict[str, tuple[str, str]]:
    """A readable (Chinese, English) title per ring: kind, the two members with the largest invoiced
    volume inside the ring (by name), the size and the month of its first invoice, e.g.
    ``时序环路 · 深圳甲贸易、深圳乙贸易等3家 · 2024-03``. Rings without stored invoices (shared identity)
    name their first members and no month."""
    keys = sorted({k for r in rings for k in r.invoice_keys})
    inv: dict[str, tuple[str, str, int, datetime]] = {}
    names: dict[str, str] = {}
    if keys:
        t = store.invoices(keys).select(["key", "seller_tax_id", "buyer_tax_id", "seller_name", "buyer_name",
                                         "total_fen", "issued_at"])
        for row in t.to_pylist():
            inv[row["key"]] = (row["seller_tax_id"], row["buyer_tax_id"], int(row["total_fen"] or 0), row["issued_at"])
            names.setdefault(row["seller_tax_id"], row["seller_name"] or "")
            names.setdefault(row["buyer_tax_id"], row["buyer_name"] or "")
    missing = sorted({m for r in rings for m in r.members[:2]} - set(names))
    if missing:
        for row in store.taxpayers(missing).select(["tax_id", "name"]).to_pylist():
            names[row["tax_id"]] = row["name"] or ""
    out: dict[str, tuple[str, str]] = {}
    for r in rings:
        volume = dict.fromkeys(r.members, 0)
        first: datetime | None = None
        for k in r.invoice_keys:
            if k not in inv:
                continue
            s, b, fen, at = inv[k]
            for party in (s, b):
                if party in volume:
                    volume[party] += fen
            first = at if first is None or at < first else first
        who: list[str] = []     # the two largest members with different short names (两家"上海鑫元企业管理")
        for m in sorted(r.members, key=lambda m: (-volume[m], r.members.index(m))):
            label = short_name(names.get(m) or m)
            if label not in who:
                who.append(label)
            if len(who) == 2:
                break
        n = len(r.members)
        zh_who = "、".join(who) + (f"等{n}家" if n > len(who) else "")
        en_who = ", ".join(who) + (f" +{n - len(who)}" if n > len(who) else "")
        month = f" · {first.astimezone(_TZ).strftime('%Y-%m')}" if first is not None else ""
        kind = vocab.RING_KINDS.get(r.kind, (r.kind, r.kind))
        out[r.ring_id] = (f"{kind[0]} · {zh_who}{month}", f"{kind[1]} · {en_who}{month}")
    return out

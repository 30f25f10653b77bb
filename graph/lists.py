"""The filters of the workbench's long lists (Store.rings_page, scores_page, invoices_of_page) over rows already read.

The backends answer those reads with one parameterised query each; these functions are the contract's
default implementation and the reference the contract tests compare the backends with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema
from graph.core.model import Ring, RingQuery, RingRow, ScoreQuery


def ring_rows(rings: Sequence[Ring], invoices: pa.Table) -> list[RingRow]:
    """``rings`` with the span and total of their invoices found in ``invoices`` (schema.INVOICES rows)."""
    by_key: dict[str, tuple[datetime, int]] = {}
    for k, at, fen in zip(invoices.column("key").to_pylist(), invoices.column("issued_at").to_pylist(),
                          invoices.column("total_fen").to_pylist(), strict=True):
        by_key[k] = (at, int(fen or 0))
    out = []
    for r in rings:
        got = [by_key[k] for k in r.invoice_keys if k in by_key]
        times = [g[0] for g in got]
        out.append(RingRow(r, min(times) if times else None, max(times) if times else None, sum(g[1] for g in got)))
    return out


def ring_kept(row: RingRow, where: RingQuery) -> bool:
    """Whether ``row`` passes the filters ``where``."""
    if where.kinds is not None and row.ring.kind not in where.kinds:
        return False
    if row.ring.score < where.min_score or row.fen < where.min_fen:
        return False
    if where.start is not None and (row.last is None or row.last < where.start):
        return False
    return where.end is None or (row.first is not None and row.first < where.end)


def scores_kept(scores: pa.Table, taxpayers: pa.Table, where: ScoreQuery) -> pa.Table:
    """schema.SCORED_TAXPAYERS rows: ``scores`` (schema.SCORES, in order) joined with ``taxpayers``
    (schema.TAXPAYERS) that pass ``where``."""
    facts = {r["tax_id"]: r for r in taxpayers.select(["tax_id", "name", "industry", "region"]).to_pylist()}
    rows = []
    for r in scores.to_pylist():
        t = facts.get(r["tax_id"], {})
        row = {**r, "name": t.get("name"), "industry": t.get("industry"), "region": t.get("region")}
        if _score_kept(row, where):
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema.SCORED_TAXPAYERS)


def _score_kept(row: dict[str, object], where: ScoreQuery) -> bool:
    tax_id = str(row["tax_id"])
    if where.tiers is not None and where.overrides.get(tax_id, row["tier"]) not in where.tiers:
        return False
    if float(row["score"] or 0.0) < where.min_score:   # type: ignore[arg-type]
        return False
    if where.industries is not None and row["industry"] not in where.industries:
        return False
    if where.regions is not None and row["region"] not in where.regions:
        return False
    if where.tax_ids is not None and tax_id not in where.tax_ids:
        return False
    return not where.text or where.text in str(row["name"] or "") or tax_id.startswith(where.text)


def facets(taxpayers: pa.Table) -> dict[str, list[str]]:
    """The distinct industries and regions of ``taxpayers`` (schema.TAXPAYERS), sorted, nulls left out."""
    return {c: sorted({v for v in taxpayers.column(c).to_pylist() if v is not None}) for c in ("industry", "region")}


def list_param(values: Sequence[str] | None) -> list[str] | None:
    """A list filter as a query parameter: None stays None (any), a sequence becomes a list (empty: none)."""
    return None if values is None else [str(v) for v in values]


def epoch_local(seconds: int | None) -> datetime | None:
    """Epoch seconds as a time in the contract's zone (None stays None)."""
    return None if seconds is None else datetime.fromtimestamp(int(seconds), ZoneInfo(schema.TZ))


SIDES = ("issued", "received")   #: the two sides of Store.invoices_of_page


def check_side(side: str) -> bool:
    """Whether ``side`` is "issued" (True) or "received" (False); anything else is refused."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    return side == "issued"


def invoices_side(invoices: pa.Table, tax_id: str, side: str, min_fen: int = 0) -> pa.Table:
    """schema.INVOICES rows of ``invoices`` that ``tax_id`` issued ("issued") or received from another taxpayer
    ("received"), with total_fen >= ``min_fen``, in the order given."""
    sold = pc.equal(invoices.column("seller_tax_id"), tax_id)
    keep = sold if check_side(side) else pc.and_(pc.invert(sold), pc.equal(invoices.column("buyer_tax_id"), tax_id))
    if min_fen > 0:
        keep = pc.and_(keep, pc.greater_equal(invoices.column("total_fen"), min_fen))
    return invoices.filter(keep)


def page_table(table: pa.Table, skip: int, limit: int | None) -> pa.Table:
    """Rows ``skip`` .. ``skip + limit`` of ``table`` (all from ``skip`` when ``limit`` is None)."""
    return table.slice(skip) if limit is None else table.slice(skip, max(limit, 0))


def invoice_months(invoices: pa.Table) -> pa.Table:
    """schema.INVOICE_MONTHS of ``invoices`` (schema.INVOICES rows): count and total per local issue month."""
    if invoices.num_rows == 0:
        return schema.empty(schema.INVOICE_MONTHS)
    local = pc.cast(invoices.column("issued_at"), pa.timestamp("us", schema.TZ))
    t = pa.table({"month": pc.strftime(local, format="%Y-%m"), "total_fen": invoices.column("total_fen")})
    agg = t.group_by("month").aggregate([("total_fen", "count", pc.CountOptions(mode="all")), ("total_fen", "sum")])
    agg = agg.sort_by("month")
    return pa.table([agg.column("month"), agg.column("total_fen_count").cast(pa.int64()),
                     pc.fill_null(agg.column("total_fen_sum"), 0).cast(pa.int64())], schema=schema.INVOICE_MONTHS)

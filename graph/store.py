"""The store contract: one abstract writer and one read view; a backend per file (embedded.py, neo4j_store.py).

Conventions shared by every method:
- time windows are half-open ``[start, end)`` of timezone-aware datetimes; ``None`` means unbounded;
- bulk results are ``pyarrow.Table`` with the schemas in :mod:`graph.core.schema`;
- writes are idempotent upserts by natural key (tax id, invoice key, ring id, record id, audit seq);
- "records" are JSON documents for the workflow layer (cases, appeals, tier overrides, users,
  dispositions, assignments ...): ``kind`` names the collection. For ``kind == "case"`` the backend
  also links the case to the taxpayers / rings / invoices listed under ``data["taxpayers"]``,
  ``data["rings"]`` and ``data["invoices"]`` ((:Case)-[:CONCERNS]->(...) in Neo4j).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graph.core.model import (
    ANY_RING,
    ANY_SCORE,
    AuditEvent,
    Counts,
    Invoice,
    Ring,
    RingQuery,
    RingRow,
    Run,
    ScoreQuery,
    Subgraph,
    Taxpayer,
)
from graph.lists import facets, invoice_months, invoices_side, page_table, ring_kept, ring_rows, scores_kept

NO_LIMIT = 2**62   #: "no limit" for paged reads (a LIMIT both DuckDB and Cypher take as a parameter)
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")   #: a record field :meth:`Store.records_page` can filter on


def field_text(value: Any) -> str | None:
    """A record field's value as :meth:`Store.records_page` compares it (JSON text of a scalar)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_fields(*groups: Iterator[str] | Sequence[str] | Mapping[str, str]) -> None:
    """Refuse field names that are not plain identifiers (they become JSON paths / property names)."""
    for group in groups:
        for name in group:
            if not FIELD_NAME.match(name):
                raise ValueError(f"record field name {name!r} is not an identifier")


def page_of(rows: Sequence[dict[str, Any]], equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = (),
            newest: Sequence[str] = (), limit: int | None = None) -> list[dict[str, Any]]:
    """:meth:`Store.records_page` over records already read (in insertion order)."""
    check_fields(equal or {}, unset, newest)
    want = dict(equal or {})
    out = [r for r in rows if all(field_text(r.get(k)) == v for k, v in want.items())
           and all(r.get(k) is None for k in unset)]
    if newest:
        out.sort(key=lambda r: tuple(field_text(r.get(k)) or "" for k in newest), reverse=True)
    return out[:limit] if limit is not None else out

class Writer(ABC):
    """Batched, idempotent writes. Used as ``with store.writer() as w:``; flushes/commits on exit."""

    @abstractmethod
    def taxpayers(self, table: pa.Table) -> None:
        """Upsert taxpayers (schema.TAXPAYERS columns; identifier columns legal_rep / phone / address /
        bank_account, when present, are written as identifiers too). Non-null values overwrite."""

    @abstractmethod
    def invoices(self, table: pa.Table) -> None:
        """Upsert invoices (schema.INVOICES) by ``key``; missing seller/buyer taxpayers are created from
        the names on the invoice; ``red_ref`` links a red-letter invoice to its original."""

    @abstractmethod
    def identifiers(self, table: pa.Table) -> None:
        """Upsert (tax_id, kind, value) links (schema.IDENTIFIERS)."""

    @abstractmethod
    def item_lines(self, table: pa.Table) -> None:
        """Replace the item lines (schema.ITEM_LINES) of every invoice key in ``table`` by its rows there (a key
        given twice the same line keeps its last row). Lines of invoices the store does not hold are dropped."""

    @abstractmethod
    def findings(self, run: Run, rings: Sequence[Ring], scores: pa.Table) -> None:
        """Store one detection run: its rings (with members) and per-taxpayer scores (schema.SCORES).
        Re-writing the same run id replaces that run's findings."""

    @abstractmethod
    def put_record(self, kind: str, rec_id: str, data: dict[str, Any]) -> None:
        """Insert or replace a JSON-able workflow record."""

    @abstractmethod
    def audit(self, event: AuditEvent) -> None:
        """Append one audit event. Raises StoreError if ``event.seq`` already exists (the chain never forks)."""


class Store(ABC):
    """Read view + writer factory. Backends take a URI or a ready connection/driver in their constructor."""

    uri: str

    # --- lifecycle ---------------------------------------------------------------------------------
    @abstractmethod
    def writer(self) -> AbstractContextManager[Writer]:
        """A writer whose work is committed when the ``with`` block exits without an exception."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Delete every node, edge, finding, record and audit event (schema/indexes stay). Admin reset and tests."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # --- entities ----------------------------------------------------------------------------------
    @abstractmethod
    def counts(self) -> Counts: ...

    @abstractmethod
    def taxpayer(self, tax_id: str) -> Taxpayer | None:
        """One taxpayer with its identifiers, or None."""

    @abstractmethod
    def taxpayers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        """schema.TAXPAYERS rows for ``tax_ids`` (all taxpayers when None)."""

    @abstractmethod
    def identifiers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        """schema.IDENTIFIERS rows for ``tax_ids`` (all when None)."""

    @abstractmethod
    def invoice(self, key: str) -> Invoice | None: ...

    @abstractmethod
    def item_lines(self, key: str) -> pa.Table:
        """schema.ITEM_LINES rows of invoice ``key``, by line number (empty when it has none)."""

    @abstractmethod
    def invoices(self, keys: Sequence[str]) -> pa.Table:
        """schema.INVOICES rows for ``keys``, ordered by issued_at."""

    @abstractmethod
    def lookup_invoice(self, number: str, issued_on: date, amount_fen: int, *, code: str | None = None) -> Invoice | None:
        """Status lookup (查验): the invoice with this number (and code, when given) issued on that day whose
        pre-tax amount or total equals ``amount_fen``; None when nothing matches."""

    @abstractmethod
    def existing_invoice_keys(self, keys: Sequence[str] | pa.Array, *,
                              store_codes: pa.Array | pa.ChunkedArray | None = None) -> set[str]:
        """Which of ``keys`` the store already holds (for duplicate checks on load). ``keys`` may be an Arrow
        string array (the loader's batch keys, so a million keys need not become Python strings).
        ``store_codes``: the store's own code of each key when it computed them ahead (the ``__store_k`` column of
        ``row_codes``, :data:`graph.core.schema.STORE_CODE_PREFIX`); a store that has none ignores it."""

    @abstractmethod
    def search(self, text: str, limit: int = 20) -> list[Taxpayer]:
        """Taxpayers whose name contains ``text`` (Chinese included) or whose tax id starts with it;
        exact tax-id matches first, then by name."""

    # --- graph reads -------------------------------------------------------------------------------
    @abstractmethod
    def ego_network(self, tax_id: str, *, hops: int = 1, start: datetime | None = None,
                    end: datetime | None = None, min_amount_fen: int = 0, limit: int = 500) -> Subgraph:
        """Taxpayers within ``hops`` invoice edges (either direction) of ``tax_id``, counting only invoices in
        the window with total_fen >= min_amount_fen. When more than ``limit`` nodes are reachable, keep the
        closest first and, within a hop, the largest invoiced volume with the kept nodes."""

    @abstractmethod
    def invoices_between(self, a: str, b: str, *, start: datetime | None = None,
                         end: datetime | None = None) -> pa.Table:
        """Invoices a→b and b→a in the window (schema.INVOICES), ordered by issued_at."""

    @abstractmethod
    def invoices_of(self, tax_id: str, *, start: datetime | None = None, end: datetime | None = None,
                    limit: int | None = None) -> pa.Table:
        """Invoices issued or received by ``tax_id`` (schema.INVOICES), newest first."""

    def invoices_of_page(self, tax_id: str, side: str, *, start: datetime | None = None,
                         end: datetime | None = None, min_fen: int = 0, skip: int = 0,
                         limit: int | None = None) -> pa.Table:
        """The invoices ``tax_id`` issued (``side`` "issued") or received from another taxpayer ("received") in
        the window with total_fen >= ``min_fen`` (schema.INVOICES), newest first (then by key, descending);
        ``skip`` / ``limit`` page. The backends answer with one parameterised query; this default reads them all."""
        return page_table(invoices_side(self.invoices_of(tax_id, start=start, end=end), tax_id, side, min_fen),
                          skip, limit)

    def invoices_of_tally(self, tax_id: str, side: str, *, start: datetime | None = None,
                          end: datetime | None = None, min_fen: int = 0) -> tuple[int, int]:
        """(how many, total_fen) of the invoices :meth:`invoices_of_page` would give without ``skip`` / ``limit``."""
        rows = invoices_side(self.invoices_of(tax_id, start=start, end=end), tax_id, side, min_fen)
        return rows.num_rows, int(pc.sum(rows.column("total_fen")).as_py() or 0)

    @abstractmethod
    def shortest_paths(self, a: str, b: str, *, max_hops: int = 4, limit: int = 5) -> list[list[str]]:
        """Up to ``limit`` shortest chains of tax ids connecting a and b through invoices (either direction)."""

    @abstractmethod
    def edge_table(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """The aggregated issuer→buyer edge table for the window (schema.EDGES)."""

    @abstractmethod
    def invoice_stream(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """Every invoice in the window (schema.INVOICES), ordered by issued_at, for temporal algorithms."""

    def invoice_months(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """schema.INVOICE_MONTHS: how many invoices, and their total_fen, per calendar month of their issue time in
        the contract's zone, for the invoices in the window; oldest month first. The backends aggregate in one
        query; this default reads the whole window."""
        return invoice_months(self.invoice_stream(start=start, end=end))

    # --- findings ----------------------------------------------------------------------------------
    @abstractmethod
    def runs(self) -> list[Run]:
        """Detection runs, newest first."""

    @abstractmethod
    def rings(self, run_id: str | None = None) -> list[Ring]:
        """Rings of ``run_id`` (the newest run when None), highest score first."""

    @abstractmethod
    def ring(self, ring_id: str) -> Ring | None: ...

    @abstractmethod
    def scores(self, run_id: str | None = None) -> pa.Table:
        """schema.SCORES rows of ``run_id`` (the newest run when None)."""

    # --- long lists a page at a time (the workbench's rings list and risk queue) ------------------------
    # The backends answer each with one parameterised query; these defaults read the whole run.
    def rings_page(self, run_id: str | None = None, where: RingQuery = ANY_RING, *, skip: int = 0,
                   limit: int | None = None) -> list[RingRow]:
        """The rings of ``run_id`` (the newest run when None) that pass ``where``, highest score first (then by
        ring id), each with the span and total of its invoices the store holds; ``skip`` / ``limit`` page."""
        rings = self.rings(run_id)
        rows = ring_rows(rings, self.invoices(sorted({k for r in rings for k in r.invoice_keys})))
        found = [r for r in rows if ring_kept(r, where)]
        return found[skip:] if limit is None else found[skip:skip + limit]

    def rings_count(self, run_id: str | None = None, where: RingQuery = ANY_RING) -> int:
        """How many rings :meth:`rings_page` would give without ``skip`` and ``limit``."""
        return len(self.rings_page(run_id, where))

    def ring_kinds(self, run_id: str | None = None) -> dict[str, int]:
        """Rings of ``run_id`` (the newest when None) per kind, by kind name."""
        kinds = [r.kind for r in self.rings(run_id)]
        return {k: kinds.count(k) for k in sorted(set(kinds))}

    def scores_page(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE, *, skip: int = 0,
                    limit: int | None = None) -> pa.Table:
        """schema.SCORED_TAXPAYERS rows: the scores of ``run_id`` (the newest when None) with each taxpayer's
        name, industry and region, that pass ``where``, highest score first (then by tax id); ``skip`` /
        ``limit`` page. ``tier`` stays the model's; ``where.tiers`` filters on the tier in force."""
        table = scores_kept(self.scores(run_id), self.taxpayers(), where)
        return table.slice(skip) if limit is None else table.slice(skip, limit)

    def scores_count(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE) -> int:
        """How many rows :meth:`scores_page` would give without ``skip`` and ``limit``."""
        return int(self.scores_page(run_id, where).num_rows)

    def score_facets(self, run_id: str | None = None) -> dict[str, list[str]]:
        """The distinct ``industry`` and ``region`` of the taxpayers scored in ``run_id``, sorted (no nulls)."""
        return facets(self.taxpayers(self.scores(run_id).column("tax_id").to_pylist()))

    # --- workflow records and audit ------------------------------------------------------------------
    @abstractmethod
    def record(self, kind: str, rec_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def records(self, kind: str) -> list[dict[str, Any]]:
        """Every record of ``kind``, in insertion order of their ids' first write."""

    def records_page(self, kind: str, equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = (),
                     newest: Sequence[str] = (), limit: int | None = None) -> list[dict[str, Any]]:
        """The records of ``kind`` whose top-level fields equal ``equal`` (as JSON text: strings as they are,
        ``"true"`` / ``"false"`` for booleans) and whose fields ``unset`` are null or missing; ordered by the
        text of the fields ``newest``, descending (else insertion order); at most ``limit``.

        For reading one person's page (an alert inbox) without reading every record: the backends answer it
        with one parameterised query; this default filters :meth:`records`."""
        return page_of(self.records(kind), equal, unset=unset, newest=newest, limit=limit)

    def records_count(self, kind: str, equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = ()) -> int:
        """How many records :meth:`records_page` would give without a limit."""
        return len(self.records_page(kind, equal, unset=unset))

    @abstractmethod
    def audit_events(self, after_seq: int = 0, *, skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """Audit events with seq > after_seq, in (seq, hash) order; ``skip`` and ``limit`` page through them."""

    def audit_page(self, *, actor: str | None = None, action: str | None = None, target: str | None = None,
                   skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """Audit events newest first (seq, hash descending) whose actor and action equal ``actor`` / ``action``
        and whose target contains ``target`` (None: any); ``skip`` and ``limit`` page through them.

        For the audit page of the workbench: the backends answer it with one parameterised query; this
        default reads the whole trail."""
        found = [ev for ev in reversed(self.audit_events(0)) if (actor is None or ev.actor == actor)
                 and (action is None or ev.action == action) and (target is None or target in ev.target)]
        return found[skip:] if limit is None else found[skip:skip + limit]

    def audit_count(self, *, actor: str | None = None, action: str | None = None, target: str | None = None) -> int:
        """How many events :meth:`audit_page` would give without ``skip`` and ``limit``."""
        return len(self.audit_page(actor=actor, action=action, target=target))

    def iter_audit(self, page: int = 10_000) -> Iterator[AuditEvent]:
        """Every audit event in order, ``page`` at a time (bounded memory for a long trail). Pages are counted
        by position, not by seq, so a forged duplicate seq is still seen by whoever verifies."""
        skip = 0
        while True:
            batch = self.audit_events(0, skip=skip, limit=page)
            yield from batch
            if len(batch) < page:
                return
            skip += page

"""Loading into Neo4j: the store contract's writer for :class:`graph.neo4j_store.Neo4jStore`.

Rows are buffered and written in batches of ``store.batch``, each in its own managed transaction (idempotent
upserts keyed by tax id / invoice key, so a re-run after a failure converges). An invoice batch creates the
missing parties, creates new invoices with ISSUED / BILLED_TO, overwrites stored ones and keeps the TRADES
aggregates exact in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import neo4j
import pyarrow as pa
import pyarrow.compute as pc

import cypher
from graph.core import schema, vocab
from graph.core.errors import QueryError
from graph.core.model import AuditEvent, Ring, Run
from graph.store import Writer

if TYPE_CHECKING:
    from graph.neo4j_store import Neo4jStore

__all__ = ["Neo4jWriter"]

TZ = ZoneInfo(schema.TZ)
INVOICE_COLUMNS = [f.name for f in schema.INVOICES]


def _epoch_us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    delta = value - datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _columns(table: pa.Table, names: Sequence[str]) -> dict[str, list[Any]]:
    return {n: table.column(n).to_pylist() for n in names}

def record_uid(kind: str, rec_id: str) -> str:
    return f"{kind}\x1f{rec_id}"


class Neo4jWriter(Writer):
    """Buffers rows; full batches of taxpayers / invoices / identifiers go out in their own managed
    transaction as they fill (idempotent upserts, so a re-run after a failure converges); everything
    else (the last partial batches, findings, records, audit events) is written when the ``with`` block
    exits, and dropped when it raises."""

    def __init__(self, store: Neo4jStore) -> None:
        self.store = store
        self._taxpayers: list[pa.Table] = []
        self._invoices: list[pa.Table] = []
        self._identifiers: list[pa.Table] = []
        self._lines: list[pa.Table] = []
        self._small: list[tuple[str, Callable[[neo4j.ManagedTransaction], Any]]] = []
        self._red_written = False
        self._known_parties: set[str] = set()   # taxpayers committed by this writer (skip re-merging them)
        self._expect_new = True  # skip the stored-key lookup while batches hold only new keys

    # --- buffering --------------------------------------------------------------------------------
    @staticmethod
    def _take(buffer: list[pa.Table], size: int, force: bool) -> Iterator[pa.Table]:
        if not buffer:
            return
        table = pa.concat_tables(buffer)
        buffer.clear()
        offset = 0
        while table.num_rows - offset >= size or (force and offset < table.num_rows):
            yield table.slice(offset, size)
            offset += size
        if offset < table.num_rows:
            buffer.append(table.slice(offset))

    def _pending(self, buffer: list[pa.Table]) -> int:
        return sum(t.num_rows for t in buffer)

    def taxpayers(self, table: pa.Table) -> None:
        ids = [k for k in vocab.IDENTIFIER_KINDS if k in table.column_names]
        if ids:
            self.identifiers(_identifier_rows(table, ids))
        self._taxpayers.append(schema.conform(table, schema.TAXPAYERS))
        if self._pending(self._taxpayers) >= self.store.batch:
            self._flush_taxpayers(force=False)

    def invoices(self, table: pa.Table) -> None:
        self._invoices.append(schema.conform(table, schema.INVOICES))
        if self._pending(self._invoices) >= self.store.batch:
            self._flush_taxpayers(force=True)  # invoice rows may refer to taxpayers written just before
            self._flush_invoices(force=False)

    def identifiers(self, table: pa.Table) -> None:
        self._identifiers.append(schema.conform(table, schema.IDENTIFIERS))
        if self._pending(self._identifiers) >= self.store.batch:
            self._flush_taxpayers(force=True)
            self._flush_identifiers(force=False)

    def item_lines(self, table: pa.Table) -> None:
        if table.num_rows:
            self._lines.append(schema.conform(table, schema.ITEM_LINES))

    def findings(self, run: Run, rings: Sequence[Ring], scores: pa.Table) -> None:
        run_params = {
            "run_id": run.run_id, "created_us": _epoch_us(run.created_at),
            "created_ms": _epoch_us(run.created_at) // 1000, "params": json.dumps(run.params, ensure_ascii=False,
                                                                                  sort_keys=True),
            "fingerprint": run.fingerprint, "stage_seconds": json.dumps(run.stage_seconds, sort_keys=True),
            "tz": schema.TZ,
        }
        ring_rows = [{"id": r.ring_id, "run_id": run.run_id, "kind": r.kind, "score": float(r.score),
                      "evidence": r.evidence, "members": list(r.members), "invoice_keys": list(r.invoice_keys),
                      "details": json.dumps(r.details, ensure_ascii=False, sort_keys=True)} for r in rings]
        score_cols = _columns(schema.conform(scores, schema.SCORES), [f.name for f in schema.SCORES])

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(cypher.load("run_replace"), run_params).consume()
            for i in range(0, len(ring_rows), 1000):
                tx.run(cypher.load("rings_create"), {"rings": ring_rows[i:i + 1000]}).consume()
            n = len(score_cols["tax_id"])
            for i in range(0, n, 10_000):
                chunk = {k: v[i:i + 10_000] for k, v in score_cols.items()}
                tx.run(cypher.load("scores_create"), {"run_id": run.run_id, **chunk}).consume()

        self._small.append(("run_replace", work))

    def put_record(self, kind: str, rec_id: str, data: dict[str, Any]) -> None:
        uid = record_uid(kind, rec_id)
        params = {"uid": uid, "kind": kind, "id": rec_id, "data": json.dumps(data, ensure_ascii=False, default=str)}
        case = None
        if kind == "case":
            case = {"uid": uid, "title": data.get("title"), "status": data.get("status"),
                    "owner": data.get("owner"), "taxpayers": [str(x) for x in data.get("taxpayers") or []],
                    "rings": [str(x) for x in data.get("rings") or []],
                    "invoices": [str(x) for x in data.get("invoices") or []]}

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(cypher.load("record_put"), params).consume()
            if case is not None:
                tx.run(cypher.load("case_link"), case).consume()

        self._small.append(("record_put", work))

    def audit(self, event: AuditEvent) -> None:
        us = _epoch_us(event.at)
        row = {**asdict(event), "at_us": us, "at_ms": us // 1000}
        del row["at"]

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(cypher.load("audit_append"), {"events": [row], "tz": schema.TZ}).consume()

        self._small.append(("audit_append", work))

    # --- flushing ---------------------------------------------------------------------------------
    def _flush_taxpayers(self, *, force: bool) -> None:
        names = [f.name for f in schema.TAXPAYERS]
        for chunk in self._take(self._taxpayers, self.store.batch, force):
            cols = _columns(chunk, names)
            self.store._write(statement("taxpayers_upsert", cols), "taxpayers_upsert")

    def _flush_identifiers(self, *, force: bool) -> None:
        for chunk in self._take(self._identifiers, self.store.batch, force):
            chunk = chunk.filter(pc.and_(pc.is_valid(chunk["value"]), pc.not_equal(chunk["value"], "")))
            if chunk.num_rows:
                cols = _columns(chunk, ["tax_id", "kind", "value"])
                self.store._write(statement("identifiers_upsert", cols), "identifiers_upsert")

    def _flush_invoices(self, *, force: bool) -> None:
        for chunk in self._take(self._invoices, self.store.batch, force):
            self._write_invoice_batch(chunk)

    def _write_invoice_batch(self, chunk: pa.Table) -> None:
        names = [n for n in INVOICE_COLUMNS if n != "issued_at"]
        cols = _columns(chunk, names)
        cols["ts"] = pc.cast(chunk["issued_at"], pa.int64()).to_pylist()
        cols["code"] = [c or None for c in cols["code"]]
        if any(r is not None for r in cols["red_ref"]):
            self._red_written = True
        parties: dict[str, str | None] = {}
        for ids, nms in ((cols["seller_tax_id"], cols["seller_name"]), (cols["buyer_tax_id"], cols["buyer_name"])):
            for t, n in zip(ids, nms, strict=True):
                if t not in self._known_parties and parties.get(t) is None:
                    parties[t] = n
        party_cols = {"tax_id": list(parties), "name": list(parties.values())}
        # every taxpayer of the batch once; invoice rows and pairs refer to them by position
        party = sorted(set(cols["seller_tax_id"]) | set(cols["buyer_tax_id"]))
        position = {t: i for i, t in enumerate(party)}
        cols["seller_idx"] = [position[t] for t in cols["seller_tax_id"]]
        cols["buyer_idx"] = [position[t] for t in cols["buyer_tax_id"]]
        optimistic = self._expect_new

        def work(tx: neo4j.ManagedTransaction) -> None:
            if parties:  # taxpayers this writer has not seen yet
                tx.run(cypher.load("parties_merge"), party_cols).consume()
            stored: dict[str, tuple[str, str]] = {}
            if not optimistic:  # an optimistic batch skips the lookup: a stored key fails the uniqueness constraint
                stored = {row[0]: (row[1], row[2]) for row in tx.run(
                    cypher.load("invoices_existing_pairs"), {"keys": cols["key"]}).single(strict=True)[0]}
            # one row per key (the last wins), split into new and stored invoices
            last = {k: i for i, k in enumerate(cols["key"])}
            new_idx = [i for k, i in last.items() if k not in stored]
            old_idx = [i for k, i in last.items() if k in stored]
            for query_name, idx in (("invoices_create", new_idx), ("invoices_update", old_idx)):
                if idx:
                    params = {name: [values[i] for i in idx] for name, values in cols.items()}
                    summary = tx.run(cypher.load(query_name), {**params, "party": party, "tz": schema.TZ}).consume()
                    if query_name == "invoices_create" and summary.counters.nodes_created != len(idx):
                        raise QueryError(query_name, "a seller or buyer taxpayer is missing")  # rolls back
            if new_idx:  # new invoices add to their pair's TRADES aggregate
                tx.run(cypher.load("trades_add"), {**_pair_sums(chunk, new_idx, position), "party": party}).consume()
            if old_idx:  # overwritten invoices: recompute their old and new pairs from the invoices
                pairs = sorted({stored[cols["key"][i]] for i in old_idx}
                               | {(cols["seller_tax_id"][i], cols["buyer_tax_id"][i]) for i in old_idx})
                tx.run(cypher.load("trades_rebuild"), {"seller_tax_id": [p[0] for p in pairs],
                                                       "buyer_tax_id": [p[1] for p in pairs]}).consume()
            self._expect_new = not stored  # look keys up again only while batches keep finding stored ones

        try:
            self.store._write(work, "invoices_create")
        except QueryError as e:
            if not (optimistic and isinstance(e.__cause__, neo4j.exceptions.ConstraintError)):
                raise
            self._expect_new = False  # some keys are stored (a re-run): redo this batch the careful way
            self._write_invoice_batch(chunk)
            return
        self._known_parties.update(parties)

    def _flush_lines(self) -> None:
        """Item lines after their invoices: per batch of invoice keys, their old lines out and the new ones in,
        in one transaction (a (key, line) given twice keeps its last row)."""
        if not self._lines:
            return
        table = pa.concat_tables(self._lines)
        self._lines.clear()
        names = [f.name for f in schema.ITEM_LINES]
        rows = list(zip(*(table.column(n).to_pylist() for n in names), strict=True))
        last = {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in rows if r[0] is not None and r[1] is not None}
        by_key: dict[str, list[dict[str, Any]]] = {}
        for (key, _), line in last.items():
            by_key.setdefault(key, []).append(line)
        keys = list(by_key)
        for i in range(0, len(keys), self.store.batch):
            part = keys[i:i + self.store.batch]
            lines = [line for k in part for line in by_key[k]]

            def work(tx: neo4j.ManagedTransaction, part: list[str] = part, lines: list[dict[str, Any]] = lines) -> None:
                tx.run(cypher.load("item_lines_delete"), {"keys": part}).consume()
                tx.run(cypher.load("item_lines_create"), {"lines": lines}).consume()

            self.store._write(work, "item_lines_create")

    def flush_all(self) -> None:
        self._flush_taxpayers(force=True)
        self._flush_invoices(force=True)
        self._flush_identifiers(force=True)
        self._flush_lines()
        if self._red_written:
            self.store._write(statement("red_of_link", {}), "red_of_link")
            self._red_written = False
        small, self._small = self._small, []
        if small:
            names = ", ".join(sorted({n for n, _ in small}))

            def work(tx: neo4j.ManagedTransaction) -> None:
                for _name, fn in small:
                    fn(tx)

            self.store._write(work, names)

    def discard(self) -> None:
        self._taxpayers.clear()
        self._invoices.clear()
        self._identifiers.clear()
        self._lines.clear()
        self._small.clear()


def statement(name: str, params: dict[str, Any]) -> Callable[[neo4j.ManagedTransaction], None]:
    """A transaction function running one named statement."""
    query = cypher.load(name)

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(query, params).consume()

    return work


def _pair_sums(chunk: pa.Table, idx: list[int], position: dict[str, int]) -> dict[str, list[Any]]:
    """Per (seller, buyer) pair of the rows ``idx``: count, total, first/last ts over all of them and over
    those with total_fen >= 0 (``pos_*``), as the parallel columns of trades_add (parties by ``position``)."""
    rows = chunk.take(pa.array(idx, pa.int64()))
    ts = pc.cast(rows["issued_at"], pa.int64())
    pos = pc.greater_equal(rows["total_fen"], 0)
    t = pa.table({"s": rows["seller_tax_id"], "b": rows["buyer_tax_id"], "total": rows["total_fen"], "ts": ts,
                  "pos_total": pc.if_else(pos, rows["total_fen"], None),
                  "pos_ts": pc.if_else(pos, ts, None)})
    g = t.group_by(["s", "b"]).aggregate([
        ("total", "count"), ("total", "sum"), ("ts", "min"), ("ts", "max"),
        ("pos_total", "count"), ("pos_total", "sum"), ("pos_ts", "min"), ("pos_ts", "max")])
    return {
        "seller_idx": [position[t] for t in g["s"].to_pylist()], "buyer_idx": [position[t] for t in g["b"].to_pylist()],
        "count": g["total_count"].to_pylist(), "total_fen": g["total_sum"].to_pylist(),
        "first_ts": g["ts_min"].to_pylist(), "last_ts": g["ts_max"].to_pylist(),
        "pos_count": g["pos_total_count"].to_pylist(),
        "pos_total_fen": pc.fill_null(g["pos_total_sum"], 0).to_pylist(),
        "pos_first_ts": g["pos_ts_min"].to_pylist(), "pos_last_ts": g["pos_ts_max"].to_pylist(),
    }


def _identifier_rows(table: pa.Table, kinds: Sequence[str]) -> pa.Table:
    parts = []
    for kind in kinds:
        values = table.column(kind).cast(pa.string())
        parts.append(pa.table({"tax_id": table.column("tax_id").cast(pa.string()),
                               "kind": pa.array([kind] * table.num_rows, pa.string()), "value": values}))
    return pa.concat_tables(parts)


"""The embedded store: a workspace folder holding one DuckDB database (the zero-setup default backend).

Layout of a workspace folder::

    workspace/fapiao.duckdb       the database (tables: see graph/embedded_sql.py)
    workspace/fapiao.duckdb.wal   write-ahead log of committed work not yet checkpointed (keep it!)
    workspace/tmp/                DuckDB spill space for big loads (safe to delete when closed)

Concurrency: DuckDB lets one process at a time open a database file. The store therefore opens the
database per operation and closes it again after ``FAPIAO_EMBEDDED_LINGER`` idle seconds, so the
workbench, the API and the CLI take turns. A process that finds the workspace busy says so by a file
``waiting/<pid>`` in the workspace and retries; the holder checks for such files whenever it finishes an
operation (and while it lingers) and then closes at once, and right after handing over it lets the waiter
open first. So a busy process (the API under load, a long load between its batches) never keeps others out
for longer than one operation. A waiter gives up after ``FAPIAO_EMBEDDED_WAIT`` seconds with a
:class:`~graph.core.errors.StoreError` naming the other pid. Inside a process every call is serialised by a
lock; a ``with store.writer()`` block holds the database (and the lock) until it commits.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from graph import embedded_sql as q
from graph.core import schema, settings, vocab
from graph.core.errors import ConfigError, QueryError, StoreError
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
from graph.embedded_bulk import BulkInvoices, PreparedInvoices, batch_codes, number_parties
from graph.embedded_keys import MAX_KEPT, KeyHashes
from graph.embedded_parties import PartyNumbers
from graph.lists import check_side, epoch_local, list_param
from graph.store import NO_LIMIT, Store, Writer, check_fields

if TYPE_CHECKING:   # imported where first used: it imports numba (~0.5 CPU-s), which a load's start-up does not need
    from graph.embedded_adjacency import Adjacency

DB_FILE = "fapiao.duckdb"
WAITING_DIR = "waiting"     # waiting/<pid>: a process waiting for its turn at the workspace
_POLITE_S = 1.0             # after handing over, give the waiters this long to take their turn first
_TURN_S = 0.25              # a busy holder keeps the workspace this long before handing it to a waiter
_TZ = ZoneInfo(schema.TZ)
_FLUSH_ROWS = 500_000     # bigger inserts let DuckDB compress row groups on both cores (measured vs 250K)
_PID = re.compile(r"PID (\d+)")
_SCHEMA_LOCK = threading.Lock()
_INDEX_DROP_ROWS = 50_000   # a flush this big drops the key index (rebuilt by the next point lookup)
log = logging.getLogger("fapiao.store")



def _epoch(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(settings.get("FAPIAO_TIMEZONE")))
    return int(value.timestamp())


_UNBOUNDED = 2**62


def _window(start: datetime | None, end: datetime | None) -> list[int]:
    s, e = _epoch(start), _epoch(end)
    return [-_UNBOUNDED if s is None else s, _UNBOUNDED if e is None else e]


def _aware(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, _TZ)


def _one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result (fetching all of it, so the connection is free for the next statement)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _keys_table(keys: Sequence[str]) -> pa.Table:
    return pa.table({"key": pa.array(list(keys), type=pa.string())})


def _to_schema(table: pa.Table, target: pa.Schema) -> pa.Table:
    """DuckDB result → contract schema (epoch columns become tz-aware timestamps)."""
    cols = []
    for f in target:
        col = table.column(f.name)
        if f.type == schema.TIMESTAMP:
            col = col.cast(pa.int64()).cast(schema.TIMESTAMP)
        cols.append(col.cast(f.type))
    return pa.Table.from_arrays(cols, schema=target)


def _invoice_from_row(row: tuple[Any, ...]) -> Invoice:
    (key, number, code, issued, seller, seller_name, buyer, buyer_name, amount, tax, total, rate, kind,
     status, red_ref, item_code, item_name) = row
    return Invoice(key=key, number=number, code=code or "", issued_at=_aware(int(issued)), seller_tax_id=seller,
                   seller_name=seller_name, buyer_tax_id=buyer, buyer_name=buyer_name, amount_fen=int(amount),
                   tax_fen=int(tax), total_fen=int(total), rate=float(rate), kind=kind, status=status,
                   red_ref=red_ref, item_code=item_code, item_name=item_name)


def _taxpayer_from_row(row: tuple[Any, ...], identifiers: tuple[tuple[str, str], ...] = ()) -> Taxpayer:
    tax_id, name, registered_on, industry, region, limit, status = row
    return Taxpayer(tax_id=tax_id, name=name or "", registered_on=registered_on, industry=industry, region=region,
                    invoice_limit_fen=None if limit is None else int(limit), status=status,
                    identifiers=identifiers)


def _ring_from_row(row: tuple[Any, ...]) -> Ring:
    ring_id, run_id, kind, members, keys, score, evidence, details = row
    return Ring(ring_id=ring_id, run_id=run_id, kind=kind, members=tuple(members or ()),
                invoice_keys=tuple(keys or ()), score=float(score), evidence=evidence or "",
                details=json.loads(details) if details else {})


_MAX_CURSORS = 64     # read cursors kept per database (one per concurrent reader)
#: graph writes (invoices, parties, taxpayers ...) committed by this process, per workspace folder: with the
#: database's opening count, what EmbeddedStore.change_stamp tells in-memory caches (another process writes only
#: after this one has closed the database, which a new opening shows)
_GRAPH_COMMITS: dict[Path, int] = {}
_COMMITS_LOCK = threading.Lock()


def _graph_committed(path: Path) -> None:
    with _COMMITS_LOCK:
        _GRAPH_COMMITS[path] = _GRAPH_COMMITS.get(path, 0) + 1


class _Database:
    """Opens the DuckDB file on demand, shares it within the process, releases it when idle."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path / DB_FILE
        self.wait_s = settings.get_float("FAPIAO_EMBEDDED_WAIT")
        self.linger_s = settings.get_float("FAPIAO_EMBEDDED_LINGER")
        # max_vacuum_tasks 0: a checkpoint does not re-merge (re-compress) the row groups of a bulk load, which
        # otherwise costs as much as the load itself at close; rows replaced by a re-load leave gaps instead.
        self.config: dict[str, str | bool | int] = {"memory_limit": settings.get("FAPIAO_EMBEDDED_MEMORY"),
                                                     "preserve_insertion_order": False, "max_vacuum_tasks": 0,
                                                     "temp_directory": str(path / "tmp")}
        if settings.get("FAPIAO_EMBEDDED_THREADS").strip():
            self.config["threads"] = settings.get_int("FAPIAO_EMBEDDED_THREADS")
        self.lock = threading.RLock()
        self.con: duckdb.DuckDBPyConnection | None = None
        self.depth = 0
        self.last_used = 0.0
        self.timer: threading.Timer | None = None
        self.closed = False
        self.waiting = path / WAITING_DIR
        self.me = str(os.getpid())
        self.handed_over = 0.0       # monotonic time this process last closed early for a waiter
        self.opened_at = 0.0
        self.generation = 0          # how many times this process opened the database (indexes may differ since)
        self.ready: list[tuple[Any, ...]] = []   # META_READY as this process left it after preparing the schema
        # cursors of `con` for short reads that need not wait for `lock` (held through a writer's transaction):
        # DuckDB gives each its own snapshot of the last commit; closed before `con` is
        self.cursors: list[duckdb.DuckDBPyConnection] = []
        self.reading = 0
        self.readers = threading.Condition()

    def _waiters(self) -> list[tuple[int, str]]:
        """(announced at, pid) of the other live processes waiting, first come first; entries of dead ones go."""
        try:
            names = os.listdir(self.waiting)
        except OSError:
            return []
        out = []
        for name in names:
            if name == self.me or not name.isdigit():
                continue
            try:
                os.kill(int(name), 0)
            except PermissionError:
                pass
            except OSError:         # that process is gone
                (self.waiting / name).unlink(missing_ok=True)
                continue
            try:
                out.append(((self.waiting / name).stat().st_mtime_ns, name))
            except OSError:
                continue
        return sorted(out)

    def others_waiting(self) -> bool:
        """True when another live process waits for the workspace."""
        return bool(self._waiters())

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Connect, taking turns: wait politely right after a hand-over, announce ourselves while waiting."""
        deadline = time.monotonic() + self.wait_s
        polite = self.handed_over + _POLITE_S
        while time.monotonic() < polite and self.others_waiting():
            time.sleep(0.005)
        delay = 0.005
        announced = False
        mine = 0
        try:
            while True:
                if announced and time.monotonic() < deadline:    # first come, first served among the waiters
                    first = self._waiters()
                    if first and first[0] < (mine, self.me):
                        time.sleep(0.005)
                        continue
                try:
                    return duckdb.connect(str(self.file), config=dict(self.config))
                except duckdb.IOException as e:
                    if "lock" not in str(e).lower():
                        raise StoreError(f"cannot open workspace {self.path}: {e}") from e
                    if time.monotonic() >= deadline:
                        m = _PID.search(str(e))
                        who = f"pid {m.group(1)}" if m else "another process"
                        raise StoreError(
                            f"workspace {self.path} is in use by another process ({who}); it did not hand it over "
                            f"within FAPIAO_EMBEDDED_WAIT ({self.wait_s:g} s) - one long write (e.g. a big load's "
                            f"batch) holds it until it commits: wait for it and retry, or set that higher") from e
                    if not announced:
                        try:
                            self.waiting.mkdir(exist_ok=True)
                            (self.waiting / self.me).touch()
                            mine = (self.waiting / self.me).stat().st_mtime_ns
                            announced = True
                        except OSError:
                            pass
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
                except duckdb.Error as e:
                    raise StoreError(f"cannot open workspace {self.path}: {e}") from e
        finally:
            if announced:
                (self.waiting / self.me).unlink(missing_ok=True)

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = self._connect()
        self.generation += 1
        try:
            self._ensure_schema(con)
        except duckdb.Error as e:
            con.close()
            raise StoreError(f"cannot prepare workspace {self.path}: {e}") from e
        except BaseException:
            con.close()
            raise
        return con

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.ready and con.execute(q.META_READY).fetchall() == self.ready:
            return      # prepared by this process before and unchanged since: one query instead of the DDL
        with _SCHEMA_LOCK:
            con.execute("BEGIN")
            try:
                con.execute(q.DDL[0])       # meta first: an existing workspace is migrated before the rest
                row = _one(con.execute(q.GET_META, ["schema_version"]))
                version = int(row[0]) if row else q.SCHEMA_VERSION
                if version > q.SCHEMA_VERSION:
                    raise StoreError(f"workspace {self.path} has schema version {version}, newer than this "
                                     f"program understands ({q.SCHEMA_VERSION}); upgrade fapiao-workbench")
                while version < q.SCHEMA_VERSION:
                    for stmt in q.MIGRATIONS[version]:
                        con.execute(stmt)
                    version += 1
                for stmt in q.DDL[1:]:
                    con.execute(stmt)
                con.execute(q.SET_META, ["schema_version", str(version)])
                if _one(con.execute(q.GET_META, ["data_version"])) is None:
                    con.execute(q.SET_META, ["data_version", "0"])
                self._check_hash(con)
                con.execute("COMMIT")
                self.ready = con.execute(q.META_READY).fetchall()
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _check_hash(con: duckdb.DuckDBPyConnection) -> None:
        """Recompute the stored hashes when this DuckDB's hash() differs from the one that wrote them."""
        probe = _one(con.execute(q.HASH_PROBE))
        assert probe is not None
        stored = _one(con.execute(q.GET_META, ["hash_probe"]))
        if stored is not None and stored[0] != probe[0]:
            for stmt in q.REHASH:
                con.execute(stmt)
            con.execute(q.BUMP_DATA_VERSION)
        if stored is None or stored[0] != probe[0]:
            con.execute(q.SET_META, ["hash_probe", probe[0]])

    @contextmanager
    def use(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.lock:
            if self.closed:
                raise StoreError(f"workspace {self.path} store is closed")
            if self.con is None:
                self.con = self._open()
                self.opened_at = time.monotonic()
            self.depth += 1
            try:
                yield self.con
            finally:
                self.depth -= 1
                self.last_used = time.monotonic()
                if self.depth == 0:
                    # someone waits and we had our turn: hand the workspace over now (a turn of at least _TURN_S
                    # amortises the cost of opening the database, ~0.1-0.3 s on a busy machine)
                    if time.monotonic() - self.opened_at >= _TURN_S and self.others_waiting():
                        self._release()
                        self.handed_over = time.monotonic()
                    else:
                        self._release_later()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one short read that does not wait for a writer holding ``use()`` (an open transaction,
        an audit flush): it reads the last committed state. The cursors are kept for the next read while the
        database stays open; the first read (or one after the database was released) goes through ``use()``.
        Call no other store method inside the block: releasing the database waits for the cursors handed out,
        so a thread holding one that then needs ``use()`` would wait for itself."""
        with self.readers:
            con = self.con
            cur = self.cursors.pop() if con is not None and self.cursors else None
            if cur is not None:
                self.reading += 1
        if cur is None:         # none ready: read the slow way, and leave a cursor for the next read
            with self.use() as con:
                try:
                    yield con
                finally:
                    with self.readers:
                        if self.con is con and len(self.cursors) < _MAX_CURSORS:
                            self.cursors.append(con.cursor())
            return
        try:
            yield cur
        finally:
            with self.readers:
                self.reading -= 1
                if self.con is con:
                    self.cursors.append(cur)
                    cur = None
                self.readers.notify_all()
            if cur is not None:
                cur.close()
            self.last_used = time.monotonic()

    def _release_later(self) -> None:
        if self.linger_s <= 0:
            self._release()
            return
        if self.timer is None:
            self._arm(min(self.linger_s, 0.1))

    def _arm(self, seconds: float) -> None:
        self.timer = threading.Timer(seconds, self._idle)
        self.timer.daemon = True
        self.timer.start()

    def _idle(self) -> None:
        """Timer callback: close when idle for the linger time, else check again when it would be."""
        with self.lock:
            self.timer = None
            if self.con is None or self.closed:
                return
            idle = time.monotonic() - self.last_used
            if self.depth == 0 and (idle >= self.linger_s * 0.95 or self.others_waiting()):
                self._release()
            else:       # look for waiting processes every 0.1 s while lingering
                self._arm(min(max(self.linger_s - idle, 0.05), 0.1))

    def _release(self) -> None:
        if self.con is not None:
            with self.readers:      # no new reads on it; the running ones finish first (they are short)
                con, self.con = self.con, None
                while self.reading:
                    self.readers.wait()
                cursors, self.cursors = self.cursors, []
            for cur in cursors:
                cur.close()
            con.close()

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self._release()
            self.closed = True


class EmbeddedStore(Store):
    """Store backed by a DuckDB database in a workspace folder (created when missing).

    Parameters
    ----------
    path
        The workspace folder, e.g. ``workspace``; ``embedded:PATH`` URIs resolve here.

    Examples
    --------
    >>> import tempfile
    >>> with EmbeddedStore(tempfile.mkdtemp()) as store:
    ...     store.counts().invoices
    0
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"embedded workspace {self.path} is a file; give a folder (it is created if missing)")
        try:
            (self.path / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create embedded workspace folder {self.path}: {e}") from e
        self.uri = f"embedded:{self.path}"
        self._db = _Database(self.path)
        self._real = self.path.resolve()
        self._adj: Adjacency | None = None
        self._adj_version = ""
        self._key_index = -1        # the _db.generation at which the key index was last seen (or built)
        # party numbers as the last commit of this store left them: (_db.generation, data_version, numbers)
        self._parties: tuple[int, str, PartyNumbers] | None = None
        # the stored invoices' key hashes as of a change stamp (None: not kept, too many invoices); see embedded_keys
        self._key_hashes: tuple[tuple[int, int], KeyHashes | None] | None = None
        with self._db.use():
            pass

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.path)!r})"

    # --- plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _con(self, name: str) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._db.use() as con:
            try:
                yield con
            except duckdb.Error as e:
                raise QueryError(name, str(e)) from e

    def _arrow(self, con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = (),
               order: q.Order = ()) -> pa.Table:
        """The query's rows as Arrow; ``order`` (the query's ORDER BY, see embedded_sql.Order) is re-applied."""
        result: pa.Table = con.sql(sql, params=list(params) or None).to_arrow_table()
        return result.sort_by(list(order)) if order and result.num_rows > 1 else result

    def _with_keys(self, name: str, sql: str, keys: Sequence[str], target: pa.Schema,
                   order: q.Order = ()) -> pa.Table:
        if not keys:
            return schema.empty(target)
        with self._con(name) as con:
            con.register("_keys", _keys_table(keys))
            try:
                return _to_schema(self._arrow(con, sql, order=order), target)
            finally:
                con.unregister("_keys")

    # --- lifecycle ---------------------------------------------------------------------------------
    def writer(self) -> AbstractContextManager[Writer]:
        return _EmbeddedWriter(self)

    def bulk_invoices(self) -> BulkInvoices:
        """For a bulk load: its invoice batches made ready ahead of their transactions (:mod:`graph.embedded_bulk`),
        each then stored by :meth:`write_prepared`."""
        return BulkInvoices(self)

    def row_codes(self, invoices: pa.Table) -> pa.Table:
        """``invoices`` (contract columns, as the loader accepts them) with the key and party hashes the writer
        needs (:func:`graph.embedded_bulk.batch_codes`) as ``__store_*`` columns (:data:`schema.STORE_CODE_PREFIX`),
        computed on a reader cursor before the rows are checked: the loader's stored-key check
        (:meth:`existing_invoice_keys` with ``store_codes``) and the writer then use them instead of each hashing
        the keys in a statement of its own (the API's group commit). DuckDB's ``hash()`` of the same values in the
        same process: what the writer's own statement would give."""
        batch = _invoice_batch(invoices)
        try:
            with self._db.read() as cur:
                codes = batch_codes(cur, batch)
        except duckdb.Error as e:
            raise QueryError("row_codes", str(e)) from e
        for name in _CODES:
            invoices = invoices.append_column(schema.STORE_CODE_PREFIX + name, pa.array(codes[name], pa.uint64()))
        return invoices

    def write_prepared(self, prepared: PreparedInvoices, *, taxpayers: pa.Table | None = None,
                       lines: pa.Table | None = None) -> None:
        """One transaction: ``taxpayers`` (when given), a batch made ready by :meth:`bulk_invoices`, its item lines."""
        with _EmbeddedWriter(self) as w:
            if taxpayers is not None:
                w.taxpayers(taxpayers)
            w.prepared_invoices(prepared)
            if lines is not None:
                w.item_lines(lines)

    def close(self) -> None:
        self._db.close()

    def clear(self) -> None:
        self._parties = None
        with self._con("clear") as con:
            con.execute("BEGIN")
            try:
                for stmt in q.CLEAR:
                    con.execute(stmt)
                con.execute(q.BUMP_DATA_VERSION)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        _graph_committed(self._real)

    def change_stamp(self) -> tuple[int, int] | None:
        """A value that changes whenever the stored invoices, parties or taxpayers may have changed, read without
        touching the database (for in-memory caches of them, e.g. the API's 查验 index): this process's opening
        count of the database and its graph commits to this workspace. None while the database is not open here,
        when another process may be writing; on a new value, :meth:`data_version` tells whether anything changed."""
        db = self._db
        if db.con is None:
            return None
        return db.generation, _GRAPH_COMMITS.get(self._real, 0)

    def data_version(self) -> str:
        """The workspace's data version: bumped by every commit that changes invoices, parties or taxpayers (in
        any process)."""
        try:
            with self._db.read() as cur:
                row = _one(cur.execute(q.GET_META, ["data_version"]))
        except duckdb.Error as e:
            raise QueryError("data_version", str(e)) from e
        return str(row[0]) if row else ""

    # --- entities ----------------------------------------------------------------------------------
    def counts(self) -> Counts:
        with self._con("counts") as con:
            row = _one(con.execute(q.COUNTS))
        assert row is not None
        return Counts(*(int(v) for v in row))

    def taxpayer(self, tax_id: str) -> Taxpayer | None:
        with self._con("taxpayer") as con:
            row = _one(con.execute(q.TAXPAYER, [tax_id]))
            if row is None:
                return None
            idents = tuple((k, v) for k, v in con.execute(q.IDENTIFIERS_OF, [tax_id]).fetchall())
        return _taxpayer_from_row(row, idents)

    def taxpayers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        if tax_ids is None:
            with self._con("taxpayers") as con:
                return _to_schema(self._arrow(con, q.TAXPAYERS_ALL, order=q.BY_TAX_ID), schema.TAXPAYERS)
        return self._with_keys("taxpayers", q.TAXPAYERS_IN, tax_ids, schema.TAXPAYERS, q.BY_TAX_ID)

    def identifiers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        if tax_ids is None:
            with self._con("identifiers") as con:
                return _to_schema(self._arrow(con, q.IDENTIFIERS_ALL, order=q.BY_TAX_ID_KIND_VALUE), schema.IDENTIFIERS)
        return self._with_keys("identifiers", q.IDENTIFIERS_IN, tax_ids, schema.IDENTIFIERS,
                               q.BY_TAX_ID_KIND_VALUE)

    def invoice(self, key: str) -> Invoice | None:
        if self._key_index != self._db.generation:
            with self._con("invoice") as con:
                self._ensure_key_index(con)
        try:
            with self._db.read() as cur:    # does not wait for a writer's open transaction (查验 under load)
                row = next((r for r in cur.execute(q.INVOICE_BY_HASH, [key]).fetchall() if r[0] == key), None)
                if row is None:
                    return None
                parties = {pid: (tax_id, name) for pid, tax_id, name in
                           cur.execute(q.PARTIES_BY_PID, [row[4], row[5]]).fetchall()}
        except duckdb.Error as e:
            raise QueryError("invoice", str(e)) from e
        if row[4] not in parties or row[5] not in parties:
            return None
        return _invoice_from_row((*row[:4], *parties[row[4]], *parties[row[5]], *row[6:]))

    def item_lines(self, key: str) -> pa.Table:
        with self._con("item_lines") as con:
            return _to_schema(self._arrow(con, q.ITEM_LINES_OF, [key]), schema.ITEM_LINES)

    def _ensure_key_index(self, con: duckdb.DuckDBPyConnection) -> None:
        """Build the key index (embedded_sql.KEY_INDEX) when missing: once per opening of the database, as a load
        (here or in another process) may have dropped it. A failure leaves lookups on the sequential scan."""
        if self._key_index == self._db.generation:
            return
        try:
            has = _one(con.execute(q.HAS_KEY_INDEX))
            if not (has and has[0]):
                con.execute(q.CREATE_KEY_INDEX)
        except duckdb.Error as e:
            log.warning("could not build the invoice key index of %s (lookups scan instead): %s", self.path, e)
        self._key_index = self._db.generation

    def invoices(self, keys: Sequence[str]) -> pa.Table:
        return self._with_keys("invoices", q.INVOICES_IN, keys, schema.INVOICES, q.BY_TIME_KEY)

    def lookup_invoice(self, number: str, issued_on: date, amount_fen: int, *,
                       code: str | None = None) -> Invoice | None:
        day = datetime(issued_on.year, issued_on.month, issued_on.day, tzinfo=_TZ)
        start, end = _epoch(day), _epoch(day + timedelta(days=1))
        with self._con("lookup_invoice") as con:
            row = _one(con.execute(q.LOOKUP_INVOICE, [number, code or None, code or None, start, end,
                                                 int(amount_fen), int(amount_fen)]))
        return None if row is None else _invoice_from_row(row)

    def existing_invoice_keys(self, keys: Sequence[str] | pa.Array, *,
                              store_codes: pa.Array | pa.ChunkedArray | None = None) -> set[str]:
        if len(keys) == 0:
            return set()
        if store_codes is not None and len(store_codes) == len(keys):   # hash(key) computed ahead (row_codes)
            stored = self._stored_key_hashes_now()
            if stored is not None and not stored.any_of(np.asarray(store_codes.to_numpy(), np.uint64)):
                return set()   # no key's hash is stored: none is, and no statement was needed
        table = (pa.table({"key": keys.cast(pa.string())}) if isinstance(keys, pa.Array | pa.ChunkedArray)
                 else _keys_table(keys))
        # the last committed state, without waiting for a writer's open transaction: a load checks its next batch
        # while the writer thread commits the one before (which the loader's own memory of its batches covers)
        try:
            with self._db.read() as cur:
                cur.register("_keys", table)
                try:
                    stored = self._stored_key_hashes(cur)
                    if stored is not None and len(stored) == 0:
                        return set()   # no invoice stored (a fresh workspace's first batch): the keys need no hashing
                    if stored is not None and not stored.any_of(
                            np.asarray(cur.execute(q.KEYS_HASHED).fetchnumpy()["h"], np.uint64)):
                        return set()   # no key's hash is stored: none is (the exact check below scans key_hash)
                    found = self._arrow(cur, q.EXISTING_KEYS)
                finally:
                    cur.unregister("_keys")
        except duckdb.Error as e:
            raise QueryError("existing_invoice_keys", str(e)) from e
        return set(found.column("key").to_pylist())

    def _stored_key_hashes_now(self) -> KeyHashes | None:
        """:meth:`_stored_key_hashes` without a statement when they are current (else read on a reader cursor)."""
        stamp = self.change_stamp()
        cached = self._key_hashes
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with self._db.read() as cur:
                return self._stored_key_hashes(cur)
        except duckdb.Error as e:
            raise QueryError("existing_invoice_keys", str(e)) from e

    def _stored_key_hashes(self, con: duckdb.DuckDBPyConnection) -> KeyHashes | None:
        """Every stored invoice's key hash (:mod:`graph.embedded_keys`), current for the change stamp; read
        again when the stamp moved (not kept above ``MAX_KEPT`` invoices). ``con``: the database in use or a
        reader cursor; the stamp is taken before the hashes are read, so they hold every commit it counts (a
        commit it does not count yet only makes the hashes a superset or leaves them stale)."""
        stamp = self.change_stamp()
        if stamp is None:
            return None
        if self._key_hashes is not None and self._key_hashes[0] == stamp:
            return self._key_hashes[1]
        row = _one(con.execute(q.COUNT_INVOICES))
        kept = (KeyHashes(np.asarray(con.execute(q.STORED_KEY_HASHES).fetchnumpy()["key_hash"], np.uint64))
                if row is not None and int(row[0]) <= MAX_KEPT else None)
        self._key_hashes = (stamp, kept)
        return kept

    def search(self, text: str, limit: int = 20) -> list[Taxpayer]:
        text = text.strip()
        if not text or limit <= 0:
            return []
        upper = text.upper()
        with self._con("search") as con:
            rows = con.execute(q.SEARCH, [upper, upper, text, upper, upper, int(limit)]).fetchall()
        return [_taxpayer_from_row(r) for r in rows]

    # --- graph reads -------------------------------------------------------------------------------
    def _adjacency(self, con: duckdb.DuckDBPyConnection) -> Adjacency:
        from graph.embedded_adjacency import Adjacency

        row = _one(con.execute(q.GET_META, ["data_version"]))
        version = row[0] if row else ""
        if self._adj is None or version != self._adj_version:
            try:
                con.execute("BEGIN")    # one snapshot for the reads (unless a writer's is open)
                own = True
            except duckdb.TransactionException:
                own = False
            try:
                taxpayers = _to_schema(self._arrow(con, q.TAXPAYERS_ALL, order=q.BY_TAX_ID), schema.TAXPAYERS).combine_chunks()
                identifiers = self._arrow(con, q.IDENTIFIERS_ALL, order=q.BY_TAX_ID_KIND_VALUE)
                parties = self._arrow(con, q.ADJ_PARTIES)
                edges = self._arrow(con, q.ADJ_EDGES)
            finally:
                if own:
                    con.execute("COMMIT")
            self._adj, self._adj_version = Adjacency(taxpayers, identifiers, parties, edges), version
        return self._adj

    def ego_network(self, tax_id: str, *, hops: int = 1, start: datetime | None = None,
                    end: datetime | None = None, min_amount_fen: int = 0, limit: int = 500) -> Subgraph:
        s, e = _epoch(start), _epoch(end)
        with self._con("ego_network") as con:
            adj = self._adjacency(con)
            center = adj.index.get(tax_id)
            if center is None:
                return Subgraph(center=tax_id, nodes=[], hops={}, edges=schema.empty(schema.EDGES))
            layers = adj.layers(center, max(hops, 0), s, e, int(min_amount_fen))
            kept: list[int] = [center]
            hop_of: dict[int, int] = {center: 0}
            reachable = 1 + sum(int(layer.nodes.size) for layer in layers)
        room = max(limit, 1) - 1
        for depth, layer in enumerate(layers, start=1):
            if room <= 0:
                break
            # node numbers follow tax-id order, so they break volume ties by tax id
            order = np.lexsort((layer.nodes, -layer.volume))[:room]
            chosen = layer.nodes[order].tolist()
            kept.extend(chosen)
            hop_of.update((n, depth) for n in chosen)
            room -= len(chosen)
        edges = adj.aggregate(adj.edges_among(np.array(kept, dtype=np.int64), s, e, int(min_amount_fen)))
        return Subgraph(center=tax_id, nodes=adj.taxpayers_at(kept),
                        hops={adj.tax_ids[n]: d for n, d in hop_of.items()},
                        edges=edges, truncated=len(kept) < reachable, dropped=reachable - len(kept))

    @staticmethod
    def _pids(con: duckdb.DuckDBPyConnection, tax_id: str) -> list[int]:
        """Party numbers of ``tax_id`` (one per name it carried on invoices)."""
        row = _one(con.execute(q.PIDS_OF, [tax_id]))
        return list(row[0]) if row and row[0] else []

    def invoices_between(self, a: str, b: str, *, start: datetime | None = None,
                         end: datetime | None = None) -> pa.Table:
        with self._con("invoices_between") as con:
            pa_, pb = self._pids(con, a), self._pids(con, b)
            if not pa_ or not pb:
                return schema.empty(schema.INVOICES)
            return _to_schema(self._arrow(con, q.INVOICES_BETWEEN, [pa_, pb, *_window(start, end)],
                                          order=q.BY_TIME_KEY), schema.INVOICES)

    def invoices_of(self, tax_id: str, *, start: datetime | None = None, end: datetime | None = None,
                    limit: int | None = None) -> pa.Table:
        with self._con("invoices_of") as con:
            pids = self._pids(con, tax_id)
            if not pids:
                return schema.empty(schema.INVOICES)
            params = [pids, *_window(start, end), None if limit is None else max(limit, 0)]
            return _to_schema(self._arrow(con, q.INVOICES_OF, params, order=q.BY_TIME_KEY_DESC), schema.INVOICES)

    def invoices_touching(self, tax_ids: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
        """Every invoice whose seller or buyer is one of ``tax_ids`` (each once), in time order: one parameterised
        query that reads only those taxpayers' invoices (the fast update, :mod:`workbench.fast_update`). With
        ``columns`` (contract column names, with ``key`` and ``issued_at``) only those: the lean read."""
        if columns is None:
            return self._with_keys("invoices_touching", q.INVOICES_TOUCHING, sorted(set(tax_ids)), schema.INVOICES,
                                   q.BY_TIME_KEY)
        unknown = [c for c in columns if c not in schema.INVOICES.names]
        if unknown or not {"key", "issued_at"} <= set(columns):
            raise QueryError("invoices_touching", f"columns {', '.join(columns)}: need key and issued_at, "
                             f"and only invoice columns")
        target = pa.schema([schema.INVOICES.field(c) for c in columns])
        return self._with_keys("invoices_touching", q.invoices_touching_lean(columns), sorted(set(tax_ids)), target,
                               q.BY_TIME_KEY)

    def taxpayer_digests(self) -> pa.Table:
        """tax_id, n, h: per taxpayer its invoices (as seller or buyer) and an order-free hash of them; a taxpayer
        whose digest differs from an earlier one's has a new, voided or corrected invoice (the fast update's
        affected taxpayers when the caller does not name them)."""
        with self._con("taxpayer_digests") as con:
            return self._arrow(con, q.TAXPAYER_DIGESTS)

    def invoices_of_page(self, tax_id: str, side: str, *, start: datetime | None = None,
                         end: datetime | None = None, min_fen: int = 0, skip: int = 0,
                         limit: int | None = None) -> pa.Table:
        check_side(side)
        with self._con("invoices_of_page") as con:
            pids = self._pids(con, tax_id)
            if not pids:
                return schema.empty(schema.INVOICES)
            return _to_schema(self._arrow(con, q.INVOICES_OF_SIDE[side], [
                pids, *_window(start, end), int(min_fen), NO_LIMIT if limit is None else max(int(limit), 0),
                max(int(skip), 0)], order=q.BY_TIME_KEY_DESC), schema.INVOICES)

    def invoices_of_tally(self, tax_id: str, side: str, *, start: datetime | None = None,
                          end: datetime | None = None, min_fen: int = 0) -> tuple[int, int]:
        check_side(side)
        with self._con("invoices_of_tally") as con:
            pids = self._pids(con, tax_id)
            row = _one(con.execute(q.INVOICES_OF_TALLY[side], [pids, *_window(start, end), int(min_fen)])) if pids else None
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def shortest_paths(self, a: str, b: str, *, max_hops: int = 4, limit: int = 5) -> list[list[str]]:
        with self._con("shortest_paths") as con:
            adj = self._adjacency(con)
        ia, ib = adj.index.get(a), adj.index.get(b)
        if ia is None or ib is None or limit <= 0:
            return []
        return [[adj.tax_ids[n] for n in path] for path in adj.shortest_paths(ia, ib, max_hops, limit)]

    def edge_table(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        with self._con("edge_table") as con:
            return _to_schema(self._arrow(con, q.EDGE_TABLE, _window(start, end)), schema.EDGES)

    def invoice_stream(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        with self._con("invoice_stream") as con:
            return _to_schema(self._arrow(con, q.INVOICE_STREAM, _window(start, end), order=q.BY_TIME_KEY), schema.INVOICES)

    def invoice_months(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        offset = datetime.now(_TZ).utcoffset()
        with self._con("invoice_months") as con:
            table = self._arrow(con, q.INVOICE_MONTHS, [*_window(start, end),
                                                        int(offset.total_seconds()) if offset else 0],
                                order=q.BY_MONTH)
        return pa.Table.from_arrays(table.columns, schema.INVOICE_MONTHS.names).cast(schema.INVOICE_MONTHS)

    # --- findings ----------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        with self._con("runs") as con:
            rows = con.execute(q.RUNS).fetchall()
        return [Run(run_id=r, created_at=datetime.fromisoformat(c), params=json.loads(p or "{}"),
                    fingerprint=f or "", stage_seconds=json.loads(st or "{}")) for r, c, p, f, st in rows]

    def _run_or_newest(self, con: duckdb.DuckDBPyConnection, run_id: str | None) -> str | None:
        if run_id is not None:
            return run_id
        row = _one(con.execute(q.NEWEST_RUN))
        return None if row is None else str(row[0])

    def rings(self, run_id: str | None = None) -> list[Ring]:
        with self._con("rings") as con:
            rid = self._run_or_newest(con, run_id)
            rows = [] if rid is None else con.execute(q.RINGS_OF_RUN, [rid]).fetchall()
        return [_ring_from_row(r) for r in rows]

    def ring(self, ring_id: str) -> Ring | None:
        with self._con("ring") as con:
            row = _one(con.execute(q.RING, [ring_id]))
        return None if row is None else _ring_from_row(row)

    def scores(self, run_id: str | None = None) -> pa.Table:
        with self._con("scores") as con:
            rid = self._run_or_newest(con, run_id)
            if rid is None:
                return schema.empty(schema.SCORES)
            return _to_schema(self._arrow(con, q.SCORES_OF_RUN, [rid], order=q.BY_SCORE), schema.SCORES)

    def _ring_params(self, con: duckdb.DuckDBPyConnection, run_id: str | None, where: RingQuery) -> list[object] | None:
        rid = self._run_or_newest(con, run_id)
        return None if rid is None else [rid, list_param(where.kinds), float(where.min_score), int(where.min_fen),
                                         _epoch(where.start), _epoch(where.end)]

    def rings_page(self, run_id: str | None = None, where: RingQuery = ANY_RING, *, skip: int = 0,
                   limit: int | None = None) -> list[RingRow]:
        with self._con("rings_page") as con:
            params = self._ring_params(con, run_id, where)
            rows = [] if params is None else con.execute(
                q.RINGS_PAGE, [*params, NO_LIMIT if limit is None else int(limit), int(skip)]).fetchall()
        rows.sort(key=lambda r: (-float(r[5]), str(r[0])))   # the ORDER BY again (see embedded_sql.Order)
        return [RingRow(_ring_from_row(r[:8]), epoch_local(r[8]), epoch_local(r[9]), int(r[10])) for r in rows]

    def rings_count(self, run_id: str | None = None, where: RingQuery = ANY_RING) -> int:
        with self._con("rings_count") as con:
            params = self._ring_params(con, run_id, where)
            row = None if params is None else _one(con.execute(q.RINGS_COUNT, params))
        return int(row[0]) if row else 0

    def ring_kinds(self, run_id: str | None = None) -> dict[str, int]:
        with self._con("ring_kinds") as con:
            rid = self._run_or_newest(con, run_id)
            rows = [] if rid is None else con.execute(q.RING_KINDS, [rid]).fetchall()
        return {str(k): int(n) for k, n in rows}

    def _score_params(self, con: duckdb.DuckDBPyConnection, run_id: str | None, where: ScoreQuery) -> list[object] | None:
        rid = self._run_or_newest(con, run_id)
        return None if rid is None else [rid, list(where.overrides), list(where.overrides.values()),
                                         list_param(where.tiers), float(where.min_score), list_param(where.industries),
                                         list_param(where.regions), where.text or None, list_param(where.tax_ids)]

    def scores_page(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE, *, skip: int = 0,
                    limit: int | None = None) -> pa.Table:
        with self._con("scores_page") as con:
            params = self._score_params(con, run_id, where)
            if params is None:
                return schema.empty(schema.SCORED_TAXPAYERS)
            table = self._arrow(con, q.SCORES_PAGE, [*params, NO_LIMIT if limit is None else int(limit), int(skip)],
                                order=q.BY_SCORE)
        return pa.Table.from_arrays(table.columns, schema.SCORED_TAXPAYERS.names).cast(schema.SCORED_TAXPAYERS)

    def scores_count(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE) -> int:
        with self._con("scores_count") as con:
            params = self._score_params(con, run_id, where)
            row = None if params is None else _one(con.execute(q.SCORES_COUNT, params))
        return int(row[0]) if row else 0

    def score_facets(self, run_id: str | None = None) -> dict[str, list[str]]:
        with self._con("score_facets") as con:
            rid = self._run_or_newest(con, run_id)
            row = None if rid is None else _one(con.execute(q.SCORE_FACETS, [rid]))
        industries, regions = row if row else (None, None)
        return {"industry": sorted(industries or []), "region": sorted(regions or [])}

    # --- workflow records and audit ------------------------------------------------------------------
    def record(self, kind: str, rec_id: str) -> dict[str, Any] | None:
        with self._con("record") as con:
            row = _one(con.execute(q.RECORD, [kind, rec_id]))
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def records(self, kind: str) -> list[dict[str, Any]]:
        with self._con("records") as con:
            rows = con.execute(q.RECORDS, [kind]).fetchall()
        return [json.loads(r[0]) for r in rows]

    def records_page(self, kind: str, equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = (),
                     newest: Sequence[str] = (), limit: int | None = None) -> list[dict[str, Any]]:
        check_fields(equal or {}, unset, newest)
        eq = list((equal or {}).items())
        params: list[object] = [kind, *[x for k, v in eq for x in (f"$.{k}", v)], *[f"$.{k}" for k in unset],
                                *[f"$.{k}" for k in newest], NO_LIMIT if limit is None else int(limit)]
        with self._con("records_page") as con:
            rows = con.execute(q.records_page(len(eq), len(unset), len(newest)), params).fetchall()
        return [json.loads(r[0]) for r in rows]

    def records_count(self, kind: str, equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = ()) -> int:
        check_fields(equal or {}, unset)
        eq = list((equal or {}).items())
        params: list[object] = [kind, *[x for k, v in eq for x in (f"$.{k}", v)], *[f"$.{k}" for k in unset]]
        with self._con("records_count") as con:
            row = _one(con.execute(q.records_page(len(eq), len(unset), 0, count=True), params))
        return int(row[0]) if row else 0

    def audit_events(self, after_seq: int = 0, *, skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        with self._con("audit_events") as con:
            rows = con.execute(q.AUDIT_AFTER, [int(after_seq), NO_LIMIT if limit is None else int(limit),
                                               int(skip)]).fetchall()
        return _audit_events(rows)

    def audit_page(self, *, actor: str | None = None, action: str | None = None, target: str | None = None,
                   skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        with self._con("audit_page") as con:
            rows = con.execute(q.AUDIT_PAGE, [actor, action, target, NO_LIMIT if limit is None else int(limit),
                                              int(skip)]).fetchall()
        return _audit_events(rows)

    def audit_count(self, *, actor: str | None = None, action: str | None = None, target: str | None = None) -> int:
        with self._con("audit_count") as con:
            row = _one(con.execute(q.AUDIT_COUNT, [actor, action, target]))
        return int(row[0]) if row else 0


def _audit_events(rows: Sequence[tuple[Any, ...]]) -> list[AuditEvent]:
    return [AuditEvent(seq=int(s), at=datetime.fromisoformat(at), actor=a, role=r, action=ac, target=t,
                       detail=d, prev_hash=p, hash=h) for s, at, a, r, ac, t, d, p, h in rows]


#: the per-row codes :func:`graph.embedded_bulk.batch_codes` gives (key hash, the two sides' pair hashes and checks)
_CODES = ("k", "s", "b", "sc", "bc")


def _split_codes(table: pa.Table) -> tuple[pa.Table, dict[str, npt.NDArray[np.uint64]] | None]:
    """``table`` without its ``__store_*`` columns, and the codes they carried (None when it has not all of them)."""
    names = [schema.STORE_CODE_PREFIX + c for c in _CODES]
    if not set(names) <= set(table.column_names):
        return table.drop_columns([c for c in table.column_names if c.startswith(schema.STORE_CODE_PREFIX)]), None
    codes = {c: np.asarray(table.column(n).to_numpy(), np.uint64) for c, n in zip(_CODES, names, strict=True)}
    return table.drop_columns(names), codes


def _invoice_batch(table: pa.Table) -> pa.Table:
    """Contract invoice table → storage layout (epoch seconds, derived keys where missing)."""
    table = schema.conform(table, schema.INVOICES)
    code = pc.if_else(pc.is_null(table.column("code")), "", table.column("code"))
    if table.column("key").null_count:       # derive missing keys the one documented way
        derived = pc.if_else(pc.equal(code, ""), table.column("number"),
                             pc.binary_join_element_wise(code, table.column("number"), "-"))
        table = table.set_column(0, "key", pc.coalesce(table.column("key"), derived))
    table = table.set_column(2, "code", code)
    return table.set_column(3, "issued_at", table.column("issued_at").cast(pa.int64()))


def _repeats(hashes: npt.NDArray[np.uint64]) -> bool:
    """Whether any value occurs twice (a sort: ~7x cheaper than ``pc.unique`` for 500,000 key hashes)."""
    ordered = np.sort(hashes)
    return bool((ordered[1:] == ordered[:-1]).any())


def _last_per_key(table: pa.Table) -> pa.Table:
    """The batch with one row per key, the last one given."""
    if pc.count_distinct(table.column("key")).as_py() == table.num_rows:
        return table
    table = table.append_column("_rn", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    last = table.group_by("key").aggregate([("_rn", "max")]).column("_rn_max").to_numpy()
    return table.take(pa.array(np.sort(last))).drop_columns(["_rn"])


class _EmbeddedWriter(Writer, AbstractContextManager["_EmbeddedWriter"]):
    """One DuckDB transaction; invoices are buffered and flushed in big batches (bounded memory)."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store
        self._use: AbstractContextManager[duckdb.DuckDBPyConnection] | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.pending: list[pa.Table] = []
        self.pending_codes: list[dict[str, npt.NDArray[np.uint64]] | None] = []   # codes computed ahead, per table
        self.pending_rows = 0
        self.touched_graph = False
        self.parties: PartyNumbers | None = None
        self.inserted: list[npt.NDArray[np.uint64]] = []   # key hashes of the rows this transaction inserted
        self.prepared: PreparedInvoices | None = None      # the last batch of a bulk plan written in this transaction
        self.bumped: str | None = None     # the data version this transaction bumped to, once bumped

    def __enter__(self) -> _EmbeddedWriter:
        self._use = self.store._db.use()
        self.con = self._use.__enter__()
        try:
            self.con.execute("BEGIN")
        except duckdb.Error as e:
            self._use.__exit__(None, None, None)
            raise StoreError(f"cannot start a write transaction: {e}") from e
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.con is not None and self._use is not None
        try:
            if et is None:
                self._flush()
                version = (self.bumped or self._bump_data_version()) if self.touched_graph else None
                keep = self._parties_to_keep(version)
                before = self.store.change_stamp()
                if self.prepared is not None and version is None:
                    version = self._data_version()
                self._run("commit", "COMMIT")
                if self.prepared is not None:
                    self.prepared.plan.committed(self.prepared, self.store._db.generation, str(version))
                if self.touched_graph:
                    _graph_committed(self.store._real)
                    self._keep_key_hashes(before)
                if keep is not None:
                    self.store._parties = keep
            else:
                self.con.execute("ROLLBACK")
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            self.pending, self.pending_codes = [], []
            self._use.__exit__(et, e, tb)

    def _run(self, name: str, sql: str, params: Sequence[object] = ()) -> None:
        if self.con is None:
            raise StoreError("writer used outside its with-block")
        try:
            self.con.execute(sql, list(params))
        except duckdb.Error as e:
            raise QueryError(name, str(e)) from e

    def _with_batch(self, table: pa.Table, *statements: tuple[str, str]) -> None:
        assert self.con is not None
        self.con.register("_batch", table)
        try:
            for name, sql in statements:
                self._run(name, sql)
        finally:
            self.con.unregister("_batch")

    def _flush(self) -> None:
        if not self.pending:
            return
        batch = _invoice_batch(pa.concat_tables(self.pending))
        ahead = self.pending_codes
        self.pending, self.pending_codes, self.pending_rows = [], [], 0
        try:
            if all(c is not None for c in ahead):    # computed ahead of the transaction (row_codes)
                codes = {n: np.concatenate([c[n] for c in ahead if c is not None]) for n in _CODES}
            else:
                codes = self._batch_codes(batch)
            if _repeats(codes["k"]):   # maybe a key given twice: keep its last row
                deduped = _last_per_key(batch)
                if deduped.num_rows != batch.num_rows:
                    batch, codes = deduped, self._batch_codes(deduped)
            if batch.num_rows >= _INDEX_DROP_ROWS:     # bulk: cheaper to rebuild the key index than to maintain it
                self._run("drop_key_index", q.DROP_KEY_INDEX)
                self.store._key_index = -1
            batch = self._number_parties(batch, codes)
            batch = self._drop_unchanged(batch, codes["k"])
            if batch.num_rows:
                self._with_batch(batch, ("insert_invoices", q.INSERT_INVOICES))
                self.inserted.append(codes["k"])
        except duckdb.Error as e:
            raise QueryError("flush_invoices", str(e)) from e

    def _batch_codes(self, batch: pa.Table) -> dict[str, npt.NDArray[np.uint64]]:
        """Per row, in row order: the key and pair hashes (:func:`graph.embedded_bulk.batch_codes`)."""
        assert self.con is not None
        return batch_codes(self.con, batch)

    def _number_parties(self, batch: pa.Table, codes: dict[str, npt.NDArray[np.uint64]]) -> pa.Table:
        """Add seller / buyer party numbers; store new parties, and taxpayers for sellers/buyers not yet known."""
        con = self.con
        assert con is not None
        if self.parties is None:
            self.parties = self._cached_parties() or PartyNumbers(con.sql(q.PARTIES_ALL).to_arrow_table(),
                                                                  lambda: con.sql(q.PARTY_PAIRS).to_arrow_table())
        batch, new = number_parties(self.parties, batch, codes)
        self._insert_parties(new)
        return batch

    def _insert_parties(self, new: pa.Table) -> None:
        """Store parties first seen (``NEW_PARTIES`` rows), and taxpayers for their tax ids not yet known."""
        if new.num_rows:
            assert self.con is not None
            self.con.register("_new", new)
            try:
                self._run("insert_parties", q.INSERT_PARTIES)
                if self._new_tax_ids(new):
                    self._run("create_taxpayers", q.CREATE_TAXPAYERS_FROM_PARTIES)
            finally:
                self.con.unregister("_new")

    def _new_tax_ids(self, new: pa.Table) -> bool:
        """Whether some new party's tax id may not be a taxpayer yet (then the taxpayers statement runs). Known
        from the tax ids kept with the party numbers (:attr:`PartyNumbers.tax_ids`, read once per life of the
        kept numbers, grown by each insert): they are valid exactly as long as the numbers (same opening, same
        data version, checked in this transaction; a rollback drops both). Without kept numbers (a bulk load's
        prepared batch): always."""
        parties = self.parties
        if parties is None or parties.by_pair is not None:
            return True
        assert self.con is not None
        if parties.tax_ids is None:
            stored: list[str | None] = self.con.sql(q.TAXPAYER_IDS).to_arrow_table().column("tax_id").to_pylist()
            parties.tax_ids = {t for t in stored if t}
        ids = {t for t in new.column("tax_id").to_pylist() if t}
        if ids <= parties.tax_ids:
            return False
        parties.tax_ids |= ids     # the statement below stores the missing ones (or the transaction fails)
        return True

    def _data_version(self) -> str:
        assert self.con is not None
        row = _one(self.con.execute(q.GET_META, ["data_version"]))
        return str(row[0]) if row else ""

    def _cached_parties(self) -> PartyNumbers | None:
        """The party numbers the previous commit left, when nothing has changed the workspace since: same opening
        of the database (another process's write needs our connection closed first) and same data version (every
        write of parties bumps it, in any store object or process). Taken out of the store: a rollback drops them."""
        cached, self.store._parties = self.store._parties, None
        if cached is None or cached[0] != self.store._db.generation or cached[2].by_pair is not None:
            return None
        # this transaction writes invoices, so it bumps the data version anyway: bumped here, one statement reads
        # and bumps it (the commit then does not bump it again); kept only when the version before the bump is the
        # one the commit that kept them left
        version = self._bump_data_version()
        try:
            valid = version is not None and cached[1] == str(int(version) - 1)
        except ValueError:
            valid = False
        return cached[2] if valid else None

    def _keep_key_hashes(self, before: tuple[int, int] | None) -> None:
        """After this commit: the store's key hashes (current before it) with the ones this transaction inserted,
        current for the new change stamp (still under the database lock: no other commit came between)."""
        cached = self.store._key_hashes
        if cached is None or before is None or cached[0] != before:
            return
        kept = cached[1]
        if kept is not None and self.inserted:     # a new object: a reader may be looking at the old one
            kept = kept.adding(np.concatenate(self.inserted))
        stamp = self.store.change_stamp()
        self.store._key_hashes = (stamp, kept) if stamp is not None else None

    def _bump_data_version(self) -> str | None:
        """Bump the data version; the new one (None when its row was missing and had to be inserted)."""
        assert self.con is not None
        try:
            row = _one(self.con.execute(q.BUMP_DATA_VERSION_RETURNING))
        except duckdb.Error as e:
            raise QueryError("bump_data_version", str(e)) from e
        if row is None:
            self._run("bump_data_version", q.BUMP_DATA_VERSION)
            return None
        self.bumped = str(row[0])
        return self.bumped

    def _parties_to_keep(self, version: str | None) -> tuple[int, str, PartyNumbers] | None:
        """What to remember after this commit: the numbers with the data version this transaction leaves
        (``version``, as the bump gave it: the data version is read once per transaction)."""
        if self.parties is None or self.parties.by_pair is not None:
            return None
        return self.store._db.generation, version if version is not None else self._data_version(), self.parties

    def _drop_unchanged(self, batch: pa.Table, key_hashes: npt.NDArray[np.uint64]) -> pa.Table:
        """Delete stored rows the batch changes; return the batch without rows already stored identically.
        ``key_hashes``: hash(key) of (at least) the batch's rows."""
        assert self.con is not None
        stored = self.store._stored_key_hashes(self.con)
        if stored is not None and not stored.any_of(key_hashes) and not any(
                KeyHashes(h).any_of(key_hashes) for h in self.inserted):
            return batch        # none of its keys is stored (nor inserted earlier in this transaction)
        self.con.register("_batch", batch)
        try:    # a cheap key-only probe first: fresh loads never pay for the row comparison
            if not self.con.execute(q.ANY_KEY_IN_BATCH).fetchall():
                return batch
            existing = self.con.sql(q.EXISTING_IN_BATCH).to_arrow_table()
        finally:
            self.con.unregister("_batch")
        if existing.num_rows == 0:
            return batch
        same = existing.column("same").combine_chunks()
        changed = existing.filter(pc.invert(same)).select(["key"])
        if changed.num_rows:
            self.con.register("_keys", changed)
            try:
                self._run("delete_invoices", q.DELETE_INVOICES_IN_KEYS)
            finally:
                self.con.unregister("_keys")
        unchanged = existing.filter(same).column("key")
        if len(unchanged) == 0:
            return batch
        return batch.filter(pc.invert(pc.is_in(batch.column("key"), value_set=unchanged.combine_chunks())))

    # --- Writer ----------------------------------------------------------------------------------------
    def taxpayers(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        base = schema.conform(table, schema.TAXPAYERS)
        base = base.append_column("_rn", pa.array(np.arange(base.num_rows, dtype=np.int64)))
        self._with_batch(base, ("upsert_taxpayers", q.UPSERT_TAXPAYERS))
        links = [pa.table({"tax_id": table.column("tax_id").cast(pa.string()),
                           "kind": pa.array([kind] * table.num_rows, pa.string()),
                           "value": table.column(kind).cast(pa.string())})
                 for kind in vocab.IDENTIFIER_KINDS if kind in table.column_names]
        if links:
            self.identifiers(pa.concat_tables(links))
        self.touched_graph = True

    def invoices(self, table: pa.Table) -> None:
        self._buffer(table)

    def _buffer(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table, codes = _split_codes(table)
        self.pending.append(table)
        self.pending_codes.append(codes)
        self.pending_rows += table.num_rows
        self.touched_graph = True
        if self.pending_rows >= _FLUSH_ROWS:
            self._flush()

    def prepared_invoices(self, prepared: PreparedInvoices) -> None:
        """A batch a bulk load made ready ahead of this transaction (:mod:`graph.embedded_bulk`): only the writing is
        left. Stored the ordinary way (:meth:`invoices`) when its party numbers do not hold."""
        self._flush()
        last = self.prepared.seq if self.prepared is not None and self.prepared.plan is prepared.plan else 0
        if self.parties is not None or not prepared.plan.valid(prepared, self.store._db.generation,
                                                                self._data_version(), in_transaction=last):
            self._buffer(prepared.source)
            self._flush()
            return
        batch, keys, new = prepared.batch, prepared.keys, prepared.new
        assert batch is not None and keys is not None and new is not None
        self.store._parties = None     # numbers kept from an earlier commit lack this batch's parties
        self.touched_graph = True
        self.prepared = prepared
        try:
            if batch.num_rows >= _INDEX_DROP_ROWS:     # bulk: cheaper to rebuild the key index than to maintain it
                self._run("drop_key_index", q.DROP_KEY_INDEX)
                self.store._key_index = -1
            self._insert_parties(new)
            batch = self._drop_unchanged(batch, keys)
            if batch.num_rows:
                self._with_batch(batch, ("insert_invoices", q.INSERT_INVOICES))
                self.inserted.append(keys)
        except duckdb.Error as e:
            raise QueryError("flush_invoices", str(e)) from e

    def item_lines(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._flush()      # the lines' invoices may still be buffered
        base = schema.conform(table, schema.ITEM_LINES)
        base = base.append_column("_rn", pa.array(np.arange(base.num_rows, dtype=np.int64)))
        self._with_batch(base, ("delete_item_lines", q.DELETE_ITEM_LINES_OF_BATCH),
                         ("insert_item_lines", q.INSERT_ITEM_LINES))

    def identifiers(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._with_batch(schema.conform(table, schema.IDENTIFIERS), ("insert_identifiers", q.INSERT_IDENTIFIERS))
        self.touched_graph = True

    def findings(self, run: Run, rings: Sequence[Ring], scores: pa.Table) -> None:
        rid = run.run_id
        for name, sql in (("delete_run_members", q.DELETE_RUN_MEMBERS), ("delete_run_rings", q.DELETE_RUN_RINGS),
                          ("delete_run_scores", q.DELETE_RUN_SCORES)):
            self._run(name, sql, [rid])
        created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=_TZ)
        self._run("upsert_run", q.UPSERT_RUN, [rid, created.isoformat(), created.timestamp(),
                                               json.dumps(run.params, ensure_ascii=False, default=str),
                                               run.fingerprint, json.dumps(run.stage_seconds)])
        if rings:
            batch = pa.table({
                "ring_id": pa.array([r.ring_id for r in rings], pa.string()),
                "run_id": pa.array([rid] * len(rings), pa.string()),
                "kind": pa.array([r.kind for r in rings], pa.string()),
                "members": pa.array([list(r.members) for r in rings], pa.list_(pa.string())),
                "invoice_keys": pa.array([list(r.invoice_keys) for r in rings], pa.list_(pa.string())),
                "score": pa.array([float(r.score) for r in rings], pa.float64()),
                "evidence": pa.array([r.evidence for r in rings], pa.string()),
                "details": pa.array([json.dumps(r.details, ensure_ascii=False, default=str) for r in rings],
                                    pa.string()),
            })
            self._with_batch(batch, ("delete_members_by_ring", q.DELETE_MEMBERS_BY_RING),
                             ("delete_rings_by_id", q.DELETE_RINGS_BY_ID), ("insert_rings", q.INSERT_RINGS),
                             ("insert_ring_members", q.INSERT_RING_MEMBERS))
        if scores.num_rows:
            assert self.con is not None
            self.con.register("_batch", schema.conform(scores, schema.SCORES))
            try:
                self._run("insert_scores", q.INSERT_SCORES, [rid])
            finally:
                self.con.unregister("_batch")

    def put_record(self, kind: str, rec_id: str, data: dict[str, Any]) -> None:
        self._run("upsert_record", q.UPSERT_RECORD, [kind, rec_id, json.dumps(data, ensure_ascii=False)])
        if kind == "case":
            self._run("delete_record_links", q.DELETE_RECORD_LINKS, [kind, rec_id])
            for target_kind in ("taxpayers", "rings", "invoices"):
                for target in data.get(target_kind) or ():
                    self._run("insert_record_link", q.INSERT_RECORD_LINK, [kind, rec_id, target_kind, str(target)])

    def audit(self, event: AuditEvent) -> None:
        assert self.con is not None
        row = _one(self.con.execute(q.AUDIT_EXISTS, [int(event.seq)]))
        if row is not None and int(row[0]) > 0:
            raise StoreError(f"audit event seq {event.seq} already exists; the audit chain never forks")
        self._run("insert_audit", q.INSERT_AUDIT, [int(event.seq), event.at.isoformat(), event.actor, event.role,
                                                    event.action, event.target, event.detail, event.prev_hash,
                                                    event.hash])


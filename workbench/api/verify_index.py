"""The stored invoices in memory for 查验 (``POST /invoices/verify``): an answer without a database statement.

A point lookup in the embedded store costs two DuckDB statements, ≈ 1.1-2.7 CPU-ms per 查验 (measured), more
than all the rest of a request; 200 查验 per second would need most of a core for them. This index holds every
stored invoice as Arrow columns with its keys sorted (≈ 10 µs per lookup) and is used only while it is
**current**: the store's :meth:`~graph.embedded.EmbeddedStore.change_stamp` (this process's opening of the
database and its graph commits; another process can write only after this one has closed the database, which
a new opening shows) is the one the index was built at, or the workspace's data version is still the one it was
built at. Otherwise (a batch was just stored, the database was closed, a store without stamps such as Neo4j)
the caller asks the store as before, and the index is rebuilt on a background thread once nothing has been
written for ``QUIET_S`` - at most once per ``MIN_INTERVAL_S`` and never more often than 1 in ``IDLE_FACTOR`` of
the time (while invoices keep arriving, 查验 reads the store).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema
from graph.core.model import Invoice
from graph.store import Store

log = logging.getLogger("fapiao.api")
TZ = ZoneInfo(schema.TZ)
MIN_INTERVAL_S = 2.0     # between the starts of two rebuilds
QUIET_S = 1.0            # a rebuild waits until nothing has been written for this long (as seen by 查验 calls)
IDLE_FACTOR = 10         # a rebuild taking t seconds is followed by at least IDLE_FACTOR * t before the next
MAX_ROWS = 2_000_000     # above this many invoices the index is not built (memory: ≈ 300 bytes per invoice)


class _Miss:
    """The index is not current: ask the store."""


MISS = _Miss()


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, int] | None
    version: str
    keys: npt.NDArray[np.bytes_]          # sorted, UTF-8
    rows: npt.NDArray[np.int64]           # the table row of each sorted key
    table: pa.Table                       # schema.INVOICES, issued_at as epoch seconds

    def find(self, key: str) -> Invoice | None:
        raw = key.encode("utf-8")
        i = int(np.searchsorted(self.keys, raw))
        if i >= len(self.keys) or self.keys[i] != raw:
            return None
        row = int(self.rows[i])
        v = [column[row].as_py() for column in self.table.columns]
        (key_, number, code, issued, seller, seller_name, buyer, buyer_name, amount, tax, total, rate, kind,
         status, red_ref, item_code, item_name) = v
        return Invoice(key=key_, number=number, code=code or "", issued_at=datetime.fromtimestamp(int(issued), TZ),
                       seller_tax_id=seller, seller_name=seller_name, buyer_tax_id=buyer, buyer_name=buyer_name,
                       amount_fen=int(amount), tax_fen=int(tax), total_fen=int(total), rate=float(rate), kind=kind,
                       status=status, red_ref=red_ref, item_code=item_code, item_name=item_name)


class VerifyIndex:
    """Every stored invoice by key, in memory, for as long as the store says nothing changed."""

    def __init__(self, store: Store, *, max_rows: int = MAX_ROWS, background: bool = True) -> None:
        self.store = store
        self.max_rows = max_rows
        self.background = background      # rebuild on a thread of its own when stale (else only by build())
        stamp: Callable[[], tuple[int, int] | None] | None = getattr(store, "change_stamp", None)
        version: Callable[[], str] | None = getattr(store, "data_version", None)
        self._stamp = stamp
        self._version = version
        self.snapshot: _Snapshot | None = None
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.next_build = 0.0
        self.seen: tuple[tuple[int, int], float] | None = None     # the newest stamp seen while stale, since when
        self.builds = 0                   # how many times it was built (tests, benchmarks)
        self.fast_answers = 0             # 查验 answered by workbench.api.fast without FastAPI (tests, benchmarks)
        self.closed = False

    @property
    def enabled(self) -> bool:
        return self._stamp is not None and self._version is not None

    def invoice(self, key: str) -> Invoice | None | _Miss:
        """:meth:`Store.invoice` of ``key`` from memory, or :data:`MISS` when the index is not current (a
        rebuild is started when due). Call from a worker thread: on a new stamp it may read the data version."""
        snap = self.current()
        if snap is None:
            return MISS
        return snap.find(key)

    def current(self, *, check_version: bool = True) -> _Snapshot | None:
        """The snapshot when it is current, else None (and a rebuild is started when due). Without
        ``check_version`` (on the event loop) a new stamp is not checked against the data version, and no rebuild
        is started for it: the caller asks the slow path, which checks."""
        if self._stamp is None or self._version is None:
            return None
        snap = self.snapshot
        stamp = self._stamp()
        if stamp is None:       # the database is closed here (another process may be writing): the store answers
            return None
        if snap is not None and snap.stamp == stamp:
            return snap
        if snap is not None and not check_version:      # the caller's slow path checks the version (no rebuild yet)
            return None
        # same opening of the database: this process has committed graph writes since (each bumps the version)
        if snap is not None and not (snap.stamp is not None and snap.stamp[0] == stamp[0]):
            try:
                same = self._version() == snap.version
            except Exception:   # the store will answer (or fail) on the slow path
                same = False
            if same and self._stamp() == stamp:    # nothing written since it was built: same data, new stamp
                self.snapshot = snap = _Snapshot(stamp, snap.version, snap.keys, snap.rows, snap.table)
                return snap
        self._rebuild_later(stamp, first=snap is None)
        return None

    def _rebuild_later(self, stamp: tuple[int, int], *, first: bool) -> None:
        """Start a rebuild when due: the first build at once; a rebuild once the stamp has stayed the same for
        ``QUIET_S`` (while batches keep arriving, the store answers rather than the index being rebuilt after each)."""
        now = time.monotonic()
        with self.lock:
            if self.seen is None or self.seen[0] != stamp:
                self.seen = (stamp, now)
            if self.closed or not self.background or (self.thread is not None and self.thread.is_alive()) or \
                    now < self.next_build or (not first and now - self.seen[1] < QUIET_S):
                return
            self.thread = threading.Thread(target=self._build, name="fapiao-api-verify-index", daemon=True)
            self.thread.start()

    def build(self) -> None:
        """Build the index now (on this thread)."""
        assert self._stamp is not None and self._version is not None
        t = time.monotonic()
        stamp = self._stamp()       # read before the data: the data is at least this new (never older)
        version = self._version()
        if self.store.counts().invoices > self.max_rows:
            self.snapshot = None
            with self.lock:
                self.next_build = time.monotonic() + 60     # the store answers; look again in a minute
            return
        table = self.store.invoice_stream()
        issued = table.column("issued_at").cast(pa.int64())
        table = table.set_column(table.schema.get_field_index("issued_at"), "issued_at", issued).combine_chunks()
        keys = table.column("key")
        order = pc.sort_indices(keys).to_numpy()
        sorted_keys = np.array([k.encode("utf-8") for k in pc.take(keys, order).to_pylist()], dtype=np.bytes_)
        self.snapshot = _Snapshot(stamp, version, sorted_keys, order.astype(np.int64), table)
        self.builds += 1
        spent = time.monotonic() - t
        with self.lock:
            self.next_build = time.monotonic() + max(MIN_INTERVAL_S, IDLE_FACTOR * spent)
        log.debug("查验 index: %d invoices in %.2f s", table.num_rows, spent)

    def _build(self) -> None:
        try:
            self.build()
        except Exception:    # the store answers 查验 meanwhile
            log.exception("could not build the 查验 index; 查验 reads the store")

    def close(self) -> None:
        with self.lock:
            self.closed = True
            thread = self.thread
        if thread is not None:
            thread.join(timeout=60)


def find(lookup: Callable[[str], Any], number: str, code: str | None) -> Any:
    """The invoice of ``number`` (+ ``code``) through ``lookup`` (``Store.invoice`` or :meth:`VerifyIndex.invoice`):
    by its key, then (paper invoices) by the number alone; only an invoice with that very number counts.
    Returns what ``lookup`` returns (``MISS`` is passed on)."""
    for key in ([schema.invoice_key(code, number), number] if code else [number]):
        inv = lookup(key)
        if inv is MISS:
            return MISS
        if inv is not None and inv.number == number:
            return inv
    return None

"""A bulk load's invoice batches made ready for the embedded store ahead of their transactions.

A load writes its batches one transaction each, in file order, on a writer thread. Inside each transaction the
writer used to hash the keys and (tax id, name) pairs, drop repeated keys and number the parties before the
insert: about a third of each transaction, all of it work that does not need the transaction. A
:class:`BulkInvoices` does that work for batch k+1 on the loading thread while batch k's transaction runs (DuckDB
and Arrow release the Python lock), so the writer thread only stores.

Party numbers are handed out in batch order from one :class:`~graph.embedded_parties.PartyNumbers`, started from
the committed workspace. They are right only when the transactions commit in the same order and nothing else
changes the parties in between, so each prepared batch is checked inside its transaction
(:meth:`BulkInvoices.valid`): the batch before it committed from this plan, and the workspace's data version is the
one that commit left. Otherwise (a rollback, another process's write, a transaction of other rows in between, a
hash disagreement that needs the exact pair comparison) the writer stores the batch the ordinary way, numbering
its parties inside the transaction, and so do all later batches of the plan.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graph import embedded_sql as q
from graph.embedded_parties import PartyNumbers, Rows

if TYPE_CHECKING:
    from graph.embedded import EmbeddedStore

U64 = npt.NDArray[np.uint64]


def batch_codes(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> dict[str, U64]:
    """Per row, in row order: hash of the key (k), and of the seller's / buyer's (tax id, name) pair (s, b)
    with a second, independent hash of each pair (sc, bc). ``con``: any connection of the database (a cursor)."""
    n = batch.num_rows
    sides = batch.select(["key", "seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name"])
    con.register("_sides", sides.append_column("_rn", pa.array(np.arange(n, dtype=np.int64))))
    try:
        got = con.sql(q.BATCH_CODES).fetchnumpy()
    finally:
        con.unregister("_sides")
    at = got["_rn"]              # rows come back in any order: place them by row number
    out = {}
    for name in ("k", "s", "b", "sc", "bc"):
        col = np.empty(n, np.uint64)
        col[at] = got[name]
        out[name] = col
    return out


def number_parties(parties: PartyNumbers, batch: pa.Table, codes: dict[str, U64]) -> tuple[pa.Table, pa.Table]:
    """The batch with its seller / buyer party numbers, and the parties first seen in it (``NEW_PARTIES``)."""
    n = batch.num_rows
    issued = batch.column("issued_at").to_numpy()
    got = parties.assign(Rows(
        pa.concat_arrays([*batch.column("seller_tax_id").chunks, *batch.column("buyer_tax_id").chunks]),
        pa.concat_arrays([*batch.column("seller_name").chunks, *batch.column("buyer_name").chunks]),
        np.concatenate((codes["s"], codes["b"])), np.concatenate((codes["sc"], codes["bc"])),
        np.concatenate((issued, issued))))
    return (batch.append_column("seller", pa.array(got.pids[:n])).append_column("buyer", pa.array(got.pids[n:])),
            got.new)


@dataclass(frozen=True)
class PreparedInvoices:
    """One batch made ready by :meth:`BulkInvoices.prepare`: ``source`` as handed over; ``batch`` in the storage
    layout with party numbers (one row per key, the last given), ``keys`` its key hashes, ``new`` its first-seen
    parties; ``seq`` its place in the plan (1, 2, ...). ``batch`` is None when it could not be prepared: the
    writer then stores ``source`` the ordinary way."""

    plan: BulkInvoices
    seq: int
    source: pa.Table
    batch: pa.Table | None
    keys: U64 | None
    new: pa.Table | None


class BulkInvoices:
    """The party numbers of one bulk load's batches, handed out ahead of their transactions (see the module
    docstring). :meth:`prepare` runs on one thread, in batch order; the store's writer calls :meth:`valid` and
    :meth:`committed` inside the transactions, in the same order."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store
        self.parties: PartyNumbers | None = None
        self.prepared = 0
        self.done = 0                     # seq of the last batch committed from this plan
        self.state: tuple[int, str] | None = None   # (database opening, data version) the next batch must find
        self.broken = False
        self.lock = threading.Lock()

    def prepare(self, source: pa.Table) -> PreparedInvoices:
        """Storage layout, key and pair hashes, one row per key, party numbers: everything but the transaction."""
        from graph.embedded import _invoice_batch, _last_per_key, _repeats

        self.prepared += 1
        seq = self.prepared
        if self.broken or source.num_rows == 0:
            return PreparedInvoices(self, seq, source, None, None, None)
        batch = _invoice_batch(source)
        with self.store._db.read() as cur:
            codes = batch_codes(cur, batch)
            if _repeats(codes["k"]):   # maybe a key given twice: keep its last row
                deduped = _last_per_key(batch)
                if deduped.num_rows != batch.num_rows:
                    batch, codes = deduped, batch_codes(cur, deduped)
            if self.parties is None:
                self.parties, state = self._start(cur)
                with self.lock:
                    self.state = state
        numbered, new = number_parties(self.parties, batch, codes)
        if self.parties.by_pair is not None:    # two pairs share a hash: the exact comparison needs the transaction
            self.broken = True
            return PreparedInvoices(self, seq, source, None, None, None)
        return PreparedInvoices(self, seq, source, numbered, codes["k"], new)

    def _start(self, cur: duckdb.DuckDBPyConnection) -> tuple[PartyNumbers, tuple[int, str]]:
        """The committed parties, with the database opening and data version they belong to."""
        generation = self.store._db.generation      # stable while the cursor is out: the database stays open

        def version() -> str:
            rows = cur.execute(q.GET_META, ["data_version"]).fetchall()
            return str(rows[0][0]) if rows else ""

        before = version()
        parties = PartyNumbers(cur.sql(q.PARTIES_ALL).to_arrow_table(),
                               lambda: cur.sql(q.PARTY_PAIRS).to_arrow_table())
        after = version()
        if after != before:            # a commit came between the reads: never valid, stored the ordinary way
            self.broken = True
        return parties, (generation, before)

    def valid(self, prepared: PreparedInvoices, generation: int, version: str, *, in_transaction: int = 0) -> bool:
        """Inside ``prepared``'s transaction, before it writes: whether its party numbers hold. They do when the batch
        before it was written from this plan, either earlier in the same transaction (``in_transaction``: that
        batch's seq, 0 for none) or by the last commit, with nothing changing the workspace since (``generation``,
        ``version``: the database opening and data version found now). Once they do not, no later batch's do."""
        with self.lock:
            if in_transaction:
                ok = in_transaction == prepared.seq - 1
            else:
                ok = self.done == prepared.seq - 1 and self.state == (generation, version)
            ok = ok and prepared.batch is not None and not self.broken
            if not ok:
                self.broken = True
            return ok

    def committed(self, prepared: PreparedInvoices, generation: int, version: str) -> None:
        """``prepared``'s transaction committed, leaving this data version."""
        with self.lock:
            self.done = prepared.seq
            self.state = (generation, version)

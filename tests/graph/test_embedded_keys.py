"""The embedded store's in-memory key hashes (graph/embedded_keys.py): the stored-key check and the writer's re-load
probe skip their SQL only when no key's hash is stored, and stay exact across this store's commits, another store
object's write, a rollback, clear() and a key inserted twice within one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from graph import embedded_keys, embedded_sql
from graph.core import schema
from graph.embedded import EmbeddedStore
from graph.embedded_keys import KeyHashes


def _invoices(first: int, n: int, amount: int = 100_000) -> pa.Table:
    from zoneinfo import ZoneInfo

    base = datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo(schema.TZ))
    rows = [{"key": schema.invoice_key("3100251130", f"{i:08d}"), "number": f"{i:08d}", "code": "3100251130",
             "issued_at": base + timedelta(days=i % 300), "seller_tax_id": "91310000AAAAAAAAAA", "seller_name": "甲",
             "buyer_tax_id": "91310000BBBBBBBBBB", "buyer_name": "乙", "amount_fen": amount, "tax_fen": 13_000,
             "total_fen": amount + 13_000, "rate": 0.13, "kind": "special", "status": "normal", "red_ref": None,
             "item_code": None, "item_name": "钢材"} for i in range(first, first + n)]
    return pa.Table.from_pylist(rows, schema=schema.INVOICES)


def _keys(first: int, n: int) -> list[str]:
    return [schema.invoice_key("3100251130", f"{i:08d}") for i in range(first, first + n)]


def _write(store: EmbeddedStore, table: pa.Table) -> None:
    with store.writer() as w:
        w.invoices(table)


@pytest.fixture()
def probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The exact SQL stored-key checks run (EXISTING_KEYS)."""
    ran: list[str] = []
    real_execute = EmbeddedStore._arrow

    def arrow(self: EmbeddedStore, con: Any, sql: str, *a: Any, **k: Any) -> pa.Table:
        if sql == embedded_sql.EXISTING_KEYS:
            ran.append("existing")
        return real_execute(self, con, sql, *a, **k)

    monkeypatch.setattr(EmbeddedStore, "_arrow", arrow)
    return ran


def test_key_hashes_set(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = KeyHashes(np.array([5, 1, 9], np.uint64))
    assert kept.any_of(np.array([9], np.uint64)) and not kept.any_of(np.array([2, 10, 0], np.uint64))
    assert not kept.any_of(np.zeros(0, np.uint64))
    more = kept.adding(np.array([2], np.uint64))
    assert more is not None and more.any_of(np.array([3, 2], np.uint64)) and len(more) == 4
    assert not kept.any_of(np.array([2], np.uint64)) and len(kept) == 3     # the old set is unchanged
    merged = more.adding(np.arange(20_100, 100, -1, dtype=np.uint64))      # past the merge size: one sorted array
    assert merged is not None and merged.recent.size == 0 and len(merged) == 20_004
    assert bool((np.diff(merged.main.astype(np.int64)) >= 0).all())
    assert merged.any_of(np.array([20_100], np.uint64)) and not merged.any_of(np.array([20_101], np.uint64))
    monkeypatch.setattr(embedded_keys, "MAX_KEPT", 20_004)
    assert merged.adding(np.array([7], np.uint64)) is None                # beyond the cap: not kept


def test_fresh_keys_need_no_sql_and_stored_ones_are_found(tmp_path: Path, probes: list[str]) -> None:
    store = EmbeddedStore(tmp_path / "ws")
    try:
        _write(store, _invoices(0, 50))
        assert store.existing_invoice_keys(_keys(100, 20)) == set()
        assert probes == []                                   # no hash matched: no scan
        assert store.existing_invoice_keys(_keys(40, 20)) == set(_keys(40, 10))
        assert probes == ["existing"]
        _write(store, _invoices(100, 20))                     # kept current across this store's commits
        assert store._key_hashes is not None and store._key_hashes[0] == store.change_stamp()
        assert store.existing_invoice_keys(_keys(95, 10)) == set(_keys(100, 5))
        assert store.counts().invoices == 70
    finally:
        store.close()


def test_another_store_object_rollback_and_clear(tmp_path: Path) -> None:
    a, b = EmbeddedStore(tmp_path / "ws"), EmbeddedStore(tmp_path / "ws")
    try:
        _write(a, _invoices(0, 10))
        assert a.existing_invoice_keys(_keys(10, 5)) == set()
        _write(b, _invoices(10, 5))                           # another store object of the same workspace
        assert a.existing_invoice_keys(_keys(10, 5)) == set(_keys(10, 5))
        with pytest.raises(RuntimeError), a.writer() as w:    # a rollback leaves what was stored
            w.invoices(_invoices(20, 5))
            w._flush()                                         # type: ignore[attr-defined]
            raise RuntimeError("stop")
        assert a.existing_invoice_keys(_keys(20, 5)) == set()
        assert a.existing_invoice_keys(_keys(0, 3)) == set(_keys(0, 3))
        a.clear()
        assert a.existing_invoice_keys(_keys(0, 15)) == set()
        _write(a, _invoices(0, 3))
        assert a.existing_invoice_keys(_keys(0, 15)) == set(_keys(0, 3))
    finally:
        a.close()
        b.close()


def test_a_key_inserted_twice_in_one_transaction_is_replaced_not_doubled(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "ws")
    try:
        _write(store, _invoices(0, 5))
        assert store.existing_invoice_keys(_keys(5, 5)) == set()
        with store.writer() as w:
            w.invoices(_invoices(5, 5))
            w._flush()                                         # type: ignore[attr-defined]
            w.invoices(_invoices(5, 5, amount=200_000))        # the same keys again, changed, in a later flush
        with store.writer() as w:
            w.invoices(_invoices(0, 2))                        # stored ones, unchanged
        assert store.counts().invoices == 10
        got = {r["key"]: r["amount_fen"] for r in store.invoices(_keys(0, 10)).to_pylist()}
        assert got == {**dict.fromkeys(_keys(0, 5), 100_000), **dict.fromkeys(_keys(5, 5), 200_000)}
    finally:
        store.close()

"""A bulk load's batches made ready ahead of their transactions (graph.embedded_bulk): stored in order with exact
party numbers; whenever the numbers handed out ahead may be wrong (a rollback, another write in between), the batch
is stored the ordinary way, and a failed transaction leaves nothing of its batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph import embedded
from graph.embedded import EmbeddedStore
from tests.graph.test_embedded_party_cache import A, B, C, D, _check, _invoices, _pair, _write

E, F = ("91310000EEEEEEEEEE", "戊"), ("91310000FFFFFFFFFF", "己")


def _expect(table: Any, expected: dict[str, tuple[str, str, str, str]]) -> None:
    for r in table.to_pylist():
        expected[r["key"]] = (r["seller_tax_id"], r["seller_name"], r["buyer_tax_id"], r["buyer_name"])


def _ordinary_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the batches the writer numbers inside their transaction (the ordinary way)."""
    seen: list[int] = []
    real = embedded._EmbeddedWriter._number_parties

    def counting(self: Any, batch: Any, codes: Any) -> Any:
        seen.append(batch.num_rows)
        return real(self, batch, codes)

    monkeypatch.setattr(embedded._EmbeddedWriter, "_number_parties", counting)
    return seen


def test_batches_prepared_ahead_are_stored_with_their_parties(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ordinary = _ordinary_writes(monkeypatch)
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B)]), expected)     # parties stored before the bulk load
        plan = store.bulk_invoices()
        tables = [_invoices(10, [_pair(A, B), _pair(B, C)]), _invoices(20, [_pair(C, D), _pair(E, A)]),
                  _invoices(30, [_pair(E, F), _pair(D, B)])]
        ready = [plan.prepare(t) for t in tables]   # all handed out before the first transaction
        for r, t in zip(ready, tables, strict=True):
            store.write_prepared(r)
            _expect(t, expected)
        assert len(ordinary) == 1        # only the write before the plan numbered its parties in its transaction
        _check(store, expected)
        _write(store, _invoices(40, [_pair(F, A)]), expected)   # an ordinary write after the plan
        _check(store, expected)


def test_a_write_between_prepared_batches_makes_the_rest_be_stored_the_ordinary_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ordinary = _ordinary_writes(monkeypatch)
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        plan = store.bulk_invoices()
        first, second, third = (_invoices(10, [_pair(A, B)]), _invoices(20, [_pair(C, D), _pair(E, A)]),
                                _invoices(30, [_pair(F, E), _pair(D, C)]))
        ready = [plan.prepare(t) for t in (first, second, third)]
        store.write_prepared(ready[0])
        _expect(first, expected)
        _write(store, _invoices(50, [_pair(F, B), _pair(C, E)]), expected)   # numbers parties the plan also numbered
        for r, t in zip(ready[1:], (second, third), strict=True):
            store.write_prepared(r)
            _expect(t, expected)
        assert len(ordinary) == 3        # the write between, and both batches after it
        _check(store, expected)          # one number per (tax id, name), every invoice with its own parties


def test_a_failed_prepared_transaction_leaves_nothing_of_its_batch(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        plan = store.bulk_invoices()
        tables = [_invoices(10, [_pair(A, B)]), _invoices(20, [_pair(C, D), _pair(E, A)]),
                  _invoices(30, [_pair(E, F), _pair(D, B)])]
        ready = [plan.prepare(t) for t in tables]
        store.write_prepared(ready[0])
        _expect(tables[0], expected)
        real = embedded._EmbeddedWriter._with_batch

        def insert_fails(self: Any, table: Any, *statements: tuple[str, str]) -> None:
            real(self, table, *statements)
            if statements[0][0] == "insert_invoices":   # after the rows went in: the rollback must take them out
                raise OSError("disk full (test)")

        monkeypatch.setattr(embedded._EmbeddedWriter, "_with_batch", insert_fails)
        with pytest.raises(OSError, match="disk full"):
            store.write_prepared(ready[1])
        monkeypatch.setattr(embedded._EmbeddedWriter, "_with_batch", real)
        assert store.counts().invoices == 1
        with store._con("test") as con:         # no party of the failed batch (C, D, E were new in it)
            assert con.execute("SELECT count(*) FROM parties").fetchone() == (2,)
        store.write_prepared(ready[2])          # numbered ahead after the failed one: stored the ordinary way
        _expect(tables[2], expected)
        _check(store, expected)
        assert store.counts().invoices == 3

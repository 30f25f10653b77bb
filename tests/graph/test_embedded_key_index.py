"""The embedded workspace's invoice key index: built by the first point lookup, dropped by bulk flushes, kept up
by small batches; point lookups answer the same with or without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import embedded, embedded_sql
from graph.embedded import EmbeddedStore
from tests.graph.test_contract import as_invoice, inv, invoice_table, load


def _has_index(store: EmbeddedStore) -> bool:
    with store._db.use() as con:
        row = con.execute(embedded_sql.HAS_KEY_INDEX).fetchall()
    return bool(row[0][0])


def _plan(store: EmbeddedStore, key: str) -> str:
    with store._db.use() as con:
        rows = con.execute("EXPLAIN ANALYZE " + embedded_sql.INVOICE_BY_HASH, [key]).fetchall()
    return "\n".join(str(r[1]) for r in rows)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "ws")
    try:
        yield store
    finally:
        store.close()


ROWS = [inv(n, 1 + n % 3, 2 + (n + 1) % 6, n / 10, 1_000_00 + n) for n in range(1, 40)]
PAPER = inv(90, 1, 2, 3, 12_300, code="3100231130")
ODD_KEY = {**inv(91, 3, 4, 5, 45_600), "key": "custom-key-91"}     # a key that is not the derived one


def test_first_lookup_builds_the_index_and_answers_like_the_bulk_read(ws: EmbeddedStore) -> None:
    load(ws, [*ROWS, PAPER, ODD_KEY])
    assert not _has_index(ws)                     # a load never builds it
    for row in (ROWS[0], ROWS[-1], PAPER, ODD_KEY):
        assert ws.invoice(row["key"]) == as_invoice(row)
    assert _has_index(ws)
    assert "Index Scan" in _plan(ws, ROWS[5]["key"])
    assert ws.invoice("00000000000000000999") is None
    assert ws.invoice(PAPER["number"]) is None    # a paper invoice's key includes its code
    assert ws.invoice(ODD_KEY["number"]) is None  # stored under its own key only


def test_small_batches_keep_the_index_and_re_sent_changes_are_seen(ws: EmbeddedStore) -> None:
    load(ws, ROWS)
    assert ws.invoice(ROWS[0]["key"]) is not None
    changed = {**ROWS[3], "status": "void"}
    extra = inv(200, 5, 6, 9, 77_700)
    load(ws, [changed, extra])
    assert _has_index(ws)
    assert ws.invoice(changed["key"]) == as_invoice(changed)
    assert ws.invoice(extra["key"]) == as_invoice(extra)
    assert ws.counts().invoices == len(ROWS) + 1


def test_a_bulk_flush_drops_the_index_and_the_next_lookup_rebuilds_it(ws: EmbeddedStore,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "_INDEX_DROP_ROWS", 10)
    load(ws, ROWS[:20])
    assert ws.invoice(ROWS[0]["key"]) is not None and _has_index(ws)
    with ws.writer() as w:
        w.invoices(invoice_table(ROWS[20:]))
    assert not _has_index(ws)
    assert ws.invoice(ROWS[-1]["key"]) == as_invoice(ROWS[-1])
    assert _has_index(ws)


def test_another_process_dropping_the_index_is_noticed_on_reopen(ws: EmbeddedStore) -> None:
    load(ws, ROWS)
    assert ws.invoice(ROWS[0]["key"]) is not None
    ws._db._release()         # as when another process takes its turn at the workspace ...
    with ws._db.use() as con:
        con.execute(embedded_sql.DROP_KEY_INDEX)       # ... and its bulk load drops the index
    ws._db._release()
    assert ws.invoice(ROWS[1]["key"]) == as_invoice(ROWS[1])
    assert _has_index(ws)


def test_a_cleared_workspace_answers_none(ws: EmbeddedStore) -> None:
    load(ws, ROWS)
    assert ws.invoice(ROWS[2]["key"]) is not None
    ws.clear()
    assert ws.invoice(ROWS[2]["key"]) is None

"""Embedded workspace folder: creation, schema version guard, wrong paths."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from graph import embedded_sql, open_store, schema
from graph.embedded import DB_FILE, EmbeddedStore
from graph.errors import ConfigError, StoreError


def test_workspace_folder_is_created_with_schema_version(tmp_path: Path) -> None:
    ws = tmp_path / "nested" / "ws"
    with open_store(f"embedded:{ws}") as store:
        assert isinstance(store, EmbeddedStore) and store.uri == f"embedded:{ws}"
        assert store.counts().invoices == 0
    assert (ws / DB_FILE).is_file()
    con = duckdb.connect(str(ws / DB_FILE))
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            (str(embedded_sql.SCHEMA_VERSION),)]
    finally:
        con.close()


def test_newer_workspace_is_refused_not_damaged(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    EmbeddedStore(ws).close()
    newer = str(embedded_sql.SCHEMA_VERSION + 1)
    con = duckdb.connect(str(ws / DB_FILE))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [newer])
    con.close()
    with pytest.raises(StoreError, match="newer than this program"):
        EmbeddedStore(ws)
    con = duckdb.connect(str(ws / DB_FILE))
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [(newer,)]
    finally:
        con.close()


def test_a_file_is_not_a_workspace(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "data.csv"
    not_a_folder.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file"):
        EmbeddedStore(not_a_folder)


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "ws")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.counts()


def test_version_1_workspace_is_migrated_then_reloads_and_updates(tmp_path: Path) -> None:
    """A workspace from schema version 1 (no row_hash column) gets the column filled on open."""
    ws = tmp_path / "ws"
    invoices = pa.table({"key": ["A-1", "A-2"], "number": ["1", "2"], "code": ["A", "A"],
                         "issued_at": pa.array([1_700_000_000, 1_700_000_100]).cast(schema.TIMESTAMP),
                         "seller_tax_id": ["S", "S"], "seller_name": ["卖方", "卖方"],
                         "buyer_tax_id": ["B", "B"], "buyer_name": ["买方", "买方"],
                         "amount_fen": [100, 200], "tax_fen": [13, 26], "total_fen": [113, 226], "rate": [0.13, 0.13],
                         "kind": ["special", "special"], "status": ["normal", "normal"]})
    with EmbeddedStore(ws) as store, store.writer() as w:
        w.invoices(invoices)
    con = duckdb.connect(str(ws / DB_FILE))    # turn it back into a version-1 workspace
    try:
        con.execute("DROP INDEX invoices_key")
        con.execute("ALTER TABLE invoices DROP COLUMN row_hash")
        con.execute("CREATE INDEX invoices_key ON invoices (key)")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    finally:
        con.close()
    with EmbeddedStore(ws) as store:
        before = store.invoices(["A-1", "A-2"])
        with store.writer() as w:
            w.invoices(invoices)
        changed = invoices.set_column(8, "amount_fen", pa.array([100, 201]))
        with store.writer() as w:
            w.invoices(changed)
        assert store.counts().invoices == 2
        a1, a2 = store.invoice("A-1"), store.invoice("A-2")
        assert a1 is not None and a1.amount_fen == before.column("amount_fen")[0].as_py()
        assert a2 is not None and a2.amount_fen == 201
    con = duckdb.connect(str(ws / DB_FILE))
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            (str(embedded_sql.SCHEMA_VERSION),)]
        assert con.execute("SELECT count(*) FROM invoices WHERE row_hash IS NULL").fetchall() == [(0,)]
    finally:
        con.close()

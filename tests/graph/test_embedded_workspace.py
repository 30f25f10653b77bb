"""Embedded workspace folder: creation, schema version guard, wrong paths."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from graph import embedded_sql, open_store
from graph.core.errors import ConfigError, StoreError
from graph.embedded import DB_FILE, EmbeddedStore


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

"""Older embedded workspaces (schema versions 1 and 2, built here with their own DDL) open migrated and intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from graph import embedded_sql
from graph.embedded import DB_FILE, EmbeddedStore
from tests.graph.test_contract import GRAPH, inv, invoice_table, reference_edges, rows_of, tid

# The invoices table as versions 1 and 2 wrote it (version 2 added row_hash); key index on the key text.
_V1_INVOICES = """CREATE TABLE invoices (
    key VARCHAR NOT NULL, number VARCHAR, code VARCHAR, issued_at BIGINT, seller_tax_id VARCHAR,
    seller_name VARCHAR, buyer_tax_id VARCHAR, buyer_name VARCHAR, amount_fen BIGINT, tax_fen BIGINT,
    total_fen BIGINT, rate DOUBLE, kind VARCHAR, status VARCHAR, red_ref VARCHAR, item_code VARCHAR,
    item_name VARCHAR)"""
_V2_ROW_HASH = """hash(key, number, code, issued_at, seller_tax_id, seller_name, buyer_tax_id, buyer_name,
    amount_fen, tax_fen, total_fen, rate, kind, status, red_ref, item_code, item_name)"""


def _rows() -> list[dict[str, Any]]:
    rows = [*GRAPH, inv(70, 2, 3, 8, 4_00, code="3100231130")]    # one code-number key
    renamed = inv(71, 1, 5, 9, 9_00)
    renamed["seller_name"] = "上海甲贸易集团有限公司"             # one taxpayer under two names
    odd = inv(72, 5, 1, 10, 3_00)
    odd["key"] = "KEY-AS-GIVEN-72"                                  # a key that is not code-number
    return [*rows, renamed, odd]


def _old_workspace(ws: Path, version: int, rows: list[dict[str, Any]]) -> None:
    ws.mkdir(parents=True)
    con = duckdb.connect(str(ws / DB_FILE))
    try:
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('data_version', '3')", [str(version)])
        con.execute("""CREATE TABLE taxpayers (tax_id VARCHAR PRIMARY KEY, name VARCHAR, registered_on DATE,
                       industry VARCHAR, region VARCHAR, invoice_limit_fen BIGINT, status VARCHAR)""")
        con.execute(_V1_INVOICES)
        batch = invoice_table(rows)
        batch = batch.set_column(3, "issued_at", batch.column("issued_at").cast(pa.int64()))
        con.register("_batch", batch)
        con.execute("INSERT INTO invoices SELECT * FROM _batch")
        con.execute("""INSERT INTO taxpayers (tax_id, name) SELECT DISTINCT ON (tax_id) tax_id, name FROM (
                       SELECT seller_tax_id AS tax_id, seller_name AS name FROM _batch
                       UNION ALL SELECT buyer_tax_id, buyer_name FROM _batch) ORDER BY tax_id, name""")
        if version >= 2:
            con.execute("ALTER TABLE invoices ADD COLUMN row_hash UBIGINT")
            con.execute(f"UPDATE invoices SET row_hash = {_V2_ROW_HASH}")  # noqa: S608 (a constant)
        con.execute("CREATE INDEX invoices_key ON invoices (key)")
    finally:
        con.close()


@pytest.mark.parametrize("version", [1, 2])
def test_old_workspace_is_migrated_reads_the_same_and_reloads(tmp_path: Path, version: int) -> None:
    ws = tmp_path / "ws"
    rows = _rows()
    _old_workspace(ws, version, rows)
    by_time = sorted(rows, key=lambda r: (r["issued_at"], r["key"]))
    with EmbeddedStore(ws) as store:
        assert store.counts().invoices == len(rows)
        assert rows_of(store.invoice_stream()) == by_time
        assert rows_of(store.invoices([r["key"] for r in rows])) == by_time
        assert rows_of(store.edge_table()) == reference_edges(rows)
        odd = store.invoice("KEY-AS-GIVEN-72")
        assert odd is not None and odd.total_fen == 3_00
        mine = [r for r in rows if tid(1) in (r["seller_tax_id"], r["buyer_tax_id"])]
        assert rows_of(store.invoices_of(tid(1))) == sorted(mine, key=lambda r: (r["issued_at"], r["key"]),
                                                             reverse=True)
        assert tid(5) in store.ego_network(tid(1)).hops
        with store.writer() as w:        # identical re-load: every row recognised by its migrated hash
            w.invoices(invoice_table(rows))
        assert rows_of(store.invoice_stream()) == by_time
        changed = [dict(rows[0], total_fen=1_111_00, amount_fen=983_19, tax_fen=127_81)]
        with store.writer() as w:
            w.invoices(invoice_table(changed))
        assert store.counts().invoices == len(rows)
        got = store.invoice(rows[0]["key"])
        assert got is not None and got.total_fen == 1_111_00
    con = duckdb.connect(str(ws / DB_FILE))
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            (str(embedded_sql.SCHEMA_VERSION),)]
        assert con.execute("SELECT count(*) FROM invoices WHERE row_hash IS NULL").fetchall() == [(0,)]
    finally:
        con.close()


def test_workspace_written_by_a_duckdb_with_another_hash_is_rehashed(tmp_path: Path) -> None:
    """Stored key/row hashes depend on DuckDB's hash(); a recorded probe that differs triggers a rebuild."""
    ws = tmp_path / "ws"
    rows = _rows()
    with EmbeddedStore(ws) as store, store.writer() as w:
        w.invoices(invoice_table(rows))
    con = duckdb.connect(str(ws / DB_FILE))
    try:     # pretend another DuckDB wrote it: every stored hash and the probe are off
        con.execute("UPDATE invoices SET key_hash = key_hash + 1, row_hash = row_hash + 1")
        con.execute("UPDATE meta SET value = 'other' WHERE key = 'hash_probe'")
    finally:
        con.close()
    with EmbeddedStore(ws) as store:
        assert store.invoice(rows[0]["key"]) is not None
        with store.writer() as w:
            w.invoices(invoice_table(rows))
        assert store.counts().invoices == len(rows)
        assert rows_of(store.invoices([rows[0]["key"]])) == [rows[0]]

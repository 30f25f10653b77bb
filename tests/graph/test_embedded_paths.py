"""Embedded-only storage details the contract cannot see: party numbers, stored-or-derived keys, adjacency refresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from graph.embedded import DB_FILE, EmbeddedStore
from tests.graph.test_contract import (
    GRAPH,
    NAMES,
    T0,
    inv,
    invoice_table,
    load,
    reference_edges,
    rows_of,
    tid,
)

RENAMED = "上海甲贸易集团有限公司"     # taxpayer 1 after a change of name: old invoices keep the old name


def _renamed_rows() -> list[dict[str, Any]]:
    late = [inv(960, 1, 2, 9, 1_234_00), inv(961, 5, 1, 10, 77_00)]
    late[0]["seller_name"] = RENAMED
    late[1]["buyer_name"] = RENAMED
    odd = inv(962, 2, 1, 11, 5_00)
    odd["key"] = "手工编号-962"           # a key that is not the derived code-number: stored as given
    return [*GRAPH, *late, odd]


def test_invoices_keep_the_names_they_carried_and_merge_per_tax_id(tmp_path: Path) -> None:
    rows = _renamed_rows()
    with EmbeddedStore(tmp_path / "ws") as store:
        load(store, rows)
        t1 = tid(1)
        mine = [r for r in rows if t1 in (r["seller_tax_id"], r["buyer_tax_id"])]
        newest_first = sorted(mine, key=lambda r: (r["issued_at"], r["key"]), reverse=True)
        assert rows_of(store.invoices_of(t1)) == newest_first
        assert rows_of(store.invoices_of(t1, limit=2)) == newest_first[:2]
        window = {"start": T0 + timedelta(days=2), "end": T0 + timedelta(days=10)}
        with_2 = [r for r in mine if tid(2) in (r["seller_tax_id"], r["buyer_tax_id"])]
        assert rows_of(store.invoices_between(t1, tid(2))) == sorted(with_2, key=lambda r: (r["issued_at"], r["key"]))
        assert rows_of(store.invoices_between(tid(2), t1, **window)) == sorted(
            (r for r in with_2 if window["start"] <= r["issued_at"] < window["end"]),
            key=lambda r: (r["issued_at"], r["key"]))
        assert rows_of(store.invoice_stream()) == sorted(rows, key=lambda r: (r["issued_at"], r["key"]))
        assert rows_of(store.edge_table()) == reference_edges(rows)
        ego = store.ego_network(t1, hops=1)
        assert sorted(ego.hops) == sorted({t1, tid(2), tid(3), tid(4), tid(5)})
        taxpayer = store.taxpayer(t1)
        assert taxpayer is not None and taxpayer.name == NAMES[1]    # created from the first batch's latest name
        odd = store.invoice("手工编号-962")
        assert odd is not None and odd.number == f"{962:020d}" and odd.key == "手工编号-962"
        assert store.existing_invoice_keys(["手工编号-962", f"{962:020d}", "nope"]) == {"手工编号-962"}
        assert rows_of(store.invoices(["手工编号-962"])) == [rows[-1]]
        changed = dict(rows[-1], total_fen=6_00, amount_fen=5_31, tax_fen=69)
        with store.writer() as w:
            w.invoices(invoice_table([changed]))
        assert rows_of(store.invoices(["手工编号-962"])) == [changed]
        assert store.counts().invoices == len(rows)
    con = duckdb.connect(str(tmp_path / "ws" / DB_FILE))
    try:    # the layout this module exists to check: one party per (tax id, name), keys stored only when odd
        assert con.execute("SELECT count(*) FROM parties WHERE tax_id = ?", [t1]).fetchall() == [(2,)]
        assert con.execute("SELECT count(*) FROM invoices WHERE key_alt IS NOT NULL").fetchall() == [(1,)]
    finally:
        con.close()


def test_reads_see_writes_made_after_the_adjacency_was_built(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "ws") as store:
        load(store, GRAPH[:2])
        assert store.invoices_of(tid(1)).num_rows == 2
        assert store.ego_network(tid(1)).hops.keys() == {tid(1), tid(2), tid(3)}
        load(store, [inv(950, 1, 7, 1, 100)])
        assert store.invoices_of(tid(1)).num_rows == 3
        assert tid(7) in store.ego_network(tid(1)).hops
        store.clear()
        assert store.invoices_of(tid(1)).num_rows == 0
        assert store.ego_network(tid(1)).nodes == []

"""The store contract (graph/store.py), run against every backend through the `store` fixture.

Each test builds a small hand-made graph; expected values are computed from those inputs (a plain-Python
reference for the graph reads), never copied from a backend's output.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from graph.core import schema, vocab
from graph.core.errors import StoreError
from graph.core.model import AuditEvent, Invoice, Ring, Run
from graph.store import Store

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=TZ)


def tid(n: int) -> str:
    return f"91310000MA1K{n:05d}X"


NAMES = {1: "上海甲贸易有限公司", 2: "乙科技有限公司", 3: "丙商贸有限公司", 4: "丁实业有限公司",
         5: "戊物流有限公司", 6: "己咨询服务部", 7: "庚建材有限公司", 8: "辛空壳有限公司"}


def taxpayer_rows() -> list[dict[str, Any]]:
    return [
        {"tax_id": tid(1), "name": NAMES[1], "registered_on": date(2019, 5, 20), "industry": "批发业",
         "region": "310101", "invoice_limit_fen": 10_000_000, "status": "normal",
         "legal_rep": "张三", "phone": "13800000001", "address": "上海市黄浦区中山路1号", "bank_account": None},
        {"tax_id": tid(2), "name": NAMES[2], "registered_on": None, "industry": None, "region": None,
         "invoice_limit_fen": None, "status": None,
         "legal_rep": "张三", "phone": None, "address": None, "bank_account": "6222020000000002"},
        {"tax_id": tid(8), "name": NAMES[8], "registered_on": date(2024, 1, 2), "industry": "商务服务业",
         "region": "310115", "invoice_limit_fen": 100_000_000, "status": "abnormal",
         "legal_rep": None, "phone": None, "address": None, "bank_account": None},
    ]


TAXPAYER_COLUMNS = [*schema.TAXPAYERS.names, *vocab.IDENTIFIER_KINDS]


def taxpayer_table(rows: list[dict[str, Any]]) -> pa.Table:
    fields = [*schema.TAXPAYERS, *(pa.field(k, pa.string()) for k in vocab.IDENTIFIER_KINDS)]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def inv(n: int, seller: int, buyer: int, days: float, total: int, *, code: str = "", status: str = "normal",
        red_ref: str | None = None, item: str | None = "钢材", rate: float = 0.13) -> dict[str, Any]:
    """One invoice row; amount/tax derived from total and rate (integer fen)."""
    number = f"{n:020d}" if not code else f"{n:08d}"
    amount = round(total / (1 + rate))
    return {
        "key": schema.invoice_key(code, number), "number": number, "code": code,
        "issued_at": T0 + timedelta(days=days), "seller_tax_id": tid(seller), "seller_name": NAMES[seller],
        "buyer_tax_id": tid(buyer), "buyer_name": NAMES[buyer], "amount_fen": amount, "tax_fen": total - amount,
        "total_fen": total, "rate": rate, "kind": "digital_special" if not code else "special", "status": status,
        "red_ref": red_ref, "item_code": "1080" if item else None, "item_name": item,
    }


def invoice_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema.INVOICES)


# A small network around taxpayer 1 (the centre): three neighbours, two second-hop nodes, one isolated.
GRAPH = [
    inv(1, 1, 2, 1, 1_000_00),      # 1 → 2
    inv(2, 3, 1, 2, 5_000_00),      # 3 → 1
    inv(3, 1, 4, 20, 300_00),       # 1 → 4 (late, small)
    inv(4, 2, 5, 3, 200_00),        # 2 → 5
    inv(5, 6, 3, 4, 100_00),        # 6 → 3
    inv(6, 3, 1, 5, 2_500_00),      # 3 → 1 again
    inv(7, 1, 3, 6, 700_00),        # 1 → 3 (back)
    inv(8, 7, 8, 7, 900_00),        # 7 → 8, not connected to 1
]


def load(store: Store, invoices: list[dict[str, Any]], taxpayers: list[dict[str, Any]] | None = None) -> None:
    with store.writer() as w:
        if taxpayers:
            w.taxpayers(taxpayer_table(taxpayers))
        w.invoices(invoice_table(invoices))


def as_invoice(row: dict[str, Any]) -> Invoice:
    return Invoice(**row)


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


# --- reference implementations (plain Python over the input rows) --------------------------------------
def qualifying(rows: list[dict[str, Any]], start: datetime | None, end: datetime | None,
               min_total: int = 0) -> list[dict[str, Any]]:
    return [r for r in rows if (start is None or r["issued_at"] >= start) and (end is None or r["issued_at"] < end)
            and r["total_fen"] >= min_total]


def reference_layers(rows: list[dict[str, Any]], center: str, hops: int) -> list[dict[str, int]]:
    """BFS rings: for each hop, node -> volume with the previous ring."""
    seen = {center}
    frontier = {center}
    layers: list[dict[str, int]] = []
    for _ in range(hops):
        vol: dict[str, int] = defaultdict(int)
        for r in rows:
            s, b = r["seller_tax_id"], r["buyer_tax_id"]
            if s in frontier and b not in seen:
                vol[b] += r["total_fen"]
            if b in frontier and s not in seen:
                vol[s] += r["total_fen"]
        if not vol:
            break
        layers.append(dict(vol))
        seen |= set(vol)
        frontier = set(vol)
    return layers


def reference_edges(rows: list[dict[str, Any]], kept: set[str] | None = None) -> list[dict[str, Any]]:
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        s, b = r["seller_tax_id"], r["buyer_tax_id"]
        if kept is not None and not (s in kept and b in kept):
            continue
        e = agg.setdefault((s, b), {"seller_tax_id": s, "buyer_tax_id": b, "count": 0, "total_fen": 0,
                                    "first_at": r["issued_at"], "last_at": r["issued_at"]})
        e["count"] += 1
        e["total_fen"] += r["total_fen"]
        e["first_at"] = min(e["first_at"], r["issued_at"])
        e["last_at"] = max(e["last_at"], r["issued_at"])
    return [agg[k] for k in sorted(agg)]


def sorted_edges(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(rows_of(table), key=lambda e: (e["seller_tax_id"], e["buyer_tax_id"]))


# --- tests ---------------------------------------------------------------------------------------------
def test_empty_store_counts_zero_and_clear_empties(store: Store) -> None:
    assert store.counts() == type(store.counts())(0, 0, 0, 0, 0)
    load(store, GRAPH, taxpayer_rows())
    assert store.counts().invoices == len(GRAPH)
    store.clear()
    c = store.counts()
    assert (c.taxpayers, c.invoices, c.identifiers, c.runs, c.rings) == (0, 0, 0, 0, 0)
    assert store.invoice(GRAPH[0]["key"]) is None


def test_loading_twice_gives_the_same_counts(store: Store) -> None:
    load(store, GRAPH, taxpayer_rows())
    first = store.counts()
    load(store, GRAPH, taxpayer_rows())
    assert store.counts() == first
    parties = {r["seller_tax_id"] for r in GRAPH} | {r["buyer_tax_id"] for r in GRAPH} | {t["tax_id"] for t in
                                                                                          taxpayer_rows()}
    assert first.taxpayers == len(parties)
    assert first.invoices == len(GRAPH)


def test_reload_replaces_changed_invoices_and_adds_new_ones(store: Store) -> None:
    load(store, GRAPH[:3])
    changed = dict(GRAPH[1], status="out_of_control", item_name="咨询服务")
    load(store, [GRAPH[0], changed, *GRAPH[2:]])
    assert store.counts().invoices == len(GRAPH)
    assert store.invoice(changed["key"]) == as_invoice(changed)
    assert store.invoice(GRAPH[0]["key"]) == as_invoice(GRAPH[0])
    assert rows_of(store.invoice_stream()) == sorted([GRAPH[0], changed, *GRAPH[2:]], key=lambda r: r["issued_at"])


def test_repeated_key_in_one_batch_is_stored_once(store: Store) -> None:
    changed = dict(GRAPH[0], status="void")
    load(store, [GRAPH[0], changed])
    assert store.counts().invoices == 1
    got = store.invoice(GRAPH[0]["key"])
    assert got is not None and got.status == "void"


def line(key: str, n: int, name: str, amount: int | None, *, rate: float | None = 0.13, qty: float | None = 2.0,
         price: str | None = "100.5") -> dict[str, Any]:
    return {"key": key, "line": n, "item_name": name, "item_code": "1080101" if amount else None, "spec": "Φ12",
            "unit": "吨", "quantity": qty, "unit_price": price, "amount_fen": amount, "rate": rate,
            "tax_fen": None if amount is None or rate is None else round(amount * rate)}


def lines_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema.ITEM_LINES)


def test_item_lines_round_trip_replace_and_only_for_stored_invoices(store: Store) -> None:
    load(store, GRAPH[:2])
    a, b = GRAPH[0]["key"], GRAPH[1]["key"]
    first = [line(a, 2, "螺纹钢", 20_100, qty=None, price=None), line(a, 1, "钢材＊线材", 884_955_75),
             line(b, 1, "咨询服务", None, rate=None), line("no-such-invoice", 1, "幽灵", 100)]
    with store.writer() as w:
        w.item_lines(lines_table(first))
    assert store.item_lines(a).to_pylist() == [first[1], first[0]]          # by line number
    assert store.item_lines(b).to_pylist() == [first[2]]
    assert store.item_lines("no-such-invoice").num_rows == 0               # no invoice, no line
    assert store.item_lines(a).schema == schema.ITEM_LINES
    again = [line(a, 1, "线材", 500), line(a, 1, "线材（改）", 600)]       # a re-load replaces a's lines; last wins
    with store.writer() as w:
        w.item_lines(lines_table(again))
        w.item_lines(lines_table(again))                                   # idempotent
    assert store.item_lines(a).to_pylist() == [again[1]]
    assert store.item_lines(b).to_pylist() == [first[2]]                   # other invoices' lines untouched
    store.clear()
    assert store.item_lines(b).num_rows == 0


def test_item_lines_written_with_their_invoices_in_one_writer(store: Store) -> None:
    rows = [line(GRAPH[3]["key"], 1, "钢材", 1_000)]
    with store.writer() as w:          # the invoice is still buffered when its lines come
        w.invoices(invoice_table([GRAPH[3]]))
        w.item_lines(lines_table(rows))
    assert store.item_lines(GRAPH[3]["key"]).to_pylist() == rows


def test_taxpayer_round_trip_with_chinese_names_nulls_and_identifiers(store: Store) -> None:
    rows = taxpayer_rows()
    load(store, [], rows)
    got = {r["tax_id"]: r for r in rows_of(store.taxpayers())}
    assert set(got) == {r["tax_id"] for r in rows}
    for r in rows:
        assert got[r["tax_id"]] == {k: r[k] for k in schema.TAXPAYERS.names}
        tp = store.taxpayer(r["tax_id"])
        assert tp is not None and tp.name == r["name"] and tp.registered_on == r["registered_on"]
        assert tp.invoice_limit_fen == r["invoice_limit_fen"]
        expected = sorted((k, r[k]) for k in vocab.IDENTIFIER_KINDS if r[k])
        assert sorted(tp.identifiers) == expected
    table = store.taxpayers([rows[0]["tax_id"], "nobody"])
    assert table.schema == schema.TAXPAYERS and table.column("tax_id").to_pylist() == [rows[0]["tax_id"]]
    idents = store.identifiers()
    assert idents.schema == schema.IDENTIFIERS
    assert sorted(map(tuple, (d.values() for d in rows_of(idents)))) == sorted(
        (r["tax_id"], k, r[k]) for r in rows for k in vocab.IDENTIFIER_KINDS if r[k])
    assert {d["tax_id"] for d in rows_of(store.identifiers([tid(2)]))} == {tid(2)}
    assert store.taxpayer("nobody") is None


def test_taxpayer_upsert_overwrites_only_non_null_values(store: Store) -> None:
    rows = taxpayer_rows()
    load(store, [], rows)
    update = {k: None for k in TAXPAYER_COLUMNS} | {"tax_id": tid(1), "name": "上海甲贸易（集团）有限公司"}
    load(store, [], [update])
    tp = store.taxpayer(tid(1))
    assert tp is not None
    assert tp.name == update["name"]
    assert (tp.industry, tp.region, tp.invoice_limit_fen) == (rows[0]["industry"], rows[0]["region"],
                                                              rows[0]["invoice_limit_fen"])


def test_identifiers_writer_upserts_links(store: Store) -> None:
    table = pa.Table.from_pylist([{"tax_id": tid(1), "kind": "phone", "value": "021-1"},
                                  {"tax_id": tid(1), "kind": "phone", "value": "021-1"},
                                  {"tax_id": tid(2), "kind": "phone", "value": "021-1"}], schema=schema.IDENTIFIERS)
    with store.writer() as w:
        w.taxpayers(taxpayer_table(taxpayer_rows()[:2]))
        w.identifiers(table)
    with store.writer() as w:
        w.identifiers(table)
    phones = [r for r in rows_of(store.identifiers()) if r["kind"] == "phone"]
    expected = {(r["tax_id"], r["phone"]) for r in taxpayer_rows()[:2] if r["phone"]} | {(tid(1), "021-1"),
                                                                                        (tid(2), "021-1")}
    assert sorted((r["tax_id"], r["value"]) for r in phones) == sorted(expected)


def test_invoice_round_trip_exact_types(store: Store) -> None:
    blue = inv(100, 1, 2, 0.5, 1_234_567_89, code="3100231130")
    red = inv(101, 1, 2, 3, -1_234_567_89, code="3100231130", status="red", red_ref=blue["key"], item=None)
    load(store, [red, blue, *GRAPH], taxpayer_rows())
    for row in (blue, red):
        got = store.invoice(row["key"])
        assert got == as_invoice(row)
        assert got is not None and got.issued_at.utcoffset() == timedelta(hours=8)
        assert isinstance(got.total_fen, int)
    table = store.invoices([red["key"], blue["key"], "missing"])
    assert table.schema == schema.INVOICES
    assert rows_of(table) == [blue, red]     # ordered by issued_at
    assert table.column("issued_at").type.tz == "Asia/Shanghai"
    got_red = store.invoice(red["key"])
    assert got_red is not None and got_red.red_ref == blue["key"] and got_red.amount_fen < 0
    assert store.invoices([]).num_rows == 0


def test_missing_taxpayers_are_created_from_invoice_names(store: Store) -> None:
    load(store, GRAPH)
    for r in GRAPH:
        for side in ("seller", "buyer"):
            tp = store.taxpayer(r[f"{side}_tax_id"])
            assert tp is not None and tp.name == r[f"{side}_name"]


def test_lookup_invoice_by_number_day_and_amount_or_total(store: Store) -> None:
    coded = inv(200, 1, 2, 0, 113_00, code="3100231130")
    load(store, [*GRAPH, coded])
    row = GRAPH[1]
    day = row["issued_at"].date()
    assert store.lookup_invoice(row["number"], day, row["total_fen"]) == as_invoice(row)
    assert store.lookup_invoice(row["number"], day, row["amount_fen"]) == as_invoice(row)
    assert store.lookup_invoice(row["number"], day, row["total_fen"] + 1) is None
    assert store.lookup_invoice(row["number"], day + timedelta(days=1), row["total_fen"]) is None
    cday = coded["issued_at"].date()
    assert store.lookup_invoice(coded["number"], cday, coded["total_fen"], code="3100231130") == as_invoice(coded)
    assert store.lookup_invoice(coded["number"], cday, coded["total_fen"], code="1100231130") is None


def test_existing_invoice_keys(store: Store) -> None:
    keys = [r["key"] for r in GRAPH]
    assert store.existing_invoice_keys(keys) == set()      # nothing stored yet (then stored: no stale answer below)
    load(store, GRAPH[:3])
    assert store.existing_invoice_keys(keys) == {r["key"] for r in GRAPH[:3]}
    assert store.existing_invoice_keys(pa.array(keys, pa.string())) == {r["key"] for r in GRAPH[:3]}
    assert store.existing_invoice_keys(pa.chunked_array([keys[:2], keys[2:]], pa.string())) == {r["key"] for r in GRAPH[:3]}
    assert store.existing_invoice_keys([]) == set()
    assert store.existing_invoice_keys(pa.array([], pa.string())) == set()


def test_search_chinese_fragment_id_prefix_exact_first(store: Store) -> None:
    load(store, GRAPH, taxpayer_rows())
    fragment = "有限公司"
    expected = sorted((n, tid(i)) for i, n in NAMES.items() if fragment in n)
    got = store.search(fragment, limit=50)
    assert [(t.name, t.tax_id) for t in got] == expected
    assert [t.tax_id for t in store.search("商贸")] == [tid(3)]
    prefix = tid(1)[:-3]
    assert {t.tax_id for t in store.search(prefix)} == {tid(i) for i in NAMES if tid(i).startswith(prefix)}
    exact = store.search(tid(1))
    assert exact[0].tax_id == tid(1)
    assert len(store.search(fragment, limit=2)) == 2
    assert store.search("不存在的名字") == []


@pytest.mark.parametrize("hops", [1, 2])
def test_ego_network_hops(store: Store, hops: int) -> None:
    load(store, GRAPH)
    center = tid(1)
    sub = store.ego_network(center, hops=hops)
    layers = reference_layers(GRAPH, center, hops)
    expected_hops = {center: 0} | {n: d for d, layer in enumerate(layers, 1) for n in layer}
    assert sub.hops == expected_hops
    assert sub.nodes[0].tax_id == center
    assert {t.tax_id for t in sub.nodes} == set(expected_hops)
    assert not sub.truncated and sub.dropped == 0
    assert sub.edges.schema == schema.EDGES
    assert sorted_edges(sub.edges) == reference_edges(GRAPH, set(expected_hops))


def test_ego_network_window_and_min_amount(store: Store) -> None:
    load(store, GRAPH)
    start, end = T0, T0 + timedelta(days=5)
    window_rows = qualifying(GRAPH, start, end)
    sub = store.ego_network(tid(1), hops=2, start=start, end=end)
    assert set(sub.hops) == {tid(1)} | {n for layer in reference_layers(window_rows, tid(1), 2) for n in layer}
    assert sorted_edges(sub.edges) == reference_edges(window_rows, set(sub.hops))
    big = qualifying(GRAPH, None, None, 1_000_00)
    sub = store.ego_network(tid(1), hops=2, min_amount_fen=1_000_00)
    assert set(sub.hops) == {tid(1)} | {n for layer in reference_layers(big, tid(1), 2) for n in layer}
    assert all(e >= 1_000_00 for e in sub.edges.column("total_fen").to_pylist())


def test_ego_network_limit_keeps_closest_then_biggest(store: Store) -> None:
    load(store, GRAPH)
    layers = reference_layers(GRAPH, tid(1), 2)
    reachable = 1 + sum(len(layer) for layer in layers)
    limit = len(layers[0])            # centre + all but one first-hop node
    sub = store.ego_network(tid(1), hops=2, limit=limit)
    by_volume = sorted(layers[0], key=lambda n: (-layers[0][n], n))[: limit - 1]
    assert [t.tax_id for t in sub.nodes] == [tid(1), *by_volume]
    assert sub.truncated and sub.dropped == reachable - limit
    kept = {t.tax_id for t in sub.nodes}
    assert sorted_edges(sub.edges) == reference_edges(GRAPH, kept)
    unknown = store.ego_network("nobody")
    assert unknown.nodes == [] and unknown.edges.num_rows == 0


def test_invoices_between_both_directions_ordered(store: Store) -> None:
    load(store, GRAPH)
    a, b = tid(1), tid(3)
    pair = {a, b}
    expected = sorted((r for r in GRAPH if {r["seller_tax_id"], r["buyer_tax_id"]} == pair),
                      key=lambda r: r["issued_at"])
    got = store.invoices_between(a, b)
    assert got.schema == schema.INVOICES
    assert rows_of(got) == expected
    assert {r["seller_tax_id"] for r in expected} == pair        # really both directions
    start = T0 + timedelta(days=3)
    assert rows_of(store.invoices_between(b, a, start=start)) == [r for r in expected if r["issued_at"] >= start]


def test_invoices_of_newest_first_with_limit(store: Store) -> None:
    load(store, GRAPH)
    mine = sorted((r for r in GRAPH if tid(1) in (r["seller_tax_id"], r["buyer_tax_id"])),
                  key=lambda r: r["issued_at"], reverse=True)
    assert rows_of(store.invoices_of(tid(1))) == mine
    assert rows_of(store.invoices_of(tid(1), limit=2)) == mine[:2]
    end = T0 + timedelta(days=5)
    assert rows_of(store.invoices_of(tid(1), end=end)) == [r for r in mine if r["issued_at"] < end]


def test_shortest_paths(store: Store) -> None:
    load(store, GRAPH)
    paths = store.shortest_paths(tid(5), tid(6))
    # 5-2-1-3-6 is the only route (edges either direction)
    assert paths == [[tid(5), tid(2), tid(1), tid(3), tid(6)]]
    assert store.shortest_paths(tid(5), tid(6), max_hops=3) == []
    assert store.shortest_paths(tid(1), tid(7)) == []
    # adding 4→2 and 2→3 makes two equally short routes 4-1-3 and 4-2-3
    load(store, [inv(300, 4, 2, 8, 100), inv(301, 2, 3, 9, 100)])
    assert sorted(store.shortest_paths(tid(4), tid(3))) == [[tid(4), tid(1), tid(3)], [tid(4), tid(2), tid(3)]]
    assert len(store.shortest_paths(tid(4), tid(3), limit=1)) == 1


def test_edge_table_aggregates_for_window(store: Store) -> None:
    load(store, GRAPH)
    table = store.edge_table()
    assert table.schema == schema.EDGES
    assert sorted_edges(table) == reference_edges(GRAPH)
    start, end = T0 + timedelta(days=2), T0 + timedelta(days=6)
    assert sorted_edges(store.edge_table(start=start, end=end)) == reference_edges(qualifying(GRAPH, start, end))


def test_invoice_stream_ordered_and_windowed(store: Store) -> None:
    load(store, GRAPH)
    ordered = sorted(GRAPH, key=lambda r: r["issued_at"])
    assert rows_of(store.invoice_stream()) == ordered
    start, end = T0 + timedelta(days=3), T0 + timedelta(days=7)
    assert rows_of(store.invoice_stream(start=start, end=end)) == qualifying(ordered, start, end)


def _scores(rows: list[tuple[str, float, str]]) -> pa.Table:
    return pa.Table.from_pylist([{"tax_id": t, "score": s, "tier": tier, "reasons": json.dumps(["循环开票"]),
                                  "features": json.dumps({"cycles": 1})} for t, s, tier in rows],
                                schema=schema.SCORES)


def test_findings_runs_rings_scores_and_rewrite(store: Store) -> None:
    load(store, GRAPH)
    old = Run("run-1", T0, {"window_days": 90}, "fp1", {"cycles": 0.5})
    new = Run("run-2", T0 + timedelta(hours=1), {"window_days": 30}, "fp2", {})
    rings1 = [Ring("run-1:r1", "run-1", "cycle", (tid(1), tid(3)), (GRAPH[1]["key"], GRAPH[6]["key"]), 0.4,
                   "甲→丙→甲 循环", {"hops": 2}),
              Ring("run-1:r2", "run-1", "fan_hub", (tid(1), tid(2), tid(4)), (), 0.9, "扇出", {})]
    rings2 = [Ring("run-2:r1", "run-2", "community", (tid(7), tid(8)), (GRAPH[7]["key"],), 0.7, "社区", {})]
    with store.writer() as w:
        w.findings(old, rings1, _scores([(tid(1), 0.9, "high"), (tid(3), 0.2, "low")]))
        w.findings(new, rings2, _scores([(tid(7), 0.5, "medium")]))
    assert [r.run_id for r in store.runs()] == ["run-2", "run-1"]
    assert store.runs()[1] == old
    assert [r.ring_id for r in store.rings()] == ["run-2:r1"]
    assert store.rings("run-1") == sorted(rings1, key=lambda r: -r.score)
    assert store.ring("run-1:r1") == rings1[0]
    assert store.ring("nope") is None
    assert store.scores().column("tax_id").to_pylist() == [tid(7)]
    s1 = store.scores("run-1")
    assert s1.schema == schema.SCORES
    assert sorted(rows_of(s1), key=lambda r: r["tax_id"]) == sorted(
        rows_of(_scores([(tid(1), 0.9, "high"), (tid(3), 0.2, "low")])), key=lambda r: r["tax_id"])
    assert store.counts().runs == 2 and store.counts().rings == 3
    # re-writing run-1 replaces its findings
    with store.writer() as w:
        w.findings(old, rings1[:1], _scores([(tid(4), 0.6, "medium")]))
    assert store.rings("run-1") == rings1[:1]
    assert store.ring("run-1:r2") is None
    assert store.scores("run-1").column("tax_id").to_pylist() == [tid(4)]
    assert store.counts().rings == 2


def test_findings_empty_store(store: Store) -> None:
    assert store.runs() == [] and store.rings() == [] and store.scores().num_rows == 0


def test_records_put_replace_and_order(store: Store) -> None:
    case = {"title": "甲公司循环开票", "taxpayers": [tid(1)], "rings": [], "invoices": [GRAPH[0]["key"]],
            "status": "open"}
    load(store, GRAPH)
    with store.writer() as w:
        w.put_record("case", "c2", case)
        w.put_record("case", "c1", {"title": "第二个", "taxpayers": []})
        w.put_record("disposition", "d1", {"tax_id": tid(1), "label": "confirmed"})
    with store.writer() as w:
        w.put_record("case", "c2", case | {"status": "closed"})
    assert store.record("case", "c2") == case | {"status": "closed"}
    assert [r["title"] for r in store.records("case")] == [case["title"], "第二个"]
    assert store.records("disposition") == [{"tax_id": tid(1), "label": "confirmed"}]
    assert store.record("case", "missing") is None
    assert store.records("nothing") == []


def _event(seq: int) -> AuditEvent:
    return AuditEvent(seq, T0 + timedelta(minutes=seq), "zhang", "investigator", "view_case", f"c{seq}",
                      "查看案件", f"h{seq - 1}", f"h{seq}")


def test_audit_append_duplicate_and_after_seq(store: Store) -> None:
    with store.writer() as w:
        for seq in (1, 2, 3):
            w.audit(_event(seq))
    assert store.audit_events() == [_event(1), _event(2), _event(3)]
    assert store.audit_events(after_seq=2) == [_event(3)]
    assert list(store.iter_audit()) == store.audit_events()
    assert store.audit_events(skip=1, limit=1) == [_event(2)] and store.audit_events(after_seq=1, skip=2) == []
    assert list(store.iter_audit(page=2)) == list(store.iter_audit(page=3)) == store.audit_events()
    with pytest.raises(StoreError):
        with store.writer() as w:
            w.audit(replace(_event(2), detail="篡改"))
    assert store.audit_events() == [_event(1), _event(2), _event(3)]


def test_writer_rolls_back_on_error(store: Store) -> None:
    load(store, GRAPH[:2])
    before = store.counts()
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.invoices(invoice_table(GRAPH[2:]))
            w.put_record("case", "x", {"title": "t"})
            raise RuntimeError("boom")
    assert store.counts() == before
    assert store.record("case", "x") is None

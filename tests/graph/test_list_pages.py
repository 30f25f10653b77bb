"""Store.rings_page / rings_count / ring_kinds, Store.scores_page / scores_count / score_facets and
Store.invoices_of_page / invoices_of_tally: the rings list, the risk queue and a taxpayer's invoices read a page at a
time, filtered by the store (run on every backend)."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pytest

from graph.core import schema
from graph.core.model import ANY_RING, ANY_SCORE, Ring, RingQuery, Run, ScoreQuery
from graph.store import Store
from tests.graph.test_contract import GRAPH, T0, inv, load, taxpayer_rows, tid

KEYS = [r["key"] for r in GRAPH]   # totals 1_000_00, 5_000_00, 300_00, 200_00, 100_00, 2_500_00, 700_00, 900_00
RUN = Run("run-1", T0, {}, "fp", {})
RINGS = [
    Ring("r-a", "run-1", "cycle", (tid(1), tid(3)), (KEYS[1], KEYS[6]), 0.9, "甲→丙→甲", {"hops": 2}),   # days 2..6
    Ring("r-b", "run-1", "cycle", (tid(1), tid(2)), (KEYS[0],), 0.5, "甲→乙", {}),                      # day 1
    Ring("r-c", "run-1", "community", (tid(7), tid(8)), (KEYS[7], "no-such-key"), 0.7, "社区", {}),     # day 7
    Ring("r-d", "run-1", "shared_identity", (tid(1), tid(2)), (), 0.7, "共用法人", {}),                # no invoices
    Ring("r-e", "run-1", "fan_hub", (tid(1), tid(2), tid(4)), (KEYS[2], KEYS[0]), 0.2, "扇出", {}),     # days 1..20
]
SCORES = [(tid(1), 0.95, "high"), (tid(2), 0.6, "medium"), (tid(8), 0.6, "high"), (tid(3), 0.3, "low"),
          (tid(7), 0.1, "low")]


def _fill(store: Store) -> None:
    load(store, GRAPH, taxpayer_rows())
    scores = pa.Table.from_pylist([{"tax_id": t, "score": s, "tier": tier, "reasons": json.dumps(["理由"]),
                                    "features": "{}"} for t, s, tier in SCORES], schema=schema.SCORES)
    with store.writer() as w:
        w.findings(RUN, RINGS, scores)


def _ids(store: Store, where: RingQuery = ANY_RING, **kw: int) -> list[str]:
    return [r.ring.ring_id for r in store.rings_page(None, where, **kw)]


def test_rings_page_orders_pages_and_sums_the_stored_invoices(store: Store) -> None:
    _fill(store)
    rows = store.rings_page()
    assert [r.ring.ring_id for r in rows] == ["r-a", "r-c", "r-d", "r-b", "r-e"]   # score, then id
    a, c, d = rows[0], rows[1], rows[2]
    assert a.ring == RINGS[0] and a.fen == 5_000_00 + 700_00
    assert a.first == T0 + timedelta(days=2) and a.last == T0 + timedelta(days=6)
    assert c.fen == 900_00 and c.first == c.last == T0 + timedelta(days=7)   # the missing key counts nothing
    assert (d.first, d.last, d.fen) == (None, None, 0)
    assert _ids(store, skip=1, limit=2) == ["r-c", "r-d"] and _ids(store, skip=5, limit=2) == []
    assert store.rings_count() == 5 and store.ring_kinds() == {"community": 1, "cycle": 2, "fan_hub": 1,
                                                               "shared_identity": 1}


def test_rings_page_filters_by_kind_score_amount_and_dates(store: Store) -> None:
    _fill(store)
    assert _ids(store, RingQuery(kinds=("cycle", "fan_hub"))) == ["r-a", "r-b", "r-e"]
    assert _ids(store, RingQuery(kinds=())) == []
    assert _ids(store, RingQuery(min_score=0.7)) == ["r-a", "r-c", "r-d"]
    assert _ids(store, RingQuery(min_fen=900_00)) == ["r-a", "r-c", "r-b", "r-e"]
    # spans: a 2..6, b 1, c 7, e 1..20 (days after T0); a ring without stored invoices never meets a window
    assert _ids(store, RingQuery(start=T0 + timedelta(days=6))) == ["r-a", "r-c", "r-e"]
    assert _ids(store, RingQuery(end=T0 + timedelta(days=2))) == ["r-b", "r-e"]
    assert _ids(store, RingQuery(start=T0 + timedelta(days=6, seconds=1), end=T0 + timedelta(days=7))) == ["r-e"]
    where = RingQuery(kinds=("cycle",), min_score=0.4, min_fen=1, start=T0, end=T0 + timedelta(days=30))
    assert _ids(store, where) == ["r-a", "r-b"] and store.rings_count(None, where) == 2
    assert _ids(store, RingQuery(kinds=("cycle' OR '1'='1",))) == []   # data, not SQL / Cypher


def test_rings_page_agrees_with_the_default_over_the_whole_run(store: Store) -> None:
    _fill(store)
    for where in (RingQuery(), RingQuery(kinds=("community",)), RingQuery(min_fen=1_000_00, min_score=0.5),
                  RingQuery(start=T0 + timedelta(days=3), end=T0 + timedelta(days=10))):
        assert store.rings_page(None, where) == Store.rings_page(store, None, where)
        assert store.rings_count("run-1", where) == Store.rings_count(store, "run-1", where)
    assert store.ring_kinds("run-1") == Store.ring_kinds(store, "run-1")
    assert store.rings_page("no-such-run") == [] and store.rings_count("no-such-run") == 0


def _tax_ids(store: Store, where: ScoreQuery = ANY_SCORE, **kw: int) -> list[str]:
    return [str(t) for t in store.scores_page(None, where, **kw).column("tax_id").to_pylist()]


def test_scores_page_joins_the_taxpayer_and_pages(store: Store) -> None:
    _fill(store)
    page = store.scores_page()
    assert page.schema == schema.SCORED_TAXPAYERS
    assert page.column("tax_id").to_pylist() == [tid(1), tid(2), tid(8), tid(3), tid(7)]   # score, then tax id
    first = page.to_pylist()[0]
    assert (first["name"], first["industry"], first["region"], first["tier"]) == ("上海甲贸易有限公司", "批发业",
                                                                                  "310101", "high")
    assert page.to_pylist()[1]["industry"] is None   # taxpayer 2 has no industry
    assert _tax_ids(store, skip=1, limit=2) == [tid(2), tid(8)] and store.scores_count() == 5
    assert store.score_facets() == {"industry": ["商务服务业", "批发业"], "region": ["310101", "310115"]}


def test_scores_page_filters_on_the_tier_in_force_and_the_taxpayer(store: Store) -> None:
    _fill(store)
    assert _tax_ids(store, ScoreQuery(tiers=("high",))) == [tid(1), tid(8)]
    overridden = ScoreQuery(tiers=("high",), overrides={tid(8): "low", tid(3): "high"})
    assert _tax_ids(store, overridden) == [tid(1), tid(3)]
    assert store.scores_page(None, overridden).column("tier").to_pylist() == ["high", "low"]   # the model's tier
    assert _tax_ids(store, ScoreQuery(tiers=())) == []
    assert _tax_ids(store, ScoreQuery(min_score=0.6)) == [tid(1), tid(2), tid(8)]
    assert _tax_ids(store, ScoreQuery(industries=("商务服务业",))) == [tid(8)]
    assert _tax_ids(store, ScoreQuery(regions=("310101", "310115"))) == [tid(1), tid(8)]
    assert _tax_ids(store, ScoreQuery(text="空壳")) == [tid(8)]
    assert _tax_ids(store, ScoreQuery(text=tid(3)[:17])) == [tid(3)]   # a tax id prefix
    assert _tax_ids(store, ScoreQuery(tax_ids=(tid(7), tid(2)))) == [tid(2), tid(7)]
    assert _tax_ids(store, ScoreQuery(text="' OR '1'='1")) == []   # data, not SQL / Cypher
    assert store.scores_count(None, overridden) == 2


def test_scores_page_agrees_with_the_default_over_the_whole_run(store: Store) -> None:
    _fill(store)
    for where in (ScoreQuery(), ScoreQuery(tiers=("high", "medium"), overrides={tid(2): "low"}),
                  ScoreQuery(min_score=0.5, text="有限"), ScoreQuery(regions=("310115",), tiers=("high",))):
        assert store.scores_page(None, where).equals(Store.scores_page(store, None, where))
        assert store.scores_count("run-1", where) == Store.scores_count(store, "run-1", where)
    assert store.score_facets() == Store.score_facets(store)
    assert store.scores_page("no-such-run").num_rows == 0 and store.scores_count("no-such-run") == 0


SELF = inv(9, 1, 1, 8, 50_00)   # taxpayer 1 bills itself: one of its issued invoices, not a received one


def _keys(table: pa.Table) -> list[str]:
    return [str(k) for k in table.column("key").to_pylist()]


def test_invoices_of_page_splits_the_sides_newest_first_and_pages(store: Store) -> None:
    load(store, [*GRAPH, SELF], taxpayer_rows())
    one = tid(1)
    issued = store.invoices_of_page(one, "issued")
    assert issued.schema == schema.INVOICES
    assert _keys(issued) == [KEYS[2], SELF["key"], KEYS[6], KEYS[0]]          # days 20, 8, 6, 1
    assert _keys(store.invoices_of_page(one, "received")) == [KEYS[5], KEYS[1]]   # days 5, 2
    assert _keys(store.invoices_of_page(one, "issued", skip=1, limit=2)) == [SELF["key"], KEYS[6]]
    assert store.invoices_of_page(one, "issued", skip=4, limit=2).num_rows == 0
    assert store.invoices_of_tally(one, "issued") == (4, 300_00 + 50_00 + 700_00 + 1_000_00)
    assert store.invoices_of_tally(one, "received") == (2, 2_500_00 + 5_000_00)
    assert store.invoices_of_tally(tid(99), "issued") == (0, 0) and store.invoices_of_page(tid(99), "received").num_rows == 0
    with pytest.raises(ValueError, match="side"):
        store.invoices_of_page(one, "both")


def test_invoices_of_page_filters_by_window_and_amount(store: Store) -> None:
    load(store, [*GRAPH, SELF], taxpayer_rows())
    one, start, end = tid(1), T0 + timedelta(days=2), T0 + timedelta(days=8)
    assert _keys(store.invoices_of_page(one, "issued", start=start, end=end)) == [KEYS[6]]   # day 8 is the open end
    assert _keys(store.invoices_of_page(one, "received", start=start, end=end)) == [KEYS[5], KEYS[1]]
    assert _keys(store.invoices_of_page(one, "issued", min_fen=700_00)) == [KEYS[6], KEYS[0]]
    assert store.invoices_of_tally(one, "received", start=start, end=end, min_fen=5_000_00) == (1, 5_000_00)
    for side in ("issued", "received"):
        for s, e, fen in ((None, None, 0), (start, end, 0), (None, None, 300_00), (T0 + timedelta(days=6), None, 1)):
            got = store.invoices_of_page(one, side, start=s, end=e, min_fen=fen)
            assert got.equals(Store.invoices_of_page(store, one, side, start=s, end=e, min_fen=fen))
            assert store.invoices_of_tally(one, side, start=s, end=e, min_fen=fen) == Store.invoices_of_tally(
                store, one, side, start=s, end=e, min_fen=fen)


def test_invoice_months_count_and_sum_by_local_month(store: Store) -> None:
    edges = [inv(10, 1, 2, -(9.5 / 24 + 1 / 1440), 10_00),   # 2024-02-29 23:59 local (15:59 UTC)
             inv(11, 2, 3, 30.625, 20_00)]                    # 2024-04-01 00:30 local (still 31 March in UTC)
    load(store, [*GRAPH, *edges], taxpayer_rows())
    months = store.invoice_months()
    assert months.schema == schema.INVOICE_MONTHS
    march = sum(int(r["total_fen"]) for r in GRAPH)
    assert months.to_pylist() == [{"month": "2024-02", "count": 1, "total_fen": 10_00},
                                  {"month": "2024-03", "count": len(GRAPH), "total_fen": march},
                                  {"month": "2024-04", "count": 1, "total_fen": 20_00}]
    window = {"start": T0, "end": T0 + timedelta(days=30)}
    assert store.invoice_months(**window).to_pylist() == [{"month": "2024-03", "count": len(GRAPH), "total_fen": march}]
    assert store.invoice_months(**window).equals(Store.invoice_months(store, **window))
    assert store.invoice_months().equals(Store.invoice_months(store))
    assert store.invoice_months(start=T0 + timedelta(days=400)).num_rows == 0

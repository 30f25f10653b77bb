"""The pages' read models (workbench.ui.views) on the small demo workspace: two runs, 1 and 2 rings."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graph.core.schema import TZ
from graph.embedded import EmbeddedStore
from tests.helpers.wb_data import Demo
from workbench.report import rings
from workbench.ui import views


def test_overview_counts_the_newest_runs_rings_only(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        view = views.overview(store)
        assert store.counts().rings == 3  # both runs' rings are stored
        assert view.rings == len(store.rings(store.runs()[0].run_id)) == 2
        assert view.latest is not None and view.latest.run_id == "run-2"
        assert list(view.tiers) == ["high", "medium", "low"]
        assert view.tiers["high"] == 4 and sum(view.tiers.values()) == len(demo_store.names)
    finally:
        store.close()


def test_news_since_the_previous_run(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        found = views.news(store)
        assert found is not None and (found.run.run_id, found.previous.run_id) == ("run-2", "run-1")
        assert found.new_high == [demo_store.high_new]
        assert [r.ring_id for r in found.new_rings] == [demo_store.new_ring.ring_id]
    finally:
        store.close()


def test_an_empty_store_has_no_latest_run_and_no_news(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "empty")
    try:
        view = views.overview(store)
        assert (view.taxpayers, view.invoices, view.rings, view.latest, view.tiers) == (0, 0, 0, None, {})
        assert views.news(store) is None
    finally:
        store.close()


def test_ring_summaries_span_and_total_of_the_rings_invoices(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        got = {s.ring_id: s for s in views.ring_summaries(store, "run-2")}
    finally:
        store.close()
    assert set(got) == {demo_store.ring.ring_id, demo_store.new_ring.ring_id}
    by_key = {str(i["key"]): i for i in demo_store.invoices}
    for ring in (demo_store.ring, demo_store.new_ring):
        s, inv = got[ring.ring_id], [by_key[k] for k in ring.invoice_keys]
        assert (s.kind, s.members, s.invoices) == (ring.kind, len(ring.members), len(ring.invoice_keys))
        assert s.fen == sum(int(i["total_fen"]) for i in inv)  # type: ignore[call-overload]
        assert s.first == min(i["issued_at"] for i in inv) and s.last == max(i["issued_at"] for i in inv)  # type: ignore[type-var]


def test_missing_times_format_as_empty_never_nat() -> None:
    import pandas as pd

    from workbench.fmt import day, when

    assert day(pd.NaT) == "" and when(pd.NaT) == "" and day(None) == ""
    frame = pd.DataFrame([{"first": None}, {"first": pd.Timestamp("2024-03-01T10:00:00+08:00")}])
    assert [day(t) for t in frame["first"]] == ["", "2024-03-01"]


def test_rings_of_a_member_and_of_an_outsider(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        member, outsider = demo_store.ring.members[0], demo_store.xss_id
        assert [r.ring_id for r in views.rings_of(store, member)] == [demo_store.ring.ring_id]  # newest run only
        assert views.rings_of(store, outsider) == []
    finally:
        store.close()


def test_counterparties_total_each_partner_and_direction(demo_store: Demo) -> None:
    a = demo_store.ring.members[0]
    store = EmbeddedStore(demo_store.path)
    try:
        got = views.counterparties(store.invoices_of(a), a)
        assert views.counterparties(store.invoices_of(a).slice(0, 0), a) == []
    finally:
        store.close()
    want: dict[tuple[str, str], list[int]] = {}
    for i in demo_store.invoices:
        if a in (i["seller_tax_id"], i["buyer_tax_id"]):
            out = i["seller_tax_id"] == a
            key = (str(i["buyer_tax_id"] if out else i["seller_tax_id"]), "out" if out else "in")
            cur = want.setdefault(key, [0, 0])
            cur[0] += 1
            cur[1] += int(i["total_fen"])  # type: ignore[call-overload]
    assert {(c.tax_id, c.direction): [c.invoices, c.fen] for c in got} == want
    assert [c.fen for c in got] == sorted((c.fen for c in got), reverse=True)
    assert all(c.name == demo_store.names[c.tax_id] for c in got)


def test_shared_identifiers_name_the_other_holders(demo_store: Demo) -> None:
    x, y = demo_store.shared_phone
    store = EmbeddedStore(demo_store.path)
    try:
        index = store.identifiers()
    finally:
        store.close()
    got = views.shared_identifiers(index, x, [("phone", "0755-88880000"), ("address", "nowhere")])
    assert [(s.kind, s.value, s.others) for s in got] == [("phone", "0755-88880000", (y,)), ("address", "nowhere", ())]


def test_explore_caps_the_view_and_keeps_edges_inside_it(demo_store: Demo) -> None:
    hub = demo_store.high_new
    store = EmbeddedStore(demo_store.path)
    try:
        full = views.explore(store, [hub], hops=1, cap=400)
        small = views.explore(store, [hub], hops=1, cap=3)
        inv, capped = views.invoices_in_view(store, [hub], full.nodes)
    finally:
        store.close()
    partners = {str(i["buyer_tax_id"] if i["seller_tax_id"] == hub else i["seller_tax_id"])
                for i in demo_store.invoices if hub in (i["seller_tax_id"], i["buyer_tax_id"])}
    assert set(full.nodes) == partners | {hub} and full.hops[hub] == 0 and full.dropped == 0
    assert len(small.nodes) == 3 and hub in small.nodes and small.dropped == len(partners) - 2
    assert all(e["seller_tax_id"] in small.nodes and e["buyer_tax_id"] in small.nodes for e in small.edges)
    mine = sorted(str(i["key"]) for i in demo_store.invoices if hub in (i["seller_tax_id"], i["buyer_tax_id"]))
    assert sorted(inv.column("key").to_pylist()) == mine and not capped
    assert inv.column("issued_at").to_pylist() == sorted(inv.column("issued_at").to_pylist())


def test_invoices_in_view_lists_an_invoice_between_two_focus_nodes_once(demo_store: Demo) -> None:
    a, b, _ = demo_store.ring.members
    store = EmbeddedStore(demo_store.path)
    try:
        view = views.explore(store, [a, b], hops=1)
        inv, _ = views.invoices_in_view(store, [a, b], view.nodes)
    finally:
        store.close()
    keys = inv.column("key").to_pylist()
    assert len(keys) == len(set(keys)) == sum(1 for i in demo_store.invoices
                                               if {i["seller_tax_id"], i["buyer_tax_id"]} & {a, b})


def test_ring_titles_name_kind_top_members_size_and_month(demo_store: Demo) -> None:
    store = EmbeddedStore(demo_store.path)
    try:
        titles = views.ring_titles(store, [demo_store.ring, demo_store.new_ring])
    finally:
        store.close()
    zh, en = titles[demo_store.ring.ring_id]
    assert zh.startswith("时序环路 · ") and zh.endswith("等3家 · 2024-03") and "run-" not in zh
    assert en.startswith("temporal cycle · ") and en.endswith("+1 · 2024-03")
    hub_zh = titles[demo_store.new_ring.ring_id][0]
    assert hub_zh.split(" · ")[1].startswith(views.short_name(demo_store.names[demo_store.high_new]))  # the hub trades most
    assert "有限公司" not in hub_zh


def test_ring_title_never_repeats_a_short_name(demo_store: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = demo_store.ring
    store = EmbeddedStore(demo_store.path)
    try:
        for odd in ring.members:     # every member but one shortens to the same name, whatever their volumes
            other = demo_store.names[odd]
            monkeypatch.setattr(rings, "short_name", lambda name, other=other: "其他公司" if name == other else "同名公司")
            who = views.ring_titles(store, [ring])[ring.ring_id][0].split(" · ")[1].split("等")[0]
            assert sorted(who.split("、")) == ["其他公司", "同名公司"], who
    finally:
        store.close()


def test_short_name_drops_the_legal_form_only() -> None:
    assert views.short_name("深圳甲贸易有限公司") == "深圳甲贸易"
    assert views.short_name("华信股份有限公司") == "华信"
    assert views.short_name("有限公司") == "有限公司"


def test_ring_list_filters_by_kind_score_amount_and_local_dates(demo_store: Demo) -> None:
    from datetime import date

    store = EmbeddedStore(demo_store.path)
    try:
        rows = views.ring_summaries(store, "run-2")
        by_id = {r.ring_id: r for r in rows}

        def ids(**kw: object) -> list[str]:
            found = views.ring_list(store, "run-2", views.ring_query(**kw))  # type: ignore[arg-type]
            assert set(found.titles) == {r.ring_id for r in found.rows}
            return sorted(r.ring_id for r in found.rows)

        cycle, hub = demo_store.ring.ring_id, demo_store.new_ring.ring_id
        assert ids() == sorted([cycle, hub]) and ids(kinds=set()) == sorted([cycle, hub])   # none chosen: all
        assert ids(kinds={"cycle"}) == [cycle]
        assert ids(min_score=0.9) == [cycle]
        assert ids(min_fen=by_id[hub].fen + 1) == sorted(r.ring_id for r in rows if r.fen > by_id[hub].fen)
        assert ids(start=date(2024, 4, 5)) == [hub]         # the cycle ended in early April
        assert ids(end=date(2024, 3, 31)) == [cycle]        # the hub began on 10 April
        assert ids(start=date(2030, 1, 1)) == []
        last = by_id[cycle].last
        assert last is not None and ids(start=last.astimezone(views._TZ).date()) == sorted([cycle, hub])  # inclusive
        page = views.ring_list(store, "run-2", views.ring_query(), skip=1, limit=1)
        assert [r.ring_id for r in page.rows] == [rows[1].ring_id]   # highest score first, a page at a time
    finally:
        store.close()


def test_item_lines_for_the_invoice_page(tmp_path: Path) -> None:
    import pyarrow as pa

    from graph.core import schema
    from tests.graph.test_contract import inv, invoice_table

    row = inv(1, 1, 2, 1, 1_130_000_00)
    lines = [{"key": row["key"], "line": 2, "item_name": "*钢材*螺纹钢", "item_code": None, "spec": None, "unit": "吨",
              "quantity": 2.5, "unit_price": "4000.00", "amount_fen": 1_000_000, "rate": 0.13, "tax_fen": 130_000},
             {"key": row["key"], "line": 1, "item_name": "*运输服务*运费", "item_code": "3010101", "spec": "Φ12",
              "unit": None, "quantity": None, "unit_price": None, "amount_fen": -123_456_789, "rate": 0.09,
              "tax_fen": None}]
    store = EmbeddedStore(tmp_path / "ws")
    try:
        with store.writer() as w:
            w.invoices(invoice_table([row]))
            w.item_lines(pa.Table.from_pylist(lines, schema=schema.ITEM_LINES))
        got = views.item_lines(store, row["key"])
        assert views.item_lines(store, "no-such-key") == []
    finally:
        store.close()
    assert [list(r) for r in got] == [list(views.ITEM_LINE_HEADERS)] * 2
    assert [list(r.values()) for r in got] == [
        ["1", "*运输服务*运费", "3010101", "Φ12", "", "", "", "-1,234,567.89", "9%", ""],
        ["2", "*钢材*螺纹钢", "", "", "吨", "2.5", "4000.00", "10,000.00", "13%", "1,300.00"]]


def test_the_audit_trail_reads_in_chinese_words() -> None:
    assert views.audit_target_zh("taxpayer:91440300000000001H") == "纳税人 91440300000000001H"
    assert views.audit_target_zh("user:admin") == "用户 admin" and views.audit_target_zh("odd:x") == "odd:x"
    assert views.audit_actor_zh("anonymous") == "未登录" and views.audit_actor_zh("ivan") == "ivan"
    assert views.audit_actor_zh("system:alerts") == "系统（提醒）" and views.audit_role_zh("system") == "系统"
    from graph.core.notes import Note

    def zh(action: str, code: str, **values: Any) -> str:   # as stored: the note's JSON
        return views.audit_detail_zh(action, Note(code, values).to_json())

    assert zh("user_add", "roles_granted", roles=["supervisor", "analyst"]) == "角色：审核主管、分析员"
    assert zh("tier_override", "tier_changed", before="high", after="low", reason="核实为正常经营") == \
        "高风险 → 低风险：核实为正常经营"
    assert zh("tier_override", "tier_changed", before="", after="medium", reason="约谈") == "- → 中风险：约谈"
    assert zh("case_status", "case_status_changed", before="open", after="investigating", note="") == "新立案 → 调查中"
    assert zh("sign_in_failed", "sign_in_refused", reason="wrong_password") == "密码错误"
    assert zh("data_export", "export_rows", format="xlsx", rows=1200) == "XLSX，1,200 行"
    assert zh("load", "load_counts", read=10, loaded=9, rejected=1, taxpayers=3) == "读取 10 行，入库 9 张，拒收 1 行，纳税人 3 户"
    assert zh("detect", "detect_counts", rings=2, labels=0) == "发现 2 个团伙，使用已核实标签 0 个"
    assert views.audit_detail_zh("case_note", "roles=x -> y") == "roles=x -> y"   # free text stays as written
    assert views.audit_detail_zh("load", "read 10, loaded 9") == "read 10, loaded 9"   # stored before codes: as is


def test_the_tier_chart_puts_high_first_in_the_tier_colours() -> None:
    from workbench.netgraph import TIER_COLOURS
    from workbench.ui.charts import tier_chart

    spec = tier_chart({"low": 6, "high": 4, "medium": 0}).to_dict()
    bars = spec["layer"][0]["encoding"]
    assert bars["y"]["sort"] == ["高风险", "中风险", "低风险"]
    assert bars["color"]["scale"]["range"] == [TIER_COLOURS["high"], TIER_COLOURS["medium"], TIER_COLOURS["low"]]
    assert spec["layer"][1]["mark"]["type"] == "text"   # each bar carries its count


def test_a_short_table_is_drawn_without_empty_rows() -> None:
    from workbench.ui.exports import fitted_height

    assert fitted_height(4) < 420 < fitted_height(20) and fitted_height(0) == fitted_height(1)


def test_the_overviews_months_from_the_store_equal_those_counted_from_every_invoice(demo_store: Demo) -> None:
    from workbench.ui.charts import month_frame, monthly

    store = EmbeddedStore(demo_store.path)
    try:
        ours = month_frame(store.invoice_months())
        theirs = monthly(store.invoice_stream())
    finally:
        store.close()
    assert len(ours) >= 2
    assert ours[["month", "count", "fen", "amount"]].to_dict("records") == theirs[
        ["month", "count", "fen", "amount"]].to_dict("records")


def test_the_report_offers_the_last_month_with_invoices_when_none_are_recent(demo_store: Demo) -> None:
    from datetime import date

    store = EmbeddedStore(demo_store.path)
    try:
        newest = str(store.invoice_months().column("month").to_pylist()[-1])
        assert newest == "2024-08"
        assert views.default_last_day(store, date(2024, 8, 10)) == date(2024, 8, 10)   # data up to today: today
        assert views.default_last_day(store, date(2024, 9, 10)) == date(2024, 8, 31)   # no run since: its last month
    finally:
        store.close()
    empty = EmbeddedStore(demo_store.path.parent / "empty-store")
    try:
        assert views.default_last_day(empty, date(2026, 12, 3)) == date(2026, 12, 3)
    finally:
        empty.close()


def test_the_report_offers_the_day_of_the_newest_run_over_an_older_archive(fresh_env: Demo) -> None:
    """Seen in the demo: invoices up to June 2025, detection run on 2026-12-03; the report offered June 2025,
    a period before every run, and came out empty (所依据的检测：无)."""
    from datetime import date, datetime

    from graph.core.model import Run

    store = EmbeddedStore(fresh_env.path)
    try:
        ran = datetime(2026, 12, 3, 1, 30, tzinfo=ZoneInfo("UTC"))         # 09:30 on 3 December in Shanghai
        with store.writer() as w:
            w.findings(Run("run-late", ran, {"window_days": 90}, "fp1"), [], store.scores())
        newest_run = ran.astimezone(ZoneInfo(TZ)).date()
        assert views.default_last_day(store, date(2026, 12, 20)) == newest_run == date(2026, 12, 3)
        assert views.default_last_day(store, date(2026, 12, 1)) == date(2026, 12, 1)      # never after today
    finally:
        store.close()


def test_a_monthly_chart_of_a_few_months_draws_bars_not_slabs() -> None:
    import pandas as pd

    from workbench.ui.charts import monthly_chart

    def frame(n: int) -> pd.DataFrame:
        months = [f"2024-{m:02d}" for m in range(1, n + 1)]
        return pd.DataFrame({"month": months, "count": [1] * n, "yuan": [1.0] * n, "amount": ["¥1"] * n})

    assert monthly_chart(frame(1)).to_dict()["mark"]["size"] == 48
    assert "size" not in monthly_chart(frame(12)).to_dict()["mark"]

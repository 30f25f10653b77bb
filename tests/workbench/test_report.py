"""The period report (issue 19 item 5): its figures against the store on generated data, the PDF's Chinese
text read back with pypdfium2, the permission and the audit event, and ``fapiao report``."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from graph.core import schema
from graph.core.errors import ConfigError, InvalidData, PermissionDenied
from graph.core.model import Run
from graph.embedded import EmbeddedStore
from tests.helpers.detect_data import small_generated, store_from_generated
from workbench import audit, cases, overrides, report
from workbench.alerts.model import KIND as ALERT_KIND
from workbench.auth import User
from workbench.detect import run_detection
from workbench.report.figures import Period, build
from workbench.report.render import to_html, yuan
from workbench.users import create_user

TZ = ZoneInfo(schema.TZ)
SUP = User("sue", ("supervisor",), "苏主管")
ANA = User("ana", ("analyst",))
INV = User("ivan", ("investigator",))
ADMIN = User("adam", ("admin",))


class World:
    """Generated data with one real detection run (today) and an older run made in the previous period."""

    def __init__(self, store: EmbeddedStore, today: date, prev_high: int, prev_rings: list[frozenset[str]]) -> None:
        self.store, self.today, self.prev_high, self.prev_rings = store, today, prev_high, prev_rings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("report")
    store = store_from_generated(small_generated(base / "data"), base / "ws")
    for u in (SUP, ANA, INV):
        create_user(store, u.username, "report-pass-123!", u.roles, u.display_name)
    now = datetime.now(TZ)
    result = run_detection(store)
    # the run in force at the end of yesterday: the same scores with half the high tier lowered, half the rings
    high = pc.equal(result.scores.column("tier"), "high")
    high_idx = [i for i, h in enumerate(high.to_pylist()) if h]
    lowered = set(high_idx[: len(high_idx) // 2])
    tiers = ["medium" if i in lowered else t for i, t in enumerate(result.scores.column("tier").to_pylist())]
    old_scores = result.scores.set_column(result.scores.schema.get_field_index("tier"), "tier", pa.array(tiers))
    yesterday = now - timedelta(days=1)
    old_run = Run("run-previous-period", yesterday, dict(result.run.params), "old")
    kept = result.rings[: len(result.rings) // 2]
    with store.writer() as w:
        w.findings(old_run, [replace(r, ring_id=r.ring_id + "-old", run_id=old_run.run_id) for r in kept], old_scores)
    return World(store, now.date(), len(high_idx) - len(lowered), [frozenset(r.members) for r in kept])


def test_a_period_is_whole_beijing_days_and_the_previous_one_has_the_same_length() -> None:
    p = Period(date(2026, 11, 1), date(2026, 11, 30))
    assert p.days == 30
    assert p.start == datetime(2026, 11, 1, tzinfo=TZ) and p.end == datetime(2026, 12, 1, tzinfo=TZ)
    assert p.previous() == Period(date(2026, 10, 2), date(2026, 10, 31))
    assert p.holds(datetime(2026, 11, 30, 23, 59, tzinfo=TZ))
    assert not p.holds(datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("UTC")))   # 00:00 on 1 December in Beijing
    with pytest.raises(InvalidData):
        Period(date(2026, 11, 2), date(2026, 11, 1))


def test_the_figures_match_the_store(world: World) -> None:
    store = world.store
    period = Period(world.today, world.today)
    # activity: two cases today (one closed), one case and an alert in the previous period, alerts today
    c1 = cases.open_case(store, SUP, "报告测试一")
    cases.open_case(store, SUP, "报告测试二")
    cases.set_status(store, SUP, c1.case_id, "closed_no_action", note="无须处理")
    old_case = cases.Case("C-old", "旧案", "open", "sue", (datetime.now(TZ) - timedelta(days=1)).isoformat(),
                          (datetime.now(TZ) - timedelta(days=1)).isoformat())
    now = datetime.now(TZ).isoformat()
    with store.writer() as w:
        w.put_record(cases.KIND, old_case.case_id, old_case.to_record())
        for i, (rule, user, ep) in enumerate([("new_high", "sue", "x"), ("new_high", "ana", "x"),
                                              ("new_ring", "sue", "y")]):
            w.put_record(ALERT_KIND, f"AL-t{i}", {"alert_id": f"AL-t{i}", "rule": rule, "user": user,
                                                  "subject": "taxpayer:x", "created_at": now, "episode": ep})
        w.put_record(ALERT_KIND, "AL-old", {"alert_id": "AL-old", "rule": "burst", "user": "sue", "subject": "t:x",
                                            "created_at": old_case.created_at, "episode": "z"})
    # an override today lowers one high taxpayer
    scores = store.scores()
    high_now = [t for t, tier in zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(),
                                     strict=True) if tier == "high"]
    overrides.override_tier(store, SUP, high_now[0], "low", "报告测试：人工调整")

    rep = build(store, period, made_by="苏主管")

    expected_now = Counter(scores.column("tier").to_pylist())
    expected_now["high"] -= 1
    expected_now["low"] += 1
    got = {r.tier: (r.now, r.before, r.change) for r in rep.tiers}
    assert [r.tier for r in rep.tiers] == ["high", "medium", "low"]
    assert got["high"] == (expected_now["high"], world.prev_high, expected_now["high"] - world.prev_high)
    assert got["low"][0] == expected_now["low"] and got["medium"][0] == expected_now["medium"]
    assert sum(r.now for r in rep.tiers) == scores.num_rows
    assert rep.overrides_applied == 1
    assert rep.run is not None and rep.run.run_id == store.runs()[0].run_id
    assert rep.previous_run is not None and rep.previous_run.run_id == "run-previous-period"

    rings = store.rings(rep.run.run_id)
    assert rep.rings == len(rings)
    assert rep.new_rings == sum(frozenset(r.members) not in world.prev_rings for r in rings) > 0
    best = sorted(rings, key=lambda r: -r.score)[: len(rep.top_rings)]
    assert [round(r.score, 3) for r in best] == [t.score for t in rep.top_rings]
    top = rep.top_rings[0]
    ring = store.ring(top.ring_id)
    assert ring is not None
    inv = store.invoices(list(ring.invoice_keys))
    assert top.fen == pc.sum(inv.column("total_fen")).as_py()
    assert top.invoices == len(ring.invoice_keys) and top.members == len(ring.members)
    assert top.new == (frozenset(ring.members) not in world.prev_rings)

    a, b = rep.activity, rep.previous_activity
    assert (a.cases_opened, a.cases_closed, a.closed_as) == (2, 1, {"closed_no_action": 1})
    assert (a.alerts, a.alert_recipients, a.alerts_by_rule) == (2, 3, {"new_high": 1, "new_ring": 1})
    assert (b.cases_opened, b.cases_closed, b.alerts) == (1, 0, 1)

    page = to_html(rep)
    assert f"<td>高风险</td><td class=\"n\">{got['high'][0]:,}</td>" in page
    assert yuan(top.fen) in page and top.title_zh in page
    assert page.count("data:image/png;base64,") == 2


def test_amounts_are_exact_yuan_from_fen() -> None:
    assert yuan(1_234_567_890) == "12,345,678.90 元"
    assert yuan(7) == "0.07 元"


def test_a_period_before_any_run_says_so(world: World) -> None:
    rep = build(world.store, Period(date(2000, 1, 1), date(2000, 1, 31)), made_by="x")
    assert rep.run is None and rep.top_rings == [] and all(r.now == 0 for r in rep.tiers)
    assert "本期结束前没有检测运行" in to_html(rep)


def test_investigators_and_admins_may_not_make_reports_and_nothing_is_recorded(world: World) -> None:
    before = len(world.store.audit_events())
    for user in (INV, ADMIN):
        with pytest.raises(PermissionDenied):
            report.make(world.store, user, Period(world.today, world.today))
    assert len(world.store.audit_events()) == before


def test_the_pdf_holds_the_chinese_text_and_the_report_is_audited(world: World) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    from workbench.report.pdf import chromium

    try:
        chromium()
    except ConfigError as e:
        if os.environ.get("FAPIAO_REQUIRE_BROWSER", "0") == "1":
            raise
        pytest.skip(f"BROWSER UNAVAILABLE - no Chromium to print the PDF: {e}")
    period = Period(world.today - timedelta(days=6), world.today)
    rep, data = report.make(world.store, ANA, period, "pdf")
    assert data.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(data)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    compact = re.sub(r"\s+", "", text)
    for words in ("期间报告", "风险等级分布", "重点团伙", "案件与提醒", "高风险", period.label().replace(" ", "")):
        assert words in compact, words
    assert rep.top_rings and re.sub(r"\s+", "", yuan(rep.top_rings[0].fen)) in compact
    last = world.store.audit_events()[-1]
    assert (last.actor, last.action, last.target, last.detail) == ("ana", "report", f"period:{period.first}..{period.last}", "pdf")
    audit_ok = audit.verify(world.store)
    assert audit_ok.ok, audit_ok.problems


def test_fapiao_report_writes_html_for_a_supervisor_and_refuses_an_investigator(world: World, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import cli

    monkeypatch.setenv("FAPIAO_STORE", f"embedded:{world.store.path}")
    out = tmp_path / "r.html"
    day = world.today.isoformat()
    world.store.close()
    ok = CliRunner().invoke(cli, ["report", "--from", day, "--to", day, "--out", str(out), "--user", "sue",
                                  "--password-stdin"], input="report-pass-123!\n")
    assert ok.exit_code == 0, ok.output
    assert "期间报告" in out.read_text(encoding="utf-8") and "苏主管" in out.read_text(encoding="utf-8")
    denied = CliRunner().invoke(cli, ["report", "--from", day, "--to", day, "--out", str(tmp_path / "x.html"),
                                      "--user", "ivan", "--password-stdin"], input="report-pass-123!\n")
    assert denied.exit_code != 0 and not (tmp_path / "x.html").exists()
    assert isinstance(denied.exception, PermissionDenied)
    bad = CliRunner().invoke(cli, ["report", "--from", day, "--to", day, "--out", str(tmp_path / "x.doc"),
                                   "--user", "sue", "--password-stdin"], input="report-pass-123!\n")
    assert bad.exit_code == 2 and ".html or .pdf" in bad.output

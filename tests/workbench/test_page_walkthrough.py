"""Defects seen walking the demo in Chromium as each role (2026-12-03): scores shown as ``1`` next to
``0.967``, tier counts without thousands separators, English and codes in the audit trail."""

from __future__ import annotations

import json

from graph.core.notes import Note
from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, tax_id
from workbench import audit
from workbench.ui.charts import tier_chart


def _score_format(at: object, n: int = 0) -> str | None:
    config = json.loads(at.dataframe[n].proto.columns or "{}")   # type: ignore[attr-defined]
    fmt = config.get("评分", {}).get("type_config", {}).get("format")
    return None if fmt is None else str(fmt)


def test_ring_list_shows_scores_with_two_decimals(app_env: Demo) -> None:
    """The rings list showed 1, 0.967, 0.95 in one column (the ring's headline says 0.90)."""
    at = open_page(app_env, "investigator", "rings")
    assert _score_format(at) == "%.2f"
    assert at.dataframe[0].value["评分"].dtype.kind == "f"      # still numbers: the header click sorts them


def test_risk_queue_shows_scores_with_two_decimals(app_env: Demo) -> None:
    at = open_page(app_env, "supervisor", "risk_queue")
    assert _score_format(at) == "%.2f"
    assert at.dataframe[0].value["评分"].dtype.kind == "f"


def test_tier_chart_counts_have_thousands_separators() -> None:
    """The overview's tier bars were labelled 4905 on an axis of 1000 … 5000."""
    spec = tier_chart({"high": 50, "medium": 45, "low": 4905}).to_dict()
    bars, labels = spec["layer"]
    assert bars["encoding"]["x"]["axis"]["format"] == ",d"
    assert labels["encoding"]["text"]["format"] == ",d"
    assert [t.get("format") for t in bars["encoding"]["tooltip"]] == [None, ",d"]


def test_audit_trail_names_the_command_line_and_a_demo_reset_in_chinese(fresh_env: Demo) -> None:
    """`fapiao demo` writes a demo_reset event by cli:<login>; the trail showed "cli", "cli:root",
    "store:embedded:…" and "wiped: nothing". The detail is the coded note serve.py writes (demo_wiped); an
    event stored before details had codes is shown as written."""
    store = EmbeddedStore(fresh_env.path)
    audit.record(store, None, "demo_reset", "store:embedded:/tmp/old", "wiped: nothing", actor="cli:ops")
    audit.record(store, None, "demo_reset", "store:embedded:/tmp/x", Note("demo_wiped"), actor="cli:ops")
    audit.record(store, None, "demo_reset", "store:embedded:/tmp/y", Note("demo_wiped", {"users": 2, "cases": 1}),
                 actor="cli:ops")
    store.close()
    at = open_page(fresh_env, "supervisor", "audit", actor="cli:ops")
    frame = at.dataframe[0].value
    assert list(frame["操作人"]) == ["命令行（ops）"] * 3
    assert list(frame["角色"]) == ["命令行"] * 3
    assert list(frame["对象"]) == ["数据库 embedded:/tmp/y", "数据库 embedded:/tmp/x", "数据库 embedded:/tmp/old"]
    assert list(frame["详情"]) == ["清除：用户 2 个、案件 1 件", "清除：无", "wiped: nothing"]


def test_audit_trail_names_every_role_of_a_user_with_two(fresh_env: Demo) -> None:
    store = EmbeddedStore(fresh_env.path)
    audit.record_many(store, [("duo", "investigator,supervisor", "sign_in", "user:duo", "")])
    store.close()
    at = open_page(fresh_env, "supervisor", "audit", actor="duo")
    assert list(at.dataframe[0].value["角色"]) == ["调查员、审核主管"]


def test_access_denied_names_the_roles_in_chinese(app_env: Demo) -> None:
    """An admin opening /rings read 无权访问：…之一：analyst, investigator, supervisor。"""
    import time
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    screens = Path(__file__).resolve().parents[2] / "workbench" / "ui" / "screens"
    at = AppTest.from_file(str(screens / "rings.py"), default_timeout=60)
    at.session_state["fapiao_user"] = app_env.users["admin"]
    at.session_state["fapiao_signed_in_at"] = time.time()
    at.run()
    errors = [e.value for e in at.error]
    assert errors == ["无权访问：此页面需要以下角色之一：分析员、调查员、审核主管。"], errors


def test_audit_trail_words_an_import_and_a_report(fresh_env: Demo) -> None:
    """The trail showed read=3 loaded=2 rejected=1 skipped_identical=0 and period:2025-06-01..2025-06-30.
    The import is a real upload (workbench.imports writes the coded import_counts note)."""
    from workbench.imports import Upload, import_uploads

    store = EmbeddedStore(fresh_env.path)
    s, b = tax_id(101), tax_id(102)
    rows = [f"8800003{i},044031900111,2024-05-0{i + 1},{s},上传甲公司,{b},上传乙公司,1000.00,130.00,"
            f"{'1130.00' if i < 2 else '9999.00'},0.13,normal" for i in range(3)]
    body = ("invoice_number,invoice_code,issue_date,seller_tax_id,seller_name,buyer_tax_id,buyer_name,amount,"
            "tax_amount,total_amount,tax_rate,status\n" + "\n".join(rows) + "\n").encode()
    import_uploads(store, fresh_env.users["admin"], [Upload("bureau.csv", body)])
    audit.record(store, None, "report", "period:2025-06-01..2025-06-30", "html", actor="cli:ops")
    store.close()
    frame = open_page(fresh_env, "supervisor", "audit").dataframe[0].value
    assert list(frame["详情"])[:2] == ["HTML", "读取 3 行，入库 2 张，拒收 1 行，重复跳过 0 行"]
    assert list(frame["对象"])[:2] == ["期间 2025-06-01..2025-06-30", "bureau.csv"]


def test_ring_and_counterparty_totals_are_yuan_numbers_that_sort(app_env: Demo) -> None:
    """The rings list and the profile's counterparties showed ¥1,234.00 / ¥12.35万 / ¥1.20亿 strings: a click
    on the header sorted them as text."""
    at = open_page(app_env, "investigator", "rings")
    frame = at.dataframe[0].value
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["金额合计（元）"]["type_config"]["format"] == "accounting"
    store = EmbeddedStore(app_env.path)
    rings = {r.ring_id: r for r in store.rings()}
    store.close()
    ring = app_env.ring
    shown = frame.set_index("编号").loc[ring.ring_id, "金额合计（元）"]
    fen = sum(int(i["total_fen"]) for i in app_env.invoices if f"{i['code']}-{i['number']}" in set(rings[ring.ring_id].invoice_keys))  # type: ignore[call-overload]
    assert fen > 0 and shown == fen / 100
    profile = open_page(app_env, "investigator", "taxpayer", tax_id=ring.members[0])
    cp = next(df for df in profile.dataframe if "方向" in df.value.columns)
    assert cp.value["金额合计（元）"].dtype.kind == "f" and (cp.value["金额合计（元）"] > 0).all()
    assert json.loads(cp.proto.columns)["金额合计（元）"]["type_config"]["format"] == "accounting"


def test_an_empty_watch_list_says_so_instead_of_an_empty_colon(app_env: Demo) -> None:
    """The subscriptions showed "关注 0 家：" followed by nothing."""
    at = open_page(app_env, "investigator", "alerts")
    captions = [str(c.value) for c in at.caption]
    assert not [c for c in captions if c.startswith("关注 0 家")], captions
    assert any(c.startswith("尚未关注任何纳税人") for c in captions), captions

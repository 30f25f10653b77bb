"""Issue 18: tables leave the workbench only through audited, permissioned export buttons; names render
as plain text in headers; a made case file is not served after sign-out."""

from __future__ import annotations

import io
import tomllib
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from graph.core.errors import PermissionDenied
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import XSS_NAME, Demo
from workbench import audit
from workbench.auth import User
from workbench.cli.serve import streamlit_command
from workbench.data_export import export_table, extract
from workbench.ui.state import get_store

ROOT = Path(__file__).resolve().parents[2]
FRAME = pd.DataFrame({"tax_id": ["91310000MA1FL00011"], "name": ["=HYPERLINK(\"http://x\")"],
                      "total_fen": [123456789], "tax_fen": [-5]})


@pytest.mark.checkout
def test_streamlit_table_download_is_off() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["disableDataExport"] is True          # was: every role could download any table
    cmd = streamlit_command(8501, "127.0.0.1")
    assert cmd[cmd.index("--client.disableDataExport") + 1] == "true"


def test_extract_is_formula_safe_in_yuan_with_chinese_headers() -> None:
    out = extract(FRAME)
    assert list(out.columns) == ["纳税人识别号", "纳税人名称", "价税合计（元）", "税额（元）"]
    assert out.iloc[0]["纳税人名称"].startswith("'=")             # was: formula cells unescaped
    assert str(out.iloc[0]["价税合计（元）"]) == "1234567.89" and str(out.iloc[0]["税额（元）"]) == "-0.05"


def test_export_needs_export_data_and_is_audited(fresh_env: Demo) -> None:
    store = get_store()
    with pytest.raises(PermissionDenied):
        export_table(store, User("inv", ("investigator",)), FRAME, "rings", "csv")
    analyst = User("ana", ("analyst",))
    data = export_table(store, analyst, FRAME, "rings", "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet["B1"].value == "纳税人名称"
    csv_bytes = export_table(store, analyst, FRAME, "rings", "csv")
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and b"'=HYPERLINK" in csv_bytes
    events = audit.events(store, action="data_export", limit=2)
    assert [e.actor for e in events] == ["ana", "ana"] and "rows" in events[0].detail


def test_export_buttons_only_for_analysts(fresh_env: Demo) -> None:
    analyst = open_page(fresh_env, "analyst", "rings")
    assert any("导出 CSV" in b.label for b in analyst.button)
    investigator = open_page(fresh_env, "investigator", "rings")
    assert not any("导出" in b.label for b in investigator.button)


def test_names_in_headers_are_plain_text(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "taxpayer", tax_id=app_env.xss_id)
    headers = [h.value for h in at.header]
    assert headers and all(h != XSS_NAME for h in headers)          # escaped, so it renders as typed
    assert any("\\<script\\>" in h for h in headers)


def test_sign_out_drops_made_case_files(app_env: Demo) -> None:
    at = open_page(app_env, "analyst")
    at.session_state["case_export_bytes"] = ("c.zip", b"PK")
    next(b for b in at.sidebar.button if b.label == "退出登录").click().run()
    assert "case_export_bytes" not in at.session_state            # was: the link outlived the session


def _export_keys(at: object) -> set[str]:
    return {str(b.key) for b in at.button if str(b.key or "").startswith("export_")}  # type: ignore[attr-defined]


def test_every_data_table_of_the_taxpayer_page_has_export_buttons(app_env: Demo) -> None:
    at = open_page(app_env, "analyst", "taxpayer", tax_id=app_env.shared_phone[0])
    keys = _export_keys(at)
    for what in ("counterparties", "invoices_issued", "invoices_received", "shared_identifiers", "features"):
        assert {f"export_{what}_csv", f"export_{what}_xlsx"} <= keys, what   # was: only rings and explorer invoices
    assert not _export_keys(open_page(app_env, "investigator", "taxpayer", tax_id=app_env.shared_phone[0]))


def test_ring_invoices_export_as_xlsx_with_yuan_and_local_times(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "analyst", "rings", ring=fresh_env.ring.ring_id)
    next(b for b in at.button if b.key == "export_ring_invoices_xlsx").click().run()
    assert not at.exception
    digest, data = at.session_state["export_ring_invoices_xlsx_bytes"]
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
    by_number = {str(i["number"]): i for i in fresh_env.invoices}
    assert len(rows) == len(fresh_env.ring.invoice_keys)
    for r in rows:
        inv = by_number[str(r["发票号码"])]
        assert Decimal(str(r["价税合计（元）"])) == Decimal(int(inv["total_fen"])).scaleb(-2)  # type: ignore[call-overload]
        assert r["开票时间"] == inv["issued_at"].replace(tzinfo=None)  # type: ignore[attr-defined]
        assert r["状态"] == "正常"


def test_a_made_file_is_not_offered_for_another_table(fresh_env: Demo) -> None:
    a, b = fresh_env.shared_phone
    at = open_page(fresh_env, "analyst", "taxpayer", tax_id=a)
    next(x for x in at.button if x.key == "export_counterparties_csv").click().run()
    assert any(d.key == "export_counterparties_csv_download" for d in at.get("download_button"))
    at.text_input(key="tp_query").input(b).run()
    assert not any(d.key == "export_counterparties_csv_download" for d in at.get("download_button"))

"""Import: upload with a size cap, validation report with rejected rows, audited; detection run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, tax_id
from workbench.ui import views

HEADER = ("invoice_number,invoice_code,issue_date,seller_tax_id,seller_name,buyer_tax_id,buyer_name,"
          "amount,tax_amount,total_amount,tax_rate,status\n")


def _csv(rows: list[str]) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode("utf-8")


def test_upload_loads_good_rows_and_reports_the_bad_one(fresh_env: Demo) -> None:
    s, b = tax_id(101), tax_id(102)
    good = f"88000001,044031900111,2024-05-06,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,0.13,normal"
    bad = f"88000002,044031900111,2024-05-07,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,9999.00,0.13,normal"
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("up.csv", _csv([good, bad]), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["读取"], metrics["导入"], metrics["拒收"]) == ("2", "1", "1")
    assert "total_mismatch" in at.dataframe[0].value.iloc[:, 0].tolist()
    assert at.get("download_button")
    store = EmbeddedStore(fresh_env.path)
    assert store.taxpayer(s) is not None and store.counts().invoices == len(fresh_env.invoices) + 1
    assert [e.action for e in store.audit_events()][-1] == "import_data"
    store.close()
    assert any("未做快速更新" in c.value for c in at.caption)   # no exact run yet: said, not silent


def test_upload_over_the_size_limit_is_refused(fresh_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_UPLOAD_MAX_MB", "0")
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("big.csv", _csv(["x"] * 10), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert any("超过上限" in e.value for e in at.error)
    store = EmbeddedStore(fresh_env.path)
    assert store.counts().invoices == len(fresh_env.invoices)
    store.close()


def test_admin_runs_detection_from_the_page_and_it_is_audited(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "admin", "import_data")
    runs_before = len(EmbeddedStore(fresh_env.path).runs())
    next(b for b in at.button if b.label == "运行检测").click().run()
    assert any("检测完成" in s.value for s in at.success), [e.value for e in at.error]
    store = EmbeddedStore(fresh_env.path)
    assert len(store.runs()) == runs_before + 1
    last = store.audit_events()[-1]     # written by run_detection with its findings, in their transaction
    assert (last.action, last.actor, last.target) == ("detect", "admin", f"run:{store.runs()[0].run_id}")
    assert views.audit_detail_zh(last.action, last.detail).startswith("发现 "), last.detail   # coded, worded
    store.close()


def test_detection_options_on_the_page_are_the_params_fields(fresh_env: Demo) -> None:
    from algorithms.params import specs

    at = open_page(fresh_env, "admin", "import_data")
    for f, _ in specs():
        assert at.number_input(key=f"imp_{f.name}").value == f.default, f.name
    at.number_input(key="imp_window_days").set_value(45)
    next(b for b in at.button if b.label == "运行检测").click().run()
    assert any("检测完成" in s.value for s in at.success), [e.value for e in at.error]
    store = EmbeddedStore(fresh_env.path)
    assert any(r.params["window_days"] == 45 for r in store.runs())
    store.close()


def test_a_bureau_export_reports_its_skipped_rows_and_severities_in_chinese(fresh_env: Demo) -> None:
    """Seen importing a bureau-style CSV (title row, 合计 row) in the demo: the report's notes were English
    ("header found on row 2; 1 row(s) above it skipped …", "originals kept as evidence in …") and the
    severity column said error."""
    s, b = tax_id(101), tax_id(102)
    text = ("增值税发票明细导出,,,,,,,,,,\n"
            "发票代码,发票号码,开票日期,销方税号,销方名称,购方税号,购方名称,金额,税额,价税合计,税率\n"
            f"044031900111,88000011,2024年5月6日,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,13%\n"
            f"044031900111,8800012,2024-05-07,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,13%\n"
            "合计,,,,,,,2000.00,260.00,2260.00,\n")
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("bureau.csv", text.encode("utf-8"), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    notes = [c.value.replace("\\", "") for c in at.caption]
    assert any(n.startswith("标题行在第 2 行，跳过其上 1 行") for n in notes), notes
    assert any(n.startswith("跳过末尾合计行 1 行") for n in notes), notes
    assert not [n for n in notes if "skipped" in n or "kept as" in n], notes
    assert any(n.startswith("原件已作为证据存档：") for n in notes), notes
    assert set(at.dataframe[0].value["级别"]) == {"错误（拒收）"}


def test_import_notes_in_chinese_by_code_and_older_text_as_written() -> None:
    from graph.core.notes import Note
    from workbench.ui.views import import_note_zh

    counts = Note("file_counts", {"read": 1200, "loaded": 1100, "rejected": 100, "quarantine": "/q/a.csv"})
    assert import_note_zh(counts.within(file="a.csv")) == "a.csv：读取 1,200 行，入库 1,100 张，拒收 100 行（隔离文件：/q/a.csv）"
    assert import_note_zh(Note("total_rows_skipped", {"rows": 2}).within(sheet="发票")) == "工作表 '发票'：跳过末尾合计行 2 行"
    assert import_note_zh(Note("sheet_empty").within(sheet="S1").within(file="x.zip/b.xlsx")) == \
        "x.zip/b.xlsx：工作表 'S1'：空表，已跳过"
    assert import_note_zh(Note("scans_held", {"count": 3}).to_json()) == "3 张扫描件待复核（见“扫描件复核”页）"
    assert import_note_zh("something new: 12") == "something new: 12"   # text from before notes had codes
    assert import_note_zh("3 scanned invoice(s) held for review") == "3 scanned invoice(s) held for review"


def test_a_two_file_upload_names_each_file_in_chinese(fresh_env: Demo) -> None:
    """Two files load as one folder: the report's per-file counts and notes come from the loader's coded notes
    (file_counts, header_row_found placed in a file) and read in Chinese, each after its file's name."""
    s, b = tax_id(101), tax_id(102)
    one = _csv([f"88000021,044031900111,2024-05-06,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,0.13,normal"])
    two = ("发票清单\n".encode() + _csv([
        f"88000022,044031900111,2024-05-07,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,0.13,normal",
        f"88000023,044031900111,2024-05-08,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,9999.00,0.13,normal"]))
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value([("一.csv", one, "text/csv"), ("二.csv", two, "text/csv")])
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    notes = [c.value.replace("\\", "") for c in at.caption]
    assert "一.csv：读取 1 行，入库 1 张，拒收 0 行" in notes, notes
    assert any(n.startswith("二.csv：读取 2 行，入库 1 张，拒收 1 行（隔离文件：") for n in notes), notes
    assert "二.csv：标题行在第 2 行，跳过其上 1 行（'发票清单'）" in notes, notes
    assert not [n for n in notes if "read" in n or "skipped" in n or "header" in n], notes


def test_a_workbook_upload_words_its_sheet_notes_in_chinese(fresh_env: Demo, tmp_path: Path) -> None:
    """A bureau workbook (two invoice sheets with a title and a 合计 row each, an item sheet): every note the
    loader writes about its sheets reads in Chinese after the sheet's name, none is left in English."""
    from tests.ingest.bureau import bureau_rows, write_bureau_xlsx

    path = write_bureau_xlsx(tmp_path / "全量发票查询.xlsx", bureau_rows(6), sheets=2)
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("全量发票查询.xlsx", path.read_bytes(),
                                                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    notes = [c.value.replace("\\", "") for c in at.caption]
    assert "工作表 '发票明细信息'：货物明细，按发票代码和号码并入发票" in notes, notes
    assert "已读取工作表：'发票基础信息1', '发票基础信息2'" in notes, notes
    for sheet in ("发票基础信息1", "发票基础信息2"):
        assert any(n.startswith(f"工作表 '{sheet}'：标题行在第 3 行，跳过其上 2 行") for n in notes), notes
        assert f"工作表 '{sheet}'：跳过末尾合计行 1 行" in notes, notes
    assert not [n for n in notes if re.search(r"\b(sheet|skipped|header|read|rows?)\b", n)], notes


def test_an_upload_after_a_detection_run_answers_with_a_fast_update(fresh_env: Demo) -> None:
    """After an exact run left its calibration, an upload that stores invoices re-scores their taxpayers at once
    (快速更新, provisional), says so on the page, and is audited after the import; no run is added."""
    at = open_page(fresh_env, "admin", "import_data")
    next(b for b in at.button if b.label == "运行检测").click().run()
    assert any("检测完成" in s.value for s in at.success), [e.value for e in at.error]
    runs = len(EmbeddedStore(fresh_env.path).runs())
    s, b = tax_id(101), tax_id(102)
    row = f"88000011,044031900111,2024-05-06,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,0.13,normal"
    at.file_uploader(key="imp_invoices").set_value(("fast.csv", _csv([row]), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [info] = [i.value for i in at.info if "快速更新（暂定）" in i.value]
    assert re.search(r"2 户重新评分", info), info
    store = EmbeddedStore(fresh_env.path)
    assert len(store.runs()) == runs
    assert [e.action for e in store.audit_events()][-2:] == ["import_data", "fast_update"]
    store.close()

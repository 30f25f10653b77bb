"""Coded notes (graph.core.notes): every code has a Chinese and an English wording, pinned here; every code a
producer writes is one of them; stored JSON reads back; text stored before notes had codes stays as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from graph.core.notes import SIGN_IN_REASONS, WORDINGS, Note, en_text, zh_text

#: code → (values, Chinese wording); a code added to WORDINGS without a row here fails test_every_code_is_pinned
SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "header_row_found": ({"row": 3, "skipped": 2, "shown": ["增值税发票明细", "导出日期 2024-05-01"]},
                         "标题行在第 3 行，跳过其上 2 行（'增值税发票明细'；'导出日期 2024-05-01'）"),
    "total_rows_skipped": ({"rows": 1, "shown": "合计 2000.00"}, "跳过末尾合计行 1 行（'合计 2000.00'）"),
    "stray_quote": ({"line": 12}, "第 12 行的引号在本行没有闭合（会吞掉其后各行）：从该行起不按引号读取"),
    "einvoice_files_read": ({"read": 3, "refused": 1}, "读取电子发票文件 3 个，拒收 1 个"),
    "scans_held": ({"count": 2}, "2 张扫描件待复核（见“扫描件复核”页）"),
    "alert_raised": ({"rule": "new_high", "user": "supervisor", "subject": "taxpayer:91440300000000001H"},
                     "新增高风险纳税人 → supervisor：纳税人 91440300000000001H"),
    "scan_review": ({"file": "扫描件1.png", "fields": ["tax_amount", "invoice_code"], "olds": ["190.00", ""],
                     "news": ["130.00", "044031900111"], "still_fails": ["total_mismatch"]},
                    "扫描件1.png：更正 税额 190.00 → 130.00；发票代码 （空） → 044031900111；仍未通过校验：金额＋税额≠价税合计，待再次复核"),
    "sheets_read": ({"sheets": ["发票1", "发票2"]}, "已读取工作表：'发票1', '发票2'"),
    "sheet_empty": ({}, "空表，已跳过"),
    "sheet_item_lines": ({}, "货物明细，按发票代码和号码并入发票"),
    "sheet_no_header": ({}, "未找到发票标题行，已跳过"),
    "cells_right_ignored": ({}, "标题行最后一列右侧的单元格已忽略"),
    "item_sheet_refused": ({"error": "缺少列：发票号码"}, "货物明细表无法识别，各行均已拒收：缺少列：发票号码"),
    "file_counts": ({"read": 1200, "loaded": 1100, "rejected": 100, "quarantine": "q.csv"},
                    "读取 1,200 行，入库 1,100 张，拒收 100 行（隔离文件：q.csv）"),
    "evidence_kept": ({"folder": "/ws/evidence"}, "原件已作为证据存档：/ws/evidence"),
    "import_counts": ({"read": 3, "loaded": 2, "rejected": 1, "skipped_identical": 0},
                      "读取 3 行，入库 2 张，拒收 1 行，重复跳过 0 行"),
    "load_counts": ({"read": 10, "loaded": 9, "rejected": 1, "taxpayers": 3},
                    "读取 10 行，入库 9 张，拒收 1 行，纳税人 3 户"),
    "demo_wiped": ({"users": 2, "cases": 1}, "清除：用户 2 个、案件 1 件"),
    "roles_granted": ({"roles": ["supervisor", "analyst"]}, "角色：审核主管、分析员"),
    "tier_changed": ({"before": "high", "after": "low", "reason": "核实为正常经营"}, "高风险 → 低风险：核实为正常经营"),
    "case_status_changed": ({"before": "open", "after": "investigating", "note": "已约谈"}, "新立案 → 调查中：已约谈"),
    "case_assigned": ({"before": "", "after": "ivan"}, "- → ivan"),
    "sign_in_refused": ({"reason": "demo_outside_demo"}, "演示用户只能在演示模式下登录"),
    "export_rows": ({"format": "xlsx", "rows": 1200}, "XLSX，1,200 行"),
    "detect_counts": ({"rings": 12, "labels": 3}, "发现 12 个团伙，使用已核实标签 3 个"),
    "fast_update_counts": ({"affected": 1549, "high": 2}, "重新评分 1,549 户，新增高风险 2 户"),
    "token_issued": ({"user": "api-bot", "role": "analyst"}, "用户 api-bot，角色 分析员"),
    "detection_run": ({"rings": 4, "scored": 1200}, "发现 4 个团伙，评分 1,200 户"),
    "disposition_recorded": ({"tax_id": "91440300000000001H", "label": "false_positive", "note": "正常经营"},
                             "91440300000000001H：误报：正常经营"),
    "sign_in_wait": ({"seconds": 30, "client": "10.0.0.8"}, "30 秒后可再试（客户端 10.0.0.8）"),
    "audit_head_signed": ({"seq": 1204}, "审计链头已签名（第 1,204 条事件）"),
    "delivery_attempt": ({"channel": "webhook", "target": "https://hooks.example.cn/x", "attempt": 2, "of": 3,
                          "error": "HTTP 500"}, "Webhook https://hooks.example.cn/x 第 2 次（共 3 次）：HTTP 500"),
    "alert_rule_changed": ({"enabled_before": "on", "enabled": "off", "roles_before": ["supervisor"],
                            "roles": ["supervisor", "investigator"], "params_before": ["min_score=0.0"],
                            "params": ["min_score=0.0"]},
                           "启用 → 停用；角色：审核主管 → 审核主管、调查员；阈值：min_score=0.0"),
    "appeal_against": ({"tax_id": "91440300000000001H", "against": "风险等级"},
                       "纳税人 91440300000000001H，申诉对象：风险等级"),
}


def test_every_code_is_pinned() -> None:
    assert set(SAMPLES) == set(WORDINGS)


@pytest.mark.parametrize("code", sorted(WORDINGS))
def test_each_code_reads_in_chinese_and_in_english(code: str) -> None:
    values, zh = SAMPLES[code]
    note = Note(code, values)
    assert note.zh() == zh
    en = note.en()
    parts = [p for v in values.values() for p in (v if isinstance(v, list) else [str(v)])]
    for part in sorted(parts, key=len, reverse=True):   # Chinese in English only where a value brings it
        en = en.replace(part, "")
    assert en.strip() and not re.search(r"[\u4e00-\u9fff]", en), note.en()
    assert Note.from_json(note.to_json()) == note


def test_every_code_a_producer_writes_has_a_wording() -> None:
    """Scans the packages for Note("<code>" …): a code without a wording would fail at run time. The packages
    as imported (a checkout, or the installed wheel of tools/wheel_check.sh, where the repository is not there)."""
    import importlib

    used: set[str] = set()
    for package in ("graph", "loaders", "workbench", "algorithms"):
        for path in Path(str(importlib.import_module(package).__file__)).parent.rglob("*.py"):
            used |= set(re.findall(r"\bNote\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert used, "no producer found: the scan is broken"
    assert used <= set(WORDINGS), sorted(used - set(WORDINGS))


def test_optional_values_and_places() -> None:
    assert Note("total_rows_skipped", {"rows": 2}).zh() == "跳过末尾合计行 2 行"
    assert Note("file_counts", {"read": 1, "loaded": 1, "rejected": 0, "quarantine": ""}).zh() == \
        "读取 1 行，入库 1 张，拒收 0 行"
    assert Note("header_row_found", {"row": 2, "skipped": 1, "shown": []}).zh() == "标题行在第 2 行，跳过其上 1 行（空行）"
    assert Note("demo_wiped").zh() == "清除：无" and Note("demo_wiped").en() == "wiped: nothing"
    placed = Note("sheet_empty").within(sheet="S1").within(file="x.zip/b.xlsx")
    assert placed.zh() == "x.zip/b.xlsx：工作表 'S1'：空表，已跳过"
    assert placed.en() == "x.zip/b.xlsx: sheet 'S1': empty, skipped"
    assert placed.as_dict() == {"code": "sheet_empty", "file": "x.zip/b.xlsx", "sheet": "S1"}


def test_every_sign_in_reason_reads_in_chinese() -> None:
    for reason, (zh, en) in SIGN_IN_REASONS.items():
        note = Note("sign_in_refused", {"reason": reason})
        assert (note.zh(), note.en()) == (zh, en) and re.search(r"[\u4e00-\u9fff]", zh)


def test_stored_text_from_before_codes_and_unknown_codes_stay_as_written() -> None:
    for text in ("read=3 loaded=2 rejected=1 skipped_identical=0", "wiped: nothing", "{not json",
                 '{"code": "no_such_code", "n": 1}', '["a"]', "", '{"code": "header_row_found"}'):
        assert zh_text(text) == text and en_text(text) == text


def test_a_code_without_a_wording_is_refused() -> None:
    with pytest.raises(ValueError, match="no_such_code"):
        Note("no_such_code")

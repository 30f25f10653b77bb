"""The spreadsheet reader's cells as text: numbers, dates, merged cells, blank rows, a cell right of the header."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

from loaders.excel import read_item_sheets, read_spreadsheet

KNOWN = {"发票号码", "价税合计", "开票日期", "备注"}


def _holds(header: list[str]) -> bool:
    return "发票号码" in header


def _workbook(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "发票"
    ws.append(["全量发票查询导出"])
    ws.append(["导出时间：2024-04-01\u3000查询条件：全部"])
    ws.append(["发票号码", "价税合计", "开票日期", "备注"])
    ws.append(["00000001", 12000.0, datetime(2024, 3, 5, 9, 30), "甲"])
    ws.append([2, 12.5, "2024年03月06日", True])
    ws.append([None, None, None, None])                       # a blank row inside the body
    ws.append(["00000003", 7, "2024-03-07", None, "右侧备注"])  # a cell right of the header
    ws.append(["00000004", 1, "2024-03-08", "合并"])
    ws.append(["00000005", 2, "2024-03-09", None])
    ws.merge_cells("D8:D9")                                   # a merged body cell: both rows get its value
    ws.merge_cells("A1:D1")                                   # the title, merged across the header's width
    ws.append(["合计", 12022.5, None, None])
    items = wb.create_sheet("发票明细")
    items.append(["发票号码", "价税合计"])
    items.append([1, 3.0])
    wb.save(path)
    return path


def test_cells_read_as_text_by_column(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "x.xlsx")
    table, notes = read_spreadsheet(path, sheet=None, known=KNOWN, holds_invoices=_holds)
    rows = table.to_pylist()
    assert [r["发票号码"] for r in rows] == ["00000001", "2", "00000003", "00000004", "00000005"]
    assert [r["价税合计"] for r in rows] == ["12000", "12.5", "7", "1", "2"]
    assert rows[0]["开票日期"] == "2024-03-05 09:30:00"
    assert rows[1]["开票日期"] == "2024年03月06日"
    # a merged body cell fills every row it spans
    assert [r["备注"] for r in rows] == ["甲", "true", "", "合并", "合并"]
    kinds = [n.code for n in notes]
    assert "total_rows_skipped" in kinds
    [found] = [n for n in notes if n.code == "header_row_found"]
    # the merged title once, not once per column; an ideographic space as a plain one (not quoted as \u3000)
    assert found.values["shown"] == ["全量发票查询导出", "导出时间：2024-04-01 查询条件：全部"]
    # the sheet is as wide as its widest row: the cell right of the header gets a column of its own
    assert [r["column_5"] for r in rows] == ["", "", "右侧备注", "", ""]


def test_item_sheet_cells_as_text(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "x.xlsx")
    [(name, table)] = read_item_sheets(path, known=KNOWN)
    assert name == "发票明细"
    assert table.to_pylist() == [{"发票号码": "1", "价税合计": "3", "__record__": 2}]

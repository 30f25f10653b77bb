"""Files shaped like real inputs, generated for the tests (no checked-in binaries).

:func:`bureau_rows` are invoices as the 电子税务局 全量发票查询 export shows them: Chinese headers with unit
suffixes and line breaks, thousands separators, percent rates, Chinese dates, Chinese status and type
words, 发票号码 and 数电票号码 in separate columns. The writers add the title rows above the header
and the 合计 row below, as the bureau's files have them.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

#: Valid unified social credit codes (GB 32100-2015 check characters hold).
TAX_IDS = ("91350200776049653A", "91350503MA31DKY80A", "91350200MA31E12PXF", "91440101MA5CJQ4N59",
           "913502000728319549", "123502001549897397")
NAMES = ("厦门鹭江贸易有限公司", "厦门海沧物流有限公司", "厦门湖里机电有限公司", "广州天河软件有限公司",
         "厦门思明百货有限公司", "厦门市财政事务中心")
HEADER = ["序号", "发票代码", "发票号码", "数电票号码", "销方识别号", "销方名称", "购方识别号", "购买方名称",
          "开票日期", "金额（元）", "税额(元)", "价税合计\n(小写)", "税率", "发票来源", "发票票种", "发票状态",
          "是否正数发票", "发票风险等级", "开票人", "备注"]
TITLE = "全量发票查询导出结果"
NOTE = "导出时间：2024-04-01 10:00:00　查询条件：开票日期 2024-03-01 至 2024-03-31"
STATUSES = ("正常", "正常", "正常", "已红冲", "失控", "异常")


def _money(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def bureau_rows(n: int) -> list[dict[str, str]]:
    """``n`` invoices (every one valid) with the export's headers as keys."""
    rows = []
    for i in range(n):
        seller, buyer = i % len(TAX_IDS), (i + 1 + i // len(TAX_IDS)) % len(TAX_IDS)
        if seller == buyer:
            buyer = (buyer + 1) % len(TAX_IDS)
        digital = i % 2 == 0
        rate = (13, 6, 9, 3)[i % 4]
        amount = 1_200_000 + 3_700 * i
        tax = (amount * rate + 50) // 100
        day = 1 + i % 28
        date_text = (f"2024年03月{day:02d}日", f"2024/3/{day}", f"2024-03-{day:02d} 10:{i % 60:02d}:00")[i % 3]
        kind = ("数电票（增值税专用发票）" if i % 4 == 0 else "数电票（普通发票）") if digital else \
            ("增值税专用发票" if i % 3 else "增值税普通发票")
        status = "作废" if not digital and i % 7 == 3 else STATUSES[i % len(STATUSES)]
        rows.append({
            "序号": str(i + 1),
            "发票代码": "" if digital else "3502241130",
            "发票号码": "" if digital else f"{10_000_000 + i:08d}",
            "数电票号码": f"2435{i:016d}" if digital else "",
            "销方识别号": TAX_IDS[seller], "销方名称": NAMES[seller],
            "购方识别号": TAX_IDS[buyer], "购买方名称": NAMES[buyer],
            "开票日期": date_text,
            "金额（元）": _money(amount), "税额(元)": _money(tax), "价税合计\n(小写)": _money(amount + tax),
            "税率": f"{rate}%", "发票来源": "电子发票服务平台", "发票票种": kind, "发票状态": status,
            "是否正数发票": "是", "发票风险等级": "正常", "开票人": "张三", "备注": "",
        })
    return rows


def total_row(rows: list[dict[str, str]]) -> list[str]:
    def fen(col: str) -> int:
        return sum(int(round(float(r[col].replace(",", "")) * 100)) for r in rows)
    cells = [""] * len(HEADER)
    cells[0] = "合计"
    for col in ("金额（元）", "税额(元)", "价税合计\n(小写)"):
        cells[HEADER.index(col)] = _money(fen(col))
    return cells


def write_bureau_csv(path: Path, rows: list[dict[str, str]], *, encoding: str = "gbk") -> Path:
    """The export as the bureau's CSV download: a title line, a note, a blank line, the header, the
    invoices and a 合计 line, in GBK."""
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow([TITLE])
        w.writerow([NOTE])
        w.writerow([])
        w.writerow(HEADER)
        w.writerows([[r[h] for h in HEADER] for r in rows])
        w.writerow(total_row(rows))
    return path


def write_bureau_xlsx(path: Path, rows: list[dict[str, str]], *, sheets: int = 1, item_sheet: bool = True) -> Path:
    """The export as the bureau's xlsx: a merged title row, a note row, the header (line breaks in the
    cells), date cells as real dates for some rows, a 合计 row; ``sheets`` > 1 splits the invoices over
    several sheets; ``item_sheet`` adds a 发票明细 sheet of item lines (not invoices)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws0 = wb.active
    assert ws0 is not None
    per = -(-len(rows) // sheets)
    for s in range(sheets):
        ws = ws0 if s == 0 else wb.create_sheet()
        ws.title = "发票基础信息" if sheets == 1 else f"发票基础信息{s + 1}"
        part = rows[s * per:(s + 1) * per]
        ws.append([TITLE])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
        ws.append([NOTE])
        ws.append(HEADER)
        for r in part:
            cells: list[object] = [r[h] for h in HEADER]
            if r["开票日期"].startswith("2024-") and int(r["序号"]) % 2:
                cells[HEADER.index("开票日期")] = datetime.strptime(r["开票日期"], "%Y-%m-%d %H:%M:%S")
            ws.append(cells)
        ws.append(total_row(part))
    if item_sheet:
        items = wb.create_sheet("发票明细信息")
        items.append(["数电票号码", "发票代码", "发票号码", "销方识别号", "销方名称", "购方识别号", "购买方名称",
                      "开票日期", "货物或应税劳务名称", "数量", "单价", "金额", "税率", "税额", "价税合计"])
        for r in rows:
            items.append([r["数电票号码"], r["发票代码"], r["发票号码"], r["销方识别号"], r["销方名称"],
                          r["购方识别号"], r["购买方名称"], r["开票日期"], "*信息技术服务*软件开发", "1",
                          r["金额（元）"], r["金额（元）"], r["税率"], r["税额(元)"], r["价税合计\n(小写)"]])
    wb.save(path)
    return path

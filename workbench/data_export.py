"""Data extracts (analysts, ``export_data``): a table as formula-safe CSV or as xlsx, amounts in 元 with
Chinese headers, each export audited. Streamlit's own table download is switched off
(``client.disableDataExport``), so these are the only way a table leaves the workbench."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from graph.core.notes import Note
from graph.store import Store
from loaders.safe_csv import neutralise
from workbench import audit
from workbench.auth import User, require

#: column name -> Chinese header used in extracts (columns not listed keep their header)
HEADERS_ZH: dict[str, str] = {
    "tax_id": "纳税人识别号", "name": "纳税人名称", "tier": "风险等级", "score": "风险评分", "reasons": "原因",
    "invoice_number": "发票号码", "invoice_code": "发票代码", "issued_at": "开票时间",
    "seller_tax_id": "销方识别号", "buyer_tax_id": "购方识别号", "amount_fen": "金额（元）",
    "tax_fen": "税额（元）", "total_fen": "价税合计（元）", "status": "状态", "ring_id": "团伙编号",
    "seller_name": "销方名称", "buyer_name": "购方名称", "rate": "税率", "item": "货物或服务",
    "kind": "类型", "members": "成员数", "invoices": "发票数", "first": "最早开票", "last": "最晚开票",
    "title": "名称",
}


def _yuan(fen: Any) -> Any:
    """Integer fen as an exact 元 Decimal with two places (a number, never text a sheet could run)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        return fen
    return Decimal(fen).scaleb(-2)


def extract(frame: pd.DataFrame, headers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The table as exported: ``*_fen`` columns in 元, Chinese headers, text cells formula-safe."""
    names = {**HEADERS_ZH, **(headers or {})}
    out = pd.DataFrame()
    for col in frame.columns:
        values = frame[col].tolist()
        if str(col).endswith("_fen"):
            values = [_yuan(int(v)) if pd.notna(v) else "" for v in values]
        out[names.get(str(col), str(col))] = [neutralise(v) if isinstance(v, str) else v for v in values]
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([neutralise(str(c)) for c in frame.columns])
    w.writerows(frame.itertuples(index=False, name=None))
    return buf.getvalue().encode("utf-8-sig")   # BOM: Excel shows Chinese


def to_xlsx(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        frame.to_excel(xw, index=False, sheet_name="导出")
    return buf.getvalue()


def export_table(store: Store, user: User | None, frame: pd.DataFrame, what: str, fmt: str,
                 headers: Mapping[str, str] | None = None) -> bytes:
    """Bytes of an extract of ``frame`` (``fmt`` ``csv`` or ``xlsx``) for ``user`` (needs ``export_data``);
    audited as ``data_export`` with the table name and row count."""
    require(user, "export_data")
    table = extract(frame, headers)
    data = to_csv(table) if fmt == "csv" else to_xlsx(table)
    audit.record(store, user, "data_export", f"table:{what}", Note("export_rows", {"format": fmt, "rows": len(table)}))
    return data

"""The workbench's page registry: one entry per page with the permission it needs (see auth.PERMISSIONS).

app.py builds ``st.navigation`` from this list, showing each user only the pages their roles allow;
every page checks the same action again on the server side before rendering.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str        # file under workbench/ui/screens/ (not "pages/": that name turns on Streamlit's old multipage mode)
    title_zh: str
    title_en: str
    action: str      # auth.PERMISSIONS key required to open it
    icon: str = ""


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview.py", "总览", "Overview", "view_overview", ":material/dashboard:"),
    PageSpec("alerts.py", "提醒", "Alerts", "view_alerts", ":material/notifications:"),
    PageSpec("risk_queue.py", "风险队列", "Risk queue", "view_risk_queue", ":material/priority_high:"),
    PageSpec("rings.py", "团伙", "Rings", "view_rings", ":material/hub:"),
    PageSpec("explorer.py", "网络探索", "Network explorer", "view_network", ":material/travel_explore:"),
    PageSpec("taxpayer.py", "纳税人画像", "Taxpayer profile", "view_taxpayer", ":material/business:"),
    PageSpec("cases.py", "案件", "Cases", "view_cases", ":material/folder_open:"),
    PageSpec("report.py", "期间报告", "Period report", "make_report", ":material/summarize:"),
    PageSpec("appeals.py", "申诉反馈", "Appeals", "record_appeal", ":material/feedback:"),
    PageSpec("invoice_check.py", "发票查验", "Invoice check", "check_invoice", ":material/receipt_long:"),
    PageSpec("import_data.py", "数据导入", "Import", "import_data", ":material/upload_file:"),
    PageSpec("ocr_review.py", "扫描件复核", "OCR review", "review_scans", ":material/document_scanner:"),
    PageSpec("audit.py", "审计日志", "Audit trail", "view_audit", ":material/policy:"),
    PageSpec("users.py", "用户管理", "Users", "manage_users", ":material/group:"),
)

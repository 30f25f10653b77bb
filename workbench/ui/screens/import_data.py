"""数据导入 Import (administrators): upload invoice / taxpayer files, see the validation report, download
the quarantine, run detection. Every action is written to the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from algorithms.params import DetectionParams, is_int, specs
from graph.core import settings
from graph.core.errors import FapiaoError
from graph.core.notes import en_text
from workbench.audit import record
from workbench.auth import allowed
from workbench.fmt import plain
from workbench.imports import Upload, fast_update_after, import_uploads
from workbench.ui.exports import table
from workbench.ui.i18n import lang, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store
from workbench.ui.views import import_note_zh

#: loaders.rules severities in words: an error rejects the row, a warning loads it flagged
SEVERITIES = {"error": ("错误（拒收）", "error (rejected)"), "warning": ("警告（已导入）", "warning (loaded)")}

user = require_page("import_data")
store = get_store()
MAX_MB = settings.get_int("FAPIAO_UPLOAD_MAX_MB")
TYPES = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "ods", "json", "jsonl", "parquet", "gz", "zip",
         "xml", "ofd", "pdf", "png", "jpg", "jpeg", "tif", "tiff"]
st.title(tr("数据导入", "Import"))


st.caption(tr(f"支持税务局导出的 CSV / Excel（标题行、合计行自动跳过）、JSON、Parquet、.gz / .zip，以及电子发票文件"
              f"（数电 XML、OFD、PDF）和扫描件（图片，识别后待复核）；可一次选多个文件；单个文件不超过 {MAX_MB} MB。",
              f"Tax-bureau CSV / Excel exports (title and total rows are skipped), JSON, Parquet, .gz / .zip, e-invoice "
              f"files (数电 XML, OFD, PDF) and scans (images; held for review after OCR); several files at once; at "
              f"most {MAX_MB} MB each."))
with st.form("imp_form"):
    inv_files = st.file_uploader(tr("发票文件（必需，可多选）", "Invoices (required; several allowed)"), type=TYPES,
                                 key="imp_invoices", accept_multiple_files=True)
    tp_file = st.file_uploader(tr("纳税人文件（可选）", "Taxpayers (optional)"), type=TYPES, key="imp_taxpayers")
    c1, c2 = st.columns(2)
    encoding = c1.text_input(tr("文本编码（留空自动识别）", "Text encoding (empty = detect)"), key="imp_encoding")
    sheet = c2.text_input(tr("Excel 工作表（留空为所有发票工作表）", "Excel sheet (empty = every invoice sheet)"),
                          key="imp_sheet")
    load = st.form_submit_button(tr("校验并导入", "Validate and load"), type="primary")

if load:
    uploads = [Upload(up.name, up.getvalue()) for up in inv_files or []]
    try:
        with st.spinner(tr("正在校验并导入…", "Validating and loading…")):
            report = import_uploads(store, user, uploads,
                                    Upload(tp_file.name, tp_file.getvalue()) if tp_file is not None else None,
                                    encoding=encoding.strip() or None, sheet=sheet.strip() or None)
    except FapiaoError as e:
        st.error(str(e))
    else:
        st.session_state["imp_report"] = report
        with st.spinner(tr("快速更新风险等级…", "Fast update of the risk tiers…")):
            st.session_state["imp_fast"] = fast_update_after(store, report)
        st.cache_data.clear()

shown_report = st.session_state.get("imp_report")
if shown_report is not None:
    report = shown_report
    st.subheader(tr("校验报告", "Validation report"))
    m = st.columns(5)
    m[0].metric(tr("读取", "Read"), f"{report.read:,}")
    m[1].metric(tr("导入", "Loaded"), f"{report.loaded:,}")
    m[2].metric(tr("拒收", "Rejected"), f"{report.rejected:,}")
    m[3].metric(tr("重复（已跳过）", "Identical (skipped)"), f"{report.skipped_identical:,}")
    m[4].metric(tr("警告", "Warnings"), f"{report.warnings:,}")
    for line in report.notes:
        st.caption(plain(import_note_zh(line)) if lang() == "zh" else plain(en_text(line)))
    fast = st.session_state.get("imp_fast")
    if fast is not None:
        n, high, secs = len(fast.tiers()), len(fast.newly_high), fast.seconds.get("total", 0.0)
        st.info(tr(f"快速更新（暂定）：{n:,} 户重新评分，新增高风险 {high:,} 户，用时 {secs:.1f} 秒；按运行 {fast.based_on} 的校准"
                   f"暂定，请运行检测以确认。",
                   f"Fast update (provisional): {n:,} taxpayers re-scored, {high:,} newly high, {secs:.1f} s; with the "
                   f"calibration of run {fast.based_on}; run detection to confirm."))
    elif report.loaded and "imp_fast" in st.session_state:
        st.caption(tr("未做快速更新：本版本尚未运行过完整检测（无可用校准）；请运行检测。",
                      "No fast update: no exact run of this release has left a calibration yet; run detection."))
    if report.by_rule:
        from loaders.rules import RULES

        table(store, user, pd.DataFrame({
            tr("规则", "Rule"): list(report.by_rule),
            tr("说明", "Meaning"): [tr(RULES[r].zh, RULES[r].en) if r in RULES else r for r in report.by_rule],
            tr("级别", "Severity"): [term(SEVERITIES, RULES[r].severity) if r in RULES else "" for r in report.by_rule],
            tr("行数", "Rows"): list(report.by_rule.values()),
        }), "import_rules")
    q = Path(report.quarantine_path) if report.quarantine_path else None
    if q is not None and q.is_file():
        if st.download_button(tr("下载拒收行（隔离文件）", "Download the rejected rows (quarantine)"),
                              q.read_bytes(), file_name=q.name, key="imp_quarantine"):
            record(store, user, "download_quarantine", q.name)

st.divider()
st.subheader(tr("运行检测", "Run detection"))
if not allowed(user.roles, "run_detection"):
    st.caption(tr("您的角色不能运行检测。", "Your roles cannot run detection."))
else:
    with st.expander(tr("检测选项", "Detection options")):
        values: dict[str, Any] = {}
        cols = st.columns(3)
        for i, (f, s) in enumerate(specs()):      # one input per DetectionParams field: bounds and help from it
            whole = is_int(f)
            kw: dict[str, Any] = {"min_value": s.lo, "max_value": s.hi, "value": f.default, "help": s.help,
                                  "step": 1 if whole else 0.01, "format": None if whole else "%.2f",
                                  "placeholder": tr("不启用", "off") if s.off else None, "key": f"imp_{f.name}"}
            values[f.name] = cols[i % 3].number_input(tr(s.zh, s.flag.lstrip("-")), **kw)
    if st.button(tr("运行检测", "Run detection"), key="imp_detect"):
        from algorithms.kernel_cache import compile_note
        from workbench.detect import run_detection

        try:
            with st.spinner(tr("正在检测团伙并评分…", "Finding rings and scoring…") + (
                    f" {note}" if (note := compile_note()) else "")):
                params = DetectionParams(**{k: (int(v) if v is not None and is_int(f) else v)
                                            for (f, _), (k, v) in zip(specs(), values.items(), strict=True)})
                result = run_detection(store, params, user=user)   # audited with its findings, one transaction
        except FapiaoError as e:
            record(store, user, "run_detection_failed", "", str(e))
            st.error(str(e))
        else:
            st.cache_data.clear()
            st.success(tr(f"检测完成：{result.run.run_id}，发现 {len(result.rings)} 个团伙，评分 {result.scores.num_rows:,} 户。",
                          f"Done: {result.run.run_id}, {len(result.rings)} rings, {result.scores.num_rows:,} taxpayers scored."))

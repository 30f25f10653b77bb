"""发票查验 Invoice check: look up an invoice's status (number + date + amount), and self-check (自查)
an invoice typed in against the loader's rules, each problem in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import streamlit as st

from workbench.fmt import money_full, plain, when
from workbench.ui.i18n import INVOICE_STATUSES, term, tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("check_invoice")
store = get_store()
st.title(tr("发票查验", "Invoice check"))


def _fen(text: str) -> int | None:
    try:
        return int((Decimal(text.replace(",", "").replace("¥", "").strip()) * 100).to_integral_value())
    except InvalidOperation:
        return None


#: the self-check's fields (loaders' column names) as its form labels them
FIELD_NAMES = {"invoice_number": "发票号码", "invoice_code": "发票代码", "issue_date": "开票日期",
               "seller_tax_id": "销方税号", "seller_name": "销方名称", "buyer_tax_id": "购方税号",
               "buyer_name": "购方名称", "amount": "金额", "tax_rate": "税率", "tax_amount": "税额",
               "total_amount": "价税合计", "status": "状态", "red_ref": "红冲对应原票号码", "item_name": "货物或服务名称",
               "item_code": "商品编码", "invoice_type": "发票类型"}

lookup_tab, self_tab = st.tabs([tr("状态查验", "Status lookup"), tr("开票自查", "Self-check")])

with lookup_tab, st.form("ic_lookup"):
    c1, c2 = st.columns(2)
    number = c1.text_input(tr("发票号码（8位或20位）", "Invoice number (8 or 20 digits)"), key="ic_number").strip()
    code = c2.text_input(tr("发票代码（数电票留空）", "Invoice code (empty for 数电)"), key="ic_code").strip()
    issued_on = c1.date_input(tr("开票日期", "Issue date"), value=date.today(), key="ic_date")
    amount = c2.text_input(tr("金额或价税合计（元）", "Pre-tax amount or total (yuan)"), key="ic_amount")
    go = st.form_submit_button(tr("查验", "Check"))
if go:
    fen = _fen(amount)
    if not number or fen is None:
        lookup_tab.error(tr("请填写发票号码和有效金额。", "Please give the invoice number and a valid amount."))
    else:
        found = store.lookup_invoice(number, issued_on, fen, code=code or None)
        if found is None:
            lookup_tab.warning(tr("查无此票：号码、日期与金额不一致，或尚未导入。",
                                  "No such invoice: number, date and amount do not match, or it was not loaded."))
        else:
            ok = found.status == "normal"
            show = lookup_tab.success if ok else lookup_tab.error
            show(tr(f"发票状态：{term(INVOICE_STATUSES, found.status)}",
                    f"Invoice status: {term(INVOICE_STATUSES, found.status)}"))
            lookup_tab.table({
                tr("销方", "Seller"): f"{found.seller_name}（{found.seller_tax_id}）",
                tr("购方", "Buyer"): f"{found.buyer_name}（{found.buyer_tax_id}）",
                tr("开票时间", "Issued"): when(found.issued_at),
                tr("金额", "Amount"): money_full(found.amount_fen),
                tr("税额", "Tax"): money_full(found.tax_fen),
                tr("价税合计", "Total"): money_full(found.total_fen),
                tr("税率", "Rate"): f"{found.rate * 100:g}%",
                tr("货物或服务", "Item"): found.item_name or found.item_code or "",
            })
            from workbench.ui import views
            from workbench.ui.originals import show_originals

            lines = views.item_lines(store, found.key)
            if lines:
                lookup_tab.markdown(f"**{tr('明细', 'Item lines')}**")
                lookup_tab.dataframe(lines, hide_index=True)

            show_originals(lookup_tab, store, found.key)

with self_tab:
    st.caption(tr("在开具或入账前，按导入规则检查一张发票；每个问题都会说明原因。",
                  "Check one invoice against the loading rules before issuing or booking it; each problem is explained."))
    upload = st.file_uploader(tr("或从电子发票文件读取（数电 XML、OFD、PDF、扫描件）",
                                 "Or read it from an e-invoice file (数电 XML, OFD, PDF, scan)"),
                              type=["xml", "ofd", "pdf", "png", "jpg", "jpeg", "tif", "tiff"], key="sc_file")
    if upload is not None and st.session_state.get("sc_file_seen") != (upload.name, upload.size):
        from graph.core.errors import FapiaoError
        from loaders.sources import read_document

        st.session_state["sc_file_seen"] = (upload.name, upload.size)
        try:
            doc = read_document(upload.getvalue(), upload.name)
        except FapiaoError as e:
            st.error(str(e))
        else:
            for col, widget in (("invoice_number", "sc_number"), ("invoice_code", "sc_code"),
                                ("issue_date", "sc_date"), ("seller_tax_id", "sc_seller"),
                                ("seller_name", "sc_seller_name"), ("buyer_tax_id", "sc_buyer"),
                                ("buyer_name", "sc_buyer_name"), ("amount", "sc_amount"), ("tax_rate", "sc_rate"),
                                ("tax_amount", "sc_tax"), ("total_amount", "sc_total"), ("red_ref", "sc_red_ref"),
                                ("item_name", "sc_item")):
                st.session_state[widget] = doc.fields.get(col, "") or ""
            low = [f for f, c in doc.confidence.items() if c < 0.8]
            st.info(tr(f"已从 {upload.name} 读取（{doc.method}）；请核对后自查。",
                       f"Read from {upload.name} ({doc.method}); check the fields, then self-check.")
                    + (tr(f" 识别把握较低：{'、'.join(FIELD_NAMES.get(f, f) for f in low)}",
                          f" Low OCR confidence: {', '.join(low)}") if low else ""))
    with st.form("ic_self"):
        a, b, c = st.columns(3)
        fields = {
            "invoice_number": a.text_input(tr("发票号码", "Invoice number"), key="sc_number"),
            "invoice_code": b.text_input(tr("发票代码", "Invoice code"), key="sc_code"),
            "issue_date": c.text_input(tr("开票日期（YYYY-MM-DD）", "Issue date (YYYY-MM-DD)"),
                                       value=date.today().isoformat(), key="sc_date"),
            "seller_tax_id": a.text_input(tr("销方税号", "Seller tax id"), key="sc_seller"),
            "seller_name": b.text_input(tr("销方名称", "Seller name"), key="sc_seller_name"),
            "buyer_tax_id": a.text_input(tr("购方税号", "Buyer tax id"), key="sc_buyer"),
            "buyer_name": b.text_input(tr("购方名称", "Buyer name"), key="sc_buyer_name"),
            "amount": c.text_input(tr("金额（元）", "Amount (yuan)"), key="sc_amount"),
            "tax_rate": c.text_input(tr("税率（如 0.13）", "Tax rate (e.g. 0.13)"), "0.13", key="sc_rate"),
            "tax_amount": a.text_input(tr("税额（元）", "Tax (yuan)"), key="sc_tax"),
            "total_amount": b.text_input(tr("价税合计（元）", "Total (yuan)"), key="sc_total"),
            "status": c.selectbox(tr("状态", "Status"), ["normal", "void", "red", "out_of_control"],
                                  format_func=lambda s: term(INVOICE_STATUSES, s), key="sc_status"),
            "red_ref": a.text_input(tr("红冲对应原票号码", "Original number (red-letter only)"), key="sc_red_ref"),
            "item_name": b.text_input(tr("货物或服务名称", "Item"), key="sc_item"),
        }
        run = st.form_submit_button(tr("自查", "Self-check"))
    if run:
        from loaders.rules import RULES, check_invoice

        typed = {k: v.strip() for k, v in fields.items() if isinstance(v, str) and v.strip()}
        problems = check_invoice(typed, store=store)
        if not problems:
            st.success(tr("未发现问题。", "No problems found."))
        for p in problems:
            rule = RULES.get(p.rule)
            meaning = tr(rule.zh, rule.en) if rule is not None else p.rule
            level = tr("警告", "warning") if p.severity == "warning" else tr("错误", "error")
            label = tr(FIELD_NAMES[p.field], p.field) if p.field in FIELD_NAMES else p.field
            detail = p.message.removeprefix(f"{p.field}: ")
            if rule is not None and detail in (f"{rule.zh} / {rule.en}", rule.zh, rule.en):
                detail = ""          # the message only repeats the rule's meaning shown before it
            text = f"{level} · **{label}** — {meaning}（`{p.rule}`）" + (f"\n\n{plain(detail)}" if detail else "")
            (st.warning if p.severity == "warning" else st.error)(text)

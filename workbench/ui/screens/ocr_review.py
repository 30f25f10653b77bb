"""扫描件复核 OCR review (investigators, supervisors, administrators): scanned invoices held because a field was read with low
confidence or failed a fixable rule. Each field's image crop is shown next to the value read; the
reviewer corrects and loads, or rejects. Every decision is audited."""

from __future__ import annotations

import streamlit as st

from graph.core import vocab
from graph.core.errors import FapiaoError
from loaders.ocr import REVIEWED_FIELDS
from workbench.ocr_review import approve, crop, open_reviews, reject
from workbench.ui.flash import flash, show_flash
from workbench.ui.i18n import tr
from workbench.ui.session import require_page
from workbench.ui.state import get_store

user = require_page("review_scans")
store = get_store()
st.title(tr("扫描件复核", "OCR review"))
LABELS = vocab.INVOICE_FIELDS

show_flash()
pending = open_reviews(store)
if not pending:
    st.info(tr("没有待复核的扫描件。", "No scanned invoices wait for review."))
    st.stop()
choice = st.selectbox(tr("待复核", "Waiting"), range(len(pending)), format_func=lambda i: pending[i]["file"],
                      key="ocr_pick")
rev = pending[choice]
st.caption(tr("原因：", "Why held: ") + "；".join(f"{tr(*LABELS.get(f, (f, f)))}：{w}" for f, w in rev.get("why", {}).items()))
with st.form(f"ocr_{rev['sha256']}"):
    values: dict[str, str] = {}
    for f in REVIEWED_FIELDS:
        left, mid, right = st.columns([3, 3, 1])
        image = crop(store, rev, f)
        if image is not None:
            left.image(image, width="stretch")
        else:
            left.caption(tr("（无图像位置）", "(no image position)"))
        zh, en = LABELS[f]
        values[f] = mid.text_input(tr(zh, en), rev["fields"].get(f, ""), key=f"ocr_{rev['sha256']}_{f}")
        c = rev.get("confidence", {}).get(f)
        shown = f"{c:.0%}" if isinstance(c, int | float) else ""
        if f in rev.get("why", {}):   # the fields that held the scan: the reviewer looks at these first
            right.markdown(f":red[**{tr('需复核', 'check')}** {shown}]")
        else:
            right.caption(shown)
    note = st.text_input(tr("备注（驳回时填写）", "Note (for a rejection)"), key=f"ocr_note_{rev['sha256']}")
    b1, b2 = st.columns(2)
    ok = b1.form_submit_button(tr("确认并导入", "Confirm and load"), type="primary")
    no = b2.form_submit_button(tr("驳回", "Reject"))
if ok:
    try:
        report = approve(store, user, rev["sha256"], {k: v.strip() for k, v in values.items()})
    except FapiaoError as e:
        st.error(str(e))
    else:
        if report.loaded or report.skipped_identical:
            st.cache_data.clear()
            st.session_state.pop("ocr_pick", None)   # the queue moves on to the next scan
            flash(tr(f"已导入：{rev['file']}", f"Loaded: {rev['file']}"))
        else:
            st.error(tr("仍未通过校验：", "Still fails a rule: ")
                     + "；".join(tr(*vocab.VALIDATION_RULES.get(r, (r, r))) for r in report.by_rule))
if no:
    try:
        reject(store, user, rev["sha256"], note)
    except FapiaoError as e:
        st.error(str(e))
    else:
        st.session_state.pop("ocr_pick", None)
        flash(tr(f"已驳回：{rev['file']}", f"Rejected: {rev['file']}"))

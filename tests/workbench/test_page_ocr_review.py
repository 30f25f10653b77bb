"""扫描件复核: an investigator sees why a scan was held (in Chinese, the held fields marked), corrects a value next
to its image crop and loads the invoice; the correction is audited under the investigator's name."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from graph.core.notes import Note
from graph.embedded import EmbeddedStore
from loaders.evidence import Evidence, evidence_dir
from loaders.load import REVIEW_KIND
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, tax_id

FIELDS = {"invoice_number": "24442000000000000077", "invoice_code": "", "issue_date": "2024年03月05日",
          "seller_tax_id": tax_id(201), "seller_name": "扫描甲贸易有限公司", "buyer_tax_id": tax_id(202),
          "buyer_name": "扫描乙商贸有限公司", "amount": "1000.00", "tax_amount": "190.00", "total_amount": "1130.00",
          "tax_rate": "13%"}


def _hold(demo: Demo) -> str:
    """A scan held because its tax was misread (amount + tax ≠ total): a real PNG with a box per field."""
    image = Image.new("L", (600, 40 * len(FIELDS)), 255)
    draw = ImageDraw.Draw(image)
    boxes = {}
    for n, (f, v) in enumerate(FIELDS.items()):
        draw.text((10, 40 * n + 10), v.encode("ascii", "replace").decode(), fill=0)
        boxes[f] = [5, 40 * n + 5, 400, 40 * n + 35]
    data = io.BytesIO()
    image.save(data, format="PNG")
    store = EmbeddedStore(demo.path)
    try:
        scan = demo.path.parent / "扫描件7.png"
        scan.write_bytes(data.getvalue())
        sha = Evidence(evidence_dir(store)).keep(scan, meta={"source": scan.name, "kind": "ocr", "boxes": boxes,
                                                             "size": [image.width, image.height]})
        with store.writer() as w:
            w.put_record(REVIEW_KIND, sha, {"file": scan.name, "sha256": sha, "fields": FIELDS, "status": "open",
                                            "why": {"total_amount": "金额＋税额≠价税合计 / amount + tax ≠ total"},
                                            "confidence": {f: 0.95 for f in FIELDS}, "items": []})
    finally:
        store.close()
    return sha


def test_investigator_corrects_a_held_scan_and_loads_it(fresh_env: Demo) -> None:
    sha = _hold(fresh_env)
    at = open_page(fresh_env, "investigator", "ocr_review")
    assert not at.error and not at.warning, [e.value for e in at.error]
    assert any(c.value == "原因：价税合计：金额＋税额≠价税合计 / amount + tax ≠ total" for c in at.caption), \
        [c.value for c in at.caption]
    assert [m.value for m in at.markdown if "需复核" in m.value] == [":red[**需复核** 95%]"]   # only the held field
    assert len(at.get("image")) == len(FIELDS), at.main   # a crop per field
    at.text_input(key=f"ocr_{sha}_tax_amount").set_value("130.00")
    next(b for b in at.button if b.label == "确认并导入").click().run()
    assert [s.value for s in at.success] == ["已导入：扫描件7.png"], [e.value for e in at.error]
    assert [i.value for i in at.info] == ["没有待复核的扫描件。"]        # the queue moved on (it held one scan)
    store = EmbeddedStore(fresh_env.path)
    try:
        [rec] = store.records(REVIEW_KIND)
        assert rec["status"] == "loaded" and store.invoice(rec["key"]) is not None
        event = store.audit_events()[-1]
        assert (event.action, event.actor) == ("ocr_review", "investigator")
        said = Note.from_json(event.detail)
        assert said is not None and said.zh() == "扫描件7.png：更正 税额 190.00 → 130.00；已导入"
    finally:
        store.close()


def test_a_correction_that_still_fails_names_the_rule_in_chinese(fresh_env: Demo) -> None:
    _hold(fresh_env)
    at = open_page(fresh_env, "investigator", "ocr_review")
    next(b for b in at.button if b.label == "确认并导入").click().run()
    assert [e.value for e in at.error] == ["仍未通过校验：金额＋税额≠价税合计；税额与金额×税率不符（超出容差）"]
    store = EmbeddedStore(fresh_env.path)
    try:
        [rec] = store.records(REVIEW_KIND)
        assert rec["status"] == "open"                          # it can be corrected again
        event = store.audit_events()[-1]
        said = Note.from_json(event.detail)
        assert said is not None and (event.action, said.zh()) == (
            "ocr_review", "扫描件7.png：未更正；仍未通过校验：税额与金额×税率不符（超出容差）；金额＋税额≠价税合计，待再次复核")
    finally:
        store.close()


def test_a_rejected_scan_leaves_the_queue_with_its_note_audited(fresh_env: Demo) -> None:
    _hold(fresh_env)
    at = open_page(fresh_env, "investigator", "ocr_review")
    next(t for t in at.text_input if t.label == "备注（驳回时填写）").set_value("不是本案发票")
    next(b for b in at.button if b.label == "驳回").click().run()
    assert [s.value for s in at.success] == ["已驳回：扫描件7.png"] and [i.value for i in at.info] == ["没有待复核的扫描件。"]
    store = EmbeddedStore(fresh_env.path)
    try:
        [rec] = store.records(REVIEW_KIND)
        event = store.audit_events()[-1]
        assert (rec["status"], event.action, event.actor, event.detail) == (
            "rejected", "ocr_review_reject", "investigator", "不是本案发票")
    finally:
        store.close()

"""The OCR review queue: scanned invoices held because a field was read with low confidence or failed a
rule a person can fix. A reviewer sees each field's image crop next to the value read, corrects it, and
loads the invoice through the same rules; every decision is written to the audit trail."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from graph.core.errors import ConfigError
from graph.core.notes import Note
from graph.store import Store, Writer
from loaders.evidence import Evidence, evidence_dir
from loaders.load import REVIEW_KIND, LoadReport, load_files
from workbench import audit
from workbench.auth import User, require

#: Pixels of margin around a field's box in the review crop.
CROP_MARGIN = 12


def open_reviews(store: Store) -> list[dict[str, Any]]:
    """Held scanned invoices still waiting for a person (oldest file name first)."""
    return sorted((r for r in store.records(REVIEW_KIND) if r.get("status") == "open"), key=lambda r: r["file"])


def crop(store: Store, review: dict[str, Any], field: str) -> Any | None:
    """The part of the scanned page a field was read from (a PIL image), or None when unknown."""
    ev = Evidence(evidence_dir(store))
    path = ev.path_of(review["sha256"])
    side = path.with_name(review["sha256"] + ".json")
    if not path.exists() or not side.exists():
        return None
    meta = json.loads(side.read_text(encoding="utf-8"))
    box = (meta.get("boxes") or {}).get(field)
    size = meta.get("size") or [0, 0]
    if not box:
        return None
    from PIL import Image

    data = path.read_bytes()
    if data[:5] == b"%PDF-":
        import pypdfium2 as pdfium

        from loaders.ocr import OCR_DPI

        image = pdfium.PdfDocument(data)[0].render(scale=OCR_DPI / 72).to_pil()
    else:
        image = Image.open(path)
    image = image.convert("L")
    if size[0] and image.width != size[0]:
        image = image.resize((int(size[0]), int(size[1])))
    x0, y0, x1, y1 = box
    return image.crop((max(0, x0 - CROP_MARGIN), max(0, y0 - CROP_MARGIN), x1 + CROP_MARGIN, y1 + CROP_MARGIN))


def _review(store: Store, sha: str) -> dict[str, Any]:
    rec = store.record(REVIEW_KIND, sha)
    if rec is None or rec.get("status") != "open":
        raise ConfigError(f"no open OCR review for {sha}")
    return rec


def approve(store: Store, user: User, sha: str, fields: dict[str, str], *,
            report_dir: Path | None = None) -> LoadReport:
    """Load a reviewed scan with the reviewer's ``fields`` (the corrections are audited as
    ``ocr_review``); the invoice goes through every loader rule like any other row. The review stays open
    when the row is rejected, so it can be corrected again. The one-row load's report goes to ``report_dir``
    (default: the workspace's ``loads/`` folder, like every load)."""
    require(user, "review_scans")
    rec = _review(store, sha)
    changed = [f for f, v in fields.items() if v != rec["fields"].get(f, "")]
    merged = {**rec["fields"], **fields}
    with tempfile.TemporaryDirectory(prefix="fapiao-review-") as tmp:
        row = tmp + "/reviewed.jsonl"
        Path(row).write_text(json.dumps(merged, ensure_ascii=False) + "\n", encoding="utf-8")
        report = load_files(store, Path(row), report_dir=report_dir, keep_originals=False)
    values = {"file": rec["file"], "fields": changed, "olds": [str(rec["fields"].get(f, "")) for f in changed],
              "news": [fields[f] for f in changed]}
    if not (report.loaded or report.skipped_identical):   # still fails a rule: the review stays open
        audit.record(store, user, "ocr_review", f"original:{sha}",
                     Note("scan_review", {**values, "still_fails": sorted(report.by_rule)}))
        return report
    import pyarrow as pa

    from graph.core.schema import invoice_key
    from loaders.items import from_documents

    key = invoice_key(merged.get("invoice_code", "").strip(), merged.get("invoice_number", "").strip())
    Evidence(evidence_dir(store)).index(f"review-{sha[:16]}", pa.array([key]), pa.array([sha]), pa.array([rec["file"]]))
    lines = from_documents(pa.array([key]), pa.array([json.dumps(rec.get("items") or [], ensure_ascii=False)]))

    def close(w: Writer) -> None:   # the item lines as read from the scan (the review corrects the invoice's fields)
        w.put_record(REVIEW_KIND, sha, {**rec, "status": "loaded", "key": key, "reviewed_by": user.username,
                                        "fields": merged})
        w.item_lines(lines)

    audit.record(store, user, "ocr_review", f"original:{sha}", Note("scan_review", values), change=close)
    return report


def reject(store: Store, user: User, sha: str, note: str = "") -> None:
    """Close a review without loading the invoice (audited)."""
    require(user, "review_scans")
    rec = _review(store, sha)
    audit.record(store, user, "ocr_review_reject", f"original:{sha}", note,
                  change=lambda w: w.put_record(REVIEW_KIND, sha, {**rec, "status": "rejected",
                                                                  "reviewed_by": user.username, "note": note}))

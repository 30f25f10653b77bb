"""The OCR review queue: a reviewer's correction loads the invoice through the rules and is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph import open_store
from graph.core.notes import Note
from loaders.evidence import Evidence, evidence_dir
from loaders.load import REVIEW_KIND
from tests.ingest.einvoices import sample, yuan
from workbench import audit
from workbench.auth import User
from workbench.ocr_review import approve, open_reviews, reject

ADMIN = User("admin1", ("admin",), "管理员")


def _held(store: object, tmp: Path, tax_fen_read: int) -> tuple[str, dict[str, str]]:
    inv = sample(6)
    scan = tmp / "scan.png"
    scan.write_bytes(b"\x89PNG fake scan bytes")
    ev = Evidence(evidence_dir(store))  # type: ignore[arg-type]
    sha = ev.keep(scan, meta={"source": "scan.png", "kind": "ocr", "boxes": {}, "size": [0, 0]})
    fields = {"invoice_number": inv.number, "invoice_code": "", "issue_date": inv.date,
              "seller_tax_id": inv.seller[0], "seller_name": inv.seller[1], "buyer_tax_id": inv.buyer[0],
              "buyer_name": inv.buyer[1], "amount": yuan(inv.amount_fen), "tax_amount": yuan(tax_fen_read),
              "total_amount": yuan(inv.amount_fen + inv.tax_fen), "tax_rate": "13%"}
    with store.writer() as w:  # type: ignore[attr-defined]
        w.put_record(REVIEW_KIND, sha, {"file": "scan.png", "sha256": sha, "fields": fields, "status": "open",
                                        "why": {"tax_amount": "amount + tax ≠ total"}, "confidence": {},
                                        "items": [{"item_name": it.name, "item_code": it.code, "quantity": it.quantity,
                                                   "unit_price": it.unit_price, "amount": yuan(it.amount_fen),
                                                   "tax_rate": f"{it.rate_pct}%", "tax_amount": yuan(it.tax_fen)}
                                                  for it in inv.items]})
    return sha, {"tax_amount": yuan(inv.tax_fen)}


def test_correction_loads_and_is_audited(tmp_path: Path) -> None:
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        sha, fix = _held(store, tmp_path, tax_fen_read=99)
        bad = approve(store, ADMIN, sha, {}, report_dir=tmp_path / "r0")   # as read: amount + tax ≠ total
        assert bad.loaded == 0 and "total_mismatch" in bad.by_rule
        assert len(open_reviews(store)) == 1                                  # still open
        good = approve(store, ADMIN, sha, fix, report_dir=tmp_path / "r1")
        assert good.loaded == 1 and not open_reviews(store)
        key = store.record(REVIEW_KIND, sha)["key"]  # type: ignore[index]
        assert store.invoice(key) is not None
        assert [(r["line"], r["item_name"], r["amount_fen"]) for r in store.item_lines(key).to_pylist()] == [
            (n, it.name, it.amount_fen) for n, it in enumerate(sample(6).items, 1)]   # the scan's lines, stored
        [orig] = Evidence(evidence_dir(store)).originals(key)
        assert orig["sha256"] == sha
        events = [e for e in audit.events(store) if e.action == "ocr_review"]
        latest = max(events, key=lambda e: e.seq)
        said = Note.from_json(latest.detail)
        assert said is not None and (said.code, said.values["fields"], said.values["news"]) == ("scan_review", ["tax_amount"], [fix["tax_amount"]])
        assert "still_fails" not in said.values and said.zh().endswith("已导入")


def test_reject_closes_without_loading(tmp_path: Path) -> None:
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        sha, _ = _held(store, tmp_path, tax_fen_read=99)
        reject(store, ADMIN, sha, "不是发票")
        assert not open_reviews(store) and store.invoice_stream().num_rows == 0
        assert any(e.action == "ocr_review_reject" for e in audit.events(store))
        with pytest.raises(Exception, match="no open OCR review"):
            reject(store, ADMIN, sha)


def test_investigators_review_scans_and_analysts_may_not(tmp_path: Path) -> None:
    """The issue's reviewer is an investigator: the queue is theirs (and supervisors' and admins'), not analysts'."""
    from graph.core.errors import PermissionDenied

    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        sha, fix = _held(store, tmp_path, tax_fen_read=99)
        with pytest.raises(PermissionDenied):
            approve(store, User("ana", ("analyst",)), sha, fix, report_dir=tmp_path / "r0")
        assert len(open_reviews(store)) == 1
        report = approve(store, User("ivan", ("investigator",), "调查员"), sha, fix, report_dir=tmp_path / "r1")
        assert report.loaded == 1 and not open_reviews(store)
        [event] = [e for e in audit.events(store) if e.action == "ocr_review"]
        said = Note.from_json(event.detail)
        assert event.actor == "ivan" and said is not None and said.zh() == (
            f"scan.png：更正 税额 {yuan(99)} → {fix['tax_amount']}；已导入")

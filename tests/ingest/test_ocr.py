"""Scanned invoices: OCR'd fields, the review gate, and images that are not invoices."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from graph import open_store
from loaders.load import REVIEW_KIND, load_files
from tests.ingest.einvoices import CJK_FONT, invoice_pdf, sample

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="Debian tesseract-ocr is missing"),
    pytest.mark.skipif(not CJK_FONT.exists(), reason="Noto Sans CJK is missing"),
]


def _png(pdf: bytes, dpi: int = 200) -> bytes:
    import pypdfium2 as pdfium

    buf = io.BytesIO()
    pdfium.PdfDocument(pdf)[0].render(scale=dpi / 72).to_pil().save(buf, "PNG")
    return buf.getvalue()


def test_scan_is_read_and_held_unless_every_field_passed(tmp_path: Path) -> None:
    pytest.importorskip("pytesseract")
    inv = sample(4)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "scan.png").write_bytes(_png(invoice_pdf(inv)))
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, tmp_path / "in", report_dir=tmp_path / "r")
        held = store.records(REVIEW_KIND)
        stored = store.invoice_stream().num_rows
    assert rep.read == 1 and stored + len(held) == 1
    if held:   # held: it is in the review queue with what was read, and nothing entered the store
        assert rep.by_rule == {"ocr_review": 1}
        assert held[0]["fields"]["invoice_number"] == inv.number
        assert held[0]["fields"]["seller_tax_id"] == inv.seller[0]
        assert held[0]["why"]


def test_image_without_an_invoice_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("pytesseract")
    import numpy as np
    from PIL import Image

    (tmp_path / "in").mkdir()
    noise = np.random.default_rng(1).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "in" / "cat.jpg")
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, tmp_path / "in", report_dir=tmp_path / "r")
        assert store.invoice_stream().num_rows == 0 and not store.records(REVIEW_KIND)
    assert rep.rejected == 1 and rep.by_rule == {"bad_value": 1}
    assert "cat.jpg" in (tmp_path / "r" / "e-invoices" / "quarantine.csv").read_text(encoding="utf-8")

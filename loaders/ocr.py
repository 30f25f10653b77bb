"""Scanned invoices (OCR): images and PDFs without a text layer, through Tesseract chi_sim."""

from __future__ import annotations

from graph.core.errors import InvalidData
from loaders.einvoice import Document


def ocr_image(data: bytes, name: str) -> Document:
    raise InvalidData(f"{name}: OCR is not available yet")


def ocr_pdf(data: bytes, name: str) -> Document:
    raise InvalidData(f"{name}: OCR is not available yet")

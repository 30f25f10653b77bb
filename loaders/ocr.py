"""Scanned invoices (OCR): images (PNG / JPEG / TIFF …) and PDFs without a text layer, read by Tesseract
with the simplified-Chinese model (Debian ``tesseract-ocr`` + ``tesseract-ocr-chi-sim``; Python side:
the ``ocr`` extra, pytesseract).

Tesseract's words (with confidence and position) become positioned text runs, and the same layout
reader as for PDFs (:func:`loaders.einvoice.fields_from_layout`) picks the fields. Each field gets the
lowest confidence of the words it came from and the pixel box they cover (for the review crop).
:func:`needs_review` says which fields a person must check before the invoice may load.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

from graph.core import settings
from graph.core.errors import ConfigError, InvalidData
from loaders.einvoice import Document, Segment, fields_from_layout

#: Resolution scanned PDFs are rendered at, and that small images are scaled up to (dots per inch).
OCR_DPI = 200
#: Pages narrower than this many pixels are scaled up before OCR (Tesseract wants ~20 px high glyphs).
MIN_WIDTH = 1600
#: Largest image accepted (pixels); a phone photo is ~12 MP.
MAX_PIXELS = 40_000_000
#: Fields checked by a person when OCR'd with low confidence.
REVIEWED_FIELDS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
                   "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate")
_GAP_PX = 0.035   # a gap wider than this share of the page width starts a new text run


def _tesseract() -> Any:
    try:
        import pytesseract
    except ImportError as e:
        raise ConfigError("reading scanned invoices needs the 'ocr' extra: pip install 'fapiao-workbench[ocr]' "
                          "and Debian tesseract-ocr + tesseract-ocr-chi-sim") from e
    try:
        langs = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError) as e:
        raise ConfigError("the tesseract program is missing: apt-get install tesseract-ocr tesseract-ocr-chi-sim") from e
    if "chi_sim" not in langs:
        raise ConfigError("Tesseract has no simplified-Chinese model: apt-get install tesseract-ocr-chi-sim")
    return pytesseract


Word = tuple[str, float]   # (text, confidence 0..1)


def _runs(data: dict[str, list[Any]], width: int) -> list[tuple[Segment, list[Word], tuple[int, int, int, int]]]:
    """Tesseract words grouped into runs (same line, small gaps): (segment, its words, pixel box)."""
    words = []
    for i, text in enumerate(data["text"]):
        if text and text.strip() and float(data["conf"][i]) >= 0:
            words.append((data["block_num"][i], data["par_num"][i], data["line_num"][i], data["left"][i],
                          data["top"][i], data["width"][i], data["height"][i], text.strip(), float(data["conf"][i])))
    words.sort()
    out: list[tuple[Segment, list[Word], tuple[int, int, int, int]]] = []
    cur: list[Any] = []

    def flush() -> None:
        if cur:
            x0, y0 = min(w[3] for w in cur), min(w[4] for w in cur)
            x1, y1 = max(w[3] + w[5] for w in cur), max(w[4] + w[6] for w in cur)
            text = "".join(w[7] for w in cur)
            out.append((Segment(text, float(x0), float(y0)), [(w[7], w[8] / 100) for w in cur], (x0, y0, x1, y1)))
            cur.clear()

    for w in words:
        if cur and (w[:3] != cur[-1][:3] or w[3] - (cur[-1][3] + cur[-1][5]) > _GAP_PX * width):
            flush()
        cur.append(w)
    flush()
    return out


def _field_confidence(value: str, runs: list[tuple[Segment, list[Word], tuple[int, int, int, int]]]
                      ) -> tuple[float, list[int] | None]:
    """The lowest confidence of the words that make up ``value`` in the first run holding it, and that
    run's box; (0, None) when no run holds it."""
    key = _plain(value)
    for seg, words, box in runs:
        if key and key[-6:] in _plain(seg.text):
            parts = [c for t, c in words if _plain(t) and _plain(t) in key]
            return (min(parts) if parts else min(c for _, c in words)), list(box)
    return 0.0, None


def _plain(text: str) -> str:
    return re.sub(r"[\s,¥YV:：。”“\"'`]", "", _clean(text))


def _clean(text: str) -> str:
    """Common OCR slips on invoices: ¥ read as Y/V, full-width colons, stray quotes before a value."""
    text = re.sub(r"(?<![A-Za-z0-9])[YV¥](?=\s*-?\d)", "¥", text)
    text = re.sub(r"([:：])\s*[。”“\"'`]+", r"\1", text)
    return text.replace("：", ":").strip("“”\"'。,， ")


def read_image(image: Any, name: str) -> Document:
    """OCR one page image (a PIL image) into a :class:`Document` with per-field confidence and boxes."""
    pytesseract = _tesseract()
    gray = image.convert("L")
    if gray.width < MIN_WIDTH:
        scale = MIN_WIDTH / gray.width
        gray = gray.resize((MIN_WIDTH, int(gray.height * scale)))
    try:
        osd = pytesseract.image_to_osd(gray, config="--psm 0 -c min_characters_to_try=20",
                                       output_type=pytesseract.Output.DICT)
        if int(osd.get("rotate", 0)) % 360:
            gray = gray.rotate(-int(osd["rotate"]), expand=True, fillcolor=255)
    except pytesseract.TesseractError:
        pass   # too little text to tell the orientation: read as it is
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")   # Tesseract's threads only slow it down on a busy machine
    data = pytesseract.image_to_data(gray, lang="chi_sim", config="--psm 6", output_type=pytesseract.Output.DICT)
    runs = _runs(data, gray.width)
    if sum(len(s.text) for s, _, _ in runs) < 20:
        raise InvalidData(f"{name}: no invoice text found in the image (is it an invoice?)")
    segments = [Segment(_clean(s.text), s.x, s.y) for s, _, _ in runs]
    doc = fields_from_layout(segments, tol=max(8.0, gray.height * 0.008))
    if not doc.fields.get("invoice_number") and not doc.fields.get("seller_tax_id"):
        raise InvalidData(f"{name}: the image does not look like an invoice (no invoice number or tax id found)")
    doc.method = "ocr"
    short_number = len(doc.fields.get("invoice_number", "")) == 8
    for fld in REVIEWED_FIELDS:
        value = doc.fields.get(fld, "") or ""
        if not value:
            if fld != "invoice_code" or short_number:   # a 20-digit number has no code
                doc.confidence[fld] = 0.0
            continue
        doc.confidence[fld], box = _field_confidence(value, runs)
        if box is not None:
            doc.boxes[fld] = box
    doc.size = (gray.width, gray.height)
    return doc


def ocr_image(data: bytes, name: str) -> Document:
    """An image file (PNG / JPEG / TIFF / BMP) → :class:`Document`; a non-image raises InvalidData."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise InvalidData(f"{name}: image of {image.width}×{image.height} pixels is too large; refused")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InvalidData(f"{name}: not a readable image ({e})") from e
    return read_image(image, name)


def ocr_pdf(data: bytes, name: str) -> Document:
    """A PDF without a text layer: its first page rendered at :data:`OCR_DPI` and read by OCR."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
        try:
            image = doc[0].render(scale=OCR_DPI / 72).to_pil()
        finally:
            doc.close()
    except pdfium.PdfiumError as e:
        raise InvalidData(f"{name}: damaged PDF ({e})") from e
    return read_image(image, name)


def min_confidence() -> float:
    """``FAPIAO_OCR_MIN_CONFIDENCE`` as a number."""
    try:
        return float(settings.get("FAPIAO_OCR_MIN_CONFIDENCE"))
    except ValueError as e:
        raise ConfigError("FAPIAO_OCR_MIN_CONFIDENCE must be a number between 0 and 1") from e


def needs_review(fields: dict[str, str], confidence: dict[str, float]) -> dict[str, str]:
    """Fields a person must check, with why: confidence below the threshold, or a rule a person can fix
    from the image (the credit-code check character; amount + tax = total)."""
    from loaders.uscc import is_valid

    threshold = min_confidence()
    out = {f: f"confidence {c:.2f} < {threshold:.2f}" for f, c in confidence.items() if c < threshold}
    for side in ("seller_tax_id", "buyer_tax_id"):
        tid = fields.get(side, "")
        if len(tid) == 18 and not is_valid(tid):
            out.setdefault(side, "check character does not match")
    try:
        a, t, s = (round(float(re.sub(r"[¥,\s]", "", fields.get(k, "") or "x")) * 100)
                   for k in ("amount", "tax_amount", "total_amount"))
        if a + t != s:
            out.setdefault("total_amount", "amount + tax ≠ total")
    except ValueError:
        pass
    return out

"""Scanned invoices (OCR): images (PNG / JPEG / TIFF …) and PDFs without a text layer, read by Tesseract
with the simplified-Chinese model (Debian ``tesseract-ocr`` + ``tesseract-ocr-chi-sim``; Python side:
the ``ocr`` extra, pytesseract).

Tesseract's words (with confidence and position) become positioned text runs, and the same layout
reader as for PDFs (:func:`loaders.einvoice.fields_from_layout`) picks the fields. Each field gets the
lowest confidence of the words it came from and the pixel box they cover (for the review crop).
:func:`needs_review` says which fields a person must check before the invoice may load.
"""

from __future__ import annotations

import bisect
import functools
import io
import os
import re
from typing import Any, Literal

from graph.core import settings
from graph.core.errors import ConfigError, InvalidData
from loaders.einvoice import Document, Segment, fields_from_layout
from loaders.ocr_layout import deskew_angle, ink_mask, stack_runs, text_boxes, unrotate_box

#: Resolution scanned PDFs are rendered at, and that small images are scaled up to (dots per inch).
OCR_DPI = 200
#: Pages narrower than this many pixels are scaled up before OCR (Tesseract wants ~20 px high glyphs).
MIN_WIDTH = 1600
#: Width (pixels) every page is scaled to before the text-run reader: ~190 dpi for an A5-wide invoice.
WORK_WIDTH = 1600
#: More text runs than this (or more ink than :data:`MAX_INK`) is not an invoice page: the full-page
#: reader decides, and says why.
MAX_RUNS = 400
MAX_INK = 0.3
#: A money run read by chi_sim with a word below this confidence is read again with the English model.
REREAD_BELOW = 0.8
_MONEY_RUN = re.compile(r"\d[\d,]*\.\d{2}$")
_MONEY_ONLY = re.compile(r"[¥Y]?-?\d{1,3}(?:,?\d{3})*\.\d{2}")
#: Largest image accepted (pixels); a phone photo is ~12 MP.
MAX_PIXELS = 40_000_000
#: Fields checked by a person when OCR'd with low confidence.
REVIEWED_FIELDS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
                   "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate")
_GAP_PX = 0.035   # a gap wider than this share of the page width starts a new text run


@functools.cache
def _languages() -> frozenset[str]:
    return frozenset(_tesseract().get_languages(config=""))


@functools.cache
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
#: Positioned runs of OCR'd text: (segment, its words, pixel box).
Runs = list[tuple[Segment, list[Word], tuple[int, int, int, int]]]
Reader = Literal["runs", "page"]


def _runs(data: dict[str, list[Any]], width: int) -> Runs:
    """Tesseract words grouped into runs (same line, small gaps): (segment, its words, pixel box)."""
    words = []
    for i, text in enumerate(data["text"]):
        if text and text.strip() and float(data["conf"][i]) >= 0:
            words.append((data["block_num"][i], data["par_num"][i], data["line_num"][i], data["left"][i],
                          data["top"][i], data["width"][i], data["height"][i], text.strip(), float(data["conf"][i])))
    words.sort()
    out: Runs = []
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


def _field_confidence(value: str, runs: Runs) -> tuple[float, list[int] | None]:
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


#: Rates printed on VAT invoices (percent); a read rate outside these is an OCR slip if one fits.
_RATES = frozenset({"0", "1", "1.5", "3", "5", "6", "9", "10", "11", "13", "16", "17"})
#: Labels of the invoice layouts, which OCR sometimes reads with ';' or no colon after them.
_LABEL_RUN = re.compile(r"(发票代码|发票号码|开票日期|校验码|名\s*称|纳税人识别号|统一社会信用代码/纳税人识别号)\s*[;；:：,，.]?")


def _clean(text: str) -> str:
    """Common OCR slips on invoices: ¥ read as Y/V, full-width colons, stray quotes before a value, a
    label run whose colon was read as ';' or lost, a rate's '%' read as '9%' with a stray mark after it
    ('139%6' for 13%)."""
    text = re.sub(r"(?<![A-Za-z0-9])[YV¥](?=\s*-?\d)", "¥", text)
    text = re.sub(r"([:：])\s*[。”“\"'`]+", r"\1", text)
    text = text.replace("：", ":").strip("“”\"'。,， ")
    label = _LABEL_RUN.fullmatch(text)
    if label:
        return label.group(1) + ":"
    rate = re.fullmatch(r"(\d{1,3}(?:\.\d{1,2})?)\s*%\s*[0-9o]?", text)
    if rate:
        value = rate.group(1)
        if value in _RATES:
            return value + "%"
        if value.endswith("9") and value[:-1] in _RATES:
            return value[:-1] + "%"
    return text


def _read_page(gray: Any) -> tuple[Any, Runs]:
    """The whole page in one Tesseract block (``--psm 6``) after its orientation check (``--psm 0``):
    the reader for pages the text-run cut cannot take (a photo, a page turned 90° or 180°)."""
    pytesseract = _tesseract()
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
    data = pytesseract.image_to_data(gray, lang="chi_sim", config="--psm 6", output_type=pytesseract.Output.DICT)
    return gray, _runs(data, gray.width)


def _read_runs(gray: Any) -> tuple[Any, Runs] | None:
    """The page scaled to :data:`WORK_WIDTH`, deskewed and cut into text runs, the runs stacked one per
    line and read by one Tesseract call (``--psm 6``); each run keeps its place on the page. None when
    the page does not look like printed text on white (too much ink, too many runs, none at all)."""
    import numpy as np
    from PIL import Image

    if gray.width != WORK_WIDTH:
        gray = gray.resize((WORK_WIDTH, max(1, round(gray.height * WORK_WIDTH / gray.width))),
                           Image.Resampling.BOX if gray.width > WORK_WIDTH else Image.Resampling.BICUBIC)
    ink = ink_mask(np.asarray(gray))
    if ink.mean() > MAX_INK:
        return None
    angle = deskew_angle(ink)
    scan = gray
    if angle:
        gray = gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        ink = ink_mask(np.asarray(gray))
    boxes, line = text_boxes(ink)
    if not boxes or len(boxes) > MAX_RUNS:
        return None
    runs: Runs = []
    for box, ws in zip(boxes, _read_stack(gray, boxes, line, "chi_sim"), strict=True):
        if ws:
            runs.append((Segment("".join(t for t, _ in ws), float(box[0]), float(box[1])), ws, box))
    # money read again by the English model, which knows ¥ and digits apart ('¥1' read by chi_sim as
    # one Chinese character lost the leading 1 of totals on 150-dpi scans; measured in bench_ocr)
    again = [k for k, (seg, ws, _) in enumerate(runs) if _MONEY_RUN.search(seg.text)
             and min(c for _, c in ws) < REREAD_BELOW]
    if again and "eng" in _languages():
        reread = _read_stack(gray, [runs[k][2] for k in again], line, "eng")
        for k, ws in zip(again, reread, strict=True):
            text = "".join(t for t, _ in ws)
            if _MONEY_ONLY.fullmatch(text):
                runs[k] = (Segment(text, runs[k][0].x, runs[k][0].y), ws, runs[k][2])
    if angle:   # positions stay on the straightened page (the layout reader's lines); boxes go back to the scan
        runs = [(seg, ws, unrotate_box(box, angle, gray.size, scan.size)) for seg, ws, box in runs]
    return scan, runs


def _read_stack(gray: Any, boxes: list[tuple[int, int, int, int]], line: float, lang: str) -> list[list[Word]]:
    """The runs in ``boxes`` stacked one per line and read by one Tesseract call: each run's words,
    left to right, with their confidence."""
    pytesseract = _tesseract()
    canvas, bands = stack_runs(gray, boxes, line)
    data = pytesseract.image_to_data(canvas, lang=lang, config="--psm 6", output_type=pytesseract.Output.DICT)
    tops = [top for top, _, _ in bands]
    words: list[list[tuple[int, str, float]]] = [[] for _ in bands]
    for i, text in enumerate(data["text"]):
        if text and text.strip() and float(data["conf"][i]) >= 0:
            mid = data["top"][i] + data["height"][i] / 2
            k = bisect.bisect_right(tops, mid) - 1
            if k >= 0 and mid <= bands[k][1]:
                words[k].append((data["left"][i], text.strip(), float(data["conf"][i]) / 100))
    return [[(t, c) for _, t, c in sorted(ws)] for ws in words]


def _fields(gray: Any, runs: Runs) -> Document:
    segments = [Segment(_clean(s.text), s.x, s.y) for s, _, _ in runs]
    return fields_from_layout(segments, tol=max(8.0, gray.height * 0.008))


def read_image(image: Any, name: str, *, reader: Reader = "runs") -> Document:
    """OCR one page image (a PIL image) into a :class:`Document` with per-field confidence and boxes.

    ``reader`` "runs" (default): the text-run reader (:func:`_read_runs`), falling back to the whole-page
    reader with its orientation check when it finds no invoice number or tax id (a turned page, a
    photo); "page": the whole-page reader only (the reader before the text-run cut; benchmarks)."""
    _tesseract()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")   # Tesseract's threads only slow it down on a busy machine
    gray = image.convert("L")
    read = _read_runs(gray) if reader == "runs" else None
    doc = _fields(*read) if read else None
    if read is None or doc is None or not (doc.fields.get("invoice_number") or doc.fields.get("seller_tax_id")):
        read = _read_page(gray)
        doc = _fields(*read)
    gray, runs = read
    if sum(len(s.text) for s, _, _ in runs) < 20:
        raise InvalidData(f"{name}: 图像中没有发票文字（是发票吗？） / no invoice text found in the image")
    if not doc.fields.get("invoice_number") and not doc.fields.get("seller_tax_id"):
        raise InvalidData(f"{name}: 图像不像发票（未识别出发票号码或税号） / the image does not look like an invoice "
                          "(no invoice number or tax id found)")
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
    out = {f: f"识别置信度 {c:.2f} < {threshold:.2f} / confidence {c:.2f} < {threshold:.2f}"
           for f, c in confidence.items() if c < threshold}
    for side in ("seller_tax_id", "buyer_tax_id"):
        tid = fields.get(side, "")
        if len(tid) == 18 and not is_valid(tid):
            out.setdefault(side, "统一社会信用代码校验位不符 / check character does not match")
    try:
        a, t, s = (round(float(re.sub(r"[¥,\s]", "", fields.get(k, "") or "x")) * 100)
                   for k in ("amount", "tax_amount", "total_amount"))
        if a + t != s:
            out.setdefault("total_amount", "金额＋税额≠价税合计 / amount + tax ≠ total")
    except ValueError:
        pass
    return out

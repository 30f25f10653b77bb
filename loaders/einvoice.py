"""E-invoice files → invoice fields: 数电 XML, OFD (GB/T 33190) and PDF with a text layer.

Each reader returns a :class:`Document`: the invoice's fields under the interchange column names (text,
as printed; the validator decides what they mean) and its item lines. XML is parsed with defusedxml
(no entity expansion, no external entities, no DTD fetch).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from graph.core.errors import InvalidData

#: Most bytes an OFD archive may unpack to (an invoice OFD is ~50 KB).
OFD_MAX_UNPACKED = 64 << 20
ITEM_FIELDS = ("item_name", "item_code", "spec", "unit", "quantity", "unit_price", "amount", "tax_rate", "tax_amount")


@dataclass
class Document:
    """One invoice read from a file: interchange fields, item lines, how it was read."""

    fields: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    method: str = ""                 # xml / ofd-xml / ofd-tags / ofd-text / pdf-text / ocr
    confidence: dict[str, float] = field(default_factory=dict)   # OCR only: field → 0..1
    boxes: dict[str, list[int]] = field(default_factory=dict)    # OCR only: field → [x0, y0, x1, y1] pixels
    size: tuple[int, int] = (0, 0)                               # OCR only: the page image read (pixels)


def _parse_xml(data: bytes, what: str) -> Any:
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        return DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as e:
        raise InvalidData(f"{what}: refused ({type(e).__name__}: entities or a DTD are not allowed)") from e
    except Exception as e:   # ElementTree.ParseError and expat errors
        raise InvalidData(f"{what}: not well-formed XML ({e})") from e


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: Any, name: str) -> str:
    for el in root.iter():
        if _local(el.tag) == name:
            return (el.text or "").strip()
    return ""


def _children(root: Any, name: str) -> list[Any]:
    return [el for el in root.iter() if _local(el.tag) == name]


_XML_KIND = {"01": "数电专票", "02": "数电普票"}


def parse_einvoice_xml(data: bytes, what: str = "XML") -> Document:
    """A 数电 invoice XML (``<EInvoice>``: Header, EInvoiceData, TaxSupervisionInfo) → fields and item lines."""
    root = _parse_xml(data, what)
    if _local(root.tag) != "EInvoice":
        raise InvalidData(f"{what}: not a 数电 invoice XML (root element <{_local(root.tag)}>, expected <EInvoice>)")
    items = []
    for el in _children(root, "IssuItemInformation"):
        items.append({
            "item_name": _find(el, "ItemName"), "item_code": _find(el, "TaxClassificationCode"),
            "spec": _find(el, "SpecMod"), "unit": _find(el, "MeaUnits"), "quantity": _find(el, "Quantity"),
            "unit_price": _find(el, "UnPrice"), "amount": _find(el, "Amount"),
            "tax_rate": _find(el, "TaxRate"), "tax_amount": _find(el, "ComTaxAm"),
        })
    rates = sorted({i["tax_rate"] for i in items if i["tax_rate"]})
    label = _find(root, "LabelCode")
    fields = {
        "invoice_number": _find(root, "InvoiceNumber") or _find(root, "EIid"),
        "invoice_code": "",
        "issue_date": _find(root, "IssueTime") or _find(root, "RequestTime"),
        "seller_tax_id": _find(root, "SellerIdNum"), "seller_name": _find(root, "SellerName"),
        "buyer_tax_id": _find(root, "BuyerIdNum"), "buyer_name": _find(root, "BuyerName"),
        "amount": _find(root, "TotalAmWithoutTax"), "tax_amount": _find(root, "TotalTaxAm"),
        "total_amount": _find(root, "TotalTax-includedAmount"),
        "tax_rate": rates[0] if len(rates) == 1 else "",
        "invoice_type": _XML_KIND.get(label, _find(root, "LabelName")),
        "red_ref": _find(root, "OriginalInvoiceNumber") or _find(root, "BlueInvoiceNumber"),
        "status": "红字" if _find(root, "RedInvoiceFlag") in ("1", "Y", "true") else "",
        "item_code": items[0]["item_code"] if items else "", "item_name": items[0]["item_name"] if items else "",
    }
    if len(rates) > 1:   # one rate per row: a mixed-rate invoice is flagged by the rate rule, with the rates
        fields["tax_rate"] = "/".join(rates)
    return Document(fields, items, "xml")


# ---------------------------------------------------------------- text layout (PDF / OFD page text)

@dataclass
class Segment:
    """A run of text on one line of a page, with the position of its left edge."""

    text: str
    x: float
    y: float


_LABELS = {
    "invoice_number": r"发票号码",
    "invoice_code": r"发票代码",
    "issue_date": r"开票日期",
}
_PARTY = r"(?:统一社会信用代码\s*/\s*纳税人识别号|纳税人识别号|统一社会信用代码)"
_MONEY = r"[-−]?\s*[¥￥]?\s*-?[\d,]+\.\d{2}"


def _value_after(label: str, text: str) -> str | None:
    m = re.search(label + r"\s*[:：]\s*(\S[^:：]*?)\s*$", text)
    return m.group(1).strip() if m else None


def _money(text: str) -> str:
    return re.sub(r"[¥￥\s,]", "", text).replace("−", "-")


def _lines(segments: list[Segment], tol: float = 3) -> list[list[Segment]]:
    """Runs grouped into lines (tops within ``tol``), each left to right, lines top to bottom."""
    lines: list[list[Segment]] = []
    for s in sorted(segments, key=lambda s: (s.y, s.x)):
        if lines and abs(lines[-1][0].y - s.y) <= tol:
            lines[-1].append(s)
        else:
            lines.append([s])
    return [sorted(line, key=lambda s: s.x) for line in lines]


def _labelled(lines: list[list[Segment]]) -> list[Segment]:
    """Runs with a label that ends in a colon joined to the value run right of it (``名称：`` + ``…``)."""
    out = []
    for line in lines:
        i = 0
        while i < len(line):
            s = line[i]
            if re.search(r"[:：]\s*$", s.text) and i + 1 < len(line) and not re.search(r"[:：]", line[i + 1].text):
                out.append(Segment(s.text + line[i + 1].text, s.x, s.y))
                i += 2
            else:
                out.append(s)
                i += 1
    return out


def fields_from_layout(segments: list[Segment], tol: float = 3) -> Document:
    """Invoice fields from positioned text of the standard layouts (数电票; 增值税电子专用/普通发票).

    Labels are matched on each text run (``发票号码：…``, ``名称：…``, ``纳税人识别号：…``; a label and
    its value may be separate runs); a party's name and id go to the buyer or the seller by the nearer
    购买方 / 销售方 marker, which fits the side-by-side 数电 layout and the stacked older one. Money
    comes from the 合计 line and the (小写) total; rates and item lines from the item table. ``tol``:
    how far apart (page units) the tops of runs on one line may be.
    """
    fields: dict[str, str] = {}
    lines = _lines([s for s in segments if s.text.strip()], tol)
    runs = _labelled(lines)
    for s in runs:
        for name, label in _LABELS.items():
            v = _value_after(label, s.text)
            if v and name not in fields:
                fields[name] = re.sub(r"\s", "", v)
    # 购买方 / 销售方 (also as OCR misreads the last character, e.g. 购买广)
    markers = {"buyer": [(s.x, s.y) for s in runs if re.match(r"^(购\s*买|购\s*方)", s.text)],
               "seller": [(s.x, s.y) for s in runs if re.match(r"^(销\s*售|销\s*方)", s.text)]}

    def side(s: Segment) -> str | None:
        best: tuple[float, str] | None = None
        for who, points in markers.items():
            for x, y in points:
                d = ((s.x - x) ** 2 + (s.y - y) ** 2) ** 0.5
                if best is None or d < best[0]:
                    best = (d, who)
        return best[1] if best else None

    for s in runs:
        party = _value_after(r"名\s*称", s.text)
        tid = _value_after(_PARTY, s.text)
        who = side(s) if (party or tid) else None
        if who is None:
            continue
        if party and f"{who}_name" not in fields:
            fields[f"{who}_name"] = party
        if tid and f"{who}_tax_id" not in fields:
            fields[f"{who}_tax_id"] = re.sub(r"\s", "", tid)
    text_lines = [" ".join(s.text for s in line) for line in lines]
    for line in text_lines:
        if re.match(r"^合\s*计", line) and "amount" not in fields:
            found = re.findall(_MONEY, line)
            if len(found) >= 2:
                fields["amount"], fields["tax_amount"] = _money(found[0]), _money(found[1])
        # the total follows （小写）, or ends the 价税合计 line when OCR misreads （小写） (seen: 直写))
        if ("小写" in line or re.match(r"^价\s*税\s*合\s*计", line)) and "total_amount" not in fields:
            found = re.findall(_MONEY, line)
            if found:
                fields["total_amount"] = _money(found[-1])
    items = _items(segments, tol)
    rates = sorted({i["tax_rate"] for i in items if i["tax_rate"]})
    if rates:
        fields["tax_rate"] = "/".join(rates)
    if items:
        fields["item_name"] = items[0]["item_name"]
    title = re.sub(r"\s", "", " ".join(text_lines[:4]))
    fields["invoice_type"] = ("数电专票" if re.search(r"电子发票[（(]增值税专用发票[)）]", title)
                              else "数电普票" if re.search(r"电子发票[（(]普通发票[)）]", title)
                              else "专票" if "专用发票" in title else "普票" if "普通发票" in title else "")
    fields.setdefault("invoice_code", "")
    return Document(fields, items)


#: The item table's first header (项目名称, 货物或应税劳务、服务名称); OCR may misread 目 (项县名称).
_ITEM_HEADER = r"(项.名称|货物或应税劳务)"


def _items(segments: list[Segment], tol: float = 3) -> list[dict[str, str]]:
    """Item lines: the rows between the column header (项目名称 / 货物或应税劳务…) and the 合计 row,
    each cell given to the header column whose left edge is nearest."""
    header = next((s for s in segments if re.match(_ITEM_HEADER, s.text)), None)
    stop = re.compile(r"^(合\s*计|价税合计)")
    if header is None:
        return []
    hy = header.y
    cols: dict[str, float] = {}
    names = {_ITEM_HEADER: "item_name", "规格型号": "spec", "单位": "unit",
             "数量": "quantity", "单价": "unit_price", "金额": "amount", "税率": "tax_rate", "税额": "tax_amount"}
    for s in segments:
        if abs(s.y - hy) < tol:
            for word, key in names.items():
                if re.match(word, s.text) and key not in cols:
                    cols[key] = s.x
    end = min((s.y for s in segments if s.y > hy and stop.match(s.text)), default=hy)
    items = []
    for cells in _lines([s for s in segments if hy + tol < s.y < end - 1], tol):
        item = dict.fromkeys(ITEM_FIELDS, "")
        for c in cells:
            key = min(cols, key=lambda k: abs(cols[k] - c.x))
            if key == "tax_rate" and "tax_amount" not in cols and not re.search(r"%|免税|不征税|\*\*\*", c.text):
                key = "tax_amount"   # 税率 and 税额 headers read as one run (OCR): a money cell is the tax
            item[key] = (item[key] + c.text).strip()
        item["amount"], item["tax_amount"] = _money(item["amount"]), _money(item["tax_amount"])
        if item["item_name"] or item["amount"]:
            items.append(item)
    return items


# ---------------------------------------------------------------- PDF

def pdf_segments(data: bytes, what: str) -> list[list[Segment]]:
    """Positioned text runs of each page of a PDF (PDFium's text rectangles, top-left origin in points).
    Raises :class:`InvalidData` for a damaged, truncated or encrypted PDF."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        text = str(e)
        if "password" in text.lower():
            raise InvalidData(f"{what}: the PDF is encrypted (password protected); save an unprotected copy") from e
        raise InvalidData(f"{what}: damaged or truncated PDF ({text})") from e
    try:
        pages = []
        for i in range(len(doc)):
            page = doc[i]
            height = page.get_height()
            tp = page.get_textpage()
            runs = []
            for r in range(tp.count_rects()):
                left, bottom, right, top = tp.get_rect(r)
                text = tp.get_text_bounded(left, bottom, right, top).strip()
                if text:
                    runs.append(Segment(text, float(left), float(height - top)))
            pages.append(runs)
        return pages
    except pdfium.PdfiumError as e:
        raise InvalidData(f"{what}: damaged PDF ({e})") from e
    finally:
        doc.close()


def parse_pdf(data: bytes, what: str = "PDF") -> Document:
    """A PDF e-invoice with a text layer → fields (first page) and item lines. A PDF without text
    raises :class:`NoTextLayer` (the caller may OCR it)."""
    pages = pdf_segments(data, what)
    if not pages or sum(len(p) for p in pages) < 5:
        raise NoTextLayer(f"{what}: the PDF has no text layer (a scan?); OCR needs the 'ocr' extra")
    doc = fields_from_layout(pages[0])
    doc.method = "pdf-text"
    return doc


class NoTextLayer(InvalidData):
    """A PDF without text: a scan, to be read by OCR."""


# ---------------------------------------------------------------- OFD

def _ofd_members(data: bytes, what: str) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise InvalidData(f"{what}: not an OFD file (an OFD is a zip package; {e})") from e
    out: dict[str, bytes] = {}
    total = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".xml"):
                continue
            total += info.file_size
            if total > OFD_MAX_UNPACKED or info.file_size > 100 * max(info.compress_size, 1) + (1 << 20):
                raise InvalidData(f"{what}: the OFD package expands too far; refused as a possible zip bomb")
            try:
                out[info.filename.lstrip("/")] = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise InvalidData(f"{what}: damaged OFD package ({e})") from e
    if "OFD.xml" not in out:
        raise InvalidData(f"{what}: not an OFD file (no OFD.xml in the package)")
    return out


_OFD_CUSTOM = {
    "发票代码": "invoice_code", "发票号码": "invoice_number", "开票日期": "issue_date", "合计金额": "amount",
    "合计税额": "tax_amount", "价税合计": "total_amount", "购买方纳税人识别号": "buyer_tax_id",
    "销售方纳税人识别号": "seller_tax_id", "购买方名称": "buyer_name", "销售方名称": "seller_name",
}


def parse_ofd(data: bytes, what: str = "OFD") -> Document:
    """An OFD e-invoice: the attached 数电 XML when the package carries one, else the page text (laid
    out as on paper) completed by the DocInfo custom data (发票号码, 合计金额 … as name/value pairs)."""
    members = _ofd_members(data, what)
    for name, body in members.items():
        if name == "OFD.xml" or b"EInvoice" not in body[:4096]:
            continue
        try:
            doc = parse_einvoice_xml(body, f"{what}:{name}")
        except InvalidData:
            continue
        doc.method = "ofd-xml"
        return doc
    segments: list[Segment] = []
    for name in sorted(members):
        if re.search(r"Pages/Page_?\d+/Content\.xml$", name):
            segments += _ofd_text(members[name], f"{what}:{name}")
    doc = fields_from_layout(segments) if segments else Document({})
    doc.method = "ofd-text"
    root = _parse_xml(members["OFD.xml"], f"{what}:OFD.xml")
    custom = {el.get("Name", ""): (el.text or "").strip() for el in root.iter() if _local(el.tag) == "CustomData"}
    for key, col in _OFD_CUSTOM.items():
        if custom.get(key):
            doc.fields[col] = _money(custom[key]) if col in ("amount", "tax_amount", "total_amount") else custom[key]
            doc.method = "ofd-tags" if doc.method == "ofd-text" and not segments else doc.method
    if not doc.fields.get("invoice_number"):
        raise InvalidData(f"{what}: no invoice found in the OFD (no attached invoice XML, tags or page text)")
    doc.fields.setdefault("invoice_code", "")
    return doc


def _ofd_text(data: bytes, what: str) -> list[Segment]:
    """Text objects of an OFD page (Boundary gives the position in mm; one run per TextObject)."""
    root = _parse_xml(data, what)
    out = []
    for obj in root.iter():
        if _local(obj.tag) != "TextObject":
            continue
        text = "".join((c.text or "") for c in obj.iter() if _local(c.tag) == "TextCode")
        box = [float(v) for v in (obj.get("Boundary") or "0 0 0 0").split()[:2]]
        if text.strip():
            out.append(Segment(text.strip(), box[0] * 72 / 25.4, box[1] * 72 / 25.4))
    return out

"""E-invoice files generated for the tests: 数电 XML, OFD packages (GB/T 33190) and PDFs rendered with a
CJK font in the 数电 and the older 增值税电子普通发票 layouts. Every field is known, so a test can
compare what the reader found with what was written."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@dataclass
class Item:
    name: str
    code: str
    quantity: str
    unit_price: str
    amount_fen: int
    rate_pct: int

    @property
    def tax_fen(self) -> int:
        return (self.amount_fen * self.rate_pct + 50) // 100


@dataclass
class Inv:
    number: str
    date: str                      # YYYY-MM-DD
    seller: tuple[str, str]        # (tax id, name)
    buyer: tuple[str, str]
    items: list[Item] = field(default_factory=list)
    code: str = ""
    kind: str = "01"               # 01 专票, 02 普票

    @property
    def amount_fen(self) -> int:
        return sum(i.amount_fen for i in self.items)

    @property
    def tax_fen(self) -> int:
        return sum(i.tax_fen for i in self.items)

    @property
    def key(self) -> str:
        return f"{self.code}-{self.number}" if self.code else self.number


def yuan(fen: int, sep: str = "") -> str:
    return f"{fen / 100:,.2f}".replace(",", sep)


def sample(i: int, *, digital: bool = True) -> Inv:
    from tests.ingest.bureau import NAMES, TAX_IDS

    s, b = i % len(TAX_IDS), (i + 1) % len(TAX_IDS)
    items = [Item("*信息技术服务*软件开发服务", "3040201010000000000", "1", yuan(1_200_000 + 100 * i), 1_200_000 + 100 * i, 13)]
    if i % 2:
        items.append(Item("*计算机配套产品*键盘", "1090511020000000000", "10", "85.00", 85_000, 13))
    return Inv(number=f"2435{2000000000000000 + i:016d}" if digital else f"{20_000_000 + i:08d}",
               code="" if digital else "035022000111", date=f"2024-03-{1 + i % 28:02d}",
               seller=(TAX_IDS[s], NAMES[s]), buyer=(TAX_IDS[b], NAMES[b]), items=items, kind="01" if i % 3 else "02")


def einvoice_xml(inv: Inv) -> bytes:
    """A 数电 invoice XML as the 电子发票服务平台 delivers it."""
    items = "".join(
        f"<IssuItemInformation><ItemName>{escape(it.name)}</ItemName><SpecMod></SpecMod><MeaUnits>项</MeaUnits>"
        f"<Quantity>{it.quantity}</Quantity><UnPrice>{it.unit_price}</UnPrice><Amount>{yuan(it.amount_fen)}</Amount>"
        f"<TaxRate>{it.rate_pct / 100:.2f}</TaxRate><ComTaxAm>{yuan(it.tax_fen)}</ComTaxAm>"
        f"<TotaltaxIncludedAmount>{yuan(it.amount_fen + it.tax_fen)}</TotaltaxIncludedAmount>"
        f"<TaxClassificationCode>{it.code}</TaxClassificationCode></IssuItemInformation>" for it in inv.items)
    label = "增值税专用发票" if inv.kind == "01" else "普通发票"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<EInvoice>'
        f"<Header><EIid>{inv.number}</EIid><EInvoiceTag>SWEI3500</EInvoiceTag><Version>0.1</Version>"
        f"<InherentLabel><GeneralOrSpecialVAT><LabelCode>{inv.kind}</LabelCode><LabelName>{label}</LabelName>"
        "</GeneralOrSpecialVAT></InherentLabel></Header><EInvoiceData>"
        f"<SellerInformation><SellerIdNum>{inv.seller[0]}</SellerIdNum><SellerName>{escape(inv.seller[1])}</SellerName>"
        "</SellerInformation>"
        f"<BuyerInformation><BuyerIdNum>{inv.buyer[0]}</BuyerIdNum><BuyerName>{escape(inv.buyer[1])}</BuyerName>"
        "</BuyerInformation>"
        f"<BasicInformation><TotalAmWithoutTax>{yuan(inv.amount_fen)}</TotalAmWithoutTax>"
        f"<TotalTaxAm>{yuan(inv.tax_fen)}</TotalTaxAm>"
        f"<TotalTax-includedAmount>{yuan(inv.amount_fen + inv.tax_fen)}</TotalTax-includedAmount>"
        f"<Drawer>张三</Drawer><RequestTime>{inv.date} 10:00:00</RequestTime></BasicInformation>{items}"
        f"</EInvoiceData><TaxSupervisionInfo><InvoiceNumber>{inv.number}</InvoiceNumber>"
        f"<IssueTime>{inv.date} 10:00:00</IssueTime><TaxBureauCode>13502000000</TaxBureauCode>"
        "<TaxBureauName>国家税务总局厦门市税务局</TaxBureauName></TaxSupervisionInfo></EInvoice>"
    ).encode()


def _layout(inv: Inv, legacy: bool) -> list[tuple[float, float, str]]:
    """(x mm, y mm, text) of an invoice page in the 数电 layout or the older 电子普通发票 layout."""
    y_d = inv.date.split("-")
    date = f"{y_d[0]}年{y_d[1]}月{y_d[2]}日"
    total = inv.amount_fen + inv.tax_fen
    out: list[tuple[float, float, str]] = []
    if legacy:
        out += [(60, 14, "厦门增值税电子普通发票"), (140, 22, "发票代码："), (160, 22, inv.code),
                (140, 28, "发票号码："), (160, 28, inv.number), (140, 34, "开票日期："), (160, 34, date),
                (140, 40, "校验码：12345 67890 12345 67890"),
                (8, 52, "购买方"), (20, 48, f"名称：{inv.buyer[1]}"), (20, 54, f"纳税人识别号：{inv.buyer[0]}"),
                (8, 126, "销售方"), (20, 122, f"名称：{inv.seller[1]}"), (20, 128, f"纳税人识别号：{inv.seller[0]}")]
        head = [(10, "货物或应税劳务、服务名称"), (70, "规格型号"), (90, "单位"), (102, "数量"), (115, "单价"),
                (135, "金额"), (160, "税率"), (180, "税额")]
    else:
        out += [(60, 14, "电子发票（增值税专用发票）" if inv.kind == "01" else "电子发票（普通发票）"),
                (140, 22, "发票号码："), (160, 22, inv.number), (140, 28, "开票日期："), (160, 28, date),
                (8, 48, "购买方信息"), (20, 44, "名称："), (32, 44, inv.buyer[1]),
                (20, 52, "统一社会信用代码/纳税人识别号："), (72, 52, inv.buyer[0]),
                (105, 48, "销售方信息"), (117, 44, "名称："), (129, 44, inv.seller[1]),
                (117, 52, "统一社会信用代码/纳税人识别号："), (169, 52, inv.seller[0])]
        head = [(10, "项目名称"), (70, "规格型号"), (90, "单位"), (102, "数量"), (115, "单价"), (135, "金额"),
                (160, "税率/征收率"), (180, "税额")]
    out += [(x, 66, t) for x, t in head]
    y = 74.0
    for it in inv.items:
        out += [(10, y, it.name), (90, y, "项"), (102, y, it.quantity), (115, y, it.unit_price),
                (135, y, yuan(it.amount_fen)), (160, y, f"{it.rate_pct}%"), (180, y, yuan(it.tax_fen))]
        y += 7
    out += [(10, 110, "合 计"), (135, 110, f"¥{yuan(inv.amount_fen, ',')}"), (180, 110, f"¥{yuan(inv.tax_fen, ',')}"),
            (10, 118, "价税合计（大写）"), (50, 118, "⊗壹万叁仟伍佰陆拾圆整"), (140, 118, "（小写）"),
            (158, 118, f"¥{yuan(total, ',')}"), (150 if legacy else 10, 134 if legacy else 130, "开票人：张三")]
    return out


def invoice_pdf(inv: Inv, *, legacy: bool = False) -> bytes:
    """The invoice as a PDF with a text layer (fpdf2, Noto Sans CJK)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format=(140, 210))
    pdf.add_page()
    pdf.add_font("noto", fname=str(CJK_FONT), collection_font_number=2)
    pdf.set_font("noto", size=8)
    for x, y, text in _layout(inv, legacy):
        pdf.text(x, y, text)
    return bytes(pdf.output())


def ofd_package(inv: Inv, *, variant: str = "xml") -> bytes:
    """An OFD package: OFD.xml (DocInfo with the invoice's custom data), Document.xml, one page of text
    objects; ``variant`` "xml" also attaches the 数电 XML, "tags" drops the page text, "text" drops
    the custom data."""
    custom = {"发票号码": inv.number, "发票代码": inv.code, "开票日期": inv.date, "合计金额": yuan(inv.amount_fen),
              "合计税额": yuan(inv.tax_fen), "购买方纳税人识别号": inv.buyer[0], "销售方纳税人识别号": inv.seller[0]}
    if variant == "tags":
        custom.update({"购买方名称": inv.buyer[1], "销售方名称": inv.seller[1],
                       "价税合计": yuan(inv.amount_fen + inv.tax_fen)})
    datas = "" if variant == "text" else "".join(
        f'<ofd:CustomData Name="{k}">{escape(v)}</ofd:CustomData>' for k, v in custom.items())
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    ofd_xml = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.1" DocType="OFD"><ofd:DocBody>'
               f"<ofd:DocInfo><ofd:DocID>{inv.number}</ofd:DocID><ofd:CustomDatas>{datas}</ofd:CustomDatas>"
               "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")
    document = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:CommonData><ofd:MaxUnitID>999'
                "</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 140</ofd:PhysicalBox></ofd:PageArea>"
                '</ofd:CommonData><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>'
                "<ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments></ofd:Document>")
    objs = "" if variant == "tags" else "".join(
        f'<ofd:TextObject ID="{i + 10}" Boundary="{x} {y - 4} 60 5" Font="3" Size="3.2">'
        f'<ofd:TextCode X="0" Y="4">{escape(t)}</ofd:TextCode></ofd:TextObject>'
        for i, (x, y, t) in enumerate(_layout(inv, legacy=bool(inv.code))))
    content = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content><ofd:Layer ID="2">{objs}'
               "</ofd:Layer></ofd:Content></ofd:Page>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", ofd_xml)
        z.writestr("Doc_0/Document.xml", document)
        z.writestr("Doc_0/Pages/Page_0/Content.xml", content)
        if variant == "xml":
            z.writestr("Doc_0/Attachs/Attachments.xml",
                       f'<?xml version="1.0" encoding="UTF-8"?><ofd:Attachments {ns}><ofd:Attachment ID="1" '
                       'Name="original_invoice" Format="xml"><ofd:FileLoc>original_invoice.xml</ofd:FileLoc>'
                       "</ofd:Attachment></ofd:Attachments>")
            z.writestr("Doc_0/Attachs/original_invoice.xml", einvoice_xml(inv))
    return buf.getvalue()

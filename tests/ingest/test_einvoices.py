"""E-invoice files (数电 XML, OFD, PDF) load through the same rules; bad files are quarantined by name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from graph import open_store
from loaders.einvoice import parse_einvoice_xml, parse_ofd, parse_pdf
from loaders.load import load_files
from tests.ingest.einvoices import CJK_FONT, Inv, einvoice_xml, invoice_pdf, ofd_package, sample, yuan

needs_font = pytest.mark.skipif(not CJK_FONT.exists(), reason="Noto Sans CJK (Debian fonts-noto-cjk) is missing")


def _expect(inv: Inv, fields: dict[str, str]) -> None:
    assert fields["invoice_number"] == inv.number
    assert fields["invoice_code"] == inv.code
    assert (fields["seller_tax_id"], fields["seller_name"]) == inv.seller
    assert (fields["buyer_tax_id"], fields["buyer_name"]) == inv.buyer
    assert fields["amount"].replace(",", "") == yuan(inv.amount_fen)
    assert fields["tax_amount"].replace(",", "") == yuan(inv.tax_fen)
    assert fields["total_amount"].replace(",", "") == yuan(inv.amount_fen + inv.tax_fen)


def test_xml_fields_and_item_lines() -> None:
    inv = sample(1)
    doc = parse_einvoice_xml(einvoice_xml(inv))
    _expect(inv, doc.fields)
    assert doc.fields["issue_date"].startswith(inv.date)
    assert [i["item_name"] for i in doc.items] == [i.name for i in inv.items]
    assert doc.items[1]["quantity"] == "10" and doc.items[1]["item_code"] == inv.items[1].code
    assert doc.fields["tax_rate"] == "0.13"


@pytest.mark.parametrize("variant", ["xml", "tags", "text"])
def test_ofd_variants(variant: str) -> None:
    inv = sample(3)
    doc = parse_ofd(ofd_package(inv, variant=variant))
    _expect(inv, doc.fields)
    assert doc.method == {"xml": "ofd-xml", "tags": "ofd-tags", "text": "ofd-text"}[variant]


@needs_font
@pytest.mark.parametrize("legacy", [False, True])
def test_pdf_layouts(legacy: bool) -> None:
    inv = sample(5, digital=not legacy)
    doc = parse_pdf(invoice_pdf(inv, legacy=legacy))
    _expect(inv, doc.fields)
    assert doc.fields["tax_rate"] == "13%"
    assert [i["item_name"] for i in doc.items] == [i.name for i in inv.items]
    assert doc.fields["invoice_type"] == ("普票" if legacy else "数电专票" if inv.kind == "01" else "数电普票")


@needs_font
def test_folder_of_every_kind_loads_in_one_command(tmp_path: Path) -> None:
    folder = tmp_path / "收到的发票"
    folder.mkdir()
    invs = [sample(i) for i in range(6)]
    (folder / "a.xml").write_bytes(einvoice_xml(invs[0]))
    (folder / "b.ofd").write_bytes(ofd_package(invs[1]))
    (folder / "c.pdf").write_bytes(invoice_pdf(invs[2]))
    (folder / "d.pdf").write_bytes(invoice_pdf(sample(7, digital=False), legacy=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x/e.xml", einvoice_xml(invs[4]))
        z.writestr("f.ofd", ofd_package(invs[5], variant="text"))
    (folder / "more.zip").write_bytes(buf.getvalue())
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, folder, report_dir=tmp_path / "r")
        assert (rep.read, rep.loaded, rep.rejected) == (6, 6, 0), (rep.by_rule, rep.notes)
        keys = set(store.invoice_stream().column("key").to_pylist())
    assert {i.key for i in invs[:3] + invs[4:]} <= keys


def test_bad_files_are_quarantined_by_name_and_store_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = einvoice_xml(sample(2))
    (folder / "ok.xml").write_bytes(good)
    (folder / "xxe.xml").write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                    "<EInvoice>&x;</EInvoice>")
    lol = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>"
    (folder / "laughs.xml").write_text(f'<?xml version="1.0"?>{lol}<EInvoice>&i;</EInvoice>')
    (folder / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    (folder / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (folder / "notes.docx").write_bytes(b"PK")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil.xml", good)
    (folder / "slip.zip").write_bytes(buf.getvalue())
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, folder, report_dir=tmp_path / "r")
        stored = store.invoice_stream().num_rows
    assert rep.loaded == 1 and stored == 1
    assert rep.rejected == 6
    q = (tmp_path / "r" / "e-invoices" / "quarantine.csv").read_text(encoding="utf-8")
    for name in ("xxe.xml", "laughs.xml", "truncated.pdf", "cat.png", "notes.docx", "../../evil.xml"):
        assert name in q
    assert "not allowed" in q and "leaves the archive" in q
    assert not (tmp_path / "evil.xml").exists()


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_encryption(owner_password="o", user_password="secret")
    (tmp_path / "locked.pdf").write_bytes(bytes(pdf.output()))
    rep = load_files(None, tmp_path / "locked.pdf", report_dir=tmp_path / "r")
    assert rep.rejected == 1
    assert "encrypted" in (tmp_path / "r" / "e-invoices" / "quarantine.csv").read_text(encoding="utf-8")


def test_originals_are_kept_and_indexed(tmp_path: Path) -> None:
    from loaders.evidence import Evidence, evidence_dir, sha256_file
    from tests.ingest.bureau import bureau_rows, write_bureau_csv

    inv = sample(9)
    (tmp_path / "in").mkdir()
    xml = tmp_path / "in" / "one.xml"
    xml.write_bytes(einvoice_xml(inv))
    export = write_bureau_csv(tmp_path / "export.csv", bureau_rows(4))
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        load_files(store, tmp_path / "in", report_dir=tmp_path / "r1")
        load_files(store, export, report_dir=tmp_path / "r2")
        ev = Evidence(evidence_dir(store))
    [orig] = ev.originals(inv.key)
    assert orig["sha256"] == sha256_file(xml) and orig["source"] == "one.xml"
    assert Path(orig["path"]).read_bytes() == xml.read_bytes() and ev.verify(orig["sha256"])
    assert [i["item_name"] for i in orig["items"]] == [i.name for i in inv.items]
    first = bureau_rows(4)[0]["数电票号码"]
    [row] = ev.originals(first)
    assert row["sha256"] == sha256_file(export) and row["kind"] == "table"


def test_dry_run_keeps_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(einvoice_xml(sample(1)))
    rep = load_files(None, tmp_path / "a.xml", report_dir=tmp_path / "r")
    assert rep.loaded == 1 and not (tmp_path / "evidence").exists()


def test_case_export_carries_the_originals_with_their_hash(tmp_path: Path) -> None:
    import hashlib
    import json as _json

    from workbench.auth import User
    from workbench.cases import open_case
    from workbench.export import export_case, verify_export

    invs = [sample(20), sample(21)]
    (tmp_path / "in").mkdir()
    for i, inv in enumerate(invs):
        (tmp_path / "in" / f"{i}.xml").write_bytes(einvoice_xml(inv))
    analyst = User("ana", ("analyst",), "分析员")
    investigator = User("ivan", ("investigator",), "调查员")
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        load_files(store, tmp_path / "in", report_dir=tmp_path / "r")
        case = open_case(store, investigator, "两张电子发票", taxpayers=[invs[0].seller[0]],
                         invoices=[i.key for i in invs])
        out = export_case(store, analyst, case.case_id, tmp_path / "exp")
    assert verify_export(out).ok
    with zipfile.ZipFile(out) as z:
        manifest = _json.loads(z.read("manifest.json"))
        originals = [n for n in z.namelist() if n.startswith("originals/")]
        assert len(originals) == 2
        for n in originals:
            data = z.read(n)
            assert manifest["files"][n]["sha256"] == hashlib.sha256(data).hexdigest()
            assert data in {einvoice_xml(i) for i in invs}
        assert "originals.csv" in manifest["files"]

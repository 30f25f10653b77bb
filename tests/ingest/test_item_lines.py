"""Item lines (明细) as a store table: e-invoice files' lines and a bureau export's item sheet, written only for
loaded invoices, the sheet's orphan lines quarantined with their reason, a re-run idempotent."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from graph import open_store
from loaders.load import load_files
from tests.ingest.bureau import bureau_rows, write_bureau_xlsx
from tests.ingest.einvoices import einvoice_xml, sample


def _quarantine(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    return list(csv.DictReader(open(path, encoding="utf-8-sig")))


def test_einvoice_lines_stored_for_loaded_invoices_only(tmp_path: Path) -> None:
    good = [sample(1), sample(2)]                       # sample(1) has two lines
    bad = replace(sample(5), buyer=sample(5).seller)    # seller = buyer: rejected (same_party), two lines
    folder = tmp_path / "in"
    folder.mkdir()
    for i, inv in enumerate([*good, bad]):
        (folder / f"{i}.xml").write_bytes(einvoice_xml(inv))
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        for run in (1, 2):                              # the second run changes nothing
            rep = load_files(store, folder, report_dir=tmp_path / f"r{run}")
            assert (rep.loaded, rep.rejected) == ((2, 1) if run == 1 else (0, 1))
            assert (rep.item_lines_read, rep.item_lines_loaded, rep.item_lines_rejected) == (5, 3, 2)   # sample(5) has two lines too
            for inv in good:
                got = store.item_lines(inv.key).to_pylist()
                assert [(r["line"], r["item_name"], r["item_code"], r["amount_fen"], r["tax_fen"], r["rate"],
                         r["quantity"], r["unit_price"], r["unit"]) for r in got] == [
                    (n, it.name, it.code, it.amount_fen, it.tax_fen, it.rate_pct / 100, float(it.quantity),
                     it.unit_price, "项") for n, it in enumerate(inv.items, 1)]
            assert store.item_lines(bad.key).num_rows == 0
            assert store.invoice(bad.key) is None


def _with_items(path: Path, extra: list[list[str]]) -> Path:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["发票明细信息"]
    for row in extra:
        ws.append(row)
    wb.save(path)
    return path


def test_bureau_item_sheet_lines_joined_by_number_orphans_quarantined(tmp_path: Path) -> None:
    rows = bureau_rows(6)
    rows[3]["销方识别号"] = "123"                        # this invoice is rejected (tax id format)
    path = write_bureau_xlsx(tmp_path / "全量发票查询.xlsx", rows)
    second = rows[0]                                    # a second line of the first (digital) invoice
    _with_items(path, [
        [second["数电票号码"], "", "", "", "", "", "", "", "*计算机配套产品*键盘", "10", "85.00", "850.00", "13%",
         "110.50", "960.50"],
        ["24359999999999999999", "", "", "", "", "", "", "", "*无票*幽灵", "1", "1.00", "1.00", "13%", "0.13", "1.13"],
        [second["数电票号码"], "", "", "", "", "", "", "", "*坏数*", "几个", "1.00", "1.00", "13%", "0.13", "1.13"],
    ])
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        for run in (1, 2):
            rep = load_files(store, path, report_dir=tmp_path / f"r{run}")
            assert (rep.read, rep.rejected) == (6, 1)
            assert (rep.item_lines_read, rep.item_lines_loaded, rep.item_lines_rejected) == (9, 6, 3)
            assert rep.item_lines_by_rule == {"line_invoice_rejected": 1, "line_invoice_missing": 1, "bad_value": 1}
            lines = store.item_lines(second["数电票号码"]).to_pylist()
            assert [(r["line"], r["item_name"], r["amount_fen"], r["tax_fen"], r["rate"], r["quantity"])
                    for r in lines] == [(1, "*信息技术服务*软件开发", 1_200_000, 156_000, 0.13, 1.0),
                                        (2, "*计算机配套产品*键盘", 85_000, 11_050, 0.13, 10.0)]
            paper = rows[1]                             # a paper invoice: joined by code + number
            [line] = store.item_lines(f"{paper['发票代码']}-{paper['发票号码']}").to_pylist()
            assert line["amount_fen"] == 1_203_700 and line["rate"] == 0.06
            assert store.item_lines(rows[3]["数电票号码"] or f"{rows[3]['发票代码']}-{rows[3]['发票号码']}"
                                    ).num_rows == 0
            q = _quarantine(rep.item_quarantine_path)
            assert sorted(r["rules"] for r in q) == ["bad_value", "line_invoice_missing", "line_invoice_rejected"]
            assert all(r["工作表"] == "发票明细信息" and r["reasons"] for r in q)
            ghost = next(r for r in q if r["rules"] == "line_invoice_missing")
            assert ghost["货物或应税劳务名称"] == "*无票*幽灵" and ghost["record"] == "9"   # its row in the sheet
            assert "不在本文件中" in ghost["reasons"]


def test_dry_run_counts_lines_and_writes_none(tmp_path: Path) -> None:
    path = write_bureau_xlsx(tmp_path / "a.xlsx", bureau_rows(4))
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert (rep.item_lines_read, rep.item_lines_loaded, rep.item_lines_rejected) == (4, 4, 0)

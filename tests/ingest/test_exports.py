"""Tax-bureau exports as they come load completely with no mapping file."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from graph import open_store
from loaders.load import load_files
from tests.ingest.bureau import HEADER, bureau_rows, write_bureau_csv, write_bureau_xlsx


def _invoices(ws: Path) -> list[dict[str, object]]:
    with open_store(f"embedded:{ws}") as store:
        return store.invoice_stream().to_pylist()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_bureau_export_loads_completely(tmp_path: Path, kind: str) -> None:
    rows = bureau_rows(40)
    path = (write_bureau_csv(tmp_path / "全量发票查询.csv", rows) if kind == "csv"
            else write_bureau_xlsx(tmp_path / "全量发票查询.xlsx", rows))
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, path, report_dir=tmp_path / "rep")
    assert (rep.read, rep.loaded, rep.rejected) == (40, 40, 0), rep.by_rule
    assert len(_invoices(tmp_path / "ws")) == 40
    codes = {n.code for n in rep.notes}
    assert {"header_row_found", "total_rows_skipped"} <= codes, rep.notes
    if kind == "xlsx":   # the item sheet is named as joined, not read as invoices
        assert any(n.code == "sheet_item_lines" and n.values["sheet"] == "发票明细信息" for n in rep.notes)


def test_values_as_exported_are_parsed(tmp_path: Path) -> None:
    rows = bureau_rows(12)
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, write_bureau_csv(tmp_path / "e.csv", rows), report_dir=tmp_path / "r")
    assert rep.loaded == 12
    inv = _invoices(tmp_path / "ws")
    by_key = {r["key"]: r for r in inv}
    first = by_key[rows[0]["数电票号码"]]            # 数电: number from the 数电票号码 column, no code
    assert first["code"] == "" and first["kind"] == "digital_special"
    assert first["amount_fen"] == 1_200_000 and first["rate"] == pytest.approx(0.13)
    assert first["issued_at"].strftime("%Y-%m-%d") == "2024-03-01"
    second = by_key[f"3502241130-{rows[1]['发票号码']}"]  # tax-control: code + 8-digit number
    assert second["kind"] == "special"
    statuses = {r["status"] for r in inv}
    assert {"normal", "red_offset", "out_of_control", "abnormal"} <= statuses


def test_several_sheets_are_read_and_named(tmp_path: Path) -> None:
    path = write_bureau_xlsx(tmp_path / "e.xlsx", bureau_rows(30), sheets=3)
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert (rep.read, rep.loaded) == (30, 30)
    assert [n.values["sheets"] for n in rep.notes if n.code == "sheets_read"] == [
        ["发票基础信息1", "发票基础信息2", "发票基础信息3"]], rep.notes
    only = load_files(None, path, report_dir=tmp_path / "r2", sheet="发票基础信息2")
    assert only.read == 10


def test_gz_and_zip_members(tmp_path: Path) -> None:
    csv_path = write_bureau_csv(tmp_path / "a.csv", bureau_rows(10))
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))
    assert load_files(None, gz, report_dir=tmp_path / "r").loaded == 10


def test_broken_header_still_names_the_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("票,日子\n1,2\n", encoding="utf-8")
    from graph.core.errors import ConfigError

    with pytest.raises(ConfigError, match="missing required invoices column"):
        load_files(None, path, report_dir=tmp_path / "r")


def test_header_text_is_normalised() -> None:
    from loaders.mapping import resolve_columns

    cols = resolve_columns(HEADER, "invoices")
    assert cols["价税合计\n(小写)"] == "total_amount" and cols["金额（元）"] == "amount"
    assert cols["发票号码"] == "invoice_number" and cols["数电票号码"] == "invoice_number@alt"
    _ = (json, zipfile)


def test_red_letter_rows_take_their_original_from_the_remark(tmp_path: Path) -> None:
    """全量发票查询 has no red_ref column: a red invoice names its blue original in 备注 (数电 and paper wording)."""
    rows = bureau_rows(4)
    blue_digital, blue_paper, other = rows[0], rows[1], rows[2]

    def red(blue: dict[str, str], **changes: str) -> dict[str, str]:
        minus = {k: "-" + blue[k] for k in ("金额（元）", "税额(元)", "价税合计\n(小写)")}
        return {**blue, **minus, "开票日期": "2024-03-28 09:00:00", "发票状态": "正常", "是否正数发票": "否",
                "序号": str(len(rows) + 1), **changes}

    rows.append(red(blue_digital, 数电票号码="2435" + "9" * 16,
                    备注=f"被红冲蓝字数电发票号码：{blue_digital['数电票号码']} 红字发票信息确认单编号：4403012400000001"))
    rows.append(red(blue_paper, 发票号码="10000099", 备注=f"对应正数发票代码:3502241130号码:{blue_paper['发票号码']}"))
    other["备注"] = "合同约定：蓝字发票号码：12345678 另行开具"          # a positive row keeps no red_ref
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        rep = load_files(store, write_bureau_csv(tmp_path / "全量发票查询.csv", rows), report_dir=tmp_path / "r")
    assert (rep.loaded, rep.rejected) == (6, 0), rep.by_rule
    by_key = {r["key"]: r for r in _invoices(tmp_path / "ws")}
    assert by_key["2435" + "9" * 16]["red_ref"] == blue_digital["数电票号码"]
    assert by_key["3502241130-10000099"]["red_ref"] == f"3502241130-{blue_paper['发票号码']}"
    assert all(by_key[k]["status"] == "red" for k in ("2435" + "9" * 16, "3502241130-10000099"))
    other_key = other["数电票号码"] or f"3502241130-{other['发票号码']}"
    assert by_key[other_key]["red_ref"] is None and by_key[other_key]["status"] != "red"

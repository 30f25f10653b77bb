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
    notes = " ".join(rep.notes)
    assert "header found on row" in notes and "total row" in notes
    if kind == "xlsx":
        assert "发票明细信息" in notes   # the item sheet is named as skipped


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
    assert any("sheets read" in n for n in rep.notes)
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

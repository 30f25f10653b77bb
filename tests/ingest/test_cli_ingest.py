"""`fapiao load` and `fapiao inspect` on bureau exports and e-invoice folders, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from graph import open_store
from tests.ingest.bureau import bureau_rows, write_bureau_csv, write_bureau_xlsx
from tests.ingest.einvoices import einvoice_xml, sample
from workbench.cli import cli


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_fapiao_load_bureau_export_without_mapping(tmp_path: Path, kind: str) -> None:
    rows = bureau_rows(25)
    path = (write_bureau_csv(tmp_path / "全量发票查询.csv", rows) if kind == "csv"
            else write_bureau_xlsx(tmp_path / "全量发票查询.xlsx", rows))
    ws = tmp_path / "ws"
    res = CliRunner().invoke(cli, ["load", str(path), "--store", f"embedded:{ws}", "--quiet",
                                   "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "header found on row" in res.output and "total row" in res.output
    with open_store(f"embedded:{ws}") as store:
        assert store.invoice_stream().num_rows == 25


def test_fapiao_inspect_writes_nothing(tmp_path: Path) -> None:
    path = write_bureau_xlsx(tmp_path / "e.xlsx", bureau_rows(6))
    res = CliRunner().invoke(cli, ["inspect", str(path), "--rows", "2"])
    assert res.exit_code == 0, res.output
    assert "价税合计 (小写)" in res.output and "total_amount" in res.output
    assert "发票明细信息" in res.output and "nothing was written" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.xlsx"]


def test_fapiao_load_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.xml").write_bytes(einvoice_xml(sample(i)))
    res = CliRunner().invoke(cli, ["load", str(tmp_path / "in"), "--store", f"embedded:{tmp_path / 'ws'}",
                                   "--quiet", "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "3 e-invoice file(s) read" in res.output

"""Validator rules on real fixture files, the load pipeline against the embedded store, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph import open_store
from graph.core.errors import FapiaoError
from loaders.load import load_files
from loaders.rules import RULES, check_invoice
from workbench.cli import cli

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _quarantine(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with open(path, encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_every_rule_caught_on_its_row(tmp_path: Path) -> None:
    expect = [r["expect"] for r in csv.DictReader((FIX / "bad_rows.csv").open(encoding="utf-8"))]
    rep = load_files(None, FIX / "bad_rows.csv", taxpayers=FIX / "taxpayers_zh.csv", report_dir=tmp_path)
    assert rep.loaded + rep.rejected + rep.skipped_identical == rep.read == len(expect)
    got = {int(r["record"]): r["rules"].split(";") for r in _quarantine(rep.quarantine_path)}
    errors = {rule for rule, r in RULES.items() if r.severity == "error"}
    for record, rule in enumerate(expect, 1):
        if rule in errors:
            assert got.get(record) == [rule], (record, rule, got.get(record))
        else:
            assert record not in got
    assert rep.skipped_identical == expect.count("skipped_identical")
    warned = {(r["rule"], r["record"]) for r in csv.DictReader(open(rep.warnings_path or "", encoding="utf-8-sig"))}
    for rule in ("tax_id_check", "digital_year"):
        assert (rule, str(expect.index(rule) + 1)) in warned
    assert any(rule == "name_conflict" for rule, _ in warned)
    assert set(rep.by_rule) == set(RULES) - {"ocr_review"}   # every rule id but the one for scanned files
    report = json.loads(Path(rep.report_path or "").read_text(encoding="utf-8"))
    assert report["read"] == rep.read and report["by_rule"] == rep.by_rule


def test_quarantine_keeps_original_values_formula_safe(tmp_path: Path) -> None:
    rep = load_files(None, FIX / "formula_cells.tsv", report_dir=tmp_path)
    rows = _quarantine(rep.quarantine_path)
    assert len(rows) == 1 and rows[0]["rules"] == "invoice_number_format"
    assert rows[0]["invoice_number"] == "'+12345678"
    assert rows[0]["seller_name"].startswith("'=HYPERLINK")
    import pyarrow.parquet as pq

    exact = pq.read_table(Path(rep.quarantine_path or "").with_suffix(".parquet")).to_pylist()[0]
    assert exact["invoice_number"] == "+12345678"


def test_store_reload_is_idempotent_and_overlap_adds_only_new(tmp_path: Path) -> None:
    store = open_store(f"embedded:{tmp_path / 'ws'}")
    try:
        first = load_files(store, FIX / "invoices_gbk.csv", taxpayers=FIX / "taxpayers_zh.csv",
                           report_dir=tmp_path / "r1")
        assert first.loaded == first.read == 12 and first.rejected == 0
        again = load_files(store, FIX / "invoices.parquet", report_dir=tmp_path / "r2")
        assert again.skipped_identical == again.read and again.loaded == 0
        bad = load_files(store, FIX / "bad_rows.csv", report_dir=tmp_path / "r3")
        assert bad.loaded > 0
        counts = store.counts().invoices
        assert counts == first.loaded + bad.loaded
        tp = store.taxpayer("91350200MA31E12PXF")
        assert tp is not None and tp.invoice_limit_fen == 10_000_000
        inv = store.invoice("3502241130-00000012")
        assert inv is not None and inv.red_ref == "3502241130-00000011" and inv.total_fen == -2_120_000
    finally:
        store.close()


def test_red_letter_original_later_in_file_is_accepted(tmp_path: Path) -> None:
    rows = list(csv.DictReader((FIX / "invoices_gbk.csv").open(encoding="gbk")))
    path = tmp_path / "reversed.csv"
    with path.open("w", encoding="gbk", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(reversed(rows))
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.loaded == rep.read == len(rows)


def test_check_invoice_reports_each_problem() -> None:
    good = {"invoice_number": "00000001", "invoice_code": "3502241130", "issue_date": "2024-03-01",
            "seller_tax_id": "91350200776049653A", "seller_name": "甲", "buyer_tax_id": "91440101MA5CJQ4N59",
            "buyer_name": "乙", "amount": "100.00", "tax_amount": "13.00", "total_amount": "113.00", "tax_rate": "13%"}
    assert check_invoice(good) == []
    problems = check_invoice(dict(good, total_amount="114.00", buyer_tax_id="91350200776049653A"))
    assert {p.rule for p in problems} == {"total_mismatch", "same_party"}
    assert all("/" in p.message for p in problems)   # Chinese / English reason


def test_cli_load_and_check_invoice(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["load", str(FIX / "bad_rows.csv"), "--store", f"embedded:{tmp_path / 'ws'}",
                              "--report-dir", str(tmp_path / "r"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "rejected" in res.output and "duplicate_key" in res.output
    res = runner.invoke(cli, ["load", str(tmp_path / "nope.csv"), "--dry-run"])
    assert res.exit_code != 0
    res = runner.invoke(cli, ["check-invoice", "--number", "00000001", "--code", "3502241130", "--date",
                              "2024-03-01", "--seller", "91350200776049653A", "--buyer", "91440101MA5CJQ4N59",
                              "--amount", "100", "--tax", "13", "--total", "113", "--rate", "13%"])
    assert res.exit_code == 0 and "OK" in res.output
    res = runner.invoke(cli, ["check-invoice", "--from", "-"], input=json.dumps({"invoice_number": "1"}))
    assert res.exit_code == 1 and "invoice_number_format" in res.output and "发票号码" in res.output
    res = runner.invoke(cli, ["check-invoice", "--from", "-", "--json"], input=json.dumps({"invoice_number": "1"}))
    answer = json.loads(res.output)
    assert res.exit_code == 1 and answer["ok"] is False
    assert {"severity": "error", "rule": "invoice_number_format"} in [
        {k: p[k] for k in ("severity", "rule")} for p in answer["problems"]]


def test_console_script_prints_one_line_on_missing_column(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    exe = Path(sys.executable).with_name("fapiao")
    out = subprocess.run([str(exe), "load", str(bad), "--dry-run", "--report-dir", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "invoice_number" in out.stderr and "'a'" in out.stderr and "--map" in out.stderr


@pytest.mark.parametrize("name", ["invoices_gbk.csv", "invoices.xlsx", "invoices.jsonl", "invoices.parquet"])
def test_every_format_reads_the_same_invoices(tmp_path: Path, name: str) -> None:
    rep = load_files(None, FIX / name, sheet="2024" if name.endswith(".xlsx") else None, report_dir=tmp_path)
    assert (rep.read, rep.loaded, rep.rejected) == (12, 12, 0)


def test_small_batches_give_the_same_answer(tmp_path: Path) -> None:
    """Duplicates and red-letter originals are found across batch boundaries too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with (FIX / "bad_rows.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in rows[0]}), path)
    whole = load_files(None, path, taxpayers=FIX / "taxpayers_zh.csv", report_dir=tmp_path / "a")
    small = load_files(None, path, taxpayers=FIX / "taxpayers_zh.csv", report_dir=tmp_path / "b", batch_rows=3)
    assert (small.read, small.loaded, small.rejected, small.skipped_identical) == \
        (whole.read, whole.loaded, whole.rejected, whole.skipped_identical)
    assert small.by_rule == whole.by_rule
    assert {r["record"]: r["rules"] for r in _quarantine(small.quarantine_path)} == \
        {r["record"]: r["rules"] for r in _quarantine(whole.quarantine_path)}


@pytest.mark.parametrize("style", ["json", "lines", "flags"])
def test_renamed_headers_load_through_a_mapping(tmp_path: Path, style: str) -> None:
    from loaders.mapping import load_mapping

    with (FIX / "invoices_gbk.csv").open(encoding="gbk") as f:
        rows = list(csv.reader(f))
    rows[0] = ["票号" if h == "发票号码" else "卖方税号X" if h == "销方识别号" else h for h in rows[0]]
    path = tmp_path / "renamed.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    pairs = {"票号": "invoice_number", "卖方税号X": "seller_tax_id"}
    with pytest.raises(FapiaoError, match="seller_tax_id.*卖方税号X"):
        load_files(None, path, report_dir=tmp_path / "none")
    if style == "json":
        (tmp_path / "m.json").write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
        rep = load_files(None, path, mapping=tmp_path / "m.json", report_dir=tmp_path / "r")
    elif style == "lines":
        (tmp_path / "m.txt").write_text("# mine\n票号: invoice_number\n卖方税号X = seller_tax_id\n", encoding="utf-8")
        assert load_mapping(tmp_path / "m.txt") == pairs
        rep = load_files(None, path, mapping=tmp_path / "m.txt", report_dir=tmp_path / "r")
    else:
        rep = load_files(None, path, map_pairs=tuple(f"{k}={v}" for k, v in pairs.items()), report_dir=tmp_path / "r")
    assert rep.loaded == len(rows) - 1

"""``fapiao watch``: files dropped into a folder are loaded (audited), moved, refused ones kept with the reason;
a pass that stored invoices runs detection and the alert rules once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from graph import open_store
from workbench import audit
from workbench.cli import cli

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_watch_loads_moves_detects_and_audits(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    ws = f"embedded:{tmp_path / 'ws'}"
    shutil.copy(FIX / "invoices.jsonl", inbox / "batch1.jsonl")
    shutil.copy(FIX / "invoices.parquet", inbox / "batch2.parquet")
    (inbox / "broken.json").write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    (inbox / ".partial.csv").write_text("still being written", encoding="utf-8")
    (inbox / "notes.docx").write_text("not an invoice file", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli, ["watch", str(inbox), "--once", "--settle", "0", "--store", ws, "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    doc = json.loads(r.output)
    by_name = {f["name"]: f for f in doc["files"]}
    assert set(by_name) == {"batch1.jsonl", "batch2.parquet", "broken.json"}
    assert by_name["batch1.jsonl"]["loaded"] == 12 and by_name["batch2.parquet"]["loaded"] == 0   # same invoices
    assert by_name["broken.json"]["error"] and by_name["batch1.jsonl"]["error"] is None
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [".partial.csv", "notes.docx"]
    assert len(list((inbox / "done").iterdir())) == 2
    assert [p.name.endswith(".error.txt") for p in sorted((inbox / "failed").iterdir())] == [False, True]
    assert doc["run_id"] and "detect" in doc["seconds"]
    assert doc["fast_update"] is None            # no exact run before this pass: no calibration to answer with
    with open_store(ws) as store:
        assert store.counts().invoices == 12 and [run.run_id for run in store.runs()] == [doc["run_id"]]
        acts = [(e.action, e.target, e.actor) for e in store.audit_events(0)]
    assert ("load", "file:batch1.jsonl", audit.cli_actor()) in acts
    assert ("import_failed", "file:broken.json", audit.cli_actor()) in acts
    assert ("detect", f"run:{doc['run_id']}", audit.cli_actor()) in acts
    # detection on arrival is incremental: the run kept its loops per time window for the next pass
    assert len(list((tmp_path / "ws" / "cache" / "loops").glob("loops-*.parquet"))) == 2
    again = runner.invoke(cli, ["watch", str(inbox), "--once", "--settle", "0", "--store", ws, "--json"])
    assert again.exit_code == 0 and again.output == ""                  # nothing new: no output, no run


def test_watch_waits_for_files_still_changing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIX / "invoices.jsonl", inbox / "fresh.jsonl")
    r = CliRunner().invoke(cli, ["watch", str(inbox), "--once", "--settle", "3600", "--no-detect",
                                 "--store", f"embedded:{tmp_path / 'ws'}"])
    assert r.exit_code == 0 and r.output == "" and (inbox / "fresh.jsonl").exists()

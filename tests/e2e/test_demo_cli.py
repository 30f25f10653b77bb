"""`fapiao demo`: prepares a tiny demo end to end, skips unchanged stages (but re-detects after a detector change),
and names a failing stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ROOT

FAPIAO = [str(Path(sys.executable).parent / "fapiao")]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FAPIAO, "demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_tiny_demo_prepares_then_reuses_everything(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = _demo("--data", str(data), "--taxpayers", "200", "--invoices", "3000", "--no-serve")
    assert first.returncode == 0, first.stderr[-2000:]
    assert (data / "invoices.parquet").is_file() and (data / "truth" / "rings.csv").is_file()
    assert (data / "findings" / "rings.csv").is_file() and (data / "findings" / "taxpayer_scores.csv").is_file()
    for user in ("investigator", "supervisor", "analyst", "admin"):
        assert f"demo-{user}" in first.stdout
    second = _demo("--data", str(data), "--taxpayers", "200", "--invoices", "3000", "--no-serve")
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.count(": kept") == 3
    # findings made by an older release of the detectors are not kept: the demo detects again
    from dataclasses import replace

    from graph import open_store

    store = open_store(f"embedded:{data / 'workspace'}")
    run = store.runs()[0]
    with store.writer() as w:
        w.findings(replace(run, params={**run.params, "detector": "2000.01.01"}), store.rings(run.run_id),
                   store.scores(run.run_id))
    store.close()
    third = _demo("--data", str(data), "--taxpayers", "200", "--invoices", "3000", "--no-serve")
    assert third.returncode == 0, third.stderr[-2000:]
    assert third.stdout.count(": kept") == 2 and "rings;" in third.stdout


def test_a_failing_stage_is_named_and_exits_non_zero(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    res = _demo("--data", str(blocker / "sub"), "--taxpayers", "200", "--invoices", "3000", "--no-serve")
    assert res.returncode != 0
    assert "demo failed at stage 'generate demo data'" in res.stderr
    assert "Traceback" not in res.stderr


def test_serve_refuses_a_port_in_use() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([*FAPIAO, "serve", "--port", str(port)], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert res.returncode == 1 and f"port {port}" in res.stderr and "Traceback" not in res.stderr

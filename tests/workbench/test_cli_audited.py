"""Issue 18: the command line is audited (load, refused files, detect, demo), `demo` does not wipe real work,
CLI tables print names as plain text, and `fapiao serve` forwards SIGTERM to Streamlit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph.core.errors import FapiaoError
from tests.helpers.g_case_data import open_embedded, seed
from workbench import audit, cases, users
from workbench.cli import cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"


def test_cli_load_and_refused_file_are_audited(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    runner = CliRunner()
    r = runner.invoke(cli, ["load", str(FIX / "invoices_gbk.csv"), "--store", f"embedded:{ws}", "--quiet",
                            "--report-dir", str(tmp_path / "r1")])
    assert r.exit_code == 0, r.output
    bad = tmp_path / "nested.json"
    bad.write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    r = runner.invoke(cli, ["load", str(bad), "--store", f"embedded:{ws}", "--quiet", "--report-dir", str(tmp_path / "r2")])
    assert isinstance(r.exception, FapiaoError) and "\n" not in str(r.exception)   # was: RecursionError traceback
    store = open_embedded(ws)
    try:
        actions = [(e.action, e.actor) for e in audit.events(store)]
        assert ("load", audit.cli_actor()) in actions                # was: no event
        assert ("import_failed", audit.cli_actor()) in actions
        assert audit.verify(store).ok
    finally:
        store.close()


def test_audit_show_prints_markup_as_text(tmp_path: Path) -> None:
    store = open_embedded(tmp_path / "ws")
    users.authenticate(store, "[/]x[bold", "wrong password")     # lands in the trail as the target
    store.close()
    r = CliRunner().invoke(cli, ["audit", "show", "--store", f"embedded:{tmp_path / 'ws'}"])
    assert r.exit_code == 0, r.output                           # was: rich.errors.MarkupError
    assert "[/]x[bold" in r.output
    assert "unknown user" in r.output and "sign_in_refused" not in r.output   # the coded detail in words
    r = CliRunner().invoke(cli, ["audit", "show", "--json", "--store", f"embedded:{tmp_path / 'ws'}"])
    stored = [json.loads(e["detail"]) for e in json.loads(r.output) if e["action"] == "sign_in_failed"]
    assert stored == [{"code": "sign_in_refused", "reason": "unknown_user"}]   # --json: as stored


def test_demo_refuses_to_wipe_real_users_and_cases(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = open_embedded(ws)
    u = seed(store)
    cases.open_case_from_ring(store, u["investigator"], "R-1", title="真实案件")
    store.close()
    r = CliRunner().invoke(cli, ["demo", "--data", str(tmp_path / "demo"), "--store", f"embedded:{ws}",
                                 "--taxpayers", "400", "--invoices", "4000", "--no-serve"])
    assert r.exit_code != 0 and "--force" in r.output         # was: wiped without asking
    store = open_embedded(ws)
    try:
        assert store.records("case") and users.get_user(store, u["investigator"].username) is not None
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the child")
def test_sigterm_to_serve_stops_streamlit(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", "from workbench.cli import main; main()", "serve",
                             "--store", f"embedded:{tmp_path / 'ws'}", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        kids: list[int] = []
        while time.monotonic() < deadline and not kids:
            kids = _children(proc.pid)
            time.sleep(0.5)
        assert kids, "streamlit never started"
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() for k in kids):
            time.sleep(0.3)
        alive = [k for k in kids if Path(f"/proc/{k}").exists()
                 and "Z" not in Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0]]
        assert not alive                                          # was: Streamlit orphaned
    finally:
        if proc.poll() is None:
            proc.kill()

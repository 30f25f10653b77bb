"""What the CLI writes (workspace, quarantine, report, kept originals) is readable by its own user only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_load_writes_private_files_and_folders(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "FAPIAO_STORE": f"embedded:{ws}"}
    old = os.umask(0o022)     # a usual shell umask; the command must not rely on it
    try:
        proc = subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()", "load",
                               str(FIXTURES / "bad_rows.csv")], env=env, capture_output=True, text=True, timeout=300)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    written = list(ws.rglob("*"))
    assert any(p.name.startswith("quarantine") for p in written), [p.name for p in written]
    assert any("evidence" in p.parts and p.is_file() for p in written)
    loose = [(str(p.relative_to(ws)), oct(stat.S_IMODE(p.stat().st_mode))) for p in [ws, *written]
             if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []

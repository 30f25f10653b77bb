"""The import-name guard: PyPI's `algorithms` and `workbench` distributions install packages under our
names; `fapiao` must say so in one line instead of failing somewhere deep with an ImportError."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "from graph.core import install; print('|'.join(install.collisions()))"


def _collisions(extra_path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(extra_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=extra_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_sound_install_has_no_collision(tmp_path: Path) -> None:
    assert _collisions(tmp_path) == ""


def test_foreign_package_under_our_name_is_named(tmp_path: Path) -> None:
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "__init__.py").write_text("from algorithms.sort import *\n")
    out = _collisions(tmp_path)
    assert "'algorithms'" in out and "is not fapiao's package" in out
    assert "workbench" not in out


def test_distribution_of_the_same_name_is_named(tmp_path: Path) -> None:
    info = tmp_path / "workbench-0.8.506.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench\nVersion: 0.8.506\n")
    assert "'workbench 0.8.506' also installs a package named 'workbench'" in _collisions(tmp_path)


def test_cli_refuses_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "loaders").mkdir()
    (tmp_path / "loaders" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()", "load", "--help"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "own virtual environment" in proc.stderr and "Traceback" not in proc.stderr

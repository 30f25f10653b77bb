"""benchmarks/bench_load.py's --checkout: a folder, or a git revision unpacked once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click
import pytest

from benchmarks.bench_load import ROOT, checkout_dir


def _in_git() -> bool:
    if shutil.which("git") is None:
        return False
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0


def test_a_folder_is_taken_as_it_is(tmp_path: Path) -> None:
    assert checkout_dir(str(tmp_path), tmp_path / "data") == tmp_path.resolve()


@pytest.mark.skipif(not _in_git(), reason="not a git checkout")
def test_a_revision_is_unpacked_once(tmp_path: Path) -> None:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    out = checkout_dir("HEAD", tmp_path)
    assert out == (tmp_path / f"checkout-{commit[:12]}").resolve()
    assert (out / "loaders" / "load.py").read_bytes() == subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:loaders/load.py"], capture_output=True, check=True).stdout
    (out / "marker").write_text("kept")
    assert checkout_dir(commit, tmp_path) == out and (out / "marker").exists()   # not unpacked again


@pytest.mark.skipif(not _in_git(), reason="not a git checkout")
def test_neither_folder_nor_revision_is_refused(tmp_path: Path) -> None:
    with pytest.raises(click.BadParameter):
        checkout_dir("no-such-revision-or-folder", tmp_path)

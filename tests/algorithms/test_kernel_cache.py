"""algorithms.kernel_cache: which numba kernels a detection run would compile first, and the note `fapiao detect`
prints before such a run (the first detection after an install compiles for ~20-40 s and otherwise seems to hang)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from algorithms import kernel_cache
from workbench.cli import cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
PROBE = textwrap.dedent("""
    from numba import njit


    @njit(cache=True)
    def twice(x):
        return 2 * x


    @njit(cache=True)
    def thrice(x):
        return 3 * x
    """)
ASK = """
import json, sys
sys.path.insert(0, sys.argv[1])
from algorithms.kernel_cache import uncached
before = uncached(["kc_probe"])
import kc_probe
if sys.argv[2] == "call":
    kc_probe.twice(3)
print(json.dumps({"before": before, "after": uncached(["kc_probe"])}))
"""


def _ask(folder: Path, action: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", ASK, str(folder), action], capture_output=True, text=True, cwd=ROOT,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    got: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def test_uncached_names_kernels_until_compiled_and_again_once_their_source_changes(tmp_path: Path) -> None:
    (tmp_path / "kc_probe.py").write_text(PROBE, encoding="utf-8")
    first = _ask(tmp_path, "call")
    assert first == {"before": ["kc_probe.twice", "kc_probe.thrice"], "after": ["kc_probe.thrice"]}
    assert _ask(tmp_path, "look") == {"before": ["kc_probe.thrice"], "after": ["kc_probe.thrice"]}   # on disk
    (tmp_path / "kc_probe.py").write_text(PROBE + "\n# changed\n", encoding="utf-8")    # an upgrade: stale
    assert _ask(tmp_path, "look")["before"] == ["kc_probe.twice", "kc_probe.thrice"]


def test_detect_says_it_compiles_first_only_while_its_slow_kernels_are_missing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kc_probe2.py").write_text(PROBE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    ws = f"embedded:{tmp_path / 'ws'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["load", str(FIX / "invoices_gbk.csv"), "--store", ws, "--quiet", "--report-dir",
                               str(tmp_path / "r")]).exit_code == 0
    monkeypatch.setattr(kernel_cache, "KERNEL_MODULES", ("kc_probe2",))   # a kernel module never compiled here
    monkeypatch.setattr(kernel_cache, "SLOW_TO_COMPILE", ("kc_probe2.twice",))
    cold = runner.invoke(cli, ["detect", "--store", ws, "--no-progress", "--json"])
    assert cold.exit_code == 0, cold.output
    assert "先编译 2 个计算内核" in cold.stderr and "compiling 2 kernels once" in cold.stderr
    assert json.loads(cold.stdout)["run_id"]     # the note is on stderr: --json output stays one document
    import kc_probe2

    kc_probe2.twice(1)     # the slow one compiled; thrice, which this data never needs, stays uncompiled
    warm = runner.invoke(cli, ["detect", "--store", ws, "--no-progress"])
    assert warm.exit_code == 0, warm.output
    assert kernel_cache.uncached() == ["kc_probe2.thrice"] and "计算内核" not in warm.output

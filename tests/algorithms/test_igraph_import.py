"""igraph is imported without matplotlib (algorithms._igraph): half a second of every detection's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_detection_modules_import_igraph_without_matplotlib_which_still_imports_afterwards() -> None:
    out = _run("import sys, workbench.detect\n"
               "print('matplotlib' in sys.modules, 'igraph' in sys.modules)\n"
               "import matplotlib.pyplot as plt\n"
               "from algorithms._igraph import ig\n"
               "m = ig.Graph(n=3, edges=[(0, 1), (1, 0)], directed=True).connected_components(mode='strong')"
               ".membership\n"
               "print(m[0] == m[1] != m[2], plt.figure() is not None)")
    assert out.splitlines() == ["False True", "True True"]


def test_with_matplotlib_imported_first_igraph_imports_as_usual() -> None:
    out = _run("import sys, matplotlib\nfrom algorithms._igraph import ig\n"
               "from igraph.drawing.matplotlib.utils import find_matplotlib\n"
               "print(type(find_matplotlib()[0]).__name__, 'matplotlib.pyplot' in sys.modules)")
    assert out == "module True"

"""Every module imports on a machine without the Unix-only standard modules (Windows has no fcntl,
termios, pwd, grp or resource): the whole CLI died at start-up on Windows when one was imported at module level."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIX_ONLY = ("fcntl", "termios", "pwd", "grp", "resource")

PROBE = f"""
import importlib, pkgutil, sys
for name in {UNIX_ONLY!r}:
    sys.modules[name] = None          # `import fcntl` now raises ImportError, as on Windows
failed = []
for pkg in ("graph", "loaders", "algorithms", "workbench", "cypher"):
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        if ".ui.screens." in info.name or info.name.endswith((".ui.app", ".ui.server")):  # run by Streamlit, not imported
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as e:
            failed.append(f"{{info.name}}: {{e}}")
print("\\n".join(failed))
"""


@pytest.mark.slow     # imports every module, numba, Spark and scikit-learn included: ~10 s of the fast lane
def test_every_module_imports_without_unix_only_modules() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "", f"modules that need a Unix-only module at import:\n{proc.stdout}"

"""Guard against other distributions that install packages under our import names.

The import names ``graph``, ``loaders``, ``algorithms``, ``workbench`` and ``cypher`` are generic: PyPI
has distributions called ``algorithms`` and ``workbench`` whose files land in the same folders of
site-packages, silently overwriting ours or mixing with them (measured: docs/install.md). Each of our
packages carries ``__fapiao__ = True`` in its ``__init__`` (read from the file, not imported); :func:`check` fails with one clear line
when a package of ours is missing it or a distribution of the same name is installed beside us.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

from graph.core.errors import FapiaoError

PACKAGES = ("graph", "loaders", "algorithms", "workbench", "cypher")
DISTRIBUTION = "fapiao-workbench"


_INFO = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>[^-]+?)(?:-py[0-9.]+)?\.(?:dist|egg)-info$")


def _distributions() -> dict[str, str]:
    """Installed distributions on ``sys.path`` as {normalised name: "Name version"}, from the folder names alone.

    ``importlib.metadata`` would say the same, but importing it costs more than the rest of
    ``fapiao --help`` (measured: 0.17 s of 0.24 s under load), and every command runs this check.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            m = _INFO.match(folder)
            if m:
                key = re.sub(r"[-_.]+", "-", m["name"]).lower()
                found.setdefault(key, f"{m['name']} {m['version']}")
    return found


def collisions() -> list[str]:
    """One sentence per import name that another distribution also claims (empty when the install is sound)."""
    found = []
    installed = _distributions()
    for name in PACKAGES:
        other = installed.get(name)
        if other is not None:
            found.append(f"the distribution '{other}' also installs a package named '{name}'")
            continue
        spec = importlib.util.find_spec(name)  # read, not imported: `import loaders` costs seconds (numba)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None or "__fapiao__ = True" not in origin.read_text(encoding="utf-8", errors="replace"):
            found.append(f"'{name}' at {origin or '?'} is not fapiao's package")
    return found


def check() -> None:
    """Raise :class:`FapiaoError` naming every import-name collision, with the fix."""
    found = collisions()
    if found:
        raise FapiaoError("; ".join(found) + f". Install {DISTRIBUTION} in its own virtual environment "
                          "(python -m venv .venv && .venv/bin/pip install ...): these names cannot be shared.")

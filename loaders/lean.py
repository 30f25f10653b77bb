"""A lean start for a process that only loads (``fapiao load``): two libraries nothing on the load path uses.

Start-up is a fixed cost of every ``fapiao load``; two imports in it do no work for a load:

- **pandas** (~0.5 CPU-s): pyarrow imports it on the first ``pa.array`` / ``pa.scalar`` of the process only to
  ask whether the value is a pandas object. Nothing on the load path uses pandas.
- **SciPy's BLAS** (~0.25 CPU-s): numba's first compiled call imports ``scipy.linalg`` to learn whether ``np.dot``
  may be compiled. The loader's kernels (:mod:`loaders.kernels`) do no linear algebra.

:func:`lean_load_process` makes both unimportable for the rest of the process, so it is for processes that do nothing
else (the command line's ``load``); the workbench and the API, which use pandas, never call it. A library that
imports one of them afterwards gets a ``ModuleNotFoundError`` (as if it were not installed; pyarrow and numba
both take that for "do without"). Call it before anything has imported them; it does
nothing for a module already imported.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

#: Modules a load-only process never imports (see the module doc).
SKIPPED = ("pandas", "scipy.linalg")


class _Absent(MetaPathFinder):
    """Finds the :data:`SKIPPED` modules as missing (``ModuleNotFoundError``, which callers take for "not
    installed"); every other import goes on to the next finder."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname in self.names or any(fullname.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"{fullname} is left out of a load-only process (loaders.lean)", name=fullname)
        return None


def lean_load_process() -> list[str]:
    """Make the :data:`SKIPPED` modules not yet imported unimportable in this process; returns their names."""
    names = [n for n in SKIPPED if n not in sys.modules]
    if names and not any(isinstance(f, _Absent) for f in sys.meta_path):
        sys.meta_path.insert(0, _Absent(names))
    return names

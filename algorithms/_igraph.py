"""igraph, imported without its matplotlib drawing.

``import igraph`` imports ``matplotlib.pyplot`` when matplotlib is installed (igraph's drawing modules look for it at
import), ~0.5 s of every ``fapiao detect``'s start-up (AMLSim-20k, 2026-12-04) although nothing here draws with
igraph: the workbench draws with pyvis and its own matplotlib pictures (:mod:`workbench.diagram`). So the first
import of igraph in a process sees matplotlib as missing, on the importing thread only and only while igraph
imports (igraph's drawing then reports "You need to install matplotlib" if ever asked to plot with it); other
threads, and every later ``import matplotlib``, get the real one. When matplotlib (or igraph) is already imported
this changes nothing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["ig"]


class _NoMatplotlib(MetaPathFinder):
    """Finds matplotlib as missing for one thread (the one importing igraph)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and (fullname == "matplotlib" or fullname.startswith("matplotlib.")):
            raise ModuleNotFoundError(f"{fullname} is left out of igraph's import (algorithms._igraph)", name=fullname)
        return None


_block = _NoMatplotlib() if "igraph" not in sys.modules and "matplotlib" not in sys.modules else None
if _block is not None:
    sys.meta_path.insert(0, _block)
try:
    import igraph as ig
finally:
    if _block is not None:
        sys.meta_path.remove(_block)

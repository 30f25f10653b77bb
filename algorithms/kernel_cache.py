"""Whether the detection kernels' machine code is in numba's on-disk cache yet.

The detectors' hot loops are numba functions compiled on their first call and cached on disk (``cache=True``: in
``__pycache__`` next to the module, or under ``NUMBA_CACHE_DIR``). The first ``fapiao detect`` after an install or
an upgrade compiles them all, ~20-40 s on the 2-core build machine, during which the stage it is in seems to hang;
the command says so beforehand (:func:`compile_note`) when :func:`uncached` finds one of the slow ones missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

#: The modules of the detectors' numba functions (whatever the store).
KERNEL_MODULES = ("algorithms.cycles_kernels", "algorithms.patterns_kernels")
#: The kernels every run calls and whose compiling takes most of the time (the loop search, the burst windows); the
#: rest (e.g. the own-null draws, only for data with burst candidates) compile in a few seconds when first needed,
#: so they alone are no reason for the note: a small data set that never calls them would get it on every run.
SLOW_TO_COMPILE = ("algorithms.cycles_kernels.search", "algorithms.patterns_kernels.window_breadth")


def uncached(modules: Sequence[str] | None = None) -> list[str]:
    """``module.function`` of each cached numba function in ``modules`` (default :data:`KERNEL_MODULES`) whose cache
    holds no code for its current source (never compiled here, or compiled for an older version of the module).
    Reads numba's small index files only (a few ms); a function whose cache cannot be inspected counts as cached,
    so the answer never warns wrongly."""
    from numba.core.registry import CPUDispatcher

    out = []
    for name in KERNEL_MODULES if modules is None else modules:
        for attr, obj in vars(importlib.import_module(name)).items():
            if not isinstance(obj, CPUDispatcher):
                continue
            try:
                kernel: Any = obj    # its cache (numba's FunctionCache) is not in numba's type hints
                index = kernel._cache._cache_file._load_index()   # {} when missing or stale (numba's own check)
            except Exception:   # numba internals differ between versions: say nothing
                continue
            if not index:
                out.append(f"{name}.{attr}")
    return out


def compile_note() -> str | None:
    """What to tell the user before a detection run that will compile kernels first: None unless one of
    :data:`SLOW_TO_COMPILE` is not cached."""
    missing = uncached()
    if not set(missing) & set(SLOW_TO_COMPILE):
        return None
    return (f"首次检测（安装或升级后）：先编译 {len(missing)} 个计算内核，双核机器上约需 20–40 秒，只此一次 "
            f"(first detection after an install or upgrade: compiling {len(missing)} kernels once, ~20-40 s)")

"""A lean start for a process that only loads (``fapiao load``): a library nothing on the load path uses, and
an allocator that suits a load (:func:`plain_allocator`, :func:`one_heap_per_core`).

Start-up is a fixed cost of every ``fapiao load``; one import in it did no work for a load: **pandas** (~0.5 CPU-s),
which pyarrow imports on the first ``pa.array`` / ``pa.scalar`` of the process only to ask whether the value is a
pandas object. Nothing on the load path uses pandas. (SciPy's BLAS, which numba's first call imported, was left out
here too until the loader's kernels stopped using numba.)

:func:`lean_load_process` makes it unimportable for the rest of the process, so it is for processes that do nothing
else (the command line's ``load``); the workbench and the API, which use pandas, never call it. A library that
imports it afterwards gets a ``ModuleNotFoundError`` (as if it were not installed; pyarrow takes that for "do
without"). Call it before anything has imported pandas; it does nothing for a module already imported.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

#: Modules a load-only process never imports (see the module doc).
SKIPPED = ("pandas",)


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
    """Make the :data:`SKIPPED` modules not yet imported unimportable in this process, have Arrow allocate with the
    C library's malloc (:func:`plain_allocator`) and that malloc keep few heaps (:func:`one_heap_per_core`); returns
    the names of the modules skipped."""
    names = [n for n in SKIPPED if n not in sys.modules]
    if names and not any(isinstance(f, _Absent) for f in sys.meta_path):
        sys.meta_path.insert(0, _Absent(names))
    plain_allocator()
    one_heap_per_core()
    return names


def plain_allocator() -> None:
    """Arrow's buffers from the C library's malloc instead of its default mimalloc, for the rest of the process.

    A load allocates and frees hundreds of megabytes per batch on several threads (CSV reader, checking threads,
    store writer). mimalloc hands freed pages back to the system right away and takes them again for the next batch:
    ``fapiao load`` of the generated 1M-row CSV spent 2.2-3.4 CPU-s in the kernel with it (3 runs) against 1.3-1.8
    with malloc (5 runs; user time no higher, peak RSS ~5-10 % higher), alternating on the 2-core build machine.
    Buffers allocated before the switch are freed to the pool they came from."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def one_heap_per_core() -> None:
    """The C library's malloc set up for a load, for the rest of the process: at most one heap per core shared by
    all threads, and freed memory kept in it for the next batch.

    By default glibc gives each thread a heap of its own (up to 8 per core), blocks of 128 KiB-32 MiB go straight
    to the system until a first free raises that limit, and the top of a heap is handed back once 2x that limit is
    free. A load allocates on one thread (the reader, a checking thread) what another frees (the store writer), so
    each heap grew with the others' free memory beside it: ``fapiao load`` of the generated 1M-row CSV reached
    1.1 GiB of heap with ~600 MiB in use, every page of it first touched through a page fault (~345,000 faults,
    ~1.3 CPU-s in the kernel). With one heap per core (M_ARENA_MAX), blocks up to 32 MiB from the heap and a 1 GiB
    trim threshold: 242,000-277,000 faults and ~140 MB less peak memory, CPU time unchanged, on the 2-core build
    machine (one heap in all gave the same there; per core leaves a many-core machine's threads their own locks).
    docs/data-format.md, Speed. Nothing happens where the C library has no ``mallopt`` (not glibc)."""
    import ctypes
    import os

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    for param, value in ((_M_ARENA_MAX, os.cpu_count() or 1), (_M_MMAP_THRESHOLD, 32 << 20),
                         (_M_TRIM_THRESHOLD, 1 << 30)):
        mallopt(param, value)

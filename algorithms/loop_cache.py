"""Incremental loop search: the data's loop instances cached per time window, re-searched only where invoices changed.

The temporal cycle search (:func:`algorithms.cycles.temporal_cycles`) starts a loop at each invoice and follows
only hops of the window ``w`` that starts at the first invoice's slot (``[t0 + w·window, t0 + (w+2)·window)``, with
``t0`` on a calendar grid: a multiple of ``window`` seconds since 1970-01-01 UTC), inside that window's strongly
connected component. So what a start invoice finds — the loop instances, in the kernel's order, and whether it was
cut by ``max_expansions`` — depends only on the eligible invoices of its window (their keys, parties, times and
totals, and the search settings). Each window is fingerprinted (an order-free 128-bit sum of per-invoice hashes
over those fields); an arriving batch changes the fingerprint of the two windows each new invoice lies in, and only
the start invoices of changed windows are searched again. Instances of unchanged windows are read back from the
cache (as invoice keys), put back in the full search's order (start invoice time, then row, then the kernel's
order) and deduplicated with the new ones over the whole table, so the result equals a search of everything by
construction (``tests/algorithms/test_loop_cache.py`` checks it on random, out-of-order splits).

The cache is one Parquet file per (orientation, search settings, code version) in a folder (the workspace's
``cache/loops/``): a row per loop instance (window start, invoice keys), the windows' fingerprints and cut starts in
the file's metadata. Written to a temporary name and renamed, so a reader never sees half a file. Invalidation:
the file name carries a hash of the settings (window, lengths, gate, ``max_expansions``, pruning switches,
statuses) and of this module's, ``cycles.py``'s and ``cycles_kernels.py``'s source, so another parameter or
another release of the search never reads it; a changed window is re-searched; windows with no invoices left are
dropped. Unused settings' files are removed once more than :data:`KEEP_FILES` exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
#: settings files kept in the folder (the newest by modification time)
KEEP_FILES = 8
_SOURCES = ("loop_cache.py", "cycles.py", "cycles_kernels.py")
#: runs the kernel from the given start invoices: (loop rows, [truncated, followed, gathered, memo skips, ...])
Runner = Callable[[I64], tuple[I64, list[int]]]


def grid_origin(tm_min: int, window: int) -> int:
    """The first window's start: the largest multiple of ``window`` seconds since the epoch not after ``tm_min``
    (a fixed calendar grid, so an older invoice adds a window in front instead of moving every boundary).

    >>> grid_origin(1_000_000, 86_400 * 90), grid_origin(7_776_000, 7_776_000)
    (0, 7776000)
    """
    return int(tm_min) // int(window) * int(window)


def code_version() -> str:
    """Hash of the search's source files: a new release of the search never reads an older cache."""
    return source_version(_SOURCES)


def source_version(names: tuple[str, ...]) -> str:
    """Hash of the named source files of this package (a cache keyed by it is never read by another release)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in names:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def write_atomically(table: pa.Table, path: Path, *, keep: int) -> None:
    """Write ``table`` to ``path`` (Parquet) through a temporary file and a rename, then remove the oldest files
    named like it (``<prefix>-*.parquet``, the prefix being the name up to its first ``-``) beyond ``keep``."""
    prefix = path.name.split("-", 1)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{prefix}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    files = sorted(path.parent.glob(f"{prefix}-*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def row_hashes(keys: pd.Series, sellers: pd.Series, buyers: pd.Series, tm: I64,
               amt: npt.NDArray[np.float64]) -> tuple[U64, U64]:
    """Two independent 64-bit hashes per invoice of what the search reads (key, parties, time, total)."""
    frame = pd.DataFrame({"k": keys.astype(str).to_numpy(), "s": sellers.astype(str).to_numpy(),
                          "b": buyers.astype(str).to_numpy(), "t": tm, "a": amt})
    a: U64 = np.asarray(pd.util.hash_pandas_object(frame, index=False, hash_key="fapiao-loops-a01"), dtype=np.uint64)
    b: U64 = np.asarray(pd.util.hash_pandas_object(frame, index=False, hash_key="fapiao-loops-b02"), dtype=np.uint64)
    return a, b


def window_fingerprints(w_of: I64, n_windows: int, ha: U64, hb: U64) -> npt.NDArray[np.uint64]:
    """fp[w] = (count, Σ ha, Σ hb) (mod 2^64) over the invoices of window ``w`` (slots ``w`` and ``w + 1``)."""
    fp = np.zeros((n_windows, 3), dtype=np.uint64)
    for shift in (0, 1):
        w = w_of - shift
        ok = w >= 0
        np.add.at(fp[:, 0], w[ok], np.uint64(1))
        np.add.at(fp[:, 1], w[ok], ha[ok])
        np.add.at(fp[:, 2], w[ok], hb[ok])
    return fp


@dataclass(frozen=True)
class CacheUse:
    """What one orientation's cached search did: windows holding invoices, windows searched again (their
    invoices changed, or nothing was cached), start invoices searched."""

    windows: int
    searched: int
    starts_searched: int

    def stats(self, label: str) -> dict[str, float]:
        return {f"{label}_cache_windows": float(self.windows), f"{label}_cache_searched": float(self.searched),
                f"{label}_cache_starts_searched": float(self.starts_searched)}


def settings_key(label: str, settings: dict[str, Any]) -> str:
    """File stem for one orientation and the search settings (with the code version)."""
    text = json.dumps(settings | {"orientation": label, "code": code_version()}, sort_keys=True, default=str)
    return f"loops-{label}-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _read(path: Path) -> tuple[dict[int, tuple[list[int], int]], pa.Table] | None:
    """(window start → (fingerprint, cut starts), instance rows) of a cache file; None when missing or unreadable."""
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[b"fapiao_windows"])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None
    windows = {int(w): ([int(x) for x in v[0]], int(v[1])) for w, v in meta.items()}
    return windows, table


def _write(path: Path, windows: dict[int, tuple[list[int], int]], starts: I64, keys: pa.Array) -> None:
    """Instances (window start per row, invoice keys as a list) with the windows in the metadata; atomically."""
    table = pa.table({"window": pa.array(starts, pa.int64()), "keys": keys})
    meta = {str(w): [fp, cut] for w, (fp, cut) in windows.items()}
    table = table.replace_schema_metadata({b"fapiao_windows": json.dumps(meta).encode()})
    write_atomically(table, path, keep=KEEP_FILES)


def _rows_to_keys(found: I64, keys: pa.Array) -> pa.Array:
    """Loop rows (row numbers, -1 padded) → a list<string> array of their invoice keys."""
    valid = found >= 0
    lengths = valid.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = keys.take(pa.array(found[valid], pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat)


def _keys_to_rows(lists: pa.ChunkedArray | pa.Array, keys: pa.Array, width: int) -> I64 | None:
    """list<string> of invoice keys → loop rows (-1 padded to ``width``); None when a key is no longer there."""
    arr = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(arr)
    out = np.full((n, width), -1, dtype=np.int64)
    if n == 0:
        return out
    flat = pc.index_in(arr.flatten(), value_set=keys)
    if flat.null_count:
        return None
    idx = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = np.asarray(arr.offsets.to_numpy(), dtype=np.int64)
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    row = np.repeat(np.arange(n), lengths)
    col = np.arange(len(idx)) - np.repeat(offsets[:-1], lengths)
    out[row, col] = idx
    return out


@dataclass
class Plan:
    """What the cache at ``path`` holds for the current windows: which are unchanged (``clean``, absolute window
    starts) and their loop rows (current row numbers, in the full search's order), their cut starts."""

    path: Path
    w_abs: I64                           # absolute start of each window index
    current: dict[int, list[int]]        # absolute window start → fingerprint (non-empty windows)
    clean: set[int]
    clean_rows: I64
    old_cut: dict[int, int]

    def dirty(self) -> npt.NDArray[np.bool_]:
        """Per window index: must its start invoices be searched?"""
        return ~np.isin(self.w_abs, np.fromiter(self.clean, dtype=np.int64, count=len(self.clean)))


def plan(path: Path, *, w_of: I64, t0: int, window: int, n_windows: int, hashes: tuple[U64, U64], keys: pa.Array,
         width: int) -> Plan:
    """Compare the windows' fingerprints with the cache at ``path`` and read the unchanged windows' loops back."""
    fp = window_fingerprints(w_of, n_windows, *hashes)
    w_abs = t0 + np.arange(n_windows, dtype=np.int64) * window
    current = {int(w_abs[w]): [int(x) for x in fp[w]] for w in range(n_windows) if fp[w, 0]}
    empty = np.zeros((0, width), dtype=np.int64)
    old = _read(path)
    if old is None:
        return Plan(path, w_abs, current, set(), empty, {})
    windows, table = old
    clean = {w for w, (f, _) in windows.items() if current.get(w) == f}
    if not clean:
        return Plan(path, w_abs, current, set(), empty, {})
    wins = np.asarray(table.column("window").to_numpy(), dtype=np.int64)
    sel = np.flatnonzero(np.isin(wins, np.fromiter(clean, dtype=np.int64, count=len(clean))))
    rows = _keys_to_rows(table.column("keys").take(pa.array(sel, pa.int64())), keys, width)
    if rows is None:                          # cannot happen with equal fingerprints; search everything
        return Plan(path, w_abs, current, set(), empty, {})
    return Plan(path, w_abs, current, clean, rows, {w: windows[w][1] for w in clean})


def finish(pl: Plan, found: I64, cut: dict[int, int], *, w_of: I64, tm: I64, keys: pa.Array) -> tuple[I64, int]:
    """The searched windows' rows (``found``, current row numbers) with the clean windows' in the full search's
    order, and the cut starts over all windows; the cache is rewritten with the current windows."""
    rows = np.concatenate([pl.clean_rows, found]) if len(pl.clean_rows) else found
    if len(rows):
        first = rows[:, 0]
        rows = rows[np.lexsort((first, tm[first]))]      # stable: the kernel's order within a start is kept
    new_w = pl.w_abs[w_of[rows[:, 0]]] if len(rows) else np.zeros(0, dtype=np.int64)
    meta = {w: (f, cut.get(w, pl.old_cut.get(w, 0))) for w, f in pl.current.items()}
    _write(pl.path, meta, new_w, _rows_to_keys(rows, keys) if len(rows) else pa.array([], pa.list_(pa.string())))
    return rows, sum(c for _, (_, c) in meta.items())


def search_dirty(run: Runner, start_edges: I64, start_w: I64, dirty: npt.NDArray[np.bool_]
                 ) -> tuple[I64, list[int], dict[int, int], int]:
    """``run`` from the start invoices whose window index (``start_w``) is ``dirty``: (rows, counts, cut starts per
    window index, starts searched). Cut starts are attributed by searching window by window when any occur."""
    todo_mask = dirty[start_w] if len(start_edges) else np.zeros(0, dtype=bool)
    todo = start_edges[todo_mask]
    found, counts = run(todo)
    cut: dict[int, int] = {}
    if counts[0]:
        parts = []
        counts = [0] * len(counts)
        for w in np.unique(start_w[todo_mask]).tolist():
            f, c = run(todo[start_w[todo_mask] == w])
            parts.append(f)
            cut[int(w)] = c[0]
            counts = [a + b for a, b in zip(counts, c, strict=True)]
        found = np.concatenate(parts)
    return found, counts, cut, len(todo)

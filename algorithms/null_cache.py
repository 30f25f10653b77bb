"""Loop null copies cached per copy: a later run searches again only the copies whose searched months changed.

Each null copy of :func:`algorithms.cycle_scoring.null_statistics` is the invoice table shuffled month by month,
each month with a random stream seeded by the run's seed, the copy number and the month's content
(:class:`algorithms.cycle_scoring._MonthSlices`), and its loops are searched on a run of whole months (the
copy's *slice*). So the loops a copy's search finds depend only on the content of the slice's months (and the
search settings): when every month of the slice holds the same invoices as in the run that cached them, the
loops are the same, and they are read back instead of searched.

What is cached, per (seed, copy): the loops as columns (:class:`algorithms.cycle_scoring.LoopTable`: per loop
hop count, repeats, span; per hop seller, buyer, total, item code), with the slice's month keys in the file's
metadata. A month's key is its calendar month, invoice count and two order-free 64-bit sums of per-invoice hashes
over key, parties, time and total (those that seed its shuffle), plus one sum over status and item code (a
voided invoice leaves the search; the item code is part of a loop's evidence). The statistics of the loops are
not cached: they read the whole copy's relation counts and the data's usual amounts, both of which a batch
changes, and are measured again every run from the loops read back, so the null equals a run without the cache
(``tests/algorithms/test_null_cache.py``).

Invalidation: the file name carries a hash of the search settings, the slice budget, and of the source of this
module, ``cycle_scoring.py`` (shuffles per month, slice choice), ``significance.py`` (rewiring, time shuffles),
``cycles.py`` and ``cycles_kernels.py`` (the search): another parameter or release never reads an older file. A
file whose month keys differ is searched again and rewritten; an unreadable file is ignored. Files beyond
:data:`KEEP_FILES` are removed, oldest first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from algorithms.loop_cache import source_version, write_atomically

if TYPE_CHECKING:
    from algorithms.cycle_scoring import LoopTable

#: cache files kept in the folder (the newest by modification time): 20 copies × a few settings
KEEP_FILES = 64
_SOURCES = ("null_cache.py", "cycle_scoring.py", "significance.py", "cycles.py", "cycles_kernels.py")


def code_version() -> str:
    """Hash of the source that decides which loops a null copy holds."""
    return source_version(_SOURCES)


def settings_key(seed: int, max_invoices: int, search: dict[str, Any]) -> str:
    """File stem part for the copies' search settings (with the code version)."""
    text = json.dumps({"seed": seed, "max_invoices": max_invoices, "search": search, "code": code_version()},
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def extra_sums(inv: pd.DataFrame, groups: list[npt.NDArray[np.int64]]) -> list[int]:
    """Per month (rows ``groups``): an order-free 64-bit sum of hashes of each invoice's status and item code."""
    cols = {c: inv[c].astype(str).to_numpy() for c in ("status", "item_code") if c in inv}
    if not cols or not groups:
        return [0] * len(groups)
    h = np.asarray(pd.util.hash_pandas_object(pd.DataFrame(cols), index=False, hash_key="fapiao-null-x003"),
                   dtype=np.uint64)
    return [int(h[rows].sum(dtype=np.uint64)) for rows in groups]


class NullCache:
    """The cached loops of the null copies of one run's settings in ``folder``."""

    def __init__(self, folder: Path, *, seed: int, max_invoices: int, search: dict[str, Any]) -> None:
        self.folder = folder
        self.stem = f"null-{settings_key(seed, max_invoices, search)}-{seed}"
        self.read = 0
        self.searched = 0

    def path(self, copy: int) -> Path:
        return self.folder / f"{self.stem}-{copy}.parquet"

    def load(self, copy: int, months: list[list[int]]) -> LoopTable | None:
        """The copy's loops when its file was written for the same slice months; None otherwise."""
        from algorithms.cycle_scoring import LoopTable

        try:
            table = pq.read_table(self.path(copy))
            meta = json.loads((table.schema.metadata or {})[b"fapiao_months"])
        except (OSError, KeyError, ValueError, pa.ArrowException):
            return None
        if meta != months:
            return None

        def flat(name: str) -> pa.Array:
            col = table.column(name)
            arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            return arr.flatten()

        seller = table.column("seller")
        arr = seller.combine_chunks() if seller.num_chunks != 1 else seller.chunk(0)
        lengths = np.diff(np.asarray(arr.offsets.to_numpy(), dtype=np.int64))
        self.read += 1
        return LoopTable(lengths.astype(np.int64),
                         np.asarray(table.column("repeats").to_numpy(), dtype=np.float64),
                         np.asarray(table.column("span").to_numpy(), dtype=np.float64),
                         flat("seller").to_pylist(), flat("buyer").to_pylist(),
                         np.asarray(flat("total").to_numpy(zero_copy_only=False), dtype=np.float64),
                         flat("item").to_pylist())

    def save(self, copy: int, months: list[list[int]], loops: LoopTable) -> None:
        """Write the copy's loops with the slice's month keys, atomically; drop the oldest files beyond
        :data:`KEEP_FILES`."""
        self.searched += 1
        offsets = pa.array(np.concatenate([[0], np.cumsum(loops.lengths)]).astype(np.int32), pa.int32())

        def lists(values: list[Any] | npt.NDArray[Any], kind: pa.DataType) -> pa.Array:
            return pa.ListArray.from_arrays(offsets, pa.array(values, kind))

        table = pa.table({"seller": lists(loops.seller, pa.string()), "buyer": lists(loops.buyer, pa.string()),
                          "total": lists(loops.total, pa.float64()), "item": lists(loops.item, pa.string()),
                          "repeats": pa.array(loops.repeats, pa.float64()), "span": pa.array(loops.span, pa.float64())})
        table = table.replace_schema_metadata({b"fapiao_months": json.dumps(months).encode()})
        write_atomically(table, self.path(copy), keep=KEEP_FILES)

    def stats(self) -> dict[str, float]:
        return {"null_copies_read": float(self.read), "null_copies_searched": float(self.searched)}

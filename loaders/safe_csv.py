"""CSV output that spreadsheet programs cannot turn into formulas (CSV/formula injection)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    """Prefix text cells that a spreadsheet would evaluate with a single quote; numbers pass unchanged.

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise(-5), neutralise("北京")
    ('\\'=HYPERLINK("http://x")', -5, '北京')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a UTF-8 (with BOM, so Excel shows Chinese) CSV with every cell neutralised; returns rows written."""
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow([neutralise(h) for h in header])
        for row in rows:
            w.writerow([neutralise(v) for v in row])
            n += 1
    return n

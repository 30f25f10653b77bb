"""CSV output that spreadsheet programs cannot turn into formulas (CSV/formula injection)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: the same test as :func:`neutralise`, for :func:`neutralise_texts` (tested equal on random text)
FORMULA_PATTERN = "^[" + "".join(re.escape(c) for c in FORMULA_START) + "]"


def neutralise(value: Any) -> Any:
    """Prefix text cells that a spreadsheet would evaluate with a single quote; numbers pass unchanged.

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise(-5), neutralise("北京")
    ('\\'=HYPERLINK("http://x")', -5, '北京')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def is_text(column: pa.Array | pa.ChunkedArray) -> bool:
    """True for a string column (plain or dictionary-encoded): :func:`neutralise_texts` takes it."""
    import pyarrow as pa

    t = column.type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t)
                or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)))


def neutralise_texts(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`neutralise` of every cell of a string column at once (null stays null), for big quarantines.

    >>> import pyarrow as pa
    >>> neutralise_texts(pa.array(["=1+1", "北京", None, "－5"])).to_pylist()
    ["'=1+1", '北京', None, "'－5"]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = column.cast(pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    risky = pc.fill_null(pc.match_substring_regex(text, FORMULA_PATTERN), False)
    return pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'"), text, ""), text)


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

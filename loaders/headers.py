"""Exports as they come: header text normalisation, the header row under title rows, summary rows.

Tax-bureau exports (电子税务局 全量发票查询 and the like) put a title, blank rows or a note above the
header row, write headers such as ``价税合计(小写)`` or ``金额（元）`` with a line break inside the cell,
and end with a 合计 row. These helpers let every reader find the real header and drop the total.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from graph.core.notes import Note

#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30
#: A header row must name at least this many known columns (of either table kind).
MIN_HEADER_MATCHES = 3
#: First cells that mark a total row (compared after :func:`norm_header`).
SUMMARY_WORDS = ("合计", "总计", "小计", "总合计", "本页合计", "total", "subtotal", "sum")

_SUFFIX = re.compile(r"\((小写|大写|元|人民币|人民币元|单位元|%|含税|不含税)\)$")
_SPACE = re.compile(r"[\s\u3000_\-]+")


def norm_header(header: str) -> str:
    """A header as compared with the aliases: full-width → half-width (NFKC), no spaces, line breaks,
    underscores or dashes, lower case, without a unit suffix such as ``(小写)``, ``（元）`` or ``(大写)``.

    >>> norm_header("价税合计（小写）"), norm_header("金额\\n(元)"), norm_header(" Invoice_No ")
    ('价税合计', '金额', 'invoiceno')
    """
    text = unicodedata.normalize("NFKC", header.replace("\ufeff", "")).strip().lower()
    text = _SPACE.sub("", text)
    while True:
        stripped = _SUFFIX.sub("", text)
        if stripped == text:
            return text
        text = stripped


def header_score(cells: Sequence[str], known: set[str]) -> int:
    """How many distinct cells of a row are known column names (after :func:`norm_header`)."""
    return len({n for n in (norm_header(c) for c in cells if c) if n in known})


def find_header_row(rows: Sequence[Sequence[str]], known: set[str]) -> int:
    """Index of the header row among the first rows: the first row with the most known column names.

    Returns 0 when no row names :data:`MIN_HEADER_MATCHES` known columns (the first row is then the
    header, and a missing column is reported as before).
    """
    best, best_score = 0, 0
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = header_score(cells, known)
        if score > best_score:
            best, best_score = i, score
    return best if best_score >= MIN_HEADER_MATCHES else 0


def is_summary_row(cells: Sequence[str]) -> bool:
    """True for a 合计 / 总计 row: its first non-empty cell is one of :data:`SUMMARY_WORDS` (or starts
    with 合计 / 总计 followed by a colon or a number of invoices, e.g. ``合计：120张``)."""
    first = next((c for c in cells if c and c.strip()), "")
    word = norm_header(first).rstrip(":")
    return word in SUMMARY_WORDS or bool(re.match(r"^(合计|总计)[:：]", word))


def describe_skipped(rows: Sequence[Sequence[str]], header_index: int) -> Note:
    """A note on the rows above the header (title, blank rows, notes): ``header_row_found``."""
    # a merged title fills every cell it spans: its text is shown once, not once per column; any run of white
    # space (an ideographic space 　 too, which a quoted note would show as \u3000) is one space
    texts = [" ".join(dict.fromkeys(" ".join(c.split()) for c in r if c and c.strip())) for r in rows[:header_index]]
    return Note("header_row_found", {"row": header_index + 1, "skipped": header_index,
                                     "shown": [t[:40] for t in texts if t]})

"""Stray quotes: find the line where a ``"`` that never closes (or closes thousands of lines later)
would swallow the rows after it into one cell.

A CSV value may legitimately span lines when quoted, so quote semantics stay on. But when a record that
spans several lines is really several ordinary rows (its lines split, ignoring quotes, into the
header's number of cells) or its quote never closes before the end of the file, the quote was a stray:
the caller reads the file from that line on without quote semantics, so every line stays a row.

The cheap numpy pass (:func:`has_odd_quote_line`) answers "could any record span lines?"; only then is
the file walked with Python's ``csv`` module (:func:`stray_quote_offset`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from loaders.utf8scan import _odd_lines

CHUNK = 16 << 20
QUOTE, NEWLINE = 0x22, 0x0A


def has_odd_quote_line(path: Path, chunk_bytes: int = CHUNK) -> bool:
    """Does any line of ``path`` hold an odd number of ``"`` bytes (the only way a record spans lines)?

    Per chunk, one XOR of the quote bytes from each line start to its end (:func:`loaders.utf8scan._odd_lines`)."""
    carry = 0   # parity of the quotes of the unfinished line carried over from the previous chunk
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            arr = np.frombuffer(chunk, dtype=np.uint8)
            odd, carry = _odd_lines(arr, np.flatnonzero(arr == NEWLINE), carry)
            if odd:
                return True
    return bool(carry)


def stray_quote_offset(path: Path, encoding: str, delimiter: str, columns: int) -> tuple[int, int] | None:
    """(byte offset, 1-based line number) of the first line whose quote swallows following rows, or None.

    A record spanning lines is a stray when its quote never closes, or when its lines split (ignoring
    quotes) into ``columns`` cells each (all of them, or at least half of those between its first and
    last line), i.e. they are rows of their own.
    """
    pos = 0
    line_no = 0
    current: list[str] = []

    def lines() -> Iterator[str]:
        nonlocal pos, line_no
        with path.open("rb") as f:
            for raw in f:
                pos += len(raw)
                line_no += 1
                text = raw.decode(encoding, errors="replace")
                current.append(text)
                yield text

    reader = csv.reader(lines(), delimiter=delimiter)
    start, start_line = 0, 1
    while True:
        try:
            if next(reader, None) is None:
                return None
        except csv.Error:   # a value over csv's field limit (128 KiB): only a swallowing quote gets there
            if len(current) > 1:
                return start, start_line
        else:
            if len(current) > 1:
                unclosed = sum(t.count('"') for t in current) % 2 == 1
                whole = [t.rstrip("\r\n").count(delimiter) + 1 == columns for t in current]
                inner = whole[1:-1]
                if unclosed or all(whole) or (inner and 2 * sum(inner) >= len(inner)):
                    return start, start_line
        current.clear()
        start, start_line = pos, line_no + 1

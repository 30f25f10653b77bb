"""Spreadsheets (.xlsx .xlsm .xlsb .xls .ods) through python-calamine (Rust; ~16× openpyxl, measured in
benchmarks/bench_ingest.py).

A sheet is read whole (calamine has no streaming API), its header row found under any title rows,
merged cells filled from their top-left cell, and a trailing 合计 row left to the caller. Without
``sheet``, every sheet whose header names the required invoice columns is read (sheets named …明细…
hold item lines and are skipped unless named); sheets with other headers are reported and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from graph.core.collector import paused_gc
from graph.core.errors import ConfigError, FapiaoError, InvalidData
from graph.core.notes import Note
from loaders.headers import HEADER_SEARCH_ROWS, describe_skipped, find_header_row, is_summary_row

#: Sheets whose name holds one of these words carry item lines, not invoices (read only when named).
ITEM_SHEET_WORDS = ("明细", "货物", "items", "lines")
SHEET_COLUMN = "工作表"


def cell_text(v: Any) -> str:
    """A spreadsheet cell as text: dates ISO, whole floats without ``.0``."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date | time):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _empty(v: Any) -> bool:
    return v is None or (v.__class__ is str and not v.strip())


def _fill_merged(rows: list[list[Any]], merged: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1 + 1, len(rows))):
            for c in range(c0, min(c1 + 1, len(rows[r]))):
                if rows[r][c] is None or rows[r][c] == "":
                    rows[r][c] = value


def _sheet_cells(sheet: Any) -> list[list[Any]]:
    """The sheet's cells as calamine gives them (text, numbers, dates), merged cells filled."""
    rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
    try:
        merged = sheet.merged_cell_ranges or []
    except Exception:   # merged ranges are only known for .xlsx; others read as they are
        merged = []
    _fill_merged(rows, merged)
    return rows


def _text_row(cells: list[Any]) -> list[str]:
    return [v if v.__class__ is str else cell_text(v) for v in cells]


def _filled(cells: list[Any]) -> bool:
    return not all(map(_empty, cells))


def _text_column(values: tuple[Any, ...]) -> Sequence[str]:
    """A column's cells as text; a column that is all text (most are) is taken as it is, checked in C."""
    if set(map(type, values)) <= {str}:
        return values
    text = cell_text
    return [v if v.__class__ is str else text(v) for v in values]


def _columns(body: list[list[Any]], width: int) -> list[Sequence[str]]:
    """Rows to text columns in one transpose, each row cut or padded to the header's width."""
    if not body:
        return [()] * width
    if any(len(r) != width for r in body):
        body = [r[:width] if len(r) >= width else r + [""] * (width - len(r)) for r in body]
    return [_text_column(c) for c in zip(*body, strict=True)]


def _header_cells(cells: list[str]) -> list[str]:
    header = [" ".join(c.split()) or f"column_{i + 1}" for i, c in enumerate(cells)]
    seen: dict[str, int] = {}
    for i, h in enumerate(header):   # a repeated header gets a suffix instead of stopping the load
        if h in seen:
            seen[h] += 1
            header[i] = f"{h} ({seen[h]})"
        else:
            seen[h] = 1
    return header


def read_spreadsheet(path: Path, *, sheet: str | None, known: set[str],
                     holds_invoices: Callable[[list[str]], bool]) -> tuple[pa.Table, list[Note]]:
    """The invoice rows of a workbook as one text table, and notes on what was found and skipped.

    ``known`` are the normalised column names (to find the header row); ``holds_invoices(header)`` says
    whether a sheet's header names the required invoice columns. With several sheets read, a
    :data:`SHEET_COLUMN` column names each row's sheet (kept in the quarantine).
    """
    with paused_gc():   # a million cells as small objects: no collector passes over them (0.2 s of 50,000 rows)
        return _read_spreadsheet(path, sheet=sheet, known=known, holds_invoices=holds_invoices)


def _read_spreadsheet(path: Path, *, sheet: str | None, known: set[str],
                      holds_invoices: Callable[[list[str]], bool]) -> tuple[pa.Table, list[Note]]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:   # calamine raises its own error types for damaged or foreign files
        raise InvalidData(f"{path} is not a readable spreadsheet ({str(e).splitlines()[0] if str(e) else e})") from e
    try:
        names = list(wb.sheet_names)
        if sheet is not None and sheet not in names:
            raise ConfigError(f"{path} has no sheet {sheet!r}; sheets: {', '.join(names)}")
        notes: list[Note] = []
        found: list[tuple[str, list[str], list[list[Any]]]] = []
        fallback: list[tuple[str, list[str], list[list[Any]]]] = []
        for name in ([sheet] if sheet is not None else names):
            try:
                rows = _sheet_cells(wb.get_sheet_by_name(name))
            except FapiaoError:
                raise
            except Exception as e:
                raise InvalidData(f"{path}: sheet {name!r} cannot be read ({e})") from e
            if not any(map(_filled, rows)):
                if sheet is not None:
                    raise InvalidData(f"{path}: sheet {name!r} is empty")
                notes.append(Note("sheet_empty", {"sheet": name}))
                continue
            head = [_text_row(r) for r in rows[:HEADER_SEARCH_ROWS]]
            at = find_header_row(head, known)
            header = _header_cells(head[at])
            if sheet is None and is_item_sheet(name):
                notes.append(Note("sheet_item_lines", {"sheet": name}))
                continue
            if at:
                notes.append(describe_skipped(head, at).within(sheet=name))
            body = [r for r in rows[at + 1:] if _filled(r)]
            totals = 0
            while body and is_summary_row(_text_row(body[-1])):
                body.pop()
                totals += 1
            if totals:
                notes.append(Note("total_rows_skipped", {"sheet": name, "rows": totals}))
            if sheet is None and not holds_invoices(header):
                notes.append(Note("sheet_no_header", {"sheet": name}))
                fallback.append((name, header, body))
                continue
            found.append((name, header, body))
    finally:
        wb.close()
    if not found and fallback:   # no sheet is recognised: read the first (a missing column is then named)
        found = fallback[:1]
    if not found:
        raise InvalidData(f"{path}: no sheet holds invoices (sheets: {', '.join(names)}); name one with --sheet")
    columns: dict[str, None] = {}
    for _, header, _ in found:
        columns.update(dict.fromkeys(header))
    if len(found) > 1:
        columns[SHEET_COLUMN] = None
        notes.append(Note("sheets_read", {"sheets": [n for n, _, _ in found]}))
    data: dict[str, list[str]] = {c: [] for c in columns}
    for name, header, body in found:
        index = {h: i for i, h in enumerate(header)}
        width = len(header)
        if any(len(r) > width and _filled(r[width:]) for r in body):
            notes.append(Note("cells_right_ignored", {"sheet": name}))
        by_column = _columns(body, width)
        for c in columns:
            if c == SHEET_COLUMN:
                data[c].extend([name] * len(body))
            else:
                i = index.get(c)
                data[c].extend(by_column[i] if i is not None else [""] * len(body))
    return pa.table({c: pa.array(v, pa.string()) for c, v in data.items()}), notes


def is_item_sheet(name: str) -> bool:
    """Whether a sheet's name says it holds item lines (:data:`ITEM_SHEET_WORDS`)."""
    return any(w in name.lower() for w in ITEM_SHEET_WORDS)


def read_item_sheets(path: Path, *, known: set[str]) -> list[tuple[str, pa.Table]]:
    """The item sheets of a workbook (named …明细… etc.) as text tables under their header row, each row
    numbered in ``__record__`` (its 1-based row in the sheet); empty list when there is none."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception:   # the invoice read reports an unreadable workbook
        return []
    out: list[tuple[str, pa.Table]] = []
    try:
        for name in [n for n in wb.sheet_names if is_item_sheet(n)]:
            rows = _sheet_cells(wb.get_sheet_by_name(name))
            if not any(map(_filled, rows)):
                continue
            head = [_text_row(r) for r in rows[:HEADER_SEARCH_ROWS]]
            at = find_header_row(head, known)
            header = _header_cells(head[at])
            body = [(at + 2 + i, r) for i, r in enumerate(rows[at + 1:]) if _filled(r)]
            while body and is_summary_row(_text_row(body[-1][1])):
                body.pop()
            by_column = _columns([r for _, r in body], len(header))
            table = pa.table({h: pa.array(c, pa.string()) for h, c in zip(header, by_column, strict=True)})
            out.append((name, table.append_column("__record__", pa.array([r for r, _ in body], pa.int64()))))
    finally:
        wb.close()
    return out


def iter_spreadsheet(path: Path, *, sheet: str | None, known: set[str],
                     holds_invoices: Callable[[list[str]], bool], batch_rows: int) -> Iterator[tuple[pa.Table, int,
                                                                                                      list[Note]]]:
    """:func:`read_spreadsheet` in slices of ``batch_rows``: (table, first record, notes on the first slice)."""
    table, notes = read_spreadsheet(path, sheet=sheet, known=known, holds_invoices=holds_invoices)
    n = table.num_rows
    for start in range(0, max(n, 1), batch_rows):
        yield table.slice(start, batch_rows), start + 1, notes if start == 0 else []

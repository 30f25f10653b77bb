"""``fapiao inspect``: what a load would make of a file, before anything is written.

Shows the reader's findings (header row, skipped title and total rows, sheets, archive members), the
column mapping chosen (and what is missing), and the first rows as they would load: parsed values and
the rules each row breaks. Nothing is written anywhere.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from graph.core.errors import ConfigError
from loaders.mapping import ALT_NUMBER, load_mapping, resolve_columns
from loaders.read import RawBatch, read_batches
from loaders.rules import InvoiceValidator

SHOWN = ("key", "issued_at", "seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name", "amount_fen", "tax_fen",
         "total_fen", "rate", "kind", "status")


def _first_batch(batches: object) -> RawBatch | None:
    for b in batches:  # type: ignore[attr-defined]
        return b  # type: ignore[no-any-return]
    return None


def _show_batch(console: Console, label: str, batch: RawBatch, user_map: dict[str, str], rows: int) -> None:
    from loaders.load import _canonical

    console.print(f"[bold]{label}[/bold]")
    for n in batch.notes:
        console.print(f"  note: {n.en()}")
    for rec, text in batch.unreadable[:rows]:
        console.print(f"  refused (record {rec}): {text}")
    headers = batch.table.column_names
    try:
        columns = resolve_columns(headers, "invoices", user_map, source=label)
    except ConfigError as e:
        console.print(f"  [red]{e}[/red]")
        return
    mapping = Table(title="columns → invoice fields", show_lines=False)
    mapping.add_column("file header")
    mapping.add_column("loads as")
    for h in headers:
        target = columns.get(h)
        mapping.add_row(h, ("invoice_number (where 发票号码 is empty)" if target == ALT_NUMBER else target)
                        or "[dim](kept in quarantine only)[/dim]")
    console.print(mapping)
    head = batch.table.slice(0, rows)
    if head.num_rows == 0:
        console.print("  (no rows)")
        return
    parsed, issues = InvoiceValidator(None).parse(_canonical(head, columns))
    problems: list[list[str]] = [[] for _ in range(head.num_rows)]
    for iss in issues:
        for i in np.asarray(iss.rows).tolist():
            problems[i].append(iss.rule)
    out = Table(title=f"first {head.num_rows} row(s) as they would load (money in yuan)")
    out.add_column("record", justify="right")
    for c in SHOWN:
        out.add_column(c, overflow="fold")
    out.add_column("problems", overflow="fold")
    data = parsed.select(list(SHOWN)).to_pylist()
    for i, row in enumerate(data):
        cells = []
        for c in SHOWN:
            v = row[c]
            cells.append(f"{v / 100:,.2f}" if c.endswith("_fen") and v is not None else
                         v.strftime("%Y-%m-%d %H:%M %Z") if c == "issued_at" and v is not None else
                         f"{v:.4g}" if c == "rate" and v is not None else str(v if v is not None else ""))
        out.add_row(str(batch.first_row + i), *cells,
                    "[red]" + ", ".join(problems[i]) + "[/red]" if problems[i] else "[green]ok[/green]")
    console.print(out)


def inspect_file(path: Path, *, mapping: Path | None = None, map_pairs: tuple[str, ...] = (),
                 encoding: str | None = None, sheet: str | None = None, rows: int = 5) -> str:
    """A printable account of what ``fapiao load PATH`` would read (see module doc)."""
    from loaders.sources import is_container, is_document, plan, read_documents

    user_map = load_mapping(mapping, map_pairs)
    console = Console(width=160, record=True, file=io.StringIO())
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="fapiao-inspect-") as tmp:
        if is_container(path) or is_document(path):
            pl = plan(path, Path(tmp))
            console.print(f"{path}: {len(pl.tables)} table file(s), {len(pl.documents)} e-invoice file(s), "
                          f"{len(pl.refused)} refused")
            for name, why in pl.refused:
                console.print(f"  refused: {name}: {why}")
            for name, member in pl.tables:
                batch = _first_batch(read_batches(member, encoding=encoding, sheet=sheet))
                if batch is not None:
                    _show_batch(console, name, batch, user_map, rows)
            if pl.documents:
                batch = _first_batch(read_documents(pl.documents[:rows]))
                if batch is not None:
                    _show_batch(console, "e-invoice files", batch, user_map, rows)
        else:
            batch = _first_batch(read_batches(path, encoding=encoding, sheet=sheet))
            if batch is not None:
                _show_batch(console, str(path), batch, user_map, rows)
    console.print("nothing was written")
    return console.export_text()

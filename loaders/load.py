"""The load pipeline: read → map → validate → write accepted rows → quarantine the rest → report."""

from __future__ import annotations

import functools
import io
import json
import queue
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema, settings, vocab
from graph.core.errors import ConfigError, InvalidData
from graph.core.notes import Note
from graph.store import Store
from loaders import normalize as nz
from loaders.items import Outcomes, from_documents, parse_lines
from loaders.items import line_numbers as item_line_numbers
from loaders.items import reason as item_reason
from loaders.items import sheet_keys as item_sheet_keys
from loaders.mapping import ALT_NUMBER, REMARKS, load_mapping, resolve_columns
from loaders.quarantine import QuarantineWriter, WarningWriter
from loaders.read import RawBatch, drop_summary_rows, read_all, read_batches
from loaders.rules import RULES, InvoiceValidator, Issue, describe

if TYPE_CHECKING:
    from graph.embedded_bulk import PreparedInvoices
    from loaders.evidence import Staged

EXAMPLES_PER_RULE = 3
#: Invoice columns read dictionary-encoded: few distinct values, checked once per value.
DICTIONARY_COLUMNS = frozenset({"seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name", "tax_rate",
                                "invoice_type", "status", "item_code", "item_name"})
IDENTIFIER_COLUMNS = tuple(vocab.IDENTIFIER_KINDS)
#: Store record kind of scanned invoices held for a person's review (workbench: OCR review page).
REVIEW_KIND = "ocr_review"
#: Most threads :func:`load_files` checks batches on by default (each holds one batch in memory).
MAX_THREADS = 4


@dataclass
class LoadReport:
    """Counts of one load. Invariant: ``loaded + rejected + skipped_identical == read`` (invoices)."""

    source: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    skipped_identical: int = 0
    warnings: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    taxpayers_read: int = 0
    taxpayers_loaded: int = 0
    taxpayers_rejected: int = 0
    item_lines_read: int = 0       # item lines (明细) of e-invoice files and of an export's item sheet
    item_lines_loaded: int = 0
    item_lines_rejected: int = 0   # lines of rejected invoices, and sheet lines in item_quarantine.csv
    item_lines_by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False
    quarantine_path: str | None = None
    taxpayer_quarantine_path: str | None = None
    item_quarantine_path: str | None = None
    warnings_path: str | None = None
    report_path: str | None = None
    notes: list[Note] = field(default_factory=list)   # what the reader found and skipped (header row, 合计 …)

    def check(self) -> None:
        """Raise if rows were lost: every read row must be loaded, rejected or skipped as identical."""
        if self.loaded + self.rejected + self.skipped_identical != self.read:
            raise AssertionError(
                f"row accounting broken: loaded {self.loaded} + rejected {self.rejected} + "
                f"skipped {self.skipped_identical} != read {self.read}")
        if self.item_lines_loaded + self.item_lines_rejected != self.item_lines_read:
            raise AssertionError(f"item line accounting broken: loaded {self.item_lines_loaded} + rejected "
                                 f"{self.item_lines_rejected} != read {self.item_lines_read}")

    def table(self) -> str:
        """The report as printable text (rich table)."""
        from rich.console import Console
        from rich.table import Table

        summary = Table(title=f"load {self.source}" + (" (dry run: nothing written)" if self.dry_run else ""))
        summary.add_column("invoices")
        summary.add_column("count", justify="right")
        for label, value in (("read", self.read), ("loaded", self.loaded), ("rejected", self.rejected),
                             ("skipped (identical re-load)", self.skipped_identical),
                             ("warnings", self.warnings)):
            summary.add_row(label, f"{value:,}")
        if self.taxpayers_read:
            summary.add_row("taxpayers read / loaded / rejected",
                            f"{self.taxpayers_read:,} / {self.taxpayers_loaded:,} / {self.taxpayers_rejected:,}")
        if self.item_lines_read:
            summary.add_row("item lines read / loaded / rejected", f"{self.item_lines_read:,} / "
                            f"{self.item_lines_loaded:,} / {self.item_lines_rejected:,}")
        summary.add_row("seconds", f"{self.seconds:.2f}")
        rules = Table(title="by rule")
        for col in ("rule", "severity", "rows", "reason", "examples"):
            rules.add_column(col, overflow="fold")
        for rule, n in sorted(self.by_rule.items(), key=lambda kv: -kv[1]):
            r = RULES[rule]
            rules.add_row(rule, r.severity, f"{n:,}", r.reason, "\n".join(self.examples.get(rule, [])))
        console = Console(width=140, record=True, file=io.StringIO())
        console.print(summary)
        for line in self.notes:
            console.print(f"note: {line.en()}", markup=False)
        if self.by_rule:
            console.print(rules)
        for label, p in (("quarantine", self.quarantine_path), ("taxpayer quarantine", self.taxpayer_quarantine_path),
                         ("item line quarantine", self.item_quarantine_path),
                         ("warnings", self.warnings_path), ("report", self.report_path)):
            if p:
                console.print(f"{label}: {p}")
        return console.export_text()


def _report_imports() -> None:
    """Import what :meth:`LoadReport.table` needs (rich: ~0.1 s on one thread) while the loading thread would only
    wait for the store writer, not after the last commit."""
    import rich.console
    import rich.table  # noqa: F401


def _as_json(report: LoadReport) -> dict[str, Any]:
    """The report as report.json holds it: each note as ``{"code": …, <values>}`` (graph.core.notes)."""
    return {**asdict(report), "notes": [n.as_dict() for n in report.notes]}


def default_report_dir(store: Store | None) -> Path:
    """``<workspace>/loads/<timestamp>/`` for an embedded store, else ``./loads/<timestamp>/``."""
    base = Path.cwd()
    uri = getattr(store, "uri", "") or ""
    if uri.startswith("embedded:"):
        base = Path(uri.removeprefix("embedded:"))
    elif store is not None and isinstance(getattr(store, "path", None), str | Path):
        base = Path(store.path)  # type: ignore[attr-defined]
    stamp = datetime.now(ZoneInfo(settings.get("FAPIAO_TIMEZONE"))).strftime("%Y%m%d-%H%M%S")
    out = base / "loads" / stamp
    n = 1
    while out.exists():
        n += 1
        out = base / "loads" / f"{stamp}-{n}"
    return out


def _canonical(table: pa.Table, columns: dict[str, str]) -> pa.Table:
    """Rename mapped source columns to canonical names (unmapped columns are dropped)."""
    arrays, names = [], []
    for src, dst in columns.items():
        if src in table.column_names:
            arrays.append(table.column(src))
            names.append(dst)
    if ALT_NUMBER in names:   # 发票号码 and 数电票号码 both given: the 20-digit one where there is no code
        alt = nz.clean(arrays.pop(names.index(ALT_NUMBER)), unicode=False)
        names.remove(ALT_NUMBER)
        if "invoice_number" in names:
            i = names.index("invoice_number")
            number = nz.clean(arrays[i], unicode=False)
            no_code = (nz.blank(nz.clean(arrays[names.index("invoice_code")], unicode=False))
                       if "invoice_code" in names else np.ones(len(alt), dtype=np.bool_))
            arrays[i] = pc.if_else(pa.array((nz.blank(number) | no_code) & ~nz.blank(alt)), alt, number)
    if REMARKS in names:      # 备注 names the blue original of a red-letter row: red_ref where none is given
        remarks = arrays.pop(names.index(REMARKS))
        names.remove(REMARKS)
        negative = np.zeros(len(remarks), dtype=np.bool_)
        for money in ("amount", "total_amount"):
            if money in names:
                text = nz.clean(arrays[names.index(money)])
                negative |= nz.np_bool(pc.fill_null(pc.match_substring_regex(text, r"^\s*[-－]"), False))
        found = red_ref_from_remarks(remarks)
        ref = (nz.clean(arrays[names.index("red_ref")], unicode=False) if "red_ref" in names
               else pa.array([""] * len(remarks), pa.string()))
        take = pa.array(nz.blank(ref) & negative & nz.np_bool(pc.is_valid(found)))
        filled = pc.if_else(take, found, ref)
        if "red_ref" in names:
            arrays[names.index("red_ref")] = filled
        else:
            arrays.append(filled)
            names.append("red_ref")
    return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})


#: how the red-letter platforms write the blue original into a red invoice's 备注
_BLUE_CODE_NUMBER = r"对应正数发票代码[:：]?\s*(?P<code>\d{10,12})\s*号码[:：]?\s*(?P<number>\d{8})"
_BLUE_NUMBER = r"蓝字(?:数电)?(?:发票)?(?:票)?号码[:：]?\s*(?P<number>\d{20}|\d{8})"


def red_ref_from_remarks(remarks: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The blue original a red-letter invoice's 备注 names, as ``red_ref`` text (``CODE-NUMBER`` for a paper
    invoice, the 20-digit number for a 数电 invoice); null where the remark names none.

    >>> red_ref_from_remarks(pa.array(["对应正数发票代码:044031900111号码:12345678", "被红冲蓝字数电发票号码：24442000000012345678 "
    ...                                 "红字发票信息确认单编号：4403012400000001", "货款", None])).to_pylist()
    ['044031900111-12345678', '24442000000012345678', None, None]
    """
    text = nz.clean(remarks)
    paper = pc.extract_regex(text, _BLUE_CODE_NUMBER)
    code_number = pc.binary_join_element_wise(pc.struct_field(paper, "code"), pc.struct_field(paper, "number"), "-")
    digital = pc.struct_field(pc.extract_regex(text, _BLUE_NUMBER), "number")
    return pc.coalesce(code_number, digital)


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), TimeRemainingColumn(),
                  transient=False, console=Console(stderr=True)) as p:
        task = p.add_task(label, total=1.0, rows=0)
        yield lambda done, rows: p.update(task, completed=done, rows=rows)


def load_taxpayers(path: Path, *, mapping: dict[str, str], encoding: str | None, sheet: str | None,
                   quarantine: QuarantineWriter | None = None) -> tuple[pa.Table, int, int]:
    """Read and check a taxpayers file. Returns (schema.TAXPAYERS + identifier columns, read, rejected)."""
    raw = read_all(path, encoding=encoding, sheet=sheet)
    cols = resolve_columns(raw.column_names, "taxpayers", mapping, source=str(path))
    t = _canonical(raw, cols)
    n = t.num_rows

    def col(name: str) -> pa.Array:
        return nz.clean(t.column(name)) if name in t.column_names else pa.array([""] * n, pa.string())

    tax_id = pc.utf8_upper(col("tax_id"))
    problems: list[tuple[str, str, np.ndarray]] = []
    well = nz.np_bool(pc.match_substring_regex(tax_id, r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"))
    legacy = nz.np_bool(pc.match_substring_regex(tax_id, r"^([0-9A-Z]{15}|[0-9A-Z]{17}|[0-9A-Z]{20})$"))
    problems.append(("missing_field", "tax_id", nz.blank(tax_id)))
    problems.append(("tax_id_format", "tax_id", ~nz.blank(tax_id) & ~well & ~legacy))
    problems.append(("missing_field", "name", nz.blank(col("name"))))
    limit_txt = col("invoice_limit")
    limit, limit_ok, _ = nz.parse_fen(limit_txt)
    problems.append(("bad_value", "invoice_limit", ~nz.blank(limit_txt) & ~limit_ok))
    reg_txt = col("registered_on")
    reg, reg_ok = nz.parse_datetime(reg_txt, settings.get("FAPIAO_TIMEZONE"))
    problems.append(("date_unparseable", "registered_on", ~nz.blank(reg_txt) & ~reg_ok))
    bad = np.zeros(n, dtype=np.bool_)
    for _, _, m in problems:
        bad |= m
    if quarantine is not None and bad.any():
        quarantine.columns = [*raw.column_names, "raw_text"]
        rows = np.flatnonzero(bad)
        rules = [";".join(r for r, _, m in problems if m[i]) for i in rows]
        reasons = [" | ".join(describe(r, f) for r, f, m in problems if m[i]) for i in rows]
        quarantine.add(raw, rows, rows + 1, rules, reasons)
    tz = settings.get("FAPIAO_TIMEZONE")
    reg_days = pc.cast(pc.cast(pa.array(reg, pa.int64()).cast(pa.timestamp("s", tz="UTC")),
                               pa.timestamp("s", tz=tz)), pa.date32()) if n else pa.array([], pa.date32())
    none_s = pa.nulls(n, pa.string())

    def opt(name: str) -> pa.Array:
        c = col(name)
        return pc.if_else(nz.blank(c), none_s, c)

    out = pa.table({
        "tax_id": tax_id, "name": col("name"),
        "registered_on": pc.if_else(pa.array(reg_ok & ~nz.blank(reg_txt)), reg_days, pa.nulls(n, pa.date32())),
        "industry": opt("industry"), "region": opt("region"),
        "invoice_limit_fen": pc.if_else(pa.array(limit_ok & ~nz.blank(limit_txt)), pa.array(limit, pa.int64()),
                                        pa.nulls(n, pa.int64())),
        "status": opt("status"),
        **{k: opt(k) for k in IDENTIFIER_COLUMNS},
    })
    keep = out.filter(pa.array(~bad))
    return keep, n, int(bad.sum())


def infer_taxpayers(invoices: pa.Table) -> pa.Table:
    """Taxpayers named on invoices (schema.TAXPAYERS; the first name seen per tax id)."""
    pairs = pa.concat_tables([
        invoices.select(["seller_tax_id", "seller_name"]).rename_columns(["tax_id", "name"]),
        invoices.select(["buyer_tax_id", "buyer_name"]).rename_columns(["tax_id", "name"]),
    ])
    first = pairs.group_by("tax_id", use_threads=False).aggregate([("name", "first")]).rename_columns(["tax_id", "name"])
    return schema.conform(first, schema.TAXPAYERS)


def load_files(store: Store | None, invoices: Path, *, taxpayers: Path | None = None,
               mapping: Path | dict[str, str] | None = None, encoding: str | None = None, sheet: str | None = None,
               report_dir: Path | None = None, progress: bool = False, map_pairs: tuple[str, ...] = (),
               batch_rows: int | None = None, threads: int | None = None, keep_originals: bool = True,
               skipped_records: list[np.ndarray] | None = None) -> LoadReport:
    """Load an invoices file (and optionally a taxpayers file) into ``store``.

    Parameters
    ----------
    store
        The target store; ``None`` validates only (dry run, nothing written).
    invoices, taxpayers
        CSV / Excel / JSON / JSON Lines / Parquet files in the interchange format (any mapped headers).
    mapping
        A mapping file or dict ``{source header: canonical column}``; ``map_pairs`` adds ``SRC=DST`` strings.
    encoding, sheet
        Override CSV encoding detection; choose an Excel sheet.
    report_dir
        Where the quarantine, warnings and report go (default ``<workspace>/loads/<timestamp>/``).
    keep_originals
        Keep the files read as evidence and index each loaded invoice to its original (default; off for
        rows that are not an original, such as a reviewed OCR correction).
    threads
        Threads that check batches at the same time (default: one per CPU, at most
        :data:`MAX_THREADS`); above 1 the next batch is also read on its own thread. ``1`` does
        everything on the calling thread. Batches are still settled (duplicates, red-letter
        originals, quarantine, store writes) one at a time in file order, so the result is the same.
    skipped_records
        When given, the record numbers of rows skipped as identical to a stored (or earlier) invoice are
        appended to it, one array per batch (the API's group commit tells each request its own count).

    Returns
    -------
    LoadReport
        Counts per outcome and per rule; ``loaded + rejected + skipped_identical == read``.
    """
    from loaders.sources import is_container, is_document

    if is_container(Path(invoices)) or is_document(Path(invoices)):
        return _load_many(store, Path(invoices), taxpayers=taxpayers, mapping=mapping, encoding=encoding,
                          sheet=sheet, report_dir=report_dir, map_pairs=map_pairs, progress=progress,
                          batch_rows=batch_rows, threads=threads, keep_originals=keep_originals,
                          skipped_records=skipped_records)
    return _load(store, invoices, taxpayers=taxpayers, mapping=mapping, encoding=encoding, sheet=sheet,
                 report_dir=report_dir, map_pairs=map_pairs, progress=progress, batch_rows=batch_rows,
                 threads=threads, keep_originals=keep_originals, skipped_records=skipped_records)


def parse_rows(table: pa.Table, validator: InvoiceValidator) -> tuple[pa.Table, list[Issue]] | None:
    """``table``'s rows (text columns, source headers) parsed as :func:`load_table` parses them: the rules'
    row-by-row part (:meth:`InvoiceValidator.parse`, no cross-batch state), safe on any thread. Handed to
    :func:`load_table` as ``parsed``, it saves that work on the loading thread (the API's request threads
    parse their batches while the one writer thread stores the group before). None for no rows."""
    columns = resolve_columns(table.column_names, "invoices", {}, source="the batch")
    return _parse_batch(RawBatch(table, 1), columns, validator)


def load_table(store: Store, table: pa.Table, *, label: str, report_dir: Path,
               originals: dict[str, tuple[str, str]] | None = None,
               skipped_records: list[np.ndarray] | None = None,
               parsed: tuple[pa.Table, list[Issue]] | None = None) -> LoadReport:
    """Load invoice rows already in memory: ``table`` of text columns (source headers, as a file's), checked
    and stored by the same pipeline as :func:`load_files` reading a file of these rows (one batch, records
    numbered from 1, the same trailing 合计 handling, quarantine, warnings and report). Nothing is written to
    disk but the report folder: no file round trip.

    ``originals`` maps invoice keys (``schema.invoice_key`` of the raw code and number) to the
    ``(sha256, name)`` of the original they came from, kept by the caller with
    :meth:`loaders.evidence.Evidence.keep_bytes`; loaded invoices are indexed to them as evidence.

    ``parsed``: ``table``'s rows already parsed (:func:`parse_rows`); used when no trailing 合计 row was
    dropped (else the rows left are parsed here)."""
    source = drop_summary_rows(iter([RawBatch(table, 1, [], 1.0)]))
    return _load(store, Path(label), taxpayers=None, mapping=None, encoding=None, sheet=None,
                 report_dir=report_dir, map_pairs=(), progress=False, batch_rows=None, threads=1,
                 source=source, label=label, skipped_records=skipped_records, documents=originals,
                 parsed=parsed)


def _load(store: Store | None, invoices: Path, *, taxpayers: Path | None, mapping: Path | dict[str, str] | None,
          encoding: str | None, sheet: str | None, report_dir: Path | None, progress: bool,
          map_pairs: tuple[str, ...], batch_rows: int | None, threads: int | None,
          source: Iterator[RawBatch] | None = None, label: str | None = None,
          keep_originals: bool = True, skipped_records: list[np.ndarray] | None = None,
          documents: dict[str, tuple[str, str]] | None = None,
          parsed: tuple[pa.Table, list[Issue]] | None = None) -> LoadReport:
    started = time.perf_counter()
    user_map = load_mapping(mapping, map_pairs)
    out_dir = Path(report_dir) if report_dir is not None else default_report_dir(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = LoadReport(source=label or str(invoices), dry_run=store is None)
    # the original copied into the evidence folder and hashed on its own thread once the file is read (kept only
    # when the load completes)
    staging = (_stage_later(store, Path(invoices)) if store is not None and keep_originals and source is None
               and Path(invoices).is_file() else None)
    try:
        return _load_staged(store, invoices, taxpayers=taxpayers, user_map=user_map, encoding=encoding, sheet=sheet,
                            out_dir=out_dir, report=report, progress=progress, batch_rows=batch_rows, threads=threads,
                            source=source, label=label, keep_originals=keep_originals,
                            skipped_records=skipped_records, documents=documents, staging=staging, started=started,
                            parsed=parsed)
    except BaseException:
        if staging is not None:
            staging(discard=True)
        raise


def _load_staged(store: Store | None, invoices: Path, *, taxpayers: Path | None, user_map: dict[str, str],
                 encoding: str | None, sheet: str | None, out_dir: Path, report: LoadReport, progress: bool,
                 batch_rows: int | None, threads: int | None, source: Iterator[RawBatch] | None, label: str | None,
                 keep_originals: bool, skipped_records: list[np.ndarray] | None,
                 documents: dict[str, tuple[str, str]] | None, staging: Staging | None, started: float,
                 parsed: tuple[pa.Table, list[Issue]] | None = None) -> LoadReport:
    by_rule: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}

    def note(rule: str, n: int, example: str) -> None:
        by_rule[rule] += n
        ex = examples.setdefault(rule, [])
        if len(ex) < EXAMPLES_PER_RULE:
            ex.append(example[:160])

    limits: dict[str, int] = {}
    validator_names: pa.Table | None = None
    held: list[pa.Table] = []   # taxpayers waiting for the invoice file to prove readable
    if taxpayers is not None:
        tq = QuarantineWriter(out_dir / "taxpayers_quarantine.csv", [])
        tp, n_read, n_bad = load_taxpayers(Path(taxpayers), mapping=user_map, encoding=encoding, sheet=None,
                                           quarantine=tq)
        report.taxpayers_read, report.taxpayers_rejected = n_read, n_bad
        report.taxpayers_loaded = tp.num_rows
        p = tq.close()
        report.taxpayer_quarantine_path = str(p) if p else None
        has_limit = tp.filter(pc.is_valid(tp.column("invoice_limit_fen")))
        limits = dict(zip(has_limit.column("tax_id").to_pylist(), has_limit.column("invoice_limit_fen").to_pylist(),
                          strict=True))
        validator_names = tp.select(["tax_id", "name"])
        if tp.num_rows:   # written with the first invoices, so a refused invoice file commits nothing
            held.append(tp)

    validator = InvoiceValidator(store, limits=limits)
    if validator_names is not None:
        validator.add_names(validator_names)
    def low_cardinality(headers: list[str]) -> list[str]:
        cols = resolve_columns(headers, "invoices", user_map, source=str(invoices))
        return [src for src, dst in cols.items() if dst in DICTIONARY_COLUMNS]

    sheets = _item_sheets(Path(invoices)) if source is None and sheet is None else []
    outcomes = Outcomes() if sheets else None   # keys kept / read, to join the sheets' lines afterwards
    workers = default_threads() if threads is None else max(1, threads)
    batches = source if source is not None else read_batches(
        Path(invoices), encoding=encoding, sheet=sheet, dictionary=low_cardinality,
        **({"batch_rows": batch_rows} if batch_rows else {}))
    loaded: list[pa.Array] = []
    documents = dict(documents or {})   # invoice key → (sha256, file) of e-invoice rows (and in-memory originals)
    if workers > 1:
        batches = _prefetch(batches)
    quarantine: QuarantineWriter | None = None
    warn = WarningWriter(out_dir / "warnings.csv")
    columns: dict[str, str] = {}

    sizing: list[threading.Thread] = []   # the key index being sized while the first batch is checked

    def first_sets_columns(items: Iterator[RawBatch]) -> Iterator[RawBatch]:
        """Resolve the column mapping and open the quarantine from the first batch (on the thread taking batches)."""
        nonlocal quarantine, columns
        for batch in items:
            if quarantine is None:
                if batch.table.num_rows or batch.table.column_names:
                    columns = resolve_columns(batch.table.column_names, "invoices", user_map, source=str(invoices))
                quarantine = QuarantineWriter(out_dir / "quarantine.csv", batch.table.column_names)
                if 0 < batch.done < 1:   # rows in the file, estimated from how far the first batch got
                    rows = int(batch.table.num_rows / batch.done)
                    if workers > 1:   # beside the first batch's checks (0.1 CPU-s for 1M rows), not before them
                        sizing.append(threading.Thread(target=validator.expect, args=(rows,), name="fapiao-size",
                                                       daemon=True))
                        sizing[-1].start()
                    else:
                        validator.expect(rows)
            yield batch

    def parse(batch: RawBatch) -> tuple[pa.Table, list[Issue]] | None:
        if parsed is not None and batch.first_row == 1 and batch.table.num_rows == parsed[0].num_rows:
            return parsed[0], list(parsed[1])     # parsed by the caller (decide adds to the issues list)
        return _parse_batch(batch, columns, validator)

    # with more than one thread, the store writes run on a thread of their own, in batch order, while the next
    # batches are read, checked and settled (the checks never need this load's own rows from the store: earlier
    # batches are remembered by the validator)
    writes = _StoreWrites() if store is not None and workers > 1 else None
    write: Write = writes.submit if writes is not None else _write_now
    # and each batch is made ready for its transaction (hashes, party numbers) on this thread while the writer
    # thread stores the one before (graph.embedded_bulk)
    bulk = getattr(store, "bulk_invoices", None) if writes is not None else None
    prepare: Prepare | None = bulk().prepare if bulk is not None else None
    try:
        with _progress(progress, f"loading {Path(invoices).name}") as tick:
            try:
                for batch, parsed in _ordered_map(parse, first_sets_columns(batches), workers):
                    assert quarantine is not None
                    while sizing:   # sized before the first batch is decided
                        sizing.pop().join()
                    report.notes.extend(batch.notes)
                    _handle_batch(batch, parsed, validator, store, quarantine, warn, report, note, loaded, held=held,
                                  outcomes=outcomes, skipped=skipped_records, write=write, prepare=prepare)
                    if store is not None:
                        _remember_documents(batch, documents)
                    if tick is not None:
                        tick(batch.done, report.read)
            finally:   # stop the reader thread now, also when the load fails part-way
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
            if quarantine is None:
                quarantine = QuarantineWriter(out_dir / "quarantine.csv", [])
            settled = validator.finish()
            if settled is not None:
                raw, outcome = settled
                records = np.asarray(raw.column("__row__").to_numpy(), dtype=np.int64)
                _apply(outcome, raw.drop_columns(["__row__"]), records, store, quarantine, warn, report, note,
                       deferred_settle=True, loaded=loaded, held=held, outcomes=outcomes, skipped=skipped_records,
                       write=write, prepare=prepare)
            if held and store is not None:   # the invoice file was read to the end without a single new row
                write(functools.partial(_write_taxpayers, store, held.pop()))
            index: Path | None = None
            if store is not None and keep_originals:   # beside the last store writes; undone if one of them fails
                index = _keep_evidence(store, Path(invoices), label or Path(invoices).name, loaded, documents,
                                       f"{out_dir.name}-{uuid.uuid4().hex[:10]}", report,
                                       staged=staging() if staging else None)
            if writes is not None:
                _report_imports()    # while the writer thread stores the last batches
                try:
                    writes.close()   # every batch committed (or the writer's error raised) before the load goes on
                except BaseException:
                    if index is not None:
                        index.unlink(missing_ok=True)
                    raise
            if tick is not None:
                tick(1.0, report.read)
    finally:
        if writes is not None:
            writes.close(raise_error=False)   # a load failing part-way still commits what it handed over, as before

    for tax_id, names in validator.name_conflicts().items():
        report.warnings += 1
        note("name_conflict", 1, f"{tax_id}: {' / '.join(names)}")
        warn.add([0], [tax_id], "name_conflict", "tax_id", describe("name_conflict", "tax_id", " / ".join(names)))

    if outcomes is not None:
        _load_item_sheets(sheets, outcomes, store, out_dir, report)
    qp = quarantine.close()
    wp = warn.close()
    report.quarantine_path = str(qp) if qp else None
    report.warnings_path = str(wp) if wp else None
    report.by_rule = dict(by_rule)
    report.examples = examples
    report.seconds = round(time.perf_counter() - started, 3)
    report.check()
    report.report_path = str(out_dir / "report.json")
    Path(report.report_path).write_text(json.dumps(_as_json(report), ensure_ascii=False, indent=1), encoding="utf-8")
    return report


def _load_many(store: Store | None, path: Path, *, report_dir: Path | None, taxpayers: Path | None,
               **kw: Any) -> LoadReport:
    """A folder, a zip, or one e-invoice file: each table loaded on its own (its report in a sub-folder
    named after it), all e-invoice files in one batch, refused members quarantined by name; the counts
    are summed into one report."""
    from loaders.evidence import Evidence, evidence_dir
    from loaders.sources import plan, read_documents

    started = time.perf_counter()
    out_dir = Path(report_dir) if report_dir is not None else default_report_dir(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: list[LoadReport] = []
    with tempfile.TemporaryDirectory(prefix="fapiao-in-") as tmp:
        pl = plan(path, Path(tmp))
        for name, member in pl.tables:
            sub = out_dir / re.sub(r"[^\w.\-]+", "_", name)
            parts.append(_load(store, member, taxpayers=taxpayers, report_dir=sub, label=name, **kw))
            taxpayers = None
        if pl.documents or pl.refused:
            ev = Evidence(evidence_dir(store)) if store is not None and kw.get("keep_originals", True) else None

            def keep(name: str, file: Path, sha: str, meta: dict[str, Any]) -> None:
                if ev is not None:
                    ev.keep(file, sha=sha, meta={"source": name, "size": file.stat().st_size, **meta})

            docs = read_documents(pl.documents, pl.refused, on_read=keep)
            parts.append(_load(store, path, taxpayers=taxpayers, report_dir=out_dir / "e-invoices",
                               label=f"{path.name} (e-invoices)", source=docs, **kw))
    if not parts:
        raise InvalidData(f"{path}: nothing to load (no invoice tables or e-invoice files)")
    total = LoadReport(source=str(path), dry_run=store is None)
    for part in parts:
        for name in ("read", "loaded", "rejected", "skipped_identical", "warnings", "taxpayers_read",
                     "taxpayers_loaded", "taxpayers_rejected", "item_lines_read", "item_lines_loaded",
                     "item_lines_rejected"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        for rule, n in part.by_rule.items():
            total.by_rule[rule] = total.by_rule.get(rule, 0) + n
            total.examples.setdefault(rule, []).extend(f"{part.source}: {e}" for e in part.examples.get(rule, []))
        total.notes.append(Note("file_counts", {"file": part.source, "read": part.read, "loaded": part.loaded,
                                                "rejected": part.rejected, "quarantine": part.quarantine_path or ""}))
        total.notes.extend(n.within(file=part.source) for n in part.notes)
    if len(parts) == 1:
        total.quarantine_path, total.warnings_path = parts[0].quarantine_path, parts[0].warnings_path
        total.taxpayer_quarantine_path = parts[0].taxpayer_quarantine_path
    total.examples = {r: e[:EXAMPLES_PER_RULE] for r, e in total.examples.items()}
    total.seconds = round(time.perf_counter() - started, 3)
    total.check()
    total.report_path = str(out_dir / "report.json")
    Path(total.report_path).write_text(json.dumps({**_as_json(total), "parts": [_as_json(p) for p in parts]},
                                                  ensure_ascii=False, indent=1), encoding="utf-8")
    return total


def _remember_documents(batch: RawBatch, documents: dict[str, tuple[str, str]]) -> None:
    """Invoice key → (sha256, file name) for the e-invoice rows of a batch (for the evidence index)."""
    from loaders.sources import FILE_COLUMN, SHA_COLUMN

    t = batch.table
    if SHA_COLUMN not in t.column_names or FILE_COLUMN not in t.column_names:
        return
    for code, number, sha, name in zip(t.column("invoice_code").to_pylist(), t.column("invoice_number").to_pylist(),
                                       t.column(SHA_COLUMN).to_pylist(), t.column(FILE_COLUMN).to_pylist(),
                                       strict=True):
        documents[schema.invoice_key((code or "").strip(), (number or "").strip())] = (sha, name)


class Staging(Protocol):
    """Copies the original into the evidence folder on a thread of its own (:func:`_stage_later`), waits for it and
    returns it (None if the file could not be read); with ``discard=True`` removes it instead."""

    def __call__(self, *, discard: bool = False) -> Staged | None: ...


def _stage_later(store: Store, path: Path) -> Staging:
    """Copy ``path`` into the store's evidence folder, hashing it on the way (file reads and writes and hashlib
    release the Python lock), on a thread of its own started by the first call of the returned function: the load
    calls it once every batch is handed to the store writer, so the copy runs beside the writer's last transactions,
    when one core is otherwise idle, instead of beside the pre-scan and the first batch at the start, when both cores
    are busy and the first batch is what the rest waits for. The 1M-row CSV: 3.16 / 3.21 s median against 3.26 /
    3.34 s started at once (bench_load --e2e, 7 runs each, alternating; docs/data-format.md, Speed)."""
    from loaders.evidence import Evidence, evidence_dir

    ev = Evidence(evidence_dir(store))
    out: list[Staged | None] = [None]

    def run() -> None:
        try:
            out[0] = ev.stage(path)
        except OSError:
            out[0] = None   # Evidence.keep copies and hashes it itself at the end

    worker = threading.Thread(target=run, name="fapiao-evidence", daemon=True)

    def result(*, discard: bool = False) -> Staged | None:
        if worker.ident is None:
            if discard:
                return None     # never started: nothing to remove
            worker.start()
        worker.join()
        if discard and out[0] is not None:
            out[0].discard()
            out[0] = None
        return out[0]
    return result


def _keep_evidence(store: Store, path: Path, label: str, loaded: list[pa.Array],
                   documents: dict[str, tuple[str, str]], load_id: str, report: LoadReport, *,
                   staged: Staged | None = None) -> Path | None:
    """Keep the file read (tables) as evidence and index each loaded invoice to it; e-invoice rows are
    indexed to their own file (kept by :func:`load_inputs`). ``staged``: the file already copied and hashed
    (:func:`_stage_later`). Returns the index file written (None when no invoice was loaded)."""
    from loaders.evidence import Evidence, evidence_dir

    ev = Evidence(evidence_dir(store))
    # the chunks themselves: pa.chunked_array(loaded) would read every key through Python (~0.3 CPU-s per 1M)
    keys = pa.chunked_array([c for a in loaded for c in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])],
                            pa.string())   # not combined: the Parquet writer takes the chunks as they are
    if documents:
        pairs = [documents.get(k, ("", "")) for k in keys.to_pylist()]
        shas = pa.array([p[0] for p in pairs], pa.string())
        names = pa.array([p[1] for p in pairs], pa.string())
    else:
        if not path.is_file():
            return None
        sha = ev.keep(path, staged=staged, meta={"source": label, "size": path.stat().st_size, "kind": "table"})
        # one value for every row: dictionary-encoded, not a million copies of the strings to write and hash again
        # (pa.repeat: 0.10-0.77 CPU-s in a fresh process for 1M rows, against 0.07 for the index written this way)
        same = pa.array(np.zeros(len(keys), np.int32))
        shas = pa.DictionaryArray.from_arrays(same, pa.array([sha], pa.string()))
        names = pa.DictionaryArray.from_arrays(same, pa.array([label], pa.string()))
    written = ev.index(load_id, keys, shas, names)
    report.notes.append(Note("evidence_kept", {"folder": str(ev.root)}))
    return written


Q = TypeVar("Q")


def _put_unless_stopped(q: queue.Queue[Q], item: Q, stop: threading.Event) -> bool:
    """Put ``item`` on a bounded queue, waiting for room; False (not put) once ``stop`` is set, so a producer
    thread never blocks for ever on a consumer that went away."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _prefetch(batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
    """Read the next batch on a helper thread while this one is validated (Arrow readers release the GIL).

    At most one batch waits, so memory stays bounded; a reader error is raised here, in order.
    """
    slot: queue.Queue[tuple[RawBatch | None, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[RawBatch | None, BaseException | None]) -> bool:
        return _put_unless_stopped(slot, item, stop)

    def produce() -> None:
        try:
            for b in batches:
                if not put((b, None)):
                    return
            put((None, None))
        except BaseException as e:
            put((None, e))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="fapiao-reader", daemon=True)
    worker.start()
    try:
        while True:
            batch, error = slot.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
    finally:
        stop.set()
        worker.join(timeout=5)


def default_threads() -> int:
    """Validation threads by default: the CPUs this process may use, at most :data:`MAX_THREADS`."""
    return min(settings.usable_cpus(), MAX_THREADS)


T = TypeVar("T")
R = TypeVar("R")


def _ordered_map(fn: Callable[[T], R], items: Iterator[T], threads: int) -> Generator[tuple[T, R], None, None]:
    """``(item, fn(item))`` in input order, with ``fn`` running on ``threads`` worker threads.

    At most ``threads + 1`` items are taken ahead of the one being handed out, so memory stays bounded. Items are
    taken from ``items`` on a thread of their own, so each is handed out as soon as its ``fn`` is done, never held
    back while the next item is being read (when ``items`` reads a file, the first batch was held until two more had
    been read: ~1 s at the start of a 1M-row load). ``threads <= 1`` runs ``fn`` on the calling thread. An exception
    from ``items`` or ``fn`` is raised here, in order (after the items before it).
    """
    if threads <= 1:
        for item in items:
            yield item, fn(item)
        return
    pool = ThreadPoolExecutor(threads, thread_name_prefix="fapiao-validate")
    window: queue.Queue[tuple[T, Future[R]] | BaseException | None] = queue.Queue(maxsize=threads)
    stop = threading.Event()

    def put(entry: tuple[T, Future[R]] | BaseException | None) -> bool:
        return _put_unless_stopped(window, entry, stop)

    def feed() -> None:
        try:
            for item in items:
                if stop.is_set() or not put((item, pool.submit(fn, item))):
                    return
            put(None)
        except BaseException as e:   # raised to the caller in order
            put(e)

    feeder = threading.Thread(target=feed, name="fapiao-feed", daemon=True)
    feeder.start()
    try:
        while (entry := window.get()) is not None:
            if isinstance(entry, BaseException):
                raise entry
            item, job = entry
            yield item, job.result()
    finally:
        stop.set()
        feeder.join()     # before the caller closes ``items``: it must not be running on the feeder then
        pool.shutdown(wait=True, cancel_futures=True)


def _parse_batch(batch: RawBatch, columns: dict[str, str],
                 validator: InvoiceValidator) -> tuple[pa.Table, list[Issue]] | None:
    """Map one batch to canonical columns and parse it (thread-safe; None for an empty batch)."""
    if batch.table.num_rows == 0:
        return None
    canonical = _canonical(batch.table, columns)
    for c in set(columns.values()) - set(canonical.column_names):   # a later JSON batch may lack a column
        canonical = canonical.append_column(c, pa.array([""] * batch.table.num_rows, pa.string()))
    return validator.parse(canonical)


def _handle_batch(batch: RawBatch, parsed: tuple[pa.Table, list[Issue]] | None, validator: InvoiceValidator,
                  store: Store | None, quarantine: QuarantineWriter, warn: WarningWriter, report: LoadReport,
                  note: Any, loaded: list[pa.Array] | None = None, *, held: list[pa.Table] | None = None,
                  outcomes: Outcomes | None = None, skipped: list[np.ndarray] | None = None,
                  write: Write | None = None, prepare: Prepare | None = None) -> None:
    write = write or _write_now
    if batch.malformed:
        recs = [r for r, _ in batch.malformed]
        reason = describe("bad_value", "(row)", "row cannot be split into the header's cells")
        quarantine.add_text(recs, [t for _, t in batch.malformed], "bad_value", reason)
        report.read += len(recs)
        report.rejected += len(recs)
        note("bad_value", len(recs), f"record {recs[0]}: {batch.malformed[0][1][:60]!r}")
    for rec, text in batch.unreadable:   # e-invoice files that cannot be read: one quarantined row each
        quarantine.add_text([rec], [text], "bad_value", describe("bad_value", "(file)", text))
        report.read += 1
        report.rejected += 1
        note("bad_value", 1, text)
    for rec, text, review in batch.review:   # scanned invoices a person must check first
        quarantine.add_text([rec], [text], "ocr_review", describe("ocr_review", "(file)", text))
        report.read += 1
        report.rejected += 1
        note("ocr_review", 1, text)
        if store is not None:
            write(functools.partial(_write_record, store, REVIEW_KIND, review["sha256"], review))
    if parsed is None:
        return
    outcome = validator.decide(batch.table, parsed[0], parsed[1], first_row=batch.first_row)
    records = np.arange(batch.first_row, batch.first_row + batch.table.num_rows, dtype=np.int64)
    report.read += batch.table.num_rows - outcome.deferred
    _apply(outcome, batch.table, records, store, quarantine, warn, report, note, loaded=loaded, held=held,
           outcomes=outcomes, skipped=skipped, write=write, prepare=prepare)


def _apply(outcome: Any, source: pa.Table, records: np.ndarray, store: Store | None, quarantine: QuarantineWriter,
           warn: WarningWriter, report: LoadReport, note: Any, *, deferred_settle: bool = False,
           loaded: list[pa.Array] | None = None, held: list[pa.Table] | None = None,
           outcomes: Outcomes | None = None, skipped: list[np.ndarray] | None = None,
           write: Write | None = None, prepare: Prepare | None = None) -> None:
    if deferred_settle:
        report.read += source.num_rows
    if skipped is not None and len(outcome.skipped_rows):
        skipped.append(records[outcome.skipped_rows])
    rej = outcome.rejected_rows
    quarantine.add(source, rej, records[rej], outcome.rejected_rules, outcome.rejected_reasons)
    _note_rejections(records[rej], outcome.rejected_rules, note)
    report.rejected += len(rej)
    report.skipped_identical += outcome.skipped_identical
    keys = outcome.keys
    for iss in outcome.warnings:
        recs = records[iss.rows].tolist()
        ks = keys.take(pa.array(iss.rows)).to_pylist() if keys is not None else [""] * len(recs)
        warn.add(recs, ks, iss.rule, iss.field, describe(iss.rule, iss.field, iss.detail))
        report.warnings += len(recs)
        by = recs[:EXAMPLES_PER_RULE]
        note(iss.rule, len(recs), f"record {by[0]}" if by else "")
    report.loaded += outcome.accepted.num_rows
    if loaded is not None and outcome.accepted.num_rows:
        loaded.append(outcome.accepted.column("key"))
    kept = outcome.kept if outcome.kept is not None else np.zeros(0, np.int64)
    if outcomes is not None and keys is not None:
        outcomes.add(keys, kept)
    lines = _document_lines(source, keys, kept, rej, report)
    if store is not None and (outcome.accepted.num_rows or (lines is not None and lines.num_rows)):
        # the held taxpayers file commits with the first invoices
        taxpayers = held.pop() if held else None
        if prepare is not None and outcome.accepted.num_rows:
            ready = prepare(outcome.accepted)   # on this thread, while the writer stores the batch before
            (write or _write_now)(functools.partial(ready.plan.store.write_prepared, ready, taxpayers=taxpayers,
                                                    lines=lines))
        else:
            (write or _write_now)(functools.partial(_write_batch, store, taxpayers, outcome.accepted, lines))


def _write_batch(store: Store, taxpayers: pa.Table | None, invoices: pa.Table, lines: pa.Table | None) -> None:
    """One batch's rows in one store transaction."""
    with store.writer() as w:
        if taxpayers is not None:
            w.taxpayers(taxpayers)
        w.invoices(invoices)
        if lines is not None:
            w.item_lines(lines)


def _write_taxpayers(store: Store, taxpayers: pa.Table) -> None:
    with store.writer() as w:
        w.taxpayers(taxpayers)


def _write_record(store: Store, kind: str, rec_id: str, data: dict[str, Any]) -> None:
    with store.writer() as w:
        w.put_record(kind, rec_id, data)


#: How the load hands over a store write: run it now, or queue it for the writer thread (:class:`_StoreWrites`).
Write = Callable[[Callable[[], None]], None]
#: Makes a batch of accepted rows ready for its store transaction (``EmbeddedStore.bulk_invoices().prepare``).
Prepare = Callable[[pa.Table], "PreparedInvoices"]


def _write_now(job: Callable[[], None]) -> None:
    job()


class _StoreWrites:
    """Store writes run in the order handed over, on one thread of their own (DuckDB and Arrow release the Python
    lock while they work), so a batch is committed while the next ones are read and checked. At most ``depth``
    writes wait, so memory stays bounded. The first error is raised to the loading thread at its next
    :meth:`submit` or at :meth:`close`; writes handed over after a failed one are dropped."""

    def __init__(self, depth: int = 1) -> None:
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="fapiao-store-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job()
                except BaseException as e:   # handed to the loading thread
                    self.error = e

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        self.jobs.put(job)

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for every write handed over; raise the first error (unless ``raise_error`` is False)."""
        if not self.closed:
            self.closed = True
            self.jobs.put(None)
            self.thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def _note_rejections(records: np.ndarray, rules: list[str], note: Any) -> None:
    """``note(rule, rows, "record N")`` for the rejected rows (record numbers, each row's rules joined by ";"):
    per rule its row count and its first :data:`EXAMPLES_PER_RULE` records, rules in order of first row. The same
    calls as one ``note(rule, 1, ...)`` per row and rule, but per distinct rule text instead of per row."""
    first: dict[str, list[int]] = {}    # rules text → its first rows (at most EXAMPLES_PER_RULE)
    counts: Counter[str] = Counter(rules)
    for i, text in enumerate(rules):
        seen = first.setdefault(text, [])
        if len(seen) < EXAMPLES_PER_RULE:
            seen.append(i)
            if len(first) == len(counts) and all(len(v) >= min(EXAMPLES_PER_RULE, counts[t]) for t, v in first.items()):
                break
    per_rule: dict[str, list[int]] = {}
    total: Counter[str] = Counter()
    for text, rows in first.items():
        for rule in text.split(";"):
            if rule:
                per_rule.setdefault(rule, []).extend(rows)
                total[rule] += counts[text]
    order = sorted(per_rule, key=lambda r: min(per_rule[r]))
    for rule in order:
        shown = sorted(per_rule[rule])[:EXAMPLES_PER_RULE]
        for i in shown:
            note(rule, 1, f"record {records[i]}")
        if total[rule] > len(shown):
            note(rule, total[rule] - len(shown), "")


def _document_lines(source: pa.Table, keys: pa.Array | None, kept: np.ndarray, rejected: np.ndarray,
                    report: LoadReport) -> pa.Table | None:
    """The item lines of the kept e-invoice rows (their ``items`` column); lines of rejected rows are counted
    as rejected (they stay in the quarantined row)."""
    from loaders.sources import ITEMS_COLUMN, METHOD_COLUMN, SHA_COLUMN

    if keys is None or not {ITEMS_COLUMN, SHA_COLUMN, METHOD_COLUMN} <= set(source.column_names):   # not e-invoices
        return None
    items = source.column(ITEMS_COLUMN).combine_chunks()
    lines = from_documents(keys.take(pa.array(kept, pa.int64())), items.take(pa.array(kept, pa.int64())))
    dropped = sum(len(json.loads(t or "[]")) for t in items.take(pa.array(rejected, pa.int64())).to_pylist())
    report.item_lines_read += lines.num_rows + dropped
    report.item_lines_loaded += lines.num_rows
    report.item_lines_rejected += dropped
    return lines


def _item_sheets(path: Path) -> list[tuple[str, pa.Table]]:
    """The item sheets (明细) of a workbook; none for other files."""
    from loaders.excel import read_item_sheets
    from loaders.mapping import known_headers
    from loaders.read import detect_format

    try:
        if detect_format(path) != "excel" or path.suffix.lower() == ".gz":
            return []
    except InvalidData:
        return []
    return read_item_sheets(path, known=known_headers())


def _load_item_sheets(sheets: list[tuple[str, pa.Table]], outcomes: Outcomes, store: Store | None, out_dir: Path,
                      report: LoadReport) -> None:
    """Join the item sheets' lines to the invoices by code + number: lines of kept invoices are stored (replacing
    the invoice's earlier lines), the others go to ``item_quarantine.csv`` with the reason."""
    from loaders.excel import SHEET_COLUMN

    headers = [c for _, t in sheets for c in t.column_names if c != "__record__"]
    quarantine = QuarantineWriter(out_dir / "item_quarantine.csv", [*dict.fromkeys(headers), SHEET_COLUMN])
    rules: Counter[str] = Counter()
    stored: list[pa.Table] = []
    for name, table in sheets:
        raw = table.drop_columns(["__record__"])
        raw = raw.append_column(SHEET_COLUMN, pa.array([name] * raw.num_rows, pa.string()))
        records = np.asarray(table.column("__record__").to_numpy(), dtype=np.int64)
        report.item_lines_read += raw.num_rows
        try:
            cols = resolve_columns(raw.column_names, "items", source=name)
        except ConfigError as e:   # a sheet without invoice number / item name columns: every line refused
            every = np.arange(raw.num_rows)
            quarantine.add(raw, every, records, ["missing_field"] * raw.num_rows, [str(e)] * raw.num_rows)
            rules["missing_field"] += raw.num_rows
            report.notes.append(Note("item_sheet_refused", {"sheet": name, "error": str(e)}))
            continue
        t = _canonical(raw, cols)
        n = t.num_rows
        blank = pa.array([""] * n, pa.string())
        keys = item_sheet_keys(t.column("invoice_code") if "invoice_code" in t.column_names else blank,
                               t.column("invoice_number"))
        parsed, problems = parse_lines(keys, item_line_numbers(keys), {c: t.column(c) for c in t.column_names})
        kept, refused = outcomes.verdict(keys)
        why: list[list[str]] = [[] for _ in range(n)]
        codes: list[list[str]] = [[] for _ in range(n)]
        for mask, rule, fld in ((~kept & ~refused, "line_invoice_missing", ""), (refused, "line_invoice_rejected", ""),
                                *((m, "bad_value", f) for f, m in problems)):
            for i in np.flatnonzero(mask).tolist():
                codes[i].append(rule)
                why[i].append(item_reason(rule, fld))
        bad = np.array([bool(c) for c in codes], dtype=np.bool_)
        rows = np.flatnonzero(bad)
        quarantine.add(raw, rows, records[rows], [";".join(dict.fromkeys(codes[i])) for i in rows],
                       [" | ".join(why[i]) for i in rows])
        for i in rows.tolist():
            rules.update(set(codes[i]))
        report.item_lines_rejected += len(rows)
        good = parsed.filter(pa.array(~bad))
        report.item_lines_loaded += good.num_rows
        stored.append(good)
    qp = quarantine.close()
    report.item_quarantine_path = str(qp) if qp else None
    report.item_lines_by_rule = dict(rules)
    if store is not None and stored:
        with store.writer() as w:
            w.item_lines(pa.concat_tables(stored))

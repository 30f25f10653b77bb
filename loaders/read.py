"""Readers: CSV (UTF-8 / BOM / GBK / GB18030, any of , ; tab |), Excel .xlsx, JSON / JSON Lines, Parquet.

Every reader streams :class:`RawBatch` objects whose columns are all text, named by the source
headers, so validation decides what a cell means. Rows that cannot even be split into cells
(wrong cell count, broken JSON) come back in ``RawBatch.malformed`` instead of disappearing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graph.core.errors import ConfigError, InvalidData
from graph.core.notes import Note
from loaders.quotes import has_odd_quote_line, stray_quote_offset
from loaders.utf8scan import scan_started, scan_text_once

BATCH_ROWS = 250_000   # rows per batch: small enough that batches overlap on threads and memory is reused
MIXED = "mixed utf-8/gb18030"   # detect_encoding's answer for files whose lines differ in encoding
SAMPLE_BYTES = 1 << 20
#: Bytes the Arrow CSV reader parses at a time (at least two of the longest line). Smaller blocks stay in the CPU's
#: caches: the generated 1M-row CSV took 1.0-1.8 reader CPU-s at 4 MiB against 1.7-2.1 at 16 MiB (4 runs each,
#: shared machine). Read + parse of that file, 5 runs each alternating in one process (load 11): 4 MiB 2.49 CPU-s
#: (median), 2 MiB 2.16, 1 MiB 2.23 (more chunks per batch: parse gains less).
BLOCK_BYTES = 2 << 20
DELIMITERS = (",", ";", "\t", "|")
#: Given a file's headers, which columns to read dictionary-encoded (low-cardinality text: tax ids, names ...).
DictionaryHint = Callable[[list[str]], Collection[str]]
DICT_TYPE = pa.dictionary(pa.int32(), pa.string())

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel", ".xlsb": "excel",
           ".xls": "excel", ".ods": "excel", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class RawBatch:
    """Text rows from a source: ``table`` (all string columns, source headers), ``first_row`` (1-based
    record number of the table's first row), ``malformed`` ((record number, raw text) of unsplittable rows),
    ``done`` (0..1 progress through the file) and ``notice`` (how the reader worked around damage)."""

    table: pa.Table
    first_row: int
    malformed: list[tuple[int, str]] = field(default_factory=list)
    done: float = 0.0
    notes: list[Note] = field(default_factory=list)   # what the reader found and skipped (header row, 合计 …)
    unreadable: list[tuple[int, str]] = field(default_factory=list)   # (record, "file: why") of refused files
    review: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)   # OCR'd, held: (record, why, rec)


@dataclass(frozen=True)
class SourceInfo:
    """What the reader detected about a file."""

    path: Path
    format: str
    encoding: str | None = None
    delimiter: str | None = None


def detect_format(path: Path) -> str:
    """The reader for ``path`` by extension (``.csv``, ``.xlsx``, ``.json``, ``.jsonl``, ``.parquet`` ...;
    ``.csv.gz`` and the like by the extension under ``.gz``)."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise ConfigError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    return fmt


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def detect_encoding(sample: bytes) -> str:
    """Guess a CSV's encoding from its first bytes: BOMs, then UTF-8, then GB18030 (a superset of GBK)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    if _decodes(sample, "gb18030"):
        return "gb18030"
    lines = sample.split(b"\n")[:-1] or [sample]
    if all(_decodes(line, "utf-8") or _decodes(line, "gb18030") for line in lines):
        return MIXED
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InvalidData("cannot tell the file's text encoding (binary data?); pass --encoding, e.g. --encoding gbk")
    return str(best.encoding)


def detect_delimiter(header_line: str) -> str:
    """The most frequent of , ; tab | in the header line (comma on a tie or none)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _scan(path: Path, encoding: str) -> tuple[bool, int]:
    """One pass over the file: does it all decode as ``encoding``, and how long is the longest line (bytes)?"""
    dec = codecs.getincrementaldecoder(encoding)()
    ok, longest, carry = True, 0, 0
    with path.open("rb") as f:
        while chunk := f.read(16 << 20):
            if ok:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    ok = False
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if len(nl):
                longest = max(longest, carry + int(nl[0]) + 1, int(np.diff(nl).max()) if len(nl) > 1 else 0)
                carry = len(chunk) - int(nl[-1]) - 1
            else:
                carry += len(chunk)
    if ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            ok = False
    return ok, max(longest, carry)


def _transcode_mixed(path: Path, out: Path) -> int:
    """Rewrite a file of mixed UTF-8 / GB18030 lines as UTF-8 (each line decoded on its own); returns the
    number of lines that needed a replacement character."""
    replaced = 0
    with path.open("rb") as src, out.open("wb") as dst:
        for line in src:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    text = line.decode("gb18030")
                except UnicodeDecodeError:
                    text = line.decode("utf-8", errors="replace")
                    replaced += 1
            dst.write(text.encode("utf-8"))
    return replaced


def read_csv(path: Path, *, encoding: str | None = None, batch_rows: int = BATCH_ROWS,
             dictionary: DictionaryHint | None = None) -> Iterator[RawBatch]:
    """Stream a delimited text file as text batches (see module doc)."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if not sample.strip():
        raise InvalidData(f"{path} is empty")
    if b"\x00" in sample[:4096] and sample.count(b"\x00") > len(sample) // 4 and not encoding:
        raise InvalidData(f"{path} looks like binary data, not a text table (pass --encoding if it is UTF-16)")
    enc = encoding or detect_encoding(sample)
    if enc != MIXED:
        try:
            codecs.lookup(enc)
        except LookupError as e:
            raise ConfigError(f"unknown encoding {enc!r}; try utf-8, gbk or gb18030") from e
    scan_enc = "utf-8" if enc == MIXED else enc
    if scan_enc in ("utf-8", "utf-8-sig") and enc != MIXED and scan_started(path):
        yield from _read_csv_ahead(path, enc, batch_rows, dictionary, encoding)
        return
    odd_quotes: bool | None = None   # known from the UTF-8 pass; other encodings ask has_odd_quote_line
    if scan_enc in ("utf-8", "utf-8-sig"):
        all_ok, longest, odd_quotes = scan_text_once(path)
    else:
        all_ok, longest = _scan(path, scan_enc)
    yield from _read_csv_scanned(path, enc, batch_rows, dictionary, encoding, (all_ok, longest, odd_quotes))


def _read_csv_scanned(path: Path, enc: str, batch_rows: int, dictionary: DictionaryHint | None, encoding: str | None,
                      scanned: tuple[bool, int, bool | None]) -> Iterator[RawBatch]:
    """:func:`read_csv` once the pre-scan answered ``scanned`` = (all text valid, longest line, odd quotes)."""
    all_ok, longest, odd_quotes = scanned
    all_ok &= enc != MIXED
    tmp: tempfile.TemporaryDirectory[str] | None = None
    source = path
    if not all_ok:
        if encoding:
            raise InvalidData(f"{path} is not valid {encoding} throughout; check --encoding")
        tmp = tempfile.TemporaryDirectory(prefix="fapiao-utf8-")
        source = Path(tmp.name) / "utf8.csv"
        _transcode_mixed(path, source)
        enc = "utf-8"
    try:
        yield from _read_csv_arrow(source, enc, longest, batch_rows, dictionary,
                                   odd_quotes=odd_quotes if source is path else None,
                                   utf8_checked=all_ok and source is path and enc in ("utf-8", "utf-8-sig"))
    finally:
        if tmp is not None:
            tmp.cleanup()


def _read_csv_ahead(path: Path, enc: str, batch_rows: int, dictionary: DictionaryHint | None,
                    encoding: str | None) -> Iterator[RawBatch]:
    """:func:`read_csv` of a UTF-8 file whose pre-scan runs on another thread (:func:`scan_early`): the first batch is
    read while the scan finishes, as for the common answer (all UTF-8, no line longer than a block allows, no line
    with an odd number of quotes), and handed on only once the scan gave that answer. Any other answer, or an error
    in that first read, and the file is read again from the start the ordinary way: nothing read ahead is used."""
    # read as for a file the scan finds all UTF-8 (Arrow's own check left out): used only if the scan says so
    ahead = _read_csv_arrow(path, enc, 0, batch_rows, dictionary, odd_quotes=False, utf8_checked=True)
    first: RawBatch | None = None
    try:
        first = next(ahead)
        ok = True
    except (InvalidData, OSError, StopIteration):   # read again below, where the error is raised for real
        ok = False
    all_ok, longest, odd_quotes = scan_text_once(path)
    if ok and first is not None and all_ok and not odd_quotes and 2 * longest + (1 << 20) <= BLOCK_BYTES:
        yield first
        yield from ahead
        return
    ahead.close()
    yield from _read_csv_scanned(path, enc, batch_rows, dictionary, encoding, (all_ok, longest, odd_quotes))


def _read_csv_arrow(path: Path, enc: str, longest: int, batch_rows: int, dictionary: DictionaryHint | None,
                    odd_quotes: bool | None = None, utf8_checked: bool = False) -> Generator[RawBatch, None, None]:
    """The batches of a delimited file, read by Arrow. ``utf8_checked``: the pre-scan found the whole file strict UTF-8,
    so every cell is (cells are split at ASCII bytes, never inside a character) and Arrow's own UTF-8 check of every
    string cell is left out (~0.1-0.15 CPU-s per 1M rows, 270 MB)."""
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES).decode(enc, errors="replace")
        if "\n" not in head and "\r" not in head:   # a header longer than the sample: read all of it
            f.seek(0)
            head = f.readline().decode(enc, errors="replace")
    # CR-only line ends count as line ends (as Arrow reads them)
    lines_to_skip, delim, header, skipped = _csv_header(re.sub(r"\r\n?", "\n", head.lstrip("\ufeff")))
    header = [" ".join(h.split()) or f"column_{i + 1}" for i, h in enumerate(header)]
    seen = Counter(header)   # linear: a header of a million cells must not take minutes
    if len(seen) != len(header):
        dupes = sorted(h for h, n in seen.items() if n > 1)
        shown = ", ".join(dupes[:10]) + (f" and {len(dupes) - 10} more" if len(dupes) > 10 else "")
        raise InvalidData(f"{path.name}: header repeats column name(s) {shown}")
    malformed: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:   # the whole row is kept: the quarantine must lose nothing
        malformed.append((int(row.number) if row.number and row.number > 0 else -1, str(row.text)))
        return "skip"

    read_opts = pacsv.ReadOptions(
        encoding="utf8" if enc in ("utf-8", "utf-8-sig") else enc,
        block_size=max(BLOCK_BYTES, 2 * longest + (1 << 20)), column_names=header, skip_rows=lines_to_skip,
        use_threads=True)
    parse_opts = pacsv.ParseOptions(delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid)
    dict_cols = set(dictionary(header)) if dictionary else set()
    types = {h: DICT_TYPE if h in dict_cols else pa.string() for h in header}
    conv_opts = pacsv.ConvertOptions(column_types=types, check_utf8=not utf8_checked,
                                     strings_can_be_null=False, quoted_strings_can_be_null=False)
    size = max(path.stat().st_size, 1)
    row_bytes = max(len(head.encode(enc, errors="replace")) / max(head.count("\n"), 1), 1.0)
    row = 1
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    parts: list[tuple[Any, pacsv.ReadOptions, pacsv.ParseOptions]] = [(path, read_opts, parse_opts)]
    if odd_quotes is None:
        odd_quotes = not enc.startswith("utf-16") and has_odd_quote_line(path)
    stray = stray_quote_offset(path, enc, delim, len(header)) if odd_quotes else None
    if stray is not None and stray[1] > lines_to_skip:   # rows before the stray quote keep quote semantics; from its line on, none
        data = pa.memory_map(str(path)).read_buffer()
        parts = [(pa.BufferReader(data.slice(0, stray[0])), read_opts, parse_opts),
                 (pa.BufferReader(data.slice(stray[0])),
                  pacsv.ReadOptions(encoding=read_opts.encoding, block_size=read_opts.block_size,
                                    column_names=header, use_threads=True),
                  pacsv.ParseOptions(delimiter=delim, quote_char=False, invalid_row_handler=on_invalid))]
        skipped = [*skipped, Note("stray_quote", {"line": stray[1]})]
    try:
        for source, r_opts, p_opts in parts:
            reader = pacsv.open_csv(source, read_options=r_opts, parse_options=p_opts, convert_options=conv_opts)
            for batch in reader:
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= batch_rows:
                    table = pa.Table.from_batches(pending)
                    done = min((row + table.num_rows) * row_bytes / size, 0.99)
                    yield RawBatch(table, row, list(malformed), done, skipped)
                    skipped = []
                    malformed.clear()
                    row += table.num_rows
                    pending, pending_rows = [], 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise InvalidData(f"{path.name}: cannot read as a table ({one_line(e, path)})") from e
    table = pa.Table.from_batches(pending, schema=pa.schema([(h, types[h]) for h in header]))
    yield RawBatch(table, row, list(malformed), 1.0, skipped)


def _csv_header(head: str) -> tuple[int, str, list[str], list[Note]]:
    """(physical lines up to the header, delimiter, header cells, notes) from the start of a delimited
    file: the header is the row that names the most known columns, for the delimiter that finds the
    best one (title, blank and note lines above it are skipped and noted). Quoted line breaks count."""
    from loaders.headers import HEADER_SEARCH_ROWS, describe_skipped, find_header_row, header_score
    from loaders.mapping import known_headers

    known = known_headers()
    best: tuple[int, int, str, list[list[str]], list[int]] | None = None
    for delim in DELIMITERS:
        reader = csv.reader(io.StringIO(head), delimiter=delim)
        rows: list[list[str]] = []
        ends: list[int] = []   # physical lines read after each row
        try:
            for cells in reader:
                rows.append(cells)
                ends.append(reader.line_num)
                if len(rows) >= HEADER_SEARCH_ROWS:
                    break
        except csv.Error:
            pass
        if not rows:
            continue
        at = find_header_row(rows, known)
        score = header_score(rows[at], known)
        if best is None or score > best[0]:
            best = (score, at, delim, rows, ends)
    if best is None or best[0] == 0:   # nothing recognised: the first line is the header, as always
        first_line = head.split("\n", 1)[0]
        delim = detect_delimiter(first_line)
        return 1, delim, next(csv.reader([first_line], delimiter=delim), []), []
    _, at, delim, rows, ends = best
    notes = [describe_skipped(rows, at)] if at else []
    return ends[at], delim, rows[at], notes


def read_excel(path: Path, *, sheet: str | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[RawBatch]:
    """Every invoice sheet of a workbook (or ``sheet``) as text batches (see :mod:`loaders.excel`)."""
    from loaders.excel import iter_spreadsheet
    from loaders.mapping import known_headers, resolve_columns

    def holds_invoices(header: list[str]) -> bool:
        try:
            resolve_columns(header, "invoices")
        except ConfigError:
            return False
        return True

    for table, first, notes in iter_spreadsheet(path, sheet=sheet, known=known_headers(),
                                                holds_invoices=holds_invoices, batch_rows=batch_rows):
        yield RawBatch(table, first, [], min((first + table.num_rows) / max(first + table.num_rows, 1), 1.0), notes)


def _records_to_batch(records: list[Any], start: int, done: float) -> RawBatch:
    header: dict[str, None] = {}
    good: list[dict[str, Any]] = []
    malformed: list[tuple[int, str]] = []
    for i, rec in enumerate(records):
        if isinstance(rec, dict):
            good.append(rec)
            header.update(dict.fromkeys(str(k) for k in rec))
        else:
            malformed.append((start + i, json.dumps(rec, ensure_ascii=False)))
    cols = list(header)
    table = pa.table({c: pa.array([_json_cell(r.get(c)) for r in good], pa.string()) for c in cols})
    return RawBatch(table, start, malformed, done)


def _json_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def read_json(path: Path, *, encoding: str | None = None, batch_rows: int = 200_000) -> Iterator[RawBatch]:
    """A JSON array of objects (read whole) or JSON Lines (streamed), as text batches.

    Note: malformed rows come before good ones in record numbering only for JSON Lines; a JSON array
    either parses or is rejected as a whole.
    """
    enc = encoding or "utf-8-sig"
    with path.open("rb") as f:
        start = f.read(SAMPLE_BYTES).lstrip(codecs.BOM_UTF8).lstrip()
    if start.startswith(b"["):
        try:
            data = json.loads(path.read_text(encoding=enc))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidData(f"{path}: not valid JSON ({e})") from e
        for i in range(0, max(len(data), 1), batch_rows):
            yield _records_to_batch(data[i:i + batch_rows], i + 1, min((i + batch_rows) / max(len(data), 1), 1.0))
        return
    yield from read_jsonl(path, encoding=enc, batch_rows=batch_rows)


def read_jsonl(path: Path, *, encoding: str | None = None, batch_rows: int = 200_000) -> Iterator[RawBatch]:
    """JSON Lines: one object per line; a line that is not an object is reported as malformed."""
    size = max(path.stat().st_size, 1)
    records: list[Any] = []
    bad: list[tuple[int, str]] = []
    row = 1
    n = 0
    with path.open("rb") as f:
        for raw in f:
            text = raw.decode(encoding or "utf-8", errors="replace").strip().lstrip("\ufeff")
            if not text:
                continue
            n += 1
            try:
                records.append(json.loads(text))
            except (json.JSONDecodeError, RecursionError):   # one bad line is one malformed row
                records.append(_Broken(text))
            if len(records) >= batch_rows:
                yield _split_broken(records, row, f.tell() / size, bad)
                row += len(records)
                records = []
    yield _split_broken(records, row, 1.0, bad)


@dataclass
class _Broken:
    text: str


def _split_broken(records: list[Any], start: int, done: float, bad: list[tuple[int, str]]) -> RawBatch:
    """Number records before dropping broken ones so record numbers stay true to the file."""
    good: list[Any] = []
    malformed: list[tuple[int, str]] = []
    for i, rec in enumerate(records):
        if isinstance(rec, _Broken):
            malformed.append((start + i, rec.text))
        else:
            good.append(rec)
    batch = _records_to_batch(good, start, done)
    batch.malformed = malformed + batch.malformed
    return batch


def read_parquet(path: Path, *, batch_rows: int = BATCH_ROWS,
                 dictionary: DictionaryHint | None = None) -> Iterator[RawBatch]:
    """Stream a Parquet file's row groups as text batches (typed columns are cast to text)."""
    try:
        pf = pq.ParquetFile(path)
        if dictionary is not None:
            schema = pf.schema_arrow
            wanted = set(dictionary(list(schema.names)))
            text = [f.name for f in schema if f.name in wanted and pa.types.is_string(f.type)]
            if text:
                pf = pq.ParquetFile(path, read_dictionary=text)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidData(f"{path} is not a readable Parquet file ({e})") from e
    total = max(pf.metadata.num_rows, 1)
    row = 1
    pending: list[pa.Table] = []

    def flush() -> RawBatch:
        table = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        return RawBatch(table, row, [], min((row + table.num_rows) / total, 1.0))

    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            cols = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                keep = pa.types.is_string(col.type) or col.type == DICT_TYPE
                cols[name] = col if keep else col.cast(pa.string())
            pending.append(pa.table(cols))
            if sum(t.num_rows for t in pending) >= batch_rows:   # row groups are merged into big batches
                out = flush()
                yield out
                row += out.table.num_rows
        if pending:
            yield flush()
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidData(f"{path}: Parquet data is damaged after record {row - 1} ({e})") from e


def read_batches(path: Path, *, encoding: str | None = None, sheet: str | None = None,
                 batch_rows: int = BATCH_ROWS, dictionary: DictionaryHint | None = None) -> Iterator[RawBatch]:
    """Stream any supported file as :class:`RawBatch` text batches (format chosen by extension).

    ``dictionary`` names, from the headers, columns to read dictionary-encoded (CSV and Parquet only):
    the validator then checks each distinct value once. A ``.gz`` file is decompressed first (see
    :func:`loaders.archive.gunzip`); a trailing 合计 / 总计 row is dropped and noted.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    detect_format(path)
    if path.suffix.lower() == ".gz":
        return _gunzipped(path, encoding=encoding, sheet=sheet, batch_rows=batch_rows, dictionary=dictionary)
    return drop_summary_rows(_read_plain(path, encoding=encoding, sheet=sheet, batch_rows=batch_rows,
                                         dictionary=dictionary))


def _read_plain(path: Path, *, encoding: str | None, sheet: str | None, batch_rows: int,
                dictionary: DictionaryHint | None) -> Iterator[RawBatch]:
    fmt = detect_format(path)
    if fmt == "csv":
        batches = read_csv(path, encoding=encoding, batch_rows=batch_rows, dictionary=dictionary)
    elif fmt == "excel":
        batches = read_excel(path, sheet=sheet)
    elif fmt in ("json", "jsonl"):
        batches = read_json(path, encoding=encoding)
    else:
        batches = read_parquet(path, batch_rows=batch_rows, dictionary=dictionary)
    return _one_line_errors(path, batches)


#: What a damaged or hostile file can make a parser raise; each becomes one InvalidData line.
PARSER_ERRORS = (ValueError, TypeError, KeyError, IndexError, csv.Error, ParseError, zipfile.BadZipFile,
                 pa.ArrowException, OSError, EOFError)


def _one_line_errors(path: Path, batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
    """Pass ``batches`` through; a parser error becomes one line naming the file (never its folder)."""
    try:
        yield from batches
    except (InvalidData, ConfigError) as e:
        text = " ".join(str(e).replace(str(path.parent) + "/", "").split())
        if text == str(e):
            raise
        raise type(e)(text) from e
    except RecursionError as e:
        raise InvalidData(f"{path.name}: nested too deeply to be a table of invoices") from e
    except PARSER_ERRORS as e:
        raise InvalidData(f"{path.name}: cannot read as a table ({one_line(e, path)})") from e


def one_line(error: BaseException, path: Path | None = None) -> str:
    """The first line of ``error``'s message, with ``path``'s folder left out."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if path is not None:
        text = text.replace(str(path.parent) + "/", "").replace(str(path.parent), "")
    return text or type(error).__name__


def _gunzipped(path: Path, **kw: Any) -> Iterator[RawBatch]:
    from loaders.archive import gunzip

    with tempfile.TemporaryDirectory(prefix="fapiao-gz-") as tmp:
        inner = gunzip(path, Path(tmp))
        yield from read_batches(inner, **kw)


def _summary_tail(table: pa.Table) -> int:
    """How many rows at the end of ``table`` are 合计 / 总计 rows."""
    from loaders.headers import is_summary_row

    n = 0
    while n < min(table.num_rows, 3):
        row = table.slice(table.num_rows - n - 1, 1).to_pylist()[0]
        if not is_summary_row([str(v) if v is not None else "" for v in row.values()]):
            break
        n += 1
    return n


def drop_summary_rows(batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
    """The batches with trailing 合计 / 总计 rows removed (and noted); a total row with fewer cells than
    the header (malformed) is dropped too. A batch that does not end in such a row is handed on at once; one that
    does is held back until the next non-empty batch shows whether it is the last (only the last is trimmed)."""
    held: RawBatch | None = None
    for batch in batches:
        if held is not None:
            if batch.table.num_rows == 0 and not batch.malformed:   # keep holding the one that may end in 合计
                held.notes += batch.notes
                held.done = batch.done
                continue
            yield held
            held = None
        if _summary_cut(batch) == (0, []):   # nothing to trim, last or not: no need to wait for the next batch
            yield batch
        else:
            held = batch
    if held is not None:
        yield _trim(held)


def _summary_cut(batch: RawBatch) -> tuple[int, list[tuple[int, str]]]:
    """What trimming ``batch`` as the last one would drop: its trailing 合计 rows, or else its last malformed line
    when that is a total row."""
    from loaders.headers import is_summary_row

    n = _summary_tail(batch.table)
    if n:
        return n, []
    last = max(batch.malformed, default=None)
    return 0, [last] if last is not None and is_summary_row(re.split(r"[,;\t|]", last[1].replace('"', ""))) else []


def _trim(batch: RawBatch) -> RawBatch:
    n, totals = _summary_cut(batch)
    if not n and not totals:
        return batch
    batch.malformed = [m for m in batch.malformed if m not in totals]
    kept = batch.table.slice(0, batch.table.num_rows - n)
    shown = [str(v) for v in batch.table.slice(kept.num_rows, 1).to_pylist()[0].values() if v] if n else [totals[0][1]]
    batch.notes = [*batch.notes, Note("total_rows_skipped", {"rows": n + len(totals), "shown": " ".join(shown)[:60]})]
    batch.table = kept
    return batch


def read_all(path: Path, **kw: Any) -> pa.Table:
    """The whole file as one text table (small files: taxpayers, tests). Malformed rows raise InvalidData."""
    tables = []
    for b in read_batches(path, **kw):
        if b.malformed:
            raise InvalidData(f"{path}: record {b.malformed[0][0]} cannot be split into cells: {b.malformed[0][1][:80]!r}")
        tables.append(b.table)
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def text_of(table: pa.Table) -> str:
    """A small table as CSV text (debugging aid)."""
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue().decode()

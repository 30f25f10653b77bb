"""What one ``fapiao load`` argument holds: a table file, an e-invoice file, a folder or a zip of either.

:func:`plan` sorts the inputs into tables (each loaded on its own, named in the report) and invoice
documents (XML, OFD, PDF, images; all read into one batch, one row per file), and lists what was
refused (unsafe zip members, unknown types). :func:`read_documents` turns documents into a
:class:`RawBatch` under the interchange column names, so every rule and the quarantine apply as for
any other row; a file that cannot be read becomes a quarantined row naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from graph.core.errors import ConfigError, InvalidData
from graph.core.notes import Note
from loaders.archive import unzip
from loaders.einvoice import Document
from loaders.read import FORMATS, RawBatch

DOCUMENT_TYPES = {".xml": "xml", ".ofd": "ofd", ".pdf": "pdf", ".png": "image", ".jpg": "image",
                  ".jpeg": "image", ".tif": "image", ".tiff": "image", ".bmp": "image"}
#: Extra columns of a document row (kept in the quarantine; the evidence index uses them).
FILE_COLUMN, SHA_COLUMN, ITEMS_COLUMN, METHOD_COLUMN, CONF_COLUMN = "文件", "sha256", "items", "method", "confidence"
DOC_FIELDS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
              "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate", "invoice_type", "status", "red_ref",
              "item_code", "item_name")
#: Largest single document file read (an invoice PDF is ~100 KB; a phone photo a few MB).
MAX_DOCUMENT_BYTES = 50 << 20


def is_document(path: Path) -> bool:
    return path.suffix.lower() in DOCUMENT_TYPES


def is_table(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    return suffix in FORMATS


def is_container(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".zip"


@dataclass
class Plan:
    """Inputs sorted by how they load: (display name, path) pairs, and (display name, reason) refusals."""

    tables: list[tuple[str, Path]] = field(default_factory=list)
    documents: list[tuple[str, Path]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def plan(path: Path, tmp: Path) -> Plan:
    """Sort ``path`` (a file, folder or .zip; zips inside folders and zips are opened too, one level)
    into a :class:`Plan`. Zip members are unpacked under ``tmp``."""
    out = Plan()
    if not path.exists():
        raise ConfigError(f"no such file or folder: {path}")
    if path.is_dir():
        entries = [(str(p.relative_to(path)), p) for p in sorted(path.rglob("*")) if p.is_file()]
        if not entries:
            raise InvalidData(f"{path}: the folder holds no files")
    elif path.suffix.lower() == ".zip":
        entries = _unzipped(path, path.name, tmp, out)
    else:
        entries = [(path.name, path)]
    for name, p in entries:
        if p.suffix.lower() == ".zip" and path.is_dir():
            for inner, q in _unzipped(p, name, tmp / f"zip{len(out.tables) + len(out.documents)}", out):
                _sort(inner, q, out)
        else:
            _sort(name, p, out)
    return out


def _unzipped(path: Path, label: str, tmp: Path, out: Plan) -> list[tuple[str, Path]]:
    tmp.mkdir(parents=True, exist_ok=True)
    entries = []
    for m in unzip(path, tmp):
        if m.path is None:
            out.refused.append((f"{label}:{m.name}", m.error))
        else:
            entries.append((f"{label}:{m.name}", m.path))
    return entries


def _sort(name: str, p: Path, out: Plan) -> None:
    if p.name.startswith(".") or p.name.startswith("~$"):
        return   # hidden files and Office lock files
    if is_document(p):
        out.documents.append((name, p))
    elif is_table(p):
        out.tables.append((name, p))
    else:
        out.refused.append((name, f"unknown file type {p.suffix or '(none)'!r}; not an invoice table or e-invoice"))


def read_document(data: bytes, name: str, *, ocr: bool = True) -> Document:
    """One e-invoice file → :class:`loaders.einvoice.Document`; raises InvalidData (ConfigError when OCR
    is needed and not installed)."""
    from loaders import einvoice

    kind = DOCUMENT_TYPES.get(Path(name.rsplit(":", 1)[-1]).suffix.lower())
    if kind == "xml":
        return einvoice.parse_einvoice_xml(data, name)
    if kind == "ofd":
        return einvoice.parse_ofd(data, name)
    if kind == "pdf":
        try:
            return einvoice.parse_pdf(data, name)
        except einvoice.NoTextLayer:
            if not ocr:
                raise
            from loaders.ocr import ocr_pdf

            return ocr_pdf(data, name)
    if kind == "image":
        if not ocr:
            raise InvalidData(f"{name}: an image needs OCR")
        from loaders.ocr import ocr_image

        return ocr_image(data, name)
    raise InvalidData(f"{name}: not an e-invoice file type")


OnRead = Callable[[str, Path, str, dict[str, Any]], None]


def read_documents(items: list[tuple[str, Path]], refused: Sequence[tuple[str, str]] = (),
                   *, ocr: bool = True, on_read: OnRead | None = None) -> Iterator[RawBatch]:
    """One batch: a row per readable document (interchange columns + file name, SHA-256, item lines as
    JSON, read method), then the unreadable ones and ``refused`` as ``unreadable`` entries naming the file.
    ``on_read(name, path, sha256, what was read)`` is called for each readable file (to keep it as evidence)."""
    rows: list[dict[str, str]] = []
    bad: list[tuple[str, str]] = list(refused)
    held: list[tuple[str, dict[str, str], dict[str, str]]] = []
    for name, path in items:
        try:
            size = path.stat().st_size
            if size > MAX_DOCUMENT_BYTES:
                raise InvalidData(f"{name}: {size:,} bytes is more than an invoice file holds; refused")
            data = path.read_bytes()
            doc = read_document(data, name, ocr=ocr)
        except (InvalidData, ConfigError) as e:
            bad.append((name, str(e)))
            continue
        except OSError as e:
            bad.append((name, f"cannot read the file ({e})"))
            continue
        row = {c: str(doc.fields.get(c, "") or "") for c in DOC_FIELDS}
        row[FILE_COLUMN] = name
        row[SHA_COLUMN] = hashlib.sha256(data).hexdigest()
        row[ITEMS_COLUMN] = json.dumps(doc.items, ensure_ascii=False)
        row[METHOD_COLUMN] = doc.method
        row[CONF_COLUMN] = json.dumps(doc.confidence) if doc.confidence else ""
        if on_read is not None:
            on_read(name, path, row[SHA_COLUMN], {"kind": doc.method, "fields": doc.fields, "items": doc.items,
                                                  "confidence": doc.confidence, "boxes": doc.boxes,
                                                  "size": list(doc.size)})
        if doc.method == "ocr":
            from loaders.ocr import needs_review

            why = needs_review(row, doc.confidence)
            if why:   # nothing OCR'd loads unreviewed unless every field passed
                held.append((name, row, why))
                continue
        rows.append(row)
    cols = [*DOC_FIELDS, FILE_COLUMN, SHA_COLUMN, ITEMS_COLUMN, METHOD_COLUMN, CONF_COLUMN]
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in cols})
    n = len(rows)
    # the reader's messages mostly start with the file's name already; say it once
    unreadable = [(n + i + 1, reason if reason.startswith(f"{name}: ") else f"{name}: {reason}")
                  for i, (name, reason) in enumerate(bad)]
    review = [(n + len(bad) + i + 1, f"{name}: " + "; ".join(f"{f} {w}" for f, w in why.items()),
               {"file": name, "sha256": row[SHA_COLUMN], "fields": {c: row[c] for c in DOC_FIELDS}, "why": why,
                "confidence": json.loads(row[CONF_COLUMN] or "{}"), "items": json.loads(row[ITEMS_COLUMN] or "[]"),
                "status": "open"})
              for i, (name, row, why) in enumerate(held)]
    # files read: those loaded and those held for review (a held scan was read; it waits for a person)
    notes = [Note("einvoice_files_read", {"read": n + len(held), "refused": len(bad)})] if items or bad else []
    if held:
        notes.append(Note("scans_held", {"count": len(held)}))
    yield RawBatch(table, 1, [], 1.0, notes, unreadable, review)

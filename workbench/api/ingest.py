"""``POST /invoices``: a batch (JSON rows or an uploaded file) goes through the same loader as ``fapiao load``:
the same rules, quarantine file and report; re-sending a batch changes nothing (idempotent upserts). JSON rows
(and Arrow / Parquet bodies) are handed to the loader as in-memory text columns, several waiting batches at
once (:mod:`.group_commit`); files and CSV bodies are loaded alone, from the file as received."""

from __future__ import annotations

import csv
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.core.errors import ConfigError, InvalidData
from graph.store import Store
from loaders.load import LoadReport, default_report_dir, load_files
from loaders.read import FORMATS, read_all
from workbench.api.problems import Problem

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


def check_filename(name: str | None) -> str:
    """The upload's file type (its suffix), refusing names that try to leave a folder."""
    if not name:
        raise Problem(400, "the uploaded file needs a file name ending in one of " + ", ".join(sorted(FORMATS)))
    if not _SAFE_NAME.match(name) or name in (".", "..") or ".." in name.replace("\\", "/").split("/") \
            or name.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", name):
        raise Problem(400, f"file name {name[:80]!r} is not allowed: give a plain name without folders, "
                           "'..' or control characters")
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise Problem(415, f"file type {suffix or '(none)'!r} is not supported; use one of {', '.join(sorted(FORMATS))}")
    return suffix


def batch_dir(store: Store) -> Path:
    """A new folder under the workspace's ``loads/`` for one API batch (its name is the batch's ``load_id``)."""
    d = default_report_dir(store)
    return d.with_name(f"{d.name}-api-{secrets.token_hex(4)}")


def _rejections(report: LoadReport) -> list[dict[str, Any]]:
    if not report.quarantine_path:
        return []
    with open(report.quarantine_path, encoding="utf-8-sig", newline="") as f:
        return [{"record": int(row["record"]), "rules": [r for r in row["rules"].split(";") if r],
                 "reason": row["reasons"]} for row in csv.DictReader(f)]


def summary(report: LoadReport, load_id: str) -> dict[str, Any]:
    return {"load_id": load_id, "read": report.read, "loaded": report.loaded, "rejected": report.rejected,
            "skipped_identical": report.skipped_identical, "warnings": report.warnings,
            "by_rule": report.by_rule, "rejections": _rejections(report)}


def _load(store: Store, path: Path, out: Path, max_rows: int, shown: str, rows: int | None = None) -> dict[str, Any]:
    try:
        if rows is None:
            rows = read_all(path).num_rows
        if rows > max_rows:
            raise Problem(413, f"{rows:,} rows in one batch; at most {max_rows:,} (FAPIAO_API_MAX_ROWS): split it; "
                               "nothing was stored")
        report = load_files(store, path, report_dir=out, threads=1)
    except (InvalidData, ConfigError) as e:    # unreadable file, missing columns: the batch is refused whole
        detail = str(e).replace(str(path), shown).replace(path.name, shown)
        raise Problem(422, f"{detail}; nothing was stored") from e
    path.unlink(missing_ok=True)      # the quarantine keeps every rejected row's original values
    return summary(report, out.name)


def columnar_body(data: bytes, media_type: str) -> pa.Table:
    """An Arrow IPC stream or Parquet body as text columns with the API's field names (InvoiceIn): unreadable
    → 400, another column → 422; typed columns are cast to text as the loader does for a Parquet file."""
    from workbench.api.models import InvoiceIn, max_lengths, text_table

    kind = "Arrow IPC stream" if media_type == ARROW else "Parquet file"
    try:
        table = pa.ipc.open_stream(data).read_all() if media_type == ARROW else pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        raise Problem(400, f"the body is not a readable {kind} ({str(e)[:200]}); nothing was stored") from e
    unknown = [c for c in table.column_names if c not in InvoiceIn.model_fields]
    if unknown or len(set(table.column_names)) != len(table.column_names):
        raise Problem(422, f"columns {unknown or table.column_names} are not fields of an invoice "
                           f"({', '.join(InvoiceIn.model_fields)}); nothing was stored")
    columns: dict[str, pa.Array] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            text = column.combine_chunks()
            text = text if pa.types.is_string(text.type) else pc.cast(text, pa.string())
        except (pa.ArrowException, ValueError) as e:
            raise Problem(422, f"column {name!r} cannot be read as text ({str(e)[:200]}); nothing was stored") from e
        longest = max_lengths().get(name)
        if longest is not None and len(text) and (pc.max(pc.utf8_length(text)).as_py() or 0) > longest:
            raise Problem(422, f"column {name!r} has values longer than {longest} characters; nothing was stored")
        if text.null_count < len(text):
            columns[name] = text
    return text_table(columns, table.num_rows)


def ingest_file(store: Store, data: bytes, filename: str | None, max_rows: int) -> dict[str, Any]:
    """Load one uploaded file (CSV, Excel, JSON, JSON Lines, Parquet) through ``loaders.load``."""
    suffix = check_filename(filename)
    out = batch_dir(store)
    out.mkdir(parents=True)
    path = out / f"upload{suffix}"       # never the client's name: it only picks the reader
    path.write_bytes(data)
    try:
        return _load(store, path, out, max_rows, f"file {filename!r}")
    except BaseException:
        if not any(p.name != path.name for p in out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        raise

"""``POST /invoices``: a batch (JSON rows or an uploaded file) goes through the same loader as ``fapiao load``:
the same rules, quarantine file and report; re-sending a batch changes nothing (idempotent upserts). JSON rows
are handed over as a Parquet file of text columns, several waiting batches at once (:mod:`.group_commit`)."""

from __future__ import annotations

import csv
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from graph.core.errors import ConfigError, InvalidData
from graph.store import Store
from loaders.load import LoadReport, default_report_dir, load_files
from loaders.read import FORMATS, read_all
from workbench.api.problems import Problem

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


def text(value: Any) -> str:
    """A JSON value as the text the loader reads (as loaders.read does for JSON files)."""
    return "" if value is None else str(value)


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

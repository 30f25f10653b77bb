"""The original is evidence: every file a load reads is kept, content-addressed by SHA-256, and each
loaded invoice is indexed to the file it came from.

Layout under the evidence folder (``FAPIAO_EVIDENCE``, default ``<workspace>/evidence``)::

    files/ab/abcdef…            the original bytes (named by their SHA-256; stored once)
    files/ab/abcdef….json       what was read from it: name, size, kind, fields, item lines (e-invoices)
    index/<load>.parquet        invoice key → sha256, source name, for the invoices that load loaded
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from graph.core import settings
from graph.store import Store

INDEX_SCHEMA = pa.schema([("key", pa.string()), ("sha256", pa.string()), ("source", pa.string())])


def evidence_dir(store: Store | None) -> Path:
    """The evidence folder for ``store`` (``FAPIAO_EVIDENCE``, else next to the workspace, else ./evidence)."""
    configured = settings.get("FAPIAO_EVIDENCE")
    if configured:
        return Path(configured)
    uri = getattr(store, "uri", "") or ""
    if uri.startswith("embedded:"):
        return Path(uri.removeprefix("embedded:")) / "evidence"
    path = getattr(store, "path", None)
    if isinstance(path, str | Path):
        return Path(path) / "evidence"
    return Path.cwd() / "evidence"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Staged:
    """A copy of an original made before it is known whether it will be kept: the copied bytes and their SHA-256
    (:meth:`Evidence.stage`, :meth:`Evidence.stage_bytes`); :meth:`Evidence.keep` puts it in place, :meth:`discard` removes it."""

    def __init__(self, path: Path, sha: str) -> None:
        self.path = path
        self.sha = sha

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class Evidence:
    """Content-addressed originals and the invoice → original index of one evidence folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, sha: str) -> Path:
        return self.root / "files" / sha[:2] / sha

    def stage(self, source: Path) -> Staged:
        """Copy ``source`` into the evidence folder under a temporary name and hash the copy (the SHA-256 is that of
        the bytes stored, even if the file changes meanwhile). For a load that keeps the file only if it completes:
        :meth:`keep` with ``staged=`` then only renames it. The copy runs in the kernel (``sendfile``) and file reads
        and hashlib release the Python lock, so this runs beside the load on a thread. Copying in the kernel and then
        hashing the copy took 0.26-0.33 CPU-s for a 270 MB file, against 0.27-0.88 for hashing while copying through
        a buffer (4 runs each, alternating, load ~7)."""
        tmp = self._staging_path()
        try:
            shutil.copyfile(source, tmp)
            return Staged(tmp, sha256_file(tmp))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def stage_bytes(self, data: bytes, sha: str | None = None) -> Staged | None:
        """:meth:`stage` for an original received in memory (an API request body): written under the same kind of
        temporary name, for :meth:`keep` with ``staged=`` to rename into place once its load is stored. ``sha``:
        its SHA-256 when the caller has it already. None when these bytes are kept already (nothing to write)."""
        sha = sha or hashlib.sha256(data).hexdigest()
        if self.path_of(sha).exists():
            return None
        tmp = self._staging_path()
        try:
            tmp.write_bytes(data)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Staged(tmp, sha)

    def _staging_path(self) -> Path:
        """A fresh temporary name inside ``files/`` (same file system as the kept originals: a rename puts it in
        place); names starting ``.staged-`` are never originals."""
        folder = self.root / "files"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".staged-{os.getpid()}-{threading.get_ident()}-{os.urandom(6).hex()}.part"

    def keep(self, source: Path, *, sha: str | None = None, meta: dict[str, Any] | None = None,
             staged: Staged | None = None) -> str:
        """Store a copy of ``source``'s bytes once, and its
        description; returns the SHA-256 (the copy is read-only). ``staged``: a copy of ``source`` made by
        :meth:`stage`, moved into place (or removed when the original is already kept)."""
        if staged is not None:
            sha = staged.sha
        sha = sha or sha256_file(source)
        dest = self.path_of(sha)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            if staged is not None:
                tmp = staged.path
            else:
                tmp = dest.with_suffix(".part")
                shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o400)   # read-only evidence, the service user's alone
            os.replace(tmp, dest)
        elif staged is not None:
            staged.discard()
        if meta is not None:
            side = dest.with_name(sha + ".json")
            if not side.exists():
                side.write_text(json.dumps({"sha256": sha, **meta}, ensure_ascii=False, indent=1), encoding="utf-8")
        return sha

    def keep_bytes(self, data: bytes, *, meta: dict[str, Any] | None = None, sha: str | None = None) -> str:
        """Store ``data`` (an original received in memory, e.g. an API request body) like :meth:`keep`;
        ``sha``: its SHA-256 when the caller has it already."""
        sha = sha or hashlib.sha256(data).hexdigest()
        dest = self.path_of(sha)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f"{sha}.{os.getpid()}.{threading.get_ident()}.part")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o400)
            os.replace(tmp, dest)
        return self.keep(dest, sha=sha, meta=meta)

    def index(self, load_id: str, keys: pa.Array | pa.ChunkedArray, shas: pa.Array | pa.ChunkedArray,
              sources: pa.Array | pa.ChunkedArray) -> Path | None:
        """Record which original each loaded invoice came from (one Parquet file per load). ``shas`` and ``sources``
        may be dictionary-encoded (a table file's rows all name one original): written as they are, read back as the
        plain strings of :data:`INDEX_SCHEMA`."""
        if len(keys) == 0:
            return None
        out = self.root / "index" / f"{load_id}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        columns = [c if pa.types.is_dictionary(c.type) else c.cast(f.type)
                   for c, f in zip((keys, shas, sources), INDEX_SCHEMA, strict=True)]
        # no Arrow schema kept in the file: its columns are the Parquet strings INDEX_SCHEMA reads, dictionary or not
        pq.write_table(pa.table(columns, names=INDEX_SCHEMA.names), out, store_schema=False)
        return out

    def originals(self, key: str) -> list[dict[str, Any]]:
        """The originals an invoice was loaded from: sha256, source, path, and what was read from the file
        (fields, item lines) when it was an e-invoice."""
        return self.originals_of([key])

    def originals_of(self, keys: list[str]) -> list[dict[str, Any]]:
        """:meth:`originals` of several invoices at once (each row names its ``key``)."""
        folder = self.root / "index"
        if not keys or not folder.is_dir() or not any(folder.glob("*.parquet")):
            return []
        table = ds.dataset(folder, format="parquet", schema=INDEX_SCHEMA).to_table(
            filter=pc.field("key").isin(pa.array(keys, pa.string())))
        out: list[dict[str, Any]] = []
        for row in table.to_pylist():
            sha = row["sha256"]
            side = self.path_of(sha).with_name(sha + ".json")
            meta = json.loads(side.read_text(encoding="utf-8")) if side.exists() else {}
            out.append({**meta, **row, "path": str(self.path_of(sha)), "present": self.path_of(sha).exists()})
        return out

    def verify(self, sha: str) -> bool:
        """True when the stored original still has its SHA-256."""
        p = self.path_of(sha)
        return p.exists() and sha256_file(p) == sha


#: Largest original copied into a case export (bigger ones are listed in originals.csv with their hash).
EXPORT_MAX_BYTES = 50 << 20


def case_files(store: Store, keys: list[str]) -> dict[str, bytes]:
    """Files for a case export: ``originals/<sha256>-<name>`` for each invoice's original (up to
    :data:`EXPORT_MAX_BYTES`) and ``originals.csv`` (invoice key, SHA-256, source, whether included); the
    export's manifest then carries each original's hash. Empty when no invoice has a kept original."""
    import csv
    import io

    ev = Evidence(evidence_dir(store))
    rows = ev.originals_of(keys)
    if not rows:
        return {}
    files: dict[str, bytes] = {}
    listing = io.StringIO()
    w = csv.writer(listing)
    w.writerow(["key", "sha256", "source", "included"])
    for r in sorted(rows, key=lambda r: (r["key"], r["sha256"])):
        path = Path(r["path"])
        name = Path(str(r.get("source") or "original").rsplit(":", 1)[-1]).name
        fits = path.exists() and path.stat().st_size <= EXPORT_MAX_BYTES
        if fits:
            files[f"originals/{r['sha256'][:16]}-{name}"] = path.read_bytes()
        w.writerow([r["key"], r["sha256"], r.get("source", ""), "yes" if fits else "no (too large or missing)"])
    files["originals.csv"] = listing.getvalue().encode("utf-8-sig")
    return files

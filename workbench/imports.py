"""Files uploaded in the workbench, loaded for a signed-in user.

The upload lives in a private temporary folder only while it is read (the loader keeps each original as evidence
in the workspace), error messages name the file, never a server path, and the outcome is in the audit trail:
``import_data`` with the counts, or ``import_failed`` with the reason.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from graph.core import settings
from graph.core.errors import FapiaoError
from graph.core.notes import Note
from graph.store import Store
from loaders.load import LoadReport, load_files
from workbench import audit
from workbench.audit import record
from workbench.auth import User, require

if TYPE_CHECKING:
    from workbench.fast_update import FastUpdate


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser gave (only its last part is used) and its bytes."""

    name: str
    data: bytes

    @property
    def filename(self) -> str:
        return Path(self.name.replace("\\", "/")).name or "upload"


def _save(upload: Upload, folder: Path, limit_mb: int) -> Path:
    size = len(upload.data)
    if size > limit_mb * 1024 * 1024:
        raise FapiaoError(f"文件 {upload.filename} 为 {size / 1048576:.1f} MB，超过上限 {limit_mb} MB"
                          f"（FAPIAO_UPLOAD_MAX_MB）。 {upload.filename} is over the {limit_mb} MB limit.")
    path = folder / upload.filename
    path.write_bytes(upload.data)
    return path


def import_uploads(store: Store, user: User, invoices: Sequence[Upload], taxpayers: Upload | None = None, *,
                   encoding: str | None = None, sheet: str | None = None) -> LoadReport:
    """Validate and load uploaded invoice files (several load as one folder) and an optional taxpayers file.

    Raises
    ------
    PermissionDenied
        ``user`` may not import data.
    FapiaoError
        Nothing chosen, a file over ``FAPIAO_UPLOAD_MAX_MB``, or a file the loader refuses; the message is
        free of server paths and the failure is audited as ``import_failed``.
    """
    require(user, "import_data")
    if not invoices:
        raise FapiaoError("请先选择发票文件。 Choose an invoice file first.")
    names = ", ".join(u.filename for u in invoices)[:200]
    limit = settings.get_int("FAPIAO_UPLOAD_MAX_MB")
    work = Path(tempfile.mkdtemp(prefix="fapiao-upload-"))     # mode 0700
    try:
        if len(invoices) == 1:
            inv_path = _save(invoices[0], work, limit)
        else:   # several files load as one folder: tables each on their own, e-invoices together
            inv_path = work / "upload"
            inv_path.mkdir()
            for up in invoices:
                _save(up, inv_path, limit)
        tp_path = None
        if taxpayers is not None:     # its own folder: it may carry the same name as an invoice file
            (work / "taxpayers").mkdir()
            tp_path = _save(taxpayers, work / "taxpayers", limit)
        report = load_files(store, inv_path, taxpayers=tp_path, encoding=encoding, sheet=sheet)
    except FapiaoError as e:
        message = str(e).replace(f"{work}/", "").replace(str(work), "")
        record(store, user, "import_failed", names, message[:500])
        raise FapiaoError(message) from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record(store, user, "import_data", names, Note("import_counts", {
        "read": report.read, "loaded": report.loaded, "rejected": report.rejected,
        "skipped_identical": report.skipped_identical}))
    return report


def fast_update_after(store: Store, report: LoadReport) -> FastUpdate | None:
    """The fast update (快速更新, :mod:`workbench.fast_update`) after an import that stored invoices: provisional
    tiers and new-high alerts for the taxpayers whose invoices changed, with the last exact run's calibration
    frozen, until an exact run supersedes it. None when nothing was stored or no exact run left a calibration."""
    if report.loaded == 0:
        return None
    from workbench import fast_update

    return fast_update.run(store)


def load_audited(store: Store, path: Path, *, actor: str, taxpayers: Path | None = None,
                 mapping: Path | None = None, encoding: str | None = None, sheet: str | None = None,
                 report_dir: Path | None = None, progress: bool = False, map_pairs: tuple[str, ...] = (),
                 user: User | None = None) -> LoadReport:
    """``loaders.load.load_files`` into ``store``, audited as ``load`` (or ``import_failed`` and re-raised) by
    ``user`` (its name and roles) when given, else by ``actor``."""
    by = None if user is not None else actor
    target = f"file:{path.name}" + (f"+{taxpayers.name}" if taxpayers else "")
    try:
        report = load_files(store, path, taxpayers=taxpayers, mapping=mapping, encoding=encoding, sheet=sheet,
                            report_dir=report_dir, progress=progress, map_pairs=map_pairs)
    except FapiaoError as e:
        audit.record(store, user, "import_failed", target, str(e)[:500], actor=by)
        raise
    audit.record(store, user, "load", target, Note("load_counts", {
        "read": report.read, "loaded": report.loaded, "rejected": report.rejected,
        "taxpayers": report.taxpayers_loaded}), actor=by)
    return report

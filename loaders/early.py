"""Work a ``fapiao load`` of a CSV file can begin at process start, while the command still imports its libraries.

The command's imports (numba and its first call, DuckDB, the loader's modules) take ~1 CPU-s on the main thread,
which holds the Python lock all that time. Two jobs of the load need only the file: the pre-scan
(:func:`loaders.utf8scan.scan_text`: UTF-8, longest line, odd quotes) and the SHA-256 of the original kept as
evidence. Both run in numpy, Arrow and hashlib, which release the lock, so :func:`begin_load` starts them on threads
of their own before those imports, and they run on the second core instead of after the imports. The load then
:func:`take`\\ s each answer; a job that was not started, failed, or whose file changed since (size or modification
time) is simply done again where it is needed, as before. The CPU time is the same; only the waiting goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
#: Suffixes of files whose pre-scan and hash start early (CSV-like text; not .gz, not containers).
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

_jobs: dict[tuple[str, str], tuple[tuple[int, int], threading.Thread, list[Any]]] = {}
_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _key(kind: str, path: Path) -> tuple[str, str]:
    return kind, str(Path(path).resolve())


def start(kind: str, path: Path, fn: Callable[[Path], Any]) -> bool:
    """Run ``fn(path)`` on a thread of its own, for :func:`take` of the same ``kind`` and file (False when such a job
    waits already for the file as it is now, or the file cannot be read)."""
    stamp = _stamp(path)
    if stamp is None:
        return False
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn(path))
        except Exception as e:   # taken as "not done": take() runs fn again and raises there
            out.append(e)

    worker = threading.Thread(target=run, name=f"fapiao-early-{kind}", daemon=True)
    with _lock:
        if _key(kind, path) in _jobs and _jobs[_key(kind, path)][0] == stamp:
            return False
        _jobs[_key(kind, path)] = (stamp, worker, out)   # replaces a job never taken, of an older version of the file
    worker.start()
    return True


def started(kind: str, path: Path) -> bool:
    """Whether a job of ``kind`` for ``path`` waits to be taken."""
    with _lock:
        return _key(kind, path) in _jobs


def take(kind: str, path: Path, fn: Callable[[Path], T]) -> T:
    """``fn(path)``: the answer of the job started for the same kind and unchanged file when there is one (waiting
    for it to finish), else computed now."""
    with _lock:
        job = _jobs.pop(_key(kind, path), None)
    if job is not None:
        stamp, worker, out = job
        worker.join()
        if out and not isinstance(out[0], Exception) and stamp == _stamp(path):
            return out[0]  # type: ignore[no-any-return]
    return fn(path)


def begin_load(path: Path, *, encoding: str | None, digest: bool) -> list[str]:
    """Start the pre-scan (a UTF-8 CSV) and, with ``digest``, the SHA-256 (any CSV-like file) of ``path`` early;
    returns the kinds started. Anything else (other formats, folders, ``.gz``, unreadable files) starts nothing."""
    path = Path(path)
    if path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
        return []
    from loaders.evidence import sha256_file
    from loaders.read import MIXED, SAMPLE_BYTES, detect_encoding
    from loaders.utf8scan import scan_text

    kinds = []
    if digest and start("sha256", path, sha256_file):
        kinds.append("sha256")
    try:
        with path.open("rb") as f:
            sample = f.read(SAMPLE_BYTES)
        enc = encoding or detect_encoding(sample)
    except Exception:   # the load itself reports an unreadable file
        return kinds
    if ("utf-8" if enc == MIXED else enc) in ("utf-8", "utf-8-sig") and start("scan", path, scan_text):   # as read_csv
        kinds.append("scan")
    return kinds

"""A watched folder (``fapiao watch DIR``): files dropped into it are loaded, then detection and the alert rules
run on the new state of the workspace.

Each pass: every file directly in the folder whose last change is at least ``settle`` seconds old is
loaded with the same rules, quarantine and report as ``fapiao load`` (audited as ``load`` / ``import_failed``
by the watcher's actor) and moved to ``done/`` (or ``failed/`` with a ``.error.txt`` beside it); reports go to
``reports/<file>-<time>/``. When a pass stored new invoices, a fast update (:mod:`workbench.fast_update`: provisional
tiers and new-high alerts of the taxpayers whose invoices changed, with the last run's calibration frozen) answers
first, and its alerts are delivered; then detection runs once for the whole pass (several
files dropped together cost one run), then the alert rules are evaluated and due e-mail / webhook deliveries
sent. Detection is incremental where that keeps it exact: the loop search is re-done only in the time windows the
new invoices touch (the workspace's loop cache, :mod:`workbench.incremental`); the nulls' statistics, the FDR and
the risk model run over all the data, so the findings equal a full run (docs/detection.md, "Incremental
detection"). Put files in place atomically (write elsewhere, then rename
into the folder) or make sure writing finishes within ``settle`` seconds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graph.core.errors import FapiaoError
from graph.store import Store
from loaders.load import LoadReport
from workbench import alerts, audit
from workbench.imports import load_audited

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".json", ".jsonl", ".ndjson", ".parquet", ".xml", ".ofd",
            ".pdf", ".zip", ".gz")
DONE, FAILED, REPORTS = "done", "failed", "reports"


@dataclass(frozen=True)
class Arrival:
    """One file of a pass: its load report, or the error that refused it; where it was moved."""

    name: str
    moved_to: Path
    report: LoadReport | None = None
    error: str = ""


@dataclass(frozen=True)
class Pass:
    """What one pass did; ``seconds`` per step (load, detect, alerts)."""

    arrivals: list[Arrival] = field(default_factory=list)
    run_id: str | None = None
    alerts_raised: int = 0
    deliveries: alerts.Report = field(default_factory=alerts.Report)
    seconds: dict[str, float] = field(default_factory=dict)
    #: the fast update's record (:mod:`workbench.fast_update`) that answered before the exact run, if any
    fast_id: str | None = None

    @property
    def loaded(self) -> int:
        return sum(a.report.loaded for a in self.arrivals if a.report is not None)


def ready_files(folder: Path, settle: float, now: float | None = None) -> list[Path]:
    """Files directly in ``folder`` with a known suffix, not hidden, unchanged for ``settle`` seconds; oldest first."""
    t = time.time() if now is None else now
    out = []
    for p in folder.iterdir():
        if p.name.startswith(".") or not p.is_file() or not p.name.lower().endswith(SUFFIXES):
            continue
        try:
            st = p.stat()
        except OSError:       # moved away meanwhile
            continue
        if t - st.st_mtime >= settle:
            out.append((st.st_mtime, p.name, p))
    return [p for _, _, p in sorted(out)]


def _move(path: Path, folder: Path, stamp: str) -> Path:
    folder.mkdir(exist_ok=True)
    dest = folder / f"{stamp}-{path.name}"
    shutil.move(str(path), dest)
    return dest


def run_pass(open_store: Callable[[], Store], folder: Path, *, actor: str, settle: float = 2.0,
             detect: bool = True, deliver: bool = True, mapping: Path | None = None,
             encoding: str | None = None, map_pairs: tuple[str, ...] = ()) -> Pass:
    """One pass over ``folder`` (see the module text). The store is opened for the pass and closed after it,
    so the workbench, the API and other commands use the workspace in between."""
    files = ready_files(folder, settle)
    if not files:
        return Pass()
    arrivals: list[Arrival] = []
    seconds: dict[str, float] = {}
    run_id: str | None = None
    fast_id: str | None = None
    raised = 0
    report = alerts.Report()
    with open_store() as store:
        t0 = time.perf_counter()
        for path in files:
            stamp = f"{audit.now():%Y%m%d-%H%M%S}"
            try:
                got = load_audited(store, path, actor=actor, report_dir=folder / REPORTS / f"{path.name}-{stamp}",
                                   mapping=mapping, encoding=encoding, map_pairs=map_pairs)
            except FapiaoError as e:
                moved = _move(path, folder / FAILED, stamp)
                moved.with_name(moved.name + ".error.txt").write_text(f"{e}\n", encoding="utf-8")
                arrivals.append(Arrival(path.name, moved, error=str(e)))
            else:
                arrivals.append(Arrival(path.name, _move(path, folder / DONE, stamp), got))
        seconds["load"] = round(time.perf_counter() - t0, 3)
        if detect and any(a.report is not None and a.report.loaded for a in arrivals):
            from workbench import fast_update
            from workbench.detect import run_detection

            t0 = time.perf_counter()         # provisional tiers and alerts first, within seconds (快速更新)
            up = fast_update.run(store, actor=actor)
            fast_id = None if up is None else up.fast_id
            seconds["fast_update"] = round(time.perf_counter() - t0, 3)
            if deliver and up is not None and up.alerts_raised:
                alerts.deliver_due(store, actor=actor)
            t0 = time.perf_counter()
            run_id = run_detection(store, audit_as=actor).run.run_id
            seconds["detect"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        raised = len(alerts.evaluate(store, actor=actor).alerts)
        if deliver:
            report = alerts.deliver_due(store, actor=actor)
        seconds["alerts"] = round(time.perf_counter() - t0, 3)
    return Pass(arrivals, run_id, raised, report, seconds, fast_id)

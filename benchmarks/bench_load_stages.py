"""Where one `fapiao load` spends its CPU: process CPU seconds (all threads) and wall seconds per stage.

    .venv/bin/python benchmarks/bench_load_stages.py /tmp/fapiao-bench-data/csv-1000000/invoices.csv
    (cd OTHER_CHECKOUT && python /path/to/bench_load_stages.py FILE)     # the same for another copy

Runs the `load` command in this process (into a fresh embedded store) with one checking thread
(``loaders.load.default_threads`` → 1), so that the process CPU clock read around each stage is that
stage's own work (Arrow's and DuckDB's threads included). The checkout is the current directory's
(``loaders``, ``graph`` and ``workbench`` are imported from it). Stages:

- start-up: interpreter, every import of the command;
- read CSV: the pre-scan (UTF-8, line lengths, quotes) and the Arrow CSV reader, as the loader pulls batches;
- parse / decide: ``InvoiceValidator.parse`` (per-row rules, typed columns) / ``decide`` (duplicates,
  red-letter, cross-batch state, rejection texts);
- quarantine: ``QuarantineWriter.add`` (CSV + Parquet copy of rejected rows);
- store write: the embedded writer's commit (party numbers, DuckDB insert, commit);
- evidence: the original kept (SHA-256, copy) and the invoice → original index;
- rest: everything else inside the command (report, audit, rule counts).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

START_CPU, START_WALL = time.process_time(), time.perf_counter()
sys.path.insert(0, os.getcwd())
try:   # a checkout that has it starts lean like the command does (before pandas is imported)
    from loaders.lean import lean_load_process

    lean_load_process()
except ImportError:
    pass

STAGES: dict[str, list[float]] = {}


def add(name: str, cpu: float, wall: float) -> None:
    got = STAGES.setdefault(name, [0.0, 0.0])
    got[0] += cpu
    got[1] += wall


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*a: Any, **k: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            add(name, time.process_time() - cpu, time.perf_counter() - wall)
    return run


def main(path: str) -> None:
    import graph.embedded as emb
    import loaders.load as ld
    import loaders.quarantine as qu
    import loaders.rules as ru
    import workbench.cli.load  # noqa: F401  (the command's own imports are start-up)
    from workbench.cli import cli

    add("start-up", time.process_time() - START_CPU, time.perf_counter() - START_WALL)
    ld.default_threads = lambda: 1
    read_batches = vars(ld)["read_batches"]   # the name the pipeline calls

    def timed_batches(*a: Any, **k: Any) -> Iterator[Any]:
        it = read_batches(*a, **k)
        while True:
            cpu, wall = time.process_time(), time.perf_counter()
            batch = next(it, None)
            add("read CSV", time.process_time() - cpu, time.perf_counter() - wall)
            if batch is None:
                return
            yield batch

    vars(ld)["read_batches"] = timed_batches
    ru.InvoiceValidator.parse = timed("parse", ru.InvoiceValidator.parse)         # type: ignore[method-assign]
    ru.InvoiceValidator.decide = timed("decide", ru.InvoiceValidator.decide)      # type: ignore[method-assign]
    qu.QuarantineWriter.add = timed("quarantine", qu.QuarantineWriter.add)        # type: ignore[method-assign]
    emb._EmbeddedWriter.__exit__ = timed("store write", emb._EmbeddedWriter.__exit__)  # type: ignore[method-assign]
    ld._keep_evidence = timed("evidence", ld._keep_evidence)
    with tempfile.TemporaryDirectory(prefix="fapiao-stages-") as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        cli.main(["load", path, "--no-progress", "--store", f"embedded:{tmp}/ws", "--report-dir", f"{tmp}/r"],
                 standalone_mode=False)
        command = (time.process_time() - cpu, time.perf_counter() - wall)
    inner = [v for k, v in STAGES.items() if k != "start-up"]
    add("rest", command[0] - sum(c for c, _ in inner), command[1] - sum(w for _, w in inner))
    add("process", time.process_time(), time.perf_counter() - START_WALL)
    print(f"{'stage':<12} {'CPU s':>6} {'wall s':>7}   (load average {os.getloadavg()[0]:.1f})")
    for name, (c, w) in STAGES.items():
        print(f"{name:<12} {c:6.2f} {w:7.2f}")


if __name__ == "__main__":
    main(sys.argv[1])

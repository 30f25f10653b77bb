"""Where a `POST /invoices` batch's time goes, in process (no HTTP): the JSON body read into text columns and the
group commit's load (`workbench.api.group_commit.load_group`: the writer's `commit_group`, then each batch's
`answer`, which the API makes on the batch's own request thread), section by section, per 1,000-row batch.

    .venv/bin/python benchmarks/bench_api_batch.py                        # 40K invoices, groups of 1 and 4
    .venv/bin/python benchmarks/bench_api_batch.py --invoices 100000 --group 1 --group 2 --group 4

Each group size loads the same generated rows (`loaders.generate`, as bench_api.py) into its own fresh embedded
workspace, in batches of `--batch` rows sent as JSON bodies, `--group` batches at a time (what the API's writer
does with batches that wait together). Sections are timed by wrapping the functions named in the table: wall
time and CPU time of the calling thread (DuckDB's own worker threads are in the process CPU figure only).
Sections nest (each · deeper is part of the one above); the first three batches warm up and are not counted.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_api  # noqa: E402

import graph.embedded as ge  # noqa: E402
import loaders.load as ll  # noqa: E402
import loaders.rules as lr  # noqa: E402
from graph import open_store  # noqa: E402
from loaders import evidence  # noqa: E402
from loaders.generate import generate  # noqa: E402
from workbench.api import group_commit, models  # noqa: E402

SECTIONS: list[tuple[Any, str, str]] = [
    (models, "invoice_table", "JSON body → text columns (request thread)"),
    (group_commit, "commit_group", "commit_group: the writer's part"),
    (ll, "_parse_batch", "· loader: parse (rules.parse)"),
    (lr.InvoiceValidator, "decide", "· loader: rules decide"),
    (ge.EmbeddedStore, "existing_invoice_keys", "· · stored-key check"),
    (ll, "_apply", "· loader: store write"),
    (ge._EmbeddedWriter, "_flush", "· · flush"),
    (ge._EmbeddedWriter, "_batch_codes", "· · · key / party hashes"),
    (ge._EmbeddedWriter, "_number_parties", "· · · party numbers, new parties and taxpayers"),
    (ge._EmbeddedWriter, "_drop_unchanged", "· · · re-load probe"),
    (ll, "_keep_evidence", "· evidence index"),
    (group_commit, "answer", "answer: each batch's own (its request thread)"),
    (evidence.Evidence, "keep_bytes", "· body kept as evidence"),
]


def _wrap(acc: dict[str, list[float]], owner: Any, name: str, label: str) -> Callable[[], None]:
    real = getattr(owner, name)

    @functools.wraps(real)
    def timed(*a: Any, **k: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return real(*a, **k)
        finally:
            acc[label][0] += time.perf_counter() - t
            acc[label][1] += time.thread_time() - c

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, real)


@click.command()
@click.option("--invoices", default=40_000, show_default=True)
@click.option("--batch", default=1_000, show_default=True)
@click.option("--group", "groups", type=int, multiple=True, default=(1, 4), show_default=True,
              help="batches loaded together (repeat for several runs)")
def main(invoices: int, batch: int, groups: tuple[int, ...]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-batch-"))
    generate(tmp / "data", taxpayers=max(200, invoices // 50), invoices=invoices, seed=3)
    rows = bench_api._rows(tmp / "data" / "invoices.parquet")
    bodies = [json.dumps({"invoices": rows[i:i + batch]}, ensure_ascii=False).encode("utf-8")
              for i in range(0, len(rows), batch)]
    print(f"{invoices:,} invoices in JSON bodies of {batch:,} rows ({len(bodies[0]) / 1000:.0f} KB each); "
          f"1-min load average {os.getloadavg()[0]:.1f}")
    for size in groups:
        acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        with open_store(f"embedded:{tmp / f'ws-{size}'}") as store:
            for body in bodies[:3]:
                group_commit.load_group(store, [group_commit.Batch(models.invoice_table(body), body)])
            undo = [_wrap(acc, owner, name, label) for owner, name, label in SECTIONS]
            rest = bodies[3:]
            t, c = time.perf_counter(), time.process_time()
            try:
                for i in range(0, len(rest), size):
                    part = rest[i:i + size]
                    group_commit.load_group(store, [group_commit.Batch(models.invoice_table(b), b) for b in part])
            finally:
                for u in undo:
                    u()
            wall, cpu = time.perf_counter() - t, time.process_time() - c
        n = len(rest)
        print(f"\ngroups of {size}: {n} batches, {wall / n * 1000:.1f} ms wall and {cpu / n * 1000:.1f} process "
              f"CPU-ms per batch; 1-min load average {os.getloadavg()[0]:.1f}\n"
              "| section | wall ms per batch | thread CPU ms per batch |\n|---|---:|---:|")
        for _, _, label in SECTIONS:
            w, cc = acc[label]
            print(f"| {label} | {w / n * 1000:.1f} | {cc / n * 1000:.1f} |")


if __name__ == "__main__":
    main()

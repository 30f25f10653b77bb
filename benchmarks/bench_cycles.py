"""The in-process temporal cycle search at scale: with and without its reachability pruning, same run.

\b
    .venv/bin/python benchmarks/bench_cycles.py --invoices 1000000 --data /tmp/benchdata
    .venv/bin/python benchmarks/bench_cycles.py --invoices 100000 --gate 0.25 --plain

The generator's default profile writes ``--invoices`` invoices for a tenth as many taxpayers (seed 0, reused
from ``--data``). Then ``temporal_cycles(window_days=90, max_len=12)``, both orientations, on two threads:
with the gate chosen by ``--budget`` (the pipeline's default) or a fixed ratio ``--gate``. ``--plain`` first
runs the same search without the reachability walk (``reach=False``: the search before 2026-12-02 apart from
the shared index) and checks that both find the same loops (a digest of every loop's members, orientation,
invoices, repeats, drift and spread). Prints wall and CPU seconds, loops, instances, hops followed and the
load average before and after each run; quote ratios from one run, with the load.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def digest(result: Any) -> str:
    """A short hash of every loop found (members, orientation, invoices, repeats, drift, spread), in order."""
    rows = [(c.members, c.orientation, tuple(h.key for h in c.hops), c.repeats, c.max_drift, c.spread)
            for c in result.cycles]
    return hashlib.sha256(pickle.dumps(rows)).hexdigest()[:16]


@click.command(help=__doc__)
@click.option("--invoices", default=1_000_000, show_default=True, help="Invoices to generate (taxpayers: a tenth).")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=Path("/tmp/benchdata"),
              show_default=True, help="Folder for the generated files (reused when present).")
@click.option("--gate", type=float, default=None, help="Fixed ratio gate (default: chosen by --budget).")
@click.option("--budget", type=float, default=1e8, show_default=True, help="Hop budget of the gate choice.")
@click.option("--plain", is_flag=True, help="Also run without the reachability walk and compare the loops.")
def main(invoices: int, data: Path, gate: float | None, budget: float, plain: bool) -> None:
    from algorithms.cycles import temporal_cycles
    from loaders.generate import generate
    from tests.helpers.detect_data import tables_from_generated

    folder = data / f"default-{invoices}"
    if not (folder / "invoices.parquet").exists():
        generate(folder, taxpayers=invoices // 10, invoices=invoices, seed=0)
    inv = tables_from_generated(folder)[0].to_pandas()
    temporal_cycles(inv.head(20_000), max_drift=0.25)          # numba's compiled kernels load once
    kw: dict[str, Any] = {"gate_ratio": gate} if gate is not None else {"budget": budget}
    digests = []
    for label, reach in ([("plain", False)] if plain else []) + [("pruned", True)]:
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        r = temporal_cycles(inv, window_days=90, max_len=12, reach=reach, **kw)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        digests.append(digest(r))
        st = r.stats
        click.echo(f"{label:6s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  loops {len(r.cycles):,}  instances "
                   f"{r.instances:,}  truncated {r.truncated_starts}  gate {r.gate}  hops followed "
                   f"{st.get('hops_followed', 0):,.0f}  walked back {st.get('reach_read', 0):,.0f}  "
                   f"(components {st.get('scc', 0):.1f} / search {st.get('search', 0):.1f} / dedup "
                   f"{st.get('dedup', 0):.1f} s wall)  digest {digests[-1]}  load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    if plain:
        click.echo("same loops" if digests[0] == digests[1] else "DIFFERENT LOOPS")
        if digests[0] != digests[1]:
            raise SystemExit(1)


if __name__ == "__main__":
    main()

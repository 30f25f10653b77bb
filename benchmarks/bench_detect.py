"""Detection speed: per-stage time and peak memory, and the cycle search against two baselines.

\b
    .venv/bin/python benchmarks/bench_detect.py                       # 100K and 1M invoices
    .venv/bin/python benchmarks/bench_detect.py --sizes 100000 --nx-cap 30
    .venv/bin/python benchmarks/bench_detect.py --sizes 1000000 --data /work/benchdata --no-peers

For each size the generator (``loaders.generate``) writes invoices for ``size / 10`` taxpayers (into
``--data`` when given, reused by later runs); the files go into a fresh embedded workspace and ``workbench.detect.run_detection`` runs every stage
(time and peak RSS per stage, sampled every 20 ms). Then, on the same invoices:

* the temporal cycle search (``algorithms.cycles.temporal_cycles``) as the pipeline runs it (drift gate
  0.25, two threads) and without the gate;
* networkx ``simple_cycles(G, length_bound=k)`` on the aggregated issuer→buyer graph (per strongly
  connected component), stopped after ``--nx-cap`` seconds;
* snapml's ``GraphFeaturePreprocessor`` temporal-cycle features (same window), when snapml is installed.

Ratios against the baselines measured in the same run matter, not absolute times (the machine is shared).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.detect_data import tables_from_generated  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class Sampler:
    """Peak RSS per named phase, sampled by a background thread."""

    def __init__(self) -> None:
        self.current = "-"
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            r = rss_mb()
            self.peak[self.current] = max(self.peak.get(self.current, 0.0), r)
            time.sleep(0.02)

    def phase(self, name: str) -> None:
        self.current = name
        self.peak[name] = max(self.peak.get(name, 0.0), rss_mb())

    def __enter__(self) -> Sampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


@contextmanager
def timed(out: dict[str, float], name: str) -> Iterator[None]:
    t = time.perf_counter()
    yield
    out[name] = time.perf_counter() - t


def _in_process(fn: Callable[[], Any], cap: float) -> tuple[Any, float, bool]:
    """Run ``fn`` in a forked child process, killed after ``cap`` seconds; (result, seconds, finished)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    t = time.perf_counter()
    child = ctx.Process(target=lambda: q.put(fn()), daemon=True)
    child.start()
    child.join(cap)
    if child.is_alive():
        child.kill()
        child.join()
        return None, time.perf_counter() - t, False
    return q.get(timeout=5), time.perf_counter() - t, True


def snapml_cycles(inv: Any, window_s: int, max_len: int) -> tuple[str, float]:
    """Temporal-cycle features of snapml's GraphFeaturePreprocessor; (summary, seconds)."""
    try:
        from snapml import GraphFeaturePreprocessor
    except ImportError as e:
        return f"snapml not installed ({e})", float("nan")
    import pandas as pd

    codes, _ = pd.factorize(pd.concat([inv["seller_tax_id"], inv["buyer_tax_id"]], ignore_index=True))
    n = len(inv)
    from algorithms._tables import epoch_seconds

    ts = epoch_seconds(inv["issued_at"])
    ts = ts - ts.min()
    order = np.argsort(ts, kind="stable")
    x = np.column_stack([np.arange(n), codes[:n], codes[n:], ts, inv["total_fen"].to_numpy() / 100.0])[order]
    x = x.astype(np.float64)
    gp = GraphFeaturePreprocessor()
    bins = list(range(2, max_len + 2))
    gp.set_params({"num_threads": 2, "time_window": window_s, "vertex_stats": False, "fan": False,
                   "degree": False, "scatter-gather": False, "temp-cycle": True, "temp-cycle_tw": window_s,
                   "temp-cycle_bins": bins, "lc-cycle": False})
    t = time.perf_counter()
    out = gp.fit_transform(x)
    secs = time.perf_counter() - t
    hist = out[:, x.shape[1]:]
    edges_in_cycles = int((hist.sum(axis=1) > 0).sum())
    return f"{edges_in_cycles:,} invoices in >= 1 temporal cycle (histogram per invoice, no cycle list)", secs


def tables_from_generated_warmup() -> Any:
    import pandas as pd

    t = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    return pd.DataFrame({"key": ["1", "2"], "seller_tax_id": ["A", "B"], "buyer_tax_id": ["B", "A"],
                         "issued_at": [t, t + pd.Timedelta(days=1)], "total_fen": [100, 100], "status": "normal"})


def bench(size: int, seed: int, nx_cap: float, work: Path, data_root: Path | None = None, peers: bool = True,
          profile: Path | None = None) -> list[str]:
    import pyarrow as pa

    from algorithms.cycles import static_cycles, temporal_cycles
    from graph.embedded import EmbeddedStore
    from loaders.generate import generate
    from workbench.detect import run_detection

    lines: list[str] = []
    temporal_cycles(tables_from_generated_warmup(), max_drift=0.25)     # numba: load the compiled kernel once
    taxpayers = size // 10
    data = (data_root or work) / f"gen-{size}-s{seed}"
    t = time.perf_counter()
    if not (data / "taxpayers.parquet").exists():
        generate(data, taxpayers=taxpayers, invoices=size, seed=seed)
    inv_t, tp_t, ids_t = tables_from_generated(data)
    lines.append(f"## {size:,} invoices / {taxpayers:,} taxpayers (generated + converted in {time.perf_counter() - t:.1f}s)")
    store = EmbeddedStore(work / f"ws-{size}")
    t = time.perf_counter()
    with store.writer() as w:
        w.taxpayers(tp_t)
        w.identifiers(ids_t)
        w.invoices(inv_t)
    lines.append(f"store load (embedded, not part of detection): {time.perf_counter() - t:.1f}s")
    prof = None
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    with Sampler() as sampler:
        sampler.phase("start")
        result = run_detection(store, seed=seed, on_stage=sampler.phase)
        sampler.phase("end")
    if prof is not None and profile is not None:
        prof.disable()
        prof.dump_stats(str(profile))
    store.close()
    lines.append("")
    lines.append(f"{'stage':<12} {'seconds':>8} {'peak RSS MB':>12}")
    for stage, secs in result.run.stage_seconds.items():
        lines.append(f"{stage:<12} {secs:>8.2f} {sampler.peak.get(stage, float('nan')):>12.0f}")
    lines.append(f"{'total':<12} {sum(result.run.stage_seconds.values()):>8.2f} {max(sampler.peak.values()):>12.0f}")
    kinds: dict[str, int] = {}
    for r in result.rings:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    lines.append(f"rings: {kinds}; tiers: {result.tier_counts()}")
    if not peers:
        return lines

    inv = pa.Table.to_pandas(inv_t)
    lines.append("")
    lines.append(f"{'cycle search (window 90 d, len <= 10)':<58} {'seconds':>8}  result")
    timings: dict[str, float] = {}
    with timed(timings, "gated"):
        gated = temporal_cycles(inv, max_drift=0.25)
    lines.append(f"{'temporal_cycles, drift gate 0.25 (pipeline default)':<58} {timings['gated']:>8.2f}  "
                 f"{len(gated.cycles):,} loops ({gated.instances:,} instances), "
                 f"{gated.invoices_in_scc:,}/{gated.invoices_used:,} invoices kept by SCC pruning")
    res, secs, done = _in_process(lambda: temporal_cycles(inv, max_drift=None, max_expansions=20_000), nx_cap * 2)
    lines.append(f"{'temporal_cycles, no gate (20K expansions per start)':<58} {secs:>8.2f}  " +
                 (f"{len(res.cycles):,} loops, {res.truncated_starts:,} starts truncated" if done
                  else f"did not finish in {nx_cap * 2:.0f} s"))
    st = static_cycles(inv, max_len=10, time_limit_s=nx_cap)
    lines.append(f"{'networkx simple_cycles(length_bound=10), aggregated graph':<58} {st.seconds:>8.2f}  "
                 + (f"{len(st.cycles):,} cycles (complete)" if st.complete
                    else f"did not finish in {nx_cap:.0f} s ({len(st.cycles):,} cycles so far)"))
    res, secs, done = _in_process(lambda: snapml_cycles(inv, 90 * 86_400, 10), nx_cap)
    lines.append(f"{'snapml GraphFeaturePreprocessor temp-cycle (2 threads)':<58} "
                 + (f"{res[1]:>8.2f}  {res[0]}" if done else f"{secs:>8.2f}  did not finish in {nx_cap:.0f} s"))
    return lines


@click.command(help=__doc__)
@click.option("--sizes", default="100000,1000000", show_default=True, help="Invoice counts, comma-separated.")
@click.option("--seed", default=0, show_default=True)
@click.option("--nx-cap", default=60.0, show_default=True,
              help="Seconds before the networkx baseline is stopped (snapml gets as long, the ungated search twice).")
@click.option("--data", "data_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep generated data here (gen-SIZE-sSEED/) and reuse it on the next run.")
@click.option("--peers/--no-peers", default=True, show_default=True,
              help="Also time the cycle search against networkx, snapml and the ungated search.")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a cProfile of the pipeline run (last size) to this file.")
def main(sizes: str, seed: int, nx_cap: float, data_root: Path | None, peers: bool, profile: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="fapiao-bench-detect-") as tmp:
        for size in (int(s) for s in sizes.split(",")):
            for line in bench(size, seed, nx_cap, Path(tmp), data_root, peers, profile):
                click.echo(line)
                sys.stdout.flush()
            click.echo("")


if __name__ == "__main__":
    main()

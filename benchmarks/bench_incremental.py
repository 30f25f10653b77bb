"""Incremental detection: a batch of invoices arrives; the incremental run against a full re-run, same process.

\b
    .venv/bin/python benchmarks/bench_incremental.py --size 100000
    .venv/bin/python benchmarks/bench_incremental.py --size 1000000 --data /work/benchdata/1m --batch 1000

The generator (``loaders.generate``, seed 0, ``size / 10`` taxpayers) writes ``size`` invoices (into ``--data``
when given, reused later). ``--batch`` of them, drawn at random over the whole time span (so they arrive out of
time order; ``--recent`` takes the latest instead), are held back: the others go into a fresh embedded workspace
and are detected once (this fills the workspace's loop cache). Then the batch is stored and detection runs twice
on the same data: incrementally (the cache) and in full (``incremental=False``), each followed by the alert rules'
evaluation, as ``fapiao watch`` does. Prints wall and CPU seconds per stage of both (CPU: the process's, sampled as each stage starts), how many loop null copies
the incremental run searched again and read back, and whether their findings
(rings: id, kind, members, invoices, score, evidence, details; taxpayer scores, tiers and reasons) are equal.
Quote the ratio of one run, with the load (printed).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.detect_data import tables_from_generated  # noqa: E402


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _timed_run(store: Any, **kw: Any) -> tuple[Any, float, float, float, float, dict[str, float]]:
    """(result, detect wall s, detect CPU s, alerts wall s, alerts CPU s, CPU s per stage)."""
    from workbench import alerts
    from workbench.detect import run_detection

    marks: list[tuple[str, float]] = []
    w, c = time.perf_counter(), _cpu()
    res = run_detection(store, on_stage=lambda name: marks.append((name, _cpu())), **kw)
    w1, c1 = time.perf_counter(), _cpu()
    ends = [t for _, t in marks[1:]] + [c1]
    stage_cpu = {name: end - t for (name, t), end in zip(marks, ends, strict=True)}
    alerts.evaluate(store, actor="bench")
    return res, w1 - w, c1 - c, time.perf_counter() - w1, _cpu() - c1, stage_cpu


def _fresh_fast_update(ws: Path, names: list[str]) -> dict[str, Any]:
    """One fast update of ``names`` (no alerts) in a fresh process on workspace ``ws``: wall and CPU s, steps."""
    import json
    import subprocess

    code = ("import json, os, sys, time\n"
            "from graph.embedded import EmbeddedStore\n"
            "from workbench import fast_update\n"
            "names = json.loads(sys.stdin.read())\n"
            "store = EmbeddedStore(sys.argv[1])\n"
            "w, c = time.perf_counter(), os.times()\n"
            "up = fast_update.run(store, names, actor='bench', alerts=False)\n"
            "c1 = os.times()\n"
            "print(json.dumps({'wall': time.perf_counter() - w, 'cpu': c1.user + c1.system - c.user - c.system,\n"
            "                  'seconds': None if up is None else up.seconds}))\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code, str(ws)], input=json.dumps(names), capture_output=True,
                         text=True, check=True, env=env)
    doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


def _findings(res: Any) -> tuple[Any, Any]:
    rings = [(r.ring_id, r.kind, r.members, r.invoice_keys, r.score, r.evidence, r.details) for r in res.rings]
    return rings, res.scores.to_pylist()


def _agreement(store: Any, up: Any, full: Any) -> None:
    """The fast update's tiers and new-high alerts against the exact (full) run on the same data."""
    from workbench import alerts, users

    exact = {r["tax_id"]: r["tier"] for r in full.scores.to_pylist()}
    fast = up.tiers()
    same = sum(exact.get(t) == tier for t, tier in fast.items())
    moved_exact = {t for t in fast if exact.get(t) != up.previous.get(t)}
    moved_fast = {t for t, tier in fast.items() if tier != up.previous.get(t)}
    print(f"fast vs exact tier: {same:,} of {len(fast):,} affected taxpayers equal ({same / max(len(fast), 1):.1%}); "
          f"tier changed vs the last run: exact {len(moved_exact)}, fast {len(moved_fast)}, both "
          f"{len(moved_exact & moved_fast)} (same new tier {sum(exact.get(t) == fast[t] for t in moved_exact & moved_fast)})")
    fast_high = set(up.newly_high)
    exact_high = {t for t, tier in exact.items() if tier == "high" and up.previous.get(t, "low") != "high"
                  and t in fast}
    conf = fast_high & exact_high
    print(f"new high: fast {len(fast_high)}, exact (affected) {len(exact_high)}, confirmed {len(conf)} "
          f"(precision {len(conf) / max(len(fast_high), 1):.2f}, recall {len(conf) / max(len(exact_high), 1):.2f})")
    before = {r["tax_id"] for r in store.scores(store.runs()[1].run_id).to_pylist() if r["tier"] == "high"} \
        if len(store.runs()) > 1 else set()
    print(f"new high in the exact run over all taxpayers: {sum(t == 'high' for t in exact.values()) - len(before & {t for t, x in exact.items() if x == 'high'})}")
    sup = users.get_user(store, "bench_sup")
    assert sup is not None
    got = [a for a in alerts.inbox(store, sup) if a.rule == "new_high"]
    print(f"new_high alerts in the supervisor's inbox after fast update + exact runs: {len(got)} "
          f"({sum(bool(a.data.get('provisional')) for a in got)} provisional)")


@click.command()
@click.option("--size", default=100_000, show_default=True, help="Invoices generated (taxpayers: size / 10).")
@click.option("--batch", default=1_000, show_default=True, help="Invoices arriving in the batch.")
@click.option("--recent", is_flag=True, help="The batch is the latest invoices (in time order), not a random draw.")
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Keep / reuse the generated files here.")
@click.option("--seed", default=0, show_default=True, help="Seed of the batch draw.")
@click.option("--fast/--no-fast", default=True, show_default=True,
              help="Run the fast update (workbench.fast_update) on the batch first, and compare its tiers and new-high "
                   "alerts with the full run's.")
@click.option("--incremental/--no-incremental", "incr", default=True, show_default=True,
              help="Run the exact incremental detection (skip it to keep a 1M run short).")
@click.option("--repeat", default=1, show_default=True,
              help="Fast updates with the batch's taxpayers named: this many in this process (right after the exact "
                   "run) and this many each in a fresh process (python -c, the workspace reopened).")
def main(size: int, batch: int, recent: bool, data: Path | None, seed: int, fast: bool, incr: bool,
         repeat: int) -> None:
    """See the module text."""
    import pyarrow as pa

    from graph.embedded import EmbeddedStore
    from loaders.generate import generate

    folder = data or Path(tempfile.mkdtemp(prefix="incr-data-"))
    if not (folder / "invoices.parquet").exists():
        generate(folder, taxpayers=size // 10, invoices=size, seed=0)
    inv, tp, ids = tables_from_generated(folder)
    order = np.argsort(inv.column("issued_at").to_numpy(), kind="stable")
    held = order[-batch:] if recent else np.random.default_rng(seed).choice(inv.num_rows, batch, replace=False)
    mask = np.zeros(inv.num_rows, dtype=bool)
    mask[held] = True
    ws = Path(tempfile.mkdtemp(prefix="incr-ws-"))
    store = EmbeddedStore(ws)
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
        w.invoices(inv.filter(pa.array(~mask)))
    print(f"{inv.num_rows:,} invoices, batch {batch:,} ({'latest' if recent else 'random over the span'}); "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    _, w0, c0, _, _, _ = _timed_run(store)
    print(f"first detection (fills the cache): {w0:.1f} s wall, {c0:.1f} CPU s", flush=True)
    t = time.perf_counter()
    with store.writer() as w:
        w.invoices(inv.filter(pa.array(mask)))
    print(f"batch stored: {time.perf_counter() - t:.2f} s; load {os.getloadavg()[0]:.1f}", flush=True)
    up = None
    if fast:
        from workbench import fast_update, users

        users.create_user(store, "bench_sup", "Bench-Frozen-Tiers-2026!", ["supervisor"])
        named = fast_update.batch_taxpayers(inv.filter(pa.array(mask)))
        for label, names in [*((f"named (the batch's sellers and buyers), in process {i + 1}", named)
                               for i in range(repeat)), ("found from the invoice digests", None)]:
            w1, c1 = time.perf_counter(), _cpu()
            up = fast_update.run(store, names, actor="bench", alerts=names is None)
            if up is None:
                raise SystemExit("no calibration: the first detection wrote none")
            print(f"fast update, affected {label}: {time.perf_counter() - w1:.2f} s wall, {_cpu() - c1:.2f} CPU s; "
                  f"{up.scores.num_rows:,} taxpayers, steps {up.seconds}; load {os.getloadavg()[0]:.1f}", flush=True)
        for i in range(repeat):
            fresh = _fresh_fast_update(ws, named)
            print(f"fast update, named, fresh process {i + 1}: {fresh['wall']:.2f} s wall, {fresh['cpu']:.2f} CPU s; "
                  f"steps {fresh['seconds']}; load {os.getloadavg()[0]:.1f}", flush=True)
    nulls = ws / "cache" / "nulls"
    before = {f: f.stat().st_mtime_ns for f in nulls.glob("null-*.parquet")}
    inc, wi, ci, ai, aci, inc_cpu = _timed_run(store) if incr else (None, 0.0, 0.0, 0.0, 0.0, {})
    after = {f: f.stat().st_mtime_ns for f in nulls.glob("null-*.parquet")}
    rewritten = sum(1 for f, t in after.items() if before.get(f) != t)
    full, wf, cf, af, acf, full_cpu = _timed_run(store, incremental=False)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    if up is not None:
        _agreement(store, up, full)
    if inc is None:
        print(f"{'full':<12} detect {wf:.2f} s wall, CPU s {cf:.2f}; alerts {af:.2f} s, CPU s {acf:.2f}")
        return
    print(f"{'stage':<12} {'incremental s':>14} {'full s':>10}   {'CPU s incremental':>18} {'full':>8}")
    for name, sec in full.run.stage_seconds.items():
        print(f"{name:<12} {inc.run.stage_seconds.get(name, 0.0):>14.2f} {sec:>10.2f}   "
              f"{inc_cpu.get(name, 0.0):>18.2f} {full_cpu.get(name, 0.0):>8.2f}")
    print(f"{'detect':<12} {wi:>14.2f} {wf:>10.2f}   CPU s {ci:.2f} vs {cf:.2f}")
    print(f"{'alerts':<12} {ai:>14.2f} {af:>10.2f}   CPU s {aci:.2f} vs {acf:.2f}")
    print(f"{'total':<12} {wi + ai:>14.2f} {wf + af:>10.2f}   ratio {(wf + af) / max(wi + ai, 1e-9):.2f}x wall, "
          f"{(cf + acf) / max(ci + aci, 1e-9):.2f}x CPU")
    st = inc.cycle_stats
    for label in ("along", "against"):
        if f"{label}_cache_windows" in st:
            print(f"{label}: windows searched again {st[f'{label}_cache_searched']:.0f} of "
                  f"{st[f'{label}_cache_windows']:.0f}, start invoices {st[f'{label}_cache_starts_searched']:,.0f}")
    print(f"loop null copies: {rewritten} searched again, {len(after) - rewritten} read back "
          f"(files in cache/nulls/ after the incremental run: {len(after)})")
    print(f"loop search (data): incremental {st.get('search', 0.0):.2f} s, full {full.cycle_stats.get('search', 0):.2f} s")
    same = _findings(inc) == _findings(full)
    print(f"findings equal: {same} ({len(full.rings)} rings, run {full.run.run_id} / {inc.run.run_id})")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

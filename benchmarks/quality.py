"""Detection quality against the generator's ground truth.

\b
    python benchmarks/quality.py --truth DATA --findings FINDINGS   # score an existing run
    python benchmarks/quality.py                                    # generate → fapiao load → detect → score

With no --findings it generates a dataset (--taxpayers / --invoices / --seed), loads it with the
``fapiao load`` command into a temporary embedded workspace, runs ``workbench.detect.run_detection``,
writes rings.csv / taxpayer_scores.csv and scores them. It also scores plain bounded cycle
enumeration without time or amount constraints (``algorithms.cycles.static_cycles``) as the baseline
for the cycle typology. Prints the tables; ``--strict`` exits 1 when a bar fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.evaluation import FoundRing, QualityReport, read_truth, ring_metrics, score_run  # noqa: E402


def _fapiao() -> str:
    exe = Path(sys.executable).with_name("fapiao")
    return str(exe) if exe.exists() else "fapiao"


def _baseline(store_uri: str, truth: Path, max_len: int) -> str:
    """Score plain bounded cycles (no time, no amounts) as found cycle rings, for lengths 2..max_len."""
    try:
        from algorithms.cycles import static_cycles
    except ImportError:
        return "baseline: algorithms.cycles.static_cycles not available"
    from graph import open_store

    invoices = open_store(store_uri).invoice_stream()
    planted, _ = read_truth(truth)
    lines = ["Baseline: plain bounded cycles of the issuer→buyer graph (no time / amount constraints)"]
    for length in range(2, max_len + 1):
        started = time.perf_counter()
        found = static_cycles(invoices, max_len=length, time_limit_s=60.0)
        rings = [FoundRing(f"s{i}", "cycle", frozenset(c), c[0]) for i, c in enumerate(found.cycles)]
        m = ring_metrics("cycle", planted, rings)
        note = "" if found.complete else "  (stopped at the 60 s cap: incomplete)"
        lines.append(f"  len <= {length}: {m.found:,} cycles in {time.perf_counter() - started:.1f}s, "
                     f"recall {m.recall:.3f}, precision {m.precision:.3f}, F1 {m.f1:.3f}{note}")
        if not found.complete:
            break
    return "\n".join(lines)


def _end_to_end(work: Path, taxpayers: int, invoices: int, seed: int, noise: float,
                cycles: int) -> tuple[Path, Path, str]:
    from loaders.generate import generate

    data = work / "data"
    t0 = time.perf_counter()
    s = generate(data, taxpayers=taxpayers, invoices=invoices, seed=seed, noise=noise, rings={"cycle": cycles})
    click.echo(f"generated {s.invoices:,} invoices / {s.taxpayers:,} taxpayers in {s.seconds:.1f}s "
               f"(+{s.noise_rows:,} malformed rows)")
    uri = f"embedded:{work / 'ws'}"
    env = dict(os.environ, FAPIAO_STORE=uri)
    t0 = time.perf_counter()
    done = subprocess.run([_fapiao(), "load", str(data / "invoices.parquet"), "--taxpayers",
                           str(data / "taxpayers.parquet"), "--quiet", "--report-dir", str(work / "load")],
                          env=env, stdout=subprocess.DEVNULL)
    if done.returncode:
        raise click.ClickException(f"fapiao load failed with exit status {done.returncode} (its message is above)")
    click.echo(f"fapiao load: {time.perf_counter() - t0:.1f}s")
    from graph import open_store
    from workbench.detect import run_detection, write_outputs

    t0 = time.perf_counter()

    def stage(name: str) -> None:
        click.echo(f"  detection stage {name:<12} starts at {time.perf_counter() - t0:7.1f}s")

    result = run_detection(open_store(uri), seed=seed, on_stage=stage)
    write_outputs(result, work / "findings")
    click.echo(f"detection: {time.perf_counter() - t0:.1f}s, {len(result.rings):,} rings")
    return data / "truth", work / "findings", uri


@click.command(help=__doc__)
@click.option("--truth", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Generator output folder (or its truth/ subfolder).")
@click.option("--findings", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with rings.csv and taxpayer_scores.csv.")
@click.option("--taxpayers", default=3000, show_default=True, help="End-to-end mode: taxpayers.")
@click.option("--invoices", default=100_000, show_default=True, help="End-to-end mode: invoices.")
@click.option("--seed", default=0, show_default=True)
@click.option("--cycles", default=30, show_default=True, help="End-to-end mode: planted cycle rings.")
@click.option("--noise", default=0.0, show_default=True, help="End-to-end mode: malformed-row share.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="End-to-end mode: also score plain bounded cycles.")
@click.option("--baseline-len", default=3, show_default=True,
              help="Longest plain cycle enumerated for the baseline (it explodes on dense graphs; capped at 60 s).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="End-to-end mode: keep data, workspace and findings here instead of a temp folder.")
@click.option("--strict", is_flag=True, help="Exit 1 when a bar fails.")
def main(truth: Path | None, findings: Path | None, taxpayers: int, invoices: int, seed: int, cycles: int, noise: float,
         baseline: bool, baseline_len: int, keep: Path | None, strict: bool) -> None:
    extra = ""
    if findings is not None:
        if truth is None:
            raise click.UsageError("--findings needs --truth")
        report: QualityReport = score_run(truth, findings)
    else:
        with tempfile.TemporaryDirectory(prefix="fapiao-quality-") as tmp:
            work = keep or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            truth_dir, findings_dir, uri = _end_to_end(work, taxpayers, invoices, seed, noise, cycles)
            report = score_run(truth_dir, findings_dir)
            if baseline:
                extra = _baseline(uri, truth_dir, baseline_len)
    click.echo(report.table())
    if extra:
        click.echo("\n" + extra)
    if strict and not report.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Load benchmark: validate + normalise throughput from Parquet and CSV, against a naive row-by-row validator.

    .venv/bin/python benchmarks/bench_load.py                   # 1M rows, Parquet and CSV
    .venv/bin/python benchmarks/bench_load.py --rows 1000000 --rows 10000000
    .venv/bin/python benchmarks/bench_load.py --e2e --checkout /tmp/main-copy --repeat 3   # `fapiao load`, end to end
    .venv/bin/python benchmarks/bench_load.py --e2e --floor --repeat 3   # ... next to DuckDB's own read_csv
    .venv/bin/python benchmarks/bench_load.py --e2e --floor --checkout c87630c --repeat 3   # a git revision as BASE

Data comes from the project's generator (``loaders.generate``), cached under ``--data``. Every
measurement runs ``loaders.load.load_files(None, ...)`` (read → map → validate → normalise to
``graph.core.schema.INVOICES`` → quarantine/report; the store write is not part of it) in a fresh
subprocess, so peak RSS is that run's own. The naive baseline validates a sample row by row in plain
Python (csv module, Decimal, regex, datetime) in the same run; the ratio is what matters on a shared
machine, not the absolute times. "CPU s" is the load's own processor time (all threads), so
"rows/CPU-s" shows the work per row independent of how busy the machine is.

``--e2e`` measures the command itself instead: ``fapiao load FILE --store embedded:<fresh folder>`` from
process start to exit (store written, quarantine, report, evidence), in a fresh process per run, for this
checkout and every ``--checkout`` (another copy of the project: a folder, or a git revision unpacked by ``git archive``), runs
alternating between them so both see the same machine. Each checkout first loads a 2-row file once (not
counted) so a fresh copy's bytecode compile (and an older checkout's numba kernel compile) is not in its figures. ``--floor`` adds DuckDB's own ``read_csv`` of the
same file into a table of a fresh database (a process of its own, alternating with the loads): reading and storing
the file with no checks, no quarantine and no evidence, the floor the load is measured against. Last measured tables (and the per-stage
split from ``benchmarks/bench_load_stages.py``): docs/data-format.md, "Speed".
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"parquet": 1_000_000, "csv": 300_000}
NUMBER = re.compile(r"^(\d{8}|\d{20})$")
CODE = re.compile(r"^(\d{10}|\d{12})?$")
RATES = {Decimal(x) for x in ("0", "0.005", "0.01", "0.015", "0.03", "0.05", "0.06", "0.09", "0.13")}
TZ = ZoneInfo("Asia/Shanghai")


def naive_validate(row: dict[str, str], seen: dict[str, tuple[str, ...]], now: datetime) -> list[str]:
    """The obvious per-row Python validator (the baseline): same checks, one row at a time."""
    from loaders.uscc import FORMAT, is_valid

    problems = []
    number, code = row["invoice_number"].strip(), row["invoice_code"].strip()
    if not NUMBER.match(number):
        problems.append("invoice_number_format")
    if not CODE.match(code):
        problems.append("invoice_code_format")
    for side in ("seller_tax_id", "buyer_tax_id"):
        t = row[side].strip().upper()
        if not FORMAT.match(t):
            problems.append("tax_id_format")
        elif not is_valid(t):
            problems.append("tax_id_check")
    try:
        issued = datetime.fromisoformat(row["issue_date"].strip())
        if issued.tzinfo is None:
            issued = issued.replace(tzinfo=TZ)
        if issued > now:
            problems.append("date_future")
    except ValueError:
        problems.append("date_unparseable")
    try:
        amount = int(Decimal(row["amount"]) * 100)
        tax = int(Decimal(row["tax_amount"]) * 100)
        total = int(Decimal(row["total_amount"]) * 100)
        rate = Decimal(row["tax_rate"].rstrip("%"))
        if rate >= 1:
            rate /= 100
        if rate not in RATES:
            problems.append("rate_for_date")
        if amount + tax != total:
            problems.append("total_mismatch")
        expected = int((abs(amount) * rate * 100 + 50) // 100) * (1 if amount >= 0 else -1)
        if abs(expected - tax) > 6:
            problems.append("tax_mismatch")
    except (InvalidOperation, ValueError):
        problems.append("bad_value")
    if row["seller_tax_id"] == row["buyer_tax_id"]:
        problems.append("same_party")
    key = f"{code}-{number}" if code else number
    content = tuple(row.values())
    if key in seen and seen[key] != content:
        problems.append("duplicate_key")
    seen.setdefault(key, content)
    return problems


def naive_rate(csv_path: Path, sample: int) -> float:
    """Rows per second of :func:`naive_validate` over the first ``sample`` rows of ``csv_path``."""
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = [r for _, r in zip(range(sample), csv.DictReader(f), strict=False)]
    seen: dict[str, tuple[str, ...]] = {}
    now = datetime.now(TZ)
    started = time.perf_counter()
    for r in rows:
        naive_validate(r, seen, now)
    return len(rows) / (time.perf_counter() - started)


def ensure_data(data: Path, rows: int, fmt: str) -> Path:
    """Generate (once) ``rows`` invoices in ``fmt`` under ``data``; returns the invoices file."""
    from loaders.generate import generate

    out = data / f"{fmt}-{rows}"
    path = out / f"invoices.{fmt}"
    if not path.exists():
        click.echo(f"generating {rows:,} invoices as {fmt} in {out} ...", err=True)
        generate(out, taxpayers=max(rows // 50, 1000), invoices=rows, seed=7, fmt=fmt, progress=True)
    return path


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat ((0, 0) where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields) - fields[3] - fields[4], sum(fields)   # minus idle and iowait


def measure_one(path: Path, threads: int) -> dict[str, float]:
    """Run one load (validate only) in this process; returns rows, seconds and peak RSS (MB)."""
    import pandas  # noqa: F401  (pyarrow imports it lazily on first use: library start-up, not throughput)

    from loaders.load import default_threads, load_files

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    with tempfile.TemporaryDirectory(prefix="fapiao-bench-") as tmp:
        busy0, all0 = machine_jiffies()
        cpu0, started = cpu(), time.perf_counter()
        report = load_files(None, path, report_dir=Path(tmp), threads=threads or None)
        seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu0
        busy1, all1 = machine_jiffies()
    # CPU time other processes used during the run, as a share of all CPUs (clock ticks are 10 ms)
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    others = max((busy1 - busy0) / hz - cpu_seconds, 0.0) / max((all1 - all0) / hz, 1e-9)
    return {"rows": report.read, "loaded": report.loaded, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "threads": threads or default_threads(), "others": others,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


#: The floor ``--floor`` measures: DuckDB's own CSV reader straight into a table of a fresh database file (types
#: detected, nothing checked, no quarantine, no evidence), the least work that reads the file and writes it to disk.
FLOOR = "duckdb read_csv (floor)"
FLOOR_CODE = """import json, sys, duckdb
con = duckdb.connect(sys.argv[2] + "/floor.duckdb")
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE invoices AS SELECT * FROM read_csv(?)", [sys.argv[1]])
n = con.execute("SELECT count(*) FROM invoices").fetchone()[0]
con.close()
print(json.dumps({"read": n, "loaded": n, "rejected": 0}))"""


def e2e_one(checkout: Path | str, path: Path) -> dict[str, float]:
    """One ``fapiao load`` of ``path`` into a fresh embedded store, run from ``checkout`` in its own process
    (``checkout`` = :data:`FLOOR`: DuckDB's ``read_csv`` of ``path`` into a fresh database instead)."""
    floor = checkout == FLOOR
    with tempfile.TemporaryDirectory(prefix="fapiao-e2e-") as tmp:
        busy0, all0 = machine_jiffies()
        load0 = os.getloadavg()[0]
        started = time.perf_counter()
        if floor:
            command = [sys.executable, "-c", FLOOR_CODE, str(path), tmp]
        else:
            command = [sys.executable, "-m", "workbench.cli", "load", str(path), "--no-progress",
                       "--store", f"embedded:{tmp}/ws", "--report-dir", f"{tmp}/report"]
        # bytecode written and read as in an installed copy (pip compiles it at install): a PYTHONDONTWRITEBYTECODE
        # inherited from the shell would have every run compile the project's modules again (~0.1-0.2 s of start-up)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        with open(f"{tmp}/stderr", "wb") as err, open(f"{tmp}/stdout", "wb") as out:
            child = subprocess.Popen(command, cwd=ROOT if floor else checkout,
                                     env={**env, "PYTHONPATH": str(ROOT if floor else checkout)},
                                     stdout=out if floor else subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)   # this child's own CPU and peak RSS
            child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        busy1, all1 = machine_jiffies()
        if child.returncode != 0:
            raise click.ClickException(f"{checkout}: fapiao load failed: {Path(tmp, 'stderr').read_text()[-2000:]}")
        report = json.loads((Path(tmp) / "stdout").read_text().strip().splitlines()[-1] if floor else
                            (Path(tmp) / "report" / "report.json").read_text(encoding="utf-8"))
    cpu_seconds = usage.ru_utime + usage.ru_stime
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    others = max((busy1 - busy0) / hz - cpu_seconds, 0.0) / max((all1 - all0) / hz, 1e-9)
    return {"rows": report["read"], "loaded": report["loaded"], "rejected": report["rejected"], "seconds": seconds,
            "cpu_seconds": cpu_seconds, "rss_mb": usage.ru_maxrss / 1024, "others": others,
            "load": (load0 + os.getloadavg()[0]) / 2}


def run_e2e(checkouts: list[Path | str], path: Path, repeat: int) -> None:
    """Print the end-to-end table: each checkout's runs, alternating, and its best run."""
    from rich.console import Console
    from rich.table import Table

    head = path.with_name("e2e-two-rows.csv")
    with path.open("rb") as f:
        head.write_bytes(b"".join(f.readline() for _ in range(3)))
    for c in checkouts:
        e2e_one(c, head)   # a fresh copy compiles its bytecode (and an older one its numba kernels) here, not in the runs
    runs: dict[Path | str, list[dict[str, float]]] = {c: [] for c in checkouts}
    for _ in range(max(repeat, 1)):
        for c in checkouts:
            runs[c].append(e2e_one(c, path))
    table = Table(title=f"fapiao load {path.name}, process start to exit, fresh embedded store each run",
                  caption=f"{os.cpu_count()} CPUs. CPU s = user + sys of the load process and its threads. "
                          "'others' CPU' = share of all CPUs used by other processes during the run; "
                          "wall times on a shared machine include waiting for a CPU, CPU seconds do not.")
    for col in ("checkout", "run", "rows", "loaded", "rejected", "wall s", "rows/s", "CPU s", "rows/CPU-s",
                "peak RSS", "load avg", "others' CPU"):
        table.add_column(col, justify="left" if col == "checkout" else "right")
    for c in checkouts:
        for i, m in enumerate(runs[c], 1):
            table.add_row(str(c), str(i), f"{int(m['rows']):,}", f"{int(m['loaded']):,}", f"{int(m['rejected']):,}",
                          f"{m['seconds']:.2f}", f"{m['rows'] / m['seconds']:,.0f}", f"{m['cpu_seconds']:.2f}",
                          f"{m['rows'] / max(m['cpu_seconds'], 1e-9):,.0f}", f"{m['rss_mb']:,.0f} MB",
                          f"{m['load']:.1f}", f"{m['others']:.0%}")
    console = Console(width=160)
    console.print(table)
    for c in checkouts:   # the figure to compare: medians over the alternating runs
        rs = runs[c]
        console.print(f"{c}: median of {len(rs)} runs: CPU {statistics.median(m['cpu_seconds'] for m in rs):.2f} s, "
                      f"wall {statistics.median(m['seconds'] for m in rs):.2f} s, "
                      f"{statistics.median(m['rows'] / m['seconds'] for m in rs):,.0f} rows/s, "
                      f"peak RSS {statistics.median(m['rss_mb'] for m in rs):,.0f} MB, "
                      f"load average {statistics.median(m['load'] for m in rs):.1f}", markup=False)
    head.unlink(missing_ok=True)


def checkout_dir(name: str, data: Path) -> Path:
    """``name`` as a folder holding a copy of the project: an existing folder as it is, else a git revision of
    this repository unpacked once with ``git archive`` into ``data/checkout-<commit>``."""
    if Path(name).is_dir():
        return Path(name).resolve()
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{name}^{{commit}}"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise click.BadParameter(f"{name!r} is neither a folder nor a git revision of {ROOT}") from e
    out = data / f"checkout-{commit[:12]}"
    if not (out / "loaders").is_dir():
        part = data / f"checkout-{commit[:12]}.part"
        part.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(part)], input=archive, check=True)
        part.rename(out)
    return out.resolve()


@click.command()
@click.option("--rows", "row_counts", multiple=True, type=int, default=[1_000_000], show_default=True,
              help="Invoice counts to measure (repeatable).")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False), default=Path("/tmp/fapiao-bench-data"),
              show_default=True, help="Where generated benchmark files are cached.")
@click.option("--formats", default="parquet,csv", show_default=True, help="Comma-separated sources to measure.")
@click.option("--naive-sample", default=50_000, show_default=True, help="Rows the naive baseline validates.")
@click.option("--threads", "thread_counts", multiple=True, type=int, default=[1, 0], show_default=True,
              help="Validation threads to measure (repeatable); 0 = the loader's default (one per CPU).")
@click.option("--repeat", default=1, show_default=True,
              help="Runs per line (each in a fresh process); the fastest is shown.")
@click.option("--one", type=click.Path(path_type=Path, dir_okay=False), hidden=True)
@click.option("--e2e", is_flag=True, help="Time `fapiao load` of the CSV end to end (store written) instead.")
@click.option("--checkout", "checkouts", multiple=True,
              help="With --e2e: another copy of the project to time on the same file (repeatable): a folder, or a "
                   "git revision of this repository (e.g. main, c87630c), unpacked with `git archive` under --data.")
@click.option("--floor", is_flag=True,
              help="With --e2e: also time DuckDB's own read_csv of the file into a fresh database (no checks), "
                   "alternating with the loads: the floor of reading and storing the file on this machine.")
def main(row_counts: tuple[int, ...], data: Path, formats: str, naive_sample: int, thread_counts: tuple[int, ...],
         repeat: int, one: Path | None, e2e: bool, checkouts: tuple[str, ...], floor: bool) -> None:
    """Measure load throughput and print the table."""
    if e2e:
        data.mkdir(parents=True, exist_ok=True)
        copies: list[Path | str] = sorted({ROOT, *(checkout_dir(c, data) for c in checkouts)}, key=lambda c: c != ROOT)
        run_e2e([*copies, FLOOR] if floor else copies, ensure_data(data, min(row_counts), "csv"), repeat)
        return
    if one is not None:
        click.echo(json.dumps(measure_one(one, thread_counts[0] if thread_counts else 0)))
        return
    from rich.console import Console
    from rich.table import Table

    data.mkdir(parents=True, exist_ok=True)
    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    baseline = naive_rate(ensure_data(data, min(row_counts), "csv"), naive_sample)
    load = os.getloadavg()[0]
    table = Table(title=f"load benchmark (validate + normalise; naive baseline {baseline:,.0f} rows/s "
                        f"on a {naive_sample:,}-row sample)",
                  caption=f"{os.cpu_count()} CPUs, load average {load:.1f} at start: wall times include "
                          f"waiting for a CPU, rows/CPU-s does not. 'threads' 1 = read and check on one "
                          f"thread; N > 1 = the next batch read on its own thread, N threads checking "
                          f"batches. 'others' CPU' = share of all CPUs used by other processes during the run."
                          + (f" Fastest of {repeat} runs per line." if repeat > 1 else ""))
    for col in ("source", "threads", "rows", "seconds", "rows/s", "target", "ratio vs naive", "peak RSS", "CPU s",
                "rows/CPU-s", "others' CPU"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for rows in row_counts:
        for fmt in fmts:
            path = ensure_data(data, rows, fmt)
            for threads in thread_counts:
                runs = []
                for _ in range(max(repeat, 1)):
                    out = subprocess.run([sys.executable, __file__, "--one", str(path), "--threads", str(threads)],
                                         capture_output=True, text=True, check=True)
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                m = min(runs, key=lambda r: r["seconds"])   # the run least disturbed by other processes
                rate = m["rows"] / m["seconds"]
                table.add_row(fmt, f"{int(m['threads'])}", f"{int(m['rows']):,}", f"{m['seconds']:.2f}", f"{rate:,.0f}",
                              f"{TARGETS.get(fmt, 0):,} {'✓' if rate >= TARGETS.get(fmt, 0) else '✗'}",
                              f"{rate / baseline:.1f}×", f"{m['rss_mb']:,.0f} MB", f"{m['cpu_seconds']:.2f}",
                              f"{m['rows'] / max(m['cpu_seconds'], 1e-9):,.0f}", f"{m['others']:.0%}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()

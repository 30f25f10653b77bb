"""HTTP API benchmark (loopback only, bounded): batch import through `POST /invoices` against `fapiao load` on the
same data, and `POST /invoices/verify` latency at a fixed request rate.

    .venv/bin/python benchmarks/bench_api.py                       # 100K invoices, 4 clients, 200 req/s for 10 s
    .venv/bin/python benchmarks/bench_api.py --invoices 20000 --seconds 5
    .venv/bin/python benchmarks/bench_api.py --server process --body json,arrow   # two body kinds, one CLI figure
    .venv/bin/python benchmarks/bench_api.py --verify-only --server process     # verify only, `fapiao api` process
    .venv/bin/python benchmarks/bench_api.py --verify-only --server process --verify-runs 5 --seconds 10
    FAPIAO_BENCH_CODE=/path/to/other/checkout .venv/bin/python benchmarks/bench_api.py   # that checkout's code
    FAPIAO_BENCH_SERVER_PATH=/tmp/extra ... --server process     # more import paths for the server (httptools ...)
    FAPIAO_BENCH_SERVER_PREFIX="py-spy record -o prof.txt --" ...     # run the server under a profiler
    FAPIAO_BENCH_KEEP=1 ...                                     # keep the generated data and workspaces (in /tmp)

The CLI is measured two ways on the same generated rows (`loaders.generate`), both into an empty workspace:
**`fapiao load FILE`** as a user runs it - its own process, timed from its start to its exit (interpreter start,
imports, the load, report, audit; issue 14 defines the command's speed this way), after an uncounted 2-row run so
that a fresh checkout's bytecode compile is not in it - and **`load_files` in this process** with its imports
already done (the loader's work alone: not what a user gets, kept as the stricter yardstick). The API path
is batches of `--batch` rows (JSON, or the same rows as an Arrow IPC stream / Parquet body / Parquet upload:
`--body`, each kind into its own fresh workspace; bodies are encoded before the clock starts) from `--clients`
concurrent clients to a real uvicorn server on 127.0.0.1, its rows/s given as a share of both CLI figures of the
same run. 查验 (`POST /invoices/verify`) is sent open-loop at `--rate` per second for `--seconds`, `--verify-runs`
times, after 3 s of warm-up (the store's key index and the API's in-memory 查验 index are built by the first
lookups), from `bench_api_client.py`, a process of its own (one thread, raw keep-alive sockets, ≈ 0.3 CPU-ms per
request, latency from each request's scheduled time); the same process then sends 200 requests one at a time (the
time one 查验 takes). Each run's line gives p50 / p95 / p99, the server's CPU per request (with `--server process`),
the client's and the load. (The earlier client - 32 httpx threads in this process, `--verify-client threads`, ≈ 2
CPU-ms per request on the same cores - was removed: one timing path for 查验, in the client process.)

`--server thread` (default) runs uvicorn on a thread of this process, so the clients and the server share one
interpreter (GIL); `--server process` runs `fapiao api` in its own process, as deployed. `--verify-only` loads the
API's workspace with `load_files` instead of timing the API import. FAPIAO_BENCH_CODE names another checkout whose
code (loader, store, API) is measured with this harness: old and new code side by side in one session.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

ROOT = Path(os.environ.get("FAPIAO_BENCH_CODE") or Path(__file__).resolve().parents[1]).resolve()
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from graph import open_store  # noqa: E402
from graph.store import Store  # noqa: E402
from loaders.generate import generate  # noqa: E402
from loaders.load import load_files  # noqa: E402
from workbench import tokens, users  # noqa: E402
from workbench.api import create_app  # noqa: E402
from workbench.api.server import Background  # noqa: E402

_SERVER_PID = [0]    # the `fapiao api` process while it runs (its CPU time is read from /proc)
_THREAD_APP: list[Any] = []   # the app with --server thread (its group-commit counters are printed)


def _server_cpu() -> float:
    """CPU seconds (user + system) the `fapiao api` process has used so far; 0 with the server on a thread."""
    if not _SERVER_PID[0]:
        return 0.0
    fields = Path(f"/proc/{_SERVER_PID[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_threads() -> dict[str, float]:
    """CPU seconds per thread name of the `fapiao api` process (threads of one name summed; from /proc)."""
    out: dict[str, float] = {}
    if not _SERVER_PID[0]:
        return out
    for task in Path(f"/proc/{_SERVER_PID[0]}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "AnyIO worker" if name.startswith("AnyIO") else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


@contextmanager
def _server(uri: str, store: Store | None) -> Iterator[str]:
    """The API's URL: on a thread over ``store`` when given, else `fapiao api` in its own process over ``uri``."""
    if store is not None:
        app = create_app(store, rate=100_000)
        _THREAD_APP[:] = [app]
        with Background(app) as url:
            yield url
        app.state.audit_queue.flush()
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = os.environ.get("FAPIAO_BENCH_SERVER_PATH")     # e.g. a folder with httptools / uvloop for the server
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *([extra] if extra else [])]),
           "FAPIAO_API_RATE": "100000"}
    prefix = os.environ.get("FAPIAO_BENCH_SERVER_PREFIX", "").split()   # e.g. a profiler: py-spy record -o f --
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "workbench.cli", "api", "--host", "127.0.0.1", "--port", str(port),
                             "--store", uri], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("`fapiao api` did not start")
            time.sleep(0.1)
        _SERVER_PID[0] = proc.pid
        yield url
    finally:
        _SERVER_PID[0] = 0
        proc.terminate()
        proc.wait(timeout=60)

FIELDS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
          "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate", "invoice_type", "status", "red_ref",
          "item_code", "item_name")


def _rows(path: Path) -> list[dict[str, str]]:
    table = pq.read_table(path)
    cols = [c for c in FIELDS if c in table.column_names]
    data = {c: table.column(c).cast("string").to_pylist() for c in cols}
    return [{c: data[c][i] for c in cols if data[c][i] not in (None, "")} for i in range(table.num_rows)]


ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
BODIES = ("json", "arrow", "parquet-body", "parquet")


def _columns(part: list[dict[str, str]]) -> Any:
    import pyarrow as pa

    names = [c for c in FIELDS if any(c in r for r in part)]   # from_pylist would take the first row's
    return pa.table({c: pa.array([r.get(c) for r in part], pa.string()) for c in names})


def _encode(kind: str, part: list[dict[str, str]]) -> tuple[bytes, str]:
    """One batch as the request body of ``kind`` and its content type (multipart for an upload)."""
    import io

    import pyarrow as pa

    if kind == "json":
        return json.dumps({"invoices": part}, ensure_ascii=False).encode("utf-8"), "application/json"
    out = io.BytesIO()
    if kind == "arrow":
        table = _columns(part)
        with pa.ipc.new_stream(out, table.schema) as w:
            w.write_table(table)
        return out.getvalue(), ARROW
    pq.write_table(_columns(part), out)
    return out.getvalue(), PARQUET if kind == "parquet-body" else "multipart"


def _import(url: str, headers: dict[str, str], bodies: list[tuple[bytes, str]], clients: int) -> tuple[dict[str, int], float]:
    """Send the bodies from ``clients`` threads (each with its own connection); totals of the answers, seconds."""
    totals = {"read": 0, "loaded": 0, "rejected": 0, "skipped": 0}
    lock = threading.Lock()
    local = threading.local()

    def push(item: tuple[bytes, str]) -> None:
        data, ctype = item
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = httpx.Client(base_url=url, headers=headers, timeout=300)
        if ctype == "multipart":
            r = c.post("/invoices", files={"file": ("batch.parquet", data)})
        else:
            r = c.post("/invoices", content=data, headers={"content-type": ctype})
        r.raise_for_status()
        got = r.json()
        with lock:
            totals["read"] += got["read"]
            totals["loaded"] += got["loaded"]
            totals["rejected"] += got["rejected"]
            totals["skipped"] += got["skipped_identical"]

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(push, bodies))
    return totals, time.perf_counter() - t


@click.command()
@click.option("--invoices", default=100_000, show_default=True)
@click.option("--batch", default=1_000, show_default=True)
@click.option("--clients", default=4, show_default=True)
@click.option("--rate", default=200, show_default=True, help="verify requests per second")
@click.option("--seconds", default=10.0, show_default=True, help="how long verify load runs")
@click.option("--server", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
              help="the API on a thread of this process, or `fapiao api` in its own process")
@click.option("--verify-only", is_flag=True, help="load the API's workspace with load_files; time only verify")
@click.option("--verify/--no-verify", "with_verify", default=True, show_default=True,
              help="time 查验 after the imports (--no-verify: the imports only)")
@click.option("--verify-runs", default=1, show_default=True, help="open-loop 查验 runs, one after another")
@click.option("--body", default="json", show_default=True,
              help="comma-separated body kinds, each imported into its own fresh workspace in this run: json "
                   "(JSON rows), arrow (Arrow IPC stream), parquet-body (a Parquet body), parquet (an uploaded "
                   "Parquet file); verify runs against the last one's workspace")
def main(invoices: int, batch: int, clients: int, rate: int, seconds: float, server: str, verify_only: bool,
         with_verify: bool, body: str, verify_runs: int) -> None:
    kinds = [k.strip() for k in body.split(",") if k.strip()]
    if not kinds or any(k not in BODIES for k in kinds):
        raise click.BadParameter(f"--body: one or more of {', '.join(BODIES)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    if not os.environ.get("FAPIAO_BENCH_KEEP"):      # the workspaces (≈ 200 MB per run) go when the run ends
        atexit.register(shutil.rmtree, tmp, True)
    generate(tmp / "data", taxpayers=max(200, invoices // 50), invoices=invoices, seed=3)
    src = tmp / "data" / "invoices.parquet"
    rows = _rows(src)
    chunks = [rows[i:i + batch] for i in range(0, len(rows), batch)]

    load_before = os.getloadavg()[0]
    lines: list[str] = []
    figures: dict[str, Any] = {}
    proc_rate = 0.0
    proc: dict[str, Any] = {}
    if not verify_only:
        # `fapiao load` as a user runs it: its own process, start to exit, into a fresh workspace (issue 14's
        # definition of its speed); a 2-row file first, not counted (a fresh checkout's kernel compile)
        pq.write_table(pq.read_table(src).slice(0, 2), tmp / "two-rows.parquet")
        _cli_process(tmp / "two-rows.parquet", tmp / "cli-warm")
        proc = _cli_process(src, tmp / "cli-proc")
        proc_rate = proc["read"] / proc["seconds"]
        figures.update({"cli_process_rows_s": proc_rate, "cli_process_s": proc["seconds"],
                        "cli_process_cpu_s": proc["cpu_s"]})
    with open_store(f"embedded:{tmp / 'cli'}") as store:
        t, cpu = time.perf_counter(), time.process_time()
        report = load_files(store, src, report_dir=tmp / "cli-report")
        cli_s, cli_cpu = time.perf_counter() - t, time.process_time() - cpu
        cli_loaded = store.counts().invoices
    cli_rate = report.read / cli_s
    if not verify_only:
        lines.append(f"| `fapiao load FILE` (its own process, start to exit, fresh workspace) | {proc['read']:,} "
                     f"| {proc['loaded']:,} | {proc['rejected']:,} | {proc['seconds']:.2f} | {proc_rate:,.0f} "
                     f"| 100 % | {proc_rate / cli_rate:.1%} | {proc['cpu_s']:.2f} CPU-s, "
                     f"{proc['cpu_s'] * 1e6 / max(proc['read'], 1):.0f} |")
    proc_rate = proc_rate or cli_rate
    lines.append(f"| `load_files` in this process (imports done; not what a user runs) | {report.read:,} "
                 f"| {cli_loaded:,} | {report.rejected:,} | {cli_s:.2f} | {cli_rate:,.0f} "
                 f"| {cli_rate / proc_rate:.1%} | 100 % | {cli_cpu:.2f} CPU-s, "
                 f"{cli_cpu * 1e6 / max(report.read, 1):.0f} |")
    figures.update({"cli_rows_s": cli_rate, "cli_cpu_s": cli_cpu})
    for kind in kinds if not verify_only else kinds[-1:]:
        api_uri = f"embedded:{tmp / ('api-' + kind)}"
        with open_store(api_uri) as store:
            users.create_user(store, "bench", "loopback-only-9Xq2", ["admin"])
            token, _ = tokens.create_token(store, "bench")
            if verify_only:
                load_files(store, src, report_dir=tmp / "api-report")
        headers = {"Authorization": f"Bearer {token}"}
        # the bodies are encoded before the clock starts: encoding is the sending system's cost, not the API's
        bodies = [_encode(kind, part) for part in chunks]
        with ExitStack() as stack:
            on_thread = stack.enter_context(open_store(api_uri)) if server == "thread" else None
            url = stack.enter_context(_server(api_uri, on_thread))
            writer = getattr(_THREAD_APP[0].state, "writer", None) if on_thread is not None else None
            groups0 = (writer.groups, writer.batches) if writer is not None else (0, 0)
            if not verify_only:
                cpu0, threads0, client0 = _server_cpu(), _server_threads(), time.process_time()
                totals, api_s = _import(url, headers, bodies, clients)
                import_cpu = _server_cpu() - cpu0
                client_cpu = time.process_time() - client0
                by_thread = {k: v - threads0.get(k, 0.0) for k, v in _server_threads().items()}
                by_thread = {k: round(v, 2) for k, v in sorted(by_thread.items(), key=lambda kv: -kv[1]) if v >= 0.01}
                figures[f"api_{kind}_server_threads_cpu_s"] = by_thread
                figures[f"api_{kind}_client_cpu_s"] = round(client_cpu, 2)
                api_rate = totals["read"] / api_s
                grouped = ""
                if writer is not None and writer.groups > groups0[0]:
                    grouped = f" ({(writer.batches - groups0[1]) / (writer.groups - groups0[0]):.1f} batches per group)"
                with open_store(api_uri) if on_thread is None else _same(on_thread) as st:
                    api_loaded = st.counts().invoices
                lines.append(
                    f"| API `{kind}`, {clients} clients x batches of {batch:,}{grouped} | {totals['read']:,} "
                    f"| {api_loaded:,} | {totals['rejected']:,} | {api_s:.2f} | {api_rate:,.0f} "
                    f"| **{api_rate / proc_rate:.1%}** | {api_rate / cli_rate:.1%} | "
                    + (f"{import_cpu:.2f} CPU-s, {import_cpu * 1e6 / max(totals['read'], 1):.0f} (server) |"
                       if import_cpu else " |"))
                figures[f"api_{kind}_rows_s"] = api_rate
                figures[f"api_{kind}_ratio"] = api_rate / cli_rate
                figures[f"api_{kind}_ratio_cli_process"] = api_rate / proc_rate
                figures[f"api_{kind}_server_cpu_s"] = import_cpu
            if kind == kinds[-1] and (with_verify or verify_only):
                figures.update(_verify(url, headers, rows, rate, seconds, verify_runs))

    print(f"code: {ROOT}; server: {server}; {invoices:,} invoices; 1-min load average before {load_before:.1f}, "
          f"after {os.getloadavg()[0]:.1f}")
    print("| path | invoices read | stored | rejected | seconds | rows/s | of `fapiao load` (process) "
          "| of `load_files` in process | CPU: s, µs per row |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines) + "\n")
    if "verify_line" in figures:
        print(figures.pop("verify_line"))
    print(json.dumps(figures))


def _cli_process(path: Path, folder: Path) -> dict[str, Any]:
    """`fapiao load PATH` into a fresh embedded workspace under ``folder``, in a process of its own (this run's
    code: ROOT), timed from its start to its exit; its counts (report.json) and its own CPU seconds."""
    command = [sys.executable, "-m", "workbench.cli", "load", str(path), "--no-progress",
               "--store", f"embedded:{folder / 'ws'}", "--report-dir", str(folder / "report")]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    err = child.stderr.read() if child.stderr is not None else b""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"fapiao load failed: {err.decode(errors='replace')[-2000:]}")
    report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
    return {"read": report["read"], "loaded": report["loaded"], "rejected": report["rejected"], "seconds": seconds,
            "cpu_s": usage.ru_utime + usage.ru_stime}


@contextmanager
def _same(store: Store) -> Iterator[Store]:
    yield store


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def _verify(url: str, headers: dict[str, str], rows: list[dict[str, str]], rate: int, seconds: float,
            runs: int = 1) -> dict[str, Any]:
    """Open-loop 查验 at ``rate`` per second for ``seconds`` (each request at its scheduled time), ``runs`` times,
    then 200 requests one at a time; latencies and the server's CPU per request. Every timed request is sent by
    bench_api_client.py, a process of its own (one thread, raw keep-alive sockets, ≈ 0.3 CPU-ms per request),
    latency from each request's scheduled time."""
    sample = rows[:: max(1, len(rows) // 2000)]
    bodies = [{"number": r["invoice_number"], **({"code": r["invoice_code"]} if r.get("invoice_code") else {}),
               "issue_date": r["issue_date"][:10], "amount": r["amount"]} for r in sample]
    with httpx.Client(base_url=url, headers=headers, timeout=300) as c:    # the first lookup builds indexes (the
        c.post("/invoices/verify", json=bodies[0])                      # store's key index, the API's 查验 index
        warm = time.perf_counter() + 3                                  # on a thread of its own): 3 s of warm-up,
        while time.perf_counter() < warm:                               # not timed
            c.post("/invoices/verify", json=bodies[0])
    n = int(rate * seconds)
    out: dict[str, Any] = {"verify_runs": []}
    text: list[str] = []
    for run in range(runs):
        load0 = os.getloadavg()[0]
        cpu0 = _server_cpu()
        got = _client(url, headers, bodies, {"rate": rate, "seconds": seconds})
        lat, sent = got["from_scheduled_ms"], got["from_sent_ms"]
        cpu_ms = (_server_cpu() - cpu0) * 1000 / n
        p50, p95, p99 = (_pct(lat, q) for q in (0.5, 0.95, 0.99))
        one = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "p99_ms": round(p99, 2),
               "max_ms": round(lat[-1], 1), "p95_from_send_ms": round(_pct(sent, 0.95), 2),
               "achieved_rps": round(got["achieved_rps"], 1), "server_cpu_ms": round(cpu_ms, 3),
               "client_cpu_ms": round(got["client_cpu_s"] * 1000 / n, 3), "load": [round(load0, 2),
                                                                                 round(os.getloadavg()[0], 2)],
               "answers": got["answers"]}
        out["verify_runs"].append(one)
        text.append(f"verify run {run + 1}: {n:,} requests scheduled at {rate}/s, achieved "
                    f"{got['achieved_rps']:.0f}/s; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max "
                    f"{lat[-1]:.1f} ms (p95 from the send {one['p95_from_send_ms']:.1f} ms); answers {got['answers']}"
                    + (f"; server CPU {cpu_ms:.2f} ms per request" if cpu_ms else "")
                    + f"; client CPU {one['client_cpu_ms']:.2f} ms per request; 1-min load {load0:.1f} → "
                      f"{os.getloadavg()[0]:.1f}")
    seq = _client(url, headers, bodies, {"sequential": min(200, n)})
    service = seq["from_sent_ms"]
    text.append(f"verify, one client sequentially ({len(service)} requests): p50 {_pct(service, 0.5):.2f} ms, "
                f"p95 {_pct(service, 0.95):.2f} ms; answers {seq['answers']}")
    first = out["verify_runs"][0]
    out.update({"verify_line": "\n".join(text), "verify_p95_ms": first["p95_ms"], "verify_p50_ms": first["p50_ms"],
                "achieved_rps": first["achieved_rps"], "server_cpu_ms_per_verify": first["server_cpu_ms"],
                "client_cpu_ms_per_verify": first["client_cpu_ms"]})
    return out


def _client(url: str, headers: dict[str, str], bodies: list[dict[str, str]], mode: dict[str, Any]) -> dict[str, Any]:
    """Run bench_api_client.py over ``bodies`` (``mode``: ``rate`` and ``seconds``, or ``sequential``: a count)."""
    host, port = url.removeprefix("http://").split(":")
    spec = {"host": host, "port": int(port), "token": headers["Authorization"].split(" ", 1)[1], "requests": bodies,
            **mode}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).with_name("bench_api_client.py")), f.name],
                              capture_output=True, text=True, timeout=float(mode.get("seconds", 30)) * 4 + 60)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise RuntimeError(f"the 查验 client failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()

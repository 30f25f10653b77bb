"""Do the workbench's pages keep rendering while the API ingests into the same workspace?

    .venv/bin/python benchmarks/bench_pages_during_ingest.py --data /tmp/bench-pages --rounds 4

Needs Chromium (Debian ``chromium``; ``FAPIAO_CHROMIUM`` to point elsewhere). Prepares a demo workspace
(``fapiao demo --data DIR --no-serve``, reused when present), then starts, each in its own process as deployed,
the workbench (``fapiao serve``) and the HTTP API (``fapiao api``) on that one embedded workspace. A supervisor
signs in in headless Chromium and opens 总览 / 风险队列 / 团伙 from the sidebar, ``--rounds`` times with the API
idle, then ``--rounds`` times while ``--clients`` clients push freshly generated invoices to ``POST /invoices`` in
batches of ``--batch`` without pause. Prints, per page, the seconds from the click to the page settled (median and
worst) in both phases and their ratio, the rows the API stored during the second phase, and the load average.
Finally checks that every pushed row was answered (loaded + rejected + identical = sent) and that the workspace
holds the demo's invoices plus those loaded. Not a test: a measurement to report (the machine may be shared).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import click
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import _rows  # noqa: E402
from graph import open_store  # noqa: E402
from loaders.generate import generate  # noqa: E402
from tests.e2e.conftest import CHROMIUM, LAUNCH_ARGS, _free_port  # noqa: E402
from tests.helpers.browser import go, sign_in  # noqa: E402
from workbench import tokens, users  # noqa: E402

PAGES = ("总览", "风险队列", "团伙")


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


@contextmanager
def _process(args: list[str], env: dict[str, str], ready: str) -> Iterator[str]:
    """Start ``args`` (a server on a free port, appended as ``--port``) and yield its URL once ``ready`` answers."""
    port = _free_port()
    proc = subprocess.Popen([*args, "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise click.ClickException(f"{' '.join(args[:4])} did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _open(page: object, title: str) -> float:
    t = time.perf_counter()
    go(page, title)
    return time.perf_counter() - t


@click.command(help=__doc__)
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=Path("/tmp/bench-pages"),
              show_default=True, help="Demo folder (prepared when missing).")
@click.option("--rounds", default=4, show_default=True, help="Visits of each page per phase.")
@click.option("--clients", default=2, show_default=True, help="Concurrent API clients during the second phase.")
@click.option("--batch", default=1_000, show_default=True, help="Invoices per POST /invoices.")
@click.option("--invoices", default=60_000, show_default=True, help="Fresh invoices generated for the API to ingest.")
def main(data: Path, rounds: int, clients: int, batch: int, invoices: int) -> None:
    from playwright.sync_api import sync_playwright

    cli = [sys.executable, "-m", "workbench.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAPIAO_API_RATE": "100000"}
    if not (data / "workspace").exists():
        subprocess.run([*cli, "demo", "--data", str(data), "--no-serve"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    uri = f"embedded:{data.resolve() / 'workspace'}"
    fresh = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    generate(fresh, taxpayers=max(200, invoices // 20), invoices=invoices, seed=11)
    rows = _rows(fresh / "invoices.parquet")
    chunks = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    with open_store(uri) as store:
        before = store.counts().invoices
        if users.get_user(store, "bench-api") is None:
            users.create_user(store, "bench-api", "loopback-only-9Xq2", ["admin"])
        token, _ = tokens.create_token(store, "bench-api")

    idle: dict[str, list[float]] = {p: [] for p in PAGES}
    busy: dict[str, list[float]] = {p: [] for p in PAGES}
    answered = {"read": 0, "loaded": 0, "rejected": 0, "skipped_identical": 0, "batches": 0}
    stop = threading.Event()
    lock = threading.Lock()
    sent = [0]

    def push(client: int) -> None:
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
            for k in range(client, len(chunks), clients):
                if stop.is_set():
                    return
                r = c.post("/invoices", json={"invoices": chunks[k]})
                r.raise_for_status()
                body = r.json()
                with lock:
                    sent[0] += len(chunks[k])
                    answered["batches"] += 1
                    for key in ("read", "loaded", "rejected", "skipped_identical"):
                        answered[key] += int(body[key])

    wb_env = {**env, "FAPIAO_STORE": uri, "FAPIAO_DEMO": "1"}
    with _process([*cli, "serve", "--store", uri], wb_env, "/_stcore/health") as wb, \
            _process([*cli, "api", "--host", "127.0.0.1", "--store", uri], env, "/health") as api, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(wb)   # the first render imports the app: let it finish before signing in
        try:
            page.get_by_label("用户名").wait_for(timeout=180_000)
        except Exception:
            page.screenshot(path=str(data / "sign-in-failed.png"))
            raise
        sign_in(page, wb, "supervisor", "demo-supervisor")
        for title in PAGES:   # warm-up: first renders import and cache
            _open(page, title)
        load_idle = _load()
        for _ in range(rounds):
            for title in PAGES:
                idle[title].append(_open(page, title))
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(push, c) for c in range(clients)]
            time.sleep(3)   # the ingest is under way
            t0 = time.perf_counter()
            with lock:
                rows_at_start = answered["loaded"]
            for _ in range(rounds):
                for title in PAGES:
                    busy[title].append(_open(page, title))
            with lock:
                rows_during = answered["loaded"] - rows_at_start
            seconds_busy = time.perf_counter() - t0
            load_busy = _load()
            stop.set()
            for f in futures:
                f.result()
        browser.close()
    with open_store(uri) as store:
        after = store.counts().invoices
    if answered["read"] != sent[0] or answered["loaded"] + answered["rejected"] + answered["skipped_identical"] != sent[0]:
        raise click.ClickException(f"rows lost: sent {sent[0]}, answered {answered}")
    if after != before + answered["loaded"]:
        raise click.ClickException(f"workspace holds {after:,} invoices, expected {before:,} + {answered['loaded']:,}")
    click.echo(f"workspace {uri}: {before:,} invoices before; the API stored {rows_during:,} rows "
               f"({rows_during / seconds_busy:,.0f}/s) while the pages were timed, {answered['loaded']:,} in all "
               f"({answered['batches']} batches, every row answered; workspace now {after:,})")
    click.echo(f"load average: {load_idle} (idle phase), {load_busy} (ingest phase)\n")
    click.echo("| page | idle median s | idle worst s | during ingest median s | during ingest worst s | ratio of medians |")
    click.echo("|---|---:|---:|---:|---:|---:|")
    for title in PAGES:
        a, b = statistics.median(idle[title]), statistics.median(busy[title])
        click.echo(f"| {title} | {a:.2f} | {max(idle[title]):.2f} | {b:.2f} | {max(busy[title]):.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()

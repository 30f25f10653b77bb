"""``fapiao serve`` (the workbench in your browser) and ``fapiao demo`` (demo data → load → detect → serve)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from graph.core import settings
from graph.core.errors import ConfigError, FapiaoError
from graph.core.notes import Note
from workbench.cli.options import store_option

APP = Path(__file__).resolve().parents[1] / "ui" / "server.py"   # Streamlit serving ui/app.py
PARAMS_FILE = "demo-params.json"


def streamlit_command(port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line for the workbench: headless, no usage statistics, offline.

    The options repeat ``.streamlit/config.toml`` so the workbench behaves the same from any directory.
    """
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", address, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.runOnSave", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
            "--client.showErrorDetails", "none", "--client.disableDataExport", "true",
            "--server.maxUploadSize", str(settings.get_int("FAPIAO_UPLOAD_MAX_MB")),
            "--theme.base", "light"]


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def run_server(store_uri: str, port: int, address: str, *, demo: bool = False) -> None:
    """Run the workbench in the foreground until Ctrl-C; raises ConfigError when the port is taken."""
    if not _port_free(address, port):
        raise ConfigError(f"port {port} on {address} is in use: choose another with --port")
    env = dict(os.environ, FAPIAO_STORE=store_uri)
    if demo:
        env["FAPIAO_DEMO"] = "1"
    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    click.secho(f"Workbench: http://{host}:{port}   (store {store_uri}; Ctrl-C stops it)", fg="green", bold=True)
    proc = subprocess.Popen(streamlit_command(port, address), env=env)
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:   # a service manager's stop reaches Streamlit too
        stopping.append(signum)
        proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code != 0 and not stopping:
        raise FapiaoError(f"the workbench server stopped with exit code {code}")


def _work_in(store: Any) -> dict[str, int]:
    """What a demo reload would destroy that is not the demo's own: real users and cases (empty if none)."""
    users = [r for r in store.records("user") if not r.get("demo")]
    cases = store.records("case")
    return {k: n for k, n in (("users", len(users)), ("cases", len(cases))) if n}


@click.command("serve")
@store_option()
@click.option("--port", type=int, default=8501, show_default=True, help="HTTP port of the workbench.")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 0.0.0.0 serves the whole network (put it behind your proxy).")
def serve(store_uri: str | None, port: int, address: str) -> None:
    """Start the investigation workbench in the browser (Streamlit, headless, offline).

    \b
    Sign in with an account made by `fapiao users add`, or start `fapiao demo` for demo accounts.
    Usage statistics are off and nothing is loaded from the internet.
    """
    run_server(store_uri or settings.get("FAPIAO_STORE"), port, address)


# --- demo ---------------------------------------------------------------------------------------------
@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time one demo stage; any failure becomes one clear line naming the stage, then exit code 1."""
    click.secho(f"▶ {name}", bold=True)
    t0 = time.perf_counter()
    try:
        yield
    except (FapiaoError, OSError, ValueError, RuntimeError, ImportError, KeyError) as e:
        click.secho(f"demo failed at stage '{name}': {type(e).__name__}: {e}", fg="red", err=True)
        raise SystemExit(1) from e
    timings[name] = time.perf_counter() - t0
    click.echo(f"  done in {timings[name]:.1f} s")


def _same_params(path: Path, params: dict[str, Any]) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")) == params)
    except (OSError, ValueError):
        return False




@click.command("demo")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"),
              show_default=True, help="Folder for the demo data, its workspace and the findings.")
@click.option("--taxpayer-count", "--taxpayers", "taxpayers", type=int, default=5000, show_default=True, help="Demo taxpayers.")
@click.option("--invoices", type=int, default=100_000, show_default=True, help="Demo invoices.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generator.")
@store_option("Store to fill [default: embedded:DATA/workspace, so the demo never touches your own].")
@click.option("--port", type=int, default=8501, show_default=True, help="HTTP port of the workbench.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Start the workbench after preparing (--no-serve only prepares).")
@click.option("--force", is_flag=True,
              help="Reload even when the store holds users, cases or an audit trail (they are wiped).")
def demo(data_dir: Path, taxpayers: int, invoices: int, seed: int, store_uri: str | None, port: int, address: str,
         serve: bool, force: bool) -> None:
    """Prepare and start a demo: synthetic data with planted rings, loaded, detected, demo users.

    \b
    Stages (each is skipped when its result is already there with the same parameters):
      1. generate  DATA/invoices.parquet, DATA/taxpayers.parquet, DATA/truth/ (planted rings)
      2. load      into the store (default embedded:DATA/workspace), rejects in a quarantine file
      3. detect    rings and risk tiers; DATA/findings/rings.csv, taxpayer_scores.csv
                   (run again when the detectors changed since: DETECTOR_VERSION)
      4. users     one demo account per role (printed below; demo mode only)
      5. serve     the workbench on http://127.0.0.1:PORT
    A failing stage prints what failed and exits with a non-zero code.
    """
    if taxpayers < 50 or invoices < 500:
        raise ConfigError("the demo needs at least --taxpayer-count 50 and --invoices 500")
    os.environ["FAPIAO_DEMO"] = "1"
    data_dir = data_dir.resolve()
    uri = store_uri or f"embedded:{data_dir / 'workspace'}"
    params = {"taxpayers": taxpayers, "invoices": invoices, "seed": seed}
    timings: dict[str, float] = {}
    stamp = data_dir / PARAMS_FILE
    fresh_data = not (_same_params(stamp, params) and (data_dir / "invoices.parquet").is_file())

    with _stage("generate demo data", timings):
        if fresh_data:
            from loaders.generate import generate

            summary = generate(data_dir, taxpayers=taxpayers, invoices=invoices, seed=seed, progress=True)
            stamp.write_text(json.dumps(params), encoding="utf-8")
            click.echo(f"  {summary.invoices:,} invoices, {summary.taxpayers:,} taxpayers, planted rings: "
                       + ", ".join(f"{k} {v}" for k, v in summary.rings.items()))
        else:
            click.echo(f"  {data_dir} already holds this data set (same parameters): kept")

    from graph import open_store

    with _stage("open the store", timings):
        store = open_store(uri)
    try:
        loaded_stamp = data_dir / "workspace-loaded.json"
        with _stage("load into the store", timings):
            if not fresh_data and _same_params(loaded_stamp, {**params, "store": uri}) and store.counts().invoices:
                click.echo(f"  already loaded ({store.counts().invoices:,} invoices): kept")
            else:
                from loaders.load import load_files
                from workbench import audit

                kept = _work_in(store)
                if kept and not force:
                    raise ConfigError(f"{uri} holds {', '.join(f'{n} {k}' for k, n in kept.items())}: `fapiao demo` would wipe them; use another --data "
                                      "folder or --store, or add --force")
                store.clear()
                audit.record(store, None, "demo_reset", f"store:{uri}", Note("demo_wiped", kept),
                             actor=audit.cli_actor())
                loaded_stamp.unlink(missing_ok=True)
                report = load_files(store, data_dir / "invoices.parquet", taxpayers=data_dir / "taxpayers.parquet",
                                    report_dir=data_dir / "load-report", progress=True)
                click.echo(f"  read {report.read:,}, loaded {report.loaded:,}, rejected {report.rejected:,}"
                           + (f" (quarantine: {report.quarantine_path})" if report.rejected else ""))
                if report.loaded == 0:
                    raise FapiaoError("no invoice was loaded; see the load report in " + str(data_dir / "load-report"))
                loaded_stamp.write_text(json.dumps({**params, "store": uri}), encoding="utf-8")
        with _stage("detect rings and score taxpayers", timings):
            from workbench.detect import DETECTOR_VERSION, run_detection, write_outputs

            runs = store.runs()
            if runs and runs[0].params.get("detector") == DETECTOR_VERSION \
                    and (data_dir / "findings" / "rings.csv").is_file() and loaded_stamp.is_file() and not fresh_data:
                click.echo(f"  run {runs[0].run_id} already there: kept")
            else:
                from algorithms.kernel_cache import compile_note
                from workbench import audit

                if note := compile_note():
                    click.echo(f"  {note}")
                result = run_detection(store, progress=True, audit_as=audit.cli_actor())
                write_outputs(result, data_dir / "findings")
                tiers = result.scores.column("tier").to_pylist()
                click.echo(f"  {len(result.rings):,} rings; {tiers.count('high'):,} high / {tiers.count('medium'):,} "
                           f"medium risk taxpayers; CSV in {data_dir / 'findings'}")
        with _stage("demo users", timings):
            from workbench.users import ensure_demo_users

            accounts = ensure_demo_users(store)
    finally:
        store.close()

    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    click.echo("")
    click.secho(f"Demo ready in {sum(timings.values()):.0f} s. Open http://{host}:{port} and sign in as:", bold=True)
    for username, password, roles in accounts:
        click.echo(f"  {username:<14} {password:<22} {', '.join(roles)}")
    click.echo(f"Other commands read this store with --store {uri} (or: export FAPIAO_STORE={uri}).")
    if serve:
        with _stage("serve", timings):
            run_server(uri, port, address, demo=True)

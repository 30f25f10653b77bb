"""``fapiao neo4j``: run a real local Neo4j Community 5.26 in the foreground (what ``make neo4j`` calls)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from graph import local_neo4j
from graph.errors import StoreError


@click.command("neo4j")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".fapiao/neo4j"),
              show_default=True, help="Neo4j home: databases, transaction logs and neo4j-local.log. Reused "
              "across runs (a crashed server's data is recovered on the next start).")
@click.option("--port", type=click.IntRange(1, 65535), default=7687, show_default=True,
              help="Bolt port on 127.0.0.1.")
@click.option("--password", default=None, metavar="PW",
              help="Turn auth on: user `neo4j` with this password. Off by default (local use only).")
def neo4j(data_dir: Path, port: int, password: str | None) -> None:
    """Run a local Neo4j Community 5.26 (Bolt on 127.0.0.1) until Ctrl-C.

    The first run builds tools/neo4j-local with Maven (downloads Neo4j's jars once into ~/.m2).
    Memory: FAPIAO_NEO4J_HEAP (JVM -Xmx, default 768m) and FAPIAO_NEO4J_PAGECACHE_MB (default 192).

    \b
    Then, in another shell:
      export FAPIAO_STORE=bolt://127.0.0.1:7687
      fapiao load demo-data/invoices.parquet
    """
    problem = local_neo4j.missing_prerequisites()
    if problem:
        raise StoreError(f"cannot run a local Neo4j: {problem}")
    stop_requested = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    click.echo(f"starting Neo4j on 127.0.0.1:{port} (data: {data_dir})...", err=True)
    with local_neo4j.running(data_dir, port=port, password=password) as server:
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            click.echo(f"Neo4j is ready at {server.uri} (pid {server.pid}, started in {server.started_in_s:.1f} s, "
                       f"log {server.log_path})")
            click.echo(f"export FAPIAO_STORE={server.uri}")
            if password:
                click.echo("export FAPIAO_NEO4J_PASSWORD=...   # the password you passed with --password")
            click.echo("Press Ctrl-C to stop.", err=True)
            sys.stdout.flush()
            while not stop_requested:
                if not server.alive():
                    raise StoreError(f"Neo4j exited unexpectedly; log {server.log_path}:\n{server.log_tail()}")
                time.sleep(0.5)
            click.echo("stopping Neo4j (clean shutdown)...", err=True)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    click.echo("Neo4j stopped.", err=True)

"""``fapiao neo4j``: run a real local Neo4j Community 5.26 in the foreground (what ``make neo4j`` calls)."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from graph.core.errors import StoreError


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
    from graph import local_neo4j

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


@click.command("neo4j-import")
@click.option("--from", "source", required=True, metavar="STORE",
              help="The store to copy from, e.g. embedded:workspace (load and validate there first with "
              "`fapiao load`, which is fast).")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the importer's CSV files (must be empty; default DATA/import-csv, or "
              "./neo4j-import-csv with --csv-only).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".fapiao/neo4j"),
              show_default=True, help="Data folder of the local Neo4j (`fapiao neo4j --data`); its database must "
              "be empty and the server stopped.")
@click.option("--csv-only", is_flag=True, help="Only write the CSV files and print the neo4j-admin command to run "
              "on a (stopped) remote Neo4j server.")
def neo4j_import(source: str, csv_dir: Path | None, data_dir: Path, csv_only: bool) -> None:
    """First load into an empty Neo4j with Neo4j's bulk importer (neo4j-admin database import full).

    Copies taxpayers, identifiers and invoices from STORE into CSV files holding exactly the graph the
    ordinary load would build (TRADES aggregates included), runs the importer on the local Neo4j's data
    folder, starts the server once to create constraints and indexes, and stops it. Then run `fapiao neo4j
    --data DATA` and use FAPIAO_STORE=bolt://... as usual. Detection runs, cases and audit events are not
    copied: run `fapiao detect` against Neo4j afterwards.
    """
    from graph import local_neo4j, open_store
    from graph.neo4j_import import import_local, write_import_csv
    from graph.neo4j_store import Neo4jStore

    t0 = time.perf_counter()
    store = open_store(source)
    try:
        taxpayers, identifiers, invoices = store.taxpayers(), store.identifiers(), store.invoice_stream()
    finally:
        store.close()
    target = csv_dir or (Path("neo4j-import-csv") if csv_only else data_dir / "import-csv")
    csv = write_import_csv(target, invoices=invoices, taxpayers=taxpayers, identifiers=identifiers)
    counts = ", ".join(f"{v:,} {k}" for k, v in csv.counts.items())
    click.echo(f"wrote {target} ({counts}) in {time.perf_counter() - t0:.1f} s", err=True)
    if csv_only:
        click.echo("On the Neo4j server (stopped, empty database), from inside the CSV folder copied there, run:")
        click.echo(csv.command())
        click.echo("then start it and connect once with the workbench (it creates the constraints and indexes).")
        return
    seconds = import_local(data_dir, csv)
    if csv_dir is None:  # our own scratch copy inside the data folder
        shutil.rmtree(target)
    click.echo(f"imported into {data_dir} in {seconds:.1f} s; creating constraints and indexes...", err=True)
    with local_neo4j.running(data_dir) as server:
        neo = Neo4jStore(server.uri)
        try:
            neo.await_indexes()
            got = neo.counts()
        finally:
            neo.close()
    click.echo(f"done in {time.perf_counter() - t0:.1f} s: {got.taxpayers:,} taxpayers, {got.invoices:,} invoices, "
               f"{got.identifiers:,} identifier links. Start it with: fapiao neo4j --data {data_dir}")

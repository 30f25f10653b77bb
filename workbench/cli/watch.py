"""``fapiao watch DIR``: load files dropped into a folder, then detect and alert."""

from __future__ import annotations

import time
from pathlib import Path

import click

from workbench.cli.options import echo_json, json_option, store_option


@click.command("watch")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--every", type=click.FloatRange(min=0.2), default=5.0, show_default=True, metavar="SECONDS",
              help="How often to look for new files.")
@click.option("--settle", type=click.FloatRange(min=0), default=2.0, show_default=True, metavar="SECONDS",
              help="A file is loaded once it has not changed for this long (still being written otherwise).")
@click.option("--once", is_flag=True, help="One pass over the files present, then exit (cron, tests).")
@click.option("--detect/--no-detect", default=True, show_default=True,
              help="Run detection after a pass that stored new invoices.")
@click.option("--deliver/--no-deliver", default=True, show_default=True,
              help="Send due alert e-mails and webhooks after each pass.")
@click.option("--mapping", type=click.Path(path_type=Path, dir_okay=False), help="Column mapping file (as for load).")
@click.option("--map", "map_pairs", multiple=True, metavar="SRC=DST", help="Map one header (as for load).")
@click.option("--encoding", help="Text encoding of CSV/JSON files (default: detected).")
@store_option()
@json_option()
def watch(folder: Path, every: float, settle: float, once: bool, detect: bool, deliver: bool, mapping: Path | None,
          map_pairs: tuple[str, ...], encoding: str | None, store_uri: str | None, as_json: bool) -> None:
    """Watch FOLDER: load every invoice file dropped into it, then detect and raise alerts.

    \b
    Each file (CSV, Excel, JSON, JSON Lines, Parquet, e-invoice XML / OFD / PDF, .zip, .gz) is loaded with
    the rules, quarantine and report of `fapiao load` (audited as cli:<login>) and moved to FOLDER/done/
    (FOLDER/failed/ with the reason in a .error.txt when refused); reports go to FOLDER/reports/. A pass that
    stored new invoices runs detection once, then the alert rules (see `fapiao alerts`). The workspace is
    opened only during a pass, so the workbench, the API and other commands share it.

    \b
    Drop files atomically: write them elsewhere and rename them into FOLDER (or finish writing within
    --settle seconds). Hidden files (starting with '.') are ignored.

    \b
    Examples:
      fapiao watch inbox/                      # until interrupted (Ctrl+C)
      fapiao watch inbox/ --once --settle 0    # whatever is there now
    """
    from graph import open_store
    from workbench import audit
    from workbench.watch import run_pass

    actor = audit.cli_actor()
    while True:
        done = run_pass(lambda: open_store(store_uri), folder, actor=actor, settle=settle, detect=detect,
                        deliver=deliver, mapping=mapping, encoding=encoding, map_pairs=map_pairs)
        if done.arrivals:
            if as_json:
                echo_json({"files": [{"name": a.name, "moved_to": str(a.moved_to), "error": a.error or None,
                                      "read": a.report.read if a.report else 0,
                                      "loaded": a.report.loaded if a.report else 0,
                                      "rejected": a.report.rejected if a.report else 0} for a in done.arrivals],
                           "run_id": done.run_id, "fast_update": done.fast_id, "alerts": done.alerts_raised,
                           "sent": done.deliveries.sent,
                           "seconds": done.seconds})
            else:
                for a in done.arrivals:
                    click.echo(f"{a.name}: " + (f"refused: {a.error}" if a.report is None else
                                                f"read {a.report.read}, loaded {a.report.loaded}, "
                                                f"rejected {a.report.rejected}") + f" -> {a.moved_to}")
                if done.fast_id:
                    click.echo(f"快速更新（暂定） {done.fast_id} in {done.seconds.get('fast_update', 0):.1f} s")
                if done.run_id:
                    click.echo(f"detection {done.run_id} in {done.seconds.get('detect', 0):.1f} s")
                click.echo(f"alerts raised {done.alerts_raised}, deliveries sent {done.deliveries.sent}")
        if once:
            return
        time.sleep(every)

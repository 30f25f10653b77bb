"""The ``fapiao`` command line. Each family of commands lives in its own module of this package."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from graph.core.errors import FapiaoError

# command name -> (module, attribute holding a click command or group); `fapiao --help` lists them sorted
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("workbench.cli.generate", "generate"),
    "load": ("workbench.cli.load", "load"),
    "check-invoice": ("workbench.cli.load", "check_invoice"),
    "inspect": ("workbench.cli.load", "inspect"),
    "detect": ("workbench.cli.detect", "detect"),
    "serve": ("workbench.cli.serve", "serve"),
    "demo": ("workbench.cli.serve", "demo"),
    "api": ("workbench.cli.api", "api"),
    "alerts": ("workbench.cli.alerts", "alerts_group"),
    "watch": ("workbench.cli.watch", "watch"),
    "users": ("workbench.cli.cases", "users"),
    "case": ("workbench.cli.cases", "case"),
    "audit": ("workbench.cli.cases", "audit"),
    "report": ("workbench.cli.report", "report"),
    "keys": ("workbench.cli.keys", "keys"),
    "neo4j": ("workbench.cli.neo4j", "neo4j"),
    "neo4j-import": ("workbench.cli.neo4j", "neo4j_import"),
}

# what `fapiao --help` lists for each command, so that listing imports no command module (kept equal to each
# command's own short help by tests/test_cli_help.py)
SUMMARIES: dict[str, str] = {
    "generate": 'Generate a synthetic invoice network with planted fake-invoicing (虚开) patterns.',
    "load": "Load invoices into the store: a table (CSV, Excel, JSON, JSON Lines, Parquet; also .gz), e-invoice "
            "files (数电 XML, OFD, PDF; scans by OCR with the 'ocr' extra), or a folder or .zip of any of them.",
    "check-invoice": 'Self-check (自查) one invoice against every loader rule and print each problem in words.',
    "inspect": 'Show what `fapiao load PATH` would read, before anything is written.',
    "detect": 'Find fake-invoicing rings and score every taxpayer into low / medium / high risk.',
    "serve": 'Start the investigation workbench in the browser (Streamlit, headless, offline).',
    "demo": 'Prepare and start a demo: synthetic data with planted rings, loaded, detected, demo users.',
    "api": "Serve the HTTP API for other systems (needs the 'api' extra: pip install 'fapiao-workbench[api]').",
    "alerts": 'Alerts (智能提醒): rules that tell people when something needs them.',
    "watch": 'Watch FOLDER: load every invoice file dropped into it, then detect and raise alerts.',
    "users": 'Manage workbench accounts (roles: investigator, supervisor, analyst, admin).',
    "case": 'List and export cases, and verify exported case files.',
    "audit": 'The tamper-evident audit trail (hash-chained events).',
    "report": "Write the period report (期间报告) for the days from --from to --to, as HTML or PDF.",
    "keys": "The installation's Ed25519 signing key: created on first use, private key readable only by you.",
    "neo4j": 'Run a local Neo4j Community 5.26 (Bolt on 127.0.0.1) until Ctrl-C.',
    "neo4j-import": "First load into an empty Neo4j with Neo4j's bulk importer (neo4j-admin database import full).",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is listed or run.

    The command modules import their heavy dependencies inside the commands, so listing them for
    ``--help`` costs little; running one command never imports the others.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            try:
                command = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as e:  # a command family not present in this build
                if e.name != module:
                    raise
                return None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Lists the commands from :data:`SUMMARIES` without importing them (as click would, to read their help)."""
        names = [n for n in self.list_commands(ctx) if n in SUMMARIES and importlib.util.find_spec(COMMANDS[n][0])]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        with formatter.section("Commands"):
            formatter.write_dl([(n, click.Command(n, help=SUMMARIES[n]).get_short_help_str(limit)) for n in names])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="fapiao-workbench")
def cli() -> None:
    """Fapiao workbench: find fake-invoicing (虚开发票) rings in invoice networks.

    \b
    Typical session:
      fapiao generate --out demo-data          # synthetic data with planted rings
      fapiao load demo-data/invoices.parquet --taxpayers demo-data/taxpayers.parquet
      fapiao detect --out findings             # rings.csv, taxpayer_scores.csv
      fapiao serve                             # the workbench in your browser

    The store is chosen by --store or FAPIAO_STORE: embedded:PATH (default embedded:workspace) or a
    Neo4j URI such as bolt://127.0.0.1:7687.
    """


#: set by a command (:func:`exit_when_done`) whose process has nothing left to tear down once it returned
_exit_when_done = False
#: true while :func:`main`, the console entry point, runs a command: the process is that command's alone
_console = False


def in_console_process() -> bool:
    """True when the command runs as its own ``fapiao`` process (the console entry point), false when it is run
    in-process (tests, ``cli.main`` from Python): only then may it set the process up for itself alone
    (``loaders.lean``)."""
    return _console


def exit_when_done() -> None:
    """Have :func:`main` end the process as soon as the running command returns successfully: flush the output,
    run the ``atexit`` handlers, then ``os._exit``, skipping the interpreter's teardown (freeing every module and
    object: 0.4-0.6 s wall of a ``fapiao load`` on the 2-core build machine, more than a 1-row load's own work).
    For commands that have closed their store and files (``fapiao load``); only the console entry point acts on
    it, so a command run in-process (tests, ``cli.main``) returns as before."""
    global _exit_when_done
    _exit_when_done = True


def _exit_now() -> None:
    import atexit
    import logging

    logging.shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    """Console entry point: project errors print as one clear line and exit 1, never a traceback."""
    global _exit_when_done, _console
    os.umask(0o077)   # workspace, quarantine, reports, keys: the service user's alone (0600 files, 0700 folders)
    _exit_when_done = False   # only the command this call runs may ask for it
    _console = True
    try:
        from graph.core import install

        install.check()  # another distribution's `algorithms` / `workbench` installed over ours: one clear line
        cli.main(standalone_mode=False)
        if _exit_when_done:
            _exit_now()
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except FapiaoError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(1)

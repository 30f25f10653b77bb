"""The ``fapiao`` command line. Each family of commands lives in its own module of this package."""

from __future__ import annotations

import importlib
import sys

import click

from graph.core.errors import FapiaoError

# module -> attribute holding a click command or group; added in this order to `fapiao --help`
COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("workbench.cli.generate", "generate"),
    ("workbench.cli.load", "load"),
    ("workbench.cli.load", "check_invoice"),
    ("workbench.cli.load", "inspect"),
    ("workbench.cli.detect", "detect"),
    ("workbench.cli.serve", "serve"),
    ("workbench.cli.serve", "demo"),
    ("workbench.cli.api", "api"),
    ("workbench.cli.cases", "users"),
    ("workbench.cli.cases", "case"),
    ("workbench.cli.cases", "audit"),
    ("workbench.cli.keys", "keys"),
    ("workbench.cli.neo4j", "neo4j"),
    ("workbench.cli.neo4j", "neo4j_import"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for _module, _attr in COMMAND_MODULES:
    try:
        cli.add_command(getattr(importlib.import_module(_module), _attr))
    except ModuleNotFoundError as e:  # a command family not present in this build
        if e.name != _module:
            raise


def main() -> None:
    """Console entry point: project errors print as one clear line and exit 1, never a traceback."""
    try:
        from graph.core import install

        install.check()  # another distribution's `algorithms` / `workbench` installed over ours: one clear line
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except FapiaoError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(1)

"""``fapiao generate``: synthetic invoice data with planted fake-invoicing rings and ground truth."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from graph.core.errors import ConfigError
from workbench.cli.options import echo_json, json_option


def _parse_rings(values: tuple[str, ...]) -> dict[str, int]:
    from loaders.generate import TYPOLOGIES

    out: dict[str, int] = {}
    for v in values:
        name, sep, count = v.partition("=")
        if not sep:
            name, count = "cycle", v
        try:
            out[name.strip()] = int(count)
        except ValueError:
            raise ConfigError(f"--rings {v!r}: use TYPOLOGY=COUNT (typologies: {', '.join(TYPOLOGIES)}) "
                              "or a bare COUNT for cycles") from None
    return out


def _date(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError(f"{value!r} is not a date like 2022-01-31") from None


@click.command("generate")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"),
              show_default=True, help="Output folder (created).")
@click.option("--taxpayer-count", "--taxpayers", "taxpayers", type=int, default=2000, show_default=True, help="Number of taxpayers.")
@click.option("--invoices", type=int, default=50_000, show_default=True,
              help="Clean invoice rows (legitimate trade + planted patterns).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--noise", type=float, default=0.0, show_default=True,
              help="Share of extra malformed rows (0.01 = 1%), each listed in truth/noise.csv with its loader rule.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True,
              help="File format of invoices and taxpayers.")
@click.option("--rings", multiple=True, metavar="TYPOLOGY=COUNT",
              help="Planted rings per typology, repeatable (e.g. --rings cycle=40 --rings shell=5; a bare "
                   "number sets cycles). Typologies not given are scaled to --taxpayer-count.")
@click.option("--start", default=None, metavar="YYYY-MM-DD", help="First issue date [default: 2022-01-01].")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="Last issue date [default: 2025-06-30].")
@click.option("--profile", type=click.Choice(["default", "sparse"]), default="default", show_default=True,
              help="default: every column and typology; sparse: only the required columns (no item codes, "
                   "identifiers, limits; one registration date, industry and region), loops in both "
                   "orientations with up to 40% drift, fan-in/out bursts and scatter-gather among ordinary "
                   "companies.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@json_option()
def generate(out_dir: Path, taxpayers: int, invoices: int, seed: int, noise: float, fmt: str,
             rings: tuple[str, ...], start: str | None, end: str | None, profile: str, progress: bool,
             as_json: bool) -> None:
    """Generate a synthetic invoice network with planted fake-invoicing (虚开) patterns.

    \b
    Writes, in the interchange format of docs/data-format (see docs/generator.md):
      OUT/invoices.<fmt>        one row per invoice (amounts in yuan, ISO dates with +08:00)
      OUT/taxpayers.<fmt>       the taxpayer register with identifiers
      OUT/truth/rings.csv       planted rings and decoys: ring_id, typology, members, invoice_keys,
                                orientation (cycles: along / against the invoice direction)
      OUT/truth/taxpayers.csv   tax_id, fraud (0/1), typologies
      OUT/truth/noise.csv       malformed rows and the loader rule each one breaks

    \b
    Example:
      fapiao generate --taxpayer-count 5000 --invoices 200000 --seed 7 --noise 0.01 --out data
      fapiao generate --profile sparse --taxpayer-count 20000 --invoices 200000 --out sparse-data
    """
    from rich.console import Console
    from rich.table import Table

    from loaders.generate import DEFAULT_END, DEFAULT_START
    from loaders.generate import generate as run

    summary = run(out_dir, taxpayers=taxpayers, invoices=invoices, seed=seed, noise=noise, fmt=fmt,
                  progress=progress, rings=_parse_rings(rings), start=_date(start, DEFAULT_START),
                  end=_date(end, DEFAULT_END), profile=profile)
    if as_json:
        echo_json({"out_dir": str(summary.out_dir), "taxpayers": summary.taxpayers, "invoices": summary.invoices,
                   "noise_rows": summary.noise_rows, "fraud_taxpayers": summary.fraud_taxpayers,
                   "rings": dict(sorted(summary.rings.items())), "bytes": summary.bytes,
                   "seconds": round(summary.seconds, 3)})
        return
    table = Table(title=f"generated into {summary.out_dir}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("taxpayers", f"{summary.taxpayers:,}")
    table.add_row("invoices (clean)", f"{summary.invoices:,}")
    table.add_row("malformed rows (noise)", f"{summary.noise_rows:,}")
    table.add_row("fraudulent taxpayers (truth)", f"{summary.fraud_taxpayers:,}")
    for typology, n in sorted(summary.rings.items()):
        table.add_row(f"rings: {typology}", f"{n:,}")
    table.add_row("bytes written", f"{summary.bytes:,}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    Console().print(table)

"""``fapiao detect``: run every detector over the store and save the findings as one run."""

from __future__ import annotations

from pathlib import Path

import click

from graph.errors import ConfigError


def _drift(value: str) -> float | None:
    if value.strip().lower() in {"off", "none", "no"}:
        return None
    try:
        v = float(value)
    except ValueError:
        raise ConfigError(f"--max-drift {value!r}: give a fraction such as 0.25, or 'off'") from None
    if v <= 0:
        raise ConfigError(f"--max-drift {value!r} must be above 0 (or 'off')")
    return v


@click.command("detect")
@click.option("--store", "store_uri", default=None, metavar="URI",
              help="embedded:PATH or a Neo4j URI [default: the FAPIAO_STORE setting].")
@click.option("--window", "window_days", type=click.IntRange(1, 3650), default=90, show_default=True,
              help="Days within which a loop of invoices must close to count as a temporal cycle.")
@click.option("--max-len", "max_len", type=click.IntRange(2, 12), default=10, show_default=True,
              help="Longest loop searched, in taxpayers.")
@click.option("--max-drift", "max_drift", default="0.25", show_default=True, metavar="FRACTION|off",
              help="Search gate: follow a loop's next invoice only when its total is within this fraction of "
                   "the loop's first invoice ('off' = no gate; slow on busy data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write rings.csv and taxpayer_scores.csv into this folder.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of community detection and the models: same data + options + seed = same findings.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress per stage.")
def detect(store_uri: str | None, window_days: int, max_len: int, max_drift: str, out_dir: Path | None,
           seed: int, progress: bool) -> None:
    """Find fake-invoicing rings and score every taxpayer into low / medium / high risk.

    \b
    Stages: temporal cycles (time-ordered loops A→B→…→A inside --window days),
    shared identifiers, typology detectors (shell, fan-in/fan-out hub, near-limit 顶额,
    item mismatch, void/red ratios, Benford, outliers, bursts, duplicates), Leiden
    communities, and the risk model (explainable points + IsolationForest, or gradient
    boosting once investigators have recorded confirmed / false-positive dispositions).

    The run id is derived from the data and the options: re-running on unchanged data
    replaces that run's findings. Tiers use FAPIAO_TIER_MEDIUM / FAPIAO_TIER_HIGH.
    See docs/detection.md for every signal and threshold.

    \b
    Examples:
      fapiao detect --out findings
      fapiao detect --window 60 --max-len 6 --store embedded:workspace
    """
    from rich.console import Console
    from rich.table import Table

    from graph import open_store
    from workbench.detect import run_detection, write_outputs

    gate = _drift(max_drift)
    console = Console(stderr=True)
    with open_store(store_uri) as store:
        if store.counts().invoices == 0:
            raise ConfigError(f"the store {store.uri} holds no invoices: load some first (fapiao load FILE)")
        result = run_detection(store, window_days=window_days, max_cycle_len=max_len, seed=seed,
                               progress=progress, max_drift=gate)
    table = Table(title=f"run {result.run.run_id}", show_edge=False)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, secs in result.run.stage_seconds.items():
        table.add_row(stage, f"{secs:.2f}")
    table.add_row("[bold]total", f"[bold]{sum(result.run.stage_seconds.values()):.2f}")
    console.print(table)
    kinds: dict[str, int] = {}
    for r in result.rings:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    tiers = result.tier_counts()
    model = result.run.params.get("model")
    auc = result.run.params.get("cv_auc")
    click.echo(f"run {result.run.run_id}: {len(result.rings)} rings "
               f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items())) or 'none'}); "
               f"taxpayers high {tiers['high']}, medium {tiers['medium']}, low {tiers['low']}; "
               f"model {model}" + (f" (cross-validated AUC {auc:.3f})" if auc is not None else ""))
    if out_dir is not None:
        write_outputs(result, out_dir)
        click.echo(f"wrote {out_dir / 'rings.csv'} and {out_dir / 'taxpayer_scores.csv'}")

"""Synthetic invoice networks with planted fake-invoicing patterns and their ground truth.

Entry point :func:`generate`; the model lives in :mod:`loaders.synth` (see docs/generator.md).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graph.core.errors import ConfigError
from loaders.synth import noise as noise_mod
from loaders.synth import patterns
from loaders.synth.output import (
    FORMATS,
    INVOICE_SCHEMA,
    TAXPAYER_SCHEMA,
    Formatter,
    TableSink,
    taxpayer_table,
)
from loaders.synth.planter import Planter, _TooSmall
from loaders.synth.population import assign_credit_codes, make_population
from loaders.synth.trade import Calendar, Market, legit_batch

__all__ = ["DEFAULT_END", "DEFAULT_START", "GenerateSummary", "TYPOLOGIES", "generate"]

DEFAULT_START = date(2022, 1, 1)
DEFAULT_END = date(2025, 6, 30)
CHUNK_ROWS = 250_000
TYPOLOGIES = patterns.FRAUD_TYPOLOGIES
DECOYS = patterns.DECOY_KINDS


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    taxpayers: int
    invoices: int                 # clean rows written (legitimate + planted)
    noise_rows: int               # malformed rows added on top (truth/noise.csv)
    rings: dict[str, int]         # planted rings per typology (fraud and decoy kinds)
    fraud_taxpayers: int
    seconds: float
    files: list[Path] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def generate(out_dir: Path, *, taxpayers: int, invoices: int, seed: int = 0, noise: float = 0.0,
             fmt: str = "parquet", progress: bool = False, rings: Mapping[str, int] | None = None,
             start: date = DEFAULT_START, end: date = DEFAULT_END, chunk_rows: int = CHUNK_ROWS) -> GenerateSummary:
    """Write a synthetic invoice network with planted rings to ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created). Writes ``invoices.<fmt>``, ``taxpayers.<fmt>`` and ``truth/``
        (rings.csv, taxpayers.csv, noise.csv).
    taxpayers, invoices
        Population size and number of clean invoice rows (legitimate trade + planted patterns).
    seed
        Same seed and arguments give byte-identical files.
    noise
        Share of extra malformed rows (relative to ``invoices``), each recorded with the loader rule
        it breaks in ``truth/noise.csv``.
    fmt
        ``parquet`` (zstd row groups) or ``csv`` (UTF-8).
    progress
        Show a rich progress bar.
    rings
        Planted rings per typology (``cycle``, ``shell`` ... and decoy kinds); missing typologies use
        :func:`loaders.synth.patterns.default_counts`.
    start, end
        The issue-date span (``end`` may not be in the future).

    Returns
    -------
    GenerateSummary

    Examples
    --------
    >>> import tempfile
    >>> s = generate(Path(tempfile.mkdtemp()), taxpayers=300, invoices=3000, seed=1)
    >>> s.invoices, s.taxpayers
    (3000, 300)
    """
    t_start = time.perf_counter()
    counts = _check(taxpayers, invoices, noise, fmt, rings, start, end, chunk_rows)
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    cal = Calendar(start, end)
    pop = make_population(np.random.default_rng([seed, 1]), taxpayers, cal.days, seed)
    planter = Planter(np.random.default_rng([seed, 2]), pop, cal)
    try:
        for typology, n in counts.items():
            for i in range(n):
                patterns.PLANTERS[typology](planter, i)
    except _TooSmall:
        raise ConfigError(f"{taxpayers} taxpayers are too few for the planted patterns {counts}; "
                          "use more taxpayers or fewer --rings") from None
    special = planter.batch()
    assign_credit_codes(pop, cal.offset(date(2015, 10, 1)), seed)
    n_legit = invoices - len(special)
    if n_legit < 0:
        raise ConfigError(f"the planted patterns need {len(special)} invoices, more than --invoices {invoices}")
    market = Market(pop)
    day_w = cal.day_weights()
    day_p = day_w / day_w.sum()
    fmt_ = Formatter(pop, cal)
    inv_path = out_dir / f"invoices.{fmt}"
    tp_path = out_dir / f"taxpayers.{fmt}"
    noise_rows: list[list[str]] = []
    with TableSink(tp_path, TAXPAYER_SCHEMA, fmt) as sink:
        sink.write(taxpayer_table(pop, cal))
    serial = int(np.random.default_rng([seed, 3]).integers(10**6, 10**7))
    bar = _Progress(progress, invoices + round(noise * invoices))
    with TableSink(inv_path, INVOICE_SCHEMA, fmt) as sink, bar:
        chunk = 0
        left = n_legit
        while left > 0:
            n = min(chunk_rows, left)
            rng = np.random.default_rng([seed, 100, chunk])
            b = legit_batch(rng, market, cal, day_p, n)
            table, _ = fmt_.invoices(b, serial)
            serial += len(b)
            extra, rows = noise_mod.corrupt(rng, table, cal, int(round(noise * n)), serial)
            serial += extra.num_rows
            noise_rows.extend(rows)
            sink.write(pa.concat_tables([table, extra]) if extra.num_rows else table)
            bar.advance(table.num_rows + extra.num_rows)
            left -= n
            chunk += 1
        table, keys = fmt_.invoices(special, serial)
        serial += len(special)
        sink.write(table)
        bar.advance(table.num_rows)
    _write_truth(out_dir / "truth", planter, pop.tax_id, keys.to_pylist(), noise_rows)
    files = [inv_path, tp_path] + sorted((out_dir / "truth").glob("*.csv"))
    ring_counts: dict[str, int] = {}
    for r in planter.rings:
        ring_counts[r.typology] = ring_counts.get(r.typology, 0) + 1
    return GenerateSummary(out_dir, taxpayers, n_legit + len(special), len(noise_rows), ring_counts,
                           len(planter.fraud), time.perf_counter() - t_start, files)


def _check(taxpayers: int, invoices: int, noise: float, fmt: str, rings: Mapping[str, int] | None,
           start: date, end: date, chunk_rows: int) -> dict[str, int]:
    if taxpayers < 50:
        raise ConfigError(f"--taxpayers must be at least 50 (got {taxpayers})")
    if invoices < 100:
        raise ConfigError(f"--invoices must be at least 100 (got {invoices})")
    if not 0.0 <= noise <= 0.5:
        raise ConfigError(f"--noise is a share between 0 and 0.5 (got {noise})")
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if end > date.today():
        raise ConfigError(f"the end date {end} is in the future; generated invoices must not be")
    if (end - start).days < 365:
        raise ConfigError("the date span must cover at least one year")
    if chunk_rows < 1000:
        raise ConfigError("chunk_rows must be at least 1000")
    counts = patterns.default_counts(taxpayers)
    for k, v in (rings or {}).items():
        if k not in patterns.PLANTERS:
            raise ConfigError(f"unknown typology {k!r}; known: {', '.join(patterns.PLANTERS)}")
        if v < 0:
            raise ConfigError(f"ring count for {k} must be >= 0 (got {v})")
        counts[k] = int(v)
    return counts


def _write_truth(truth: Path, planter: Planter, tax_ids: np.ndarray, keys: list[str],
                 noise_rows: list[list[str]]) -> None:
    special = planter.batch()
    with (truth / "rings.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ring_id", "typology", "members", "invoice_keys"])
        for r in planter.rings:
            rows = sorted(r.rows, key=lambda i: (int(special.day[i]), int(special.sec[i]), i))
            w.writerow([r.ring_id, r.typology, ";".join(str(tax_ids[m]) for m in r.members),
                        ";".join(keys[i] for i in rows)])
    n = len(tax_ids)
    fraud = np.zeros(n, dtype=np.int64)
    fraud[list(planter.fraud)] = 1
    typ = [""] * n
    for m, tl in planter.typologies.items():
        typ[m] = ";".join(tl)
    table = pa.table({"tax_id": pa.array(tax_ids), "fraud": pa.array(fraud), "typologies": pa.array(typ)})
    pacsv.write_csv(table, truth / "taxpayers.csv",
                    pacsv.WriteOptions(quoting_style="needed"))
    with (truth / "noise.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["invoice_code", "invoice_number", "rule", "detail"])
        w.writerows(noise_rows)


class _Progress:
    """A rich progress bar when enabled, a no-op otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: object | None = None
        self._task: object | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn())
            bar.start()
            self._task = bar.add_task("generating invoices", total=self.total)
            self._bar = bar
        return self

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]

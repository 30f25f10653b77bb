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
from loaders.synth import catalog, flows, patterns
from loaders.synth import noise as noise_mod
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
from loaders.synth.profiles import PROFILES, Profile
from loaders.synth.trade import Batch, Calendar, Market, legit_batch

__all__ = ["DEFAULT_END", "DEFAULT_START", "PROFILES", "GenerateSummary", "TYPOLOGIES", "generate"]

DEFAULT_START = date(2022, 1, 1)
DEFAULT_END = date(2025, 6, 30)
CHUNK_ROWS = 250_000
TYPOLOGIES = patterns.FRAUD_TYPOLOGIES + flows.FLOW_TYPOLOGIES
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
             start: date = DEFAULT_START, end: date = DEFAULT_END, chunk_rows: int = CHUNK_ROWS,
             profile: str = "default") -> GenerateSummary:
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
    profile
        ``default`` (every column) or ``sparse`` (required columns only, value-flow patterns among
        ordinary companies); see :mod:`loaders.synth.profiles`.

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
    if profile not in PROFILES:
        raise ConfigError(f"--profile must be one of {', '.join(PROFILES)} (got {profile!r})")
    prof = PROFILES[profile]
    counts = _check(taxpayers, invoices, noise, fmt, rings, start, end, chunk_rows, prof)
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    cal = Calendar(start, end)
    pop = make_population(np.random.default_rng([seed, 1]), taxpayers, cal.days, seed)
    planter = Planter(np.random.default_rng([seed, 2]), pop, cal)
    try:
        for typology, n in counts.items():
            for i in range(n):
                prof.planters[typology](planter, i)
    except _TooSmall:
        raise ConfigError(f"{taxpayers} taxpayers are too few for the planted patterns {counts}; "
                          "use more taxpayers or fewer --rings") from None
    special = _shape(planter.batch(), prof)
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
    with TableSink(tp_path, _schema(TAXPAYER_SCHEMA, prof.taxpayer_columns), fmt) as sink:
        sink.write(_taxpayers(taxpayer_table(pop, cal), prof, start))
    serial = int(np.random.default_rng([seed, 3]).integers(10**6, 10**7))
    bar = _Progress(progress, invoices + round(noise * invoices))
    inv_schema = _schema(INVOICE_SCHEMA, prof.invoice_columns)
    with TableSink(inv_path, inv_schema, fmt) as sink, bar:
        chunk = 0
        left = n_legit
        while left > 0:
            n = min(chunk_rows, left)
            rng = np.random.default_rng([seed, 100, chunk])
            b = _shape(legit_batch(rng, market, cal, day_p, n, red_and_void=prof.red_and_void), prof)
            table, _ = fmt_.invoices(b, serial)
            serial += len(b)
            extra, rows = noise_mod.corrupt(rng, table, cal, int(round(noise * n)), serial)
            serial += extra.num_rows
            noise_rows.extend(rows)
            sink.write((pa.concat_tables([table, extra]) if extra.num_rows else table).select(inv_schema.names))
            bar.advance(table.num_rows + extra.num_rows)
            left -= n
            chunk += 1
        table, keys = fmt_.invoices(special, serial)
        serial += len(special)
        sink.write(table.select(inv_schema.names))
        bar.advance(table.num_rows)
    _write_truth(out_dir / "truth", planter, special, pop.tax_id, keys.to_pylist(), noise_rows)
    files = [inv_path, tp_path] + sorted((out_dir / "truth").glob("*.csv"))
    ring_counts: dict[str, int] = {}
    for r in planter.rings:
        ring_counts[r.typology] = ring_counts.get(r.typology, 0) + 1
    return GenerateSummary(out_dir, taxpayers, n_legit + len(special), len(noise_rows), ring_counts,
                           len(planter.fraud), time.perf_counter() - t_start, files)


def _schema(schema: pa.Schema, columns: tuple[str, ...] | None) -> pa.Schema:
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def _shape(b: Batch, prof: Profile) -> Batch:
    """数电 invoices only, when the profile says so (they need no invoice code)."""
    if prof.digital_only:
        b.kind = 2 + b.kind % 2
    return b


def _taxpayers(table: pa.Table, prof: Profile, start: date) -> pa.Table:
    """The register as the profile writes it: constant registration date / industry / region if asked."""
    if prof.constant_taxpayers:
        n = table.num_rows
        const = {"registered_on": f"{start.year - 5}-01-01", "industry": catalog.INDUSTRIES[0].name,
                 "region": catalog.REGIONS[0][1]}
        for col, value in const.items():
            table = table.set_column(table.schema.get_field_index(col), col, pa.array([value] * n, pa.string()))
    return table.select(_schema(TAXPAYER_SCHEMA, prof.taxpayer_columns).names)


def _check(taxpayers: int, invoices: int, noise: float, fmt: str, rings: Mapping[str, int] | None,
           start: date, end: date, chunk_rows: int, prof: Profile) -> dict[str, int]:
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
    if noise and not prof.red_and_void:
        raise ConfigError(f"--noise needs the default profile (the {prof.name} profile lacks the columns "
                          "its rules break)")
    counts = prof.counts(taxpayers)
    for k, v in (rings or {}).items():
        if k not in prof.planters:
            raise ConfigError(f"unknown typology {k!r}; known: {', '.join(prof.planters)}")
        if v < 0:
            raise ConfigError(f"ring count for {k} must be >= 0 (got {v})")
        counts[k] = int(v)
    return counts


def _write_truth(truth: Path, planter: Planter, special: Batch, tax_ids: np.ndarray, keys: list[str],
                 noise_rows: list[list[str]]) -> None:
    with (truth / "rings.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ring_id", "typology", "members", "invoice_keys", "orientation"])
        for r in planter.rings:
            rows = sorted(r.rows, key=lambda i: (int(special.day[i]), int(special.sec[i]), i))
            w.writerow([r.ring_id, r.typology, ";".join(str(tax_ids[m]) for m in r.members),
                        ";".join(keys[i] for i in rows), r.orientation])
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
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=Console(stderr=True))
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

"""``fapiao detect --findings-out DIR``: one run's findings as Parquet tables, for the data platform.

``DIR/<run id>/`` holds

* ``rings.parquet`` — one row per ring: ``run_id, ring_id, kind, score, evidence, members`` (list of tax ids),
  ``invoice_keys`` (list), ``details`` (JSON text);
* ``ring_members.parquet`` — one row per (ring, member): ``run_id, ring_id, kind, position, tax_id``;
* ``taxpayer_scores.parquet`` — one row per taxpayer: ``run_id, tax_id, score, tier, reasons`` (list of
  plain-language reasons, most important first), ``features`` (JSON text);
* ``run.json`` — the run record (id, time, parameters, stage seconds) and the row counts of the three tables.

Everything is written into a hidden sibling folder (``DIR/.<run id>.partial-<random>``) and renamed to
``DIR/<run id>`` only once every file is complete — one ``rename`` on the same file system, so a reader
never sees a half-written run: a run that fails (detection, a Spark job, or this writer) leaves no folder
named after a run id, and the partial folder is removed. An earlier folder of the same run id is replaced.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from graph.core.errors import ConfigError

if TYPE_CHECKING:
    from workbench.detect import DetectionResult

TABLES = ("rings", "ring_members", "taxpayer_scores")
_STRINGS = pa.list_(pa.string())


def findings_tables(result: DetectionResult) -> dict[str, pa.Table]:
    """The run's rings, ring members and taxpayer scores as Arrow tables (see the module doc)."""
    run_id = result.run.run_id
    rings = result.rings
    ring_table = pa.table({
        "run_id": pa.array([run_id] * len(rings), pa.string()),
        "ring_id": pa.array([r.ring_id for r in rings], pa.string()),
        "kind": pa.array([r.kind for r in rings], pa.string()),
        "score": pa.array([float(r.score) for r in rings], pa.float64()),
        "evidence": pa.array([r.evidence for r in rings], pa.string()),
        "members": pa.array([list(r.members) for r in rings], _STRINGS),
        "invoice_keys": pa.array([list(r.invoice_keys) for r in rings], _STRINGS),
        "details": pa.array([json.dumps(r.details, ensure_ascii=False, sort_keys=True, default=str)
                             for r in rings], pa.string()),
    })
    pairs = [(r.ring_id, r.kind, i, m) for r in rings for i, m in enumerate(r.members)]
    members = pa.table({
        "run_id": pa.array([run_id] * len(pairs), pa.string()),
        "ring_id": pa.array([p[0] for p in pairs], pa.string()),
        "kind": pa.array([p[1] for p in pairs], pa.string()),
        "position": pa.array([p[2] for p in pairs], pa.int32()),
        "tax_id": pa.array([p[3] for p in pairs], pa.string()),
    })
    s = result.scores
    n = s.num_rows
    scores = pa.table({
        "run_id": pa.array([run_id] * n, pa.string()),
        "tax_id": s.column("tax_id").cast(pa.string()) if n else pa.array([], pa.string()),
        "score": s.column("score").cast(pa.float64()) if n else pa.array([], pa.float64()),
        "tier": s.column("tier").cast(pa.string()) if n else pa.array([], pa.string()),
        "reasons": pa.array([json.loads(x) if x else [] for x in s.column("reasons").to_pylist()] if n else [],
                            _STRINGS),
        "features": s.column("features").cast(pa.string()) if n and "features" in s.column_names
        else pa.array([None] * n, pa.string()),
    })
    return {"rings": ring_table, "ring_members": members, "taxpayer_scores": scores}


def write_findings(result: DetectionResult, out_dir: Path) -> Path:
    """Write ``result`` to ``out_dir/<run id>/`` (module doc); returns that folder. Nothing named after the
    run id exists unless every file was written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = result.run.run_id
    final = out_dir / run_id
    partial = out_dir / f".{run_id}.partial-{uuid.uuid4().hex[:10]}"
    partial.mkdir()
    old: Path | None = None
    try:
        tables = findings_tables(result)
        for name in TABLES:
            pq.write_table(tables[name], partial / f"{name}.parquet")
        run = result.run
        (partial / "run.json").write_text(json.dumps({
            "run_id": run_id, "created_at": run.created_at.isoformat(), "params": run.params,
            "stage_seconds": run.stage_seconds, "rows": {k: t.num_rows for k, t in tables.items()},
            "tiers": result.tier_counts(),
        }, ensure_ascii=False, indent=1, sort_keys=True, default=str), encoding="utf-8")
        if final.exists():               # an earlier write of the same run: moved aside, removed after
            old = out_dir / f".{run_id}.old-{uuid.uuid4().hex[:10]}"
            final.rename(old)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if old is not None and not final.exists():
            old.rename(final)            # the earlier, complete write stays
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def check_out_dir(out_dir: Path) -> None:
    """Raise :class:`ConfigError` before a long run when ``out_dir`` cannot be written (a file, no permission)."""
    try:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".probe-{uuid.uuid4().hex[:10]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"--findings-out {out_dir}: cannot write there ({e.strerror or e})") from e

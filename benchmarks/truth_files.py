"""Read ground truth and detection findings from files for the quality scorer (``algorithms.evaluation``).

``algorithms/`` does no file I/O; this module turns the generator's ``truth/`` folder, a public data
set's ``truth.json`` and a detection run's CSV files into the plain records it scores.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from pathlib import Path

from algorithms.evaluation import FoundRing, PlantedRing, QualityReport, evaluate
from graph.core.errors import ConfigError

__all__ = ["TruthTaxpayers", "read_findings", "read_json_truth", "read_truth", "score_run"]

#: tax_id -> (fraud 0/1, typologies)
TruthTaxpayers = dict[str, tuple[int, tuple[str, ...]]]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ConfigError(f"{path} not found")
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"{path} lacks column(s) {', '.join(sorted(missing))}")
        return [{k: (v or "").removeprefix("'") for k, v in row.items()} for row in reader]


def _members(text: str) -> list[str]:
    return [m.strip() for m in text.split(";") if m.strip()]


def read_truth(truth_dir: Path) -> tuple[list[PlantedRing], TruthTaxpayers]:
    """The generator's truth/rings.csv (``orientation`` optional) and truth/taxpayers.csv."""
    rings = []
    for r in _rows(truth_dir / "rings.csv", ("ring_id", "typology", "members")):
        members = _members(r["members"])
        rings.append(PlantedRing(r["ring_id"], r["typology"], frozenset(members), members[0] if members else "",
                                 r.get("orientation", "") or ""))
    taxpayers = {r["tax_id"]: (int(r["fraud"] or 0), tuple(_members(r["typologies"])))
                 for r in _rows(truth_dir / "taxpayers.csv", ("tax_id", "fraud", "typologies"))}
    return rings, taxpayers


def read_json_truth(truth_json: Path, taxpayers_file: Path) -> tuple[list[PlantedRing], TruthTaxpayers]:
    """A public data set's ``truth.json`` (``fraud_taxpayers``, ``rings``) over every tax_id in its taxpayers file.

    ``rings`` entries are objects with ``typology`` and ``members`` (and optional ``ring_id``,
    ``orientation``); an empty list means the source labels taxpayers, not patterns.
    """
    try:
        data = json.loads(Path(truth_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{truth_json}: cannot read the truth file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("fraud_taxpayers"), list):
        raise ConfigError(f"{truth_json}: expected an object with a 'fraud_taxpayers' list")
    fraud = {str(t) for t in data["fraud_taxpayers"]}
    rings = []
    for i, r in enumerate(data.get("rings") or []):
        members = [str(m) for m in r.get("members", [])]
        rings.append(PlantedRing(str(r.get("ring_id", f"ring-{i}")), str(r["typology"]), frozenset(members),
                                 members[0] if members else "", str(r.get("orientation", ""))))
    all_ids = [r["tax_id"] for r in _rows(Path(taxpayers_file), ("tax_id",))]
    missing = fraud - set(all_ids)
    if missing:
        raise ConfigError(f"{truth_json}: {len(missing)} fraud tax ids are not in {taxpayers_file}")
    return rings, {t: (int(t in fraud), ()) for t in all_ids}


def read_findings(findings_dir: Path) -> tuple[list[FoundRing], dict[str, str]]:
    """A detection run's rings.csv and taxpayer_scores.csv (as written by workbench.detect.write_outputs)."""
    rings = []
    for r in _rows(findings_dir / "rings.csv", ("ring_id", "kind", "members")):
        members = _members(r["members"])
        rings.append(FoundRing(r["ring_id"], r["kind"], frozenset(members), members[0] if members else ""))
    tiers = {r["tax_id"]: r["tier"] for r in _rows(findings_dir / "taxpayer_scores.csv", ("tax_id", "tier"))}
    return rings, tiers


def score_run(truth_dir: Path, findings_dir: Path) -> QualityReport:
    """Score the findings in ``findings_dir`` against the generator truth in ``truth_dir``.

    ``truth_dir`` may be the generator's output folder or its ``truth/`` subfolder.
    """
    truth_dir = Path(truth_dir)
    if not (truth_dir / "rings.csv").is_file() and (truth_dir / "truth" / "rings.csv").is_file():
        truth_dir = truth_dir / "truth"
    planted, taxpayers = read_truth(truth_dir)
    found, tiers = read_findings(Path(findings_dir))
    return evaluate(planted, taxpayers, found, tiers)

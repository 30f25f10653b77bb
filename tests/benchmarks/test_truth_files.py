"""The quality scorer (algorithms.evaluation) on hand-made truth and findings files (benchmarks.truth_files)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from algorithms.evaluation import jaccard, taxpayer_metrics
from benchmarks.truth_files import read_json_truth, score_run
from graph.core.errors import ConfigError
from loaders.safe_csv import write_rows

PLANTED = [  # ring_id, typology, members
    ("cycle-1", "cycle", "A;B;C"),
    ("cycle-2", "cycle", "D;E"),
    ("cycle-3", "cycle", "F;G;H;I;J"),
    ("shared_identity-1", "shared_identity", "K;L;M"),
    ("fan_hub-1", "fan_hub", "HUB"),
    ("shell-1", "shell", "S"),
    ("decoy_loop-1", "decoy_loop", "X;Y"),
]
FOUND = [  # ring_id, kind, members
    ("r1", "cycle", "C;A;B"),                 # exact
    ("r2", "cycle", "D;E;N1"),                # Jaccard 2/3: no match
    ("r3", "cycle", "F;G;H;I;J;N2"),          # Jaccard 5/6: match
    ("r4", "cycle", "X;Y"),                   # the decoy loop: wrong
    ("r5", "fan_hub", "HUB;P1;P2;P3"),        # hub-anchored match
    ("r6", "fan_hub", "N3;HUB"),              # HUB is not the hub here: wrong
    ("r7", "shared_identity", "K;L;M;N4"),    # Jaccard 3/4: no match
    ("r8", "community", "A;B;C;N5"),
]
CLEAN = [f"N{i}" for i in range(1, 21)]


def _write_truth(d: Path, tiers_fraud_low: int = 0) -> None:
    d.mkdir(parents=True, exist_ok=True)
    with (d / "rings.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ring_id", "typology", "members", "invoice_keys"])
        for r in PLANTED:
            w.writerow([*r, ""])
    typ: dict[str, list[str]] = {}
    for _, t, members in PLANTED:
        for m in members.split(";"):
            typ.setdefault(m, []).append(t)
    with (d / "taxpayers.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tax_id", "fraud", "typologies"])
        for m, ts in typ.items():
            w.writerow([m, 0 if ts[0].startswith("decoy") else 1, ";".join(ts)])
        for n in CLEAN:
            w.writerow([n, 0, ""])


def _write_findings(d: Path, tiers: dict[str, str], found: list[tuple[str, str, str]] = FOUND) -> None:
    d.mkdir(parents=True, exist_ok=True)
    write_rows(d / "rings.csv", ["ring_id", "kind", "members", "invoices", "score", "evidence"],
               [(i, k, m, "", 0.9, "=evidence") for i, k, m in found])   # safe_csv: BOM + neutralised cells
    write_rows(d / "taxpayer_scores.csv", ["tax_id", "score", "tier", "reasons"],
               [(t, 0.5, tier, "r") for t, tier in tiers.items()])


def test_ring_level_precision_recall(tmp_path: Path) -> None:
    _write_truth(tmp_path / "gen" / "truth")
    _write_findings(tmp_path / "find", {})
    rep = score_run(tmp_path / "gen", tmp_path / "find")   # the generator folder works as well as truth/
    cyc = rep.ring("cycle")
    assert (cyc.planted, cyc.found, cyc.planted_matched, cyc.found_correct) == (3, 4, 2, 2)
    assert cyc.recall == pytest.approx(2 / 3) and cyc.precision == pytest.approx(0.5)
    assert cyc.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    hub = rep.ring("fan_hub")
    assert (hub.planted, hub.found, hub.planted_matched, hub.found_correct) == (1, 2, 1, 1)
    si = rep.ring("shared_identity")
    assert (si.planted_matched, si.found_correct) == (0, 0)
    assert rep.extra_rings == {"community": 1}


def test_jaccard_threshold_is_inclusive() -> None:
    assert jaccard(frozenset("ABCD"), frozenset("ABCDE")) == 0.8


def test_tier_confusion_and_bars(tmp_path: Path) -> None:
    fraud = sorted({m for _, t, ms in PLANTED if not t.startswith("decoy") for m in ms.split(";")})
    # all fraud but the first two in medium/high; one clean taxpayer in high, one in medium; decoys high
    tiers = {m: ("low" if i < 2 else "high" if i % 2 else "medium") for i, m in enumerate(fraud)}
    tiers.update({"N1": "high", "N2": "medium", "X": "high", "Y": "high"})
    del tiers[fraud[0]]      # unscored: counts as low
    _write_truth(tmp_path / "truth")
    _write_findings(tmp_path / "find", tiers)
    rep = score_run(tmp_path / "truth", tmp_path / "find")
    n_high = sum(1 for i in range(2, len(fraud)) if i % 2)
    assert rep.confusion["fraud"] == {"low": 2, "medium": len(fraud) - 2 - n_high, "high": n_high}
    assert rep.confusion["clean"] == {"low": len(CLEAN) - 2, "medium": 1, "high": 1}
    assert rep.confusion["decoy"] == {"low": 0, "medium": 0, "high": 2}
    assert rep.share("fraud", ("medium", "high")) == pytest.approx((len(fraud) - 2) / len(fraud))
    checks = {c.name: c for c in rep.checks}
    assert checks["clean taxpayers in high"].value == pytest.approx(1 / len(CLEAN))
    assert not checks["clean taxpayers in high"].passed          # 0.05 > 0.02
    assert not checks["cycle ring recall"].passed and not rep.passed
    hit, total = rep.typology_recall["cycle"]
    assert total == 10 and hit == sum(1 for m in "ABCDEFGHIJ" if tiers.get(m, "low") != "low")
    text = rep.table()
    assert "OVERALL: FAIL" in text and "clean taxpayers in high" in text and "community" in text


def test_perfect_findings_pass(tmp_path: Path) -> None:
    _write_truth(tmp_path / "truth")
    found = [(f"f{i}", t, m) for i, (_, t, m) in enumerate(PLANTED) if t in ("cycle", "shared_identity", "fan_hub")]
    fraud = {m for _, t, ms in PLANTED if not t.startswith("decoy") for m in ms.split(";")}
    _write_findings(tmp_path / "find", dict.fromkeys(fraud, "high"), found)
    rep = score_run(tmp_path / "truth", tmp_path / "find")
    assert all(r.recall == 1.0 and r.precision == 1.0 for r in rep.rings)
    assert rep.passed and "OVERALL: PASS" in rep.table()


def test_bad_inputs_are_one_clear_error(tmp_path: Path) -> None:
    _write_truth(tmp_path / "truth")
    with pytest.raises(ConfigError, match="not found"):
        score_run(tmp_path / "truth", tmp_path / "nowhere")
    _write_findings(tmp_path / "find", {"A": "severe"})
    with pytest.raises(ConfigError, match="unknown tier"):
        score_run(tmp_path / "truth", tmp_path / "find")
    (tmp_path / "find" / "rings.csv").write_text("ring_id,members\nx,A\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks column"):
        score_run(tmp_path / "truth", tmp_path / "find")


def test_taxpayer_metrics_and_json_truth(tmp_path: Path) -> None:
    (tmp_path / "taxpayers.csv").write_text("tax_id,name\nA,a\nB,b\nC,c\nD,d\n", encoding="utf-8")
    (tmp_path / "truth.json").write_text('{"fraud_taxpayers": ["A", "B"], "rings": []}', encoding="utf-8")
    planted, truth = read_json_truth(tmp_path / "truth.json", tmp_path / "taxpayers.csv")
    assert planted == [] and {t: f for t, (f, _) in truth.items()} == {"A": 1, "B": 1, "C": 0, "D": 0}
    m = taxpayer_metrics({t: f for t, (f, _) in truth.items()}, {"A", "C", "D"})
    assert (m.tp, m.fp, m.fn, m.tn) == (1, 2, 1, 0)
    assert m.precision == pytest.approx(1 / 3) and m.recall == 0.5 and m.clean_share == 1.0
    assert m.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    (tmp_path / "truth.json").write_text('{"fraud_taxpayers": ["Z"], "rings": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not in"):
        read_json_truth(tmp_path / "truth.json", tmp_path / "taxpayers.csv")
    (tmp_path / "truth.json").write_text('{"rings": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="fraud_taxpayers"):
        read_json_truth(tmp_path / "truth.json", tmp_path / "taxpayers.csv")

"""``fapiao detect --findings-out``: the run's findings as Parquet, visible only once complete."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.core.errors import ConfigError
from graph.core.model import Ring, Run
from workbench import findings_parquet
from workbench.detect import DetectionResult
from workbench.findings_parquet import check_out_dir, write_findings


def _result(run_id: str = "run-abc123") -> DetectionResult:
    run = Run(run_id, datetime(2026, 12, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")), {"seed": 3, "engine": "spark"},
              "fp", {"cycles": 1.5})
    rings = [Ring(f"{run_id}-cycle-1", run_id, "cycle", ("A", "B", "C"), ("k1", "k2", "k3"), 0.9,
                  "3 家企业时序闭环", {"window_days": 90, "qvalue": 0.01}),
             Ring(f"{run_id}-fan_hub-2", run_id, "fan_hub", ("H", "A"), (), 0.6, "开票枢纽", {"hub": "H"})]
    scores = pa.table({"tax_id": ["A", "B", "H"], "score": [0.91, 0.4, 0.2], "tier": ["high", "medium", "low"],
                       "reasons": [json.dumps(["闭环成员", "空壳特征"], ensure_ascii=False), json.dumps(["闭环成员"]),
                                   "[]"],
                       "features": ['{"cycle": 1}', '{"cycle": 1}', '{"cycle": 0}']})
    return DetectionResult(run, rings, scores)


def test_findings_are_written_as_parquet_tables_under_the_run_id(tmp_path: Path) -> None:
    res = _result()
    folder = write_findings(res, tmp_path / "out")
    assert folder == tmp_path / "out" / "run-abc123"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["run-abc123"]       # no hidden leftovers
    rings = pq.read_table(folder / "rings.parquet").to_pylist()
    assert [(r["ring_id"], r["kind"], r["members"], r["invoice_keys"], r["score"]) for r in rings] == [
        ("run-abc123-cycle-1", "cycle", ["A", "B", "C"], ["k1", "k2", "k3"], 0.9),
        ("run-abc123-fan_hub-2", "fan_hub", ["H", "A"], [], 0.6)]
    assert json.loads(rings[0]["details"]) == {"window_days": 90, "qvalue": 0.01} and rings[0]["evidence"] == "3 家企业时序闭环"
    members = pq.read_table(folder / "ring_members.parquet").to_pylist()
    assert [(m["ring_id"][-1], m["position"], m["tax_id"]) for m in members] == [
        ("1", 0, "A"), ("1", 1, "B"), ("1", 2, "C"), ("2", 0, "H"), ("2", 1, "A")]
    scores = pq.read_table(folder / "taxpayer_scores.parquet").to_pylist()
    assert [(s["tax_id"], s["tier"], s["reasons"]) for s in scores] == [
        ("A", "high", ["闭环成员", "空壳特征"]), ("B", "medium", ["闭环成员"]), ("H", "low", [])]
    assert {r["run_id"] for t in (rings, members, scores) for r in t} == {"run-abc123"}
    meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert meta["rows"] == {"rings": 2, "ring_members": 5, "taxpayer_scores": 3}
    assert meta["tiers"] == {"low": 1, "medium": 1, "high": 1} and meta["params"]["engine"] == "spark"


def _fail_on_second_table(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pq.write_table
    calls: list[Any] = []

    def flaky(table: pa.Table, where: Any, **kw: Any) -> None:
        calls.append(where)
        if len(calls) == 2:
            raise OSError("disk full")
        real(table, where, **kw)

    monkeypatch.setattr(findings_parquet.pq, "write_table", flaky)


def test_a_write_failing_half_way_leaves_nothing_that_looks_finished(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on_second_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_findings(_result(), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_rewrite_keeps_the_earlier_complete_run_and_a_good_one_replaces_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_findings(_result(), tmp_path / "out")
    (first / "marker").write_text("earlier")
    with monkeypatch.context() as m:
        _fail_on_second_table(m)
        with pytest.raises(OSError):
            write_findings(_result(), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["run-abc123"]
    assert (first / "marker").read_text() == "earlier"
    write_findings(_result(), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["run-abc123"]
    assert not (first / "marker").exists() and (first / "rings.parquet").exists()


def test_an_unwritable_findings_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="--findings-out"):
        check_out_dir(tmp_path / "file")

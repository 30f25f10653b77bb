"""Tiers from significant findings, the timing null and the FDR (algorithms.tiers, algorithms.dynamics)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algorithms.dynamics import blue_frame, burst_window, dynamics
from algorithms.features import Features
from algorithms.risk import Evidence, score_taxpayers
from algorithms.tiers import Finding, assign, dynamics_null, finding_features, unavailable

T0 = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")


def _random_invoices(n_companies: int, n_invoices: int, seed: int) -> pd.DataFrame:
    """Trade with no planted structure: random seller, buyer, time (one year) and amount."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, n_companies, n_invoices)
    b = (s + rng.integers(1, n_companies, n_invoices)) % n_companies
    return pd.DataFrame({
        "seller_tax_id": [f"C{i:04d}" for i in s], "buyer_tax_id": [f"C{i:04d}" for i in b],
        "issued_at": T0 + pd.to_timedelta(rng.uniform(0, 365, n_invoices), unit="D"),
        "total_fen": rng.lognormal(12, 1, n_invoices).astype(np.int64) + 1, "status": "normal",
    })


def _null(inv: pd.DataFrame, copies: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    b = blue_frame(inv)
    w = burst_window(b)
    idx = pd.Index(sorted(set(b["seller"]) | set(b["buyer"])))
    real = dynamics(b, idx, w=w)
    return real, dynamics_null(b, idx, real, w=w, copies=copies, seed=0).table


def test_clean_random_data_gives_almost_no_high() -> None:
    inv = _random_invoices(400, 8_000, seed=1)
    real, dyn = _null(inv)
    assert (dyn["q"] <= 0.05).mean() <= 0.01
    found, _ = finding_features([], dyn.index, fdr=0.05)
    score, tiers = assign(np.zeros(len(dyn)), found, dyn, fdr=0.05, fdr_medium=0.2, tier_medium=0.4,
                          tier_high=0.7, typology_flags=np.zeros(len(dyn)))
    assert tiers.count("high") <= 0.01 * len(tiers)
    assert all((s >= 0.7) == (t == "high") for s, t in zip(score, tiers, strict=True))


def test_pass_through_bursts_stand_out_against_the_null() -> None:
    inv = _random_invoices(300, 6_000, seed=2)
    rows = []
    rng = np.random.default_rng(3)
    for h in range(5):                     # each hub: 30 inputs, each passed on within an hour, same amount
        for k in range(30):
            t = T0 + pd.Timedelta(days=float(rng.uniform(0, 20)))
            amt = int(rng.integers(10**6, 2 * 10**6))
            rows.append((f"S{h}{k}", f"H{h}", t, amt))
            rows.append((f"H{h}", f"B{h}{k}", t + pd.Timedelta(minutes=30), amt))
    planted = pd.DataFrame(rows, columns=["seller_tax_id", "buyer_tax_id", "issued_at", "total_fen"])
    real, dyn = _null(pd.concat([inv, planted.assign(status="normal")], ignore_index=True))
    hubs = [f"H{h}" for h in range(5)]
    assert (dyn.loc[hubs, "q"] <= 0.05).all()
    assert (real.loc[hubs, "path_along"] > real["path_along"].quantile(0.99)).all()
    assert (dyn.drop(index=hubs)["q"] <= 0.05).mean() <= 0.01


def test_significant_findings_need_a_second_line_for_high() -> None:
    idx = pd.Index(["A", "B", "C", "D"])
    findings = [Finding("fan_out", ("A", "B"), 0.01, "集中开票"), Finding("cycle", ("A", "C"), 0.02, "闭环"),
                Finding("cycle", ("D",), 0.5, "not significant"), Finding("shared_identity", ("D",), None, "rule")]
    found, reasons = finding_features(findings, idx, fdr=0.05)
    assert found["findings_n"].tolist() == [2, 1, 1, 0]
    assert found.loc["A", "findings_min_q"] == 0.01 and found.loc["D", "findings_min_q"] == 1
    assert reasons[0][0].startswith("集中开票") and reasons[3] == []
    dyn = pd.DataFrame({"q": [1.0, 1.0, 1.0, 1.0]}, index=idx)
    _, tiers = assign(np.zeros(4), found, dyn, fdr=0.05, fdr_medium=0.2, tier_medium=0.4, tier_high=0.7,
                      typology_flags=np.array([0, 0, 1, 0]))
    assert tiers == ["high", "medium", "high", "low"]       # A: two findings; C: finding + a typology rule
    dyn = pd.DataFrame({"q": [1.0, 0.01, 1.0, 0.01]}, index=idx)
    _, tiers = assign(np.zeros(4), found, dyn, fdr=0.05, fdr_medium=0.05, tier_medium=0.4, tier_high=0.7,
                      typology_flags=np.array([0, 0, 0, 0]))
    assert tiers == ["high", "high", "medium", "medium"]     # B: finding + timing; D: timing alone


def _features(n: int, extra: dict[str, float]) -> Features:
    rng = np.random.default_rng(0)
    idx = pd.Index([f"T{i:03d}" for i in range(n)], name="tax_id")
    v = pd.DataFrame({"scale_log10_fen": rng.normal(7, 1, n), "dyn_path_along": rng.poisson(3, n).astype(float)},
                     index=idx)
    for k, val in extra.items():
        v[k] = val
    return Features(v, pd.DataFrame(index=idx), pd.Series("x", index=idx))


def test_constant_inputs_neither_add_nor_subtract() -> None:
    """Dropping optional columns leaves tiers driven by findings and timing unchanged: a column the data
    lacks arrives constant (age unknown, no identifiers) and is left out of the model."""
    n = 80
    idx = pd.Index([f"T{i:03d}" for i in range(n)], name="tax_id")
    found, reasons = finding_features([Finding("fan_in", ("T001", "T002"), 0.001, "集中取得进项")], idx, fdr=0.05)
    dyn = pd.DataFrame({"excess": 0.0, "p": 1.0, "q": 1.0, "top": ""}, index=idx)
    dyn.loc["T003", ["q", "top"]] = [0.01, "path_against"]
    full = Evidence(found, reasons, dyn, {}, 0.05, 0.2)
    sparse = Evidence(found, reasons, dyn, {"shell": "登记日期", "fan_hub": "品目编码"}, 0.05, 0.2)
    a = score_taxpayers(_features(n, {}), evidence=full).scores.to_pandas()
    b = score_taxpayers(_features(n, {"age_at_first_days": 0.0, "shared_identity": 0.0}),
                        evidence=sparse).scores.to_pandas()
    assert a["tier"].tolist() == b["tier"].tolist() and a["score"].tolist() == b["score"].tolist()
    # one line of evidence each (a finding; the timing null alone) → medium; high needs two
    assert a.set_index("tax_id").loc[["T001", "T002", "T003"], "tier"].tolist() == ["medium", "medium", "medium"]
    why = json.loads(b.set_index("tax_id").loc["T001", "reasons"])
    assert why[0].startswith("集中取得进项") and "数据缺少" in why[-1] and "品目编码" in why[-1]
    assert json.loads(b.set_index("tax_id").loc["T050", "reasons"]) == []        # low, no reasons: no noise


def test_unavailable_lists_the_missing_inputs() -> None:
    inv = _random_invoices(20, 100, seed=4)
    tp = pd.DataFrame({"tax_id": sorted(set(inv["seller_tax_id"])), "registered_on": pd.Timestamp("2020-01-01")})
    missing = unavailable(inv, tp, pd.DataFrame(columns=["tax_id", "kind", "value"]))
    assert set(missing) == {"shell", "item_mismatch", "fan_hub", "near_limit", "shared_identity", "void_red"}
    inv["item_code"] = np.where(np.arange(len(inv)) % 2, "1010101", "1020202")
    assert "item_mismatch" not in unavailable(inv, tp, pd.DataFrame(columns=["tax_id", "kind", "value"]))


def test_a_typology_rule_alone_needs_its_permutation_fdr() -> None:
    # four taxpayers, no finding, no timing evidence; a high typology score decides no tier on its own:
    # A one rule that fires as often on shuffled data (FDR 0.8) → low, its score kept below tier_medium;
    # B one rule with FDR 0.01 → medium; C two practice rules (no null) → medium; D a significant rule and a
    # second rule → high
    idx = pd.Index(list("ABCD"))
    found, _ = finding_features([], idx, fdr=0.05)
    dyn = pd.DataFrame({"q": 1.0}, index=idx)
    kw = {"fdr": 0.05, "fdr_medium": 0.05, "tier_medium": 0.4, "tier_high": 0.7, "typology_flags": np.array([1, 1, 2, 2]),
          "rule_q": np.array([0.8, 0.01, 1.0, 0.01]), "strong_rules": np.array([1, 1, 2, 2])}
    typology = np.array([0.6, 0.6, 0.75, 0.8])
    score, tiers = assign(typology, found, dyn, rule_gate=True, **kw)
    assert tiers == ["low", "medium", "medium", "high"]
    assert score[0] < 0.4 <= score[1] < 0.7 and 0.4 <= score[2] < 0.7 <= score[3]
    # without the gate (the default) the typology score's cuts decide: one rule → medium, ≥ 0.7 → high
    assert assign(typology, found, dyn, **kw)[1] == ["medium", "medium", "high", "high"]
    # two weak indicators are not two lines of evidence
    _, tiers = assign(np.array([0.3]), found.iloc[:1], dyn.iloc[:1], fdr=0.05, fdr_medium=0.05, tier_medium=0.4,
                      tier_high=0.7, typology_flags=np.array([2]), rule_q=np.array([1.0]), strong_rules=np.array([0]),
                      rule_gate=True)
    assert tiers == ["low"]


def _two_flagged(rule: str) -> tuple[Features, pd.DataFrame, list[list[str]], pd.DataFrame]:
    """40 taxpayers, T001 and T002 flagged by ``rule``; no findings, no dynamics: the rule alone decides."""
    f = _features(40, {f"{rule}_flag": 0.0})
    f.values.loc[["T001", "T002"], f"{rule}_flag"] = 1.0
    idx = f.values.index
    found, reasons = finding_features([], idx, fdr=0.05)
    dyn = pd.DataFrame({"excess": 0.0, "p": 1.0, "q": 1.0, "top": ""}, index=idx)
    return f, found, reasons, dyn


def test_a_rule_hit_that_its_per_taxpayer_test_does_not_find_rare_earns_no_points() -> None:
    f, found, reasons, dyn = _two_flagged("void_red")
    q = pd.Series({"T001": 1e-6, "T002": 0.4})
    tested = Evidence(found, reasons, dyn, {}, 0.05, 0.05, taxpayer_q={"void_red": q}, taxpayer_fdr=0.05)
    untested = Evidence(found, reasons, dyn, {}, 0.05, 0.05)
    a = score_taxpayers(f, evidence=tested).scores.to_pandas().set_index("tax_id")
    b = score_taxpayers(f, evidence=untested).scores.to_pandas().set_index("tax_id")
    assert b.loc["T002", "tier"] == "medium" and a.loc["T002", "tier"] == "low"      # one void among many: no points
    assert a.loc["T001", "tier"] == b.loc["T001", "tier"] == "medium"                 # significant: counts as before
    assert any("逐户检验" in r for r in json.loads(a.loc["T002", "reasons"]))           # still explained


def test_a_tested_rule_without_its_input_or_its_test_table_stays_silent() -> None:
    f, found, reasons, dyn = _two_flagged("shell")
    q = pd.Series({"T001": 1e-6, "T002": 1e-6})
    gated = [Evidence(found, reasons, dyn, {"shell": "登记日期"}, 0.05, 0.05, taxpayer_q={"shell": q},
                      taxpayer_fdr=0.05),                                   # registration dates missing
             Evidence(found, reasons, dyn, {}, 0.05, 0.05, taxpayer_q={}, taxpayer_fdr=0.05)]  # no test table
    for ev in gated:
        s = score_taxpayers(f, evidence=ev).scores.to_pandas().set_index("tax_id")
        assert (s.loc[["T001", "T002"], "tier"] == "low").all()
        assert not any(r.startswith("空壳") for r in json.loads(s.loc["T001", "reasons"]))   # no evidence either
        assert json.loads(s.loc["T001", "features"]).get("shell_flag", 0.0) == 0.0     # nor a flag for the model
    off = Evidence(found, reasons, dyn, {}, 0.05, 0.05, taxpayer_q={}, taxpayer_fdr=None)   # gate off: counts
    s = score_taxpayers(f, evidence=off).scores.to_pandas().set_index("tax_id")
    assert s.loc["T001", "tier"] == "medium"


def _labelled(n: int = 300) -> tuple[Features, dict[str, int], pd.DataFrame]:
    rng = np.random.default_rng(5)
    f = _features(n, {})
    f.values["out_degree"] = rng.integers(1, 30, n).astype(float)
    f.values["cycle_flag"] = (rng.random(n) < 0.2).astype(float)
    y = (f.values["cycle_flag"].to_numpy() + (rng.random(n) < 0.1)) > 0
    labels = {t: int(v) for t, v in zip(f.values.index[: n // 2], y[: n // 2], strict=True)}
    ids = f.values.index.to_numpy()
    edges = pd.DataFrame({"seller_tax_id": rng.choice(ids, 4 * n), "buyer_tax_id": rng.choice(ids, 4 * n),
                          "total_fen": rng.integers(10_000, 10**7, 4 * n)})
    return f, labels, edges


def test_supervised_scores_are_identical_run_to_run_and_fitted_on_one_thread(monkeypatch: Any) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_info

    f, labels, edges = _labelled()
    seen: list[int] = []
    fit = HistGradientBoostingClassifier.fit

    def spy(self: HistGradientBoostingClassifier, *a: Any, **k: Any) -> HistGradientBoostingClassifier:
        seen.extend(int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "openmp")
        return fit(self, *a, **k)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", spy)
    first = score_taxpayers(f, labels=labels, edges=edges, seed=7)
    second = score_taxpayers(f, labels=labels, edges=edges, seed=7)
    assert first.model == "gradient_boosting"
    assert first.scores.equals(second.scores)
    assert (first.cv_auc, first.cv_f1, first.cv_confusion) == (second.cv_auc, second.cv_f1, second.cv_confusion)
    assert seen and set(seen) == {1}                         # every fit (5 folds + the final model) on one thread
    tp, fp, fn, tn = first.cv_confusion or (0, 0, 0, 0)
    assert tp + fp + fn + tn == len(labels) and first.cv_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_a_reason_states_a_findings_q_once_and_without_e_notation() -> None:
    idx = pd.Index(["T001", "T002"])
    stated = Finding("fan_in", ("T001",), 0.0, "集中取得进项（p < 0.0001，q < 0.0001）")
    bare = Finding("fan_out", ("T002",), 3.5e-7, "集中开出销项")
    _, reasons = finding_features([stated, bare], idx, fdr=0.05)
    assert reasons[0] == ["集中取得进项（p < 0.0001，q < 0.0001）"]
    assert reasons[1] == ["集中开出销项（q < 0.0001）"]

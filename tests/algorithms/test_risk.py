"""Risk scoring: monotone in points, tiers by thresholds, reasons in words, supervised model with CV AUC."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from algorithms.features import Features
from algorithms.risk import POINTS, combine, score_taxpayers, tier_of

TIER_ORDER = {"low": 0, "medium": 1, "high": 2}


@given(st.floats(0, 400), st.floats(0, 400), st.floats(0, 1))
def test_score_and_tier_are_monotone_in_points(p1: float, p2: float, model: float) -> None:
    lo, hi = sorted((p1, p2))
    assert combine(lo, model) <= combine(hi, model)
    assert TIER_ORDER[tier_of(combine(lo, model))] <= TIER_ORDER[tier_of(combine(hi, model))]


def _features(n: int, flags: dict[str, list[int]]) -> Features:
    rng = np.random.default_rng(0)
    idx = pd.Index([f"T{i:03d}" for i in range(n)], name="tax_id")
    v = pd.DataFrame({"scale_log10_fen": rng.normal(7, 1, n), "out_degree": rng.integers(1, 20, n).astype(float)},
                     index=idx)
    ev = pd.DataFrame(index=idx)
    for name, hits in flags.items():
        v[f"{name}_flag"] = 0
        v.loc[idx[hits], f"{name}_flag"] = 1
        ev[name] = ""
        ev.loc[idx[hits], name] = f"{name} evidence"
    return Features(v, ev, pd.Series("x", index=idx))


def test_more_flagged_signals_never_lower_the_tier() -> None:
    f = _features(60, {"cycle": [0, 1], "shell": [1, 2], "near_limit": [1]})
    res = score_taxpayers(f)
    s = res.scores.to_pandas().set_index("tax_id")
    assert res.points["T001"] == POINTS["cycle"][0] + POINTS["shell"][0] + POINTS["near_limit"][0]
    assert TIER_ORDER[s.loc["T001", "tier"]] >= TIER_ORDER[s.loc["T000", "tier"]] >= TIER_ORDER[s.loc["T010", "tier"]]
    assert s.loc["T001", "tier"] == "high"
    reasons = json.loads(s.loc["T001", "reasons"])
    assert reasons[0].startswith("cycle evidence") and len(reasons) >= 3     # biggest points first
    assert json.loads(s.loc["T001", "features"])["cycle_flag"] == 1


def test_tier_thresholds_are_configurable() -> None:
    f = _features(30, {"shell": [0]})
    strict = score_taxpayers(f, tier_medium=0.9, tier_high=0.95).scores.to_pandas()
    assert set(strict["tier"]) == {"low"}


def test_supervised_model_once_dispositions_exist() -> None:
    f = _features(80, {"cycle": list(range(0, 80, 4))})
    labels = {f"T{i:03d}": int(i % 4 == 0) for i in range(40)}
    res = score_taxpayers(f, labels=labels, seed=1)
    assert res.model == "gradient_boosting" and res.labels_used == 40
    assert res.cv_auc is not None and res.cv_auc > 0.9              # the flag predicts the label
    assert res.cv_f1 is not None and res.cv_f1 > 0.9
    assert score_taxpayers(f, labels={"T000": 1}).model == "isolation_forest"   # too few labels

"""Pass-through hub without item codes (hubs.pass_through_hub) on small hand-built markets."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from algorithms import hubs

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, 10, tzinfo=TZ)


def _trader(rng: np.random.Generator, name: str, *, n_in: int, n_out: int, in_days: tuple[float, float],
            out_days: tuple[float, float], markup: float) -> list[dict[str, object]]:
    """``name`` buys from ``n_in`` sellers on days drawn in ``in_days`` and sells the same value × (1 + markup)
    to ``n_out`` buyers on days drawn in ``out_days`` (only the required columns)."""
    amounts = rng.integers(1_000_000, 5_000_000, n_in)
    rows: list[dict[str, object]] = [
        {"seller_tax_id": f"{name}-S{i}", "buyer_tax_id": name, "total_fen": int(a),
         "issued_at": T0 + timedelta(days=float(rng.uniform(*in_days)))} for i, a in enumerate(amounts)]
    shares = rng.uniform(0.9, 1.1, n_out)
    out = amounts.sum() * (1 + markup) * shares / shares.sum()
    rows += [{"seller_tax_id": name, "buyer_tax_id": f"{name}-B{i}", "total_fen": int(a),
              "issued_at": T0 + timedelta(days=float(rng.uniform(*out_days)))} for i, a in enumerate(out)]
    return rows


def _null_market(seed: int = 0, traders: int = 40) -> list[dict[str, object]]:
    """Traders that buy and sell on unrelated days of two years at margins of −10 % … +40 % (about one in
    five within the 5 % a hub is allowed: they are tested and must not be flagged)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for k in range(traders):
        rows += _trader(rng, f"T{k:02d}", n_in=int(rng.integers(6, 15)), n_out=int(rng.integers(6, 15)),
                        in_days=(0, 730), out_days=(0, 730), markup=float(rng.uniform(-0.1, 0.4)))
    return rows


def _planted(seed: int = 1) -> list[dict[str, object]]:
    """The generator's hub (loaders/synth/patterns.py, plant_fan_hub): 6-15 sellers over 80 days, buyers
    over 90 days starting 10 days later, output 1-3 % above input."""
    rng = np.random.default_rng(seed)
    return _trader(rng, "HUB", n_in=10, n_out=12, in_days=(300, 380), out_days=(310, 400), markup=0.02)


def test_finds_the_planted_hub_among_balanced_traders_and_says_why() -> None:
    sig = hubs.pass_through_hub(pd.DataFrame(_null_market() + _planted()))
    assert list(sig.flagged.index) == ["HUB"]
    row = sig.table.loc["HUB"]
    assert 0 < row["lag_days"] <= 30 and row["qvalue"] <= 0.05 and abs(row["margin"]) <= 0.05
    assert row["evidence"].startswith("过票中转（无需商品编码）")
    assert "销项平均在进项后" in row["evidence"] and ("p < 0.0001" in row["evidence"] or "p = " in row["evidence"])


def test_a_market_without_a_hub_yields_nothing() -> None:
    for seed in range(3):
        sig = hubs.pass_through_hub(pd.DataFrame(_null_market(seed)), seed=seed)
        assert len(sig.table) > 0                 # balanced traders were tested …
        assert len(sig.flagged) == 0              # … and none is a hub


def test_buying_input_after_selling_is_the_against_orientation() -> None:
    rng = np.random.default_rng(5)
    rows = _null_market() + _trader(rng, "AGAINST", n_in=10, n_out=12, in_days=(310, 400), out_days=(300, 380),
                                    markup=0.0)
    sig = hubs.pass_through_hub(pd.DataFrame(rows))
    assert list(sig.flagged.index) == ["AGAINST"]
    row = sig.table.loc["AGAINST"]
    assert row["lag_days"] < 0
    assert "进项平均在销项后" in row["evidence"]


def test_margin_and_holding_time_bound_the_candidates() -> None:
    rng = np.random.default_rng(2)
    rows = _null_market() + _planted()
    rows += _trader(rng, "MARKUP", n_in=10, n_out=12, in_days=(300, 380), out_days=(310, 400), markup=0.3)
    rows += _trader(rng, "STOCK", n_in=10, n_out=12, in_days=(0, 40), out_days=(300, 360), markup=0.0)
    sig = hubs.pass_through_hub(pd.DataFrame(rows))
    assert "MARKUP" not in sig.table.index        # adds 30 % value: a trader, not a hub
    assert "STOCK" in sig.table.index and "STOCK" not in sig.flagged.index   # sells ~10 months after buying
    assert list(sig.flagged.index) == ["HUB"]


def test_a_significant_hub_is_flagged_only_within_max_days() -> None:
    table = pd.DataFrame(_null_market() + _planted())
    row = hubs.pass_through_hub(table).table.loc["HUB"]
    strict = hubs.pass_through_hub(table, max_days=row["mismatch_days"] - 1).table.loc["HUB"]
    assert row["flag"] and row["mismatch_days"] <= 45
    assert strict["qvalue"] == row["qvalue"] <= 0.05 and not strict["flag"]     # same test, outside the bound


def test_silent_without_amounts_or_times() -> None:
    table = pd.DataFrame(_null_market() + _planted())
    assert len(hubs.pass_through_hub(table.drop(columns=["total_fen"])).table) == 0
    assert len(hubs.pass_through_hub(table.assign(issued_at=T0)).table) == 0
    assert len(hubs.pass_through_hub(table.drop(columns=["issued_at"])).table) == 0


def test_hub_rings_join_both_detectors_once_per_company() -> None:
    from algorithms.signals import make_signal

    fan = make_signal("fan_hub", pd.DataFrame({"value": [0.99, 0.5], "flag": [True, False], "evidence": ["变票", ""],
                                               "value_added": [0.01, 0.3]}, index=["A", "C"]))
    passing = make_signal("pass_hub", pd.DataFrame({"value": [0.999, 0.998], "flag": [True, True],
                                                    "evidence": ["过票中转 A", "过票中转 B"], "margin": [0.02, -0.01]},
                                                   index=["A", "B"]))
    both = hubs.either(fan, passing)
    assert list(both.flagged.index) == ["A", "B"]
    assert both.table.loc["A", "evidence"] == "变票；过票中转 A"
    assert both.table.loc["B", "value_added"] == -0.01
    assert len(hubs.either(fan.__class__("fan_hub", fan.table.iloc[1:]), passing.__class__(
        "pass_hub", passing.table.iloc[:0])).table) == 0

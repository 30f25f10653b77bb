"""Significance helpers: BH-FDR, empirical p-values and the null-model shuffles."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from algorithms import significance
from algorithms.significance import bh_fdr, empirical_pvalue, rewire, shuffle_amounts, shuffle_times


def frame(n: int, seed: int = 0, companies: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seller = rng.integers(0, companies, n)
    buyer = (seller + 1 + rng.integers(0, companies - 1, n)) % companies
    total = rng.integers(1_000, 1_000_000, n)
    return pd.DataFrame({
        "key": [f"K{i}" for i in range(n)],
        "seller_tax_id": [f"S{s:03d}" for s in seller], "buyer_tax_id": [f"S{b:03d}" for b in buyer],
        "buyer_name": [f"name{b}" for b in buyer],
        "issued_at": pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(rng.integers(0, 365 * 86_400, n), "s"),
        "amount_fen": total - total // 10, "tax_fen": total // 10, "total_fen": total,
    })


def test_docstring_examples_run() -> None:
    result = doctest.testmod(significance)
    assert result.attempted > 5 and result.failed == 0


def test_bh_matches_step_up_rule_by_hand() -> None:
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.002, 20), rng.uniform(0, 1, 200)])
    reject, q = bh_fdr(p, q=0.1)
    order = np.sort(p)
    below = np.flatnonzero(order <= 0.1 * np.arange(1, len(p) + 1) / len(p))
    k = below.max() + 1 if len(below) else 0
    assert reject.sum() == k
    assert set(np.flatnonzero(reject)) == set(np.flatnonzero(p <= order[k - 1]))
    assert np.all(q >= p) and np.all(q <= 1)


def test_bh_nan_is_not_tested_and_bad_input_rejected() -> None:
    reject, q = bh_fdr([0.001, np.nan, 0.9])
    assert reject.tolist() == [True, False, False] and np.isnan(q[1])
    with pytest.raises(ValueError):
        bh_fdr([1.5])
    with pytest.raises(ValueError):
        bh_fdr([0.1], q=0)


def test_empirical_pvalue_counts_ties_as_extreme_and_is_uniform_under_null() -> None:
    assert empirical_pvalue([2.0], [1.0, 2.0, 2.0, 3.0]).tolist() == [4 / 5]
    rng = np.random.default_rng(0)
    null = rng.normal(size=2_000)
    p = empirical_pvalue(rng.normal(size=5_000), null)
    assert p.min() > 0 and p.max() <= 1
    assert abs(np.mean(p <= 0.05) - 0.05) < 0.015      # valid under exchangeability
    assert empirical_pvalue([np.nan], null).tolist() == [1.0]


def test_shuffle_times_keeps_parties_amounts_and_months() -> None:
    inv = frame(5_000)
    out = shuffle_times(inv, rng=np.random.default_rng(1))
    for col in ("seller_tax_id", "buyer_tax_id", "total_fen", "key"):
        assert out[col].tolist() == inv[col].tolist()
    assert (out["issued_at"].dt.month == inv["issued_at"].dt.month).all()
    assert sorted(out["issued_at"]) == sorted(inv["issued_at"])
    assert (out["issued_at"] != inv["issued_at"]).mean() > 0.9
    again = shuffle_times(inv, rng=np.random.default_rng(1))
    assert again["issued_at"].equals(out["issued_at"])               # seeded
    days = shuffle_times(inv, period=7, rng=np.random.default_rng(2))
    start = inv["issued_at"].min()
    assert ((days["issued_at"] - start).dt.days // 7 == (inv["issued_at"] - start).dt.days // 7).all()
    with pytest.raises(ValueError):
        shuffle_times(inv, period=0, rng=np.random.default_rng(0))


def test_shuffle_amounts_within_seller_moves_amount_columns_together() -> None:
    inv = frame(3_000)
    out = shuffle_amounts(inv, by="seller", rng=np.random.default_rng(4))
    assert (out["amount_fen"] + out["tax_fen"] == out["total_fen"]).all()
    for _seller, g in inv.groupby("seller_tax_id"):
        assert sorted(out.loc[g.index, "total_fen"]) == sorted(g["total_fen"])
    assert (out["total_fen"] != inv["total_fen"]).mean() > 0.9
    assert out["issued_at"].equals(inv["issued_at"])


def test_rewire_preserves_degrees_and_avoids_self_billing() -> None:
    inv = frame(4_000, companies=30)
    out = rewire(inv, rng=np.random.default_rng(5))
    assert out["seller_tax_id"].value_counts().equals(inv["seller_tax_id"].value_counts())
    assert out["buyer_tax_id"].value_counts().sort_index().equals(inv["buyer_tax_id"].value_counts().sort_index())
    assert (out["seller_tax_id"] != out["buyer_tax_id"]).all()
    assert (out["buyer_name"].str[4:] == out["buyer_tax_id"].str[1:].astype(int).astype(str)).all()
    assert (out["buyer_tax_id"] != inv["buyer_tax_id"]).mean() > 0.9
    monthly = rewire(inv, rng=np.random.default_rng(5), period="month")
    def by_month(f: pd.DataFrame) -> pd.Series:
        return f.groupby([f.issued_at.dt.month, "buyer_tax_id"]).size()
    assert by_month(monthly).equals(by_month(inv))


def test_empty_frames_pass_through() -> None:
    inv = frame(0)
    rng = np.random.default_rng(0)
    assert shuffle_times(inv, rng=rng).empty and shuffle_amounts(inv, rng=rng).empty and rewire(inv, rng=rng).empty


def test_p_and_q_values_read_as_an_investigator_reads_them() -> None:
    from algorithms.significance import pq, sig

    assert [sig(x) for x in (0.0123, 0.05, 1e-4, 9.99e-5, 5.38e-11, 0.0)] == [
        "= 0.012", "= 0.05", "= 0.0001", "< 0.0001", "< 0.0001", "< 0.0001"]
    assert pq(5.38e-11, 3.53e-7) == "p < 0.0001，q < 0.0001"
    assert pq(0.0031) == "p = 0.0031" and pq(q=0.2) == "q = 0.2"

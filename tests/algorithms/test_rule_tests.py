"""Per-taxpayer tests of the typology rules (algorithms.rule_tests) on small hand-built data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms import rule_tests
from algorithms.rule_tests import (
    near_limit_test,
    negative_binomial_p,
    rule_qvalues,
    shell_test,
    void_red_test,
)


def _invoices(sellers: list[str], status: list[str], amount: list[int] | int = 100) -> pd.DataFrame:
    n = len(sellers)
    return pd.DataFrame({"seller_tax_id": sellers, "buyer_tax_id": "B", "status": status, "amount_fen": amount,
                         "total_fen": 113, "issued_at": pd.Timestamp("2024-03-01", tz="Asia/Shanghai"),
                         "key": [f"k{i}" for i in range(n)]})


def test_many_voids_among_few_invoices_is_significant_and_ordinary_sellers_are_not() -> None:
    rng = np.random.default_rng(0)
    sellers = [f"S{i}" for i in range(60) for _ in range(20)]
    status = ["void" if u < 0.02 else "normal" for u in rng.random(len(sellers))]
    inv = _invoices(["X"] * 12 + sellers, ["void"] * 6 + ["normal"] * 6 + status)
    t = void_red_test(inv)
    assert t.loc["X", "q"] < 0.001
    assert (t.drop(index="X")["q"] > 0.05).all()


def test_one_void_where_voids_are_common_is_not_significant() -> None:
    rng = np.random.default_rng(1)
    sellers = [f"S{i}" for i in range(40) for _ in range(10)]
    status = ["void" if u < 0.15 else "normal" for u in rng.random(len(sellers))]
    inv = _invoices(["X"] * 10 + sellers, ["void"] + ["normal"] * 9 + status)
    t = void_red_test(inv)
    assert t.loc["X", "q"] > 0.5


def test_red_letter_invoices_are_counted() -> None:
    sellers = [f"S{i}" for i in range(50) for _ in range(10)]
    amounts = [-100] * 5 + [100] * 7 + [100] * len(sellers)
    amounts[12 + 3] = -100                                   # one red-letter invoice elsewhere
    inv = _invoices(["X"] * 12 + sellers, ["normal"] * (12 + len(sellers)), amounts)
    t = void_red_test(inv)
    assert t.loc["X", "reds"] == 5 and t.loc["X", "q"] < 0.01
    assert t.drop(index="X")["q"].min() > 0.05


def test_missing_or_constant_input_yields_no_test() -> None:
    inv = _invoices(["A"] * 20, ["normal"] * 20)
    assert void_red_test(inv).empty                                    # nothing voided or red-lettered anywhere
    assert void_red_test(inv.drop(columns=["status"])).empty           # no status column
    assert near_limit_test(inv, pd.Series(dtype=float)).empty          # no limits
    act = pd.DataFrame({"out_n": [3.0, 4.0], "age_days": [np.nan, np.nan]}, index=["A", "B"])
    assert shell_test(act, pd.Series({"A": 3.0, "B": 4.0})).empty     # no registration dates
    no_reg = act.assign(age_days=100.0)                                # one registration date for everyone
    assert shell_test(no_reg, pd.Series({"A": 3.0, "B": 4.0})).empty
    assert rule_qvalues(inv.drop(columns=["status"]), None, act, rules={"void_red", "near_limit", "shell"}) == {}


def test_near_limit_counts_against_the_sellers_own_spread() -> None:
    limit = 100_000
    rows: list[tuple[str, int]] = []
    for i in range(200):                                     # ordinary sellers: a few reach 90 % of the limit once
        rows += [(f"S{i}", 30_000)] * 8 + [(f"S{i}", 95_000 if i % 5 == 0 else 40_000)]
    rows += [("N", 95_000)] * 2 + [("N", 30_000)] * 3       # 2 of 5 at the limit: the rule fires, not rare here
    rows += [("F", 99_000)] * 30                            # 30 of 30 at the limit
    inv = pd.DataFrame(rows, columns=["seller_tax_id", "amount_fen"])
    limits = pd.Series(limit, index=sorted({s for s, _ in rows}))
    t = near_limit_test(inv, limits)
    assert t.loc["F", "q"] < 1e-6
    assert t.loc["N", "q"] > 0.05


def test_shell_burst_is_judged_against_young_sellers() -> None:
    idx = [f"Y{i}" for i in range(100)] + ["F", "OLD"]
    act = pd.DataFrame({"out_n": 5.0, "age_days": [30.0 + i for i in range(100)] + [20.0, 2000.0]}, index=idx)
    busiest = pd.Series([1.0 + i % 4 for i in range(100)] + [40.0, 500.0], index=idx)
    t = shell_test(act, busiest)
    assert "OLD" not in t.index                              # not young: outside the rule's population
    assert t.loc["F", "q"] < 1e-6
    assert (t.drop(index="F")["q"] > 0.05).all()


def test_negative_binomial_is_poisson_without_extra_spread() -> None:
    ref = np.array([1.0, 1.0, 1.0, 1.0])                    # variance 0 ≤ mean
    p = negative_binomial_p(np.array([0.0, 1.0, 4.0]), ref)
    assert p[0] == 1.0 and 0.5 < p[1] < 0.7 and p[2] < 0.05
    assert set(rule_tests.TESTS) == {"void_red", "near_limit", "shell"}


def test_three_of_300_near_the_limit_is_ordinary_where_one_percent_are_and_60_is_not() -> None:
    rng = np.random.default_rng(3)
    limit = 100_000
    rows: list[tuple[str, int]] = []
    for i in range(150):                                     # base rate 1 %: each invoice near the limit w.p. 0.01
        rows += [(f"S{i}", 95_000 if u < 0.01 else 40_000) for u in rng.random(300)]
    rows += [("THREE", 95_000)] * 3 + [("THREE", 40_000)] * 297
    rows += [("SIXTY", 95_000)] * 60 + [("SIXTY", 40_000)] * 240
    inv = pd.DataFrame(rows, columns=["seller_tax_id", "amount_fen"])
    t = near_limit_test(inv, pd.Series(limit, index=sorted({s for s, _ in rows})))
    assert t.loc["THREE", "near_n"] == 3 and t.loc["THREE", "q"] > 0.05
    assert t.loc["SIXTY", "q"] < 1e-6
    assert (t.drop(index="SIXTY")["q"] > 0.05).all()


def test_sellers_that_differ_widen_the_null_but_do_not_hide_an_extreme_one() -> None:
    rng = np.random.default_rng(4)
    rates = rng.beta(0.5, 20, 300)                           # shares differ a lot between sellers (mean 2.4 %)
    k = rng.binomial(40, rates).astype(float)
    n = np.full(300, 40.0)
    rate, rho = rule_tests.overdispersion(k, n)
    assert rho > 0.02                                        # measured spread beyond the binomial
    p_plain = rule_tests.binomial_p(k, n, rate)
    p_over = rule_tests.overdispersed_binomial_p(k, n)
    tail = k >= 5                                            # the upper tail is heavier than the binomial's
    assert tail.any() and (p_over[tail] > p_plain[tail]).all()
    assert (p_plain < 0.001).sum() > (p_over < 0.001).sum()  # the plain binomial calls ordinary sellers rare
    p = rule_tests.overdispersed_binomial_p(np.append(k, 38.0), np.append(n, 40.0))
    assert p[-1] < 1e-6


def test_a_young_seller_with_few_but_huge_invoices_is_judged_by_value_too() -> None:
    idx = [f"Y{i}" for i in range(200)] + ["BIG"]
    act = pd.DataFrame({"out_n": 5.0, "age_days": [30.0 + i % 100 for i in range(200)] + [40.0]}, index=idx)
    busiest = pd.Series([1.0 + i % 6 for i in range(200)] + [6.0], index=idx)      # BIG: an ordinary count
    value = pd.Series([1e6 * (1 + i % 9) for i in range(200)] + [2e9], index=idx)  # … of a huge value
    assert shell_test(act, busiest).loc["BIG", "q"] > 0.5
    t = shell_test(act, busiest, value)
    assert t.loc["BIG", "q"] < 0.01
    assert (t.drop(index="BIG")["q"] > 0.05).all()


def test_near_limit_needs_a_rare_share_and_a_rare_count() -> None:
    limit = 100_000
    rows: list[tuple[str, int]] = []
    for i in range(1500):                                    # 1 in 600 invoices near the limit, ~60 per seller
        rows += [(f"S{i}", 95_000 if (i * 60 + j) % 600 == 0 else 40_000) for j in range(60)]
    rows += [("TWO", 95_000)] * 2 + [("TWO", 40_000)] * 3   # 2 of 5: a rare share, an ordinary count
    rows += [("MANY", 95_000)] * 30 + [("MANY", 40_000)] * 10
    inv = pd.DataFrame(rows, columns=["seller_tax_id", "amount_fen"])
    t = near_limit_test(inv, pd.Series(limit, index=sorted({s for s, _ in rows})))
    share_only = rule_tests.overdispersed_binomial_p(t["near_n"], t["n"])
    assert pd.Series(share_only, index=t.index)["TWO"] < 1e-4  # the share alone calls it rare
    assert t.loc["TWO", "q"] > 0.05
    assert t.loc["MANY", "q"] < 1e-6

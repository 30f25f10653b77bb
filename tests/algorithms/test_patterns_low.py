"""Invoices far below both parties' usual amounts (双方异常小额往来) on small hand-built graphs: found when a company
carries many invoices far below its own and each counterparty's usual amounts, quiet on a market without them and
for a company whose own trade is small, silent without amounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms.patterns import PatternParams, _Run, detect_patterns, prepare
from algorithms.patterns_low import below_both, low_amount, usual_amounts
from tests.helpers import pattern_data as D

PARAMS = PatternParams(null_copies=20)
KIND = ("low_amount",)
Row = tuple[str, str, float, int]


def _market(rng: np.random.Generator, companies: int = 200, invoices: int = 6000) -> list[Row]:
    """Each company trades at its own scale (log-normal around its own level); an invoice's total sits between
    its two parties' levels. Times uniform over a year."""
    level = rng.normal(11.5, 0.7, companies)
    s = rng.integers(0, companies, invoices)
    b = rng.integers(0, companies, invoices)
    keep = s != b
    a = np.exp((level[s] + level[b]) / 2 + rng.normal(0, 0.3, invoices)).astype(np.int64) + 100
    t = rng.uniform(0, 360, invoices)
    return [(f"C{x:04d}", f"C{y:04d}", float(d), int(v)) for x, y, d, v, k in zip(s, b, t, a, keep, strict=True) if k]


def _plant_small(rng: np.random.Generator, hub: str, k: int) -> list[Row]:
    """``hub`` trades at the market's scale with 20 companies, and pays k others tiny invoices (¥10-¥30)."""
    rows = [(hub, f"C{int(c):04d}", float(rng.uniform(0, 360)), int(np.exp(rng.normal(11.5, 0.3))))
            for c in rng.choice(200, 20, replace=False)]
    rows += [(f"C{int(c):04d}", hub, float(rng.uniform(0, 360)), int(rng.integers(1_000, 3_000)))
             for c in rng.choice(200, k, replace=False)]
    return rows


def _retailer(rng: np.random.Generator, name: str) -> list[Row]:
    """A company whose own trade is small: it sells ¥10-¥30 items to 20 companies of the market."""
    return [(name, f"C{int(c):04d}", float(rng.uniform(0, 360)), int(rng.integers(1_000, 3_000)))
            for c in rng.choice(200, 20, replace=False)]


def _data(seed: int, *, hub: bool = True, retailer: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = _market(rng)
    if hub:
        rows += _plant_small(rng, "H", 12)
    if retailer:
        rows += _retailer(rng, "R")
    return D.frame(rows)


def test_usual_amounts_and_how_far_below_both_parties() -> None:
    s, b = np.array([0, 0, 0, 0, 0, 1]), np.array([1, 1, 1, 1, 1, 0])
    la = np.log10([1000.0, 1000, 1000, 1000, 1000, 10])
    u = usual_amounts(s, b, la, 2)
    assert u.tolist() == [3.0, 3.0]
    assert below_both(s, b, la, 2).tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    # a party with fewer than MIN_INVOICES invoices has no usual amount: its invoices are never "far below"
    assert np.isnan(usual_amounts(s[:2], b[:2], la[:2], 2)).all()


def test_a_company_carrying_many_tiny_invoices_is_found_with_its_counterparties() -> None:
    found = detect_patterns(_data(0), PARAMS, kinds=KIND)
    hub = [p for p in found.patterns if p.anchor == "H"]
    assert hub, [(p.anchor, p.qvalue) for p in found.patterns]
    f = hub[0]
    assert f.kind == "low_amount" and f.qvalue <= PARAMS.fdr and f.details["invoices"] == 12
    assert len(f.members) == 13 and len(f.invoice_keys) == 12
    assert "金额不足交易双方各自常规金额的 1/10" in f.evidence and "同月内打乱发票金额" in f.evidence
    # the other detectors do not see it: without this detector its counterparties are in no finding
    others = detect_patterns(_data(0), PARAMS, kinds=tuple(k for k in ("fan_out", "fan_in", "split_burst",
                                                                         "repeat_pairs")))
    assert not {m for p in others.patterns for m in p.members} & set(f.members[1:])


def test_a_market_without_planted_invoices_yields_almost_nothing() -> None:
    quiet = detect_patterns(_data(1, hub=False), PARAMS, kinds=KIND)
    assert quiet.tested["low_amount"] >= 150
    assert len(quiet.patterns) <= 1, [(p.anchor, p.qvalue) for p in quiet.patterns]


def test_a_company_whose_own_trade_is_small_is_not_far_below_its_usual_amounts() -> None:
    found = detect_patterns(_data(2, hub=False, retailer=True), PARAMS, kinds=KIND)
    assert not [p for p in found.patterns if "R" in p.members], [(p.anchor, p.members) for p in found.patterns]


def test_silent_without_amounts() -> None:
    inv = _data(0).drop(columns=["total_fen"])
    found = detect_patterns(inv, PARAMS, kinds=KIND)
    assert found.patterns == [] and "low_amount" in found.silent
    inv = _data(0).assign(total_fen=1000)
    assert "low_amount" in detect_patterns(inv, PARAMS, kinds=KIND).silent


def test_two_companies_found_from_both_sides_are_reported_once() -> None:
    rng = np.random.default_rng(3)
    rows = _market(rng)
    # A and B: each other's only tiny counterparty, 8 tiny invoices between them, each with ordinary trade too
    for x in ("A", "B"):
        rows += [(x, f"C{int(c):04d}", float(rng.uniform(0, 360)), int(np.exp(rng.normal(11.5, 0.3))))
                 for c in rng.choice(200, 12, replace=False)]
    rows += [("A", "B", float(rng.uniform(0, 360)), int(rng.integers(1_000, 3_000))) for _ in range(8)]
    found = detect_patterns(D.frame(rows), PARAMS, kinds=KIND)
    ab = [p for p in found.patterns if set(p.members) == {"A", "B"}]
    assert len(ab) == 1, [(p.anchor, p.members) for p in found.patterns]
    assert len({frozenset(p.members) for p in found.patterns}) == len(found.patterns)


def test_the_same_findings_whichever_detectors_run_before_it() -> None:
    # other detectors draw from the run's shared stream (e.g. the rewired copies of the pass-through test);
    # this detector's null copies must not depend on how much they drew
    fl, _ = prepare(_data(0))
    assert fl is not None
    every = PatternParams(null_copies=20, fdr=1.0)          # every unit reported: its p-value shows the null's draws
    fresh, used = _Run(fl, every, 0), _Run(fl, every, 0)
    used.rng.integers(10, size=1000)
    a, b = low_amount(fresh)[0], low_amount(used)[0]
    assert len(a) > 10
    assert sorted((p.anchor, p.pvalue) for p in a) == sorted((p.anchor, p.pvalue) for p in b)


def test_sorted_by_group_gives_the_values_of_a_lexsort() -> None:
    # usual_amounts' grouping kernel: the same values as v[lexsort((v, group))], with ties, NaN (last in its group)
    # and groups without values
    from algorithms.patterns_kernels import sorted_by_group

    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 500):
        group = rng.integers(0, 40, size=n).astype(np.int64)
        v = np.round(rng.normal(size=n), 1)
        v[rng.random(n) < 0.1] = np.nan
        want = v[np.lexsort((v, group))]
        assert np.array_equal(sorted_by_group(group, v, 45), want, equal_nan=True)

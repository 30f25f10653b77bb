"""Repeated-pair bursts (多户短期重复开票) on small hand-built graphs: found when a company meets several partners
twice within a day, quiet when regular partners trade several times a month at ordinary spacing, silent
without issue times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms.patterns import PatternParams, detect_patterns
from algorithms.patterns_repeat import MonthSpans
from algorithms.significance import shuffle_times
from tests.helpers import pattern_data as D

PARAMS = PatternParams(null_copies=20)
KIND = ("repeat_pairs",)


def _regular(rng: np.random.Generator, companies: int = 60) -> list[tuple]:
    """Each company has 3 regular customers it invoices 2-4 times a month on random days, all year."""
    rows = []
    for c in range(companies):
        for j in range(3):
            buyer = f"C{(c + 7 * (j + 1)) % companies:04d}"
            for month in range(12):
                for _ in range(int(rng.integers(2, 5))):
                    rows.append((f"C{c:04d}", buyer, month * 30 + rng.uniform(0, 30), int(rng.integers(10_000, 90_000))))
    return rows


def _plant(rng: np.random.Generator, anchor: str, k: int, *, out: bool = True) -> list[tuple]:
    """``anchor`` meets k fresh partners twice each within a day, in different months."""
    rows = []
    for i in range(k):
        other = f"{anchor}-P{i:02d}"
        day = 30 * (i % 12) + rng.uniform(2, 26)
        for _ in range(2):
            pair = (anchor, other) if out else (other, anchor)
            rows.append((*pair, day + rng.uniform(0, 0.5), int(rng.integers(20_000, 40_000))))
    return rows


def _data(seed: int, planted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = D.background(rng) + _regular(rng)
    if planted:
        rows += _plant(rng, "RS", 8) + _plant(rng, "RB", 8, out=False)
    return D.frame(rows)


def test_month_spans_measure_each_pairs_tightest_month() -> None:
    ms = MonthSpans(np.array([0, 0, 0, 0, 1]), np.array([1, 1, 2, 2, 1]), 2)
    assert ms.spans(np.array([0, 50, 100, 103, 7])).tolist() == [3.0, np.inf]
    assert ms.can.tolist() == [True, False]
    assert ms.invoice_spans(np.array([0, 50, 100, 103, 7])).tolist() == [50.0, 50.0, 3.0, 3.0, np.inf]


def test_a_company_repeating_with_many_partners_is_found_on_both_sides() -> None:
    found = detect_patterns(_data(0, True), PARAMS, kinds=KIND)
    by_anchor = {p.anchor: p for p in found.patterns}
    seller, buyer = by_anchor["RS"], by_anchor["RB"]
    assert seller.details["side"] == "seller" and buyer.details["side"] == "buyer"
    assert set(seller.members) == {"RS", *(f"RS-P{i:02d}" for i in range(8))}
    assert seller.details["repeated_partners"] == 8 and len(seller.invoice_keys) == 16
    assert seller.qvalue <= PARAMS.fdr and seller.pvalue <= seller.qvalue
    assert "主体为开票方 RS" in seller.evidence and "8 家购方" in seller.evidence
    assert "主体为受票方 RB" in buyer.evidence and "8 家销方" in buyer.evidence
    stray = [p.anchor for p in found.patterns if p.anchor not in ("RS", "RB") and not p.anchor.startswith("R")]
    assert len(stray) <= 1, stray


def test_regular_partners_and_shuffled_repeats_yield_almost_nothing() -> None:
    # 180 companies trade with regular partners several times a month: no finding at the chosen FDR
    quiet = detect_patterns(_data(1, False), PARAMS, kinds=KIND)
    assert quiet.tested["repeat_pairs"] > 100
    assert len(quiet.patterns) <= 1, [(p.anchor, p.qvalue) for p in quiet.patterns]
    # the planted repeats with their times shuffled within months are no longer found
    shuffled = shuffle_times(_data(0, True), rng=np.random.default_rng(5))
    again = detect_patterns(shuffled, PARAMS, kinds=KIND)
    assert not [p for p in again.patterns if p.anchor in ("RS", "RB")]


def test_silent_without_issue_times() -> None:
    inv = _data(0, True).drop(columns=["issued_at"])
    found = detect_patterns(inv, PARAMS, kinds=KIND)
    assert found.patterns == [] and "repeat_pairs" in found.silent


def test_a_pair_found_from_both_sides_is_reported_once() -> None:
    # A and B are each other's only repeated partner: seller A's finding and buyer B's finding have the same
    # members, and a detection run stores one ring per member set (the ring id is the kind + members)
    from algorithms.patterns import Pattern
    from algorithms.patterns_repeat import _distinct

    t = D.START.to_pydatetime()

    def finding(anchor: str, side: str, q: float) -> Pattern:
        other = "B" if anchor == "A" else "A"
        return Pattern("repeat_pairs", anchor, (anchor, other), ("k1", "k2"), t, t, 1.0, 0.0, q / 2, q, "",
                       "", {"side": side})

    kept = _distinct([finding("B", "buyer", 0.01), finding("A", "seller", 0.03), finding("C", "seller", 0.02)])
    assert sorted((f.anchor, f.details["side"]) for f in kept) == [("B", "buyer"), ("C", "seller")]

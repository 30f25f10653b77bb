"""Own-null p-values of the burst detectors: a burst the pooled null cannot resolve (few shuffled copies, many
units) is found against the unit's own null, while a random graph stays quiet."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from algorithms.patterns import PatternParams, detect_patterns
from algorithms.patterns_refine import MonthPools, own_null
from tests.helpers import pattern_data as D

# two shuffled copies: the pooled p-value cannot fall below ≈ 1 / (2 × units in the stratum), too coarse for
# Benjamini–Hochberg over a few hundred units (the situation of larger data sets)
FEW = PatternParams(null_copies=2, max_null_copies=2)


def test_a_burst_below_the_pooled_resolution_is_found_against_its_own_null() -> None:
    rng = np.random.default_rng(0)
    inv = D.frame(D.background(rng) + D.plant_fan(rng, "FO", 12, 100))
    pooled = detect_patterns(inv, replace(FEW, own_null=False), kinds=("fan_out",))
    assert not [p for p in pooled.patterns if p.anchor == "FO"]
    found = detect_patterns(inv, FEW, kinds=("fan_out",))
    hit = [p for p in found.patterns if p.anchor == "FO"]
    assert hit and hit[0].qvalue <= FEW.fdr and len(hit[0].members) >= 11
    assert found.stats["own_null_units"] >= 1
    assert len(found.patterns) <= 2, [(p.anchor, p.qvalue) for p in found.patterns]


def test_random_graph_stays_quiet_with_own_nulls() -> None:
    found = detect_patterns(D.frame(D.background(np.random.default_rng(1))), FEW,
                            kinds=("fan_out", "fan_in", "gather_scatter", "split_burst"))
    assert sum(found.tested.values()) > 100
    assert len(found.patterns) <= 1, [(p.kind, p.anchor, p.qvalue) for p in found.patterns]


def test_own_null_of_a_unit_spread_over_its_month_is_not_rare() -> None:
    # 8 counterparties met evenly over one month's 30 days: under its own null (times drawn from the month) that
    # is ordinary, p well above any FDR; the same 8 met within 6 hours is rare
    day = 86_400
    month_t = np.arange(0, 30 * day, 3_600, dtype=np.int64)                 # the month's issue times
    pools = MonthPools(month_t, np.ones(len(month_t), dtype=np.int64))
    events = np.arange(8, dtype=np.int64)
    cp, month = np.arange(8, dtype=np.int64), np.ones(8, dtype=np.int64)
    spread = own_null(events, cp, month, None, pools, [day], np.array([1]), 8.0, 1, 2_000,
                      np.random.default_rng(0))
    burst = own_null(events, cp, month, None, pools, [day], np.array([8]), 8.0, 1, 2_000,
                     np.random.default_rng(0))
    assert spread[0] > 0.5 and burst[0] < 0.01 and burst[2] < 4


def test_draws_breadth_equals_window_breadth_over_each_draw_sorted() -> None:
    # the own-null kernel picks each draw's times from the month pools and takes the events in time order itself:
    # the statistic equals window_breadth's over the times MonthPools.draw gives, stably sorted per draw, with ties
    # (times repeat), both sides, repeated and distinct counterparties, short and long units
    from algorithms.patterns_kernels import draws_breadth, window_breadth

    rng = np.random.default_rng(3)
    pools = MonthPools(rng.integers(0, 90, size=400).astype(np.int64), rng.integers(0, 3, size=400).astype(np.int64))
    widths = np.array([0, 2, 5, 30], dtype=np.int64)
    for n_e in (1, 2, 5, 33, 80):
        month = rng.integers(0, 3, size=n_e).astype(np.int64)
        side = rng.integers(0, 2, size=n_e).astype(np.int64)
        for cp in (rng.integers(0, max(1, n_e // 2), size=n_e).astype(np.int64), np.arange(n_e, dtype=np.int64)):
            n_codes = int(cp.max()) + 1
            for both in (False, True):
                seed = int(rng.integers(1 << 30))
                times = pools.draw(month, np.random.default_rng(seed), 300)
                order = np.argsort(times, axis=1, kind="stable")
                starts = np.arange(len(times), dtype=np.int64) * n_e
                want = window_breadth(starts, starts + n_e, np.take_along_axis(times, order, axis=1).ravel(),
                                      cp[order].ravel(), side[order].ravel(), widths, n_codes, both)[0]
                first, size = pools.months_of(month)
                got = draws_breadth(np.random.default_rng(seed).random((300, n_e)), first, size, pools.times, cp,
                                    side, widths, n_codes, both)
                assert got.shape == (len(widths), len(times))
                assert (got == want).all(), (n_e, both)

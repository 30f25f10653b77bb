"""Loop significance: evidence components, the null model, FDR and renormalisation over available evidence."""

from __future__ import annotations

import doctest
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algorithms import cycle_scoring
from algorithms.cycle_scoring import (
    COMPONENTS,
    ScoredCycle,
    available_components,
    closing_drift,
    loop_context,
    loop_statistics,
    null_statistics,
    score_loops,
    significance,
)
from algorithms.cycles import Hop, TemporalCycle, temporal_cycles
from tests.algorithms.loop_market import market

SEARCH: dict[str, Any] = {"window_days": 90, "max_len": 8, "max_drift": 0.6}


def loop(totals: list[int]) -> TemporalCycle:
    names = [f"M{i}" for i in range(len(totals))]
    hops = tuple(Hop(f"K{i}", names[i], names[(i + 1) % len(names)], f"2024-01-{i + 1:02d}T10:00:00+08:00", t, "X")
                 for i, t in enumerate(totals))
    return TemporalCycle(tuple(names), hops, len(totals) - 1.0, 0.0, 0.0, 1)


@cache
def scored(loops: int, seed: int, drop: tuple[str, ...] = (), ring_items: bool = True, invoices: int = 4_000,
           ) -> tuple[list[ScoredCycle], list[frozenset[str]]]:
    inv, planted = market(companies=120, invoices=invoices, loops=loops, seed=seed, ring_items=ring_items)
    inv = inv.drop(columns=list(drop))
    cycles = temporal_cycles(inv, **SEARCH).cycles
    ctx = loop_context(inv)
    null = null_statistics(inv, ctx, copies=2, seed=0, **SEARCH)
    return score_loops(cycles, ctx, null, available_components(inv)), [m for m, _ in planted]


def test_docstring_examples_run() -> None:
    assert doctest.testmod(cycle_scoring).failed == 0


def test_a_null_copy_s_cheap_context_gives_its_loops_the_full_context_s_statistics() -> None:
    """``copy_context`` (the data's usual amounts, the copy's relations of the loops' sellers only) measures every
    loop of a shuffled copy exactly as the copy's whole :func:`loop_context` does: a copy keeps each invoice's
    seller and total, so each seller's usual amount is the data's."""
    inv, _ = market(companies=120, invoices=4_000, loops=6, seed=3)
    ctx = loop_context(inv)
    shuffled = cycle_scoring._MonthSlices(inv).shuffled(0, 1)
    found = temporal_cycles(shuffled, **SEARCH).cycles
    assert len(found) > 10
    full = loop_context(shuffled)
    cheap = cycle_scoring.copy_context(shuffled, found, ctx)
    assert full.seller_amounts == ctx.seller_amounts
    assert cheap.pair_counts.items() <= full.pair_counts.items() and cheap.degree.items() <= full.degree.items()
    pd.testing.assert_frame_equal(loop_statistics(found, cheap), loop_statistics(found, full))


def test_closing_drift_includes_last_to_first() -> None:
    assert closing_drift(loop([100, 101, 120])) == (120 - 101) / 101
    assert closing_drift(loop([100, 100, 130])) == (130 - 100) / 100


def test_missing_or_constant_inputs_make_components_unavailable() -> None:
    inv = pd.DataFrame({"item_code": ["A", "B"]})
    assert available_components(inv)["same_item"]
    assert not available_components(inv.assign(item_code="A"))["same_item"]
    assert not available_components(inv.drop(columns=["item_code"]))["same_item"]
    tp = pd.DataFrame({"registered_on": ["2020-01-01"] * 3})
    assert not available_components(inv, tp)["young"]
    ids = pd.DataFrame({"tax_id": ["A", "B"], "kind": ["phone"] * 2, "value": ["1", "2"]})
    assert available_components(inv, None, ids)["shared_identity"]
    assert not available_components(inv, None, ids.iloc[:0])["shared_identity"]
    assert all(available_components(pd.DataFrame())[k] for k, (_, need) in COMPONENTS.items() if need is None)


def test_unavailable_component_neither_adds_nor_subtracts() -> None:
    rng = np.random.default_rng(0)
    null = pd.DataFrame({k: rng.normal(size=500) for k in COMPONENTS})
    obs = pd.DataFrame({k: rng.normal(size=40) + 1.0 for k in COMPONENTS})
    base = {k: need is None for k, (_, need) in COMPONENTS.items()}
    score, p, _, _, comp = significance(obs, null, base)
    for flat in (0.0, 1.0):             # whatever the missing column would have said
        score2, p2, _, _, comp2 = significance(obs.assign(same_item=flat), null.assign(same_item=0.0), base)
        assert np.allclose(score, score2) and np.allclose(p, p2)
    assert "same_item" not in comp.columns
    with pytest.raises(ValueError, match="no evidence"):
        significance(obs, null, {})


def test_stronger_evidence_gives_smaller_p() -> None:
    rng = np.random.default_rng(1)
    null = pd.DataFrame({"tight": rng.normal(size=2_000), "fast": rng.normal(size=2_000)})
    obs = pd.DataFrame({"tight": [0.0, 2.0, 4.0], "fast": [0.0, 2.0, 4.0]})
    score, p, _, sig, _ = significance(obs, null, {"tight": True, "fast": True})
    assert p[0] > p[1] > p[2] and score[0] < score[1] < score[2]
    assert not sig[0] and sig[2]


def test_random_market_without_planted_loops_yields_almost_nothing() -> None:
    for seed in (1, 3):
        result, _ = scored(0, seed)
        assert len(result) > 100                              # chance loops are plenty ...
        assert sum(s.significant for s in result) <= 0.01 * len(result)   # ... and not significant


def test_planted_loops_of_both_orientations_are_significant() -> None:
    result, planted = scored(12, 2)
    found = {frozenset(s.cycle.members): s for s in result if s.significant}
    hits = [m for m in planted if m in found]
    assert len(hits) >= 0.9 * len(planted)
    assert {found[m].orientation for m in hits} == {"along", "against"}
    assert len(hits) >= 0.5 * len(found)                      # ring precision
    best = found[hits[0]]
    assert best.q_value <= 0.05 and 0 <= best.score <= 1 and best.unavailable == ("shared_identity", "young")


def test_dropping_item_codes_keeps_recall_on_loops_that_do_not_need_them() -> None:
    # the planted loops carry random item codes: nothing in them depends on the column
    full, planted = scored(12, 2, ring_items=False, invoices=2_500)
    sparse, _ = scored(12, 2, ("item_code",), ring_items=False, invoices=2_500)

    def hit(res: list[ScoredCycle]) -> set[frozenset[str]]:
        return {frozenset(s.cycle.members) for s in res if s.significant} & set(planted)

    assert hit(full)                          # (5 of 12 on this dense market: see docs/detection.md)
    assert len(hit(sparse)) >= len(hit(full))
    assert "same_item" in sparse[0].unavailable and "same_item" not in sparse[0].components


def test_loops_skimming_35_percent_a_hop_are_found_on_sparse_data() -> None:
    # sparse-like data (no item codes, no identifiers, no registration dates); every hop of a planted loop
    # skims 35 %: a 5-member loop ends at 0.65**4 = 18 % of its first amount. The old default (a fixed gate of
    # 25 % of the first invoice) cannot follow such a loop past its second hop; the gate chosen from the data can
    inv, planted = market(companies=600, invoices=4_000, loops=8, seed=5, ring_items=False, drift=(0.35, 0.35),
                          fees_only=True)
    inv = inv.drop(columns=["item_code"])
    members = [m for m, _ in planted]
    fixed = {frozenset(c.members) for c in temporal_cycles(inv, window_days=90, max_len=8, max_drift=0.25).cycles}
    assert not any(m in fixed for m in members)
    search = temporal_cycles(inv, window_days=90, max_len=8, budget=1e7)
    fitting = [t.ratio for t in search.gate_trials if t.fits(1e7)]
    assert search.gate == fitting[-1]               # the widest gate that fits the budget, recorded
    found = {frozenset(c.members) for c in search.cycles}
    assert all(m in found for m in members)
    ctx = loop_context(inv)
    null = null_statistics(inv, ctx, copies=2, seed=0, window_days=90, max_len=8, gate_ratio=search.gate,
                           min_loops=20 * len(search.cycles))       # as score_cycles asks: p-values fine enough
    sig = [frozenset(s.cycle.members) for s in score_loops(search.cycles, ctx, null, available_components(inv))
           if s.significant]
    hits = sum(m in sig for m in members)
    assert hits >= 7, hits
    assert len(sig) - hits <= 1          # at most one chance loop reported


def test_tight_is_hop_to_hop_and_ignores_the_closing_pair_of_longer_loops() -> None:
    """A loop that loses 25 % at every hop is tight hop to hop; its last invoice is ×4.2 off its first, which the
    closing pair would have called the loosest loop of all. A two-company loop has only the closing pair."""
    ctx = loop_context(pd.DataFrame({"seller_tax_id": ["X"], "buyer_tax_id": ["Y"], "total_fen": [1],
                                     "issued_at": [pd.Timestamp("2024-01-01", tz="UTC")]}))
    skim = loop([10_000, 7_500, 5_625, 4_219, 3_164, 2_373])
    jumpy = loop([10_000, 20_000, 10_000])
    pair = loop([10_000, 14_000])
    stats = loop_statistics([skim, jumpy, pair], ctx)
    assert stats["tight"].tolist() == pytest.approx([-0.25, -1.0, -0.4], abs=1e-3)
    assert stats["closing_drift"].iloc[0] == pytest.approx(10_000 / 2_373 - 1, rel=1e-3)   # still reported as measured


def test_two_company_loops_are_not_diluted_by_thousands_of_long_chance_loops() -> None:
    """BH per stratum (two-company loops, longer loops) at fdr / 2: one strong two-company loop stays
    significant however many long chance loops are tested beside it, and chance loops alone stay unreported."""
    rng = np.random.default_rng(4)
    null = pd.DataFrame({"tight": rng.normal(size=8_000), "fast": rng.normal(size=8_000),
                         "length": np.r_[np.full(2_000, 2.0), np.full(6_000, 5.0)]})
    few = pd.DataFrame({"tight": np.r_[4.0, rng.normal(size=30)], "fast": np.r_[4.0, rng.normal(size=30)],
                        "length": np.r_[2.0, np.full(30, 2.0)]})
    qs = []
    for long_loops in (100, 20_000):
        obs = pd.concat([few, pd.DataFrame({"tight": rng.normal(size=long_loops), "fast": rng.normal(size=long_loops),
                                            "length": np.full(long_loops, 5.0)})], ignore_index=True)
        _, p, q, sig, _ = significance(obs, null, {"tight": True, "fast": True})
        assert sig[0] and sig.sum() <= 1 + 0.01 * len(obs)
        qs.append(q[0])
    assert qs[0] == pytest.approx(qs[1])              # the long loops do not move the two-company loop's q


def test_a_seven_company_loop_skimming_a_quarter_a_hop_is_found_and_significant() -> None:
    """Seven companies, 24 % skimmed at every hop: the last invoice is ×5.2 off the first (the generator's sparse
    profile planted such a loop, which the old ladder of gates, ×3 / ×5 / none, stopped one step short of).
    The gate chosen from the data follows it and the loop is significant against the data's own null."""
    inv, planted = market(companies=600, invoices=4_000, loops=4, seed=7, ring_items=False, drift=(0.24, 0.24),
                          fees_only=True, sizes=(7, 7))
    inv = inv.drop(columns=["item_code"])
    members = [m for m, _ in planted]
    search = temporal_cycles(inv, window_days=90, max_len=8, budget=1e7)
    assert search.gate is None or search.gate >= 4.3
    found = {frozenset(c.members) for c in search.cycles}
    assert all(m in found for m in members)
    ctx = loop_context(inv)
    null = null_statistics(inv, ctx, copies=2, seed=0, window_days=90, max_len=8, gate_ratio=search.gate,
                           min_loops=10 * len(search.cycles))
    scored_loops = score_loops(search.cycles, ctx, null, available_components(inv))
    sig = [frozenset(s.cycle.members) for s in scored_loops if s.significant]
    assert all(m in sig for m in members)
    assert len(sig) - len(members) <= 1


def test_small_parties_is_the_geometric_mean_so_one_busy_member_does_not_hide_a_loop_of_small_ones() -> None:
    """Three companies with 2 partners each and one with 200 close a loop: by chance that is about as unlikely as
    a loop of four small companies (the chance grows with the product of the degrees), far less likely than a loop
    of four companies with 50 partners each. The arithmetic mean (51.5 vs 50) called the first loop the more
    ordinary one."""
    ctx = cycle_scoring.LoopContext({}, {"M0": 2.0, "M1": 2.0, "M2": 2.0, "M3": 200.0,
                                         "N0": 50.0, "N1": 50.0, "N2": 50.0, "N3": 50.0}, {})
    small = loop([100, 100, 100, 100])
    busy = TemporalCycle(("N0", "N1", "N2", "N3"),
                         tuple(Hop(f"L{i}", f"N{i}", f"N{(i + 1) % 4}", f"2024-01-{i + 1:02d}T10:00:00+08:00", 100, "X")
                               for i in range(4)), 3.0, 0.0, 0.0, 1)
    stats = loop_statistics([small, busy], ctx)
    assert stats["small_parties"].iloc[0] > stats["small_parties"].iloc[1]
    assert stats["small_parties"].iloc[0] == pytest.approx(-np.log10(1_600) / 4)
    assert stats["member_degree"].tolist() == pytest.approx([51.5, 50.0])      # still reported as measured


def test_a_loop_far_beyond_every_chance_loop_on_one_component_is_not_capped_by_the_null_size() -> None:
    """Thousands of chance loops tested, 2,000 null loops: a loop ordinary on one component and far beyond every
    null loop on the other reaches the FDR only when that component's tail is extrapolated (with the empirical
    tail probability its p is at least 1 / 2001, as for the most extreme chance loop, and the combination is no
    rarer than a few null loops). Chance loops stay unreported."""
    rng = np.random.default_rng(11)
    null = pd.DataFrame({"tight": rng.normal(size=2_000), "fast": rng.normal(size=2_000)})
    obs = pd.DataFrame({"tight": np.r_[0.0, rng.normal(size=3_000)], "fast": np.r_[12.0, rng.normal(size=3_000)]})
    av = {"tight": True, "fast": True}
    _, p, q, sig, _ = significance(obs, null, av)
    assert sig[0] and q[0] <= 0.05
    assert sig[1:].sum() <= 0.01 * 3_000


def test_a_small_two_company_stratum_takes_its_components_tail_probabilities_among_all_null_loops() -> None:
    """600 null two-company loops beside 12,000 longer ones: among its own stratum a two-company loop's component
    can resolve only to ~1 / 601 (or a tail fitted to 60 values), among all null loops to ~1 / 12,601. A two-company
    loop four standard deviations out on both components is then rarer than every null loop of its stratum by a
    wide margin (p < 1e-6; with the stratum's own components 1.7e-6), and chance two-company loops stay unreported."""
    rng = np.random.default_rng(5)
    null = pd.DataFrame({"tight": rng.normal(size=12_600), "fast": rng.normal(size=12_600),
                         "length": np.r_[np.full(600, 2.0), np.full(12_000, 5.0)]})
    obs = pd.DataFrame({"tight": np.r_[4.0, rng.normal(size=60)], "fast": np.r_[4.0, rng.normal(size=60)],
                        "length": np.full(61, 2.0)})
    _, p, _, sig, _ = significance(obs, null, {"tight": True, "fast": True})
    assert sig[0] and p[0] < 1e-6
    assert not sig[1:].any()

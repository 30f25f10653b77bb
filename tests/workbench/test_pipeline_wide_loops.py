"""The second family of loops (detector .28): loops only a wider amount gate finds, tested apart from the others."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms import cycle_scoring
from algorithms.cycles import temporal_cycles
from tests.algorithms.loop_market import market
from workbench.detect import merge_families, score_cycles


def _market() -> tuple[pd.DataFrame, list[frozenset[str]]]:
    # sparse-like data; planted loops of 6 companies skimming 35 % a hop: the last invoice is ×8.6 off the first,
    # beyond a ×2 gate (ratio 1) and found without a gate
    inv, planted = market(companies=600, invoices=4_000, loops=6, seed=11, ring_items=False, drift=(0.35, 0.35),
                          fees_only=True, sizes=(6, 6))
    return inv.drop(columns=["item_code"]), [m for m, _ in planted]


def test_first_ratio_is_the_gate_a_loop_needs() -> None:
    inv, members = _market()
    narrow = temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=1.0).cycles
    wide = temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=None, budget=None).cycles
    ctx = cycle_scoring.loop_context(inv)
    st = cycle_scoring.loop_statistics(wide, ctx)
    beyond = cycle_scoring.beyond_gate(st, 1.0)
    narrow_sets = {(frozenset(c.members), c.orientation) for c in narrow}
    # a loop within the gate is one the gated search finds (same member set and orientation); none beyond it is
    for c, b in zip(wide, beyond.tolist(), strict=True):
        if not b:
            assert (frozenset(c.members), c.orientation) in narrow_sets
    assert all(st["first_ratio"].to_numpy()[beyond] > 1.0)
    found_beyond = {frozenset(c.members) for c, b in zip(wide, beyond.tolist(), strict=True) if b}
    assert all(m in found_beyond for m in members)       # the planted loops drift ×8.6: beyond the ×2 gate


def test_the_wide_family_scores_only_loops_beyond_the_main_gate_and_finds_the_planted_ones() -> None:
    inv, members = _market()
    wide = temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=None, budget=None)
    fam = score_cycles(wide.cycles, inv, None, None, fdr=0.005, seed=0, null_copies=2, window_days=90, max_len=8,
                       gate_ratio=None, beyond=1.0)
    assert fam and all(sc.wide for sc in fam)
    assert all(sc.closing_drift >= 0 for sc in fam)
    ctx = cycle_scoring.loop_context(inv)
    assert cycle_scoring.beyond_gate(cycle_scoring.loop_statistics([sc.cycle for sc in fam], ctx), 1.0).all()
    sig = {frozenset(sc.cycle.members) for sc in fam if sc.significant}
    hits = sum(m in sig for m in members)
    assert hits >= 5, hits                     # at a tenth of the 5 % rate
    assert len(sig) - hits <= 1


def test_merge_keeps_the_main_search_s_loops_and_adds_only_new_member_sets() -> None:
    inv, _ = _market()
    main = score_cycles(temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=1.0).cycles, inv, None, None,
                        seed=0, window_days=90, max_len=8, gate_ratio=1.0)
    wide = score_cycles(temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=None, budget=None).cycles, inv,
                        None, None, fdr=0.005, seed=0, window_days=90, max_len=8, gate_ratio=None, beyond=1.0)
    merged = merge_families(main, wide)
    sets = [frozenset(sc.cycle.members) for sc in merged]
    assert len(sets) == len(set(sets))
    main_sets = {frozenset(sc.cycle.members) for sc in main}
    assert main_sets <= set(sets)
    assert all(not sc.wide for sc in merged if frozenset(sc.cycle.members) in main_sets)
    order = [(not sc.significant, -sc.score) for sc in merged]
    assert order == sorted(order)
    assert np.isfinite([sc.p_value for sc in merged]).all()


def test_a_larger_loop_allowance_chooses_a_wider_gate() -> None:
    inv, _ = _market()
    base = temporal_cycles(inv, window_days=90, max_len=8, budget=2e5)
    more = temporal_cycles(inv, window_days=90, max_len=8, budget=2e5, loops_per_hop=0.05)
    assert (base.gate, more.gate) == (3.0, 15.0)      # the main gate stops at the loop allowance, not the hops

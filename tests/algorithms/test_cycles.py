"""Temporal cycles on hand-built invoice tables whose answer is known, plus a brute-force cross-check."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from algorithms.cycles import static_cycles, temporal_cycles

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=TZ)


def table(rows: list[tuple[str, str, float, int]], status: str = "normal") -> pd.DataFrame:
    """rows: (seller, buyer, day offset, total_fen)."""
    return pd.DataFrame({
        "key": [f"K{i:04d}" for i in range(len(rows))],
        "seller_tax_id": [r[0] for r in rows], "buyer_tax_id": [r[1] for r in rows],
        "issued_at": [T0 + timedelta(days=r[2]) for r in rows], "total_fen": [r[3] for r in rows],
        "status": [status] * len(rows),
    })


def members(inv: pd.DataFrame, **kw: object) -> list[tuple[str, ...]]:
    """Members of the loops found (time-ordered along the invoice direction unless ``orientation`` is given)."""
    kw.setdefault("orientation", "along")
    return [c.members for c in temporal_cycles(inv, **kw).cycles]  # type: ignore[arg-type]


def reversed_table(inv: pd.DataFrame) -> pd.DataFrame:
    return inv.assign(seller_tax_id=inv["buyer_tax_id"], buyer_tax_id=inv["seller_tax_id"])


def test_time_ordered_triangle_found_with_hops_in_order() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "C", 3, 101_000), ("C", "A", 9, 99_000)])
    [c] = temporal_cycles(inv).cycles
    assert c.members == ("A", "B", "C")
    assert [h.key for h in c.hops] == ["K0000", "K0001", "K0002"]
    assert [h.issued_at for h in c.hops] == sorted(h.issued_at for h in c.hops)
    assert c.span_days == pytest.approx(9)


def test_loop_not_time_ordered_along_is_not_an_along_loop() -> None:
    # B→C happens before A→B: money cannot have gone round along the invoices ...
    inv = table([("A", "B", 5, 100_000), ("B", "C", 2, 100_000), ("C", "A", 9, 100_000)])
    assert members(inv) == []
    assert static_cycles(inv).cycles != []          # the static baseline does see it
    # ... but each of A and B issued before it was invoiced: time-ordered against the invoices
    [c] = temporal_cycles(inv).cycles
    assert (c.orientation, c.members) == ("against", ("B", "C", "A"))
    assert [h.key for h in c.hops] == ["K0001", "K0000", "K0002"]


def test_against_loop_each_company_issues_then_buys() -> None:
    # 虚抵进项: A sells to B (day 0), then buys from C (day 4); C sells to A, then buys from B (day 7)
    inv = table([("A", "B", 0, 100_000), ("C", "A", 4, 95_000), ("B", "C", 7, 90_000)])
    [c] = temporal_cycles(inv).cycles
    assert c.orientation == "against"
    assert c.members == ("A", "B", "C")                           # invoice direction, from the first seller
    assert [(h.seller, h.buyer) for h in c.hops] == [("A", "B"), ("C", "A"), ("B", "C")]   # time order
    assert c.span_days == pytest.approx(7)
    assert c.max_drift == pytest.approx(5_000 / 95_000)
    assert members(inv) == [] and members(inv, orientation="against") == [("A", "B", "C")]


def test_each_orientation_is_the_other_on_reversed_invoices() -> None:
    inv = _random_table(31, 10, 80, 120, (100_000, 130_000))
    back = reversed_table(inv)
    along = {frozenset(c) for c in members(inv, window_days=30, max_len=6)}
    against = {frozenset(c) for c in members(back, window_days=30, max_len=6, orientation="against")}
    assert along and {a for a in along if len(a) > 2} == against


def test_loop_ordered_in_neither_direction_is_not_reported() -> None:
    # times 1, 3, 2, 4 around A→B→C→D→A: increasing neither along nor against the loop
    inv = table([("A", "B", 1, 100_000), ("B", "C", 3, 100_000), ("C", "D", 2, 100_000), ("D", "A", 4, 100_000)])
    assert temporal_cycles(inv).cycles == []
    assert [len(c) for c in static_cycles(inv).cycles] == [4]
    assert temporal_cycles(reversed_table(inv)).cycles == []


def test_two_company_loop_is_reported_once_as_mutual() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "A", 3, 100_000)])
    [c] = temporal_cycles(inv).cycles
    assert (c.orientation, c.members) == ("mutual", ("A", "B"))


def test_bad_orientation_is_rejected() -> None:
    with pytest.raises(ValueError, match="orientation"):
        temporal_cycles(table([("A", "B", 0, 1)]), orientation="sideways")


def test_equal_timestamps_do_not_count_as_ordered() -> None:
    inv = table([("A", "B", 1, 100_000), ("B", "A", 1, 100_000)])
    assert members(inv) == []


def test_loop_outside_window_is_not_reported() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "C", 50, 100_000), ("C", "A", 100, 100_000)])
    assert members(inv, window_days=90) == []
    assert members(inv, window_days=120) == [("A", "B", "C")]


def test_ten_hop_loop_is_found_within_max_len() -> None:
    names = [f"T{i}" for i in range(10)]
    rows = [(names[i], names[(i + 1) % 10], 2.0 * i, 500_000 + i) for i in range(10)]
    inv = table(rows)
    assert members(inv, max_len=10) == [tuple(names)]
    assert members(inv, max_len=9) == []
    assert members(inv) == [tuple(names)]                 # default: up to 12


def test_twelve_hop_against_loop_is_found_by_default() -> None:
    names = [f"T{i:02d}" for i in range(12)]
    inv = table([(names[i], names[(i + 1) % 12], 2.0 * (12 - i), 500_000 + i) for i in range(12)])
    [c] = temporal_cycles(inv).cycles
    assert c.orientation == "against" and set(c.members) == set(names) and c.length == 12


def test_drift_and_spread_are_measured() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "C", 1, 104_000), ("C", "A", 2, 98_000)])
    [c] = temporal_cycles(inv).cycles
    assert c.max_drift == pytest.approx(max(4_000 / 100_000, 6_000 / 104_000))
    assert c.spread == pytest.approx((104_000 - 98_000) / 104_000)


def test_hard_drift_gate_is_optional() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "A", 1, 150_000)])
    assert members(inv) == [("A", "B")]                  # off by default
    assert members(inv, max_drift=0.2) == []
    assert members(inv, max_drift=0.6) == [("A", "B")]


def test_repeats_are_deduplicated_to_the_tightest_instance() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "A", 2, 130_000),     # first round, 30% drift
                 ("A", "B", 40, 200_000), ("B", "A", 41, 201_000)])  # second round, 0.5%
    [c] = temporal_cycles(inv).cycles
    assert c.repeats >= 2
    assert [h.total_fen for h in c.hops] == [200_000, 201_000]


def test_void_and_red_invoices_do_not_close_loops() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "A", 3, 100_000)])
    inv.loc[1, "status"] = "void"
    assert members(inv) == []


def _brute_force(inv: pd.DataFrame, window_days: float, max_len: int, max_drift: float | None = None,
                 min_len: int = 2) -> set[frozenset[str]]:
    """Every member set with a time-ordered instance inside the window (and every total within
    ``max_drift`` of the first invoice's), by trying every invoice sequence of every static cycle."""
    g = nx.DiGraph(list(zip(inv["seller_tax_id"], inv["buyer_tax_id"], strict=True)))
    by_pair: dict[tuple[str, str], list[tuple[pd.Timestamp, int]]] = {}
    for s, b, t, a in zip(inv["seller_tax_id"], inv["buyer_tax_id"], inv["issued_at"], inv["total_fen"], strict=True):
        by_pair.setdefault((s, b), []).append((t, int(a)))
    found: set[frozenset[str]] = set()
    for cyc in nx.simple_cycles(g, length_bound=max_len):
        if len(cyc) < min_len:
            continue
        for r in range(len(cyc)):
            loop = cyc[r:] + cyc[:r]
            hops = [by_pair[(loop[i], loop[(i + 1) % len(loop)])] for i in range(len(loop))]
            for seq in itertools.product(*hops):
                times = [h[0] for h in seq]
                ordered = all(times[i] < times[i + 1] for i in range(len(times) - 1))
                tight = max_drift is None or all(abs(h[1] - seq[0][1]) <= max_drift * seq[0][1] for h in seq)
                if ordered and tight and times[-1] - times[0] <= timedelta(days=window_days):
                    found.add(frozenset(loop))
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_brute_force_on_random_graphs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 9, 40
    s = rng.integers(0, n, m)
    b = (s + rng.integers(1, n, m)) % n
    rows = [(f"N{x}", f"N{y}", float(rng.uniform(0, 120)), 100_000) for x, y in zip(s, b, strict=True)]
    inv = table(rows)
    got = {frozenset(c) for c in members(inv, window_days=30, max_len=5)}
    assert got == _brute_force(inv, 30, 5)
    both = {frozenset(c) for c in members(inv, window_days=30, max_len=5, orientation="both")}
    assert both == got | _brute_force(reversed_table(inv), 30, 5, min_len=3)


@pytest.mark.parametrize("seed", [4, 5])
def test_gated_search_matches_brute_force_when_every_hop_passes_the_gate(seed: int) -> None:
    # a gate set (amounts within 2x, gate 1.5) takes the amount-band index path yet prunes nothing
    rng = np.random.default_rng(seed)
    n, m = 8, 45
    s = rng.integers(0, n, m)
    b = (s + rng.integers(1, n, m)) % n
    rows = [(f"N{x}", f"N{y}", float(rng.uniform(0, 120)), int(rng.integers(100_000, 200_000)))
            for x, y in zip(s, b, strict=True)]
    inv = table(rows)
    got = {frozenset(c) for c in members(inv, window_days=30, max_len=5, max_drift=1.5)}
    assert got
    assert got == _brute_force(inv, 30, 5)
    assert got == {frozenset(c) for c in members(inv, window_days=30, max_len=5)}


def _random_table(seed: int, n: int, m: int, days: float, amounts: tuple[int, int]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, n, m)
    b = (s + rng.integers(1, n, m)) % n
    return table([(f"N{x}", f"N{y}", float(rng.uniform(0, days)), int(rng.integers(*amounts)))
                  for x, y in zip(s, b, strict=True)])


@pytest.mark.parametrize("seed", range(6, 12))
def test_gate_that_prunes_matches_brute_force(seed: int) -> None:
    # amounts vary 2x, gate 0.3: most hop sequences fail the gate, some parallel invoices pass it
    inv = _random_table(seed, 7, 50, 90, (100_000, 200_000))
    got = {frozenset(c) for c in members(inv, window_days=30, max_len=5, max_drift=0.3)}
    assert got == _brute_force(inv, 30, 5, max_drift=0.3)


@pytest.mark.parametrize("seed", range(12, 16))
def test_min_len_matches_brute_force(seed: int) -> None:
    inv = _random_table(seed, 8, 45, 90, (100_000, 110_000))
    got = {frozenset(c) for c in members(inv, window_days=30, min_len=3, max_len=6)}
    assert got == _brute_force(inv, 30, 6, min_len=3)


@pytest.mark.parametrize(("seed", "gate"), [(20, None), (21, 0.3), (22, None), (23, 0.5)])
def test_memo_and_threads_do_not_change_the_result(seed: int, gate: float | None) -> None:
    # dense enough for the memo to skip arrivals and for several start chunks
    inv = _random_table(seed, 60, 3_000, 400, (100_000, 160_000))

    def run(**kw: object) -> tuple[int, list[tuple[tuple[str, ...], tuple[str, ...], int]]]:
        r = temporal_cycles(inv, window_days=30, max_len=6, max_drift=gate, **kw)  # type: ignore[arg-type]
        return r.instances, [(c.members, tuple(h.key for h in c.hops), c.repeats) for c in r.cycles]

    serial = run(workers=1, memo=False, reach=False)
    assert serial[1]
    assert run(workers=1, memo=True, reach=False) == serial
    assert run(workers=2, memo=True, reach=False) == serial
    assert run(workers=2) == serial
    stats = temporal_cycles(inv, window_days=30, max_len=6, max_drift=gate, workers=2, reach=False).stats
    assert stats["memo_skips"] > 0


def _planted(seed: int, n: int, m: int, days: float, loops: int) -> tuple[pd.DataFrame, set[tuple[frozenset[str], str]]]:
    """Random trade among ``n`` taxpayers plus ``loops`` planted loops of 3-12 members among other taxpayers (one
    per orientation in turn, hops a day or two apart, totals drifting up to 10 % a hop): (table, planted (members,
    orientation))."""
    rng = np.random.default_rng(seed)
    inv = _random_table(seed, n, m, days, (100_000, 160_000))
    rows: list[tuple[str, str, float, int]] = []
    planted: set[tuple[frozenset[str], str]] = set()
    for i in range(loops):
        k = 3 + i % 10
        names = [f"P{i}_{j}" for j in range(k)]
        day, amount = float(rng.uniform(0, days - 30)), 130_000.0
        orient = "along" if i % 2 == 0 else "against"
        # along: hop j is names[j] → names[j+1], in time order; against: the same hops in reverse time order
        hops = [(names[j], names[(j + 1) % k]) for j in range(k)]
        for seller, buyer in hops if orient == "along" else hops[::-1]:
            rows.append((seller, buyer, day, int(amount)))
            day += float(rng.uniform(0.5, 2.0))
            amount *= float(rng.uniform(0.98, 1.02))
        # each member also trades with the background: paths that lead out of the loop and never come back
        rows += [(names[j], f"N{int(rng.integers(n))}", float(rng.uniform(0, days)), 130_000) for j in range(k)]
        planted.add((frozenset(names), orient))
    extra = table(rows).assign(key=[f"P{q:05d}" for q in range(len(rows))])
    return pd.concat([inv, extra], ignore_index=True), planted


@pytest.mark.parametrize(("seed", "gate", "max_len"), [(30, None, 12), (31, 0.3, 12), (32, None, 7), (33, 0.5, 12)])
def test_reachability_pruning_finds_exactly_the_loops_of_the_plain_search(seed: int, gate: float | None,
                                                                          max_len: int) -> None:
    inv, planted = _planted(seed, 80, 3_000, 300, 20)

    def run(**kw: object) -> tuple[int, list[tuple[tuple[str, ...], tuple[str, ...], int, str]], dict[str, float]]:
        r = temporal_cycles(inv, window_days=30, max_len=max_len, max_drift=gate, **kw)  # type: ignore[arg-type]
        return r.instances, [(c.members, tuple(h.key for h in c.hops), c.repeats, c.orientation)
                             for c in r.cycles], r.stats

    plain = run(memo=False, reach=False)
    pruned = run(workers=2)
    assert pruned[:2] == plain[:2]
    found = {(frozenset(c[0]), c[3]) for c in pruned[1]}
    assert {p for p in planted if len(p[0]) <= max_len} <= found          # both orientations, up to 12 members
    assert pruned[2]["reach_pruned"] > 0
    assert pruned[2]["hops_followed"] < plain[2]["hops_followed"] / 2


def test_hop_that_cannot_get_back_in_time_is_not_followed() -> None:
    # A→B→C→A closes; B→D leads to D, whose only way back (D→A) comes after the window
    inv = table([("A", "B", 0, 100_000), ("B", "C", 1, 100_000), ("C", "A", 2, 100_000), ("B", "D", 1, 100_000),
                 ("D", "A", 40, 100_000)])
    plain = temporal_cycles(inv, window_days=30, orientation="along", reach=False, memo=False)
    pruned = temporal_cycles(inv, window_days=30, orientation="along")
    assert [c.members for c in pruned.cycles] == [c.members for c in plain.cycles] == [("A", "B", "C")]
    assert pruned.stats["hops_followed"] < plain.stats["hops_followed"]
    assert pruned.stats["reach_pruned"] >= 1


def test_hop_times_are_iso_8601_with_the_offset() -> None:
    inv = table([("A", "B", 0, 100_000), ("B", "A", 1.5, 100_000)])
    [c] = temporal_cycles(inv).cycles
    assert [h.issued_at for h in c.hops] == [(T0 + timedelta(days=d)).isoformat() for d in (0, 1.5)]
    utc = inv.assign(issued_at=inv["issued_at"].dt.tz_convert("UTC"))
    assert [h.issued_at for h in temporal_cycles(utc).cycles[0].hops][0].endswith("+00:00")


def test_member_set_grouping_equals_exact_row_grouping() -> None:
    from algorithms.cycles import _member_groups

    rng = np.random.default_rng(7)
    rows = np.sort(rng.integers(0, 6, (2_000, 4)), axis=1)      # many repeated member sets
    group, counts = _member_groups(rows)
    _, exact, exact_counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    exact = np.asarray(exact).reshape(-1)
    # the same partition of rows (group numbers may differ)
    assert len(set(zip(group.tolist(), exact.tolist(), strict=True))) == len(counts) == len(exact_counts)
    assert sorted(counts.tolist()) == sorted(exact_counts.tolist())

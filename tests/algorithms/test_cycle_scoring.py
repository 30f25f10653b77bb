"""The cycle score: each component moves the score the documented way."""

from __future__ import annotations

from algorithms.cycle_scoring import WEIGHTS, closing_drift, score_cycle
from algorithms.cycles import Hop, TemporalCycle


def loop(totals: list[int], items: list[str | None] | None = None, repeats: int = 1) -> TemporalCycle:
    names = [f"M{i}" for i in range(len(totals))]
    items = items or ["X"] * len(totals)
    hops = tuple(Hop(f"K{i}", names[i], names[(i + 1) % len(names)], f"2024-01-{i + 1:02d}T10:00:00+08:00",
                     t, items[i]) for i, t in enumerate(totals))
    spread = (max(totals) - min(totals)) / max(totals)
    drift = max(abs(totals[i + 1] - totals[i]) / totals[i] for i in range(len(totals) - 1))
    return TemporalCycle(tuple(names), hops, len(totals) - 1.0, drift, spread, repeats)


def score(c: TemporalCycle, **kw: object) -> float:
    args: dict[str, object] = {"pair_counts": {}, "degree": {}, "shared": {}, "young": set()} | kw
    return score_cycle(c, **args).score  # type: ignore[arg-type]


def test_weights_sum_to_one() -> None:
    assert abs(sum(WEIGHTS.values()) - 1.0) < 1e-9


def test_closing_drift_includes_last_to_first() -> None:
    # hops 100 → 101 → 120, closing 120 → 100: the largest step is 101 → 120
    assert closing_drift(loop([100, 101, 120])) == (120 - 101) / 101
    assert closing_drift(loop([100, 100, 130])) == (130 - 100) / 100


def test_each_component_moves_the_score() -> None:
    tight, loose = loop([1_000_000, 1_010_000, 1_005_000]), loop([1_000_000, 1_090_000, 1_000_000])
    assert score(tight) > score(loose)
    assert score(tight) > score(loop([1_000_000, 1_010_000, 1_005_000], items=["A", "B", "C"]))
    busy = {f"M{i}": 1_000.0 for i in range(3)}
    assert score(tight) > score(tight, degree=busy)
    used = {(h.seller, h.buyer): 40 for h in tight.hops}
    assert score(tight) > score(tight, pair_counts=used)
    assert score(tight, shared={frozenset(("M0", "M1")): ("phone",)}) > score(tight)
    assert score(tight, young={"M2"}) > score(tight)
    assert score(loop([1_000_000, 1_010_000, 1_005_000, 1_002_000])) > score(tight)   # longer loop


def test_quick_scores_equal_the_full_score() -> None:
    import numpy as np

    from algorithms.cycle_scoring import quick_scores

    rng = np.random.default_rng(0)
    cycles = [loop([int(x) for x in rng.integers(900_000, 1_200_000, int(k))],
                   items=[str(x) for x in rng.choice(["A", "B"], int(k))] if k % 2 else None, repeats=int(r))
              for k, r in zip(rng.integers(2, 9, 300), rng.integers(1, 4, 300), strict=True)]
    ctx: dict[str, object] = {
        "pair_counts": {("M0", "M1"): 7, ("M2", "M3"): 3},
        "degree": {"M0": 1_000.0, "M1": 12.0, "M4": 300.0},
        "shared": {frozenset(("M1", "M3")): ("phone",)},
        "young": {"M2"},
        "seller_amounts": {"M0": (6.0, 0.01), "M1": (5.0, 0.2), "M3": (6.0, 0.0)},
    }
    full = [score_cycle(c, **ctx).score for c in cycles]  # type: ignore[arg-type]
    quick = quick_scores(cycles, **ctx)  # type: ignore[arg-type]
    assert np.allclose(quick, full, atol=1e-9)
    assert len(set(full)) > 20

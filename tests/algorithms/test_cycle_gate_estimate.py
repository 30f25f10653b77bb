"""The amount gate's loop estimate (``algorithms.cycles._choose_gate``): unbiased when a loop is found from
several start invoices, so the budget's choice does not stop a ladder step short."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from algorithms import cycles
from algorithms._tables import invoice_frame
from algorithms.cycles import temporal_cycles

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=TZ)


def loops_table(repeated: int, single: int, parallel: int = 3) -> pd.DataFrame:
    """``repeated`` three-company loops whose first relation holds ``parallel`` invoices an hour apart (each
    one starts an instance of the same loop: found from ``parallel`` start invoices), then ``single`` loops
    with one invoice per relation; each loop 3 days after the last, equal totals (every gate passes)."""
    rows: list[tuple[str, str, datetime]] = []
    for i in range(repeated + single):
        a, b, c, t = f"A{i:03d}", f"B{i:03d}", f"C{i:03d}", T0 + timedelta(days=3 * i)
        rows += [(a, b, t + timedelta(hours=h)) for h in range(parallel if i < repeated else 1)]
        rows += [(b, c, t + timedelta(days=1)), (c, a, t + timedelta(days=2))]
    return pd.DataFrame({
        "key": [f"K{i:05d}" for i in range(len(rows))], "seller_tax_id": [r[0] for r in rows],
        "buyer_tax_id": [r[1] for r in rows], "issued_at": [r[2] for r in rows], "total_fen": 100_000,
        "status": "normal",
    })


@pytest.mark.parametrize(("repeated", "single"), [(60, 0), (40, 40), (90, 30)])
def test_loop_estimate_matches_the_distinct_loops_found(monkeypatch: pytest.MonkeyPatch, repeated: int,
                                                        single: int) -> None:
    # every 7th start invoice (5 and 3 a loop: the sample meets every position in a loop)
    monkeypatch.setattr(cycles, "GATE_SAMPLE", (5 * repeated + 3 * single) // 7)
    inv = loops_table(repeated, single)
    search = temporal_cycles(inv, window_days=30, max_len=6, budget=1e6)
    assert len(search.cycles) == repeated + single          # one loop per member set, whatever its instances
    assert search.instances == 3 * repeated + single
    for trial in search.gate_trials:
        assert trial.complete
        # the previous estimator (the sample's distinct member sets × starts / sampled) counted each repeated
        # loop up to 3 times: 1.8-2.4× here
        assert trial.est_loops == pytest.approx(len(search.cycles), rel=0.15)


def test_budget_that_the_true_count_fits_widens_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cycles, "GATE_SAMPLE", 300 // 7)
    inv = loops_table(60, 0)
    # 75 loops allowed: the 60 loops fit (the old estimate, ~180, did not: the narrowest gate was used)
    budget = 75 / cycles.LOOPS_PER_HOP
    search = temporal_cycles(inv, window_days=30, max_len=6, budget=budget)
    assert [t.fits(budget) for t in search.gate_trials] == [True] * len(cycles.AUTO_GATES)
    assert search.gate is None                              # every gate fits: no gate
    # 50 allowed: the 60 loops do not fit, at any gate (equal totals): the narrowest gate, one trial
    search = temporal_cycles(inv, window_days=30, max_len=6, budget=50 / cycles.LOOPS_PER_HOP)
    assert search.gate == cycles.AUTO_GATES[0] and len(search.gate_trials) == 1


def test_sampled_loop_counted_by_the_start_invoices_of_the_whole_search() -> None:
    """Every start invoice of a loop counts 1 / m, so summed over all starts the weight is the distinct loops."""
    inv = loops_table(5, 3, parallel=4)
    frame = cycles._eligible(invoice_frame(inv), cycles.VALID_STATUSES).reset_index(drop=True)
    codes, names = pd.factorize(pd.concat([frame["seller_tax_id"], frame["buyer_tax_id"]], ignore_index=True))
    n = len(frame)
    ix = cycles._prepare(codes[:n].astype("int64"), codes[n:].astype("int64"),
                         cycles._epoch_seconds(frame["issued_at"]), frame["total_fen"].to_numpy(dtype=float),
                         len(names), 30 * cycles.DAY)
    mult = cycles._Multiplicity(ix, (-float("inf"), float("inf")), 2, 6, 50_000, True, 1)
    total = 0.0
    for s in ix.start_edges:                                # one start at a time, as a sample would see them
        rows, _ = cycles._search_all(ix, mult.factors, 2, 6, 50_000, True, 1, False, starts=ix.start_edges[[
            int((ix.start_edges == s).argmax())]])
        total += mult.weight(rows)
    assert total == pytest.approx(8.0)
    assert sorted(mult.count.values()) == [1, 1, 1, 4, 4, 4, 4, 4]


@pytest.mark.parametrize(("seed", "ratio"), [(0, None), (1, 0.5), (2, 2.0), (3, None)])
def test_start_count_per_loop_matches_the_search(seed: int, ratio: float | None) -> None:
    """The per-loop search over the loop's own invoices counts exactly the start invoices from which the full
    search finds that member set (random trade among 25 companies, both orientations, with and without a gate)."""
    rng = np.random.default_rng(seed)
    n = 400
    a = rng.integers(0, 25, n)
    b = (a + rng.integers(1, 25, n)) % 25
    inv = pd.DataFrame({
        "key": [f"K{i:04d}" for i in range(n)], "seller_tax_id": [f"T{x:02d}" for x in a],
        "buyer_tax_id": [f"T{x:02d}" for x in b],
        "issued_at": [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 120, n)],
        "total_fen": rng.integers(50_000, 200_000, n), "status": "normal",
    })
    frame = cycles._eligible(invoice_frame(inv), cycles.VALID_STATUSES).reset_index(drop=True)
    codes, names = pd.factorize(pd.concat([frame["seller_tax_id"], frame["buyer_tax_id"]], ignore_index=True))
    seller, buyer = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    tm = cycles._epoch_seconds(frame["issued_at"])
    amt = frame["total_fen"].to_numpy(dtype=float)
    factors = cycles._ratio_factors(ratio)
    checked = 0
    for src, dst, min_len in ((seller, buyer, 2), (buyer, seller, 3)):
        ix = cycles._prepare(src, dst, tm, amt, len(names), 20 * cycles.DAY)
        rows, _ = cycles._search_all(ix, factors, min_len, 6, 1_000_000, True, 1)
        starts: dict[bytes, set[int]] = {}
        for start, key in zip(rows[:, 0].tolist(), cycles._member_keys(rows, ix.src), strict=True):
            starts.setdefault(key, set()).add(start)
        mult = cycles._Multiplicity(ix, factors, min_len, 6, 1_000_000, True, 1)
        for key, found in starts.items():
            assert mult._starts(np.frombuffer(key, dtype=np.int64)) == len(found)
        checked += sum(len(f) > 1 for f in starts.values())
    assert checked >= 5                                     # loops found from several start invoices were checked

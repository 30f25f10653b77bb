"""Temporal pattern detectors on small hand-built graphs: found when planted, quiet on a random
graph at the chosen FDR, silent when a needed column is missing, both orientations labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algorithms.patterns import KINDS, Pattern, PatternParams, PatternSearch, detect_patterns, strata
from tests.helpers import pattern_data as D

PARAMS = PatternParams(null_copies=10)


def _planted() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = D.background(rng)
    rows += D.plant_fan(rng, "FO", 15, 100) + D.plant_fan(rng, "FI", 15, 200, out=False)
    rows += D.plant_scatter_gather(rng, "SG", "SGT", 4, 50)
    rows += D.plant_scatter_gather(rng, "SX", "SXT", 4, 150, along=False)
    rows += D.plant_gather_scatter(rng, "GS", 6, 250) + D.plant_layered(rng, "LY", (3, 3, 2), 300)
    rows += D.plant_pass_through(rng, "PT", 4, 20)
    return D.frame(rows)


@pytest.fixture(scope="module")
def planted() -> PatternSearch:
    return detect_patterns(_planted(), PARAMS, seed=0)


@pytest.fixture(scope="module")
def background() -> PatternSearch:
    return detect_patterns(D.frame(D.background(np.random.default_rng(1))), PARAMS, seed=0)


def _one(found: PatternSearch, kind: str, anchor: str) -> Pattern:
    hits = [p for p in found.of_kind(kind) if p.anchor == anchor]
    assert hits, f"{kind} anchored at {anchor} not found; found {[(p.kind, p.anchor) for p in found.patterns]}"
    return hits[0]


def test_fan_bursts_found_with_their_counterparties(planted: PatternSearch) -> None:
    out = _one(planted, "fan_out", "FO")
    assert len({f"FO-P{i:02d}" for i in range(15)} & set(out.members)) >= 12   # the best window may miss one
    assert out.qvalue <= PARAMS.fdr and out.pvalue <= out.qvalue
    assert "家不同购方开票" in out.evidence and out.window_days <= 2
    fin = _one(planted, "fan_in", "FI")
    assert len(fin.members) >= 15 and "家不同销方取得进项" in fin.evidence


def test_scatter_gather_both_orientations(planted: PatternSearch) -> None:
    along = _one(planted, "scatter_gather", "SG")
    assert along.orientation == "along" and along.members[-1] == "SGT"
    assert {f"SG-M{i:02d}" for i in range(4)} <= set(along.members)
    assert len(along.invoice_keys) == 8 and "过票" in along.evidence
    against = _one(planted, "scatter_gather", "SX")
    assert against.orientation == "against" and against.members[-1] == "SXT" and "虚抵进项" in against.evidence


def test_gather_scatter_layered_and_pass_through(planted: PatternSearch) -> None:
    gs = _one(planted, "gather_scatter", "GS")
    assert gs.orientation == "along" and len(gs.members) == 13
    ly = _one(planted, "layered", "LY-src")
    assert {"LY-L00", "LY-L01", "LY-L02", "LY-L10", "LY-L11", "LY-L12"} <= set(ly.members)
    pt = _one(planted, "pass_through", "PT")
    assert abs(pt.details["value_added"]) < 0.01 and pt.details["lag_days"] < 3 and pt.statistic < pt.null_typical


def test_random_graph_yields_almost_nothing(background: PatternSearch) -> None:
    # nothing planted: at FDR 5 % per detector, at most a stray finding over all six detectors
    assert sum(background.tested.values()) > 100
    assert len(background.patterns) <= 1, [(p.kind, p.anchor, p.qvalue) for p in background.patterns]


def test_planted_patterns_do_not_flag_the_background(planted: PatternSearch) -> None:
    stray = [(p.kind, p.anchor) for p in planted.patterns if p.anchor.startswith("C")]
    assert len(stray) <= 1, stray


def test_time_shuffled_copy_loses_the_patterns() -> None:
    from algorithms.significance import shuffle_times

    inv = shuffle_times(_planted(), rng=np.random.default_rng(5))
    found = detect_patterns(inv, PARAMS, seed=0, kinds=("fan_out", "fan_in", "scatter_gather"))
    assert not [p for p in found.patterns if p.anchor in ("FO", "FI", "SG", "SX")]


def test_silent_without_times_or_amounts() -> None:
    inv = _planted()
    no_time = detect_patterns(inv.drop(columns=["issued_at"]), PARAMS)
    assert no_time.patterns == [] and set(no_time.silent) == set(KINDS)
    constant = detect_patterns(inv.assign(total_fen=100), PARAMS, kinds=("pass_through", "fan_out"))
    assert "pass_through" in constant.silent and "pass_through" not in constant.tested
    assert constant.of_kind("fan_out") and "合计" not in constant.of_kind("fan_out")[0].evidence
    no_amount = detect_patterns(inv.drop(columns=["total_fen"]), PARAMS, kinds=("pass_through", "scatter_gather"))
    assert "pass_through" in no_amount.silent and no_amount.of_kind("scatter_gather")


def test_void_and_red_invoices_never_count() -> None:
    rng = np.random.default_rng(0)
    inv = D.frame(D.background(rng) + D.plant_fan(rng, "FO", 15, 100))
    inv.loc[inv["seller_tax_id"] == "FO", "status"] = "void"
    found = detect_patterns(inv, PARAMS, kinds=("fan_out",))
    assert not [p for p in found.patterns if p.anchor == "FO"]


def test_same_seed_same_findings() -> None:
    inv = _planted()
    a = detect_patterns(inv, PARAMS, seed=3, kinds=("fan_out", "scatter_gather"))
    b = detect_patterns(inv, PARAMS, seed=3, kinds=("fan_out", "scatter_gather"))
    assert [(p.kind, p.members, p.pvalue) for p in a.patterns] == [(p.kind, p.members, p.pvalue) for p in b.patterns]


def test_bad_input_is_a_clear_error() -> None:
    inv = _planted()
    with pytest.raises(ValueError, match="unknown pattern kinds"):
        detect_patterns(inv, kinds=("loops",))
    with pytest.raises(ValueError, match="fdr"):
        detect_patterns(inv, PatternParams(fdr=0))
    with pytest.raises(KeyError, match="buyer_tax_id"):
        detect_patterns(inv.drop(columns=["buyer_tax_id"]))


def test_strata_pool_small_bins() -> None:
    assert strata([1, 1, 1, 2, 9, 40, 41], min_units=2).tolist() == [1, 1, 1, 2, 2, 11, 11]


def test_pattern_ring_carries_evidence_and_json_details(planted: PatternSearch) -> None:
    import json

    from workbench.detect import pattern_ring

    pt = _one(planted, "scatter_gather", "SX")
    ring = pattern_ring("run-x", pt)
    assert ring.kind == "scatter_gather" and ring.members[0] == "SX" and ring.invoice_keys == pt.invoice_keys
    assert ring.score >= 0.5 and ring.evidence == pt.evidence
    d = json.loads(json.dumps(ring.details, allow_nan=False))
    assert d["orientation"] == "against" and d["qvalue"] <= PARAMS.fdr


def test_split_burst_found_and_not_on_shuffled_times() -> None:
    from algorithms.significance import shuffle_times

    rng = np.random.default_rng(2)
    inv = D.frame(D.background(rng) + D.plant_split(rng, "SP", "SB", 6, 120) + D.plant_fan(rng, "FO", 3, 40))
    found = detect_patterns(inv, PARAMS, kinds=("split_burst",))
    hit = _one(found, "split_burst", "SP")
    assert hit.members == ("SP", "SB") and hit.statistic == 6 and len(hit.invoice_keys) == 6
    assert "开票 6 张" in hit.evidence
    assert len(found.patterns) <= 2, [(p.anchor, p.qvalue) for p in found.patterns]
    shuffled = detect_patterns(shuffle_times(inv, rng=np.random.default_rng(3)), PARAMS, kinds=("split_burst",))
    assert not [p for p in shuffled.patterns if p.anchor == "SP"]


def test_fan_burst_members_are_the_hub_and_its_one_off_counterparties() -> None:
    # FO bursts to 12 fresh companies in two days, plus 4 regular customers it also invoices all year:
    # the regulars are in the burst but not members (named in the details), the hub is the subject
    rng = np.random.default_rng(0)
    rows = D.background(rng) + D.plant_fan(rng, "FO", 12, 100)
    regulars = [f"FO-R{i}" for i in range(4)]
    rows += [("FO", r, 100 + rng.uniform(0, 2), 60_000) for r in regulars]
    rows += [("FO", r, float(d), 60_000) for r in regulars for d in (20, 160, 250, 330)]
    found = _one(detect_patterns(D.frame(rows), PARAMS, kinds=("fan_out",)), "fan_out", "FO")
    assert found.members[0] == "FO" and not set(regulars) & set(found.members)
    assert len({f"FO-P{i:02d}" for i in range(12)} & set(found.members)) >= 10
    named = found.details["regular_counterparties"]
    assert set(named) <= set(regulars) and len(named) >= 3      # those in the best window
    assert found.details["counterparties"] == len(found.members) - 1 + len(named) and found.details["subject"] == "FO"
    assert "主体为开票方 FO" in found.evidence and f"{len(named)} 家为其常规往来方" in found.evidence


def test_a_burst_is_not_outranked_by_ordinary_months_met_across_their_border() -> None:
    # H meets its whole month (8 buyers) within a day; G meets 3 buyers at the end of January and 3 at the start
    # of February, so one 2-day window holds 6 > its monthly breadth of 3. The share of the monthly breadth is
    # capped at 1: G's border window (1.006) no longer ranks above H's burst (1.008)
    from algorithms.patterns import _monthly_breadth, _Run, _window_test, prepare

    t0 = pd.Timestamp("2024-01-10", tz="Asia/Shanghai")
    rows = [("H", f"B{i}", t0 + pd.Timedelta(hours=i)) for i in range(8)]
    rows += [("G", f"J{i}", pd.Timestamp("2024-01-31 10:00", tz="Asia/Shanghai") + pd.Timedelta(hours=i)) for i in range(3)]
    rows += [("G", f"F{i}", pd.Timestamp("2024-02-01 10:00", tz="Asia/Shanghai") + pd.Timedelta(hours=i)) for i in range(3)]
    inv = pd.DataFrame(rows, columns=["seller_tax_id", "buyer_tax_id", "issued_at"]).assign(total_fen=100)
    fl, _ = prepare(inv)
    assert fl is not None
    run = _Run(fl, PatternParams(windows_days=(2.0,), min_units=100, null_copies=1, max_null_copies=1,
                                 own_null=False), 0)   # the pooled null's cap (the own null is tested on its own)
    run.null_t = [fl.t]                       # the null copy: the data itself (both units keep their windows)
    breadth = _monthly_breadth(fl.s, fl.b, fl.month, fl.n)
    wt = _window_test(run, fl.s, fl.b, fl.t, run.null_t, breadth, 3, fl.month)
    h = int(np.flatnonzero(fl.names == "H")[0])
    assert wt.best_p[h] == pytest.approx(2 / 3)   # only H's own null window ties it; G's border window is below

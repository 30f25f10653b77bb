"""Each typology detector on a small hand-built table whose answer is known."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from algorithms import amounts, hubs, identity, shell
from algorithms.communities import communities

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, 10, tzinfo=TZ)


def inv(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"status": "normal", "item_code": "1000", "number": None}
    out = []
    for i, r in enumerate(rows):
        d = base | r
        d.setdefault("key", f"K{i:05d}")
        d["number"] = d["number"] or d["key"]
        d.setdefault("total_fen", d["amount_fen"])
        d["issued_at"] = T0 + timedelta(days=float(d.pop("day")))  # type: ignore[arg-type]
        out.append(d)
    return pd.DataFrame(out)


def taxpayers(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_near_limit_flags_share_just_under_the_limit() -> None:
    rows = [{"seller_tax_id": "NEAR", "buyer_tax_id": f"B{i}", "amount_fen": 9_950_000 + i, "day": i} for i in range(8)]
    rows += [{"seller_tax_id": "OK", "buyer_tax_id": f"B{i}", "amount_fen": 2_000_000 + 1000 * i, "day": i} for i in range(8)]
    tp = taxpayers([{"tax_id": "NEAR", "invoice_limit_fen": 10_000_000}, {"tax_id": "OK", "invoice_limit_fen": 10_000_000}])
    sig = amounts.near_limit(inv(rows), tp)
    assert list(sig.flagged.index) == ["NEAR"]
    assert sig.table.loc["NEAR", "value"] == 1.0
    assert "顶额" in sig.table.loc["NEAR", "evidence"]


def test_benford_separates_log_uniform_from_uniform_amounts() -> None:
    rng = np.random.default_rng(0)
    natural = (10 ** rng.uniform(4, 8, 600)).astype(np.int64)      # follows Benford
    made_up = rng.integers(500_000, 999_999, 600)                    # first digit 5..9 only
    rows = [{"seller_tax_id": "NAT", "buyer_tax_id": "X", "amount_fen": int(a), "day": 0} for a in natural]
    rows += [{"seller_tax_id": "FAKE", "buyer_tax_id": "X", "amount_fen": int(a), "day": 0} for a in made_up]
    rows += [{"seller_tax_id": "FEW", "buyer_tax_id": "X", "amount_fen": 900_000, "day": 0}] * 20
    sig = amounts.benford(inv(rows))
    assert list(sig.flagged.index) == ["FAKE"]
    assert sig.table.loc["NAT", "value"] <= 0.012
    assert "FEW" not in sig.table.index                              # too few amounts to judge


def test_amount_outliers_use_robust_z() -> None:
    rows = [{"seller_tax_id": "S", "buyer_tax_id": "X", "amount_fen": 100_000 + 500 * i, "day": i} for i in range(20)]
    rows += [{"seller_tax_id": "S", "buyer_tax_id": "X", "amount_fen": 90_000_000, "day": 21}] * 3
    sig = amounts.amount_outliers(inv(rows))
    assert sig.table.loc["S", "outliers"] == 3
    assert bool(sig.table.loc["S", "flag"])


def test_near_duplicates_same_parties_amount_day_different_number() -> None:
    rows = [{"seller_tax_id": "D", "buyer_tax_id": "X", "amount_fen": 123_456, "day": 3, "number": "001"},
            {"seller_tax_id": "D", "buyer_tax_id": "X", "amount_fen": 123_456, "day": 3.1, "number": "002"},
            {"seller_tax_id": "U", "buyer_tax_id": "X", "amount_fen": 123_456, "day": 3, "number": "003"},
            {"seller_tax_id": "U", "buyer_tax_id": "X", "amount_fen": 123_456, "day": 4, "number": "004"}]
    sig = amounts.duplicates(inv(rows))
    assert list(sig.flagged.index) == ["D"]


def test_large_bursts_count_in_sliding_window() -> None:
    rows = [{"seller_tax_id": f"N{i % 20}", "buyer_tax_id": "X", "amount_fen": 100_000 + i, "day": i} for i in range(400)]
    rows += [{"seller_tax_id": "BURST", "buyer_tax_id": "X", "amount_fen": 50_000_000, "day": 200 + i / 4} for i in range(12)]
    sig = amounts.large_bursts(inv(rows), window_days=7)
    assert list(sig.flagged.index) == ["BURST"]
    assert sig.table.loc["BURST", "value"] == 12


def test_void_red_ratios() -> None:
    rows = [{"seller_tax_id": "V", "buyer_tax_id": "X", "amount_fen": 100_000, "day": i,
             "status": "void" if i < 3 else "normal"} for i in range(12)]
    rows += [{"seller_tax_id": "R", "buyer_tax_id": "X", "amount_fen": 100_000, "day": i} for i in range(12)]
    rows += [{"seller_tax_id": "R", "buyer_tax_id": "X", "amount_fen": -400_000, "day": 13, "status": "red"}]
    rows += [{"seller_tax_id": "OK", "buyer_tax_id": "X", "amount_fen": 100_000, "day": i} for i in range(12)]
    sig = amounts_void = shell.void_red(inv(rows))
    assert sorted(sig.flagged.index) == ["R", "V"]
    assert amounts_void.table.loc["V", "void_share"] == pytest.approx(3 / 12)
    assert amounts_void.table.loc["R", "red_share"] == pytest.approx(400_000 / 1_200_000)


def test_shell_young_burst_lopsided_silent() -> None:
    rows = [{"seller_tax_id": "SHELL", "buyer_tax_id": f"B{i}", "amount_fen": 5_000_000, "day": 100 + i} for i in range(20)]
    rows += [{"seller_tax_id": "OLD", "buyer_tax_id": f"B{i}", "amount_fen": 5_000_000, "day": 100 + i} for i in range(20)]
    rows += [{"seller_tax_id": "X", "buyer_tax_id": "Y", "amount_fen": 1000, "day": 400}]   # data runs to day 400
    tp = taxpayers([{"tax_id": "SHELL", "registered_on": date(2024, 3, 1)},
                    {"tax_id": "OLD", "registered_on": date(2015, 1, 1)}])
    sig = shell.shell(inv(rows), tp)
    assert list(sig.flagged.index) == ["SHELL"]
    assert "空壳" in sig.table.loc["SHELL", "evidence"]


def test_fan_hub_needs_pass_through_and_renamed_goods() -> None:
    rows = [{"seller_tax_id": f"S{i}", "buyer_tax_id": "HUB", "amount_fen": 1_000_000, "day": i, "item_code": "STEEL"}
            for i in range(6)]
    rows += [{"seller_tax_id": "HUB", "buyer_tax_id": f"C{i}", "amount_fen": 1_000_000, "day": 10 + i,
              "item_code": "SOFTWARE"} for i in range(6)]
    rows += [{"seller_tax_id": f"S{i}", "buyer_tax_id": "TRADER", "amount_fen": 1_000_000, "day": i, "item_code": "RICE"}
             for i in range(6)]
    rows += [{"seller_tax_id": "TRADER", "buyer_tax_id": f"C{i}", "amount_fen": 1_000_000, "day": 10 + i,
              "item_code": "RICE"} for i in range(6)]
    table = inv(rows)
    tp = taxpayers([{"tax_id": t, "industry": "wholesale"} for t in ("HUB", "TRADER")])
    items = hubs.item_mismatch(table, tp, typical_share=0.6)
    assert items.table.loc["HUB", "coverage"] == 0.0 and items.table.loc["TRADER", "coverage"] == 1.0
    plain = hubs.fan_hub(table)
    assert sorted(plain.flagged.index) == ["HUB", "TRADER"]
    with_items = hubs.fan_hub(table, coverage=items.table["coverage"])
    assert list(with_items.flagged.index) == ["HUB"]


def test_shared_identifiers_rare_weigh_more() -> None:
    ids = pd.DataFrame({
        "tax_id": ["A", "B", "C", "D"] + [f"G{i}" for i in range(30)],
        "kind": ["phone", "phone", "address", "address"] + ["address"] * 30,
        "value": ["138", "138", "路1号", "路1号"] + ["注册代理地址"] * 30,
    })
    clusters = identity.identity_clusters(ids)
    assert [c.members for c in clusters] == [("A", "B")]        # shared address alone is weak; 30-way one ignored
    sig = identity.shared_identity(ids)
    assert sorted(sig.flagged.index) == ["A", "B"]
    links = identity.identity_links(ids)
    assert set(zip(links["a"], links["b"], strict=True)) == {("A", "B"), ("C", "D")}


def test_a_common_name_alone_never_flags_however_many_share_it() -> None:
    # 12 companies whose legal representative is called 王浩, two that share a name and an address,
    # two that share a phone: only the last four are flagged (each identifier counts once per company)
    ids = pd.DataFrame({
        "tax_id": [f"W{i}" for i in range(12)] + ["N1", "N1", "N2", "N2", "P1", "P2"],
        "kind": ["legal_rep"] * 12 + ["legal_rep", "address", "legal_rep", "address", "phone", "phone"],
        "value": ["王浩"] * 12 + ["欧阳娜", "幸福路9号", "欧阳娜", "幸福路9号", "139", "139"],
    })
    sig = identity.shared_identity(ids)
    assert sorted(sig.flagged.index) == ["N1", "N2", "P1", "P2"]
    assert sig.table.loc["W0", "partners"] == 11 and not sig.table.loc["W0", "flag"]
    assert sig.table.loc["N1", "evidence"] == "与 1 家企业共用地址、法定代表人"
    # the same answer when the links are passed in (the detection pipeline computes them once)
    again = identity.shared_identity(ids, links=identity.identity_links(ids))
    assert sorted(again.flagged.index) == ["N1", "N2", "P1", "P2"]


def test_leiden_keeps_two_small_rings_apart() -> None:
    edges = []
    for ring in (["A1", "A2", "A3", "A4"], ["B1", "B2", "B3", "B4"]):
        for i, a in enumerate(ring):
            for b in ring[i + 1:]:
                edges.append({"seller_tax_id": a, "buyer_tax_id": b, "total_fen": 50_000_000})
    edges.append({"seller_tax_id": "A1", "buyer_tax_id": "B1", "total_fen": 10_000})
    comms = communities(pd.DataFrame(edges), cycles=[("A1", "A2", "A3")], resolution=1.0, seed=0)
    assert sorted(c.members for c in comms) == [("A1", "A2", "A3", "A4"), ("B1", "B2", "B3", "B4")]
    a = next(c for c in comms if "A1" in c.members)
    b = next(c for c in comms if "B1" in c.members)
    assert a.cycles_inside == 1 and a.score > b.score
    assert comms == communities(pd.DataFrame(edges), cycles=[("A1", "A2", "A3")], resolution=1.0, seed=0)


def test_leiden_runs_each_component_on_its_own() -> None:
    from algorithms.communities import leiden_by_component

    rng = np.random.default_rng(5)
    n = 300                                                  # a random graph: many near-equal partitions
    raw = pd.DataFrame({"u": rng.integers(0, n, 900), "v": rng.integers(0, n, 900), "w": rng.uniform(1, 3, 900)})
    raw = raw.assign(u=raw[["u", "v"]].min(axis=1), v=raw[["u", "v"]].max(axis=1))
    a = pd.DataFrame(raw[raw["u"] < raw["v"]].groupby(["u", "v"], as_index=False)["w"].sum())
    b = pd.DataFrame({"u": [n, n, n + 1], "v": [n + 1, n + 2, n + 2], "w": [5.0, 5.0, 5.0]})   # another component
    w_a, w_b = a["w"].sum(), b["w"].sum()
    alone = leiden_by_component(a, n, resolution=4.0, seed=1)
    both = leiden_by_component(pd.concat([b, a], ignore_index=True), n + 3, resolution=4.0 * (w_a + w_b) / w_a, seed=1)
    assert len(set(alone.tolist())) > 5
    np.testing.assert_array_equal(both[:n], alone)           # the same communities, whatever else the graph holds
    assert both[n:].tolist() == [n, n, n]                    # labels: a community's smallest node
    shuffled = leiden_by_component(a.sample(frac=1.0, random_state=2), n, resolution=4.0, seed=1)
    np.testing.assert_array_equal(shuffled, alone)           # row order does not matter

"""Permutation nulls of the typology rules (algorithms.rule_null): a rule that fires on chance alone gets a
rule-level FDR near 1, a rule that fires on a real association one near 0."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms.rule_null import rule_null_hits

T0 = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")


def _invoices(n_sellers: int, per_seller: int, void: dict[str, float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_sellers):
        s = f"S{i:03d}"
        for k in range(per_seller):
            voided = rng.random() < void.get(s, void.get("*", 0.0))
            rows.append((f"K{i:03d}{k:03d}", s, f"B{rng.integers(0, 50):03d}", T0 + pd.Timedelta(days=k),
                         100_000, 113_000, "void" if voided else "normal"))
    return pd.DataFrame(rows, columns=["key", "seller_tax_id", "buyer_tax_id", "issued_at", "amount_fen", "total_fen",
                                       "status"])


def test_void_rule_fdr_separates_a_voiding_seller_from_a_high_base_rate() -> None:
    # four sellers void 60 % of their invoices, the 196 others almost never: the rule's hits are no chance
    few = _invoices(200, 40, {f"S00{i}": 0.6 for i in range(4)} | {"*": 0.002}, seed=0)
    t = rule_null_hits(few, None, None, rules=("void_red",), seed=0)["void_red"]
    assert {f"S00{i}" for i in range(4)} <= t.hits and t.fdr <= 0.05
    # every seller voids 12 %: the rule fires on many of them, and about as often on shuffled data
    many = _invoices(80, 20, {"*": 0.12}, seed=1)
    t = rule_null_hits(many, None, None, rules=("void_red",), seed=0)["void_red"]
    assert len(t.hits) >= 10 and t.fdr >= 0.5


def test_shared_identity_is_tested_on_companies_that_trade_with_whom_they_share() -> None:
    # P1..P3 share one phone and invoice each other; Q1, Q2 share another phone and never trade together
    inv = _invoices(40, 10, {}, seed=2)
    extra = pd.DataFrame({"key": ["X1", "X2"], "seller_tax_id": ["P1", "P2"], "buyer_tax_id": ["P2", "P3"],
                          "issued_at": [T0, T0 + pd.Timedelta(days=3)], "amount_fen": 100_000, "total_fen": 113_000,
                          "status": "normal"})
    solo = pd.DataFrame({"key": ["X3", "X4"], "seller_tax_id": ["Q1", "Q2"], "buyer_tax_id": ["B001", "B002"],
                         "issued_at": T0, "amount_fen": 100_000, "total_fen": 113_000, "status": "normal"})
    ids = pd.DataFrame({"tax_id": ["P1", "P2", "P3", "Q1", "Q2"] + [f"S{i:03d}" for i in range(40)],
                        "kind": "phone", "value": ["1380", "1380", "1380", "1390", "1390"] + [f"p{i}" for i in range(40)]})
    t = rule_null_hits(pd.concat([inv, extra, solo], ignore_index=True), None, ids, rules=("shared_identity",),
                       seed=0)["shared_identity"]
    assert t.hits == frozenset({"P1", "P2", "P3"})
    assert t.fdr <= 0.1


def _numbered(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    inv = pd.DataFrame(rows, columns=["seller_tax_id", "buyer_tax_id", "day", "amount_fen"])
    inv["issued_at"] = T0 + pd.to_timedelta(inv.pop("day"), unit="D")
    inv["total_fen"] = inv["amount_fen"]
    inv["key"] = inv["number"] = [f"N{i:06d}" for i in range(len(inv))]
    inv["status"] = "normal"
    return inv


def test_duplicates_fdr_knows_a_fixed_price_seller_from_repeated_invoices() -> None:
    rng = np.random.default_rng(0)
    background = [(f"S{i:02d}", f"B{rng.integers(0, 30):02d}", float(rng.integers(0, 300)), int(rng.integers(10**4, 10**6)))
                  for i in range(40) for _ in range(30)]
    # D1..D3 issue the same invoice twice (same buyer, amount, day) on six days, among varied amounts
    repeated = [(f"D{k}", "B00", float(d), amt) for k in range(3) for d, amt in
                zip(range(10, 70, 10), rng.integers(10**4, 10**6, 6), strict=True) for _ in range(2)]
    repeated += [(f"D{k}", f"B{rng.integers(0, 30):02d}", float(rng.integers(0, 300)), int(rng.integers(10**4, 10**6)))
                 for k in range(3) for _ in range(30)]
    t = rule_null_hits(_numbered(background + repeated), None, None, rules=("duplicates",), seed=0)["duplicates"]
    assert t.hits == frozenset({"D0", "D1", "D2"}) and t.fdr <= 0.2     # a pair may meet again by chance
    # sellers of one fixed-price article, several a day to their few buyers: duplicates by their own price list
    fixed = [(f"F{i:02d}", f"B{rng.integers(0, 3):02d}", float(rng.integers(0, 20)), 50_000)
             for i in range(20) for _ in range(30)]
    t = rule_null_hits(_numbered(fixed), None, None, rules=("duplicates",), seed=0)["duplicates"]
    assert len(t.hits) >= 15 and t.fdr >= 0.9


def test_the_null_copies_flag_what_shared_identity_flags() -> None:
    """The null copies count flagged companies with ``identity.shared_flagged`` (no evidence text): the same set
    as ``shared_identity``'s flags, on generated identifiers and on copies with companies permuted per kind."""
    import tempfile
    from pathlib import Path

    from algorithms import identity
    from tests.helpers.detect_data import small_generated, tables_from_generated

    with tempfile.TemporaryDirectory() as d:
        _, _, ids = tables_from_generated(small_generated(Path(d)))
    frame = ids.to_pandas()
    rng = np.random.default_rng(0)
    copies = [frame] + [frame.assign(tax_id=frame.groupby("kind")["tax_id"].transform(
        lambda s: rng.permutation(s.to_numpy()))) for _ in range(3)]
    for f in copies:
        links = identity.identity_links(f)
        full = frozenset(identity.shared_identity(f, links=links).flagged.index)
        assert identity.shared_flagged(f, links=links) == full
    assert len(full) >= 5


def test_data_without_shared_identifiers_flags_nobody() -> None:
    """Data without identifiers (the public AMLSim set), or with none shared, as the store reads them (text
    columns): no company is flagged, by the rule or by its null copies' shortcut."""
    import pyarrow as pa

    from algorithms import identity

    schema = pa.schema([("tax_id", pa.string()), ("kind", pa.string()), ("value", pa.string())])
    empty = schema.empty_table()
    lone = pa.table({"tax_id": ["A", "B"], "kind": ["phone", "phone"], "value": ["1", "2"]}, schema=schema)
    for t in (empty, lone):
        links = identity.identity_links(t)
        assert identity.shared_identity(t, links=links).flagged.empty
        assert identity.shared_flagged(t, links=links) == frozenset()

"""algorithms.misses: what the fraudulent taxpayers a run left in low have, next to the clean ones left in low."""

from __future__ import annotations

import pandas as pd

from algorithms.misses import PROPERTIES, miss_breakdown


def _inv(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    s, b, t, st = zip(*rows, strict=True)
    return pd.DataFrame({"seller_tax_id": s, "buyer_tax_id": b, "issued_at": pd.to_datetime(list(t)),
                         "total_fen": 100, "status": st})


# H (fraud, found) splits invoices to F1 (fraud, missed: 2 invoices in 2 days) and to F2 (fraud, missed: 2 invoices
# months apart); F3 (fraud, missed) sells to the clean C3 only; C1 buys from H once; C2 buys from F1
# twice, once voided; C3 trades with C4 only
ROWS = [
    ("H", "F1", "2024-01-01", "normal"), ("H", "F1", "2024-01-03", "normal"),
    ("H", "F2", "2024-01-05", "normal"), ("H", "F2", "2024-05-05", "normal"),
    ("F3", "C3", "2024-02-01", "normal"),
    ("H", "C1", "2024-03-01", "normal"),
    ("F1", "C2", "2024-03-01", "normal"), ("F1", "C2", "2024-03-02", "void"),
    ("C3", "C4", "2024-04-01", "normal"),
]
FRAUD = {"H": 1, "F1": 1, "F2": 1, "F3": 1, "C1": 0, "C2": 0, "C3": 0, "C4": 0}


def test_counts_each_property_for_missed_fraud_and_for_clean_left_in_low() -> None:
    t = miss_breakdown(_inv(ROWS), FRAUD, flagged={"H"}, finding_members={"H"},
                       typologies={"F1": ("split",), "F2": ("split",), "F3": ("shell",)})
    got = {k: tuple(v) for k, v in zip(t.index, t.to_numpy().tolist(), strict=True)}
    assert got["(all)"] == (3, 4)                      # F1 F2 F3 missed; C1..C4 clean and unflagged
    assert got["any_fraud_partner"] == (2, 3)          # F1, F2 (with H) / C1 (H), C2 (F1), C3 (F3)
    assert got["repeat_with_fraud"] == (2, 0)          # C2's second invoice is void: one valid invoice only
    assert got["close_with_fraud"] == (1, 0)           # F1: 2 days apart; F2: four months apart
    assert got["finding_partner"] == (2, 1)            # F1, F2 / C1 trade with the finding's member H
    assert got["repeat_with_finding"] == (2, 0)
    assert got["no_fraud_partner"] == (1, 1)           # F3 (its one partner is clean) / C4
    assert got["typology split"] == (2, 0) and got["typology shell"] == (1, 0)
    assert list(t.index[: len(PROPERTIES)]) == list(PROPERTIES)


def test_a_flagged_fraudulent_taxpayer_is_not_a_miss_and_the_window_is_a_parameter() -> None:
    t = miss_breakdown(_inv(ROWS), FRAUD, flagged={"H", "F1", "C1"}, finding_members=set(), close_days=200)
    got = {k: tuple(v) for k, v in zip(t.index, t.to_numpy().tolist(), strict=True)}
    assert got["(all)"] == (2, 3)
    assert got["close_with_fraud"] == (1, 0)                # F2's invoices 121 days apart count at 200 days
    assert got["finding_partner"] == (0, 0)

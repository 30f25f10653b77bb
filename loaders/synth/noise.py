"""Malformed rows for loader testing: each breaks exactly one loader rule (loaders.rules rule ids)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders.synth.output import INVOICE_SCHEMA
from loaders.synth.trade import Calendar
from loaders.uscc import CHARSET

NOISE_RULES = ("tax_id_check", "rate_for_date", "total_mismatch", "tax_mismatch", "duplicate_key",
               "date_future", "red_ref_missing", "same_party")
CENT = Decimal("0.01")


def _money(x: Decimal) -> str:
    return str(x.quantize(CENT, rounding=ROUND_HALF_UP))


def _fresh_number(row: dict[str, Any], serial: int) -> str:
    num = str(row["invoice_number"])
    return num[:4] + f"{serial:016d}" if len(num) == 20 else f"{serial % 100_000_000:08d}"


def _key(row: dict[str, Any]) -> str:
    return f"{row['invoice_code']}-{row['invoice_number']}" if row["invoice_code"] else str(row["invoice_number"])


def _retax(row: dict[str, Any], rate: Decimal | None = None, amount: Decimal | None = None) -> None:
    """Set rate/amount and recompute tax and total consistently."""
    a = amount if amount is not None else Decimal(row["amount"])
    r = rate if rate is not None else Decimal(row["tax_rate"])
    tax = (a * r).quantize(CENT, rounding=ROUND_HALF_UP)
    row["amount"], row["tax_rate"], row["tax_amount"], row["total_amount"] = _money(a), str(r), _money(tax), _money(a + tax)


def _break(rule: str, row: dict[str, Any], rng: np.random.Generator, serial: int) -> str:
    """Mutate ``row`` so it breaks ``rule`` (and only it); returns the detail text."""
    if rule != "duplicate_key":
        row["invoice_number"] = _fresh_number(row, serial)
    if rule == "tax_id_check":
        tid = str(row["seller_tax_id"])
        wrong = CHARSET[(CHARSET.index(tid[17]) + 1 + int(rng.integers(0, 30))) % 31]
        row["seller_tax_id"] = tid[:17] + wrong
        return f"seller tax id check character {tid[17]} replaced by {wrong}"
    if rule == "rate_for_date":
        old = row["tax_rate"]
        bad_rate = Decimal("0.17") if str(row["issue_date"]) >= "2019-04-01" else Decimal("0.13")
        _retax(row, rate=bad_rate)
        return f"rate {bad_rate} not in force on {str(row['issue_date'])[:10]} (was {old})"
    if rule == "total_mismatch":
        row["total_amount"] = _money(Decimal(row["total_amount"]) + Decimal(1))
        return "total_amount is amount + tax_amount + 1.00"
    if rule == "tax_mismatch":
        tax = Decimal(row["tax_amount"])
        bump = max(Decimal(1), (tax * Decimal("0.05")).quantize(CENT))
        row["tax_amount"] = _money(tax + bump)
        row["total_amount"] = _money(Decimal(row["amount"]) + tax + bump)
        return f"tax_amount raised by {_money(bump)} (total kept consistent)"
    if rule == "duplicate_key":
        _retax(row, amount=(Decimal(row["amount"]) * Decimal("1.1")).quantize(CENT))
        return f"same key as an earlier row, amount changed to {row['amount']}"
    if rule == "date_future":
        future = date.today() + timedelta(days=int(rng.integers(30, 300)))
        row["issue_date"] = future.isoformat() + str(row["issue_date"])[10:]
        return f"issue date {future} is in the future"
    if rule == "red_ref_missing":
        _retax(row, amount=-Decimal(row["amount"]))
        row["status"] = "red"
        row["red_ref"] = f"{serial + 7:020d}"[:20]
        return f"red-letter invoice refers to {row['red_ref']}, which does not exist"
    if rule == "same_party":
        row["buyer_tax_id"], row["buyer_name"] = row["seller_tax_id"], row["seller_name"]
        return "seller and buyer are the same taxpayer"
    raise ValueError(rule)


def corrupt(rng: np.random.Generator, table: pa.Table, cal: Calendar, n: int, serial: int) -> tuple[pa.Table, list[list[str]]]:
    """``n`` malformed rows derived from normal blue rows of ``table`` (appended after it by the caller).

    Returns the rows and their truth records ``[invoice_code, invoice_number, rule, detail]``.
    Serial numbers ``serial .. serial+n`` are consumed for fresh invoice numbers.
    """
    del cal
    if n <= 0:
        return INVOICE_SCHEMA.empty_table(), []
    ok = pc.and_(pc.equal(table.column("status"), "normal"),
                 pc.invert(pc.starts_with(table.column("amount"), "-")))
    cand = np.flatnonzero(ok.to_numpy(zero_copy_only=False))
    idx = rng.choice(cand, n, replace=len(cand) < n)
    rows = table.take(pa.array(idx)).to_pylist()
    truth: list[list[str]] = []
    for i, row in enumerate(rows):
        rule = NOISE_RULES[(i + int(rng.integers(0, len(NOISE_RULES)))) % len(NOISE_RULES)]
        if rule == "date_future" and not row["invoice_code"]:
            rule = "same_party"   # 数电 numbers carry the year: a future date would also break digital_year
        detail = _break(rule, row, rng, serial + i)
        truth.append([row["invoice_code"] or "", row["invoice_number"], rule, detail])
    return pa.Table.from_pylist(rows, schema=INVOICE_SCHEMA), truth

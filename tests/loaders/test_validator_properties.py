"""Property tests: valid rows always pass; any single corruption is caught by the right rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders import normalize as nz
from loaders.rules import InvoiceValidator, check_invoice
from loaders.uscc import CHARSET, check_char

ID_BODY = st.text(alphabet=CHARSET, min_size=10, max_size=10)
RATES = [0, 50, 100, 150, 300, 500, 600, 900, 1300]


@st.composite
def tax_ids(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["91", "92", "12", "93"])) + draw(st.from_regex(r"\A[0-9]{6}\Z"))
    first17 = head + draw(ID_BODY)[:9]
    return first17 + check_char(first17)


def _yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, str]:
    seller, buyer = draw(tax_ids()), draw(tax_ids())
    if seller == buyer:
        body = seller[:16] + ("0" if seller[16] != "0" else "1")
        buyer = body + check_char(body)
    day = date(2019, 4, 1) + timedelta(days=draw(st.integers(0, 2000)))
    amount = draw(st.integers(1, 10**10))
    rate = draw(st.sampled_from(RATES))
    tax = (amount * rate + 5000) // 10000
    digital = draw(st.booleans())
    n = draw(st.integers(0, 99_999_999))
    return {
        "invoice_number": f"{day.year % 100:02d}35{n:016d}" if digital else f"{n:08d}",
        "invoice_code": "" if digital else draw(st.from_regex(r"\A([0-9]{10}|[0-9]{12})\Z")),
        "issue_date": draw(st.sampled_from([day.isoformat(), f"{day.year}/{day.month}/{day.day}",
                                            f"{day.year}年{day.month}月{day.day}日", f"{day.isoformat()} 08:15:00"])),
        "seller_tax_id": seller, "seller_name": "甲公司", "buyer_tax_id": buyer, "buyer_name": "乙公司",
        "amount": _yuan(amount), "tax_amount": _yuan(tax), "total_amount": _yuan(amount + tax),
        # a bare number >= 1 reads as a percentage ("13"), so that form is only unambiguous from 1% up
        "tax_rate": draw(st.sampled_from([f"{rate / 100:g}%", f"{rate / 10000:g}"]
                                         + ([f"{rate / 100:g}"] if rate >= 100 or rate == 0 else []))),
    }


def _errors(row: dict[str, str]) -> set[str]:
    return {p.rule for p in check_invoice(row) if p.severity == "error"}


@settings(max_examples=40, deadline=None)
@given(invoices())
def test_valid_invoices_always_pass(row: dict[str, str]) -> None:
    assert check_invoice(row) == []


def _bump_total(r: dict[str, str]) -> None:
    r["total_amount"] = _yuan(int(r["total_amount"].replace(".", "")) + 1)


def _bump_tax(r: dict[str, str]) -> None:
    tax = int(r["tax_amount"].replace(".", "")) + 700
    r["tax_amount"] = _yuan(tax)
    r["total_amount"] = _yuan(int(r["amount"].replace(".", "")) + tax)


def _old_rate(r: dict[str, str]) -> None:
    amount = int(r["amount"].replace(".", ""))
    tax = (amount * 1700 + 5000) // 10000
    r.update(tax_rate="17%", tax_amount=_yuan(tax), total_amount=_yuan(amount + tax))


def _bad_check_char(r: dict[str, str]) -> None:
    t = r["seller_tax_id"]
    r["seller_tax_id"] = t[:17] + next(c for c in CHARSET if c != t[17])


CORRUPTIONS: dict[str, Callable[[dict[str, str]], None]] = {
    "total_mismatch": _bump_total,
    "tax_mismatch": _bump_tax,
    "rate_for_date": _old_rate,
    "invoice_number_format": lambda r: r.update(invoice_number=r["invoice_number"][:-1]),
    "tax_id_format": lambda r: r.update(buyer_tax_id=r["buyer_tax_id"][:-2]),
    "same_party": lambda r: r.update(buyer_tax_id=r["seller_tax_id"]),
    "date_unparseable": lambda r: r.update(issue_date="2024-13-01"),
    "date_future": lambda r: r.update(issue_date="2099-01-01"),
    "missing_field": lambda r: r.update(seller_name=""),
    "bad_value": lambda r: r.update(amount="1.2.3"),
    "status_invalid": lambda r: r.update(status="lost"),
    "red_not_negative": lambda r: r.update(status="red", red_ref="1234567890-00000001"),
}


@settings(max_examples=60, deadline=None)
@given(invoices(), st.sampled_from(sorted(CORRUPTIONS)))
def test_single_corruption_is_caught_by_its_rule(row: dict[str, str], rule: str) -> None:
    CORRUPTIONS[rule](row)
    assert rule in _errors(row)


@settings(max_examples=20, deadline=None)
@given(invoices())
def test_wrong_check_character_is_only_a_warning(row: dict[str, str]) -> None:
    _bad_check_char(row)
    problems = check_invoice(row)
    assert [(p.rule, p.severity) for p in problems] == [("tax_id_check", "warning")]


@settings(max_examples=15, deadline=None)
@given(st.lists(invoices(), min_size=1, max_size=40))
def test_batch_accepts_valid_rows_once_per_key(rows: list[dict[str, str]]) -> None:
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in rows[0]})
    out = InvoiceValidator().validate(table)
    keys = {(r["invoice_code"], r["invoice_number"]) for r in rows}
    assert out.accepted.num_rows + out.skipped_identical + len(out.rejected_rows) == len(rows)
    assert out.accepted.num_rows == len(keys) and out.accepted.column("key").null_count == 0


@given(st.integers(-(10**13), 10**13))
def test_money_text_round_trips_to_fen(fen: int) -> None:
    values, ok, _ = nz.parse_fen(pa.array([_yuan(fen), f"¥{_yuan(fen)}"]))
    assert ok.all() and values.tolist() == [fen, fen]

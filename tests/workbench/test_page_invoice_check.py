"""Invoice check: status lookup (查验) and self-check (自查) with problems in words."""

from __future__ import annotations

from datetime import datetime

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench.ui.fmt import local


def _lookup(at, inv: dict[str, object], amount_fen: int):  # type: ignore[no-untyped-def]
    at.text_input(key="ic_number").input(str(inv["number"]))
    at.text_input(key="ic_code").input(str(inv["code"]))
    issued = inv["issued_at"]
    assert isinstance(issued, datetime)
    at.date_input(key="ic_date").set_value(local(issued).date())
    at.text_input(key="ic_amount").input(f"{amount_fen / 100:.2f}")
    next(b for b in at.button if b.label == "查验").click().run()
    return at


def test_lookup_shows_the_status_of_a_void_invoice(app_env: Demo) -> None:
    inv = app_env.void_invoice
    at = _lookup(open_page(app_env, "analyst", "invoice_check"), inv, int(inv["total_fen"]))  # type: ignore[call-overload]
    assert any("作废" in e.value for e in at.error)


def test_lookup_with_a_wrong_amount_finds_nothing(app_env: Demo) -> None:
    inv = app_env.invoices[0]
    at = _lookup(open_page(app_env, "investigator", "invoice_check"), inv, int(inv["total_fen"]) + 1)  # type: ignore[call-overload]
    assert any("查无此票" in w.value for w in at.warning)


def test_self_check_explains_each_problem(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "invoice_check")
    at.text_input(key="sc_number").input("1234")
    at.text_input(key="sc_seller").input("NOT-A-TAX-ID")
    at.text_input(key="sc_amount").input("1000.00")
    at.text_input(key="sc_tax").input("130.00")
    at.text_input(key="sc_total").input("1200.00")
    next(b for b in at.button if b.label == "自查").click().run()
    shown = "\n".join(e.value for e in at.error)
    for rule in ("invoice_number_format", "tax_id_format", "total_mismatch"):
        assert f"`{rule}`" in shown, shown

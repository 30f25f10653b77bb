"""Invoice check: status lookup (查验) and self-check (自查) with problems in words."""

from __future__ import annotations

from datetime import datetime

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench.fmt import local


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


def test_lookup_shows_the_invoice_item_lines(fresh_env: Demo) -> None:
    import pyarrow as pa

    from graph import open_store
    from graph.core import schema

    inv = fresh_env.invoices[0]
    line = {"key": inv["key"], "line": 1, "item_name": "*信息技术服务*软件开发", "item_code": None, "spec": None,
            "unit": "项", "quantity": 1.0, "unit_price": "100", "amount_fen": 123_456, "rate": 0.06, "tax_fen": 7_407}
    with open_store(fresh_env.uri) as store, store.writer() as w:
        w.item_lines(pa.Table.from_pylist([line], schema=schema.ITEM_LINES))
    at = _lookup(open_page(fresh_env, "analyst", "invoice_check"), inv, int(inv["total_fen"]))  # type: ignore[call-overload]
    [table] = at.dataframe
    assert list(table.value.columns)[:2] == ["行", "项目名称"]
    assert table.value.iloc[0]["金额（元）"] == "1,234.56" and table.value.iloc[0]["税率"] == "6%"


def test_self_check_names_the_fields_in_chinese_once(app_env: Demo) -> None:
    """Seen in the demo: each problem read "错误 · **seller_tax_id** — … \\n\\n seller_tax_id: 纳税人识别号格式错误… /
    tax id is not …": the field's code and the rule's meaning a second time, in two languages."""
    at = open_page(app_env, "investigator", "invoice_check")
    at.text_input(key="sc_number").input("1234567")
    at.text_input(key="sc_seller").input("BAD")
    next(b for b in at.button if b.label == "自查").click().run()
    shown = [str(e.value) for e in at.error]
    seller = next(t for t in shown if "销方税号" in t)
    assert seller.startswith("错误 · **销方税号** — 纳税人识别号格式错误") and "\n" not in seller, seller
    assert any(t.startswith("错误 · **发票号码** —") for t in shown), shown
    assert not [t for t in shown if "seller_tax_id" in t or "invoice_number:" in t or " / " in t], shown

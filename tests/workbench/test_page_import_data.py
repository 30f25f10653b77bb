"""Import: upload with a size cap, validation report with rejected rows, audited; detection run."""

from __future__ import annotations

import pytest

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, tax_id

HEADER = ("invoice_number,invoice_code,issue_date,seller_tax_id,seller_name,buyer_tax_id,buyer_name,"
          "amount,tax_amount,total_amount,tax_rate,status\n")


def _csv(rows: list[str]) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode("utf-8")


def test_upload_loads_good_rows_and_reports_the_bad_one(fresh_env: Demo) -> None:
    s, b = tax_id(101), tax_id(102)
    good = f"88000001,044031900111,2024-05-06,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,1130.00,0.13,normal"
    bad = f"88000002,044031900111,2024-05-07,{s},上传甲公司,{b},上传乙公司,1000.00,130.00,9999.00,0.13,normal"
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("up.csv", _csv([good, bad]), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["读取"], metrics["导入"], metrics["拒收"]) == ("2", "1", "1")
    assert "total_mismatch" in at.dataframe[0].value.iloc[:, 0].tolist()
    assert at.get("download_button")
    store = EmbeddedStore(fresh_env.path)
    assert store.taxpayer(s) is not None and store.counts().invoices == len(fresh_env.invoices) + 1
    assert [e.action for e in store.audit_events()][-1] == "import_data"
    store.close()


def test_upload_over_the_size_limit_is_refused(fresh_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_UPLOAD_MAX_MB", "0")
    at = open_page(fresh_env, "admin", "import_data")
    at.file_uploader(key="imp_invoices").set_value(("big.csv", _csv(["x"] * 10), "text/csv"))
    next(b for b in at.button if b.label == "校验并导入").click().run()
    assert any("超过上限" in e.value for e in at.error)
    store = EmbeddedStore(fresh_env.path)
    assert store.counts().invoices == len(fresh_env.invoices)
    store.close()


def test_admin_runs_detection_from_the_page_and_it_is_audited(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "admin", "import_data")
    runs_before = len(EmbeddedStore(fresh_env.path).runs())
    next(b for b in at.button if b.label == "运行检测").click().run()
    assert any("检测完成" in s.value for s in at.success), [e.value for e in at.error]
    store = EmbeddedStore(fresh_env.path)
    assert len(store.runs()) == runs_before + 1
    assert [e.action for e in store.audit_events()][-1] == "run_detection"
    store.close()


def test_detection_options_on_the_page_are_the_params_fields(fresh_env: Demo) -> None:
    from algorithms.params import specs

    at = open_page(fresh_env, "admin", "import_data")
    for f, _ in specs():
        assert at.number_input(key=f"imp_{f.name}").value == f.default, f.name
    at.number_input(key="imp_window_days").set_value(45)
    next(b for b in at.button if b.label == "运行检测").click().run()
    assert any("检测完成" in s.value for s in at.success), [e.value for e in at.error]
    store = EmbeddedStore(fresh_env.path)
    assert any(r.params["window_days"] == 45 for r in store.runs())
    store.close()

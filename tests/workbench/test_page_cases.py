"""Engineer G's pages driven through Streamlit AppTest as real users: cases, appeals, audit, users."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from graph.core.vocab import AUDIT_ACTIONS
from graph.store import Store
from tests.helpers.g_case_data import TAX_IDS, open_embedded, seed
from tests.helpers.paths import SCREENS
from workbench import appeals, audit, cases, users
from workbench.auth import User
from workbench.fmt import plain

PAGES_DIR = SCREENS


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, dict[str, User]]:
    from workbench.ui.state import clear_store_cache

    store = open_embedded(tmp_path / "ws")
    u = seed(store)
    monkeypatch.setenv("FAPIAO_STORE", store.uri)
    clear_store_cache()
    return store, u


def _page(name: str, user: User, **query: str) -> AppTest:
    at = AppTest.from_file(str(PAGES_DIR / name), default_timeout=60)
    at.session_state["fapiao_user"] = user
    at.session_state["fapiao_signed_in_at"] = time.time()
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_investigator_works_a_case_in_the_page(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    c = cases.open_case_from_ring(store, u["investigator"], "R-1")
    at = _page("cases.py", u["investigator"], case=c.case_id)
    # headers carry Markdown-escaped text (fmt.plain: names cannot become links); the id shows as typed
    assert any(plain(c.case_id) in str(h.value) for h in at.header)
    assert ("case_read", f"case:{c.case_id}") in [(e.action, e.target) for e in store.audit_events()]
    next(t for t in at.text_area if t.label == "新备注").input("走访：注册地址无人办公")
    _button(at, "保存备注").click().run()
    assert not at.exception
    got = store.record(cases.KIND, c.case_id)
    assert got is not None and got["notes"][-1]["text"] == "走访：注册地址无人办公"
    _button(at, "变更状态").click().run()  # first allowed move: investigating
    got = store.record(cases.KIND, c.case_id)
    assert got is not None and got["status"] == "investigating"
    _button(at, "记录结论").click().run()
    assert [d["tax_id"] for d in cases.dispositions(store, c.case_id)] == [c.taxpayers[0]]
    assert not [b for b in at.button if b.label.startswith("导出")]  # no export for investigators


def test_other_investigator_cannot_open_restricted_case_by_url(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    c = cases.open_case(store, u["supervisor"], "仅限主管", taxpayers=TAX_IDS[:1])
    at = _page("cases.py", u["investigator"], case=c.case_id)
    assert at.error and not any(c.case_id in str(h.value) for h in at.header)


def test_analyst_exports_from_the_page(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    c = cases.open_case_from_ring(store, u["investigator"], "R-1")
    at = _page("cases.py", u["analyst"], case=c.case_id)
    _button(at, "导出案卷（ZIP）").click().run()
    assert not at.exception
    name, data = at.session_state["case_export_bytes"]
    assert name.endswith(".zip") and c.case_id in name
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "manifest.json" in z.namelist() and "report.html" in z.namelist()
    assert [e.action for e in audit.events(store, target=f"case:{c.case_id}", limit=2)][0] == "case_export"


def test_appeals_page_records_and_flags_overdue(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    late = appeals.record_appeal(store, u["investigator"], TAX_IDS[0], "早先的申诉",
                                 received_at=audit.now() - timedelta(days=30))
    at = _page("appeals.py", u["supervisor"])
    assert any(late.appeal_id in str(w.value) for w in at.warning)
    at = _page("appeals.py", u["investigator"])
    assert not at.warning  # overdue list is for supervisors
    at.text_input[0].input(TAX_IDS[1])
    next(t for t in at.text_area if t.label == "申诉内容").input("我们有真实的购销合同")
    _button(at, "登记").click().run()
    assert any(a.tax_id == TAX_IDS[1] for a in appeals.list_appeals(store, u["investigator"]))


def test_audit_page_verifies_and_filters(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    at = _page("audit.py", u["supervisor"])
    _button(at, "校验哈希链").click().run()
    assert at.success and not at.error
    assert store.audit_events()[-1].action == "audit_verify"
    at.selectbox[0].set_value("user_add").run()                    # the action picker
    df = at.dataframe[0].value
    assert set(df["操作"]) == {AUDIT_ACTIONS["user_add"][0]} and len(df) == len(users.list_users(store))


def test_users_page_creates_a_user(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    at = _page("users.py", u["admin"])
    at.text_input[0].input("zhou")
    at.text_input[1].input("周七")
    at.multiselect[0].select("investigator")
    at.text_input[2].input("long-password-1")
    _button(at, "创建").click().run()
    assert not at.exception and at.success
    made = users.get_user(store, "zhou")
    assert made is not None and made.roles == ("investigator",) and made.display_name == "周七"


def test_open_from_ring_and_alert_in_the_page(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    at = _page("cases.py", u["investigator"])
    _button(at, "按团伙立案").click().run()
    assert not at.exception
    ring = store.ring("R-1")
    assert ring is not None
    made = cases.list_cases(store, u["investigator"])
    assert len(made) == 1 and made[0].source == "ring:R-1" and made[0].taxpayers == ring.members
    _button(at, "按预警立案").click().run()
    high = max(store.scores().to_pylist(), key=lambda r: r["score"])["tax_id"]
    assert {c.source for c in cases.list_cases(store, u["investigator"])} == {"ring:R-1", f"alert:{high}"}


def test_case_tables_speak_chinese_with_readable_times(env: tuple[Store, dict[str, User]]) -> None:
    """Seen walking the demo: the history and dispositions tabs showed the stored dicts (at / by / from / to,
    tax_id / label, "open", "confirmed") and the case list 2026-12-03T22:45."""
    store, u = env
    c = cases.open_case_from_ring(store, u["investigator"], "R-1")
    cases.set_status(store, u["investigator"], c.case_id, "investigating", note="调取账簿")
    cases.assign_case(store, u["supervisor"], c.case_id, u["investigator"].username)
    cases.record_disposition(store, u["investigator"], c.case_id, c.taxpayers[0], "confirmed", note="已证实")
    at = _page("cases.py", u["supervisor"], case=c.case_id)
    frames = {tuple(df.value.columns): df.value for df in at.dataframe}
    listing = next(f for cols, f in frames.items() if "案件号" in cols)
    assert "T" not in listing["立案"].iloc[0] and len(listing["立案"].iloc[0]) == 16
    history = frames[("时间", "操作人", "变更", "说明")]
    assert list(history["变更"]) == ["立案（新立案）", "新立案 → 调查中", f"指派给 {u['investigator'].username}"]
    assert list(history["说明"])[1] == "调取账簿" and "T" not in history["时间"].iloc[0]
    rings = next(str(m.value) for m in at.markdown if str(m.value).startswith("团伙："))
    assert rings.replace("\\", "").startswith("团伙：时序环路 · ") and "（R-1）" in rings.replace("\\", ""), rings
    disp = frames[("税号", "结论", "记录人", "时间", "说明")]
    assert list(disp["结论"]) == ["确认虚开"] and list(disp["税号"]) == [c.taxpayers[0]]

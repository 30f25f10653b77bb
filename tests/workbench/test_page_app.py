"""The router: sign-in first, pages filtered by role, server-side checks, language switch."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers.paths import SOURCES
from tests.helpers.wb_app import TIMEOUT, open_page, texts
from tests.helpers.wb_data import APP, PASSWORD, Demo


def test_nobody_signed_in_sees_only_the_sign_in_form(app_env: Demo) -> None:
    at = open_page(app_env, None)
    assert [t.label for t in at.text_input][:2] == ["用户名", "密码"]
    assert "总览" not in texts(at)


def test_the_sign_in_form_opens_the_store_while_the_user_types(app_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store is opened when the form is drawn, not when 登录 is clicked (it was 1.1 s of the wait)."""
    from workbench.ui import session, state

    monkeypatch.setattr(session, "cookie", lambda name: None)   # a first visit: no session cookie to resume
    opened: list[str] = []
    real = state.open_store
    monkeypatch.setattr(state, "open_store", lambda uri: opened.append(uri) or real(uri))
    state.clear_store_cache()
    at = open_page(app_env, None)
    assert at.text_input(key="fapiao_sign_in_name").value == "" and opened == [app_env.uri]
    at.text_input(key="fapiao_sign_in_name").input("investigator")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert "总览" in texts(at) and opened == [app_env.uri]         # signing in reused it


def test_sign_in_with_the_form_opens_the_overview(app_env: Demo) -> None:
    at = open_page(app_env, None)
    at.text_input(key="fapiao_sign_in_name").input("investigator")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "总览"
    assert "测试investigator" in "\n".join(m.value for m in at.sidebar.markdown)


def test_wrong_password_is_refused(app_env: Demo) -> None:
    at = open_page(app_env, None)
    at.text_input(key="fapiao_sign_in_name").input("investigator")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD + "x")
    at.button[0].click().run()
    assert at.error and "总览" not in [t.value for t in at.title]


def test_english_switch_translates_the_page(app_env: Demo) -> None:
    at = open_page(app_env, "investigator")  # through the router, whose sidebar holds the switch
    assert at.title[0].value == "总览"
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "Overview"


def test_a_page_refuses_a_role_without_permission_even_when_opened_directly(app_env: Demo) -> None:
    at = AppTest.from_file(str(SOURCES / "workbench" / "ui" / "screens" / "import_data.py"), default_timeout=TIMEOUT)
    at.session_state["fapiao_user"] = app_env.users["investigator"]
    at.session_state["fapiao_signed_in_at"] = time.time()
    at.run()
    assert any("无权访问" in e.value for e in at.error)
    assert not at.file_uploader


def test_sign_out_returns_to_the_sign_in_form(app_env: Demo) -> None:
    at = open_page(app_env, "analyst")
    next(b for b in at.sidebar.button if b.label == "退出登录").click().run()
    assert "fapiao_user" not in at.session_state
    assert [t.label for t in at.text_input][:1] == ["用户名"]
    assert APP.endswith("app.py")


def test_no_pages_folder_next_to_the_router() -> None:
    # A folder named pages/ next to app.py switches Streamlit to its old multipage mode until the router
    # first runs: a deep link (/rings?ring=…) then ran the page file without the router (no sidebar, no
    # session cookie, another navigation). Pages live in screens/.
    assert not (SOURCES / "workbench" / "ui" / "pages").exists()
    assert (SOURCES / "workbench" / "ui" / "screens" / "rings.py").is_file()


def test_the_warm_up_imports_what_the_pages_need_and_survives_a_missing_module() -> None:
    from workbench.ui import warmup

    assert warmup.warm() == []
    assert warmup.warm(("pandas", "no_such_module_fapiao")) == ["no_such_module_fapiao"]


def test_a_page_fault_shows_chinese_words_and_an_incident_number_not_the_error(
        app_env: Demo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from workbench.ui import views

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail from the store")

    monkeypatch.setattr(views, "overview", broken)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["fapiao_user"] = app_env.users["investigator"]
    at.session_state["fapiao_signed_in_at"] = time.time()
    with caplog.at_level("ERROR", logger="workbench.ui"):
        at.run()
    assert not at.exception
    shown = texts(at)
    assert "页面出错了" in shown and "事件编号" in shown and "secret detail" not in shown
    incident = shown.split("事件编号 ")[1][:8]
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and logged[0].exc_info is not None and "secret detail" in str(logged[0].exc_info[1])

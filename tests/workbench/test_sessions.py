"""Issue 18: sessions follow the truth (demotion, disabling and password resets count at the next click),
sign-ins are throttled, passwords follow a policy, idle sessions end."""

from __future__ import annotations

import time

import pytest

from graph.core.errors import InvalidData
from tests.helpers.wb_app import TIMEOUT, open_page
from tests.helpers.wb_data import APP, PASSWORD, Demo
from workbench import users
from workbench.ui.state import get_store


def _denied(at: object) -> bool:
    return any("无权访问" in e.value for e in at.error)  # type: ignore[attr-defined]


def test_demoted_supervisor_is_refused_on_the_next_click(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "supervisor", "risk_queue")
    assert not _denied(at)
    users.set_roles(get_store(), "supervisor", ["analyst"])      # demoted while signed in
    at.run()
    assert _denied(at)                                          # was: kept the supervisor's pages
    assert at.session_state["fapiao_user"].roles == ("analyst",)


def test_disabled_user_loses_the_session(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "investigator")
    users.disable_user(get_store(), "investigator")
    at.run()
    assert "fapiao_user" not in at.session_state


def test_password_reset_ends_open_sessions(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "analyst")
    assert at.session_state["fapiao_user"].username == "analyst"
    users.set_password(get_store(), "analyst", "a-brand-new-passphrase")
    at.run()
    assert "fapiao_user" not in at.session_state                # was: the session went on
    assert any("密码已更改" in i.value for i in at.info)


def test_idle_session_ends(app_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_env, "analyst")
    at.session_state["fapiao_last_seen"] = time.time() - 31 * 60
    at.run()
    assert "fapiao_user" not in at.session_state


def test_sign_in_is_throttled_per_user(fresh_env: Demo) -> None:
    store = get_store()
    users.throttle.clear("user:analyst")
    for _ in range(users.THROTTLE_FREE):
        assert users.authenticate(store, "analyst", "wrong-password-x") is None
    assert users.authenticate(store, "analyst", PASSWORD) is None   # right password, but locked for now
    actions = [e.action for e in users.audit.events(store, target="user:analyst", limit=3)]
    assert "sign_in_throttled" in actions                        # was: 30 wrong passwords in 6 s, no lockout
    assert 0 < users.throttle.wait("user:analyst") <= users.THROTTLE_BASE_SECONDS + 1
    users.throttle.clear("user:analyst")
    assert users.authenticate(store, "analyst", PASSWORD) is not None


def test_back_off_grows_per_client() -> None:
    t = users.Throttle()
    for _ in range(users.THROTTLE_FREE + 3):
        t.fail("client:10.0.0.9", now=100.0)
    assert t.wait("client:10.0.0.9", now=100.0) == users.THROTTLE_BASE_SECONDS * 2 ** 3
    assert t.wait("client:10.0.0.8", now=100.0) == 0


@pytest.mark.parametrize("password", ["12345678", "1234567890", "password1234", "woaini1314", "qwertyuiop",
                                      "zhangsan-2024", "aaaaaaaaaaaa"])
def test_password_policy_refuses_weak_passwords(password: str) -> None:
    with pytest.raises(InvalidData):                             # was: 12345678 accepted for an admin
        users.check_password(password, "zhangsan")


def test_password_policy_accepts_a_passphrase() -> None:
    users.check_password("海关 three rivers 9", "zhangsan")


def test_sign_in_form_still_signs_in(fresh_env: Demo) -> None:
    from streamlit.testing.v1 import AppTest

    users.throttle.clear("user:investigator")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="fapiao_sign_in_name").input("investigator")
    at.text_input(key="fapiao_sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["fapiao_user"].username == "investigator"
    assert at.session_state["fapiao_epoch"] == 0

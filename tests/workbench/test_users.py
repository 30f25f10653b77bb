"""Users: argon2 hashes in the store, sign-in audited, disabling, demo users only in demo mode, session
expiry, and the ``fapiao users`` commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph.core.errors import ConfigError, InvalidData
from graph.core.notes import Note, zh_text
from graph.store import Store
from tests.helpers.g_case_data import open_embedded
from workbench import audit, users
from workbench.cli import cli
from workbench.ui import session


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_embedded(tmp_path / "ws")


def test_password_is_stored_as_argon2_hash(store: Store) -> None:
    u = users.create_user(store, "zhangsan", "s3cret-pass", ["investigator", "analyst"], "张三")
    assert u.roles == ("investigator", "analyst") and u.label == "张三"
    rec = store.record(users.KIND, "zhangsan")
    assert rec is not None
    assert rec["password_hash"].startswith("$argon2id$")
    assert "s3cret-pass" not in str(rec)


def test_authenticate_and_audit(store: Store) -> None:
    users.create_user(store, "lisi", "right-password", ["supervisor"])
    assert users.authenticate(store, "lisi", "wrong-password") is None
    assert users.authenticate(store, "nobody", "whatever") is None
    u = users.authenticate(store, "lisi", "right-password")
    assert u is not None and u.roles == ("supervisor",)
    acts = [(e.action, e.target, e.detail) for e in store.audit_events()]
    assert ("sign_in_failed", "user:lisi", Note("sign_in_refused", {"reason": "wrong_password"}).to_json()) in acts
    assert ("sign_in_failed", "user:nobody", Note("sign_in_refused", {"reason": "unknown_user"}).to_json()) in acts
    assert acts[-1][:2] == ("sign_in", "user:lisi")
    assert audit.verify(store).ok


def test_disabled_user_cannot_sign_in(store: Store) -> None:
    users.create_user(store, "wangwu", "password-123", ["analyst"])
    users.disable_user(store, "wangwu")
    assert users.authenticate(store, "wangwu", "password-123") is None
    assert zh_text(store.audit_events()[-1].detail) == "用户已停用"
    users.enable_user(store, "wangwu")
    assert users.authenticate(store, "wangwu", "password-123") is not None


@pytest.mark.parametrize(("name", "password", "roles"), [
    ("../etc", "password-123", ["admin"]), ("ok_name", "short", ["admin"]), ("ok_name", "password-123", []),
    ("ok_name", "password-123", ["root"]),
])
def test_bad_input_is_refused(store: Store, name: str, password: str, roles: list[str]) -> None:
    with pytest.raises(InvalidData):
        users.create_user(store, name, password, roles)


def test_duplicate_user_refused(store: Store) -> None:
    users.create_user(store, "dup", "password-123", ["admin"])
    with pytest.raises(InvalidData, match="already exists"):
        users.create_user(store, "dup", "password-456", ["admin"])


def test_demo_users_only_in_demo_mode(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_DEMO", "0")
    with pytest.raises(ConfigError):
        users.ensure_demo_users(store)
    assert users.list_users(store) == []
    monkeypatch.setenv("FAPIAO_DEMO", "1")
    demo = users.ensure_demo_users(store)
    from workbench.auth import ROLES

    assert sorted(r for _, _, roles in demo for r in roles) == sorted(ROLES)
    name, password, _ = demo[0]
    assert users.authenticate(store, name, password) is not None
    assert users.ensure_demo_users(store) == demo  # idempotent
    monkeypatch.setenv("FAPIAO_DEMO", "0")
    assert users.authenticate(store, name, password) is None  # a leftover demo account is dead outside demo mode


def test_session_expiry_follows_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setenv("FAPIAO_SESSION_MINUTES", "30")
    assert not session.expired(now - 29 * 60, now)
    assert session.expired(now - 31 * 60, now)
    monkeypatch.setenv("FAPIAO_SESSION_MINUTES", "480")
    assert not session.expired(now - 31 * 60, now)


def test_cli_users_add_list_disable(tmp_path: Path) -> None:
    uri = f"embedded:{tmp_path / 'ws'}"
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "zhao", "--role", "investigator", "--role", "analyst",
                            "--display-name", "赵六", "--password-stdin", "--store", uri], input="long-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "list", "--store", uri])
    assert r.exit_code == 0 and "zhao" in r.output and "investigator, analyst" in r.output
    r = runner.invoke(cli, ["users", "disable", "zhao", "--store", uri])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "list", "--store", uri])
    assert "disabled" in r.output
    r = runner.invoke(cli, ["users", "list", "--json", "--store", uri])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"username": "zhao", "display_name": "赵六",
                                     "roles": ["investigator", "analyst"], "disabled": True}]
    r = runner.invoke(cli, ["audit", "show", "--json", "--action", "user_disable", "--store", uri])
    assert r.exit_code == 0, r.output
    assert [(e["action"], e["target"]) for e in json.loads(r.stdout)] == [("user_disable", "user:zhao")]
    with open_embedded(tmp_path / "ws") as store:
        assert users.authenticate(store, "zhao", "long-password") is None
        actors = {e.actor for e in store.audit_events() if e.action in ("user_add", "user_disable")}
        assert len(actors) == 1 and next(iter(actors)).startswith("cli:")


def test_cli_users_add_prompts_with_confirmation(tmp_path: Path) -> None:
    uri = f"embedded:{tmp_path / 'ws'}"
    r = CliRunner().invoke(cli, ["users", "add", "qian", "--role", "admin", "--store", uri],
                           input="pass-word-1\npass-word-2\npass-word-1\npass-word-1\n")
    assert r.exit_code == 0, r.output
    assert "match" in r.output.lower()  # the mismatched confirmation was asked again
    with open_embedded(tmp_path / "ws") as store:
        assert users.authenticate(store, "qian", "pass-word-1") is not None


def test_cli_users_enable_and_passwd(tmp_path: Path) -> None:
    uri = f"embedded:{tmp_path / 'ws'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "sun", "--role", "analyst", "--password-stdin", "--store", uri],
                         input="first-password\n").exit_code == 0
    assert runner.invoke(cli, ["users", "disable", "sun", "--store", uri]).exit_code == 0
    assert runner.invoke(cli, ["users", "enable", "sun", "--store", uri]).exit_code == 0
    r = runner.invoke(cli, ["users", "passwd", "sun", "--password-stdin", "--store", uri], input="second-password\n")
    assert r.exit_code == 0, r.output
    with open_embedded(tmp_path / "ws") as store:
        assert users.authenticate(store, "sun", "first-password") is None
        assert users.authenticate(store, "sun", "second-password") is not None


def test_user_names_are_case_insensitive(store: Store) -> None:
    users.create_user(store, "Zhang.San", "password-123", ["investigator"])
    assert users.authenticate(store, " zhang.san ", "password-123") is not None
    assert users.authenticate(store, "ZHANG.SAN", "password-123") is not None
    with pytest.raises(InvalidData, match="already exists"):
        users.create_user(store, "zhang.san", "password-456", ["admin"])


def test_hashes_use_the_fast_owasp_setting_and_old_hashes_are_remade_at_sign_in(store: Store) -> None:
    """argon2id at 46 MiB / 1 pass / 1 lane (sign-in was 0.75 s of argon2 with the library's default on
    2 busy cores); a hash made with the old default still signs in, and is re-made with the new setting."""
    from argon2 import PasswordHasher

    users.create_user(store, "wangwu", "pass-word-1", ["investigator"])
    rec = store.record(users.KIND, "wangwu")
    assert rec is not None and "$m=47104,t=1,p=1$" in rec["password_hash"]
    old = PasswordHasher().hash("pass-word-1")          # the library default the store held before
    assert "$m=65536,t=3,p=4$" in old
    users._update(store, "wangwu", password_hash=old)
    assert users.authenticate(store, "wangwu", "pass-word-1") is not None
    rec = store.record(users.KIND, "wangwu")
    assert rec is not None and "$m=47104,t=1,p=1$" in rec["password_hash"]
    assert users.authenticate(store, "wangwu", "pass-word-1") is not None
    assert users.authenticate(store, "wangwu", "wrong") is None

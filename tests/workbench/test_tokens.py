"""API tokens: shown once, hashed at rest, bound to a user's role, revocable; the CLI; the missing-extra error."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph import open_store
from graph.core.errors import ConfigError, InvalidData, NotFound
from workbench import api, tokens
from workbench.cli import cli
from workbench.users import create_user, set_roles


def test_token_lifecycle_through_the_cli(tmp_path: Path) -> None:
    uri = f"embedded:{tmp_path / 'ws'}"
    with open_store(uri) as store:
        create_user(store, "erp", "password-123", ["admin", "supervisor"])
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "token", "create", "erp", "--role", "supervisor", "--days", "30",
                               "--name", "ERP", "--store", uri])
    assert made.exit_code == 0, made.output
    text = made.output.splitlines()[0]
    assert text.startswith("fpk_")
    token_id = text.split("_")[1]
    with open_store(uri) as store:
        rec = store.record(tokens.KIND, token_id)
        assert rec is not None and text.split("_", 2)[2] not in json.dumps(rec)     # only the hash is stored
        got = tokens.authenticate(store, text)
        assert got.user is not None and got.user.roles == ("supervisor",)
        assert tokens.authenticate(store, text[:-2] + "xx").user is None
    listed = runner.invoke(cli, ["users", "token", "list", "--store", uri])
    assert token_id in listed.output and "active" in listed.output
    assert runner.invoke(cli, ["users", "token", "revoke", token_id, "--store", uri]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["users", "token", "list", "--store", uri]).output
    with open_store(uri) as store:
        assert tokens.authenticate(store, text).reason == "token revoked"
        actions = [e.action for e in store.audit_events(0)]
        assert "token_create" in actions and "token_revoke" in actions


def test_token_follows_the_users_roles(tmp_path: Path) -> None:
    with open_store(f"embedded:{tmp_path / 'ws'}") as store:
        create_user(store, "ana", "password-123", ["analyst"])
        with pytest.raises(InvalidData):
            tokens.create_token(store, "ana", role="admin")
        with pytest.raises(NotFound):
            tokens.create_token(store, "nobody")
        text, _ = tokens.create_token(store, "ana")
        assert tokens.authenticate(store, text).user is not None
        set_roles(store, "ana", ["investigator"])
        assert "no longer holds" in tokens.authenticate(store, text).reason


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    with pytest.raises(ConfigError, match=r"fapiao-workbench\[api\]"):
        api.require_extra()

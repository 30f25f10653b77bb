"""Issue 15 item 5: `fapiao load` and `fapiao detect` accept `--as USER`, checked against the users table
(unknown, disabled or unpermitted users are refused before anything is written) and audited under that user."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from graph.core.errors import PermissionDenied
from tests.helpers.g_case_data import open_embedded
from workbench import audit, users
from workbench.cli import cli

FIX = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
PASSWORD = "Zq8-long-enough-passphrase"


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    store = open_embedded(ws)
    try:
        users.create_user(store, "alice", PASSWORD, ["admin"])
        users.create_user(store, "bob", PASSWORD, ["investigator"])
        users.create_user(store, "carol", PASSWORD, ["supervisor"])
        users.create_user(store, "dave", PASSWORD, ["admin"])
        users.disable_user(store, "dave")
    finally:
        store.close()
    return ws


def _load(ws: Path, tmp_path: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["load", str(FIX / "invoices_gbk.csv"), "--store", f"embedded:{ws}", "--quiet",
                                    "--report-dir", str(tmp_path / "r"), *extra])


def _events(ws: Path) -> list[tuple[str, str, str]]:
    store = open_embedded(ws)
    try:
        assert audit.verify(store).ok
        return [(e.action, e.actor, e.role) for e in audit.events(store)]
    finally:
        store.close()


def _invoices(ws: Path) -> int:
    store = open_embedded(ws)
    try:
        return store.counts().invoices
    finally:
        store.close()


@pytest.mark.parametrize(("who", "says"), [("bob", "'import_data' needs one of the roles ['admin']"),
                                           ("nobody", "no such user"), ("dave", "disabled")])
def test_load_as_a_user_who_may_not_import_is_refused_and_nothing_is_loaded(ws: Path, tmp_path: Path, who: str,
                                                                            says: str) -> None:
    r = _load(ws, tmp_path, "--as", who)
    assert isinstance(r.exception, PermissionDenied) and says in str(r.exception)
    assert f"--as {who}" in str(r.exception)
    assert _invoices(ws) == 0
    assert not [e for e in _events(ws) if e[0] in ("load", "import_failed")]


def test_load_as_an_admin_is_audited_under_that_user_and_without_as_under_the_os_login(ws: Path,
                                                                                         tmp_path: Path) -> None:
    r = _load(ws, tmp_path, "--as", "Alice")          # user names are case-insensitive
    assert r.exit_code == 0, r.output
    assert _invoices(ws) > 0
    assert ("load", "alice", "admin") in _events(ws)
    r = _load(ws, tmp_path)
    assert r.exit_code == 0, r.output
    assert ("load", audit.cli_actor(), "cli") in _events(ws)


def test_load_dry_run_with_as_is_a_usage_error(ws: Path, tmp_path: Path) -> None:
    r = _load(ws, tmp_path, "--dry-run", "--as", "alice")
    assert r.exit_code == 2 and "--dry-run" in r.output


def test_detect_as_checks_run_detection_and_is_audited_under_the_user(ws: Path, tmp_path: Path) -> None:
    assert _load(ws, tmp_path).exit_code == 0
    runner = CliRunner()
    args = ["detect", "--store", f"embedded:{ws}", "--no-progress"]
    r = runner.invoke(cli, [*args, "--as", "bob"])
    assert isinstance(r.exception, PermissionDenied) and "'run_detection'" in str(r.exception)
    assert not [e for e in _events(ws) if e[0] == "detect"]
    r = runner.invoke(cli, [*args, "--as", "carol"])
    assert r.exit_code == 0, r.output
    assert [e for e in _events(ws) if e[0] == "detect"] == [("detect", "carol", "supervisor")]


def test_help_documents_as() -> None:
    for command, action in (("load", "import_data"), ("detect", "run_detection")):
        out = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--as USER" in out and action in out

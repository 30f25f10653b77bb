"""Uploads loaded for a signed-in user: permission, audit, no server paths in errors, nothing left in /tmp."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.core.errors import FapiaoError, PermissionDenied
from graph.embedded import EmbeddedStore
from graph.store import Store
from tests.helpers.wb_data import Demo, tax_id
from workbench.auth import User
from workbench.imports import Upload, import_uploads
from workbench.users import get_user

HEADER = ("invoice_number,invoice_code,issue_date,seller_tax_id,seller_name,buyer_tax_id,buyer_name,"
          "amount,tax_amount,total_amount,tax_rate,status\n")


@pytest.fixture()
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture()
def store(fresh_env: Demo) -> Iterator[Store]:
    s = EmbeddedStore(fresh_env.path)
    yield s
    s.close()


def _user(store: Store, name: str) -> User:
    user = get_user(store, name)
    assert user is not None
    return user


def test_upload_is_loaded_audited_and_removed(store: Store, tmp_root: Path) -> None:
    row = f"88000001,044031900111,2024-05-06,{tax_id(101)},甲公司,{tax_id(102)},乙公司,1000.00,130.00,1130.00,0.13,normal"
    report = import_uploads(store, _user(store, "admin"), [Upload("C:\\Users\\x\\up.csv", (HEADER + row + "\n").encode())])
    assert (report.read, report.loaded) == (1, 1)
    last = store.audit_events()[-1]
    assert (last.action, last.target, last.actor) == ("import_data", "up.csv", "admin")
    assert list(tmp_root.iterdir()) == []       # the upload is gone; the original is kept as evidence


def test_refused_file_names_no_server_path_and_is_audited(store: Store, tmp_root: Path) -> None:
    with pytest.raises(FapiaoError) as e:
        import_uploads(store, _user(store, "admin"), [Upload("bad.csv", b"just,some,columns\n1,2,3\n")])
    assert str(tmp_root) not in str(e.value) and "fapiao-upload" not in str(e.value)
    last = store.audit_events()[-1]
    assert last.action == "import_failed" and str(tmp_root) not in last.detail
    assert list(tmp_root.iterdir()) == []


def test_only_administrators_import(store: Store, tmp_root: Path) -> None:
    before = store.counts().invoices
    with pytest.raises(PermissionDenied):
        import_uploads(store, _user(store, "analyst"), [Upload("up.csv", HEADER.encode())])
    assert store.counts().invoices == before and list(tmp_root.iterdir()) == []

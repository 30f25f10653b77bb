"""Issue 18: the audit head is signed, so a recomputed chain, an event appended behind the workbench's
back, a deleted head or a wiped trail are caught; the installation key is private (0600)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from graph.core.errors import IntegrityError
from graph.store import Store
from tests.helpers.g_case_data import open_embedded
from workbench import audit, signing
from workbench.auth import User

ALICE = User("alice", ("investigator",), "爱丽丝")


def _fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        audit.record(store, ALICE, f"action_{i}", f"case:C-{i}", f"详情 {i}")


def _sql(store: Store, path: Path, *stmts: tuple[str, list[object]]) -> Store:
    from graph.embedded import DB_FILE

    store.close()
    con = duckdb.connect(str(path / DB_FILE))
    for sql, params in stmts:
        con.execute(sql, params)
    con.close()
    return open_embedded(path)


def _recompute_from(store: Store, path: Path, seq: int, **change: str) -> Store:
    """Edit event ``seq`` and recompute every hash after it and the head's seq/hash, as an insider
    with write access to the workspace would (the old signature is all they cannot redo)."""
    events = store.audit_events()
    stmts: list[tuple[str, list[object]]] = []
    prev = events[seq - 2].hash if seq > 1 else ""
    for ev in events[seq - 1:]:
        ev = replace(ev, **change) if ev.seq == seq else ev
        ev = replace(ev, prev_hash=prev)
        ev = replace(ev, hash=audit.recompute(ev))
        stmts.append(("UPDATE audit SET actor = ?, detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                      [ev.actor, ev.detail, ev.prev_hash, ev.hash, ev.seq]))
        prev = ev.hash
    head = dict(store.record(audit.HEAD_KIND, audit.HEAD_ID) or {})
    head["hash"] = prev
    stmts.append(("UPDATE records SET data = ? WHERE kind = ? AND rec_id = ?",
                  [json.dumps(head), audit.HEAD_KIND, audit.HEAD_ID]))
    return _sql(store, path, *stmts)


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Store, Path]:
    store = open_embedded(tmp_path / "ws")
    _fill(store)
    return store, tmp_path / "ws"


def test_intact_trail_names_the_key(ws: tuple[Store, Path]) -> None:
    store, _ = ws
    res = audit.verify(store)
    assert res.ok and res.key == signing.fingerprint(signing.public_key())
    assert res.key in res.summary()


def test_recomputed_chain_is_rejected_by_signature(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _recompute_from(store, path, 2, detail="nothing happened")
    res = audit.verify(store)
    assert not res.ok                                          # was: "intact" (4 of 4 recomputed edits passed)
    assert any("does not match the content" in p for p in res.problems), res.problems
    with pytest.raises(IntegrityError):                        # and the workbench will not launder it
        audit.record(store, ALICE, "next", "case:C-9")


def test_head_resigned_with_another_key_is_rejected(ws: tuple[Store, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store, path = ws
    trusted = tmp_path / "trusted.pub"
    trusted.write_bytes(signing.public_pem(signing.public_key()))
    monkeypatch.setenv("FAPIAO_KEY_DIR", str(tmp_path / "mallory-keys"))   # the forger's own key pair
    store = _recompute_from(store, path, 3, actor="mallory")
    head = store.record(audit.HEAD_KIND, audit.HEAD_ID) or {}
    doc = audit.head_doc(int(head["seq"]), str(head["hash"]), audit._parse_time(head["at"]))
    store = _sql(store, path, ("UPDATE records SET data = ? WHERE kind = ? AND rec_id = ?",
                               [json.dumps({**doc, "signature": signing.sign(doc)}), audit.HEAD_KIND,
                                audit.HEAD_ID]))
    assert audit.verify(store).ok                               # against the forger's own key it looks fine
    res = audit.verify(store, public_key=trusted)              # the outside party's copy of the real key
    assert not res.ok and any("not by the trusted key" in p for p in res.problems), res.problems


def test_event_appended_after_head_is_flagged(ws: tuple[Store, Path]) -> None:
    store, _ = ws
    last = store.audit_events()[-1]
    ev = replace(last, seq=last.seq + 1, actor="mallory", action="user_add", prev_hash=last.hash)
    ev = replace(ev, hash=audit.recompute(ev))
    with store.writer() as w:                                  # chained correctly, but the head not moved
        w.audit(ev)
    res = audit.verify(store)
    assert not res.ok                                          # was: intact
    assert any("appended after the signed head" in p for p in res.problems), res.problems


def test_deleted_head_is_flagged(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _sql(store, path, ("DELETE FROM records WHERE kind = ?", [audit.HEAD_KIND]))
    res = audit.verify(store)
    assert not res.ok and any("head record is missing" in p for p in res.problems), res.problems


def test_wiped_trail_with_live_state_is_flagged(ws: tuple[Store, Path]) -> None:
    store, path = ws
    with store.writer() as w:
        w.put_record("user", "alice", {"username": "alice"})
    store = _sql(store, path, ("DELETE FROM audit WHERE seq > ?", [0]),
                 ("DELETE FROM records WHERE kind = ?", [audit.HEAD_KIND]))
    res = audit.verify(store)
    assert not res.ok and res.checked == 0                     # was: "intact: 0 events"
    assert any("wiped" in p for p in res.problems), res.problems


def test_unsigned_legacy_trail_is_adopted_explicitly(ws: tuple[Store, Path]) -> None:
    store, path = ws
    head = dict(store.record(audit.HEAD_KIND, audit.HEAD_ID) or {})
    head.pop("signature")
    store = _sql(store, path, ("UPDATE records SET data = ? WHERE kind = ? AND rec_id = ?",
                               [json.dumps(head), audit.HEAD_KIND, audit.HEAD_ID]))
    assert not audit.verify(store).ok
    with pytest.raises(IntegrityError, match="adopt"):
        audit.record(store, ALICE, "x", "case:C-1")
    res = audit.adopt(store, "cli:root")
    assert res.ok, res.problems
    assert audit.events(store, limit=1)[0].action == "audit_adopt"


def test_state_change_and_event_commit_together(ws: tuple[Store, Path]) -> None:
    _change_and_event_commit_together(ws[0])


def test_state_change_and_event_commit_together_on_real_neo4j(neo4j_uri: str) -> None:
    from graph.neo4j_store import Neo4jStore

    store = Neo4jStore(neo4j_uri)
    try:
        store.clear()
        _change_and_event_commit_together(store)
    finally:
        store.clear()
        store.close()


def _change_and_event_commit_together(store: Store) -> None:
    def change_then_fail(w: object) -> None:
        w.put_record("user", "eve", {"username": "eve"})  # type: ignore[attr-defined]
        raise RuntimeError("killed between the change and its event")

    with pytest.raises(RuntimeError):
        audit.record(store, None, "user_add", "user:eve", change=change_then_fail, actor="cli:root")
    assert store.record("user", "eve") is None                 # neither the account ...
    assert not audit.events(store, action="user_add")          # ... nor its event
    audit.record(store, None, "user_add", "user:eve", actor="cli:root",
                 change=lambda w: w.put_record("user", "eve", {"username": "eve"}))
    assert store.record("user", "eve") is not None and audit.events(store, action="user_add")
    assert audit.verify(store).ok


def test_private_key_is_private() -> None:
    signing.private_key()
    folder = signing.key_dir()
    assert stat.S_IMODE(os.stat(folder / signing.PRIVATE_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    pub = signing.public_key(folder / signing.PUBLIC_FILE)
    assert signing.fingerprint(pub) == signing.fingerprint(signing.public_key())


# ------------------------------------------------------------------------------------------ case files
@pytest.fixture(scope="module")
def case_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers.g_case_data import seed
    from workbench import cases, export

    root = tmp_path_factory.mktemp("signed-export")
    store = open_embedded(root / "ws")
    u = seed(store)
    c = cases.open_case_from_ring(store, u["investigator"], "R-1", title="签名 R-1")
    path = export.export_case(store, u["analyst"], c.case_id, root / "out")
    store.close()
    return path


def _rezip(src: Path, dst: Path, edit: dict[str, bytes], *, extra: list[tuple[str, bytes]] = ()) -> None:  # type: ignore[assignment]
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in extra:
            zout.writestr(name, data)
        for name in zin.namelist():
            zout.writestr(name, edit.get(name, zin.read(name)))


def test_forged_case_file_with_recomputed_manifest_is_rejected(case_zip: Path, tmp_path: Path) -> None:
    import hashlib
    import zipfile

    from workbench import export

    with zipfile.ZipFile(case_zip) as z:
        manifest = json.loads(z.read(export.MANIFEST))
        csv_text = z.read("invoices.csv")
    forged_csv = csv_text.replace(b"1", b"9", 1)                 # an edited amount
    manifest["files"]["invoices.csv"] = {"sha256": hashlib.sha256(forged_csv).hexdigest(), "bytes": len(forged_csv)}
    manifest["self_sha256"] = export._manifest_hash(manifest)   # everything recomputed but the signature
    bad = tmp_path / "forged.zip"
    _rezip(case_zip, bad, {"invoices.csv": forged_csv,
                           export.MANIFEST: json.dumps(manifest, ensure_ascii=False).encode()})
    res = export.verify_export(bad)
    assert not res.ok                                           # was: OK
    assert any("does not match the content" in p for p in res.problems), res.problems
    assert export.verify_export(case_zip).ok


def test_outside_party_verifies_with_the_exported_public_key(case_zip: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from workbench.cli import cli

    runner = CliRunner()
    pub = tmp_path / "fapiao.pub"
    r = runner.invoke(cli, ["keys", "export", "--out", str(pub)])
    assert r.exit_code == 0 and pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    monkeypatch.setenv("FAPIAO_KEY_DIR", str(tmp_path / "elsewhere"))   # a machine without the key
    r = runner.invoke(cli, ["case", "verify", str(case_zip)])
    assert r.exit_code != 0 and "no trusted public key" in r.output
    r = runner.invoke(cli, ["case", "verify", str(case_zip), "--public-key", str(pub)])
    assert r.exit_code == 0 and "OK" in r.output
    assert not (tmp_path / "elsewhere").exists()                 # verifying never mints a key


def test_duplicate_member_is_flagged(case_zip: Path, tmp_path: Path) -> None:
    import warnings

    from workbench import export

    bad = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                          # zipfile warns about the duplicate name
        _rezip(case_zip, bad, {}, extra=[("report.html", b"<h1>forged first</h1>")])
    res = export.verify_export(bad)
    assert not res.ok                                            # was: OK (the forged copy came first)
    assert any("report.html: appears 2 times" in p for p in res.problems), res.problems


@pytest.mark.parametrize("entry", [[], "abc", {"sha256": 5, "bytes": 1}, {"sha256": "x", "bytes": "1"}])
def test_wrong_typed_manifest_entry_is_one_problem(case_zip: Path, tmp_path: Path, entry: object) -> None:
    import zipfile

    from workbench import export

    with zipfile.ZipFile(case_zip) as z:
        manifest = json.loads(z.read(export.MANIFEST))
    manifest["files"]["invoices.csv"] = entry
    bad = tmp_path / "typed.zip"
    _rezip(case_zip, bad, {export.MANIFEST: json.dumps(manifest).encode()})
    res = export.verify_export(bad)                              # was: a traceback
    assert not res.ok and any("wrong type" in p for p in res.problems), res.problems


def test_verification_memory_is_bounded(case_zip: Path, tmp_path: Path) -> None:
    import tracemalloc

    from workbench import export

    bomb = b"\0" * (300 << 20)                                   # 300 MB of zeros: ~300 KB compressed
    bad = tmp_path / "bomb.zip"
    _rezip(case_zip, bad, {"timeline.png": bomb})
    del bomb
    tracemalloc.start()
    res = export.verify_export(bad)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not res.ok and any(p.startswith("timeline.png: changed") for p in res.problems)
    assert peak < 32 << 20, peak                                 # was: the whole member in memory

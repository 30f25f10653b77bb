"""The hash-chained audit trail: intact chains verify; edited, removed or reordered events are named.

Tampering happens directly in the storage (DuckDB file / Neo4j nodes), as an attacker would do it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from graph.store import Store
from tests.helpers.g_case_data import open_embedded
from workbench import audit
from workbench.auth import User

ALICE = User("alice", ("investigator",), "爱丽丝")
BOB = User("bob", ("supervisor", "analyst"))


def _fill(store: Store, n: int = 6) -> None:
    for i in range(n):
        audit.record(store, ALICE if i % 2 else BOB, f"action_{i}", f"case:C-{i}", f"详情 {i}")


def _tamper_embedded(store: Store, path: Path, *sql: str | tuple[str, list[object]]) -> Store:
    from graph.embedded import DB_FILE

    store.close()
    con = duckdb.connect(str(path / DB_FILE))
    for stmt in sql:
        if isinstance(stmt, tuple):
            con.execute(stmt[0], stmt[1])
        else:
            con.execute(stmt)
    con.close()
    return open_embedded(path)


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Store, Path]:
    store = open_embedded(tmp_path / "ws")
    _fill(store)
    return store, tmp_path / "ws"


def test_chain_links_and_verifies(ws: tuple[Store, Path]) -> None:
    store, _ = ws
    events = store.audit_events()
    assert [e.seq for e in events] == list(range(1, 7))
    assert events[0].prev_hash == ""
    for prev, ev in zip(events, events[1:], strict=False):
        assert ev.prev_hash == prev.hash
        assert ev.hash == audit.recompute(ev)
    assert events[1].role == "investigator" and events[0].role == "supervisor,analyst"
    res = audit.verify(store)
    assert res.ok and res.checked == 6 and res.problems == []


def test_edited_event_is_named(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _tamper_embedded(store, path, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 3")
    res = audit.verify(store)
    assert not res.ok
    assert any(p.startswith("event 3 ") and "edited" in p for p in res.problems), res.problems


def test_edited_event_with_recomputed_hash_breaks_the_next_link(ws: tuple[Store, Path]) -> None:
    store, path = ws
    ev = store.audit_events()[2]
    forged = audit.event_hash(ev.seq, ev.at, "mallory", ev.role, ev.action, ev.target, ev.detail, ev.prev_hash)
    store = _tamper_embedded(store, path, ("UPDATE audit SET actor = 'mallory', hash = ? WHERE seq = 3", [forged]))
    res = audit.verify(store)
    assert not res.ok
    assert any(p.startswith("event 4 ") and "does not link" in p for p in res.problems), res.problems


def test_removed_event_is_named(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _tamper_embedded(store, path, "DELETE FROM audit WHERE seq = 4")
    res = audit.verify(store)
    assert not res.ok
    assert any("event 4 removed" in p for p in res.problems), res.problems


def test_removed_tail_is_named(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _tamper_embedded(store, path, "DELETE FROM audit WHERE seq >= 5")
    res = audit.verify(store)
    assert not res.ok
    assert any("events 5-6 removed from the end" in p for p in res.problems), res.problems


def test_reordered_events_are_named(ws: tuple[Store, Path]) -> None:
    store, path = ws
    store = _tamper_embedded(store, path, "UPDATE audit SET seq = 100 WHERE seq = 2",
                             "UPDATE audit SET seq = 2 WHERE seq = 3", "UPDATE audit SET seq = 3 WHERE seq = 100")
    res = audit.verify(store)
    assert not res.ok
    named = " ".join(res.problems)
    assert "event 2 " in named and "event 3 " in named, res.problems


def test_concurrent_appends_never_fork(ws: tuple[Store, Path]) -> None:
    store, path = ws
    other = open_embedded(path)  # a second store object on the same workspace: its own tail cache
    errors: list[BaseException] = []

    def work(s: Store, who: User) -> None:
        try:
            for i in range(8):
                audit.record(s, who, "concurrent", f"t:{who.username}:{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s, u)) for s, u in ((store, ALICE), (other, BOB), (store, BOB))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = [e.seq for e in store.audit_events()]
    assert seqs == list(range(1, 6 + 24 + 1))
    assert audit.verify(store).ok


def test_events_filter_newest_first(ws: tuple[Store, Path]) -> None:
    store, _ = ws
    got = audit.events(store, actor="alice")
    assert [e.seq for e in got] == [6, 4, 2]
    assert [e.seq for e in audit.events(store, target="C-1")] == [2]
    assert len(audit.events(store, limit=2)) == 2


@pytest.mark.neo4j
def test_chain_and_tampering_on_real_neo4j(neo4j_uri: str) -> None:
    from neo4j import GraphDatabase

    from graph.neo4j_store import Neo4jStore

    store = Neo4jStore(neo4j_uri)
    try:
        store.clear()
        _fill(store, 5)
        assert audit.verify(store).ok
        with GraphDatabase.driver(neo4j_uri, auth=None) as drv:
            drv.execute_query("MATCH (e:AuditEvent {seq: $s}) SET e.detail = $d", s=2, d="forged")
        res = audit.verify(store)
        assert not res.ok and any(p.startswith("event 2 ") and "edited" in p for p in res.problems)
        with GraphDatabase.driver(neo4j_uri, auth=None) as drv:
            drv.execute_query("MATCH (e:AuditEvent {seq: $s}) DETACH DELETE e", s=4)
        res = audit.verify(store)
        assert any("event 4 removed" in p for p in res.problems), res.problems
    finally:
        store.clear()
        store.close()

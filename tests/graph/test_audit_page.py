"""Store.audit_page / audit_count: one page of the audit trail, newest first, filtered by the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.core.model import AuditEvent
from graph.store import Store

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
WHO = ["zhang", "li", "zhang", "wang", "zhang", "li", "zhang"]
WHAT = ["sign_in", "case_read", "tier_override", "sign_in", "case_read", "export", "sign_in"]


def _event(seq: int) -> AuditEvent:
    return AuditEvent(seq, T0 + timedelta(minutes=seq), WHO[seq - 1], "investigator", WHAT[seq - 1],
                      f"case:C-{seq:03d}" if WHAT[seq - 1] == "case_read" else f"user:{WHO[seq - 1]}",
                      "x", f"h{seq - 1}", f"h{seq}")


def _put(store: Store) -> None:
    with store.writer() as w:
        for seq in range(1, len(WHO) + 1):
            w.audit(_event(seq))


def _seqs(events: list[AuditEvent]) -> list[int]:
    return [e.seq for e in events]


def test_audit_page_is_newest_first_and_pages(store: Store) -> None:
    _put(store)
    assert _seqs(store.audit_page()) == [7, 6, 5, 4, 3, 2, 1]
    assert _seqs(store.audit_page(skip=2, limit=3)) == [5, 4, 3]
    assert _seqs(store.audit_page(skip=6, limit=3)) == [1] and store.audit_page(skip=7, limit=3) == []
    assert store.audit_page(limit=1) == [_event(7)]
    assert store.audit_count() == 7


def test_audit_page_filters_by_actor_action_and_target(store: Store) -> None:
    _put(store)
    assert _seqs(store.audit_page(actor="zhang")) == [7, 5, 3, 1]
    assert _seqs(store.audit_page(actor="zhang", action="sign_in")) == [7, 1]
    assert _seqs(store.audit_page(target="C-00")) == [5, 2]
    assert _seqs(store.audit_page(actor="zhang", skip=1, limit=2)) == [5, 3]
    assert store.audit_count(actor="zhang") == 4 and store.audit_count(action="export") == 1
    assert store.audit_count(target="C-00", actor="li") == 1
    assert store.audit_page(actor="zhang' OR '1'='1") == [] and store.audit_count(target="%") == 0   # data, not SQL


def test_audit_page_agrees_with_the_default_over_the_whole_trail(store: Store) -> None:
    _put(store)
    for kw in ({}, {"actor": "li"}, {"action": "sign_in"}, {"target": "user:"}, {"actor": "wang", "target": "w"}):
        assert store.audit_page(**kw) == Store.audit_page(store, **kw)   # type: ignore[arg-type]
        assert store.audit_count(**kw) == Store.audit_count(store, **kw)   # type: ignore[arg-type]

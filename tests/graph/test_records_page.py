"""Store.records_page / records_count: one person's page of workflow records, filtered and ordered by the store."""

from __future__ import annotations

from typing import Any

import pytest

from graph.store import Store, page_of


def _alert(n: int, user: str, *, read: bool = False, assigned: bool = False) -> dict[str, Any]:
    return {"alert_id": f"AL-{n:03d}", "user": user, "created_at": f"2026-12-02T10:{n:02d}:00+08:00",
            "read_at": "2026-12-02T11:00:00+08:00" if read else None, "assigned": assigned,
            "data": {"user": "sue", "note": '"user": "sue"'}}     # nested look-alikes never match


RECORDS = [_alert(1, "sue"), _alert(2, "bob"), _alert(3, "sue", read=True), _alert(4, "sue", assigned=True),
           _alert(5, "bob", read=True), _alert(6, "sue"), _alert(7, "sue 2")]


def _put(store: Store) -> None:
    with store.writer() as w:
        for r in RECORDS:
            w.put_record("alert", r["alert_id"], r)
        w.put_record("other", "x", {"user": "sue", "created_at": "2030-01-01T00:00:00+08:00"})


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["alert_id"] for r in rows]


def test_records_page_filters_orders_and_limits(store: Store) -> None:
    _put(store)
    newest = ("created_at", "alert_id")
    assert _ids(store.records_page("alert", {"user": "sue"}, newest=newest)) == ["AL-006", "AL-004", "AL-003",
                                                                                 "AL-001"]
    assert _ids(store.records_page("alert", {"user": "sue"}, unset=["read_at"], newest=newest, limit=2)) == [
        "AL-006", "AL-004"]
    assert _ids(store.records_page("alert", {"user": "sue", "assigned": "true"}, newest=newest)) == ["AL-004"]
    assert _ids(store.records_page("alert", {"user": "bob"})) == ["AL-002", "AL-005"]     # insertion order
    assert store.records_page("alert", {"user": "nobody"}) == []
    assert store.records_count("alert", {"user": "sue"}, unset=["read_at"]) == 3
    assert store.records_count("alert", {"user": "bob"}) == 2
    assert store.records_count("alert") == len(RECORDS)
    # the contract's default (filtering every record) answers the same
    assert store.records_page("alert", {"user": "sue"}, unset=["read_at"], newest=newest) == page_of(
        store.records("alert"), {"user": "sue"}, unset=["read_at"], newest=newest)


def test_records_page_refuses_field_names_that_are_not_identifiers(store: Store) -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        store.records_page("alert", {"user') OR 1=1 --": "x"})
    with pytest.raises(ValueError, match="not an identifier"):
        store.records_count("alert", unset=["a.b"])

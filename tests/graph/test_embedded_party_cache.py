"""The embedded writer keeps its party numbers from one commit to the next (no re-read of every party per
transaction) only while nothing else changed the workspace: another store object's write, a rollback and
clear() each make the next writer read them again, and numbering stays exact."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from graph import embedded
from graph.core import schema
from graph.embedded import EmbeddedStore
from graph.embedded_parties import PartyNumbers


def _invoices(first: int, pairs: list[tuple[str, str, str, str]]) -> pa.Table:
    from zoneinfo import ZoneInfo

    base = datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo(schema.TZ))
    rows = []
    for i, (s, sn, b, bn) in enumerate(pairs):
        number = f"{first + i:08d}"
        rows.append({"key": schema.invoice_key("3100251130", number), "number": number, "code": "3100251130",
                     "issued_at": base + timedelta(days=i), "seller_tax_id": s, "seller_name": sn,
                     "buyer_tax_id": b, "buyer_name": bn, "amount_fen": 100_000, "tax_fen": 13_000,
                     "total_fen": 113_000, "rate": 0.13, "kind": "special", "status": "normal", "red_ref": None,
                     "item_code": None, "item_name": "钢材"})
    return pa.Table.from_pylist(rows, schema=schema.INVOICES)


A, B, C, D = ("91310000AAAAAAAAAA", "甲"), ("91310000BBBBBBBBBB", "乙"), ("91310000CCCCCCCCCC", "丙"), \
    ("91310000DDDDDDDDDD", "丁")


def _pair(x: tuple[str, str], y: tuple[str, str]) -> tuple[str, str, str, str]:
    return (*x, *y)


@pytest.fixture()
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]

    class Counting(PartyNumbers):
        def __init__(self, *args: Any) -> None:
            count[0] += 1
            super().__init__(*args)

    monkeypatch.setattr(embedded, "PartyNumbers", Counting)
    return count


def _check(store: EmbeddedStore, expected: dict[str, tuple[str, str, str, str]]) -> None:
    got = {r["key"]: (r["seller_tax_id"], r["seller_name"], r["buyer_tax_id"], r["buyer_name"])
           for r in store.invoices(sorted(expected)).to_pylist()}
    assert got == expected
    with store._con("test") as con:
        assert con.execute("SELECT count(*) FROM (SELECT tax_id, name FROM parties GROUP BY ALL "
                           "HAVING count(*) > 1)").fetchone() == (0,)
        assert con.execute("SELECT count(DISTINCT pid) = count(*) FROM parties").fetchone() == (True,)


def _write(store: EmbeddedStore, table: pa.Table, expected: dict[str, tuple[str, str, str, str]]) -> None:
    with store.writer() as w:
        w.invoices(table)
    for r in table.to_pylist():
        expected[r["key"]] = (r["seller_tax_id"], r["seller_name"], r["buyer_tax_id"], r["buyer_name"])


def test_numbers_are_kept_across_commits(tmp_path: Path, built: list[int]) -> None:
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B), _pair(B, C)]), expected)
        _write(store, _invoices(10, [_pair(C, A), _pair(A, D)]), expected)
        with store.writer() as w:                 # a write without invoices keeps them too
            w.put_record("note", "n1", {"x": 1})
        _write(store, _invoices(20, [_pair(D, B)]), expected)
        assert built[0] == 1
        _check(store, expected)


def test_another_store_objects_write_rollback_and_clear_each_force_a_fresh_read(
        tmp_path: Path, built: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B)]), expected)
        other = EmbeddedStore(tmp_path / "ws")                  # same workspace, another store object
        with other:
            _write(other, _invoices(10, [_pair(C, D), _pair(D, A)]), expected)
        _write(store, _invoices(20, [_pair(C, B), _pair(B, D)]), expected)
        _check(store, expected)
        before = built[0]
        assert before >= 2

        monkeypatch.setattr(embedded, "_FLUSH_ROWS", 1)          # flush (number parties) inside the transaction
        with pytest.raises(RuntimeError), store.writer() as w:
            w.invoices(_invoices(30, [_pair(("91310000EEEEEEEEEE", "戊"), A)]))
            raise RuntimeError("rolled back")
        monkeypatch.setattr(embedded, "_FLUSH_ROWS", 1_000_000)
        _write(store, _invoices(40, [_pair(("91310000FFFFFFFFFF", "己"), B), _pair(("91310000EEEEEEEEEE", "戊"), A)]),
               expected)
        assert built[0] == before + 1          # the numbers the rolled-back writer took (and grew) were dropped
        _check(store, expected)

        store.clear()
        expected.clear()
        _write(store, _invoices(50, [_pair(D, C), _pair(("91310000FFFFFFFFFF", "己"), A)]), expected)
        assert built[0] == before + 2
        _check(store, expected)


def test_each_write_moves_the_data_version_by_one_and_a_rollback_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the writer bumps the data version where it checks its kept party numbers (one statement reads and bumps it):
    # the commit must not bump it a second time, and a rollback must take the bump back
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B)]), expected)
        v0 = int(store.data_version())
        _write(store, _invoices(10, [_pair(B, C)]), expected)      # numbers kept: checked (and bumped) early
        assert int(store.data_version()) == v0 + 1
        _write(store, _invoices(20, [_pair(C, D), _pair(A, D)]), expected)
        assert int(store.data_version()) == v0 + 2
        monkeypatch.setattr(embedded, "_FLUSH_ROWS", 1)          # number parties (and bump) inside the transaction
        with pytest.raises(RuntimeError), store.writer() as w:
            w.invoices(_invoices(30, [_pair(D, A)]))
            raise RuntimeError("rolled back")
        assert int(store.data_version()) == v0 + 2
        _check(store, expected)


@pytest.mark.parametrize("between", ["invoices", "taxpayers"])
def test_a_write_by_another_writer_between_two_kept_commits_is_seen(
        tmp_path: Path, built: list[int], between: str) -> None:
    # the writer's kept numbers are checked against the data version inside its transaction: another writer's
    # commit in between (same opening of the database, so only the data version tells) makes it read them again;
    # without the check the two writers hand out the same party numbers
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B)]), expected)
        _write(store, _invoices(10, [_pair(B, A)]), expected)
        assert built[0] == 1                                     # kept across commits
        other = EmbeddedStore(tmp_path / "ws")
        with other:
            if between == "invoices":
                _write(other, _invoices(20, [_pair(C, D)]), expected)
            else:
                with other.writer() as w:
                    w.taxpayers(pa.table({"tax_id": [C[0]], "name": [C[1]]}))
        before = built[0]                                        # the other writer numbers its own
        _write(store, _invoices(30, [_pair(D, ("91310000EEEEEEEEEE", "戊")), _pair(C, A)]), expected)
        assert built[0] == before + 1                            # read again after the other writer's commit
        _check(store, expected)
        _write(store, _invoices(40, [_pair(("91310000FFFFFFFFFF", "己"), D)]), expected)
        assert built[0] == before + 1                            # and kept again after this writer's own commit
        _check(store, expected)


def _taxpayers(store: EmbeddedStore) -> set[str]:
    with store._con("test") as con:
        return {r[0] for r in con.execute("SELECT tax_id FROM taxpayers").fetchall()}


def test_taxpayers_of_new_parties_are_created_only_when_not_known_and_after_another_writers_clear(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the tax ids kept with the party numbers skip the taxpayers statement when every new party's tax id is known;
    # they live and die with the numbers: another writer's clear() in between (which deletes the taxpayers) must
    # make the next write create them again
    ran: list[str] = []
    run = embedded._EmbeddedWriter._run

    def spy(self: embedded._EmbeddedWriter, name: str, sql: str, params: Any = ()) -> None:
        ran.append(name)
        run(self, name, sql, params)

    monkeypatch.setattr(embedded._EmbeddedWriter, "_run", spy)
    expected: dict[str, tuple[str, str, str, str]] = {}
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        _write(store, _invoices(1, [_pair(A, B)]), expected)
        assert _taxpayers(store) == {A[0], B[0]}
        ran.clear()
        _write(store, _invoices(10, [_pair((A[0], "甲公司"), B)]), expected)     # a new party, its tax id known
        assert "insert_parties" in ran and "create_taxpayers" not in ran
        ran.clear()
        _write(store, _invoices(20, [_pair(B, C)]), expected)                     # a new tax id
        assert "create_taxpayers" in ran
        assert _taxpayers(store) == {A[0], B[0], C[0]}
        _check(store, expected)

        other = EmbeddedStore(tmp_path / "ws")
        with other:
            other.clear()
        expected.clear()
        _write(store, _invoices(30, [_pair(A, C), _pair(D, (A[0], "甲公司"))]), expected)
        assert _taxpayers(store) == {A[0], C[0], D[0]}
        _check(store, expected)

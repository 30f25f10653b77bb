"""Party numbering (graph/embedded_parties.py): hash matching, and the exact fallback when hashes disagree."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from graph.embedded_parties import PartyNumbers, Rows

EMPTY = pa.table({"pid": pa.array([], pa.int32()), "code": pa.array([], pa.uint64()),
                  "check": pa.array([], pa.uint64())})
NO_PAIRS = pa.table({"pid": pa.array([], pa.int32()), "tax_id": pa.array([], pa.string()),
                     "name": pa.array([], pa.string())})


def _rows(pairs: list[tuple[str | None, str | None]], code: list[int], check: list[int]) -> Rows:
    return Rows(pa.array([p[0] for p in pairs], pa.string()), pa.array([p[1] for p in pairs], pa.string()),
                np.array(code, np.uint64), np.array(check, np.uint64), np.arange(len(pairs), dtype=np.int64))


def test_same_pair_same_number_new_pairs_listed_with_their_latest_date() -> None:
    parties = PartyNumbers(EMPTY, lambda: NO_PAIRS)
    got = parties.assign(_rows([("A", "甲"), ("B", "乙"), ("A", "甲"), ("A", None)], [1, 2, 1, 3], [11, 12, 11, 13]))
    assert got.pids.tolist() == [0, 1, 0, 2]
    assert got.new.to_pylist() == [{"pid": 0, "tax_id": "A", "name": "甲", "last_at": 2},
                                   {"pid": 1, "tax_id": "B", "name": "乙", "last_at": 1},
                                   {"pid": 2, "tax_id": "A", "name": None, "last_at": 3}]
    again = parties.assign(_rows([("B", "乙"), ("C", "丙")], [2, 4], [12, 14]))
    assert again.pids.tolist() == [1, 3] and again.new.column("tax_id").to_pylist() == ["C"]


def test_a_shared_code_with_different_checks_switches_to_exact_matching() -> None:
    stored = pa.table({"pid": pa.array([0], pa.int32()), "tax_id": ["A"], "name": ["甲"]})
    parties = PartyNumbers(pa.table({"pid": pa.array([0], pa.int32()), "code": pa.array([7], pa.uint64()),
                                     "check": pa.array([70], pa.uint64())}), lambda: stored)
    # ("Z", "子") collides with the stored ("A", "甲") on code 7 but not on its check
    got = parties.assign(_rows([("Z", "子"), ("A", "甲"), ("Z", "子")], [7, 7, 7], [99, 70, 99]))
    assert got.pids.tolist() == [1, 0, 1]
    assert got.new.to_pylist() == [{"pid": 1, "tax_id": "Z", "name": "子", "last_at": 2}]
    later = parties.assign(_rows([("A", "甲"), ("Y", None)], [7, 8], [70, 80]))
    assert later.pids.tolist() == [0, 2]


def test_a_collision_inside_one_batch_is_caught_too() -> None:
    parties = PartyNumbers(EMPTY, lambda: NO_PAIRS)
    got = parties.assign(_rows([("A", "甲"), ("B", "乙")], [5, 5], [1, 2]))
    assert got.pids.tolist() == [0, 1] and got.new.num_rows == 2


def test_stored_codes_in_any_order_keep_their_numbers_and_new_ones_are_remembered() -> None:
    stored = pa.table({"pid": pa.array([0, 1, 2], pa.int32()), "code": pa.array([30, 10, 20], pa.uint64()),
                       "check": pa.array([300, 100, 200], pa.uint64())})
    parties = PartyNumbers(stored, lambda: NO_PAIRS)
    got = parties.assign(_rows([("C", "丙"), ("N", "新"), ("A", "甲"), ("M", "另"), ("N", "新")],
                               [30, 25, 10, 5, 25], [300, 250, 100, 50, 250]))
    assert got.pids.tolist() == [0, 3, 1, 4, 3]
    assert got.new.column("pid").to_pylist() == [3, 4] and got.new.column("last_at").to_pylist() == [4, 3]
    again = parties.assign(_rows([("M", "另"), ("B", "乙"), ("N", "新")], [5, 20, 25], [50, 200, 250]))
    assert again.pids.tolist() == [4, 2, 3] and again.new.num_rows == 0

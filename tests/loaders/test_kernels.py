"""The kernels' fast paths agree with the general pyarrow parsers they stand in for, and their documented edge cases."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders import kernels
from loaders import normalize as nz

MONEY_TEXT = st.one_of(
    st.from_regex(r"\A-?[0-9]{1,16}(\.[0-9]{0,3})?\Z"),
    st.text(alphabet="0123456789.-+,¥ e元", max_size=12),
)
DATE_TEXT = st.one_of(
    st.from_regex(r"\A(19|20|21)[0-9]{2}-[01][0-9]-[0-3][0-9]([T ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](Z|[+-][0-2][0-9]:[0-5][0-9])?)?\Z"),
    st.text(alphabet="0123456789-:T Z+/.年月日", max_size=26),
)


def _py_hash(s: str) -> int:
    """The documented hash, in plain Python."""
    data = s.encode()
    if not data:
        return 0
    m, mask = 0x9E3779B97F4A7C15, (1 << 64) - 1
    h = (len(data) * m) & mask
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little")
        h = ((h ^ w) * m) & mask
        h ^= h >> 31
    return h


@settings(max_examples=200, deadline=None)
@given(st.lists(MONEY_TEXT, min_size=1, max_size=20))
def test_money_kernel_matches_decimal_cast(cells: list[str]) -> None:
    values, hit = kernels.parse_cents(pa.array(cells))
    for cell, v, h in zip(cells, values.tolist(), hit.tolist(), strict=True):
        if h:   # every cell the kernel takes, Arrow's decimal cast reads to the same value
            cast = pa.array([cell]).cast(pa.decimal128(18, 2))[0].as_py()
            assert int(cast * 100) == v, cell


@settings(max_examples=100, deadline=None)
@given(st.lists(MONEY_TEXT, min_size=1, max_size=20))
def test_parse_fen_same_as_whole_column_parser(cells: list[str]) -> None:
    arr = pa.array(cells)
    fen, ok, exempt = nz.parse_fen(arr)
    ref, ref_ok = nz.parse_decimal(arr, 2)
    ref_exempt = nz.np_bool(pc.is_in(pc.utf8_lower(arr), pa.array(nz.EXEMPT_WORDS)))
    assert (ok == (ref_ok | ref_exempt)).all() and (exempt == ref_exempt).all()
    assert (fen[ref_ok] == ref[ref_ok]).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(DATE_TEXT, min_size=1, max_size=20))
def test_date_kernel_matches_arrow_cast(cells: list[str]) -> None:
    secs, kind = kernels.parse_iso(pa.array(cells))
    for cell, s, k in zip(cells, secs.tolist(), kind.tolist(), strict=True):
        if k:
            ts = pa.timestamp("s", tz="UTC") if k == 2 else pa.timestamp("s")
            assert pa.array([cell]).cast(ts).cast(pa.int64())[0].as_py() == s, cell


@settings(max_examples=100, deadline=None)
@given(st.lists(DATE_TEXT, min_size=1, max_size=12))
def test_parse_datetime_same_as_whole_column_parser(cells: list[str]) -> None:
    arr = pa.array(cells)
    utc, ok = nz.parse_datetime(arr, "Asia/Shanghai")
    ref, ref_ok = nz._arrow_dates(arr, "Asia/Shanghai")
    assert ok.tolist() == ref_ok.tolist()
    assert utc[ok].tolist() == ref[ok].tolist()


def test_mixed_column_keeps_whole_column_semantics() -> None:
    # "2024-01-05T10" casts with Arrow only when the whole column casts; beside an offset date it does not
    alone, ok_alone = nz.parse_datetime(pa.array(["2024-01-05 10:00:00", "2024-01-05T10"]), "Asia/Shanghai")
    mixed, ok_mixed = nz.parse_datetime(pa.array(["2024-01-05T10:00:00+08:00", "2024-01-05T10"]), "Asia/Shanghai")
    assert ok_alone.tolist() == [True, True] and alone[0] == alone[1]
    assert ok_mixed.tolist() == [True, False]


@settings(deadline=None)
@given(st.lists(st.text(max_size=40), max_size=30))
def test_hash_is_the_documented_function(cells: list[str]) -> None:
    assert kernels.hash_strings(pa.array(cells, pa.string())).tolist() == [_py_hash(c) for c in cells]


@settings(deadline=None)
@given(st.lists(st.integers(0, 5), max_size=50))
def test_first_occurrence_and_member(values: list[int]) -> None:
    h = np.array(values, dtype=np.uint64)
    first = kernels.first_occurrence(h)
    assert first.tolist() == [values.index(v) for v in values]
    assert kernels.member(h, np.array([1, 3], np.uint64)).tolist() == [v in (1, 3) for v in values]


@settings(deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"\A([0-9]{10})?\Z"), st.from_regex(r"\A[0-9]{8}\Z")), max_size=20))
def test_join_key(pairs: list[tuple[str, str]]) -> None:
    codes, numbers = pa.array([c for c, _ in pairs], pa.string()), pa.array([n for _, n in pairs], pa.string())
    assert kernels.join_key(codes, numbers).to_pylist() == [f"{c}-{n}" if c else n for c, n in pairs]


@settings(deadline=None)
@given(st.lists(st.text(max_size=6), max_size=20))
def test_clean_skips_only_when_nothing_to_trim(cells: list[str]) -> None:
    arr = pa.array(cells, pa.string())
    assert nz.clean(arr).to_pylist() == pc.utf8_trim_whitespace(arr).to_pylist()
    assert nz.clean(arr, unicode=False).to_pylist() == pc.ascii_trim_whitespace(arr).to_pylist()


@settings(deadline=None)
@given(st.lists(st.lists(st.integers(0, 3000), max_size=800), max_size=6), st.lists(st.integers(0, 3100), max_size=50))
def test_hash_positions_keep_the_first_position(parts: list[list[int]], probes: list[int]) -> None:
    """Across several adds (and the table growing), each hash maps to where it was first added."""
    table, added = kernels.HashPositions(), []
    for part in parts:
        table.add(np.array(part, dtype=np.uint64))
        added += part
    assert table.size == len(added)
    assert table.lookup(np.array(probes, dtype=np.uint64)).tolist() == \
        [added.index(p) if p in added else -1 for p in probes]


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=30), st.integers(0, 5))
def test_plain_strings_fills_nulls(cells: list[str | None], start: int) -> None:
    arr = pa.array(cells, pa.string()).slice(min(start, len(cells)))
    assert kernels.plain_strings(arr).to_pylist() == [c or "" for c in cells[min(start, len(cells)):]]
    assert kernels.plain_strings(arr).null_count == 0


def test_plain_strings_with_bytes_behind_a_null() -> None:
    """A null slot that still points at bytes (allowed by Arrow) comes out as ""."""
    validity = pa.py_buffer(np.packbits(np.array([1, 0, 1], np.uint8), bitorder="little"))
    arr = pa.Array.from_buffers(pa.string(), 3, [validity, pa.py_buffer(np.array([0, 1, 3, 4], np.int32)),
                                                 pa.py_buffer(b"abcd")], null_count=1)
    assert kernels.plain_strings(arr).to_pylist() == ["a", "", "d"]


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(-2_208_988_800, 7_258_118_400), st.integers(0, 99)), max_size=40))
def test_digital_year_kernel_matches_local_years(cells: list[tuple[int, int]]) -> None:
    """Wherever the kernel is sure of the year, every time zone (UTC-12 .. UTC+14) has that year."""
    secs = np.array([s for s, _ in cells], dtype=np.int64)
    numbers = pa.array([f"{p:02d}000000000000000000" for _, p in cells], pa.string())
    wrong, unsure = kernels.year_prefix_mismatch(numbers, secs, np.ones(len(cells), np.bool_))
    for tz in ("Asia/Shanghai", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"):
        years = pc.year(pa.array(secs, pa.timestamp("s", tz=tz))).to_pylist()
        for (_, prefix), y, w, u in zip(cells, years, wrong.tolist(), unsure.tolist(), strict=True):
            assert u or w == (prefix != y % 100)


def test_the_load_path_does_not_import_numba() -> None:
    """`fapiao load`'s pipeline, store and kernels run without numba (its import and first call cost ~0.7 CPU-s of
    every load's start-up, and a fresh install's first load compiled the kernels for ~20 CPU-s)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = """
import json, sys
import loaders.load, graph.embedded, workbench.cli.load
import pyarrow as pa
from loaders import kernels
secs, kind = kernels.parse_iso(pa.array(["2024-01-05T10:20:30+08:00", "x"]))
kernels.HashPositions().add(kernels.hash_strings(pa.array(["a"])))
print(json.dumps({"numba": "numba" in sys.modules, "secs": secs.tolist(), "kind": kind.tolist()}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"numba": False, "secs": [1704421230, 0], "kind": [2, 0]}


@pytest.mark.parametrize(("cell", "fen"), [
    ("0", 0), ("-0", 0), ("-0.5", -50), ("1.5", 150), ("1.50", 150), ("007", 700), ("12345678.9", 1234567890),
    ("123456789012345", 12345678901234500), ("123456789012345.67", 12345678901234567),
    ("-123456789012345.67", -12345678901234567), ("99999999.99", 9999999999),
    ("", None), ("-", None), ("1.", None), (".5", None), ("-.5", None), ("1.505", None), ("1234567890123456", None),
    ("0000000000000012", None), ("+5", None), ("1,000", None), ("1e5", None), (" 1", None), ("1 ", None),
    ("１２", None), ("5-", None), ("--5", None), ("1..5", None), ("¥1", None),
])
def test_money_kernel_edge_cases(cell: str, fen: int | None) -> None:
    """The exact form -?D{1,15}(.D{1,2})? only, as hundredths; everything else left to the general parser. Checked
    alone, between other cells, and in a column of one width (read without gathers)."""
    for cells, at in (([cell], 0), (["12.34", cell, "-7"], 1), ([cell] * 5, 3)):
        values, hit = kernels.parse_cents(pa.array(cells))
        assert bool(hit[at]) == (fen is not None), cell
        assert values[at] == (fen or 0)


@pytest.mark.parametrize(("cell", "secs", "kind"), [
    ("2024-02-29", 1709164800, 1), ("2000-02-29", 951782400, 1), ("1900-01-01", -2208988800, 1),
    ("2199-12-31", 7258032000, 1), ("2024-01-05 10:20:30", 1704450030, 1), ("2024-01-05T10:20:30", 1704450030, 1),
    ("2024-01-05T10:20:30Z", 1704450030, 2), ("2024-01-05T10:20:30+08:00", 1704421230, 2),
    ("2024-01-05T10:20:30-05:30", 1704469830, 2), ("1970-01-01T00:00:00Z", 0, 2),
    ("2023-02-29", 0, 0), ("1900-02-29", 0, 0), ("2100-02-29", 0, 0), ("1899-12-31", 0, 0), ("2200-01-01", 0, 0),
    ("2024-13-01", 0, 0), ("2024-00-10", 0, 0), ("2024-04-31", 0, 0), ("2024-01-05T24:00:00", 0, 0),
    ("2024-01-05T23:59:60", 0, 0), ("2024-01-05t10:20:30", 0, 0), ("2024-01-05T10:20:30z", 0, 0),
    ("2024-01-05T10:20:30+24:00", 0, 0), ("2024-01-05T10:20:30+08:60", 0, 0), ("2024-01-05T10:20:30+0800", 0, 0),
    ("2024/01/05", 0, 0), ("２０２４-01-05", 0, 0), ("2024-1-5", 0, 0), ("2024-01-05T10:20", 0, 0), ("", 0, 0),
])
def test_date_kernel_edge_cases(cell: str, secs: int, kind: int) -> None:
    """Strict ISO forms of the years 1900-2199 (leap days, the seconds' and offsets' ranges); the rest kind 0."""
    for cells, at in (([cell], 0), (["2024-01-05", cell, "x"], 1), ([cell] * 5, 2)):
        got, kinds = kernels.parse_iso(pa.array(cells))
        assert (int(got[at]), int(kinds[at])) == (secs, kind), cell


def test_hash_of_long_and_uniform_cells() -> None:
    """The documented hash also for cells of one width (read without gathers) and a few long cells (folded one by
    one), nulls as ""."""
    long = ["x" * 100_003, "发票" * 999, None, "", "a" * 8, "b" * 9]
    for cells in (long, ["91330100MA23P733Y6"] * 7, ["甲"] * 3, ["", ""], long * 3):
        assert kernels.hash_strings(pa.array(cells, pa.string())).tolist() == [_py_hash(c or "") for c in cells]


def test_shape_trim_and_join_edge_cases() -> None:
    cells = pa.array(["12345678", "", "１２", "12a", "٣", None, "0"], pa.string())
    chars, digits = kernels.digit_shape(cells)
    assert chars.tolist() == [8, 0, 2, 3, 1, 0, 1]
    assert digits.tolist() == [True, False, False, False, False, False, True]
    for cell, ascii_, unicode in (("a", False, False), (" a", True, True), ("a\t", True, True), ("\u3000a", False, True),
                                  ("a\x1c", False, True), ("é", False, True), ("", False, False)):
        arr = pa.array(["x", cell, "y"])
        assert (kernels.needs_trim(arr, unicode=False), kernels.needs_trim(arr, unicode=True)) == (ascii_, unicode)
    codes, numbers = pa.array(["1", None, ""], pa.string()), pa.array(["2", "3", None], pa.string())
    assert kernels.join_key(codes, numbers).to_pylist() == ["1-2", "3", ""]
    assert kernels.join_key(pa.array(["", ""]), pa.array(["3", "4"])).to_pylist() == ["3", "4"]


def test_first_positions_with_equal_hashes_in_one_add() -> None:
    """Equal hashes added together keep the first position, also when they wrap around the table's end."""
    h = np.array([2**64 - 1, 7, 2**64 - 1, 7, 0, 0], dtype=np.uint64)
    assert kernels.first_occurrence(h).tolist() == [0, 1, 0, 1, 4, 4]
    table = kernels.HashPositions()
    table.add(h[:1])
    table.add(h)
    assert table.lookup(h).tolist() == [0, 2, 0, 2, 5, 5] and table.size == 7
    assert kernels.has_duplicates(h) and not kernels.has_duplicates(h[:2])

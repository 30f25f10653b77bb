"""Hostile files never crash with a traceback and never lose rows silently."""

from __future__ import annotations

import csv
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.core.errors import FapiaoError
from loaders.load import load_files
from loaders.read import detect_delimiter, read_batches

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _rows() -> tuple[list[str], list[list[str]]]:
    with (FIX / "invoices_gbk.csv").open(encoding="gbk") as f:
        data = list(csv.reader(f))
    return data[0], data[1:]


def _write(path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",",
           encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def _accounted(path: Path, tmp: Path, **kw: object) -> int:
    rep = load_files(None, path, report_dir=tmp, **kw)  # type: ignore[arg-type]
    assert rep.loaded + rep.rejected + rep.skipped_identical == rep.read
    return rep.read


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    header, rows = _rows()
    path = _write(tmp_path / "d.csv", header, rows, delimiter=delimiter)
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert (rep.read, rep.loaded) == (len(rows), len(rows))
    assert detect_delimiter(delimiter.join(header)) == delimiter


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    header, rows = _rows()
    path = _write(tmp_path / "e.csv", header, rows, encoding=encoding)
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.loaded == len(rows)


def test_mixed_encodings_keep_every_row(tmp_path: Path) -> None:
    header, rows = _rows()
    path = tmp_path / "mixed.csv"
    with path.open("wb") as f:
        f.write((",".join(header) + "\n").encode("utf-8"))
        for i, r in enumerate(rows):
            f.write((",".join(r) + "\n").encode("utf-8" if i % 2 else "gbk"))
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.loaded == len(rows)


def test_truncated_file_rejects_only_the_cut_row(tmp_path: Path) -> None:
    header, rows = _rows()
    path = _write(tmp_path / "t.csv", header, rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])      # cut the last row in half
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.read == len(rows) and rep.loaded == len(rows) - 1 and rep.rejected == 1


def test_wrong_cell_count_rows_go_to_quarantine(tmp_path: Path) -> None:
    header, rows = _rows()
    rows = [*rows[:3], ["only", "three", "cells"], [*rows[3], "extra"], *rows[4:]]
    path = _write(tmp_path / "w.csv", header, rows)
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.read == len(rows) and rep.rejected >= 2 and rep.by_rule.get("bad_value", 0) >= 1


def test_nul_bytes_and_huge_field(tmp_path: Path) -> None:
    header, rows = _rows()
    rows[0][4] = "甲\x00乙"
    rows[1][15] = "x" * (10 * 1024 * 1024)   # a 10 MB item name
    path = _write(tmp_path / "n.csv", header, rows)
    assert _accounted(path, tmp_path / "r") == len(rows)


def test_binary_garbage_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(FapiaoError):
        load_files(None, path, report_dir=tmp_path / "r")


@pytest.mark.parametrize("name,data", [("x.parquet", b"PAR1garbage"), ("x.xlsx", b"PK\x03\x04junk"),
                                       ("x.json", b"[{\"a\": 1"), ("x.csv", b"")])
def test_damaged_containers_are_clean_errors(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FapiaoError):
        load_files(None, path, report_dir=tmp_path / "r")


def test_broken_json_lines_are_counted(tmp_path: Path) -> None:
    lines = (FIX / "invoices.jsonl").read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{not json")
    lines.insert(5, "[1, 2]")
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.read == len(lines) and rep.rejected == 2 and rep.loaded == len(lines) - 2


def test_missing_sheet_names_the_sheets(tmp_path: Path) -> None:
    with pytest.raises(FapiaoError, match="2024"):
        list(read_batches(FIX / "invoices.xlsx", sheet="nope"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=600))
def test_random_bytes_after_a_header(tmp_path: Path, blob: bytes) -> None:
    header, rows = _rows()
    path = tmp_path / "rand.csv"
    path.write_bytes((",".join(header) + "\n").encode("utf-8") + blob)
    try:
        _accounted(path, tmp_path / "r")
    except FapiaoError:
        pass   # a clean, one-line error is fine; anything else fails the test


def test_typed_parquet_columns_are_read_as_text(tmp_path: Path) -> None:
    """Numbers, timestamps and integers in a Parquet file go through the same rules as text."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    header, rows = _rows()
    cols = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    table = pa.table({
        **{h: v for h, v in cols.items() if h not in ("金额", "税额", "价税合计", "开票日期", "发票代码")},
        "金额": pa.array([float(v) for v in cols["金额"]]),
        "税额": pa.array([float(v) for v in cols["税额"]]),
        "价税合计": pa.array([float(v) for v in cols["价税合计"]]),
        "开票日期": pa.array([datetime(2024, 3, 5, 2, tzinfo=UTC)] * len(rows), pa.timestamp("s", tz="UTC")),
        "发票代码": pa.array([int(v) if v else None for v in cols["发票代码"]], pa.int64()),
    })
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    rep = load_files(None, path, report_dir=tmp_path / "r")
    assert rep.loaded == rep.read == len(rows)

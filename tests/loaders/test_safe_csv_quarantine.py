"""Formula-safe cells: the column-at-once version equals the per-cell one; the quarantine keeps every cell."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.quarantine import QuarantineWriter
from loaders.safe_csv import FORMULA_START, neutralise, neutralise_texts

# text that often starts with a formula character (or is empty / null)
CELL = st.one_of(st.none(), st.text(max_size=6),
                 st.tuples(st.sampled_from([*FORMULA_START, "'", "a", "北", " "]), st.text(max_size=5)).map("".join))


@given(st.lists(CELL, max_size=40))
@settings(max_examples=300, deadline=None)
def test_neutralise_texts_equals_neutralise(cells: list[str | None]) -> None:
    got = neutralise_texts(pa.array(cells, pa.string())).to_pylist()
    assert got == [None if c is None else neutralise(c) for c in cells]
    dictionary = pa.array(cells, pa.string()).dictionary_encode()
    assert neutralise_texts(pa.chunked_array([dictionary])).to_pylist() == got


@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_quarantine_rows_whole_in_csv_and_parquet(tmp_path_factory: pytest.TempPathFactory,
                                                   rows: list[tuple[str | None, ...]]) -> None:
    out = tmp_path_factory.mktemp("q") / "quarantine.csv"
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    source = pa.table({"a": pa.array(a, pa.string()), "b": pa.array(b, pa.string()).dictionary_encode(),
                       "n": pa.array(list(range(len(rows))), pa.int64())})
    q = QuarantineWriter(out, ["a", "b", "n", "missing"])
    idx = np.arange(len(rows))[::-1].copy()
    q.add(source, idx, idx + 10, ["bad_value"] * len(rows), ["=reason"] * len(rows))
    assert q.close() == out
    with out.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["record", "rules", "reasons", "a", "b", "n", "missing", "raw_text"]
    for line, i in zip(lines[1:], idx.tolist(), strict=True):
        assert line == [str(i + 10), "bad_value", "'=reason", neutralise(a[i] or ""), neutralise(b[i] or ""),
                        str(i), "", ""]
    exact = pq.read_table(out.with_suffix(".parquet"))
    assert exact.column("a").to_pylist() == [a[i] or "" for i in idx]
    assert exact.column("b").to_pylist() == [b[i] or "" for i in idx]
    assert exact.column("n").to_pylist() == [str(i) for i in idx]
    assert exact.column("record").to_pylist() == (idx + 10).tolist()

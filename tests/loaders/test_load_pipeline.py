"""The load pipeline's overlap: the original copied and hashed beside the load (kept only when the load completes),
and batches checked on several threads while the store writes run on their own, with the file's row order, the
quarantine and the accounting the same as one thread doing everything in turn."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from graph.embedded import EmbeddedStore, _EmbeddedWriter
from loaders import load
from loaders.evidence import Evidence, evidence_dir, sha256_file
from loaders.generate import generate


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipeline")
    generate(out, taxpayers=400, invoices=16000, seed=21, noise=0.03, fmt="csv")   # ~4.3 MB: 4 blocks
    return out / "invoices.csv"


def _staged(root: Path) -> list[Path]:
    return sorted((root / "files").glob(".staged-*")) if (root / "files").is_dir() else []


def test_stage_copies_and_hashes_the_same_bytes(tmp_path: Path, csv_file: Path) -> None:
    ev = Evidence(tmp_path / "ev")
    staged = ev.stage(csv_file)
    assert staged.sha == sha256_file(csv_file) == hashlib.sha256(staged.path.read_bytes()).hexdigest()
    assert ev.keep(csv_file, staged=staged, meta={"source": "x"}) == staged.sha
    assert ev.path_of(staged.sha).read_bytes() == csv_file.read_bytes() and ev.verify(staged.sha)
    assert not staged.path.exists()
    again = ev.stage(csv_file)               # already kept: the second copy is removed, the first stays
    assert ev.keep(csv_file, staged=again) == staged.sha and not again.path.exists() and _staged(ev.root) == []


def test_a_load_keeps_its_staged_original_and_indexes_every_loaded_row(tmp_path: Path, csv_file: Path) -> None:
    with EmbeddedStore(tmp_path / "ws") as store:
        report = load.load_files(store, csv_file, report_dir=tmp_path / "r", threads=2, batch_rows=3000)
        root = evidence_dir(store)
        stored = store.invoice_stream()
    assert report.rejected > 0 and report.loaded == stored.num_rows
    sha = sha256_file(csv_file)
    assert Evidence(root).path_of(sha).read_bytes() == csv_file.read_bytes()
    assert _staged(root) == []
    [index] = sorted((root / "index").glob("*.parquet"))
    keys = pq.read_table(index)
    assert keys.num_rows == report.loaded and set(keys.column("sha256").to_pylist()) == {sha}
    assert sorted(keys.column("key").to_pylist()) == sorted(stored.column("key").to_pylist())


def test_a_load_failing_in_a_store_write_leaves_no_index_and_no_staged_copy(
        tmp_path: Path, csv_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = _EmbeddedWriter.invoices
    fail_at = [0]

    def last_fails(self: Any, table: Any) -> None:
        calls.append(table.num_rows)
        if len(calls) == fail_at[0]:   # the last batch: written while the evidence is kept
            raise OSError("disk full (test)")
        real(self, table)

    monkeypatch.setattr(_EmbeddedWriter, "invoices", last_fails)
    with EmbeddedStore(tmp_path / "count") as store:   # how many writes the load makes
        load.load_files(store, csv_file, report_dir=tmp_path / "r0", threads=2, batch_rows=3000)
    fail_at[0], calls[:] = len(calls), []
    assert fail_at[0] >= 3
    with EmbeddedStore(tmp_path / "ws") as store:
        with pytest.raises(OSError, match="disk full"):
            load.load_files(store, csv_file, report_dir=tmp_path / "r", threads=2, batch_rows=3000)
        root = evidence_dir(store)
        assert store.invoice_stream().num_rows == sum(calls[:-1])   # the writes before it committed
    assert len(calls) == fail_at[0]
    assert _staged(root) == []
    assert not list((root / "index").glob("*.parquet")) if (root / "index").is_dir() else True


def test_a_load_failing_while_reading_leaves_no_staged_copy(tmp_path: Path, csv_file: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise OSError("read error (test)")

    monkeypatch.setattr(load, "_parse_batch", broken)
    with EmbeddedStore(tmp_path / "ws") as store:
        with pytest.raises(OSError, match="read error"):
            load.load_files(store, csv_file, report_dir=tmp_path / "r", threads=2, batch_rows=3000)
        root = evidence_dir(store)
        assert store.invoice_stream().num_rows == 0
    assert _staged(root) == [] and not (root / "index").exists()

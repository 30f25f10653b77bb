"""The load pipeline's overlap: the original copied and hashed beside the writer's last transactions (kept only when
the load completes), and batches checked on several threads while the store writes run on their own, with the file's
row order, the quarantine and the accounting the same as one thread doing everything in turn."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.embedded import EmbeddedStore, _EmbeddedWriter
from graph.embedded_bulk import PreparedInvoices
from loaders import load
from loaders.evidence import INDEX_SCHEMA, Evidence, evidence_dir, sha256_file
from loaders.generate import generate


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipeline")
    generate(out, taxpayers=400, invoices=16000, seed=21, noise=0.03, fmt="csv")   # ~4.3 MB: 4 blocks
    return out / "invoices.csv"


def on_each_write(monkeypatch: pytest.MonkeyPatch, hook: Callable[[pa.Table], None]) -> None:
    """Call ``hook(rows)`` as the store writer stores each invoice batch, by either path: the ordinary one
    (``invoices``) or a batch made ready ahead of its transaction (``prepared_invoices``). An error from ``hook``
    fails that write."""
    real, real_prepared = _EmbeddedWriter.invoices, _EmbeddedWriter.prepared_invoices

    def invoices(self: _EmbeddedWriter, table: pa.Table) -> None:
        hook(table)
        real(self, table)

    def prepared(self: _EmbeddedWriter, ready: PreparedInvoices) -> None:
        hook(ready.source)
        real_prepared(self, ready)

    monkeypatch.setattr(_EmbeddedWriter, "invoices", invoices)
    monkeypatch.setattr(_EmbeddedWriter, "prepared_invoices", prepared)


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


def test_stage_bytes_uses_the_same_staging_and_skips_bytes_kept_already(tmp_path: Path) -> None:
    ev = Evidence(tmp_path / "ev")
    data = "发票,1\n".encode()
    staged = ev.stage_bytes(data)
    assert staged is not None and _staged(ev.root) == [staged.path] and staged.path.read_bytes() == data
    assert staged.sha == hashlib.sha256(data).hexdigest()
    assert ev.keep(staged.path, staged=staged) == staged.sha and ev.verify(staged.sha) and _staged(ev.root) == []
    assert ev.stage_bytes(data) is None and _staged(ev.root) == []      # kept already: nothing written
    other = ev.stage_bytes(b"x", sha="0" * 64)
    assert other is not None and other.sha == "0" * 64
    other.discard()
    assert _staged(ev.root) == []


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
    assert keys.schema.equals(INDEX_SCHEMA)      # plain strings, though written dictionary-encoded
    first = stored.column("key")[0].as_py()
    assert [(o["key"], o["sha256"], o["source"]) for o in Evidence(root).originals(first)] == \
        [(first, sha, csv_file.name)]


def test_the_original_is_copied_once_every_batch_is_handed_to_the_writer(
        tmp_path: Path, csv_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy and hash run beside the writer's last transactions, not beside the first batch's read (both cores
    are busy then, and the first batch is what the rest of the load waits for)."""
    handed: list[int] = []
    seen_by_stage: list[int] = []
    real_submit, real_stage = load._StoreWrites.submit, Evidence.stage

    def submit(self: Any, job: Callable[[], None]) -> None:
        handed.append(1)
        real_submit(self, job)

    def stage(self: Evidence, path: Path) -> Any:
        seen_by_stage.append(len(handed))
        return real_stage(self, path)

    monkeypatch.setattr(load._StoreWrites, "submit", submit)
    monkeypatch.setattr(Evidence, "stage", stage)
    with EmbeddedStore(tmp_path / "ws") as store:
        report = load.load_files(store, csv_file, report_dir=tmp_path / "r", threads=2, batch_rows=3000)
        kept = Evidence(evidence_dir(store)).path_of(sha256_file(csv_file))
    assert report.loaded > 0 and len(handed) >= 3 and kept.read_bytes() == csv_file.read_bytes()
    assert seen_by_stage == [len(handed)]       # started once, after the last hand-over


def test_a_load_failing_in_a_store_write_leaves_no_index_and_no_staged_copy(
        tmp_path: Path, csv_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    fail_at = [0]

    def last_fails(table: pa.Table) -> None:
        calls.append(table.num_rows)
        if len(calls) == fail_at[0]:   # the last batch: written while the evidence is kept
            raise OSError("disk full (test)")

    on_each_write(monkeypatch, last_fails)
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


def _source(n: int, log: list[int]) -> Any:
    for i in range(n):
        log.append(i)
        yield i


@pytest.mark.parametrize("threads", [2, 3])
def test_ordered_map_keeps_order_and_bounds_the_window(threads: int) -> None:
    import random
    import time

    taken: list[int] = []
    delays = random.Random(threads).choices([0.0, 0.001, 0.004], k=40)

    def slow(i: int) -> int:
        time.sleep(delays[i])
        return i * i

    out = []
    for item, result in load._ordered_map(slow, _source(40, taken), threads):
        assert len(taken) - item - 1 <= threads + 1   # never more than threads + 1 taken ahead
        out.append((item, result))
    assert out == [(i, i * i) for i in range(40)]


def test_ordered_map_hands_out_the_first_item_without_waiting_for_more() -> None:
    import threading

    first_out = threading.Event()

    def source() -> Any:
        yield 0
        assert first_out.wait(timeout=10), "the first item was held back until more were read"
        yield 1

    got = []
    for item, result in load._ordered_map(lambda i: i + 10, source(), 2):
        got.append((item, result))
        first_out.set()
    assert got == [(0, 10), (1, 11)]


def test_ordered_map_hands_out_a_checked_item_while_the_next_one_is_still_being_read() -> None:
    """The item being checked is handed out as soon as it is checked, also while reading the items after it blocks
    (it used to wait until the window was full: at the start of a load, until two more batches were read)."""
    import threading
    import time

    first_out = threading.Event()

    def source() -> Any:
        yield 0
        yield 1
        assert first_out.wait(timeout=10), "item 0 was held back until more were read"
        yield 2

    def slow(i: int) -> int:
        time.sleep(0.05)     # not done yet when the next item is asked for
        return i + 10

    got = []
    for item, result in load._ordered_map(slow, source(), 2):
        got.append((item, result))
        first_out.set()
    assert got == [(0, 10), (1, 11), (2, 12)]


def test_ordered_map_stops_reading_when_the_caller_stops() -> None:
    taken: list[int] = []
    out = load._ordered_map(lambda i: i, _source(1000, taken), 2)
    assert next(out) == (0, 0)
    out.close()        # the caller gives up (an error in a later step): nothing is read after that
    n = len(taken)
    assert n <= 4
    import time

    time.sleep(0.2)
    assert len(taken) == n


def test_ordered_map_raises_in_order_after_the_items_before_the_failing_one() -> None:
    def fails_at_5(i: int) -> int:
        if i == 5:
            raise ValueError("item 5")
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="item 5"):
        for item, _ in load._ordered_map(fails_at_5, iter(range(12)), 2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_threads_keep_row_order_in_quarantine_and_store(tmp_path: Path, csv_file: Path) -> None:
    """Two checking threads and the writer thread give byte-for-byte the quarantine and warnings of one thread
    (rows in file order), the same stored rows and the same accounting."""
    got = []
    for threads in (1, 2):
        with EmbeddedStore(tmp_path / f"ws{threads}") as store:
            report = load.load_files(store, csv_file, report_dir=tmp_path / f"r{threads}", threads=threads,
                                     batch_rows=3000)
            got.append((report, store.invoice_stream().sort_by("key"),
                        (tmp_path / f"r{threads}" / "quarantine.csv").read_bytes(),
                        (tmp_path / f"r{threads}" / "warnings.csv").read_bytes()))
    (one, one_rows, one_q, one_w), (two, two_rows, two_q, two_w) = got
    assert one.rejected > 0 and one.loaded + one.rejected == one.read
    assert (two.read, two.loaded, two.rejected, two.warnings, two.by_rule) == \
        (one.read, one.loaded, one.rejected, one.warnings, one.by_rule)
    assert two_q == one_q and two_w == one_w
    assert two_rows.equals(one_rows)


def test_a_failing_batch_stops_the_load_after_the_batches_before_it(tmp_path: Path, csv_file: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An error checking batch k (here the third) is raised; with threads the store then holds what one thread
    stores: the accepted rows of the batches before k, nothing after."""
    real = load._parse_batch
    firsts: list[int] = []

    def third_fails(batch: Any, *a: Any) -> Any:
        if batch.first_row > 2 * 3000:
            raise ValueError("broken batch (test)")
        firsts.append(batch.first_row)
        return real(batch, *a)

    monkeypatch.setattr(load, "_parse_batch", third_fails)
    stored = []
    for threads in (1, 2):
        with EmbeddedStore(tmp_path / f"ws{threads}") as store:
            with pytest.raises(ValueError, match="broken batch"):
                load.load_files(store, csv_file, report_dir=tmp_path / f"r{threads}", threads=threads,
                                batch_rows=3000)
            stored.append(store.invoice_stream().sort_by("key"))
    assert stored[0].num_rows > 0 and stored[1].equals(stored[0])
    monkeypatch.setattr(load, "_parse_batch", real)
    with EmbeddedStore(tmp_path / "ws1") as store:   # re-running the load completes it (idempotent)
        again = load.load_files(store, csv_file, report_dir=tmp_path / "again", threads=2, batch_rows=3000)
        assert again.skipped_identical == stored[0].num_rows
        assert again.loaded + again.skipped_identical + again.rejected == again.read


def test_an_early_prescan_gives_the_answer_of_scanning_now(tmp_path: Path, csv_file: Path) -> None:
    from loaders.utf8scan import scan_early, scan_text, scan_text_once

    assert scan_early(csv_file)
    assert scan_text_once(csv_file) == scan_text(csv_file)
    assert scan_text_once(csv_file) == scan_text(csv_file)   # taken once; scanned again afterwards


def test_an_early_prescan_of_a_file_changed_since_is_not_used(tmp_path: Path) -> None:
    from loaders.utf8scan import scan_early, scan_text_once

    path = tmp_path / "a.csv"
    path.write_bytes(b'a,b\n1,2\n')
    assert scan_early(path)
    path.write_bytes(b'a,b\n1,"2\n3,4567890\n\xff\n')   # longer, an odd quote, not UTF-8
    assert scan_text_once(path) == (False, 10, True)


def test_no_early_prescan_for_a_gbk_file(tmp_path: Path) -> None:
    from loaders.utf8scan import _EARLY, scan_early

    path = tmp_path / "gbk.csv"
    path.write_bytes("发票号码,金额\n00000001,100\n".encode("gbk"))
    before = len(_EARLY)
    assert not scan_early(path) and len(_EARLY) == before


def test_checking_the_next_batch_does_not_wait_for_the_store_write(tmp_path: Path, csv_file: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The store lookup of batch k+1's keys reads the last committed state while the writer thread's transaction
    for batch k is open (it used to wait for that commit, which put checking and writing back in one line)."""
    import threading

    checked = threading.Event()
    lookups: list[int] = []
    writes: list[int] = []
    real_keys = EmbeddedStore.existing_invoice_keys

    def keys(self: Any, k: Any) -> Any:
        out = real_keys(self, k)
        lookups.append(len(k))
        if len(lookups) >= 2:
            checked.set()
        return out

    def write(table: pa.Table) -> None:
        writes.append(table.num_rows)
        if len(writes) == 1:   # inside the first write's transaction
            assert checked.wait(timeout=30), "the next batch's store lookup waited for this write to commit"

    monkeypatch.setattr(EmbeddedStore, "existing_invoice_keys", keys)
    on_each_write(monkeypatch, write)
    with EmbeddedStore(tmp_path / "ws") as store:
        report = load.load_files(store, csv_file, report_dir=tmp_path / "r", threads=2, batch_rows=3000)
        assert store.invoice_stream().num_rows == report.loaded > 0
        again = load.load_files(store, csv_file, report_dir=tmp_path / "r2", threads=2, batch_rows=3000)
    assert len(writes) >= 3 and again.skipped_identical == report.loaded and again.loaded == 0


def test_a_batch_without_a_total_row_is_handed_on_before_the_next_is_read() -> None:
    """drop_summary_rows holds a batch back only when it ends in a 合计 row (to see whether it is the last): the
    first batch of a file without one is checked while the second is still being read; only the last batch loses
    its 合计 rows."""
    from loaders.read import RawBatch, drop_summary_rows

    def table(*first: str) -> pa.Table:
        return pa.table({"发票号码": list(first), "金额": ["1"] * len(first)})

    read: list[int] = []

    def batches() -> Any:
        for i, t in enumerate([table("1", "2"), table("3", "合计"), table(), table("4", "合计")]):
            read.append(i)
            yield RawBatch(t, 1 + 2 * i)

    got = []
    for b in drop_summary_rows(batches()):
        got.append((len(read), b.table.column("发票号码").to_pylist(), [n.code for n in b.notes]))
    assert got == [(1, ["1", "2"], []),                          # handed on before batch 2 was read
                   (4, ["3", "合计"], []),                        # a 合计 row inside the file stays (and is checked)
                   (4, ["4"], ["total_rows_skipped"])]


@pytest.mark.parametrize("damage", ["none", "stray_quote", "not_utf8", "not_utf8_early", "long_line"])
def test_the_first_batch_read_beside_the_prescan_is_what_reading_after_it_gives(
        tmp_path: Path, csv_file: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    """With the pre-scan still running (scan_early), the first batch is read beside it and used only when the scan
    finds the file clean; a stray quote, bytes that are not UTF-8 or a line longer than a block read the file again
    the ordinary way. Either way the batches are those of reading after the scan (also when the bytes that are not
    UTF-8 are in the first batch, which is read without Arrow's own UTF-8 check)."""
    from loaders import read
    from loaders.utf8scan import scan_early

    lines = csv_file.read_bytes().replace(b'"', b"").split(b"\n")   # no quotes: one added is a stray
    cut = len(lines) // 2
    extra = {"none": [], "stray_quote": [lines[cut].replace(b",", b',"', 1)],
             "not_utf8": [lines[cut].replace(b",", b",\xff", 1)],
             "not_utf8_early": [lines[5000].replace(b",", b",\xff", 1)],   # past the samples, in batch 1
             "long_line": [lines[cut].replace(b",", b"," + b"x" * 700_000, 1)]}[damage]
    path = tmp_path / "damaged.csv"
    cut = 5000 if damage.endswith("_early") else cut
    path.write_bytes(b"\n".join(lines[:cut] + extra + lines[cut:]))
    ahead: list[int] = []
    real = read._read_csv_ahead

    def counted(*a: Any) -> Any:
        ahead.append(1)
        yield from real(*a)

    monkeypatch.setattr(read, "_read_csv_ahead", counted)

    def batches() -> list[tuple[int, pa.Table, list[tuple[int, str]], list[str]]]:
        return [(b.first_row, b.table, b.malformed, [n.code for n in b.notes])
                for b in read.read_batches(path, batch_rows=3000)]

    assert scan_early(path)
    early = batches()
    assert ahead == [1]
    after = batches()      # no early scan any more: scanned, then read
    assert ahead == [1] and len(early) == len(after) > 1
    for (r1, t1, m1, n1), (r2, t2, m2, n2) in zip(early, after, strict=True):
        assert (r1, m1, n1) == (r2, m2, n2) and t1.equals(t2)


KILLED_LOADER = """
import sys, time
from pathlib import Path
from graph.embedded import EmbeddedStore, _EmbeddedWriter
from loaders import load

real_write, real_prepared = EmbeddedStore.write_prepared, _EmbeddedWriter.prepared_invoices
calls = []

def prepared(self, ready):
    real_prepared(self, ready)
    calls.append(ready.source.num_rows)
    if len(calls) == 2:          # the second batch's rows are in its open transaction: wait to be killed
        print("writing", flush=True)
        time.sleep(60)

def write(self, ready, **kw):
    real_write(self, ready, **kw)
    print("committed", ready.source.num_rows, flush=True)

_EmbeddedWriter.prepared_invoices = prepared
EmbeddedStore.write_prepared = write
with EmbeddedStore(sys.argv[1]) as store:
    load.load_files(store, Path(sys.argv[2]), report_dir=Path(sys.argv[3]), threads=2, batch_rows=3000)
"""


def test_a_load_killed_in_a_prepared_transaction_leaves_whole_batches_and_reruns(tmp_path: Path,
                                                                                 csv_file: Path) -> None:
    """SIGKILL while the writer thread's second transaction (a batch made ready ahead) is open: the store holds the
    first batch and nothing of the second, with one party number per (tax id, name); running the load again
    completes it (the first batch's rows skipped as identical) and gives the store of an uninterrupted load."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "killed.py"
    script.write_text(KILLED_LOADER, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "ws"), str(csv_file), str(tmp_path / "r1")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)})
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not lines or lines[-1] != "writing":
            line = proc.stdout.readline()
            assert line, f"loader ended early: {proc.stderr.read() if proc.stderr else ''}"[-2000:]
            lines.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    committed = [int(x.split()[1]) for x in lines if x.startswith("committed")]
    assert len(committed) == 1
    store = EmbeddedStore(tmp_path / "ws")
    with store:
        assert store.counts().invoices == committed[0] > 0
        with store._con("test") as con:
            assert con.execute("SELECT count(*) = count(DISTINCT (tax_id, name)) AND count(*) = count(DISTINCT pid) "
                               "FROM parties").fetchall() == [(True,)]
        again = load.load_files(store, csv_file, report_dir=tmp_path / "r2", threads=2, batch_rows=3000)
        assert again.skipped_identical == committed[0]
        assert again.loaded + again.skipped_identical + again.rejected == again.read
        rows = store.invoice_stream().sort_by("key")
    with EmbeddedStore(tmp_path / "whole") as whole:
        load.load_files(whole, csv_file, report_dir=tmp_path / "r3", threads=2, batch_rows=3000)
        assert rows.equals(whole.invoice_stream().sort_by("key"))

"""Embedded workspace under real process failures: SIGKILL mid-load, and a second process wanting the workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.core.errors import StoreError
from graph.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]

# Generates a deterministic dataset and loads it in several writer transactions. Prints "committed N"
# after each commit and "writing N" while a transaction is open with rows already written.
LOADER = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    import numpy as np, pyarrow as pa
    import graph.embedded as emb
    from graph.core import schema

    ws, n, chunk, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    emb._FLUSH_ROWS = 500                          # flush inside the transaction, so a kill hits written rows
    rng = np.random.default_rng(7)
    parties = 200
    ids = [f"91440300MA5{i:07d}" for i in range(parties)]
    s = rng.integers(0, parties, n); b = (s + rng.integers(1, parties, n)) % parties
    t0 = datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    total = rng.integers(1_00, 1_000_000_00, n)
    amount = np.rint(total / 1.13).astype(np.int64)
    numbers = [f"{i:020d}" for i in range(n)]
    table = pa.table({
        "key": numbers, "number": numbers, "code": [""] * n,
        "issued_at": [t0 + timedelta(minutes=int(m)) for m in rng.integers(0, 525_600, n)],
        "seller_tax_id": [ids[i] for i in s], "seller_name": [f"深圳{i}号贸易有限公司" for i in s],
        "buyer_tax_id": [ids[i] for i in b], "buyer_name": [f"深圳{i}号贸易有限公司" for i in b],
        "amount_fen": amount, "tax_fen": total - amount, "total_fen": total, "rate": [0.13] * n,
        "kind": ["digital_special"] * n, "status": ["normal"] * n, "red_ref": [None] * n,
        "item_code": [None] * n, "item_name": ["钢材"] * n,
    }, schema=schema.INVOICES)
    store = emb.EmbeddedStore(ws)
    for off in range(0, n, chunk):
        with store.writer() as w:
            part = table.slice(off, chunk)
            for i in range(0, part.num_rows, 500):
                w.invoices(part.slice(i, 500))
            w.put_record("load_chunk", str(off), {"rows": part.num_rows})
            print("writing", off + part.num_rows, flush=True)
            time.sleep(pause)
        print("committed", off + part.num_rows, flush=True)
    store.close()
    print("done", flush=True)
""")

N, CHUNK = 6_000, 1_500


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    return env


def _start(script: Path, *args: object, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(**env), cwd=ROOT)


@pytest.fixture
def loader_script(tmp_path: Path) -> Path:
    path = tmp_path / "load_chunks.py"
    path.write_text(LOADER, encoding="utf-8")
    return path


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; killed (by pid) if still running when it ends."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _wait_for(proc: subprocess.Popen[str], prefix: str, timeout: float = 60) -> list[str]:
    """Read proc's stdout lines until one starts with ``prefix``; return every line read."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"process ended before {prefix!r}: {lines} {stderr[-2000:]}")
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"timed out waiting for {prefix!r}: {lines}")


def _committed(lines: list[str]) -> int:
    done = [int(x.split()[1]) for x in lines if x.startswith("committed")]
    return max(done, default=0)


def test_sigkill_mid_load_then_rerun_gives_exact_counts(tmp_path: Path, loader_script: Path,
                                                        reaper: list[subprocess.Popen[str]]) -> None:
    ws = tmp_path / "ws"
    proc = _start(loader_script, ws, N, CHUNK, 0.4)
    reaper.append(proc)
    lines = _wait_for(proc, "committed")
    lines += _wait_for(proc, "writing")      # second transaction is open, rows already written
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    durable = _committed(lines)
    assert 0 < durable < N

    with EmbeddedStore(ws) as store:       # opens fine; exactly the committed transactions survive
        assert store.counts().invoices == durable
        assert len(store.records("load_chunk")) == durable // CHUNK
        stream = store.invoice_stream()
        assert stream.num_rows == len(set(stream.column("key").to_pylist())) == durable

    rerun = _start(loader_script, ws, N, CHUNK, 0)
    reaper.append(rerun)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err[-2000:]
    assert out.strip().endswith("done")

    with EmbeddedStore(ws) as store:
        counts = store.counts()
        keys = store.invoice_stream().column("key").to_pylist()
        assert counts.invoices == len(keys) == len(set(keys)) == N
        assert keys and store.existing_invoice_keys(keys) == set(keys)
        assert len(store.records("load_chunk")) == N // CHUNK
        stream = store.invoice_stream()
        parties = {*stream.column("seller_tax_id").to_pylist(), *stream.column("buyer_tax_id").to_pylist()}
        assert counts.taxpayers == store.taxpayers().num_rows == len(parties)


HOLDER = textwrap.dedent("""
    import sys, time
    from graph.embedded import EmbeddedStore
    store = EmbeddedStore(sys.argv[1])
    mode = sys.argv[2]
    if mode == "writer":
        with store.writer() as w:
            w.put_record("note", "n1", {"text": "held"})
            print("holding", flush=True)
            time.sleep(60)
    else:
        store.counts()
        print("idle", flush=True)
        time.sleep(60)
""")


def test_second_process_gets_clear_error_while_a_writer_holds_the_workspace(
        tmp_path: Path, reaper: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    script = tmp_path / "hold.py"
    script.write_text(HOLDER, encoding="utf-8")
    holder = _start(script, ws, "writer")
    reaper.append(holder)
    _wait_for(holder, "holding")
    monkeypatch.setenv("FAPIAO_EMBEDDED_WAIT", "0.5")
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"in use by another process \(pid {holder.pid}\)"):
        EmbeddedStore(ws)
    assert time.monotonic() - started < 10
    holder.kill()
    holder.wait(10)
    with EmbeddedStore(ws) as store:        # the killed writer's transaction is gone, the workspace is fine
        assert store.record("note", "n1") is None
        assert store.counts().invoices == 0


def test_idle_process_releases_the_workspace_so_others_take_turns(
        tmp_path: Path, reaper: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    script = tmp_path / "hold.py"
    script.write_text(HOLDER, encoding="utf-8")
    idle = _start(script, ws, "reader", FAPIAO_EMBEDDED_LINGER="0.2")
    reaper.append(idle)
    _wait_for(idle, "idle")
    monkeypatch.setenv("FAPIAO_EMBEDDED_WAIT", "10")
    with EmbeddedStore(ws) as store:         # the other process is alive but idle: we get our turn
        with store.writer() as w:
            w.put_record("note", "n2", {"text": "我的回合"})
        assert store.record("note", "n2") == {"text": "我的回合"}
    assert idle.poll() is None

"""One embedded workspace, several processes at once: two writers and a reader run together with no "in use"
error, every write lands (counts exact), the reader sees counts only grow and is never kept out for long."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from graph.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys, time
    from tests.helpers.g_trade_rows import invoice
    import pyarrow as pa
    from graph.core import schema
    from graph.embedded import EmbeddedStore
    ws, tag, batches, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = EmbeddedStore(ws)
    for b in range(batches):          # back-to-back transactions: without hand-over this process keeps the file
        part = [invoice(b * rows + i, i % 40, (i * 7 + 1) % 40, b + i / rows, 1130 + i, tag) for i in range(rows)]
        with store.writer() as w:
            w.invoices(pa.Table.from_pylist(part, schema=schema.INVOICES))
            w.put_record("batch", f"{tag}{b}", {"rows": rows})
    store.close()
    print("done", flush=True)
""")

READER = textwrap.dedent("""
    import json, sys, time
    from graph.embedded import EmbeddedStore
    ws, seconds = sys.argv[1], float(sys.argv[2])
    store = EmbeddedStore(ws)
    seen, waits, end = [], [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        seen.append(store.counts().invoices)
        waits.append(time.monotonic() - t)
        time.sleep(0.02)
    store.close()
    waits.sort()
    print(json.dumps({"seen": seen, "p95": waits[int(len(waits) * 0.95)], "max": waits[-1]}), flush=True)
""")


def _run(script: Path, *args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests' / 'graph'}", FAPIAO_EMBEDDED_WAIT="30")
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_two_writers_and_a_reader_at_once(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    EmbeddedStore(ws).close()
    (tmp_path / "w.py").write_text(WRITER, encoding="utf-8")
    (tmp_path / "r.py").write_text(READER, encoding="utf-8")
    batches, rows = 30, 200
    procs = [_run(tmp_path / "w.py", ws, "A", batches, rows), _run(tmp_path / "w.py", ws, "B", batches, rows),
             _run(tmp_path / "r.py", ws, 6)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(out)
    assert outs[0].strip() == outs[1].strip() == "done"
    report = json.loads(outs[2])
    print(f"reader: {len(report['seen'])} reads, wait p95 {report['p95']:.3f} s, max {report['max']:.3f} s")
    seen = report["seen"]
    assert seen == sorted(seen) and len(seen) >= 3          # counts only grow; the reader kept getting turns
    with EmbeddedStore(ws) as store:
        assert store.counts().invoices == 2 * batches * rows
        assert len(store.records("batch")) == 2 * batches
    assert not list((ws / "waiting").glob("*"))              # nobody left announced as waiting

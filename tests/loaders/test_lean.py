"""`fapiao load` runs without pandas (loaders.lean), numba and SciPy's BLAS, and loads the same as with pandas."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"

LOAD = """
import atexit, json, sys

def stored():          # `fapiao load` ends the process with os._exit after the atexit handlers
    from graph import open_store
    with open_store("embedded:" + ws) as s:
        rows = sorted(s.invoice_stream().to_pylist(), key=lambda r: str(r))
    import pyarrow as pa
    print(json.dumps({"pandas": "pandas" in sys.modules, "blas": "scipy.linalg" in sys.modules,
                      "numba": "numba" in sys.modules, "rows": rows,
                      "pool": pa.default_memory_pool().backend_name}, default=str))

ws = sys.argv[2]
atexit.register(stored)
sys.argv = ["fapiao", "load", sys.argv[1], "--no-progress", "--store", "embedded:" + ws, "--report-dir", sys.argv[3]]
from workbench.cli import main
main()
"""

IN_PROCESS = """
import sys
from workbench.cli import cli
cli.main(["load", sys.argv[1], "--no-progress", "--quiet", "--store", "embedded:" + sys.argv[2], "--report-dir",
          sys.argv[3]], standalone_mode=False)
import pandas          # a Python caller of the command keeps its libraries
print("pandas", pandas.__name__)
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, check=False)


def test_load_command_skips_pandas_and_blas_and_stores_every_row(tmp_path: Path) -> None:
    out = _run(LOAD, str(FIX / "bad_rows.csv"), str(tmp_path / "ws"), str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["pandas"] is False and got["blas"] is False and got["numba"] is False
    assert got["pool"] == "system"      # Arrow allocates with malloc in a load-only process (loaders.lean)
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["loaded"] + report["rejected"] + report["skipped_identical"] == report["read"] > 0
    assert report["rejected"] > 0 and len(got["rows"]) == report["loaded"]

    # the same file loaded in a process that has pandas: the same invoices stored, field for field
    same = _run("import pandas\n" + LOAD, str(FIX / "bad_rows.csv"),
                str(tmp_path / "ws2"), str(tmp_path / "r2"))
    assert same.returncode == 0, same.stderr
    other = json.loads(same.stdout.strip().splitlines()[-1])
    assert other["pandas"] is True and other["rows"] == got["rows"]


def test_load_run_in_process_leaves_pandas_importable(tmp_path: Path) -> None:
    out = _run(IN_PROCESS, str(FIX / "bad_rows.csv"), str(tmp_path / "ws"), str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "pandas pandas"


def test_lean_process_refuses_only_modules_not_yet_imported() -> None:
    code = """
import sys, json
from loaders.lean import lean_load_process
marked = lean_load_process()
try:
    import pandas
    refused = "imported"
except ModuleNotFoundError as e:
    refused = str(e)
print(json.dumps({"marked": marked, "refused": refused, "loaders_load": "loaders.load" in sys.modules}))
"""
    out = _run(code)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["marked"] == ["pandas"]
    assert "left out of a load-only process" in got["refused"]
    assert got["loaders_load"] is False      # importing loaders.lean does not import the pipeline

    already = _run("import json, pandas\nfrom loaders.lean import lean_load_process\nmarked = lean_load_process()\n"
                   "import pandas as again\nprint(json.dumps({'marked': marked, 'same': again is pandas}))")
    assert already.returncode == 0, already.stderr
    assert json.loads(already.stdout.strip().splitlines()[-1]) == {"marked": [], "same": True}


FAST_EXIT = """
import atexit, json, sys
class Marker:
    def __del__(self):
        sys.stderr.write("torn down\\n")
keep = Marker()   # a module global: only the interpreter's teardown frees it
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
from workbench.cli import main
sys.argv = ["fapiao", "load", sys.argv[1], "--no-progress", "--store", "embedded:" + sys.argv[2], "--report-dir",
            sys.argv[3]]
main()
"""


def test_load_command_ends_without_the_interpreter_teardown(tmp_path: Path) -> None:
    """`fapiao load` exits right after its report (os._exit, atexit handlers run, output flushed), not through the
    interpreter's teardown of every module; the store and the report are complete."""
    out = _run(FAST_EXIT, str(FIX / "bad_rows.csv"), str(tmp_path / "ws"), str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    assert "atexit ran" in out.stderr
    assert "torn down" not in out.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["loaded"] + report["rejected"] + report["skipped_identical"] == report["read"] > 0
    assert f"{report['loaded']:,}" in out.stdout and "report.json" in out.stdout   # the whole table printed
    stored = _run("import sys\nfrom graph import open_store\nwith open_store('embedded:' + sys.argv[1]) as s:\n"
                  "    print(s.counts().invoices)", str(tmp_path / "ws"))
    assert stored.returncode == 0, stored.stderr
    assert int(stored.stdout.strip().splitlines()[-1]) == report["loaded"]

    # a load that fails still exits through the usual error path: one clear line, status 1
    bad = _run(FAST_EXIT, str(tmp_path / "missing.csv"), str(tmp_path / "ws2"), str(tmp_path / "r2"))
    assert bad.returncode == 1 and "error" in bad.stderr.lower()


HEAPS = """
import ctypes, json, os, sys, tempfile, threading
if sys.argv[1] == "capped":
    from loaders.lean import one_heap_per_core
    one_heap_per_core()
n = (os.cpu_count() or 1) + 3
ready = threading.Barrier(n)
kept = []
def work():
    ready.wait()                       # all allocate at once, each on its own thread
    kept.append([bytearray(1 << 16) for _ in range(64)])
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
with tempfile.NamedTemporaryFile(suffix=".xml") as f:
    fp = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(json.dumps({"heaps": open(f.name).read().count("<heap nr="), "cores": os.cpu_count() or 1}))
"""


def test_a_load_process_allocates_from_one_heap_per_core() -> None:
    """loaders.lean.one_heap_per_core: the threads share at most one of the C library's heaps per core (glibc's
    malloc_info lists the heaps), where by default each thread that allocates while others do gets its own."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only: one_heap_per_core does nothing on other C libraries")
    got = {}
    for mode in ("default", "capped"):
        out = _run(HEAPS, mode)
        assert out.returncode == 0, out.stderr
        got[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["capped"]["heaps"] <= got["capped"]["cores"]
    assert got["default"]["heaps"] > got["default"]["cores"]

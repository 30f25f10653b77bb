"""Work begun at process start (loaders.early): its answer is used only for the same, unchanged file."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from loaders import early
from loaders.utf8scan import scan_text


def counting(answer: str) -> tuple[list[Path], Callable[[Path], str]]:
    calls: list[Path] = []

    def fn(p: Path) -> str:
        calls.append(p)
        return f"{answer}:{p.read_bytes()!r}"
    return calls, fn


def test_take_uses_the_early_answer_once(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"x\n1\n")
    calls, fn = counting("early")
    assert early.start("t1", f, fn)
    assert not early.start("t1", f, fn)   # one job per file as it is
    assert early.started("t1", f)
    assert early.take("t1", f, lambda p: "now") == "early:b'x\\n1\\n'"
    assert len(calls) == 1
    assert not early.started("t1", f)
    assert early.take("t1", f, lambda p: "now") == "now"   # taken already: computed again


def test_a_changed_file_is_done_again(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"x\n1\n")
    gate = threading.Event()

    def slow(p: Path) -> bytes:
        gate.wait(5)
        return b"old"
    assert early.start("t2", f, slow)
    f.write_bytes(b"x\n1\n2\n")          # other size
    os.utime(f, ns=(1, 1))
    gate.set()
    assert early.take("t2", f, lambda p: p.read_bytes()) == b"x\n1\n2\n"


def test_a_failed_job_is_done_again_and_raises_there(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"x\n")

    def broken(p: Path) -> str:
        raise OSError("disk")
    assert early.start("t3", f, broken)
    assert early.take("t3", f, lambda p: "fine") == "fine"
    assert early.start("t3", f, broken)
    with pytest.raises(OSError, match="disk"):
        early.take("t3", f, broken)


def test_no_job_for_a_missing_file(tmp_path: Path) -> None:
    assert not early.start("t4", tmp_path / "none.csv", lambda p: 1)


def test_begin_load_starts_scan_and_hash_of_a_utf8_csv(tmp_path: Path) -> None:
    f = tmp_path / "发票.csv"
    data = 'invoice_number,seller_name\n"00000001","杭州""华成"\n'.encode()
    f.write_bytes(data)
    assert sorted(early.begin_load(f, encoding=None, digest=True)) == ["scan", "sha256"]
    assert early.take("scan", f, lambda p: (False, 0, True)) == scan_text(f)
    assert early.take("sha256", f, lambda p: None) == hashlib.sha256(data).hexdigest()


def test_begin_load_leaves_other_files_alone(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("发票号码,销方名称\n1,杭州\n".encode("gbk"))
    assert early.begin_load(gbk, encoding=None, digest=True) == ["sha256"]   # scan_text is for UTF-8 only
    assert early.begin_load(gbk, encoding=None, digest=True) == []            # started already
    early.take("sha256", gbk, lambda p: None)
    assert early.begin_load(gbk, encoding=None, digest=False) == []
    other = tmp_path / "a.parquet"
    other.write_bytes(b"PAR1")
    assert early.begin_load(other, encoding=None, digest=True) == []
    assert early.begin_load(tmp_path, encoding=None, digest=True) == []
    assert early.begin_load(tmp_path / "missing.csv", encoding=None, digest=True) == []

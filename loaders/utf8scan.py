"""One pass over a text file: is it strict UTF-8, and how long is its longest line (bytes)?

Validation runs on Arrow's UTF-8 checker and the line lengths on numpy, so no Python strings are
made; the answer is the same as decoding with Python's ``utf-8`` codec.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

CHUNK = 16 << 20


def _valid_utf8(data: bytes | memoryview) -> bool:
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int32))
    arr = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        arr.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _cut(data: bytes) -> int:
    """A split point in ``data`` that is not inside a UTF-8 sequence: after the last newline, else before
    the last lead byte."""
    cut = data.rfind(b"\n") + 1
    if cut:
        return cut
    cut = len(data)
    while cut > max(len(data) - 4, 0) and 0x80 <= data[cut - 1] <= 0xBF:
        cut -= 1
    if cut and data[cut - 1] >= 0xC0:
        cut -= 1
    return cut


def scan_utf8(path: Path) -> tuple[bool, int]:
    """(whole file is strict UTF-8, longest line in bytes counting its newline)."""
    ok, longest, line = True, 0, 0
    carry = b""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if len(nl):
                longest = max(longest, line + int(nl[0]) + 1, int(np.diff(nl).max()) if len(nl) > 1 else 0)
                line = len(chunk) - int(nl[-1]) - 1
            else:
                line += len(chunk)
            if ok:
                data = carry + chunk if carry else chunk
                cut = _cut(data)
                ok = _valid_utf8(memoryview(data)[:cut])
                carry = data[cut:]
    if ok and carry:
        ok = _valid_utf8(carry)
    return ok, max(longest, line)

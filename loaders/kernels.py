"""Numba kernels that read Arrow string buffers directly (no Python objects per row).

Each kernel handles the common, exactly-specified form of a cell and reports the rows it could not
handle, so the callers (:mod:`loaders.normalize`, :mod:`loaders.rules`) send only those rows through
the general pyarrow parsers. Kernels are compiled once and cached on disk (``cache=True``); ``nogil``
lets callers overlap them with pyarrow work on another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

F = TypeVar("F", bound=Callable[..., Any])

#: the kernels' Python functions by name, compiled by :func:`_compile` (numba imported then, not at module import)
_KERNELS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
_compile_lock = threading.Lock()
_compiled = False


class _Lazy:
    """Stands in for a kernel until numba is imported: the first call (or :func:`warm_up`) compiles every kernel."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any) -> Any:
        if not _compiled:
            _compile()
        return globals()[self.__name__](*args)


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)`` applied when a kernel is first needed, not at import: importing numba costs
    ~0.5 CPU-s of a ``fapiao load``'s start-up, on the main thread before the file is read; deferred, it runs on
    :func:`warm_up_in_background`'s thread beside the reading. The compiled kernels (and their on-disk cache, keyed
    by the function's source place) are the same as with ``numba.njit`` at import."""
    def wrap(fn: F) -> F:
        _KERNELS[fn.__name__] = (fn, options)
        return _Lazy(fn)  # type: ignore[return-value]
    return wrap


def _compile() -> None:
    """Replace every lazy kernel in this module by its numba dispatcher (once per process, thread-safe). All are
    replaced before any compiles, so a kernel calling another (``_parse_iso`` → ``_days``) finds the dispatcher."""
    global _compiled
    with _compile_lock:
        if _compiled:
            return
        import numba

        for name, (fn, options) in _KERNELS.items():
            globals()[name] = numba.njit(**options)(fn)
        _compiled = True


_MUL = np.uint64(0x9E3779B97F4A7C15)
_S31 = np.uint64(31)
_EMPTY_U8 = np.zeros(0, dtype=np.uint8)


def plain_strings(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous ``string`` array with nulls as ""."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    if arr.null_count:
        arr = _drop_validity(arr)
    return arr


def _drop_validity(arr: pa.Array) -> pa.Array:
    """``fill_null(arr, "")``: without copying when every null slot is already empty (as readers write them)."""
    n, bufs = len(arr), arr.buffers()
    if bufs[0] is not None and bufs[1] is not None:
        offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1]
        valid = np.unpackbits(np.frombuffer(bufs[0], dtype=np.uint8), bitorder="little")[arr.offset: arr.offset + n]
        if len(valid) == n and not (offsets[1:] != offsets[:-1])[valid == 0].any():
            return pa.Array.from_buffers(pa.string(), n, [None, bufs[1], bufs[2]], offset=arr.offset)
    return pc.fill_null(arr, "")


def buffers(arr: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.int32], U8]:
    """(offsets, bytes) of a null-free string array, zero-copy (offsets re-based to the array's slice)."""
    arr = plain_strings(arr)
    n = len(arr)
    bufs = arr.buffers()
    if bufs[1] is None:   # a zero-length array may come without buffers
        return np.zeros(n + 1, dtype=np.int32), _EMPTY_U8
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and bufs[2].size else _EMPTY_U8
    return offsets, data


def from_buffers(offsets: npt.NDArray[np.int32], data: U8) -> pa.Array:
    """A string array over numpy ``offsets`` / ``data`` (no copy)."""
    return pa.Array.from_buffers(pa.string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


# --- hashing ------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _hash_strings(offsets: npt.NDArray[np.int32], data: U8) -> U64:  # pragma: no cover - compiled
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        start, end = offsets[i], offsets[i + 1]
        width = end - start
        if width == 0:
            continue
        h = np.uint64(width) * _MUL
        p = start
        while p < end:
            w = np.uint64(0)
            k = 0
            while k < 8 and p + k < end:
                w |= np.uint64(data[p + k]) << np.uint64(8 * k)
                k += 1
            h = (h ^ w) * _MUL
            h ^= h >> _S31
            p += 8
        out[i] = h
    return out


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> U64:
    """A 64-bit hash of each string's UTF-8 bytes (nulls hash like ""; "" hashes to 0).

    Each string's bytes are read as little-endian 64-bit words (the last one zero-padded), folded
    into ``len * M`` by ``h = (h ^ w) * M; h ^= h >> 31`` with ``M = 0x9E3779B97F4A7C15``.
    """
    offsets, data = buffers(arr)
    return np.asarray(_hash_strings(offsets, data), dtype=np.uint64)


@njit(cache=True, nogil=True)
def _first_occurrence(h: U64) -> I64:  # pragma: no cover - compiled
    n = len(h)
    size = 1
    while size < 2 * n + 2:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.full(size, -1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = h[i]
        s = (v ^ (v >> np.uint64(29))) & mask
        while True:
            j = slots[s]
            if j < 0:
                slots[s] = i
                out[i] = i
                break
            if h[j] == v:
                out[i] = j
                break
            s = (s + np.uint64(1)) & mask
    return out


def first_occurrence(h: U64) -> I64:
    """For each position, the first position holding the same 64-bit value (itself when it is the first)."""
    return np.asarray(_first_occurrence(np.ascontiguousarray(h, dtype=np.uint64)), dtype=np.int64)


@njit(cache=True, nogil=True)
def _member(h: U64, values: U64) -> Bools:  # pragma: no cover - compiled
    size = 1
    while size < 2 * len(values) + 2:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.zeros(size, dtype=np.uint64)
    used = np.zeros(size, dtype=np.bool_)
    for v in values:
        s = (v ^ (v >> np.uint64(29))) & mask
        while used[s] and slots[s] != v:
            s = (s + np.uint64(1)) & mask
        slots[s] = v
        used[s] = True
    out = np.zeros(len(h), dtype=np.bool_)
    for i in range(len(h)):
        v = h[i]
        s = (v ^ (v >> np.uint64(29))) & mask
        while used[s]:
            if slots[s] == v:
                out[i] = True
                break
            s = (s + np.uint64(1)) & mask
    return out


def member(h: U64, values: U64) -> Bools:
    """True where ``h[i]`` is one of ``values`` (64-bit hashes)."""
    return np.asarray(_member(np.ascontiguousarray(h, dtype=np.uint64),
                              np.ascontiguousarray(values, dtype=np.uint64)), dtype=np.bool_)


@njit(cache=True, nogil=True)
def _table_insert(slots: U64, h: U64, start: int) -> None:  # pragma: no cover - compiled
    mask = np.uint64(len(slots) // 2 - 1)
    for i in range(len(h)):
        v = h[i]
        s = (v ^ (v >> np.uint64(29))) & mask
        while slots[2 * s + 1] != 0 and slots[2 * s] != v:
            s = (s + np.uint64(1)) & mask
        if slots[2 * s + 1] == 0:   # an equal hash already there keeps its (earlier) position
            slots[2 * s] = v
            slots[2 * s + 1] = np.uint64(start + i + 1)


@njit(cache=True, nogil=True)
def _table_lookup(slots: U64, h: U64) -> I64:  # pragma: no cover - compiled
    mask = np.uint64(len(slots) // 2 - 1)
    out = np.full(len(h), -1, dtype=np.int64)
    for i in range(len(h)):
        v = h[i]
        s = (v ^ (v >> np.uint64(29))) & mask
        while slots[2 * s + 1] != 0:
            if slots[2 * s] == v:
                out[i] = np.int64(slots[2 * s + 1]) - 1
                break
            s = (s + np.uint64(1)) & mask
    return out


class HashPositions:
    """64-bit hash → position of its first insertion (open addressing; hash and position side by side in
    one array so a probe touches one cache line; doubled when half full)."""

    def __init__(self) -> None:
        self._slots = np.zeros(2 * 1024, dtype=np.uint64)   # [hash, position + 1] per slot; 0 = empty
        self._all: list[U64] = []
        self.size = 0

    def reserve(self, n: int) -> None:
        """Make room for ``n`` hashes in all, so adding up to that many never re-inserts."""
        if 2 * n > len(self._slots) // 2:
            cap = len(self._slots) // 2
            while 2 * n > cap:
                cap *= 2
            self._slots = np.zeros(2 * cap, dtype=np.uint64)
            start = 0
            for part in self._all:
                _table_insert(self._slots, part, start)
                start += len(part)

    def add(self, h: U64) -> None:
        """Insert ``h`` at positions ``size, size + 1, ...``."""
        h = np.ascontiguousarray(h, dtype=np.uint64)
        self.reserve(self.size + len(h))
        _table_insert(self._slots, h, self.size)
        self._all.append(h)
        self.size += len(h)

    def lookup(self, h: U64) -> I64:
        """The first position each hash was added at, or -1."""
        return np.asarray(_table_lookup(self._slots, np.ascontiguousarray(h, dtype=np.uint64)), dtype=np.int64)


# --- text shape ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _needs_trim(offsets: npt.NDArray[np.int32], data: U8, unicode: bool) -> bool:  # pragma: no cover
    for i in range(len(offsets) - 1):
        start, end = offsets[i], offsets[i + 1]
        if end == start:
            continue
        a, b = data[start], data[end - 1]
        if a == 32 or (9 <= a <= 13) or b == 32 or (9 <= b <= 13):
            return True
        if unicode and (a <= 32 or b <= 32 or a >= 128 or b >= 128):   # 0x1C-0x1F and non-ASCII spaces too
            return True
    return False


def needs_trim(arr: pa.Array, *, unicode: bool) -> bool:
    """Whether any cell may start or end with whitespace (``unicode``: any non-ASCII edge byte counts)."""
    offsets, data = buffers(arr)
    return bool(_needs_trim(offsets, data, unicode))


@njit(cache=True, nogil=True)
def _digit_shape(offsets: npt.NDArray[np.int32], data: U8) -> tuple[I64, Bools]:  # pragma: no cover
    n = len(offsets) - 1
    chars = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start, end = offsets[i], offsets[i + 1]
        c = 0
        d = end > start
        for p in range(start, end):
            byte = data[p]
            if byte < 0x80 or byte >= 0xC0:   # count code points (skip UTF-8 continuation bytes)
                c += 1
            if byte < 48 or byte > 57:
                d = False
        chars[i] = c
        digits[i] = d
    return chars, digits


def digit_shape(arr: pa.Array) -> tuple[I64, Bools]:
    """(length in characters, all ASCII digits and non-empty) per cell."""
    offsets, data = buffers(arr)
    chars, digits = _digit_shape(offsets, data)
    return np.asarray(chars, dtype=np.int64), np.asarray(digits, dtype=np.bool_)


@njit(cache=True, nogil=True)
def _join_key(c_off: npt.NDArray[np.int32], c_data: U8, n_off: npt.NDArray[np.int32],
              n_data: U8) -> tuple[npt.NDArray[np.int32], U8]:  # pragma: no cover - compiled
    n = len(n_off) - 1
    offsets = np.zeros(n + 1, dtype=np.int32)
    total = 0
    for i in range(n):
        cl = c_off[i + 1] - c_off[i]
        total += (n_off[i + 1] - n_off[i]) + (cl + 1 if cl > 0 else 0)
        offsets[i + 1] = total
    out = np.empty(total, dtype=np.uint8)
    p = 0
    for i in range(n):
        cl = c_off[i + 1] - c_off[i]
        if cl > 0:
            out[p: p + cl] = c_data[c_off[i]: c_off[i + 1]]
            p += cl
            out[p] = 45   # "-"
            p += 1
        nl = n_off[i + 1] - n_off[i]
        out[p: p + nl] = n_data[n_off[i]: n_off[i + 1]]
        p += nl
    return offsets, out


def join_key(code: pa.Array, number: pa.Array) -> pa.Array:
    """``CODE-NUMBER``, or ``NUMBER`` where the code is empty (the invoice key)."""
    c_off, c_data = buffers(code)
    n_off, n_data = buffers(number)
    offsets, data = _join_key(c_off, c_data, n_off, n_data)
    return from_buffers(offsets, data)


# --- money --------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _parse_cents(offsets: npt.NDArray[np.int32], data: U8) -> tuple[I64, Bools]:  # pragma: no cover
    n = len(offsets) - 1
    values = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        p, end = offsets[i], offsets[i + 1]
        neg = False
        if p < end and data[p] == 45:
            neg = True
            p += 1
        v = 0
        digits = 0
        while p < end and 48 <= data[p] <= 57:
            v = v * 10 + (data[p] - 48)
            digits += 1
            p += 1
        if digits == 0 or digits > 15:
            continue
        frac = 0
        if p < end:
            if data[p] != 46:
                continue
            p += 1
            while p < end and 48 <= data[p] <= 57 and frac < 3:
                v = v * 10 + (data[p] - 48)
                frac += 1
                p += 1
            if p != end or frac == 0 or frac > 2:
                continue
        if frac == 0:
            v *= 100
        elif frac == 1:
            v *= 10
        values[i] = -v if neg else v
        ok[i] = True
    return values, ok


def parse_cents(arr: pa.Array) -> tuple[I64, Bools]:
    """Cells of the exact form ``-?D{1,15}(.D{1,2})?`` as hundredths; ``ok`` False for any other cell."""
    offsets, data = buffers(arr)
    values, ok = _parse_cents(offsets, data)
    return np.asarray(values, dtype=np.int64), np.asarray(ok, dtype=np.bool_)


# --- dates --------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _num(data: U8, p: int, width: int) -> int:  # pragma: no cover - compiled
    v = 0
    for k in range(width):
        c = data[p + k]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@njit(cache=True, nogil=True)
def _days(y: int, m: int, d: int) -> int:  # pragma: no cover - compiled
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


@njit(cache=True, nogil=True)
def _parse_iso(offsets: npt.NDArray[np.int32], data: U8) -> tuple[I64, npt.NDArray[np.int8]]:  # pragma: no cover
    n = len(offsets) - 1
    secs = np.zeros(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.int8)   # 0 not handled, 1 naive (local seconds), 2 with offset (UTC seconds)
    dim = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    for i in range(n):
        p, end = offsets[i], offsets[i + 1]
        length = end - p
        if length != 10 and length != 19 and length != 20 and length != 25:
            continue
        if data[p + 4] != 45 or data[p + 7] != 45:
            continue
        y, m, d = _num(data, p, 4), _num(data, p + 5, 2), _num(data, p + 8, 2)
        if y < 1900 or y > 2199 or m < 1 or m > 12 or d < 1:
            continue
        leap = (y % 4 == 0) and ((y % 100 != 0) or (y % 400 == 0))
        if d > (29 if (m == 2 and leap) else dim[m - 1]):
            continue
        local = _days(y, m, d) * 86400
        if length == 10:
            secs[i] = local
            kind[i] = 1
            continue
        sep = data[p + 10]
        if (sep != 84 and sep != 32) or data[p + 13] != 58 or data[p + 16] != 58:
            continue
        hh, mm, ss = _num(data, p + 11, 2), _num(data, p + 14, 2), _num(data, p + 17, 2)
        if hh < 0 or hh > 23 or mm < 0 or mm > 59 or ss < 0 or ss > 59:
            continue
        local += hh * 3600 + mm * 60 + ss
        if length == 19:
            secs[i] = local
            kind[i] = 1
        elif length == 20:
            if data[p + 19] != 90:   # "Z"
                continue
            secs[i] = local
            kind[i] = 2
        else:
            s = data[p + 19]
            if (s != 43 and s != 45) or data[p + 22] != 58:
                continue
            oh, om = _num(data, p + 20, 2), _num(data, p + 23, 2)
            if oh < 0 or oh > 23 or om < 0 or om > 59:
                continue
            off = oh * 3600 + om * 60
            secs[i] = local - off if s == 43 else local + off
            kind[i] = 2
    return secs, kind


def parse_iso(arr: pa.Array) -> tuple[I64, npt.NDArray[np.int8]]:
    """Strict ISO dates: ``YYYY-MM-DD``, ``YYYY-MM-DD[T ]HH:MM:SS`` (kind 1: local seconds) and the same
    with ``Z`` or ``±HH:MM`` (kind 2: UTC seconds); kind 0 marks every other cell (years 1900-2199 only)."""
    offsets, data = buffers(arr)
    secs, kind = _parse_iso(offsets, data)
    return np.asarray(secs, dtype=np.int64), np.asarray(kind, dtype=np.int8)



@njit(cache=True, nogil=True)
def _civil_year(days: int) -> int:  # pragma: no cover - compiled
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (1 if mp >= 10 else 0)


@njit(cache=True, nogil=True)
def _year_prefix_mismatch(offsets: npt.NDArray[np.int32], data: U8, secs: I64,
                          rows: Bools) -> tuple[Bools, Bools]:  # pragma: no cover - compiled
    n = len(offsets) - 1
    wrong = np.zeros(n, dtype=np.bool_)
    unsure = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if not rows[i]:
            continue
        lo = _civil_year((secs[i] - 14 * 3600) // 86400)
        if lo != _civil_year((secs[i] + 14 * 3600) // 86400):
            unsure[i] = True
            continue
        p = offsets[i]
        wrong[i] = (data[p] - 48) * 10 + (data[p + 1] - 48) != lo % 100
    return wrong, unsure


def year_prefix_mismatch(numbers: pa.Array, secs: I64, rows: Bools) -> tuple[Bools, Bools]:
    """For ``rows`` (numbers starting with two ASCII digits, ``secs`` UTC epoch seconds): (the two digits
    differ from the issue year's last two, the year differs between UTC-14h and UTC+14h so the time zone
    decides: the caller checks those)."""
    offsets, data = buffers(numbers)
    wrong, unsure = _year_prefix_mismatch(offsets, data, np.ascontiguousarray(secs, dtype=np.int64),
                                          np.ascontiguousarray(rows, dtype=np.bool_))
    return np.asarray(wrong, dtype=np.bool_), np.asarray(unsure, dtype=np.bool_)


def warm_up() -> None:
    """Import numba and load (or, on a cold cache, compile) every kernel now, so the first batch does not pay for
    it."""
    _compile()
    h = hash_strings(pa.array(["a", "2024-01-05T10:20:30+08:00"]))
    first_occurrence(h)
    member(h, h)
    table = HashPositions()
    table.add(h)
    table.lookup(h)
    needs_trim(pa.array([" a"]), unicode=True)
    digit_shape(pa.array(["12"]))
    join_key(pa.array(["1"]), pa.array(["2"]))
    parse_cents(pa.array(["1.5"]))
    parse_iso(pa.array(["2024-01-05T10:20:30+08:00"]))
    year_prefix_mismatch(pa.array(["24"]), np.zeros(1, np.int64), np.ones(1, np.bool_))


_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Start :func:`warm_up` on a daemon thread (once per process); overlaps kernel loading with file reading."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=warm_up, name="fapiao-kernel-warm-up", daemon=True)
        _warming.start()


def wait_for_warm_up() -> None:
    """Wait until the background warm-up is done, so a process that ends right after a load never exits
    while that thread is still inside the compiler (native code must not be cut off at interpreter exit)."""
    if _warming is not None:
        _warming.join()

"""Vectorised kernels that read Arrow string buffers directly (no Python objects per row).

Each kernel handles the common, exactly-specified form of a cell and reports the rows it could not
handle, so the callers (:mod:`loaders.normalize`, :mod:`loaders.rules`) send only those rows through
the general pyarrow parsers. They are whole-array numpy / pyarrow.compute operations (no compiler, nothing
to load or compile before the first call); both release the GIL on large arrays, so the load's parse
threads still run side by side.

Fixed places of the cells are read by gathering 8-byte little-endian words from an unaligned ``uint64`` view of a
zero-padded copy of the bytes (:func:`_unaligned`, :func:`_byte_rows`): one gather reads eight characters of every
cell; a column whose cells all have one width is read as a ``(cells, width)`` block without a gather.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

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


def _unaligned(data: U8, back: int, front: int = 0) -> U64:
    """``words[front + p]``: the 8 bytes of ``data`` from ``p`` on as a little-endian ``uint64`` (an unaligned view of
    a copy of ``data`` with ``front`` zero bytes before it and ``back`` (>= 8) after it)."""
    padded = np.zeros(front + len(data) + back, dtype=np.uint8)
    padded[front: front + len(data)] = data
    return np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))


def _byte_rows(starts: I64, data: U8, width: int, widths: I64 | None = None) -> U8:
    """The ``width`` (a multiple of 8) bytes from each cell's start, one row per cell (bytes past the data are 0;
    bytes past a cell's end are the next cells' or 0, for the caller to ignore). ``widths``: the cells' widths when
    the cells are consecutive (then cells of one width are copied as one block, without a gather)."""
    n = len(starts)
    if widths is not None and n and int(widths.min()) == int(widths.max()) <= width:
        w, first = int(widths[0]), int(starts[0])
        rows = np.zeros((n, width), dtype=np.uint8)
        rows[:, :w] = data[first: first + n * w].reshape(n, w)
        return rows
    words = _unaligned(data, back=width + 8)
    gathered = words[(starts[:, None] + np.arange(0, width, 8, dtype=np.int64)).reshape(-1)]
    out: U8 = gathered.view(np.uint8).reshape(n, width)
    return out


# --- hashing ------------------------------------------------------------------------------------
#: the low ``r`` bytes of a word, ``r`` = 0..8
_LOW_BYTES = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)
_MASK64 = (1 << 64) - 1
#: below this many cells still being folded, the rest of each is folded one by one (a long cell alone costs one
#: pass per 8 bytes over a few cells; row by row in Python, a fraction of a microsecond per 8 bytes)
_FEW = 8


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> U64:
    """A 64-bit hash of each string's UTF-8 bytes (nulls hash like ""; "" hashes to 0).

    Each string's bytes are read as little-endian 64-bit words (the last one zero-padded), folded
    into ``len * M`` by ``h = (h ^ w) * M; h ^= h >> 31`` with ``M = 0x9E3779B97F4A7C15``.

    Folded a word at a time for every cell at once: cells sorted by their number of words (longest first), so the
    cells still going at word ``k`` are a prefix of the order.
    """
    offsets, data = buffers(arr)
    n = len(offsets) - 1
    starts = offsets[:-1].astype(np.int64)
    widths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    h = widths.astype(np.uint64) * _MUL
    if n == 0:
        return h
    nwords = (widths + 7) >> 3
    most = int(nwords.max())
    if most == 0:
        return h
    if int(widths.min()) == int(widths.max()):   # one width: the cells as rows of zero-padded words, no gathers
        rows = _byte_rows(starts, data, 8 * most, widths).view("<u8")
        for k in range(most):
            h ^= rows[:, k]
            h *= _MUL
            h ^= h >> _S31
        return h
    order = None
    if int(nwords.min()) != most:
        order = np.argsort(np.negative(nwords, dtype=np.int16 if most < 1 << 15 else np.int64), kind="stable")
        starts, widths, nwords, h = starts[order], widths[order], nwords[order], h[order]
    # going[k]: how many cells have more than k words (a prefix of the order)
    going = n - np.cumsum(np.bincount(nwords, minlength=most + 1))
    words = _unaligned(data, back=8)
    for k in range(most):
        m, ending = int(going[k]), int(going[k + 1])
        if m < _FEW and m < n:
            _fold_rest(h, starts, widths, data, m, k)
            break
        w = words[starts[:m] + 8 * k]
        if ending < m:   # the last word of these cells: keep only their own bytes
            w[ending:] &= _LOW_BYTES[np.minimum(widths[ending:m] - 8 * k, 8)]
        part = h[:m]
        part ^= w
        part *= _MUL
        part ^= part >> _S31
    if order is None:
        return h
    out = np.empty_like(h)
    out[order] = h
    return out


def _fold_rest(h: U64, starts: I64, widths: I64, data: U8, m: int, k: int) -> None:
    """Fold words ``k`` on of cells ``0..m-1`` one cell at a time (Python integers)."""
    for i in range(m):
        start, end = int(starts[i]) + 8 * k, int(starts[i] + widths[i])
        tail = data[start:end].tobytes()
        tail += bytes(-len(tail) % 8)
        v = int(h[i])
        for w in np.frombuffer(tail, dtype="<u8").tolist():
            v = ((v ^ w) * 0x9E3779B97F4A7C15) & _MASK64
            v ^= v >> 31
        h[i] = v


def _home(h: U64, mask: int) -> I64:
    """A hash's first slot in a table of ``mask + 1`` slots."""
    return ((h ^ (h >> np.uint64(29))) & np.uint64(mask)).astype(np.int64)


def _rows(slots: npt.NDArray[np.void], s: I64) -> U64:
    """Slots ``s`` of a table as [hash, position + 1] rows (one 16-byte gather per slot)."""
    return slots[s].view(np.uint64).reshape(len(s), 2)


def _insert(slots: npt.NDArray[np.void], h: U64, start: int) -> None:
    """Insert ``h`` (at positions ``start, start + 1, ...``) into the open-addressing table ``slots`` (16 bytes per
    slot: hash, position + 1; position 0 = empty; linear probing) where a hash is not there yet (an equal hash
    already there, or earlier in ``h``, keeps its first position).

    All hashes probe at once, one slot per round: of the hashes meeting the same empty slot, one takes it (the
    first position of its value: written last to first, and made so where the write order was another); the
    others probe on.
    """
    mask = len(slots) - 1
    s = _home(h, mask)
    pos = np.arange(start + 1, start + len(h) + 1, dtype=np.uint64)
    while len(h):
        row = _rows(slots, s)
        empty = np.flatnonzero(row[:, 1] == 0)
        if len(empty):
            es, pairs = s[empty], np.stack([h[empty], pos[empty]], axis=1)
            slots[es[::-1]] = pairs[::-1].view("V16").reshape(len(es))
            back = _rows(slots, es)
            later = (back[:, 0] == pairs[:, 0]) & (back[:, 1] > pairs[:, 1])
            if later.any():   # a later position of the same value took the slot: the first one is kept
                table = slots.view(np.uint64).reshape(len(slots), 2)
                np.minimum.at(table[:, 1], es[later], pairs[later, 1])
                back = _rows(slots, es)
            row[empty] = back
        on = np.flatnonzero((row[:, 0] != h) | (row[:, 1] == 0))   # not stored (nor an equal hash) here: probe on
        h, pos, s = h[on], pos[on], (s[on] + 1) & mask


def _lookup(slots: npt.NDArray[np.void], h: U64) -> I64:
    """The position stored with each hash in ``slots`` (see :func:`_insert`), or -1."""
    mask = len(slots) - 1
    out = np.full(len(h), -1, dtype=np.int64)
    idx = np.arange(len(h), dtype=np.int64)
    s = _home(h, mask)
    while len(idx):
        row = _rows(slots, s)
        used = row[:, 1] != 0
        hit = used & (row[:, 0] == h)
        out[idx[hit]] = row[hit, 1].astype(np.int64) - 1
        on = np.flatnonzero(used & ~hit)
        idx, h, s = idx[on], h[on], (s[on] + 1) & mask
    return out


def _table(slots: int) -> npt.NDArray[np.void]:
    """An empty table of ``slots`` 16-byte slots."""
    return np.zeros((slots, 2), dtype=np.uint64).view("V16").reshape(slots)


def first_occurrence(h: U64) -> I64:
    """For each position, the first position holding the same 64-bit value (itself when it is the first)."""
    h = np.ascontiguousarray(h, dtype=np.uint64)
    if len(h) == 0:
        return np.zeros(0, dtype=np.int64)
    # Arrow numbers the distinct values in order of first occurrence: value j first occurs where the running
    # maximum of the numbers first reaches j
    codes = np.asarray(pc.dictionary_encode(pa.array(h, pa.uint64())).indices.to_numpy(), dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    new = np.empty(len(h), dtype=np.bool_)
    new[0] = True
    np.greater(seen[1:], seen[:-1], out=new[1:])
    return np.flatnonzero(new)[codes]


def has_duplicates(h: U64) -> bool:
    """Whether any 64-bit value occurs twice."""
    s = np.sort(np.asarray(h, dtype=np.uint64))
    return bool((s[1:] == s[:-1]).any())


def member(h: U64, values: U64) -> Bools:
    """True where ``h[i]`` is one of ``values`` (64-bit hashes)."""
    hits = pc.is_in(pa.array(np.asarray(h, dtype=np.uint64), pa.uint64()),
                    value_set=pa.array(np.asarray(values, dtype=np.uint64), pa.uint64()))
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=np.bool_)


class HashPositions:
    """64-bit hash → position of its first insertion (open addressing; hash and position side by side in
    one 16-byte slot so a probe is one gather; doubled when half full)."""

    def __init__(self) -> None:
        self._slots = _table(1024)
        self._all: list[U64] = []
        self.size = 0

    def reserve(self, n: int) -> None:
        """Make room for ``n`` hashes in all, so adding up to that many never re-inserts."""
        if 2 * n > len(self._slots):
            cap = len(self._slots)
            while 2 * n > cap:
                cap *= 2
            self._slots = _table(cap)
            start = 0
            for part in self._all:
                _insert(self._slots, part, start)
                start += len(part)

    def add(self, h: U64) -> None:
        """Insert ``h`` at positions ``size, size + 1, ...``."""
        h = np.ascontiguousarray(h, dtype=np.uint64)
        self.reserve(self.size + len(h))
        _insert(self._slots, h, self.size)
        self._all.append(h)
        self.size += len(h)

    def lookup(self, h: U64) -> I64:
        """The first position each hash was added at, or -1."""
        return _lookup(self._slots, np.ascontiguousarray(h, dtype=np.uint64))


# --- text shape ---------------------------------------------------------------------------------
def needs_trim(arr: pa.Array, *, unicode: bool) -> bool:
    """Whether any cell may start or end with whitespace (``unicode``: any non-ASCII edge byte counts)."""
    offsets, data = buffers(arr)
    if len(data) == 0:
        return False
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    for edge in (np.take(data, starts, mode="clip"), np.take(data, ends - 1, mode="clip")):
        if unicode:   # <= 32 (also 0x1C-0x1F) or >= 128 (non-ASCII spaces): 33..127 wraps to 0..94
            trim = (edge - np.uint8(33)) >= 95
        else:         # 9-13, 32
            trim = (edge - np.uint8(9)) < 5
            trim |= edge == 32
        if (trim & filled).any():
            return True
    return False


def digit_shape(arr: pa.Array) -> tuple[I64, Bools]:
    """(length in characters, all ASCII digits and non-empty) per cell."""
    arr = plain_strings(arr)
    offsets, data = buffers(arr)
    if len(data) and int(data.max()) >= 0x80:   # count code points (UTF-8 continuation bytes are not one)
        chars = np.asarray(pc.utf8_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        chars = (offsets[1:] - offsets[:-1]).astype(np.int64)
    digits = np.asarray(pc.ascii_is_decimal(arr).to_numpy(zero_copy_only=False), dtype=np.bool_)
    return chars, digits


def join_key(code: pa.Array, number: pa.Array) -> pa.Array:
    """``CODE-NUMBER``, or ``NUMBER`` where the code is empty (the invoice key)."""
    code, number = plain_strings(code), plain_strings(number)
    c_off, _ = buffers(code)
    has_code = c_off[1:] > c_off[:-1]
    if not has_code.any():
        return number
    joined = pc.binary_join_element_wise(code, number, "-")
    if has_code.all():
        return joined
    return pc.if_else(pa.array(has_code), joined, number)


# --- money --------------------------------------------------------------------------------------
#: the high ``r`` bytes of a word, ``r`` = 0..8, and ASCII "0" in every byte
_HIGH_BYTES = np.array([_MASK64 ^ ((1 << (8 * (8 - r))) - 1) for r in range(9)], dtype=np.uint64)
_ZEROS = np.uint64(0x3030303030303030)


def _eight_digits(w: U64) -> U64:
    """The number an 8-character word of ASCII digits spells (first character most significant)."""
    w = w - _ZEROS
    w = (w * np.uint64(10) + (w >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    w = (w * np.uint64(100) + (w >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return (w * np.uint64(10000) + (w >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _not_digits(w: U64) -> U64:
    """The high bit of each byte of ``w`` that is not an ASCII digit (no carry crosses a byte)."""
    t = w ^ _ZEROS
    return (((t & np.uint64(0x7F7F7F7F7F7F7F7F)) + np.uint64(0x7676767676767676)) | t) & np.uint64(0x8080808080808080)


def parse_cents(arr: pa.Array) -> tuple[I64, Bools]:
    """Cells of the exact form ``-?D{1,15}(.D{1,2})?`` as hundredths; ``ok`` False for any other cell.

    Each cell's last 16 bytes are read as two words: the form is checked on them at once (the high bit of every
    byte that is not a digit must be the sign's or the dot's), and the integer digits, moved up past the dot and
    the bytes before them set to ``0``, are read 8 at a time. Cells of 17-19 bytes go through :func:`_cents_wide`."""
    offsets, data = buffers(arr)
    n = len(offsets) - 1
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    ends = offsets[1:].astype(np.int64)
    widths = ends - offsets[:-1]
    words = _unaligned(data, back=8, front=16)
    hi, lo = words[ends + 8], words[ends]            # the bytes end-8 .. end-1 and end-16 .. end-9
    w = np.minimum(widths, 16)
    inside_hi, inside_lo = _HIGH_BYTES[np.minimum(w, 8)], _HIGH_BYTES[np.clip(w - 8, 0, 8)]
    dot2 = (((hi >> np.uint64(48)) & np.uint64(0xFF)) == 46) & (w >= 2)           # ".D"
    dot3 = (((hi >> np.uint64(40)) & np.uint64(0xFF)) == 46) & (w >= 3) & ~dot2   # ".DD"
    at = (np.negative(w) & 7).astype(np.uint64) * np.uint64(8)   # the first byte's place in its word
    neg = ((np.where(w <= 8, hi, lo) >> at) & np.uint64(0xFF)) == 45
    neg &= w >= 1
    sign = np.where(neg, np.uint64(0x80) << at, np.uint64(0))
    expect_hi = np.where(dot2, np.uint64(0x80 << 48), np.where(dot3, np.uint64(0x80 << 40), np.uint64(0)))
    expect_hi |= np.where(w <= 8, sign, np.uint64(0))
    cut = np.where(dot2, 2, np.where(dot3, 3, 0))     # bytes after the integer digits
    digits = widths - neg - cut
    ok = (widths >= 1) & (widths <= 16) & (digits >= 1) & (digits <= 15)
    ok &= (_not_digits(hi) & inside_hi) == expect_hi
    ok &= (_not_digits(lo) & inside_lo) == np.where(w > 8, sign, np.uint64(0))
    shift = (cut * 8).astype(np.uint64)
    moved = np.minimum(np.uint64(64) - shift, np.uint64(63))
    int_hi = np.where(cut > 0, (hi << shift) | (lo >> moved), hi)
    int_lo = lo << shift
    keep_hi, keep_lo = _HIGH_BYTES[np.clip(digits, 0, 8)], _HIGH_BYTES[np.clip(digits - 8, 0, 8)]
    int_hi = (int_hi & keep_hi) | (_ZEROS & ~keep_hi)
    int_lo = (int_lo & keep_lo) | (_ZEROS & ~keep_lo)
    value = (_eight_digits(int_lo) * np.uint64(100_000_000) + _eight_digits(int_hi)).astype(np.int64) * 100
    last = (hi >> np.uint64(56)).astype(np.int64) - 48
    before = ((hi >> np.uint64(48)) & np.uint64(0xFF)).astype(np.int64) - 48
    value += np.where(dot2, last * 10, np.where(dot3, before * 10 + last, 0))
    np.negative(value, out=value, where=neg)
    value[~ok] = 0
    wide = np.flatnonzero((widths > 16) & (widths <= 19))
    if len(wide):
        value[wide], ok[wide] = _cents_wide(offsets[:-1][wide].astype(np.int64), widths[wide], data)
    return value, ok


def _cents_wide(starts: I64, widths: I64, data: U8) -> tuple[I64, Bools]:
    """:func:`parse_cents` of cells of 17-19 bytes (at most 15 integer digits, a sign and two decimals): the form
    checked on the cells' first 24 bytes, the integer digits read as two 8-digit words ending at the dot."""
    n = len(starts)
    width = 24
    cells = _byte_rows(starts, data, width)
    flat = cells.reshape(-1)
    at = np.arange(0, width * n, width, dtype=np.int64)
    neg = cells[:, 0] == 45                           # "-"
    signs = neg.astype(np.int64)
    dot2 = flat[at + np.clip(widths - 2, 0, width - 1)] == 46   # ".D"
    dot3 = flat[at + np.clip(widths - 3, 0, width - 1)] == 46   # ".DD"
    frac = np.where(dot2, 1, np.where(dot3, 2, 0))
    dots = (frac > 0).astype(np.int64)
    int_digits = widths - signs - dots - frac
    ok = (widths >= 1) & (widths <= 19) & (int_digits >= 1) & (int_digits <= 15)
    # every other byte of the cell an ASCII digit: the non-digits inside the cell, less the sign and the dot
    other = (cells - np.uint8(48)) >= 10
    other &= np.arange(width, dtype=np.uint8) < np.minimum(widths, width).astype(np.uint8)[:, None]
    other[:, 0] &= ~neg
    dot_at = np.flatnonzero((dots > 0) & ok)
    other.reshape(-1)[at[dot_at] + widths[dot_at] - frac[dot_at] - 1] = False
    left = other.view(np.uint64)
    ok &= (left[:, 0] | left[:, 1] | left[:, 2]) == 0
    int_end = starts + widths - dots - frac        # the integer digits end here
    words = _unaligned(data, back=8, front=16)
    few = np.minimum(int_digits, 8).clip(0, 8)
    low = (words[int_end + 8] & _HIGH_BYTES[few]) | (_ZEROS & ~_HIGH_BYTES[few])
    more = (int_digits - 8).clip(0, 8)
    high = (words[int_end] & _HIGH_BYTES[more]) | (_ZEROS & ~_HIGH_BYTES[more])
    value = (_eight_digits(high) * np.uint64(100_000_000) + _eight_digits(low)).astype(np.int64) * 100
    last = flat[at + np.clip(widths - 1, 0, width - 1)].astype(np.int64) - 48
    before = flat[at + np.clip(widths - 2, 0, width - 1)].astype(np.int64) - 48
    value += np.where(frac == 1, last * 10, np.where(frac == 2, before * 10 + last, 0))
    value = np.where(neg, -value, value)
    return np.where(ok, value, 0), ok


# --- dates --------------------------------------------------------------------------------------
def _digit_bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


#: the bytes that must be ASCII digits in ``YYYY-MM-DD``, ``…[T ]HH:MM:SS`` and ``…±HH:MM``, as 0/1 bytes of 4 words
def _needed(*positions: int) -> U64:
    need = np.zeros(32, dtype=np.uint8)
    need[list(positions)] = 1
    return need.view("<u8")


_DATE = (0, 1, 2, 3, 5, 6, 8, 9)
_TIME = (*_DATE, 11, 12, 14, 15, 17, 18)
_NEEDED = np.stack([_needed(*_DATE), _needed(*_TIME), _needed(*_TIME, 20, 21, 23, 24)])
_FIRST_YEAR, _YEARS = 1900, 300


def _days(y: I64, m: I64, d: I64) -> I64:
    """Days since 1970-01-01 of the proleptic Gregorian dates (``y``, ``m``, ``d``)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    days: I64 = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days


#: days from 1970-01-01 to the first of each month (index 1-12; 13 = next January) of the years 1900-2199, and the
#: days in each month
_MONTH_START = _days(np.arange(_FIRST_YEAR, _FIRST_YEAR + _YEARS)[:, None] + np.array([0] * 13 + [1]),
                     np.array([1, *range(1, 13), 1]), np.ones(14, dtype=np.int64)).astype(np.int64)
_MONTH_DAYS = np.zeros_like(_MONTH_START)
_MONTH_DAYS[:, 1:13] = _MONTH_START[:, 2:14] - _MONTH_START[:, 1:13]

def parse_iso(arr: pa.Array) -> tuple[I64, npt.NDArray[np.int8]]:
    """Strict ISO dates: ``YYYY-MM-DD``, ``YYYY-MM-DD[T ]HH:MM:SS`` (kind 1: local seconds) and the same
    with ``Z`` or ``±HH:MM`` (kind 2: UTC seconds); kind 0 marks every other cell (years 1900-2199 only)."""
    offsets, data = buffers(arr)
    n = len(offsets) - 1
    secs = np.zeros(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.int8)
    widths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    fits = (widths == 10) | (widths == 19) | (widths == 20) | (widths == 25)
    rows = np.flatnonzero(fits)
    if len(rows) == 0:
        return secs, kind
    width = widths[rows]
    cells = _byte_rows(offsets[:-1][rows].astype(np.int64), data, 32, width if len(rows) == n else None)
    digit = cells - np.uint8(48)                      # 0-9 where an ASCII digit
    other = (digit >= 10).view(np.uint64)
    form = np.where(width == 10, 0, np.where(width == 25, 2, 1))
    need = _NEEDED[form] if int(form.min()) != int(form.max()) else _NEEDED[form[:1]]
    ok = ((other[:, 0] & need[:, 0]) | (other[:, 1] & need[:, 1]) | (other[:, 2] & need[:, 2])
          | (other[:, 3] & need[:, 3])) == 0
    ok &= (cells[:, 4] == 45) & (cells[:, 7] == 45)   # "-"

    def num(p: int) -> npt.NDArray[np.int32]:   # the two digits at p, p + 1 (0-99 where both are digits)
        return (digit[:, p] * np.uint8(10) + digit[:, p + 1]).astype(np.int32)

    y, m, d = num(0) * 100 + num(2) - _FIRST_YEAR, num(5), num(8)
    ok &= (y >= 0) & (y < _YEARS) & (m >= 1) & (m <= 12) & (d >= 1)
    month = np.where(ok, y * 14 + m, 1)               # a row of the month tables
    ok &= d <= _MONTH_DAYS.reshape(-1)[month]
    day = _MONTH_START.reshape(-1)[month] + (d - 1)
    timed, offset = width > 10, width == 25
    every_timed, every_offset = bool(timed.all()), bool(offset.all())
    clock = None
    if timed.any():
        sep, hh, mm, ss = cells[:, 10], num(11), num(14), num(17)
        good = ((sep == 84) | (sep == 32)) & (cells[:, 13] == 58) & (cells[:, 16] == 58)   # "T" / " ", ":"
        good &= (hh <= 23) & (mm <= 59) & (ss <= 59)
        ok &= good if every_timed else ~timed | good
        clock = hh * 3600 + mm * 60 + ss
        if not every_timed:
            clock[~timed] = 0
        ok &= (width != 20) | (cells[:, 19] == 90)      # "Z"
        if offset.any():
            sign, oh, om = cells[:, 19], num(20), num(23)
            good = ((sign == 43) | (sign == 45)) & (cells[:, 22] == 58) & (oh <= 23) & (om <= 59)
            ok &= good if every_offset else ~offset | good
            shift = (oh * 3600 + om * 60) * np.where(sign == 43, -1, 1).astype(np.int32)
            clock += shift if every_offset else np.where(offset, shift, 0).astype(np.int32)
    local = day.astype(np.int64) * 86400
    if clock is not None:
        local += clock
    local[~ok] = 0
    if len(rows) == n:
        secs = local
        kind = np.where(ok, np.where(width <= 19, 1, 2), 0).astype(np.int8)
    else:
        secs[rows] = local
        kind[rows] = np.where(ok, np.where(width <= 19, 1, 2), 0)
    return secs, kind


def _civil_year(days: I64) -> I64:
    """The proleptic Gregorian year of each day counted from 1970-01-01."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    year: I64 = yoe + era * 400 + ((5 * doy + 2) // 153 >= 10)
    return year


def year_prefix_mismatch(numbers: pa.Array, secs: I64, rows: Bools) -> tuple[Bools, Bools]:
    """For ``rows`` (numbers starting with two ASCII digits, ``secs`` UTC epoch seconds): (the two digits
    differ from the issue year's last two, the year differs between UTC-14h and UTC+14h so the time zone
    decides: the caller checks those)."""
    offsets, data = buffers(numbers)
    n = len(offsets) - 1
    wrong = np.zeros(n, dtype=np.bool_)
    unsure = np.zeros(n, dtype=np.bool_)
    at = np.flatnonzero(np.asarray(rows, dtype=np.bool_))
    if len(at) == 0:
        return wrong, unsure
    s = np.asarray(secs, dtype=np.int64)[at]
    lo = _civil_year((s - 14 * 3600) // 86400)
    differ = lo != _civil_year((s + 14 * 3600) // 86400)
    p = offsets[:-1][at].astype(np.int64)
    prefix = (np.take(data, p, mode="clip").astype(np.int64) - 48) * 10 + np.take(data, p + 1, mode="clip") - 48
    wrong[at] = ~differ & (prefix != lo % 100)
    unsure[at] = differ
    return wrong, unsure

"""Vectorised parsers from text cells to typed values: money → integer fen, rates, dates → epoch seconds.

Every parser takes a pyarrow string array and returns numpy arrays plus an ``ok`` mask, so a bad
cell never raises: the validator turns ``~ok`` into a rule violation for that row.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loaders import kernels

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

EXEMPT_WORDS = ("***", "**", "*", "免税", "不征税", "免征", "免征增值税", "exempt", "tax-free", "free")
_POW10 = np.array([10 ** i for i in range(9)], dtype=np.int64)


def clean(arr: pa.Array | pa.ChunkedArray, *, unicode: bool = True) -> pa.Array:
    """Strings with surrounding whitespace removed and nulls as "".

    ``unicode=False`` trims ASCII whitespace only (faster; for codes, numbers and dates, where any other
    stray character is left for validation to reject with a reason).
    """
    arr = kernels.plain_strings(arr)
    if not kernels.needs_trim(arr, unicode=unicode):
        return arr   # nothing to trim: skip the copy
    trimmed = pc.utf8_trim_whitespace(arr) if unicode else pc.ascii_trim_whitespace(arr)
    return trimmed if trimmed.null_count == 0 else pc.fill_null(trimmed, "")


def np_bool(arr: pa.Array | pa.ChunkedArray) -> BoolArray:
    """A boolean arrow array as numpy (nulls → False)."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def blank(arr: pa.Array) -> BoolArray:
    """True where the (cleaned) cell is empty (a null is not blank)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        return np_bool(pc.equal(pc.utf8_length(arr), 0))
    offsets, _ = kernels.buffers(arr)
    empty: BoolArray = offsets[1:] == offsets[:-1]
    return empty & np_bool(pc.is_valid(arr)) if arr.null_count else empty


def parse_decimal(arr: pa.Array, scale: int, *, try_cast: bool = True) -> tuple[IntArray, BoolArray]:
    """Parse decimal text exactly into integers of ``10**-scale`` units (no float on the way).

    Accepts ``-1,234.56``, ``¥12.5``, ``12元``; more than ``scale`` decimals, letters or overflow are not ok.
    ``try_cast=False`` skips the whole-column Arrow decimal cast (used for a subset of a column that
    as a whole would not have cast).

    >>> v, ok = parse_decimal(pa.array(["1,234.56", "-0.5", "x", "1.234"]), 2)
    >>> v.tolist(), ok.tolist()
    ([123456, -50, 0, 0], [True, True, False, False])
    """
    try:  # fast path: a clean column casts in one go
        dec = arr.cast(pa.decimal128(18, scale)) if try_cast else None
        if dec is not None and dec.null_count == 0:
            words = np.frombuffer(dec.buffers()[1], dtype=np.int64)[2 * dec.offset::2][: len(dec)]
            return words.copy(), np.ones(len(dec), dtype=np.bool_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = pc.replace_substring_regex(arr, r"[¥￥,，元\s+]", "")
    ok = np_bool(pc.match_substring_regex(s, r"^-?\d{1,15}(\.\d*)?$"))
    dot = np.asarray(pc.find_substring(s, ".").to_numpy(zero_copy_only=False), dtype=np.int64)
    length = np.asarray(pc.utf8_length(s).to_numpy(zero_copy_only=False), dtype=np.int64)
    frac = np.where(dot >= 0, length - dot - 1, 0)
    ok &= frac <= scale
    digits = pc.replace_substring(s, ".", "")
    digits = pc.if_else(pa.array(ok), digits, "0")
    digits = pc.if_else(pc.equal(digits, "-"), "0", digits)
    ints = np.asarray(digits.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    values = ints * _POW10[np.clip(scale - frac, 0, 8)]
    return np.where(ok, values, 0), ok


def parse_fen(arr: pa.Array) -> tuple[IntArray, BoolArray, BoolArray]:
    """Money in yuan → integer fen. Returns (fen, ok, exempt) where exempt marks ``***`` / 免税 cells (fen 0).

    Cells of the plain form ``-1234.56`` are parsed by a vectorised kernel (:func:`loaders.kernels.parse_cents`);
    only the others go through :func:`parse_decimal`, with the same result as if the whole column had.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_string(arr.type) and arr.null_count == 0:
        fen, hit = kernels.parse_cents(arr)
        if hit.all():
            return fen, hit, np.zeros(len(arr), dtype=np.bool_)
        miss = np.flatnonzero(~hit)
        sub = arr.take(pa.array(miss))
        # plain cells always cast to decimal, so the column would have cast exactly when the rest does
        sub_fen, sub_ok = parse_decimal(sub, 2)
        sub_exempt = np_bool(pc.is_in(pc.utf8_lower(sub), pa.array(EXEMPT_WORDS)))
        fen[miss] = sub_fen
        ok = hit.copy()
        ok[miss] = sub_ok | sub_exempt
        exempt = np.zeros(len(arr), dtype=np.bool_)
        exempt[miss] = sub_exempt
        return fen, ok, exempt
    fen, ok = parse_decimal(arr, 2)
    exempt = np_bool(pc.is_in(pc.utf8_lower(arr), pa.array(EXEMPT_WORDS)))
    return fen, ok | exempt, exempt


def parse_rate(arr: pa.Array) -> tuple[IntArray, BoolArray, BoolArray]:
    """Tax rate → integer units of 0.0001 (13% → 1300). Accepts "13%", "0.13", "13", "1.5%", 免税 / ***.

    Returns (rate_e4, ok, exempt); a plain number >= 1 is read as a percentage.
    """
    try:  # fast path: a column of plain numbers
        dec = arr.cast(pa.decimal128(18, 4))
        if dec.null_count == 0:
            v = np.frombuffer(dec.buffers()[1], dtype=np.int64)[2 * dec.offset::2][: len(dec)]
            big = v >= 10000
            rate = np.where(big, v // 100, v)
            ok = (~big | (v % 100 == 0)) & (rate >= 0) & (rate < 10000)
            return rate.astype(np.int64), ok, np.zeros(len(dec), dtype=np.bool_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    exempt = np_bool(pc.is_in(pc.utf8_lower(arr), pa.array(EXEMPT_WORDS)))
    pct = np_bool(pc.ends_with(arr, "%"))
    as_pct, ok_pct = parse_decimal(pc.replace_substring(arr, "%", ""), 2)
    plain, ok_plain = parse_decimal(arr, 4)
    big = ok_plain & (plain >= 10000)
    plain_pct, ok_plain_pct = parse_decimal(arr, 2)
    rate = np.where(pct, as_pct, np.where(big, plain_pct, plain))
    ok = np.where(pct, ok_pct, np.where(big, ok_plain_pct, ok_plain))
    rate = np.where(exempt, 0, rate)
    ok = (ok | exempt) & (rate >= 0) & (rate < 10000)
    return rate.astype(np.int64), ok, exempt


def _days_from_civil(y: IntArray, m: IntArray, d: IntArray) -> IntArray:
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: IntArray = np.asarray(era * 146097 + doe - 719468, dtype=np.int64)
    return out


def _days_in_month(y: IntArray, m: IntArray) -> IntArray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[np.clip(m, 1, 12) - 1]
    return np.where((m == 2) & leap, 29, dim)


def _to_utc(local_seconds: IntArray, tz: str) -> IntArray:
    naive = pa.array(local_seconds, type=pa.timestamp("s"))
    aware = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    return np.array(aware.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


_DATE_RE = (r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
            r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2}))?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$")


def _int_field(struct: pa.StructArray, name: str) -> IntArray:
    f = pc.struct_field(struct, name)
    f = pc.if_else(pc.equal(pc.utf8_length(f), 0), "0", f)
    return np.asarray(pc.fill_null(f, "0").cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _slow_dates(arr: pa.Array, tz: str, *, try_cast: bool = True) -> tuple[IntArray, BoolArray]:
    """Every other accepted form: 2024/1/5, 2024.01.05, 2024年1月5日, T separator, offsets, Excel serials.

    ``try_cast`` as in :func:`parse_decimal` (for the Excel serial numbers).
    """
    s = pc.replace_substring_regex(arr, r"(\d{1,2}:\d{2}:\d{2})\.\d+", r"\1")
    s = pc.replace_substring_regex(s, r"日", "")
    s = pc.replace_substring_regex(s, r"(\d)[年月/.](\d)", r"\1-\2")
    s = pc.replace_substring_regex(s, r"(\d)[年月/.](\d)", r"\1-\2")
    s = pc.replace_substring_regex(s, r"(\d)T(\d)", r"\1 \2")
    matched = np_bool(pc.match_substring_regex(s, _DATE_RE))
    parts = pc.extract_regex(pc.if_else(pa.array(matched), s, "1970-1-1"), _DATE_RE)
    y, m, d = (_int_field(parts, k) for k in ("y", "m", "d"))
    hh, mm, ss = (_int_field(parts, k) for k in ("H", "M", "S"))
    ok = matched & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _days_in_month(y, m)) & (hh < 24) & (mm < 60) & (ss < 60)
    local = _days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
    tzs = pc.fill_null(pc.struct_field(parts, "tz"), "")
    has_off = np_bool(pc.greater(pc.utf8_length(tzs), 0))
    off_digits = pc.replace_substring(pc.replace_substring(tzs, ":", ""), "Z", "+0000")
    off_digits = pc.if_else(pa.array(has_off), off_digits, "+0000")
    sign = np.where(np_bool(pc.starts_with(off_digits, "-")), -1, 1)
    oh = np.asarray(pc.utf8_slice_codeunits(off_digits, 1, 3).cast(pa.int64()).to_numpy(zero_copy_only=False))
    om = np.asarray(pc.utf8_slice_codeunits(off_digits, 3, 5).cast(pa.int64()).to_numpy(zero_copy_only=False))
    offset = sign * (oh * 3600 + om * 60)
    utc = np.where(has_off, local - offset, _to_utc(np.where(ok, local, 0), tz))
    # Excel serial day numbers (1900 date system), e.g. 45296 or 45296.5
    serial, serial_ok = parse_decimal(arr, 6, try_cast=try_cast)
    serial_ok &= (serial >= 20000 * 10**6) & (serial < 80000 * 10**6) & ~matched
    excel_local = (serial - 25569 * 10**6) * 86400 // 10**6
    utc = np.where(serial_ok, _to_utc(np.where(serial_ok, excel_local, 0), tz), utc)
    return utc.astype(np.int64), ok | serial_ok


def parse_datetime(arr: pa.Array, tz: str) -> tuple[IntArray, BoolArray]:
    """Issue dates → UTC epoch seconds. Naive values are read in ``tz`` (Asia/Shanghai by default).

    Fast path: a column of ``YYYY-MM-DD[ HH:MM:SS]``; any other form sends the column through :func:`_slow_dates`.
    """
    if len(arr) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_string(arr.type) and arr.null_count == 0:
        return _kernel_dates(arr, tz)
    return _arrow_dates(arr, tz)


def _kernel_dates(arr: pa.Array, tz: str) -> tuple[IntArray, BoolArray]:
    """Strict ISO cells by a vectorised kernel; the rest exactly as :func:`_arrow_dates` would have read them
    as part of the whole column (one Arrow cast for the column, else :func:`_slow_dates` row by row)."""
    secs, kind = kernels.parse_iso(arr)
    naive, aware = kind == 1, kind == 2
    utc = secs
    if naive.any():
        utc = np.where(naive, _to_utc(np.where(naive, secs, 0), tz), secs)
    miss = np.flatnonzero(kind == 0)
    if len(miss) == 0:
        return utc, np.ones(len(arr), dtype=np.bool_)
    sub = arr.take(pa.array(miss))
    has_naive, has_aware = bool(naive.any()), bool(aware.any())
    sub_utc: IntArray | None = None
    # the whole column casts in one mode only if every strict cell has that mode and the rest casts too
    for mode_aware in ((True,) if not has_naive else ()) + ((False,) if not has_aware else ()):
        try:
            cast = sub.cast(pa.timestamp("s", tz="UTC") if mode_aware else pa.timestamp("s"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if cast.null_count == 0:
            s = np.array(cast.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
            sub_utc, sub_ok = (s if mode_aware else _to_utc(s, tz)), np.ones(len(sub), dtype=np.bool_)
            break
    if sub_utc is None:   # strict cells are dates, so the whole column never casts as decimals
        sub_utc, sub_ok = _slow_dates(sub, tz, try_cast=not (has_naive or has_aware))
    utc[miss] = sub_utc
    ok = kind != 0
    ok[miss] = sub_ok
    return utc, ok


def _arrow_dates(arr: pa.Array, tz: str) -> tuple[IntArray, BoolArray]:
    first = str(arr[0].as_py() or "")
    with_offset = first.endswith("Z") or (len(first) > 19 and first[-6] in "+-")
    for aware in ((True, False) if with_offset else (False, True)):
        try:  # fast paths: one strict ISO 8601 form (with or without an offset) for the whole column
            cast = arr.cast(pa.timestamp("s", tz="UTC") if aware else pa.timestamp("s"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if cast.null_count == 0:
            secs = np.array(cast.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
            return (secs if aware else _to_utc(secs, tz)), np.ones(len(arr), dtype=np.bool_)
    return _slow_dates(arr, tz)


def now_epoch(tz: str) -> int:
    """Current time as epoch seconds."""
    return int(datetime.now(ZoneInfo(tz)).timestamp())

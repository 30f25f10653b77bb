"""统一社会信用代码 (unified social credit code, GB 32100-2015): format and check character."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUE = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
FORMAT = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a code."""
    if len(first17) != 17 or any(c not in VALUE for c in first17):
        raise ValueError(f"need 17 characters from {CHARSET!r}, got {first17!r}")
    c = 31 - sum(VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True)) % 31
    return CHARSET[0 if c == 31 else c]


def is_well_formed(code: str) -> bool:
    """True when ``code`` has the 18-character format (the check character is not verified)."""
    return bool(FORMAT.match(code))


def is_valid(code: str) -> bool:
    """True when ``code`` is well formed and its check character is right.

    >>> is_valid("91350200776049653A"), is_valid("91350200776049653B")
    (True, False)
    """
    return is_well_formed(code) and check_char(code[:17]) == code[17]


def check_mask(codes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised format and check-character test for a pyarrow string array of (upper-case) codes.

    Returns ``(well_formed, check_ok)`` boolean arrays: ``well_formed`` where the 18-character
    :data:`FORMAT` matches, ``check_ok`` where it does and the check character is right.

    >>> import pyarrow as pa
    >>> [m.tolist() for m in check_mask(pa.array(["91350200776049653A", "91350200776049653B", "x"]))]
    [[True, True, False], [True, False, False]]
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(codes)
    well = np.zeros(n, dtype=np.bool_)
    ok = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return well, ok
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    length = np.asarray(pc.fill_null(pc.binary_length(codes), 0).to_numpy(zero_copy_only=False))
    idx = np.flatnonzero(length == 18)
    if len(idx) == 0:
        return well, ok
    sub = codes if len(idx) == n else codes.take(pa.array(idx))
    offsets = np.frombuffer(sub.buffers()[1], dtype=np.int32)[sub.offset: sub.offset + len(sub) + 1]
    data = np.frombuffer(sub.buffers()[2], dtype=np.uint8)
    chars = data[offsets[0]: offsets[0] + 18 * len(sub)].reshape(len(sub), 18)
    values = _LOOKUP[chars]                       # int8, -1 for characters outside the charset
    fmt = (values.min(axis=1) >= 0) & (values[:, 2:8].max(axis=1) < 10)
    total = np.zeros(len(sub), dtype=np.int32)
    for i, w in enumerate(WEIGHTS):
        total += values[:, i].astype(np.int32) * w
    c = 31 - total % 31
    c = np.where(c == 31, 0, c)
    well[idx] = fmt
    ok[idx] = fmt & (values[:, 17] == c)
    return well, ok


def valid_mask(codes: pa.Array, well_formed: np.ndarray) -> np.ndarray:
    """True where ``codes`` is well formed and its check character matches (see :func:`check_mask`)."""
    import numpy as np

    return np.asarray(check_mask(codes)[1] & well_formed, dtype=np.bool_)


def _lookup() -> np.ndarray:
    import numpy as np

    table = np.full(256, -1, dtype=np.int8)
    for ch, v in VALUE.items():
        table[ord(ch)] = v
    return table


_LOOKUP = _lookup()

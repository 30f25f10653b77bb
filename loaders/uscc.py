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


def valid_mask(codes: pa.Array, well_formed: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_valid` for a pyarrow string array: True where the check character matches.

    ``well_formed`` marks the entries already known to match :data:`FORMAT` (only those are checked;
    the others come back False).
    """
    import numpy as np
    import pyarrow as pa

    out = np.zeros(len(codes), dtype=np.bool_)
    idx = np.flatnonzero(well_formed)
    if len(idx) == 0:
        return out
    sub = codes.take(pa.array(idx))
    if isinstance(sub, pa.ChunkedArray):
        sub = sub.combine_chunks()
    offsets = np.frombuffer(sub.buffers()[1], dtype=np.int32)[sub.offset: sub.offset + len(sub) + 1]
    data = np.frombuffer(sub.buffers()[2], dtype=np.uint8)
    chars = data[offsets[0]: offsets[0] + 18 * len(sub)].reshape(len(sub), 18)
    values = _LOOKUP[chars]
    c = 31 - (values[:, :17].astype(np.int64) @ np.array(WEIGHTS, dtype=np.int64)) % 31
    c = np.where(c == 31, 0, c)
    out[idx] = values[:, 17] == c
    return out


def _lookup() -> np.ndarray:
    import numpy as np

    table = np.zeros(256, dtype=np.int64)
    for ch, v in VALUE.items():
        table[ord(ch)] = v
    return table


_LOOKUP = _lookup()

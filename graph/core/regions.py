"""Region codes (GB/T 2260, 6 digits) to names, from the table shipped in ``graph/core/data/regions.tsv``.

>>> region_name("440100")
'广州市'
>>> region_name("440106")
'广东省（440106）'
>>> region_name("深圳")
'深圳'
>>> region_name(None)
''
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_TABLE = Path(__file__).resolve().parent / "data" / "regions.tsv"


@cache
def _names() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            out[code] = name.strip()
    return out


def region_name(code: str | None) -> str:
    """The name of region ``code``: the city when listed, else its province with the code in brackets;
    a value that is not a 6-digit code (already a name) comes back unchanged; None gives ''."""
    if not code:
        return ""
    text = str(code).strip()
    if len(text) != 6 or not text.isdigit():
        return text
    names = _names()
    if text in names:
        return names[text]
    province = names.get(text[:2])
    return f"{province}（{text}）" if province else text

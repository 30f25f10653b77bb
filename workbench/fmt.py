"""Formatting for Chinese readers: money from integer fen (¥, 万, 亿), dates and times in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from graph.core.schema import TZ

_TZ = ZoneInfo(TZ)
_WAN = 10_000 * 100          # 1 万 yuan in fen
_YI = 100_000_000 * 100      # 1 亿 yuan in fen


def money(fen: int) -> str:
    """Format an amount in fen for display.

    Below 10 万 yuan the full amount is shown; up to 1 亿 in 万, above in 亿 (two decimals).

    Examples
    --------
    >>> money(123456)
    '¥1,234.56'
    >>> money(1_234_567_800)
    '¥1,234.57万'
    >>> money(-250_000_000_00)
    '-¥2.50亿'
    """
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    a = abs(fen)
    if a >= _YI:
        return f"{sign}¥{a / _YI:,.2f}亿"
    if a >= 10 * _WAN:
        return f"{sign}¥{a / _WAN:,.2f}万"
    return f"{sign}¥{a // 100:,}.{a % 100:02d}"


def money_full(fen: int) -> str:
    """The exact amount with thousands separators, e.g. ``'¥12,345,678.90'`` (for invoices and exports)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    a = abs(fen)
    return f"{sign}¥{a // 100:,}.{a % 100:02d}"


def yuan(fen: int) -> float:
    """Fen to yuan as a float, for charts only (never for arithmetic)."""
    return int(fen) / 100


def local(dt: datetime) -> datetime:
    """``dt`` in Asia/Shanghai (naive datetimes are taken to be Shanghai time already)."""
    return dt.replace(tzinfo=_TZ) if dt.tzinfo is None else dt.astimezone(_TZ)


def when(dt: datetime | None) -> str:
    """``'2024-03-01 14:05'`` in Shanghai time; empty for None (and pandas' NaT)."""
    return "" if dt is None or dt != dt else local(dt).strftime("%Y-%m-%d %H:%M")


def day(d: date | datetime | None) -> str:
    """``'2024-03-01'``; datetimes are converted to Shanghai time first; empty for None (and pandas' NaT)."""
    if d is None or d != d:  # NaT is the only date-like value unequal to itself
        return ""
    if isinstance(d, datetime):
        d = local(d).date()
    return d.isoformat()


def pct(x: float) -> str:
    """A 0..1 share as ``'42.0%'``."""
    return f"{x * 100:.1f}%"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~$:])")


def plain(text: object) -> str:
    """``text`` for a Streamlit header or markdown call, shown as typed: every Markdown / HTML / LaTeX /
    emoji-shortcode character is escaped, so a name such as ``![x](http://host/t.png)`` cannot fetch an
    image or become a link in every viewer's browser.

    """
    return _MARKDOWN.sub(r"\\\1", str(text))

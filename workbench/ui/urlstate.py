"""Page state in the address: a filter starts from ``?name=…`` and is written back whenever it changes, so a
refresh (F5), a bookmark or a link sent to a colleague opens the page with the same filters.

A page declares its filters as :class:`Field` s, calls :func:`seed` before drawing the widgets (widgets are
drawn with ``key=field.key`` and no default of their own: the seed is their value) and :func:`publish` after.
A value equal to its default is left out of the address; a value that does not parse (an edited or old link)
is ignored and the default used.

A click in the sidebar opens a page without its query string, and Streamlit forgets the state of widgets a
page did not draw. So :func:`publish` also remembers each page's address in the session, and :func:`restore`
(called by :func:`seed`) puts it back when a page opens with none of its own parameters: filters survive a
round trip through the other pages. A link that names any of the page's parameters wins and is taken whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import streamlit as st

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Field:
    """One filter: its address ``param``, its widget ``key``, its ``default`` and how it is read and written."""

    param: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    dump: Callable[[Any], str] = str


def initial(f: Field) -> Any:
    """The field's value in the address when it parses, else its default."""
    raw = st.query_params.get(f.param)
    if raw is None:
        return f.default
    try:
        return f.parse(str(raw))
    except (ValueError, TypeError):
        return f.default


MEMORY = "urlstate_memory"   #: session key: {widget key: address text} of the filters last published


def restore(*fields: Field) -> None:
    """Put a page's remembered filters back into the address when it was opened without any of them (through
    the sidebar); a page opened with some of its parameters keeps the address as it is."""
    if any(f.param in st.query_params for f in fields):
        return
    memory: dict[str, str] = st.session_state.get(MEMORY, {})
    for f in fields:
        text = memory.get(f.key)
        if text:
            st.query_params[f.param] = text


def seed(*fields: Field) -> None:
    """Give each field's widget its starting value (:func:`initial`) through the session state. A widget
    already drawn in this session keeps what the user set. (A date range cannot be seeded this way: a
    date input is a range only when its ``value`` is; give it ``value=initial(field)`` and a key.)"""
    restore(*fields)
    for f in fields:
        if f.key not in st.session_state:
            st.session_state[f.key] = initial(f)


def current(*fields: Field) -> dict[str, str]:
    """The fields' current values as address text, ``{param: text}``, leaving out those at their default."""
    out: dict[str, str] = {}
    for f in fields:
        value = st.session_state.get(f.key, f.default)
        text = f.dump(value)
        if value != f.default and text != "":
            out[f.param] = text
    return out


def publish(*fields: Field) -> None:
    """Write each field's current value into the address (left out when it is the default), and remember it
    for :func:`restore`."""
    memory: dict[str, str] = st.session_state.setdefault(MEMORY, {})
    now = current(*fields)
    for f in fields:
        text = now.get(f.param)
        memory[f.key] = text or ""
        if text is None:
            if f.param in st.query_params:
                del st.query_params[f.param]
        elif st.query_params.get(f.param) != text:
            st.query_params[f.param] = text


# ----------------------------------------------------------------------------------------------- codecs
def choices(allowed: Collection[str]) -> Callable[[str], list[str]]:
    """``'a,b'`` → ``['a', 'b']``, keeping only values in ``allowed`` (a multiselect refuses others).

    Examples
    --------
    >>> choices({"cycle", "fan_hub"})("cycle,bogus,fan_hub")
    ['cycle', 'fan_hub']
    """
    def parse(text: str) -> list[str]:
        return [v for v in text.split(",") if v in allowed]
    return parse


def join(values: Sequence[str]) -> str:
    return ",".join(values)


def bounded(low: N, high: N, number: Callable[[str], N]) -> Callable[[str], N]:
    """A number (``float`` or ``int``) within ``[low, high]``; ValueError outside it, so the default is used.

    Examples
    --------
    >>> bounded(0.0, 1.0, float)("0.35")
    0.35
    >>> bounded(0, 10, int)("12")
    Traceback (most recent call last):
    ValueError: 12 outside [0, 10]
    """
    def parse(text: str) -> N:
        x = number(text)
        if not low <= x <= high:
            raise ValueError(f"{x} outside [{low}, {high}]")
        return x
    return parse


def flag(text: str) -> bool:
    """``'1'`` → True, ``'0'`` → False."""
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def dump_flag(value: Any) -> str:
    return "1" if value else "0"


def day(text: str) -> date:
    """``'2024-03-01'`` → a date."""
    return date.fromisoformat(text)


def days(text: str) -> tuple[date, date]:
    """``'2024-01-01..2024-03-31'`` → the two dates (the first not after the second).

    Examples
    --------
    >>> days("2024-01-01..2024-03-31")
    (datetime.date(2024, 1, 1), datetime.date(2024, 3, 31))
    """
    first, _, last = text.partition("..")
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    if b < a:
        raise ValueError(f"{b} before {a}")
    return a, b


def dump_days(value: Any) -> str:
    """A (first, last) date pair as ``'first..last'``; empty for a half-picked range."""
    return f"{value[0].isoformat()}..{value[1].isoformat()}" if isinstance(value, (tuple, list)) and len(value) == 2 else ""

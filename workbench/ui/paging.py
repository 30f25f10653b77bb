"""Long tables a page at a time: the server sends the browser one page of rows, and the page number and size
live in the address (``?page=3&size=100``) like the filters (see :mod:`workbench.ui.urlstate`).

A page draws :func:`pager` after its filters with the number of rows they keep, reads only
``paging.skip`` / ``paging.size`` rows (from the store where it can: the audit trail), and shows them.
A change of filters goes back to page 1.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.ui import urlstate
from workbench.ui.i18n import tr
from workbench.ui.urlstate import Field
from workbench.ui.views import PAGE_SIZES, Paging, paging

DEFAULT_SIZE = 50


def fields(prefix: str, param: str = "") -> tuple[Field, Field]:
    """The page number and page size of the table ``prefix`` as address fields ``{param}page`` and
    ``{param}size`` (a page with two paged tables gives each its own ``param``)."""
    def size(text: str) -> int:
        n = int(text)
        if n not in PAGE_SIZES:
            raise ValueError(f"page size {n} not one of {PAGE_SIZES}")
        return n
    return (Field(f"{param}page", f"{prefix}_page", 1, urlstate.bounded(1, 10**9, int)),
            Field(f"{param}size", f"{prefix}_size", DEFAULT_SIZE, size))


def pager(prefix: str, total: int, filters: Any = None, where: Any = None, *, param: str = "") -> Paging:
    """Draw the page controls (rows per page, page number, which rows are shown) for a table of ``total``
    rows and return the page to show; a table that fits on the smallest page gets only its row count, one that fits
    on one page no page number. ``filters`` is anything that changes with the page's filters: when it
    differs from the last run's, the table goes back to page 1."""
    page_f, size_f = fields(prefix, param)
    urlstate.seed(page_f, size_f)
    signature = repr(filters)
    seen = st.session_state.get(f"{prefix}_filters")
    if seen is not None and seen != signature:
        st.session_state[page_f.key] = 1
    st.session_state[f"{prefix}_filters"] = signature
    size = int(st.session_state[size_f.key])
    now = paging(total, int(st.session_state[page_f.key]), size)
    st.session_state[page_f.key] = now.page            # within the table before the widget is drawn
    if total <= PAGE_SIZES[0]:                         # fits on the smallest page: no controls to offer
        (where or st).caption(tr(f"共 {total:,} 行", f"{total:,} rows"))
        urlstate.publish(page_f, size_f)
        return now
    c1, c2, c3 = (where or st).columns([2, 2, 6], vertical_alignment="bottom")
    c1.selectbox(tr("每页行数", "Rows per page"), PAGE_SIZES, key=size_f.key)
    if now.pages > 1:                                  # one page: no page number to choose
        c2.number_input(tr(f"页码（共 {now.pages:,} 页）", f"Page (of {now.pages:,})"), min_value=1,
                        max_value=now.pages, step=1, key=page_f.key)
    (c3 if now.pages > 1 else c2).caption(tr(f"第 {now.first:,}–{now.last:,} 行，共 {total:,} 行",
                                             f"Rows {now.first:,}–{now.last:,} of {total:,}"))
    urlstate.publish(page_f, size_f)
    return now

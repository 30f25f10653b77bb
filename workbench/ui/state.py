"""Process-wide state of the Streamlit workbench: the one store every page reads, cached per store URI."""

from __future__ import annotations

import streamlit as st

from graph import open_store
from graph.core import settings
from graph.store import Store


@st.cache_resource(show_spinner=False)
def _open(uri: str) -> Store:
    return open_store(uri)


def get_store() -> Store:
    """The store named by ``FAPIAO_STORE``, opened once per server process and shared by all sessions.

    Returns
    -------
    Store
        The cached store; a different ``FAPIAO_STORE`` value opens (and caches) another one.
    """
    return _open(settings.get("FAPIAO_STORE"))


def clear_store_cache() -> None:
    """Forget every cached store (after a reset or in tests); the next :func:`get_store` reopens."""
    _open.clear()

"""One-shot messages that survive a rerun: an action succeeds, the page reruns to show fresh data, and
the confirmation still appears once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import streamlit as st

from graph.core.errors import FapiaoError

_KEY = "fapiao_flash"


def flash(message: str) -> NoReturn:
    """Remember ``message`` for the next run and rerun the script now."""
    st.session_state[_KEY] = message
    st.rerun()


def show_flash() -> None:
    """Show (once) the message left by :func:`flash`, if any."""
    message = st.session_state.pop(_KEY, None)
    if message:
        st.success(message)


def run_verb(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a workflow verb and return its result; a project error (permission, validation ...) is shown
    as one message instead of a traceback, and the result is None."""
    try:
        return fn(*args, **kwargs)
    except FapiaoError as e:
        st.error(str(e))
        return None

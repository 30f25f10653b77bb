"""One-shot messages that survive a rerun: an action succeeds, the page reruns to show fresh data, and
the confirmation still appears once."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

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

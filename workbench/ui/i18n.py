"""Interface language: Chinese by default, English on request (``st.session_state["lang"]``)."""

from __future__ import annotations

import streamlit as st

from graph.core.vocab import AUDIT_ACTIONS as AUDIT_ACTIONS
from graph.core.vocab import IDENTIFIER_KINDS as IDENTIFIER_KINDS
from graph.core.vocab import INVOICE_STATUSES as INVOICE_STATUSES
from graph.core.vocab import RING_KINDS as RING_KINDS
from graph.core.vocab import ROLES as ROLES
from graph.core.vocab import TAXPAYER_STATUSES as TAXPAYER_STATUSES
from graph.core.vocab import TIERS

LANGS: dict[str, str] = {"zh": "中文", "en": "English"}

# the vocabulary tables under the names the pages use
TIER_NAMES = TIERS


def lang() -> str:
    """The session's language code, ``"zh"`` (default) or ``"en"``."""
    try:
        value = st.session_state.get("lang", "zh")
    except Exception:  # outside a Streamlit session (CLI, plain tests)
        return "zh"
    return value if value in LANGS else "zh"


def tr(zh: str, en: str) -> str:
    """Pick the Chinese or English text for the session's language.

    Examples
    --------
    >>> tr("总览", "Overview")
    '总览'
    """
    return en if lang() == "en" else zh


def term(table: dict[str, tuple[str, str]], key: str | None) -> str:
    """Translate a vocabulary ``key`` (tier, ring kind, status) via ``table``; unknown keys pass through."""
    if key is None:
        return ""
    pair = table.get(key)
    return tr(*pair) if pair else key


def pick() -> str:
    """The placeholder of an empty picker (Streamlit's own is English: "Choose an option")."""
    return tr("请选择", "Choose")

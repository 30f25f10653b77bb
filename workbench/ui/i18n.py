"""Interface language: Chinese by default, English on request (``st.session_state["lang"]``)."""

from __future__ import annotations

import streamlit as st

LANGS: dict[str, str] = {"zh": "中文", "en": "English"}

TIER_NAMES: dict[str, tuple[str, str]] = {
    "high": ("高风险", "high"),
    "medium": ("中风险", "medium"),
    "low": ("低风险", "low"),
}

RING_KINDS: dict[str, tuple[str, str]] = {
    "cycle": ("时序环路", "temporal cycle"),
    "community": ("紧密社区", "community"),
    "shared_identity": ("共用身份", "shared identity"),
    "fan_hub": ("扇入扇出枢纽", "fan-in/fan-out hub"),
    "fan_out": ("集中对外开票", "fan-out burst"),
    "fan_in": ("集中取得进项", "fan-in burst"),
    "scatter_gather": ("分散-汇集", "scatter-gather"),
    "gather_scatter": ("汇集-分散", "gather-scatter"),
    "layered": ("分层转开", "layered chain"),
    "pass_through": ("过票中转", "pass-through hub"),
}

INVOICE_STATUSES: dict[str, tuple[str, str]] = {
    "normal": ("正常", "normal"),
    "void": ("作废", "void"),
    "red": ("红冲", "red-letter"),
    "red_offset": ("已红冲", "offset by red"),
    "out_of_control": ("失控", "out of control"),
    "abnormal": ("异常", "abnormal"),
}


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

"""Network drawings inside a page: :mod:`workbench.netgraph`'s HTML in the session's language."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import streamlit as st

from workbench.netgraph import NetEdge, NetNode, ReplayStep, network_html
from workbench.ui.i18n import lang


def show(nodes: Sequence[NetNode], edges: Sequence[NetEdge], *, height: int = 620,
         highlight: Collection[str] = (), replay: Sequence[ReplayStep] = ()) -> None:
    """Render the network inside the current Streamlit page (with ``replay``: the time slider above it)."""
    html = network_html(nodes, edges, height=f"{height}px", highlight=highlight, replay=replay, lang=lang())
    st.iframe(html, height=height + 30 + (44 if replay else 0))

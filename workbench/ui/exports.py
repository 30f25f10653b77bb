"""Explicit export buttons under a table, shown only to roles with ``export_data``; each export is audited."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from graph.store import Store
from workbench.auth import User, allowed
from workbench.data_export import export_table
from workbench.ui.i18n import tr


def export_buttons(store: Store, user: User, frame: pd.DataFrame, what: str) -> None:
    """Offer ``frame`` as CSV and xlsx (analysts only); the file is made, and audited, on request."""
    if not allowed(user.roles, "export_data") or frame.empty:
        return
    left, right = st.columns(2)
    for col, fmt, mime in ((left, "csv", "text/csv"),
                           (right, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
        key = f"export_{what}_{fmt}"
        if col.button(tr(f"导出 {fmt.upper()}", f"Export {fmt.upper()}"), key=key):
            st.session_state[key + "_bytes"] = export_table(store, user, frame, what, fmt)
        ready = st.session_state.get(key + "_bytes")
        if ready:
            col.download_button(tr("下载", "Download"), ready, file_name=f"{what}.{fmt}", mime=mime,
                                key=key + "_download")

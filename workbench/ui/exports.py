"""Tables with their export buttons: every table that shows data goes through :func:`table`, which draws
it and, for roles with ``export_data`` only, offers it as CSV and xlsx; each export is audited.

A made file is kept with a fingerprint of the table it came from, so after the table changes (another
taxpayer, another filter) the old file is no longer offered for download.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from graph.store import Store
from workbench.auth import User, allowed
from workbench.data_export import export_table
from workbench.fmt import local
from workbench.ui.i18n import INVOICE_STATUSES, term, tr

_MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def fingerprint(frame: pd.DataFrame) -> str:
    """A digest of ``frame``'s headers and cells (the same table gives the same digest)."""
    h = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()


def export_buttons(store: Store, user: User, frame: pd.DataFrame | Callable[[], pd.DataFrame], what: str,
                   where: Any = None, *, signature: str = "") -> None:
    """Offer ``frame`` as CSV and xlsx (roles with ``export_data`` only); the file is made, and audited,
    on request. ``where`` is the Streamlit container to draw in (default: the page).

    ``frame`` may be a function that reads the table when a button is pressed (a list read from the store a
    page at a time exports every row only on request); ``signature`` then names what it would read (the
    filters, the run, the row count), so a file made before they changed is no longer offered."""
    if not allowed(user.roles, "export_data"):
        return
    if callable(frame):
        digest = hashlib.sha256(f"{what}\x1f{signature}".encode()).hexdigest()
    elif frame.empty:
        return
    else:
        digest = fingerprint(frame)
    left, right = (where or st).columns(2)
    for col, fmt in ((left, "csv"), (right, "xlsx")):
        key = f"export_{what}_{fmt}"
        if col.button(tr(f"导出 {fmt.upper()}", f"Export {fmt.upper()}"), key=key):
            rows = frame() if callable(frame) else frame
            st.session_state[key + "_bytes"] = (digest, export_table(store, user, rows, what, fmt))
        ready = st.session_state.get(key + "_bytes")
        if isinstance(ready, tuple) and ready[0] == digest:
            col.download_button(tr("下载", "Download"), ready[1], file_name=f"{what}.{fmt}", mime=_MIME[fmt],
                                key=key + "_download")


def fitted_height(rows: int) -> int:
    """The pixel height of ``st.dataframe`` showing ``rows`` rows (at least one) with its header, no scrolling."""
    return 38 + 35 * max(rows, 1) + 3


def table(store: Store, user: User, frame: pd.DataFrame, what: str, where: Any = None, *,
          export: pd.DataFrame | Callable[[], pd.DataFrame] | None = None, signature: str = "",
          **kwargs: Any) -> Any:
    """Draw ``frame`` with ``st.dataframe`` (``kwargs`` passed on; the index hidden unless asked) in
    ``where`` and put the export buttons under it. ``export`` is the table the files carry when it differs
    from the one shown (amounts as ``*_fen`` integers, so the file has exact 元 numbers, not ``¥1.2万``), or a
    function that reads it on request (see :func:`export_buttons` for ``signature``).
    Returns what ``st.dataframe`` returns (the selection when ``on_select`` is given)."""
    kwargs.setdefault("hide_index", True)
    if isinstance(kwargs.get("height"), int):   # a fixed height is a maximum: a short table gets no empty grid rows
        kwargs["height"] = min(kwargs["height"], fitted_height(len(frame)))
    shown = (where or st).dataframe(frame, **kwargs)
    export_buttons(store, user, frame if export is None else export, what, where, signature=signature)
    return shown


def invoice_rows(invoices: pa.Table) -> pd.DataFrame:
    """schema.INVOICES rows for an extract: local issue time (a date Excel reads), parties, amounts in fen
    (the extract turns them into 元), rate, status in words."""
    rows = [{"issued_at": local(r["issued_at"]).replace(tzinfo=None) if r["issued_at"] else None,
             "invoice_code": r["code"] or "", "invoice_number": r["number"],
             "seller_name": r["seller_name"], "seller_tax_id": r["seller_tax_id"],
             "buyer_name": r["buyer_name"], "buyer_tax_id": r["buyer_tax_id"],
             "amount_fen": r["amount_fen"], "tax_fen": r["tax_fen"], "total_fen": r["total_fen"],
             "rate": r["rate"], "status": term(INVOICE_STATUSES, r["status"]),
             "item": r.get("item_name") or r.get("item_code") or ""} for r in invoices.to_pylist()]
    return pd.DataFrame(rows)

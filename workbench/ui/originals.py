"""原件 The original files an invoice was loaded from (evidence), shown with their SHA-256 and a check
that the stored copy is unchanged; e-invoices also show what was read from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph.store import Store
from workbench.ui.i18n import tr

#: Largest original offered for download in the page (bigger ones are named with their path).
DOWNLOAD_MAX_BYTES = 50 << 20


def show_originals(container: Any, store: Store, key: str) -> None:
    """The originals of invoice ``key`` in ``container`` (a Streamlit container)."""
    from loaders.evidence import Evidence, evidence_dir

    ev = Evidence(evidence_dir(store))
    found = ev.originals(key)
    container.markdown(f"**{tr('原件', 'Original')}**")
    if not found:
        container.caption(tr("未保存原件（在保存原件功能之前导入，或为演示数据）。",
                             "No original kept (loaded before originals were kept, or demo data)."))
        return
    for i, o in enumerate(found):
        path = Path(o["path"])
        intact = ev.verify(o["sha256"])
        container.write(f"{o.get('source', '')} · SHA-256 `{o['sha256']}` · "
                        + (tr("校验一致", "hash verified") if intact else tr("⚠ 原件缺失或已改变", "⚠ missing or changed")))
        if o.get("items"):
            container.dataframe(o["items"], hide_index=True)
        if intact and path.stat().st_size <= DOWNLOAD_MAX_BYTES:
            name = Path(str(o.get("source", "original")).rsplit(":", 1)[-1]).name or o["sha256"]
            container.download_button(tr("下载原件", "Download the original"), path.read_bytes(), file_name=name,
                                      key=f"orig_{key}_{i}")
        elif intact:
            container.caption(str(path))

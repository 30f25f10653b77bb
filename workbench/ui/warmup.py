"""What the served workbench imports while it starts (see :mod:`workbench.ui.server`), so the first visitor
does not wait for pandas, pyarrow, DuckDB, Altair and the read models: the first sign-in page on a fresh
server took 6-7 s, most of it these imports."""

from __future__ import annotations

import importlib
import logging

#: what the sign-in page and the overview import
MODULES = ("pandas", "pyarrow.compute", "altair", "argon2", "graph.embedded", "workbench.ui.session",
           "workbench.ui.views", "workbench.ui.charts", "workbench.ui.exports", "workbench.overrides",
           "workbench.alerts")


def warm(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules``; the names that failed (logged: the page that needs one reports it) are returned."""
    failed: list[str] = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:   # a warm-up must never stop the server
            logging.getLogger(__name__).warning("warm-up import of %s failed", name, exc_info=True)
            failed.append(name)
    return failed

"""Readers, column mapping, validation, quarantine and the synthetic generator.

The names below are imported on first use (PEP 562), so ``import loaders.lean`` (or any small module of the
package) does not import the whole load pipeline.
"""

from __future__ import annotations

import importlib
from typing import Any

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

_WHERE = {
    "LoadReport": "loaders.load", "infer_taxpayers": "loaders.load", "load_files": "loaders.load",
    "load_mapping": "loaders.mapping", "resolve_columns": "loaders.mapping",
    "RawBatch": "loaders.read", "read_batches": "loaders.read",
    "RULES": "loaders.rules", "InvoiceValidator": "loaders.rules", "Rule": "loaders.rules",
    "check_invoice": "loaders.rules",
}

__all__ = [
    "RULES", "InvoiceValidator", "LoadReport", "RawBatch", "Rule", "check_invoice", "infer_taxpayers",
    "load_files", "load_mapping", "read_batches", "resolve_columns",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loaders' has no attribute {name!r}")

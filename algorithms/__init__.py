"""Detection algorithms: pure functions over tables and graphs, never a database call.

Public names are re-exported lazily (PEP 562), so ``import algorithms.evaluation`` does not pay for
numba, igraph and scikit-learn. The functions named like their module (``algorithms.shell.shell``,
``algorithms.communities.communities``) are reached through the module.
"""

from __future__ import annotations

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # temporal cycles
    "temporal_cycles": "algorithms.cycles", "static_cycles": "algorithms.cycles",
    "TemporalCycle": "algorithms.cycles", "Hop": "algorithms.cycles", "CycleSearch": "algorithms.cycles",
    "StaticCycles": "algorithms.cycles",
    "score_cycle": "algorithms.cycle_scoring", "ScoredCycle": "algorithms.cycle_scoring",
    # communities and identities
    "Community": "algorithms.communities",
    "identity_links": "algorithms.identity", "identity_clusters": "algorithms.identity",
    "shared_identity": "algorithms.identity", "IdentityCluster": "algorithms.identity",
    # typology detectors
    "Signal": "algorithms.signals",
    "void_red": "algorithms.shell", "activity": "algorithms.shell",
    "fan_hub": "algorithms.hubs", "item_mismatch": "algorithms.hubs",
    "near_limit": "algorithms.amounts", "benford": "algorithms.amounts", "amount_outliers": "algorithms.amounts",
    "large_bursts": "algorithms.amounts", "duplicates": "algorithms.amounts",
    # features and risk
    "build_features": "algorithms.features", "cycle_signal": "algorithms.features", "Features": "algorithms.features",
    "score_taxpayers": "algorithms.risk", "RiskResult": "algorithms.risk", "POINTS": "algorithms.risk",
    "tier_of": "algorithms.risk",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'algorithms' has no attribute {name!r}")

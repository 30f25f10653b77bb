"""The common result of every typology detector: one row per taxpayer it has an opinion on."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Signal:
    """Per-taxpayer output of one detector.

    ``table`` is indexed by ``tax_id`` with at least ``value`` (float, the measure), ``flag`` (bool,
    the measure crossed the detector's threshold) and ``evidence`` (plain-language Chinese sentence,
    empty when not flagged). Detectors may add more numeric columns (they become features).
    """

    name: str
    table: pd.DataFrame

    @property
    def flagged(self) -> pd.DataFrame:
        """Rows whose flag is set."""
        return self.table[self.table["flag"]]


def make_signal(name: str, table: pd.DataFrame) -> Signal:
    """A :class:`Signal` with the required columns normalised (index named tax_id, bool flag, str evidence)."""
    t = table.copy()
    t.index = t.index.astype(str)
    t.index.name = "tax_id"
    t["value"] = t["value"].astype(float)
    t["flag"] = t["flag"].fillna(False).astype(bool)
    t["evidence"] = t["evidence"].where(t["flag"], "").fillna("").astype(str)
    return Signal(name, t)


def pct(x: float) -> str:
    """0.934 -> '93%'."""
    return f"{x * 100:.0f}%"

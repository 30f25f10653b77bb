"""One feature table per taxpayer: scale, age, activity, every typology signal and graph features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._tables import frame
from algorithms.communities import Community
from algorithms.cycles import TemporalCycle
from algorithms.shell import activity
from algorithms.signals import Signal


@dataclass(frozen=True)
class Features:
    """``values``: numeric features indexed by tax_id; ``evidence``: per signal, the plain-language
    evidence of flagged taxpayers (same index; empty string when not flagged)."""

    values: pd.DataFrame
    evidence: pd.DataFrame
    industry: pd.Series

    def flags(self) -> list[str]:
        """Names of the signals present (columns ``<name>_flag``)."""
        return [c.removesuffix("_flag") for c in self.values.columns if c.endswith("_flag")]


def cycle_signal(cycles: Sequence[TemporalCycle], *, min_score: float = 0.0) -> Signal:
    """Per taxpayer: number of temporal cycles it belongs to and the evidence of its tightest one."""
    from algorithms.signals import make_signal

    rows: dict[str, list[TemporalCycle]] = {}
    for c in cycles:
        for m in c.members:
            rows.setdefault(m, []).append(c)
    t = pd.DataFrame({
        "value": {k: float(len(v)) for k, v in rows.items()},
        "cycle_min_span": {k: min(c.span_days for c in v) for k, v in rows.items()},
        "cycle_min_spread": {k: min(c.spread for c in v) for k, v in rows.items()},
    })
    if t.empty:
        t = pd.DataFrame({"value": [], "cycle_min_span": [], "cycle_min_spread": []}, index=pd.Index([], dtype=str))
    t["flag"] = t["value"] >= 1
    ev = []
    for k in t.index:
        best = min(rows[k], key=lambda c: (c.spread, c.span_days))
        ev.append(f"参与 {len(rows[k])} 个时序循环开票闭环：{best.length} 家企业 {best.span_days:.0f} 天内闭合，"
                  f"金额差异 {best.spread * 100:.0f}%")
    t["evidence"] = ev
    return make_signal("cycle", t)


def build_features(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None,
    signals: Sequence[Signal],
    *,
    communities: Sequence[Community] = (),
    act: pd.DataFrame | None = None,
    extra: Sequence[pd.DataFrame] = (),
) -> Features:
    """Merge activity measures, every signal (``<name>``, ``<name>_flag`` + extra columns), graph
    features (degrees, community score) and ``extra`` numeric tables indexed by tax_id (timing dynamics,
    finding memberships; missing rows → 0) into one table over every taxpayer seen in invoices or the register."""
    act = activity(invoices, taxpayers) if act is None else act
    tp = frame(taxpayers, ["tax_id", "industry"])
    index = act.index.union(pd.Index(tp["tax_id"].astype(str)))
    v = pd.DataFrame(index=index)
    v.index.name = "tax_id"
    a = act.reindex(index)
    v["scale_log10_fen"] = np.log10(1 + a["out_fen"].fillna(0) + a["in_fen"].fillna(0))
    v["out_in_log_ratio"] = np.log10((1 + a["out_fen"].fillna(0)) / (1 + a["in_fen"].fillna(0)))
    v["age_at_first_days"] = a["age_days"]
    v["active_span_days"] = a["span_days"]
    v["silent_days"] = a["silent_days"]
    v["out_degree"] = a["out_partners"].fillna(0)
    v["in_degree"] = a["in_partners"].fillna(0)
    v["invoices_out"] = a["out_n"].fillna(0)
    v["invoices_in"] = a["in_n"].fillna(0)
    ev = pd.DataFrame(index=index)
    for s in signals:
        t = s.table.reindex(index)
        v[s.name] = t["value"].fillna(0.0)
        v[f"{s.name}_flag"] = t["flag"].fillna(False).astype(bool).astype(int)
        for col in t.columns.difference(["value", "flag", "evidence"]):
            if pd.api.types.is_numeric_dtype(t[col]):
                v[f"{s.name}_{col}"] = t[col]
        ev[s.name] = t["evidence"].fillna("")
    comm = np.zeros(len(index))
    if communities:          # each member's best community score (one lookup of all members, not one per community)
        pos = index.get_indexer(pd.Index([m for c in communities for m in c.members]))
        if (pos < 0).any():
            raise KeyError("a community member is not among the taxpayers")
        np.maximum.at(comm, pos, np.repeat([c.score for c in communities], [len(c.members) for c in communities]))
    v["community_score"] = pd.Series(comm, index=index)
    for table in extra:
        for col in table.columns:
            v[col] = table[col].reindex(index).fillna(0.0).astype(float)
    industry = tp.drop_duplicates("tax_id").set_index("tax_id")["industry"].reindex(index)
    return Features(v, ev, industry)

"""Inputs of the supervised model that only it reads (prefix ``sup_``): every searched loop with its
significance, the amount profile of each taxpayer, and — inside each cross-validation fold — the share of its
counterparties that investigators confirmed.

Why a separate set: the unsupervised IsolationForest ranks what is *rare*; adding these columns to it would
change the unsupervised tiers, and the label shares exist only once dispositions do. The gradient-boosting
model learns from dispositions which of them matter on this data (:func:`algorithms.risk.score_taxpayers`).

* :func:`loop_features` — every loop the cycle search found, not only the significant ones: how many a
  taxpayer is in and the smallest p- / q-value and largest score among them (a loop at q 0.09 is not a ring,
  but on the sparse data set 22 of the 29 members of loops at q ≤ 0.2 are fraudulent).
* :func:`amount_profile` — per side (output, input): log10 of the smallest, median and largest invoice total,
  their spread, the data-wide percentile of its smallest and median total, and how many of its invoices are in
  the data's lowest 5 % (on AMLSim the laundering payments are far smaller than the background's).
* :func:`label_shares` — from the labels given (in cross-validation: the training folds' only): confirmed
  counterparties, labelled counterparties, their share by count and by value, and the labelled share of all
  counterparties; closed invoice walks through confirmed companies; companies it shares an identifier with that
  are confirmed or cleared. A taxpayer's own label never enters its features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

F64 = npt.NDArray[np.float64]
PREFIX = "sup_"
LABEL_COLUMNS = ("confirmed", "labelled", "confirmed_share", "confirmed_value_share", "labelled_share",
                 "confirmed_loops_2", "confirmed_loops_3", "confirmed_loops_4",
                 "likely_loops_2", "likely_loops_3", "likely_loops_4",
                 "id_confirmed", "id_cleared", "id_confirmed_share", "id_confirmed_weight", "id_cleared_weight")


class _Loop(Protocol):
    @property
    def members(self) -> tuple[str, ...]: ...


class _Scored(Protocol):
    @property
    def cycle(self) -> _Loop: ...
    @property
    def p_value(self) -> float: ...
    @property
    def q_value(self) -> float: ...
    @property
    def score(self) -> float: ...


def loop_features(scored: Sequence[_Scored], index: pd.Index) -> pd.DataFrame:
    """Per taxpayer of ``index``: ``sup_loops_n``, ``sup_loops_min_p``, ``sup_loops_min_q``,
    ``sup_loops_max_score`` over every scored loop (:class:`algorithms.cycle_scoring.ScoredCycle`);
    taxpayers in no loop: 0 / 1 / 1 / 0."""
    rows = [(m, s.p_value, s.q_value, s.score) for s in scored for m in set(s.cycle.members)]
    d = pd.DataFrame(rows, columns=["m", "p", "q", "score"])
    g = d.groupby("m").agg(n=("p", "size"), min_p=("p", "min"), min_q=("q", "min"), max_score=("score", "max"))
    g = g.reindex(index).fillna({"n": 0.0, "min_p": 1.0, "min_q": 1.0, "max_score": 0.0}).astype(float)
    return g.add_prefix(f"{PREFIX}loops_")


def amount_profile(b: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Per taxpayer of ``index`` and side (``out`` = its output invoices, ``in`` = its input): log10 min /
    median / max total and the spread of log totals, data-wide percentile of its smallest and median total, and
    the count of its invoices in the data's lowest 5 %. ``b``: :func:`algorithms.dynamics.blue_frame`'s output.
    A side without invoices is −1 (0 for the count)."""
    cols: dict[str, pd.Series] = {}
    la = np.log10(np.maximum(b["fen"].to_numpy(np.float64), 1.0))
    pct = pd.Series(la).rank(pct=True).to_numpy()
    for side, who in (("out", "seller"), ("in", "buyer")):
        g = pd.DataFrame({"u": b[who].to_numpy(), "la": la, "pct": pct, "low": (pct <= 0.05).astype(float)}
                         ).groupby("u")
        a = g.agg(min=("la", "min"), median=("la", "median"), max=("la", "max"), sd=("la", "std"),
                  pct_min=("pct", "min"), pct_median=("pct", "median"), low_n=("low", "sum"))
        a["sd"] = a["sd"].fillna(0.0)
        a = a.reindex(index)
        for c in a.columns:
            cols[f"{PREFIX}amt_{side}_{c}"] = a[c].fillna(0.0 if c == "low_n" else -1.0).astype(float)
    return pd.DataFrame(cols, index=index)


class Neighbours:
    """The undirected, value-weighted counterparty graph over the rows of a feature table, and the companies
    each shares an identifier with."""

    def __init__(self, edges: pd.DataFrame, index: pd.Index, links: pd.DataFrame | None = None) -> None:
        """``edges``: seller_tax_id, buyer_tax_id, total_fen (one row per invoice or per pair). ``links``: company
        pairs that share identifiers, columns a, b, weight (:func:`algorithms.identity.identity_links`)."""
        pos = pd.Series(np.arange(len(index)), index=pd.Index(index, dtype=object))
        a = pos.reindex(edges["seller_tax_id"].astype(str)).to_numpy()
        b = pos.reindex(edges["buyer_tax_id"].astype(str)).to_numpy()
        ok = ~np.isnan(a) & ~np.isnan(b) & (a != b)
        a, b = a[ok].astype(np.int64), b[ok].astype(np.int64)
        fen = edges["total_fen"].to_numpy(np.float64)[ok]
        n = len(index)
        pair, inv = np.unique(np.r_[a * n + b, b * n + a], return_inverse=True)
        self.src, self.dst = pair // n, pair % n
        self.fen = np.bincount(inv, weights=np.r_[fen, fen], minlength=len(pair))
        self.n = n
        self.degree = np.bincount(self.src, minlength=n).astype(np.float64)
        directed = np.unique(a * n + b)                               # seller → buyer, each relation once
        self.out = sparse.csr_matrix((np.ones(len(directed)), (directed // n, directed % n)), shape=(n, n))
        li = links if links is not None else pd.DataFrame({"a": [], "b": [], "weight": []})
        la = pos.reindex(li["a"].astype(str)).to_numpy()
        lb = pos.reindex(li["b"].astype(str)).to_numpy()
        lok = ~np.isnan(la) & ~np.isnan(lb) & (la != lb)
        la, lb = la[lok].astype(np.int64), lb[lok].astype(np.int64)
        lw = li["weight"].to_numpy(np.float64)[lok]
        self.id_src, self.id_dst, self.id_weight = np.r_[la, lb], np.r_[lb, la], np.r_[lw, lw]

    def label_shares(self, y: F64) -> F64:
        """``y``: 1 / 0 per row, NaN where unknown (or hidden). Columns: :data:`LABEL_COLUMNS`."""
        lab = y[self.dst]
        known = ~np.isnan(lab)
        pos_ = np.where(known, lab, 0.0)
        n = self.n
        k = np.bincount(self.src, weights=known.astype(np.float64), minlength=n)
        f = np.bincount(self.src, weights=pos_, minlength=n)
        wk = np.bincount(self.src, weights=known * self.fen, minlength=n)
        wf = np.bincount(self.src, weights=pos_ * self.fen, minlength=n)
        return np.column_stack([f, k, f / np.maximum(k, 1.0), wf / np.maximum(wk, 1.0), k / np.maximum(self.degree, 1.0),
                                self.confirmed_loops(y == 1), self.confirmed_loops(self._likely(y)),
                                self.shared_identity(y)])

    def shared_identity(self, y: F64) -> F64:
        """Per row, the companies it shares an identifier with (phone, bank account, address …): how many are
        confirmed, how many cleared, the confirmed share of those labelled, and the same two counts weighted by
        the link (rare identifiers weigh more). Its own label never counts: a company is never linked to itself.
        All 0 when the data has no identifiers."""
        n = self.n
        conf = (y[self.id_dst] == 1).astype(np.float64)
        clr = (y[self.id_dst] == 0).astype(np.float64)
        c = np.bincount(self.id_src, weights=conf, minlength=n)
        k = np.bincount(self.id_src, weights=clr, minlength=n)
        return np.column_stack([c, k, c / np.maximum(c + k, 1.0),
                                np.bincount(self.id_src, weights=conf * self.id_weight, minlength=n),
                                np.bincount(self.id_src, weights=clr * self.id_weight, minlength=n)])

    @staticmethod
    def _likely(y: F64) -> F64:
        """Per row, how likely it is confirmed: 1 confirmed, 0 cleared, the labelled rows' confirmed share
        where unknown."""
        known = ~np.isnan(y)
        prior = float(y[known].mean()) if known.any() else 0.0
        return np.where(known, y, prior)

    def confirmed_loops(self, confirmed: npt.NDArray[np.bool_] | F64) -> F64:
        """Per row: closed invoice walks of 2, 3 and 4 relations through it (seller → buyer … back to it) whose
        other companies are all ``confirmed`` — the static shape of a loop with confirmed companies, timed or
        not. With weights (0..1, how likely each company is confirmed) each walk counts the product of its other
        companies' weights. Its own label never counts: a walk that passes through the company itself half-way (two 2-loops
        back to back) is left out of the 4-walks."""
        w = np.asarray(confirmed, dtype=np.float64)
        step = (self.out @ sparse.diags(w)).tocsr()       # one relation on, into a weighted company
        back = self.out.T.tocsr()                         # [v, b]: b invoices v, closing the walk
        walk = step
        counts = []
        for _ in range(3):                                # walks of 2, 3, 4 relations
            counts.append(np.asarray(walk.multiply(back).sum(axis=1)).ravel())
            walk = walk @ step
        loops2, loops3, loops4 = counts
        loops4 = loops4 - w * loops2 ** 2               # v → a → v → d → v goes through v itself
        return np.column_stack([loops2, loops3, loops4])


def label_vector(labels: Mapping[str, int], index: pd.Index) -> F64:
    """tax_id → label as a float vector over ``index`` (NaN = no disposition)."""
    return np.asarray(pd.Series(labels, dtype="float64").reindex(index).to_numpy(), dtype=np.float64)

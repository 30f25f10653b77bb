"""Permutation nulls of the typology rules (规则的置换零模型): how often a rule fires by chance on this data.

A practice rule (:mod:`algorithms.shell`, :mod:`algorithms.amounts`, :mod:`algorithms.identity`) fires on
a combination of a taxpayer's own input (its age, its invoice limit, its identifiers, the status of its
invoices) and its trade. Each null copy shuffles that input among taxpayers (or the invoices among sellers)
and keeps everything else, so the rule's hits in the copy are the hits chance alone gives on data with this
trade and this mix of inputs. :func:`algorithms.tiers.rule_fdr` turns the counts into a rule-level false
discovery rate.

======================  ==========================================================================
rule                    null copy
======================  ==========================================================================
``shell``               age at first invoice (registration → first invoice) permuted among taxpayers
``void_red``            the seller of every invoice permuted (each seller keeps its invoice count;
                        voided and red-letter invoices land on sellers at the data's own rate)
``near_limit``          the per-invoice limit permuted among taxpayers that have one
``shared_identity``     the company of every identifier permuted within its kind (phone, account …);
                        tested hits are the flagged companies that also *trade* with a company they
                        share an identifier with (permuting identifiers keeps how many are shared, so
                        sharing alone cannot differ from the null; sharing with a trading partner can)
``duplicates``          amounts permuted among each seller's own invoices (same amount, buyer and
                        day by chance, given how often the seller repeats an amount)
======================  ==========================================================================

Example
-------
>>> import pandas as pd
>>> inv = pd.DataFrame({"key": [f"k{i}" for i in range(40)], "seller_tax_id": ["A"] * 20 + ["B"] * 20,
...     "buyer_tax_id": "C", "issued_at": pd.Timestamp("2024-01-01", tz="Asia/Shanghai"),
...     "amount_fen": 100, "total_fen": 113, "status": ["void"] * 10 + ["normal"] * 30})
>>> tests = rule_null_hits(inv, None, None, rules=("void_red",), copies=3, seed=0)
>>> t = tests["void_red"]
>>> sorted(t.hits), len(t.null), t.fdr
(['A'], 3, 1.0)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms import amounts, identity, shell
from algorithms._tables import frame, invoice_frame
from algorithms.amounts import BLUE
from algorithms.tiers import rule_fdr

#: null copies per rule
COPIES = 5


def _permuted(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """``values`` with its non-missing entries permuted among themselves (missing ones stay missing)."""
    out = values.copy()
    ok = values.notna().to_numpy()
    out.iloc[np.flatnonzero(ok)] = rng.permutation(values.to_numpy()[ok])
    return out


@dataclass(frozen=True)
class RuleTest:
    """A rule's hits on the data that its null tests (``hits``) and its hits in each null copy (``null``)."""

    hits: frozenset[str]
    null: tuple[int, ...]

    @property
    def fdr(self) -> float:
        """Hits expected per null copy ÷ hits in the data (:func:`algorithms.tiers.rule_fdr`)."""
        return rule_fdr(len(self.hits), self.null)


def _trading_pairs(inv: pd.DataFrame) -> set[tuple[str, str]]:
    blue = inv[inv["status"].isin(BLUE) & (inv["total_fen"] > 0)] if "status" in inv else inv
    s, b = blue["seller_tax_id"].astype(str).to_numpy(), blue["buyer_tax_id"].astype(str).to_numpy()
    lo, hi = np.minimum(s, b), np.maximum(s, b)
    return set(zip(lo.tolist(), hi.tolist(), strict=True))


def _shares_with_partner(ids: pd.DataFrame, trade: set[tuple[str, str]]) -> frozenset[str]:
    """Companies flagged for shared identifiers that trade with a company they share one with."""
    links = identity.identity_links(ids)
    flagged = identity.shared_flagged(ids, links=links)
    out: set[str] = set()
    for a, b in zip(links["a"].astype(str).to_numpy(dtype=object).tolist(),
                    links["b"].astype(str).to_numpy(dtype=object).tolist(), strict=True):
        if (min(a, b), max(a, b)) in trade:
            out.update(x for x in (a, b) if x in flagged)
    return frozenset(out)


def rule_null_hits(
    invoices: pa.Table | pd.DataFrame,
    taxpayers: pa.Table | pd.DataFrame | None,
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    rules: Collection[str],
    act: pd.DataFrame | None = None,
    copies: int = COPIES,
    seed: int = 0,
) -> dict[str, RuleTest]:
    """Each rule of ``rules`` (among shell, void_red, near_limit, shared_identity) on the data and in ``copies``
    permutation null copies. ``act`` is :func:`algorithms.shell.activity`'s table when the caller has it."""
    rng = np.random.default_rng(seed)
    inv = invoice_frame(invoices)
    out: dict[str, RuleTest] = {}

    def names(flagged: pd.DataFrame) -> frozenset[str]:
        return frozenset(flagged.index.astype(str))

    if "shell" in rules:
        a = shell.activity(inv, taxpayers) if act is None else act
        out["shell"] = RuleTest(names(shell.shell(inv, taxpayers, act=a).flagged), tuple(
            len(shell.shell(inv, taxpayers, act=a.assign(age_days=_permuted(a["age_days"], rng))).flagged)
            for _ in range(copies)))
    if "void_red" in rules:
        out["void_red"] = RuleTest(names(shell.void_red(inv).flagged), tuple(
            len(shell.void_red(inv.assign(seller_tax_id=rng.permutation(inv["seller_tax_id"].to_numpy()))).flagged)
            for _ in range(copies)))
    if "near_limit" in rules:
        tp = frame(taxpayers, ["tax_id", "invoice_limit_fen"])
        out["near_limit"] = RuleTest(names(amounts.near_limit(inv, tp).flagged), tuple(
            len(amounts.near_limit(inv, tp.assign(invoice_limit_fen=_permuted(tp["invoice_limit_fen"], rng))).flagged)
            for _ in range(copies)))
    if "duplicates" in rules:
        blue = inv.reset_index(drop=True)
        codes = pd.factorize(blue["seller_tax_id"])[0]
        grouped = np.lexsort((np.arange(len(blue)), codes))        # invoices by seller, in table order
        amount = blue["amount_fen"].to_numpy()
        hits = []
        for _ in range(copies):
            mixed = np.lexsort((rng.random(len(blue)), codes))    # the same blocks, shuffled within each seller
            shuffled = amount.copy()
            shuffled[grouped] = amount[mixed]
            hits.append(len(amounts.duplicates(blue.assign(amount_fen=shuffled)).flagged))
        out["duplicates"] = RuleTest(names(amounts.duplicates(blue).flagged), tuple(hits))
    if "shared_identity" in rules:
        ids = frame(identifiers, ["tax_id", "kind", "value"])
        ids = ids.assign(tax_id=ids["tax_id"].astype(str)).sort_values("kind", kind="stable").reset_index(drop=True)
        trade = _trading_pairs(inv)
        kinds = ids["kind"].to_numpy()
        bounds = np.flatnonzero(kinds[1:] != kinds[:-1]) + 1 if len(ids) else np.zeros(0, dtype=np.int64)
        hits = []
        for _ in range(copies):
            tax = ids["tax_id"].to_numpy().copy()
            for part in np.split(np.arange(len(ids)), bounds):   # within each kind
                tax[part] = rng.permutation(tax[part])
            hits.append(len(_shares_with_partner(ids.assign(tax_id=tax), trade)))
        out["shared_identity"] = RuleTest(_shares_with_partner(ids, trade), tuple(hits))
    return out

"""Per-taxpayer tests of the typology rules (规则的逐户显著性检验): is *this* taxpayer's count rare for this data?

A practice rule (作废率 > 10 %, 30 % of the invoices at the limit …) fires on some clean taxpayers of any busy
data: a seller with twenty invoices and three voided ones, a company that happens to bill close to its limit.
:mod:`algorithms.rule_null` measures that for the rule as a whole (hits per shuffled copy); here each taxpayer
that the rule could judge is tested against **the data's own rate** of the counted event:

======================  =========================================================================================
rule                    test per taxpayer (one-sided, P(count ≥ observed))
======================  =========================================================================================
``void_red``            voided invoices among the seller's invoices, and red-letter invoices among them, each
                        against the data's own void / red-letter rate (:func:`overdispersed_binomial_p`); the
                        smaller p-value, doubled (Bonferroni)
``near_limit``          invoices in [0.9·L, L) of the seller's own limit L: rare both as a share of its invoices
                        (:func:`overdispersed_binomial_p`, against every seller's share) and as a count (negative
                        binomial fitted on every seller's count); the larger p-value (an intersection-union test:
                        rejected only when both reject). The share alone called 2 of 5 invoices at the limit rare
                        (q 0.01 at 3,000 taxpayers / 100,000 invoices, a clean seller: 4 sellers there have 2, the
                        spread between sellers is too small to widen the null); the count alone would call 30 of
                        3,000 rare where others issue 20 invoices
``shell``               output invoices in its busiest 30 days, negative binomial fitted on the young sellers'
                        own counts (registered < 180 days before their first invoice; the rule's population), and
                        the output value of those 30 days against the young sellers' (normal on log10 value,
                        median / MAD); the smaller p-value, doubled
======================  =========================================================================================

The p-values of all taxpayers the rule can judge (not only its hits) go through Benjamini–Hochberg
(:func:`algorithms.significance.bh_fdr`), so the q-value says how many of the taxpayers at least this extreme are
expected by chance. A rule whose input column is missing or constant yields no test (an empty table): no
finding, no q-value.

Example
-------
>>> import pandas as pd
>>> n = 400
>>> inv = pd.DataFrame({"seller_tax_id": ["A"] * 20 + [f"S{i % 40}" for i in range(n)],
...                     "status": ["void"] * 12 + ["normal"] * 8 + ["void" if i % 37 == 0 else "normal" for i in range(n)],
...                     "amount_fen": 100})
>>> t = void_red_test(inv)
>>> bool(t.loc["A", "q"] < 0.001), bool(t.drop(index="A")["q"].min() > 0.05)
(True, True)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from algorithms._tables import epoch_seconds
from algorithms.amounts import BLUE, max_in_window
from algorithms.significance import bh_fdr

F64 = npt.NDArray[np.float64]
#: the shell rule's burst window (days), :func:`algorithms.shell.shell`'s ``burst_days``
BURST_DAYS = 30.0
#: quantile at which the reference of a fitted null is trimmed (:func:`_trimmed`)
TRIM = 0.99
#: rule → its per-taxpayer test, in words (Chinese, for the reasons and the docs)
TESTS: dict[str, str] = {
    "void_red": "作废、红冲张数按本数据的作废率、红冲率检验（β-二项分布，含开票方之间的差异）",
    "near_limit": "顶额发票张数按本数据的顶额比例检验（β-二项分布，含开票方之间的差异）",
    "shell": "30 天内开票张数与本数据新设企业比较（负二项分布）",
}


def binomial_p(k: npt.ArrayLike, n: npt.ArrayLike, rate: float) -> F64:
    """One-sided binomial p-values P(X ≥ k), X ~ Bin(n, rate); 1 where k ≤ 0 and 0 < rate.

    >>> binomial_p([0, 1, 5], [10, 10, 10], 0.1).round(4).tolist()
    [1.0, 0.6513, 0.0016]
    """
    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    if rate <= 0:
        return np.where(k_ > 0, 0.0, 1.0)
    return np.asarray(np.where(k_ <= 0, 1.0, stats.binom.sf(k_ - 1, n_, min(rate, 1.0))), dtype=np.float64)


def overdispersion(k: npt.ArrayLike, n: npt.ArrayLike) -> tuple[float, float]:
    """Pooled rate and intra-seller correlation ρ ≥ 0 of counts ``k`` out of ``n`` (method of moments:
    Var k_i = n_i·p·(1-p)·(1 + (n_i - 1)·ρ)), fitted on the sellers whose share is at or below the :data:`TRIM`
    quantile, so that the few extreme sellers the test is looking for do not widen their own null.

    >>> overdispersion([3, 3, 3, 3], [300, 300, 300, 300])
    (0.01, 0.0)
    """
    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    ok = n_ > 0
    k_, n_ = k_[ok], n_[ok]
    if not len(k_) or n_.sum() <= 0:
        return 0.0, 0.0
    rate = float(k_.sum() / n_.sum())
    keep = _trimmed(k_ / n_)
    kt, nt = k_[keep], n_[keep]
    p0 = float(kt.sum() / nt.sum()) if nt.sum() > 0 else rate
    pairs = float((nt * (nt - 1)).sum())
    if not 0 < p0 < 1 or pairs <= 0:
        return rate, 0.0
    rho = (float(((kt - nt * p0) ** 2).sum()) / (p0 * (1 - p0)) - float(nt.sum())) / pairs
    return rate, float(np.clip(rho, 0.0, 0.999))


def overdispersed_binomial_p(k: npt.ArrayLike, n: npt.ArrayLike) -> F64:
    """One-sided P(X ≥ k_i) per seller, X ~ beta-binomial(n_i) with the mean rate and the between-seller spread
    of the data itself (:func:`overdispersion`): a plain binomial at the pooled rate when sellers spread no more
    than that. 1 where k ≤ 0.

    A seller with 3 of 300 invoices at the limit where 1 % of all invoices are is ordinary; 60 of 300 is not:

    >>> k = np.array([3] * 100 + [3, 60]); n = np.full(102, 300)
    >>> p = overdispersed_binomial_p(k, n); bool(p[-2] > 0.3), bool(p[-1] < 1e-12)
    (True, True)
    """
    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    rate, rho = overdispersion(k_, n_)
    if rate <= 0 or rho <= 0:
        return binomial_p(k_, n_, rate)
    if rate >= 1:
        return np.ones(len(k_))
    ab = (1 - rho) / rho
    sf = stats.betabinom.sf(k_ - 1, n_.astype(np.int64), rate * ab, (1 - rate) * ab)
    return np.asarray(np.where(k_ <= 0, 1.0, sf), dtype=np.float64)


def _table(p: F64, index: pd.Index, **extra: npt.ArrayLike) -> pd.DataFrame:
    _, q = bh_fdr(p)
    return pd.DataFrame({"p": p, "q": q, **extra}, index=index)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"p": pd.Series(dtype=float), "q": pd.Series(dtype=float)}, index=pd.Index([], dtype=str))


def void_red_test(invoices: pd.DataFrame, *, min_invoices: int = 10) -> pd.DataFrame:
    """Per seller with ≥ ``min_invoices`` invoices (index: seller tax id): ``n``, ``voids``, ``reds``, ``p``, ``q``.

    Empty when the data has no ``status`` / ``amount_fen`` column or no voided and no red-letter invoice."""
    if not {"seller_tax_id", "status", "amount_fen"} <= set(invoices.columns) or not len(invoices):
        return _empty()
    s = pd.DataFrame({"seller": invoices["seller_tax_id"].astype(str).to_numpy(),
                      "void": (invoices["status"] == "void").to_numpy(),
                      "red": (pd.to_numeric(invoices["amount_fen"], errors="coerce") < 0).to_numpy()})
    g = s.groupby("seller").agg(n=("void", "size"), voids=("void", "sum"), reds=("red", "sum"))
    rate_v, rate_r = float(g["voids"].sum() / g["n"].sum()), float(g["reds"].sum() / g["n"].sum())
    g = g[g["n"] >= min_invoices]
    if (rate_v <= 0 and rate_r <= 0) or not len(g):
        return _empty()
    pv = overdispersed_binomial_p(g["voids"], g["n"]) if rate_v > 0 else np.ones(len(g))
    pr = overdispersed_binomial_p(g["reds"], g["n"]) if rate_r > 0 else np.ones(len(g))
    tests = int(rate_v > 0) + int(rate_r > 0)
    p = np.minimum(1.0, tests * np.minimum(pv, pr))
    return _table(p, g.index, n=g["n"], voids=g["voids"], reds=g["reds"])


def near_limit_test(invoices: pd.DataFrame, limits: pd.Series, *, near: float = 0.9,
                    min_invoices: int = 5) -> pd.DataFrame:
    """Per seller with a limit and ≥ ``min_invoices`` blue invoices: ``n``, ``near_n``, ``p``, ``q``.

    ``invoices``: blue invoices (``seller_tax_id``, ``amount_fen``); ``limits``: tax id → per-invoice limit (fen).
    ``p``: the larger of :func:`overdispersed_binomial_p` (its share against every seller's) and
    :func:`negative_binomial_p` (its count against every seller's count). Empty when no seller
    has a limit or no invoice of any seller lies in [``near``·L, L)."""
    lim = pd.to_numeric(limits, errors="coerce").dropna()
    lim = lim[lim > 0]
    if not len(lim) or not len(invoices):
        return _empty()
    lim.index = lim.index.astype(str)
    seller = invoices["seller_tax_id"].astype(str)
    l_ = seller.map(lim)
    has = l_.notna().to_numpy()
    x = pd.to_numeric(invoices["amount_fen"], errors="coerce").to_numpy(dtype=np.float64)[has]
    lv = l_.to_numpy(dtype=np.float64)[has]
    g = pd.DataFrame({"seller": seller.to_numpy()[has], "near": (x >= near * lv) & (x < lv)}).groupby("seller")
    t = pd.DataFrame({"n": g.size(), "near_n": g["near"].sum()})
    rate = float(t["near_n"].sum() / max(1, t["n"].sum()))
    t = t[t["n"] >= min_invoices]
    if rate <= 0 or not len(t):
        return _empty()
    k = t["near_n"].to_numpy(dtype=np.float64)
    p = np.maximum(overdispersed_binomial_p(k, t["n"]), negative_binomial_p(k, k))
    return _table(p, t.index, n=t["n"], near_n=t["near_n"])


def _trimmed(x: F64) -> npt.NDArray[np.bool_]:
    """Entries at or below the :data:`TRIM` quantile of ``x``: the reference a spread is fitted on, so that a
    few extreme taxpayers (the ones the test is looking for) do not widen their own null."""
    return np.asarray(x <= np.quantile(x, TRIM), dtype=np.bool_) if len(x) else np.zeros(0, dtype=np.bool_)


def negative_binomial_p(k: F64, ref: F64) -> F64:
    """One-sided P(X ≥ k) per entry, X negative binomial with the mean and variance of ``ref`` (trimmed at its 99th
    percentile); Poisson when ``ref`` spreads no more than Poisson.

    >>> ref = np.array([0.0] * 100 + [1.0] * 200 + [2.0] * 100 + [3.0] * 60 + [6.0] * 20)
    >>> p = negative_binomial_p(np.array([3.0, 40.0]), ref); bool(p[0] > 0.1), bool(p[1] < 1e-9)
    (True, True)
    """
    r_ = ref[_trimmed(ref)]
    m = float(r_.mean()) if len(r_) else 0.0
    v = float(r_.var(ddof=1)) if len(r_) > 1 else 0.0
    if m <= 0:
        return np.where(k > 0, 0.0, 1.0)
    if v <= m:
        return np.asarray(np.where(k <= 0, 1.0, stats.poisson.sf(k - 1, m)), dtype=np.float64)
    size = m * m / (v - m)
    return np.asarray(np.where(k <= 0, 1.0, stats.nbinom.sf(k - 1, size, size / (size + m))), dtype=np.float64)


def log_value_p(value: F64) -> F64:
    """One-sided P(V ≥ v) per entry under a normal fitted robustly (median, 1.4826·MAD) to log10 of ``value``
    (values below 1 count as 1); all 1 when the values do not spread (MAD 0).

    >>> v = np.array([1e6] * 50 + [2e6] * 50 + [5e5] * 50 + [1e9]); p = log_value_p(v)
    >>> bool(p[-1] < 1e-6), bool(p[:150].min() > 0.1)
    (True, True)
    """
    lv = np.log10(np.clip(np.asarray(value, dtype=np.float64), 1.0, None))
    if not len(lv):
        return np.ones(0)
    med = float(np.median(lv))
    mad = 1.4826 * float(np.median(np.abs(lv - med)))
    if mad <= 0:
        return np.ones(len(lv))
    return np.asarray(stats.norm.sf((lv - med) / mad), dtype=np.float64)


def shell_test(act: pd.DataFrame, busiest: pd.Series, busiest_value: pd.Series | None = None, *,
               young_days: float = 180) -> pd.DataFrame:
    """Per young seller (age at first invoice < ``young_days``; ``act``: :func:`algorithms.shell.activity`):
    ``busiest`` (its output invoices in its busiest 30 days), ``p`` and BH ``q`` over the young sellers.

    ``p``: the count against the young sellers' own counts (negative binomial); with ``busiest_value`` (the
    output value of its busiest 30 days, fen) also that value against theirs (:func:`log_value_p`), the smaller
    p-value doubled (Bonferroni). A young company that sells and falls silent is common (most start small and some
    stop); one that issues dozens of invoices, or a value a hundred times the usual, in its first weeks is not.
    Empty when the ages are missing or all equal (no registration dates: the rule cannot fire)."""
    if "age_days" not in act or act["age_days"].nunique(dropna=True) <= 1:
        return _empty()
    a = act[(act["out_n"] > 0) & (act["age_days"] < young_days)]
    if not len(a):
        return _empty()
    k = busiest.reindex(a.index).fillna(0.0).to_numpy(dtype=np.float64)
    p = negative_binomial_p(k, k)
    if busiest_value is not None:
        pv = log_value_p(busiest_value.reindex(a.index).fillna(0.0).to_numpy(dtype=np.float64))
        p = np.minimum(1.0, 2 * np.minimum(p, pv))
    return _table(p, a.index.astype(str), busiest=k)


def rule_qvalues(invoices: pd.DataFrame, taxpayers: pd.DataFrame | None, act: pd.DataFrame, *, rules: set[str] | frozenset[str]) -> dict[str, pd.Series]:
    """Rule → per-taxpayer q-value (index: tax id) for each rule of ``rules`` that has a test here (:data:`TESTS`)
    and whose input exists in the data; a rule without a table is left out (it is not judged per taxpayer)."""
    out: dict[str, pd.DataFrame] = {}
    if "void_red" in rules:
        out["void_red"] = void_red_test(invoices)
    blue = invoices[invoices["status"].isin(BLUE) & (invoices["total_fen"] > 0)] if "status" in invoices \
        else invoices
    if "near_limit" in rules and taxpayers is not None and "invoice_limit_fen" in taxpayers:
        limits = taxpayers.set_index(taxpayers["tax_id"].astype(str))["invoice_limit_fen"]
        out["near_limit"] = near_limit_test(blue, limits)
    if "shell" in rules:
        seller, at = blue["seller_tax_id"].astype(str), epoch_seconds(blue["issued_at"])
        busiest = max_in_window(seller, at, np.ones(len(blue)), BURST_DAYS)
        value = max_in_window(seller, at, blue["total_fen"].to_numpy(dtype=np.float64), BURST_DAYS)
        out["shell"] = shell_test(act, busiest, value)
    return {r: t["q"] for r, t in out.items() if len(t)}

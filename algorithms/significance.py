"""Significance against the data's own null (显著性检验): p-values, FDR control and null-model shuffles.

A detector that counts loops or bursts finds some in any busy data. Whether a finding is *rare* is
judged against shuffled copies of the same invoice table, each destroying one kind of structure
while keeping everything else:

* :func:`shuffle_times` — issue times permuted within periods (monthly rhythm and each invoice's
  parties and amount survive; the order of hops around a loop does not);
* :func:`shuffle_amounts` — amounts permuted among one company's invoices (its amount profile
  survives; matching amounts hop to hop do not);
* :func:`rewire` — buyers permuted among invoices (every company's invoice in/out counts survive,
  who trades with whom does not): a degree-preserving rewiring.

A statistic of each finding is compared with the same statistic of the findings in the shuffled
copies (:func:`empirical_pvalue`), and the false discovery rate over all findings is controlled with
Benjamini–Hochberg (:func:`bh_fdr`). All functions are pure and seeded by the caller's ``rng``.

Example
-------
>>> import numpy as np
>>> null = np.arange(100.0)                 # statistic of 100 findings in shuffled data
>>> p = empirical_pvalue([150.0, 50.0], null)
>>> p.round(3).tolist()
[0.01, 0.505]
>>> bh_fdr(p, q=0.05)[0].tolist()
[True, False]
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms._tables import DAY, TZ, epoch_seconds, localized

F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
#: Default false discovery rate for every detector that reports findings through this module.
DEFAULT_FDR = 0.05
#: Amount columns moved together by :func:`shuffle_amounts` (those present in the frame).
AMOUNT_COLUMNS = ("amount_fen", "tax_fen", "total_fen", "rate")


#: below this a p- or q-value is shown as "< 0.0001": smaller figures are artefacts of the null's fitted tail
SHOWN_FLOOR = 1e-4


def sig(x: float) -> str:
    """A p- or q-value as an investigator reads it: "= 0.012", or "< 0.0001" below :data:`SHOWN_FLOOR`.

    >>> sig(0.01234), sig(5.4e-11), sig(0.0)
    ('= 0.012', '< 0.0001', '< 0.0001')
    """
    return f"< {SHOWN_FLOOR:g}" if x < SHOWN_FLOOR else f"= {x:.2g}"


#: matches evidence text that already states a q-value (so a reason does not repeat it)
STATES_Q = re.compile(r"\bq [=<]")


def pq(p: float | None = None, q: float | None = None) -> str:
    """"p = 0.0031，q = 0.012" (either part left out when None); see :func:`sig`."""
    return "，".join(f"{n} {sig(float(v))}" for n, v in (("p", p), ("q", q)) if v is not None)


def bh_fdr(pvalues: npt.ArrayLike, q: float = DEFAULT_FDR) -> tuple[BOOL, F64]:
    """Benjamini–Hochberg false discovery control.

    Parameters
    ----------
    pvalues : array_like
        One p-value per finding, each in [0, 1]. NaN means "not tested": never rejected, q-value NaN.
    q : float
        Target false discovery rate, in (0, 1].

    Returns
    -------
    reject : ndarray of bool
        True where the finding is a discovery at FDR ``q``.
    qvalues : ndarray of float
        BH-adjusted p-values (the smallest FDR at which each finding would be a discovery).

    Examples
    --------
    >>> reject, qv = bh_fdr([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205], q=0.05)
    >>> reject.tolist()
    [True, True, False, False, False, False, False, False]
    >>> qv.round(3).tolist()[:3]
    [0.008, 0.032, 0.067]
    >>> bh_fdr([])[0].tolist()
    []
    """
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    qvalues = np.full(p.shape, np.nan)
    if ok.any():
        from scipy import stats  # deferred: importing scipy.stats costs seconds

        qvalues[ok] = stats.false_discovery_control(p[ok], method="bh")
    reject = np.zeros(p.shape, dtype=bool)
    reject[ok] = qvalues[ok] <= q
    return reject, qvalues


def empirical_pvalue(
    observed: npt.ArrayLike,
    null_samples: npt.ArrayLike,
    *,
    alternative: Literal["greater", "less"] = "greater",
    tail: int | None = None,
) -> F64:
    """Empirical p-value of each observation against one pooled null sample.

    ``p = (1 + #{null >= obs}) / (1 + n)`` (``<=`` for ``alternative="less"``): never 0, exact under
    exchangeability (Phipson & Smyth 2010). Vectorised: O((m + n) log n).

    The smallest such p-value is ``1 / (1 + n)``: with many findings that is too coarse for an FDR
    (m findings need p below ``q / m``). With ``tail=k`` (``"greater"`` only), observations beyond the
    ``k``-th largest null value get the tail extrapolated from the top ``k`` null values instead: an
    exponential (generalised Pareto with shape 0) fitted to their excesses,
    ``p = k / (1 + n) · exp(−(x − u) / mean excess)`` (Knijnenburg et al. 2009, *Fewer permutations,
    more accurate P-values*).

    Parameters
    ----------
    observed : array_like
        Statistic of each finding in the real data (larger = more suspicious for ``"greater"``).
    null_samples : array_like
        The same statistic of findings in shuffled copies (pooled). Empty → every p-value is 1.
    alternative : {"greater", "less"}
        Which tail counts as extreme.

    Returns
    -------
    ndarray of float
        One p-value per observation, in (0, 1].

    Examples
    --------
    >>> empirical_pvalue([3, 0, 10], [1, 2, 3, 4]).tolist()
    [0.6, 1.0, 0.2]
    >>> empirical_pvalue([0.5], [1, 2, 3, 4], alternative="less").tolist()
    [0.2]
    >>> empirical_pvalue([1.0], []).tolist()
    [1.0]
    >>> null = np.random.default_rng(0).exponential(size=1_000)
    >>> p = empirical_pvalue([5.0, 12.0], null, tail=100)
    >>> bool(p[1] < 1 / 1001 < p[0])
    True
    """
    obs = np.asarray(observed, dtype=np.float64).ravel()
    null = np.sort(np.asarray(null_samples, dtype=np.float64).ravel())
    null = null[~np.isnan(null)]
    n = len(null)
    if alternative == "greater":
        extreme = n - np.searchsorted(null, obs, side="left")
    elif alternative == "less":
        extreme = np.searchsorted(null, obs, side="right")
    else:
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    out = np.asarray((1.0 + extreme) / (1.0 + n), dtype=np.float64)
    if tail is not None and alternative == "greater" and n > tail >= 10:
        u = null[n - tail - 1]                     # threshold: the (tail + 1)-th largest null value
        excess = null[n - tail:] - u
        beta = float(excess.mean())
        beyond = obs > u
        if beta > 0 and beyond.any():
            out[beyond] = np.minimum(out[beyond], tail / (1.0 + n) * np.exp(-(obs[beyond] - u) / beta))
    out[np.isnan(obs)] = 1.0
    return out


# --------------------------------------------------------------------------------------------------
# null models


def _group_permutation(groups: npt.NDArray[np.int64], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """An index permutation ``perm`` with ``groups[perm] == groups``: rows shuffled within each group."""
    by_group = np.argsort(groups, kind="stable")
    rank = np.empty(len(groups), dtype=np.float64)          # dense group rank + U[0, 1): exact below 2**52 groups
    rank[by_group] = np.cumsum(np.r_[0, np.diff(groups[by_group]) != 0])
    shuffled = np.argsort(rank + rng.random(len(groups)))
    perm = np.empty(len(groups), dtype=np.int64)
    perm[by_group] = shuffled
    return perm


def _period_groups(col: pd.Series, period: Literal["month"] | int) -> npt.NDArray[np.int64]:
    """Period id of each time: calendar month in Asia/Shanghai, or ``period``-day blocks from the first."""
    if period == "month":
        local = localized(col).dt.tz_convert(TZ)
        return np.asarray(local.dt.year * 12 + local.dt.month, dtype=np.int64)
    if isinstance(period, int) and not isinstance(period, bool) and period > 0:
        sec = epoch_seconds(col)
        return np.asarray((sec - sec.min()) // (period * DAY), dtype=np.int64)
    raise ValueError(f"period must be 'month' or a positive number of days, got {period!r}")


def _take(col: pd.Series, perm: npt.NDArray[np.int64]) -> pd.Series:
    """``col``'s values reordered by ``perm`` on ``col``'s index (typed arrays kept: no object round trip)."""
    return pd.Series(col.array.take(perm), index=col.index, name=col.name)


def _codes(col: pd.Series) -> npt.NDArray[np.int64]:
    return np.asarray(pd.factorize(col, use_na_sentinel=False)[0], dtype=np.int64)


def shuffle_times(
    inv: pd.DataFrame,
    *,
    period: Literal["month"] | int = "month",
    rng: np.random.Generator,
    column: str = "issued_at",
) -> pd.DataFrame:
    """Copy of ``inv`` with issue times permuted among the invoices of the same period.

    Each invoice keeps its seller, buyer and amounts; only *when* it was issued moves, and only
    within its calendar month (``period="month"``, Asia/Shanghai) or its block of ``period`` days
    since the earliest invoice. Monthly and seasonal volume survives; the time order of a loop's
    hops becomes random.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> inv = pd.DataFrame({"seller_tax_id": list("ABCD"), "buyer_tax_id": list("BCDA"),
    ...     "total_fen": [1, 2, 3, 4],
    ...     "issued_at": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-03", "2024-02-09"]).tz_localize("Asia/Shanghai")})
    >>> out = shuffle_times(inv, rng=np.random.default_rng(0))
    >>> sorted(out["issued_at"]) == sorted(inv["issued_at"]), (out["issued_at"].dt.month == inv["issued_at"].dt.month).all()
    (True, np.True_)
    """
    if column not in inv:
        raise KeyError(f"invoice frame has no {column!r} column")
    out = inv.copy()
    if len(inv) == 0:
        return out
    perm = _group_permutation(_period_groups(inv[column], period), rng)
    out[column] = _take(inv[column], perm)
    return out


def shuffle_amounts(
    inv: pd.DataFrame,
    *,
    by: str = "seller_tax_id",
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Copy of ``inv`` with amounts permuted among the invoices of the same company (``by`` column).

    The amount columns present (:data:`AMOUNT_COLUMNS`) move together, so each invoice stays
    internally consistent (amount + tax = total). ``by`` may also be ``"buyer_tax_id"``;
    ``by="seller"`` / ``"buyer"`` are accepted as short names.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> inv = pd.DataFrame({"seller_tax_id": ["A", "A", "A", "B"], "buyer_tax_id": list("BCDA"),
    ...     "total_fen": [10, 20, 30, 99]})
    >>> out = shuffle_amounts(inv, rng=np.random.default_rng(1))
    >>> sorted(out["total_fen"][:3]), int(out["total_fen"][3])
    ([10, 20, 30], 99)
    """
    by = {"seller": "seller_tax_id", "buyer": "buyer_tax_id"}.get(by, by)
    if by not in inv:
        raise KeyError(f"invoice frame has no {by!r} column")
    out = inv.copy()
    if len(inv) == 0:
        return out
    perm = _group_permutation(_codes(inv[by]), rng)
    for col in AMOUNT_COLUMNS:
        if col in inv:
            out[col] = _take(inv[col], perm)
    return out


def rewire(
    inv: pd.DataFrame,
    *,
    rng: np.random.Generator,
    period: Literal["month"] | int | None = None,
    rounds: int = 20,
) -> pd.DataFrame:
    """Copy of ``inv`` with buyers permuted among invoices: a degree-preserving rewiring.

    Every company keeps exactly its number of output and of input invoices (its out- and in-degree
    in the invoice multigraph), every invoice keeps its seller, time and amount; only which buyer
    it went to changes — the result of swapping the buyers of random invoice pairs until mixed.
    With ``period`` the buyers are permuted only within that period (see :func:`shuffle_times`), so
    each company also keeps *when* it buys. Self-invoicing created by the permutation is repaired by
    swapping with other random invoices (up to ``rounds`` passes; rare leftovers stay self-billed, which
    every detector ignores). Buyer name columns move with the buyer.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> inv = pd.DataFrame({"seller_tax_id": list("AABCCD"), "buyer_tax_id": list("BCCDAA"),
    ...     "total_fen": [1, 2, 3, 4, 5, 6]})
    >>> out = rewire(inv, rng=np.random.default_rng(0))
    >>> out["seller_tax_id"].value_counts().equals(inv["seller_tax_id"].value_counts())
    True
    >>> sorted(out["buyer_tax_id"]) == sorted(inv["buyer_tax_id"]), bool((out.seller_tax_id != out.buyer_tax_id).all())
    (True, True)
    """
    for col in ("seller_tax_id", "buyer_tax_id"):
        if col not in inv:
            raise KeyError(f"invoice frame has no {col!r} column")
    out = inv.copy()
    n = len(inv)
    if n == 0:
        return out
    groups = np.zeros(n, dtype=np.int64) if period is None else _period_groups(inv["issued_at"], period)
    inverse = np.asarray(pd.factorize(pd.concat([inv["seller_tax_id"], inv["buyer_tax_id"]], ignore_index=True))[0])
    seller, buyer0 = inverse[:n], inverse[n:]
    perm = _group_permutation(groups, rng)
    for _ in range(rounds):
        bad = np.flatnonzero(seller == buyer0[perm])
        if len(bad) == 0:
            break
        # swap each self-loop's buyer with a random invoice of the same group
        order = np.argsort(groups, kind="stable")
        starts = np.searchsorted(groups[order], groups[bad], side="left")
        ends = np.searchsorted(groups[order], groups[bad], side="right")
        other = order[starts + (rng.random(len(bad)) * (ends - starts)).astype(np.int64)]
        ok = (seller[bad] != buyer0[perm[other]]) & (seller[other] != buyer0[perm[bad]]) & (other != bad)
        bad, other = bad[ok], other[ok]
        _, first = np.unique(np.concatenate([bad, other]), return_index=True)
        used = np.zeros(2 * len(bad), dtype=bool)
        used[first] = True
        keep = used[: len(bad)] & used[len(bad):]   # a row may take part in one swap per pass
        bad, other = bad[keep], other[keep]
        perm[bad], perm[other] = perm[other].copy(), perm[bad].copy()
    for col in ("buyer_tax_id", "buyer_name"):
        if col in inv:
            out[col] = _take(inv[col], perm)
    return out

"""Temporal pattern detectors beyond loops (资金/发票分层模式), each judged against the data's own null.

Detectors (``kind`` of a :class:`Pattern`):

* ``fan_out`` / ``fan_in`` — a seller invoices many distinct buyers (a buyer receives invoices from many
  distinct sellers) within a few days: a counterparty burst;
* ``scatter_gather`` — one company's invoices go to several intermediaries, which pass them on to one
  company (possibly the first) within days: S → {B1..Bk} → T;
* ``gather_scatter`` — many companies invoice one hub, which invoices many others within days;
* ``layered`` — stacked layers / chains: invoices passed on from layer to layer (≥ 3 hops) within short
  delays, at least one layer holding several companies;
* ``pass_through`` — a hub whose output equals its input in value and follows it in time (value added
  ≈ 0, output within days of input), judged without item codes;
* ``split_burst`` — many invoices on one seller–buyer pair within days (拆分开票: one deal split into
  several invoices, or one payment relation repeated in a burst);
* ``repeat_pairs`` — a company that invoices (or is invoiced by) several partners twice or more within
  days, judged as one company against a pair-preserving null (多户短期重复开票,
  :mod:`algorithms.patterns_repeat`);
* ``low_amount`` — a company with many invoices far below both its own and each counterparty's usual
  amounts, against copies with amounts permuted within months (双方异常小额往来, :mod:`algorithms.patterns_low`).

Every statistic is computed on the data and on ``null_copies`` shuffled copies of the *same* data
(:mod:`algorithms.significance`: issue times permuted within calendar months; buyers rewired for the
value test of pass-through hubs). A unit's p-value compares its statistic with the null statistics of
units in the same stratum (units of comparable opportunity: monthly breadth, common neighbours, active
months, invoice count), and Benjamini–Hochberg controls the false discovery rate per detector. Windows
are chosen from the data's own rhythm (:func:`rhythm_windows`), not fixed.

Both invoice orientations count: value passed *along* the invoice direction (each company is invoiced,
then invoices on: 过票) or *against* it (each company invoices first, then obtains input invoices:
虚抵进项; payments turned into invoices look like this). Scatter-gather and layered chains are searched
in both; the others report which way their timing points.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> bg = pd.DataFrame({"seller_tax_id": rng.integers(0, 200, 4000).astype(str),
...     "buyer_tax_id": rng.integers(0, 200, 4000).astype(str), "day": rng.uniform(0, 360, 4000),
...     "total_fen": rng.integers(10_000, 99_999, 4000)})
>>> burst = pd.DataFrame({"seller_tax_id": "H", "buyer_tax_id": [f"B{i}" for i in range(15)],
...     "day": 100 + rng.uniform(0, 1, 15), "total_fen": 50_000})
>>> inv = pd.concat([bg, burst], ignore_index=True)
>>> inv["issued_at"] = pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(inv.pop("day"), unit="D")
>>> found = detect_patterns(inv, kinds=("fan_out",))
>>> [(p.kind, p.anchor, len(p.members)) for p in found.patterns]
[('fan_out', 'H', 16)]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from scipy import sparse

from algorithms._tables import DAY, TZ, epoch_seconds, invoice_frame, localized
from algorithms.amounts import BLUE
from algorithms.patterns_kernels import window_breadth
from algorithms.patterns_refine import MIN_DRAWS, MonthPools, draws_needed, own_null
from algorithms.significance import bh_fdr, empirical_pvalue, pq, rewire, shuffle_times

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
KINDS = ("fan_out", "fan_in", "scatter_gather", "gather_scatter", "layered", "pass_through", "split_burst",
         "repeat_pairs", "low_amount")
#: Chinese names of the kinds (evidence and UI)
KIND_ZH = {"split_burst": "拆分开票", "repeat_pairs": "多户短期重复开票", "low_amount": "双方异常小额往来", "fan_out": "集中对外开票", "fan_in": "集中取得进项", "scatter_gather": "分散-汇集",
           "gather_scatter": "汇集-分散", "layered": "分层转开", "pass_through": "过票中转"}
ORIENTATION_ZH = {"along": "顺开票方向（先取得进项、再开出：过票）", "against": "逆开票方向（先开出、再取得进项：虚抵进项）"}


@dataclass(frozen=True)
class PatternParams:
    """Settings of :func:`detect_patterns` (each default defined here once)."""

    #: fewest shuffled copies of the data per null model (p-values resolve to ≈ 1 / (copies × stratum size))
    null_copies: int = 10
    #: more copies on small data: up to this many invoices shuffled in all (copies ≤ ``max_null_copies``)
    null_invoices: int = 2_000_000
    #: most shuffled copies per null model
    max_null_copies: int = 100
    #: false discovery rate per detector (Benjamini–Hochberg)
    fdr: float = 0.05
    #: burst windows in days; empty = chosen from the data's inter-invoice gaps (:func:`rhythm_windows`)
    windows_days: tuple[float, ...] = ()
    #: fewest distinct counterparties of a burst worth testing
    min_burst: int = 5
    #: fewest invoices on one seller–buyer pair in a window worth testing as split invoicing
    min_split: int = 3
    #: fewest intermediaries of a scatter-gather / companies on each side of a gather-scatter
    min_fan: int = 3
    #: fewest companies in each of the two intermediate layers of a layered chain (3 hops)
    min_layer_width: int = 2
    #: fewest distinct sellers and buyers of a pass-through hub
    min_hub_partners: int = 3
    #: strata of the null holding fewer units join the stratum below (see :func:`strata`)
    min_units: int = 100
    #: intermediaries of scatter-gather / layered chains have at most this many partners;
    #: 0 = the data's 95th percentile (at least 10)
    max_intermediary_partners: int = 0
    #: layered chains with more companies are a market, not a ring: skipped
    max_members: int = 60
    #: continuation pairs (invoice → onward invoice) kept at most; the intermediary cap tightens beyond it
    max_pairs: int = 20_000_000
    #: invoices listed per finding at most
    max_invoices: int = 200
    #: burst units with a pooled p-value ≤ fdr get it recomputed against their own null
    #: (:mod:`algorithms.patterns_refine`); False = the pooled p-value only (before detector 2026.12.02.10)
    own_null: bool = True


@dataclass(frozen=True)
class Pattern:
    """One significant temporal pattern.

    ``members`` start with the ``anchor`` (the bursting company, the source of a scatter-gather, the
    hub …); ``invoice_keys`` are the invoices that make it, in time order; ``start`` / ``end`` bound
    them; ``statistic`` is the detector's measure, ``null_typical`` its own median in the shuffled copies
    (mean for scatter-gather); ``pvalue`` / ``qvalue`` its empirical p-value and BH q-value.
    """

    kind: str
    anchor: str
    members: tuple[str, ...]
    invoice_keys: tuple[str, ...]
    start: datetime
    end: datetime
    statistic: float
    null_typical: float
    pvalue: float
    qvalue: float
    orientation: str
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def window_days(self) -> float:
        """Days between the first and the last invoice."""
        return (self.end - self.start).total_seconds() / DAY


@dataclass(frozen=True)
class PatternSearch:
    """Result of :func:`detect_patterns`: significant patterns, how many units each detector tested,
    why a detector stayed silent (missing or constant column), the windows used and seconds per detector."""

    patterns: list[Pattern]
    tested: dict[str, int]
    silent: dict[str, str]
    windows_days: tuple[float, ...]
    seconds: dict[str, float]
    stats: dict[str, float] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Pattern]:
        """Patterns of one kind."""
        return [p for p in self.patterns if p.kind == kind]


# --------------------------------------------------------------------------------------------------
# the invoice flows as arrays


@dataclass(frozen=True)
class Flows:
    """Blue, positive, non-self invoices as parallel arrays; taxpayers as codes into ``names``."""

    names: npt.NDArray[np.object_]
    s: I64
    b: I64
    t: I64
    a: F64
    key: npt.NDArray[np.object_]
    month: I64
    times: pd.Series
    has_amounts: bool

    @property
    def n(self) -> int:
        """Number of taxpayers."""
        return len(self.names)

    def reversed(self) -> Flows:
        """The same invoices with seller and buyer swapped (the *against* orientation becomes *along*)."""
        return replace(self, s=self.b, b=self.s)

    def with_(self, *, t: I64 | None = None, b: I64 | None = None) -> Flows:
        """A copy with other times or buyers (a null copy)."""
        return replace(self, t=self.t if t is None else t, b=self.b if b is None else b)


def _constant(col: pd.Series) -> bool:
    return bool(col.nunique(dropna=True) <= 1)


def prepare(invoices: pa.Table | pd.DataFrame) -> tuple[Flows | None, dict[str, str]]:
    """The invoices as :class:`Flows`, and why detectors must stay silent (kind → reason).

    Needs ``seller_tax_id``, ``buyer_tax_id`` and ``issued_at``; ``total_fen`` (else ``amount_fen``) and
    ``status`` are optional: without amounts the pass-through hub stays silent and other evidence
    omits amounts; without a status every invoice counts. Void, red-letter and non-positive invoices
    never count.
    """
    inv = invoice_frame(invoices)
    silent: dict[str, str] = {}
    for col in ("seller_tax_id", "buyer_tax_id"):
        if col not in inv.columns:
            raise KeyError(f"invoice table has no {col!r} column")
    if "issued_at" not in inv.columns or inv["issued_at"].isna().all() or _constant(inv["issued_at"]):
        why = "缺少开票时间或开票时间全部相同"
        return None, {k: why for k in KINDS}
    amount_col = "total_fen" if "total_fen" in inv.columns else "amount_fen" if "amount_fen" in inv.columns else None
    keep = inv["seller_tax_id"].notna() & inv["buyer_tax_id"].notna() & inv["issued_at"].notna()
    keep &= inv["seller_tax_id"].astype(str) != inv["buyer_tax_id"].astype(str)
    if "status" in inv.columns:
        keep &= inv["status"].isin(BLUE) | inv["status"].isna()
    has_amounts = amount_col is not None and not _constant(inv[amount_col])
    if amount_col is not None:
        keep &= ~(pd.to_numeric(inv[amount_col], errors="coerce") <= 0)
    if not has_amounts:
        silent["pass_through"] = silent["low_amount"] = "缺少金额或金额全部相同"
    inv = inv[keep.to_numpy()]
    codes, names = pd.factorize(pd.concat([inv["seller_tax_id"], inv["buyer_tax_id"]], ignore_index=True).astype(str))
    m = len(inv)
    times = localized(inv["issued_at"]).reset_index(drop=True)
    t = epoch_seconds(times)
    local = times.dt.tz_convert(TZ)
    month = np.asarray(local.dt.year * 12 + local.dt.month, dtype=np.int64)
    a = pd.to_numeric(inv[amount_col], errors="coerce").to_numpy(dtype=np.float64) if amount_col else np.full(m, np.nan)
    key = inv["key"].astype(str).to_numpy(dtype=object) if "key" in inv.columns else np.arange(m).astype(str).astype(object)
    fl = Flows(np.asarray(names, dtype=object), codes[:m].astype(np.int64), codes[m:].astype(np.int64), t, a,
               key, month, times, has_amounts)
    return fl, silent


def rhythm_windows(fl: Flows, *, quantile: float = 0.25, max_days: float = 10) -> tuple[float, ...]:
    """Burst windows (days) from the data's rhythm: 1, 2, 4 … days up to the ``quantile`` over companies
    of each company's median gap between consecutive invoices it issues or receives (at most ``max_days``).

    A burst is many counterparties met much faster than a company usually meets one; the null keeps
    each month's invoices, so windows beyond a third of a month could not differ from it anyway.
    Data recorded by the day gets whole-day windows; busy data (short gaps) gets short windows only.
    """
    side = np.concatenate([fl.s, fl.b])
    tt = np.concatenate([fl.t, fl.t])
    order = np.lexsort((tt, side))
    side, tt = side[order], tt[order]
    gap = np.diff(tt).astype(np.float64) / DAY
    ok = (side[1:] == side[:-1]) & (gap > 0)
    g = pd.Series(gap[ok]).groupby(side[1:][ok]).median()
    top = float(np.clip(np.quantile(g.to_numpy(), quantile), 1, max_days)) if len(g) else 1.0
    return tuple(float(2**k) for k in range(int(np.log2(top)) + 1))


# --------------------------------------------------------------------------------------------------
# significance helpers


def strata(values: npt.ArrayLike, min_units: int = 1, weights: npt.ArrayLike | None = None) -> I64:
    """Stratum per unit: the exact value up to 8, then octave bins (9–16, 17–32 …); adjacent bins are
    pooled from the bottom until each pool holds ≥ ``min_units`` units (``weights`` = units per value,
    default 1 each), a small top remainder joining the pool below.

    Units of a stratum have comparable opportunity (e.g. monthly breadth), so their null statistics
    are pooled; detectors compare a statistic relative to that opportunity (a ratio), whose null
    spread shrinks as the opportunity grows, so pooling a bigger unit with smaller ones is conservative for it.

    >>> strata([1, 2, 8, 9, 16, 17, 100]).tolist()
    [1, 2, 8, 9, 9, 10, 12]
    >>> strata([1, 1, 2, 2, 3, 50], min_units=2).tolist()
    [1, 1, 2, 2, 3, 3]
    """
    v = np.maximum(np.asarray(values, dtype=np.float64), 0)
    bins = np.where(v <= 8, v, 8 + np.ceil(np.log2(np.maximum(v, 8) / 8))).astype(np.int64)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
    uniq, idx = np.unique(bins, return_inverse=True)
    per = np.bincount(idx, weights=w, minlength=len(uniq))
    label = np.zeros(len(uniq), dtype=np.int64)
    g, acc = 0, 0.0
    for i, c in enumerate(per):                     # adjacent bins pooled until each pool is big enough
        label[i] = uniq[g]
        acc += c
        if acc >= min_units and i + 1 < len(uniq):
            g, acc = i + 1, 0.0
    if 0 < acc < min_units and g > 0:               # a small top remainder joins the pool below
        label[label == uniq[g]] = label[g - 1]
    return np.asarray(label[idx], dtype=np.int64)


def stratified_pvalues(obs: F64, obs_strata: I64, null: F64, null_strata: I64, *,
                       alternative: Literal["greater", "less"] = "greater",
                       null_units: dict[int, float] | None = None) -> tuple[F64, F64]:
    """Empirical p-value of each observation against the pooled null of its stratum, and the null's
    median there. ``null_units`` (stratum → number of null units) counts units left out of ``null``
    because they cannot be extreme (their statistic is below every tested one)."""
    p = np.ones(len(obs))
    typical = np.full(len(obs), np.nan)
    for g in np.unique(obs_strata):
        sel = obs_strata == g
        ns = null[null_strata == g]
        if null_units is not None:
            n_all = max(null_units.get(int(g), 0.0), float(len(ns)))
            extreme = (empirical_pvalue(obs[sel], ns, alternative=alternative) * (1 + len(ns))) - 1
            p[sel] = (1 + extreme) / (1 + n_all)
        else:
            p[sel] = empirical_pvalue(obs[sel], ns, alternative=alternative)
        if len(ns):
            typical[sel] = float(np.median(ns))
    return p, typical



def best_setting(settings: list[float], stat: Callable[[F64, float], F64], observed: F64, null_copies: list[F64],
                 st: I64, o: F64, floor: float) -> tuple[F64, I64, F64]:
    """Each unit's smallest p-value over the ``settings`` tried (a window, a factor: Bonferroni over them), the
    index of the setting that gave it, and the typical count there in the null copies (the copies' median
    statistic as a count out of ``o``). ``stat(values, setting)`` is a unit's statistic from per-invoice values
    (``observed`` or one copy's); a unit whose observed statistic is below ``floor`` (nothing to test) keeps p 1."""
    best_p = np.ones(len(o))
    best_i = np.zeros(len(o), dtype=np.int64)
    typical = np.zeros(len(o))
    for si, setting in enumerate(settings):
        obs = stat(observed, setting)
        nulls = [stat(g, setting) for g in null_copies]
        null = np.concatenate(nulls) if nulls else np.zeros(0)
        pv, _ = stratified_pvalues(obs, st, null, np.tile(st, len(nulls)))
        pv = np.where(obs >= floor, pv, 1.0)
        pv = np.minimum(1.0, pv * len(settings))
        own = np.median(np.vstack(nulls), axis=0) if nulls else np.zeros(len(o))
        better = pv < best_p
        best_p[better], best_i[better] = pv[better], si
        typical[better] = np.round(own[better] * o[better] / (1 + 1e-3 * o[better]))
    return best_p, best_i, typical


def _fisher(p1: F64, p2: F64) -> F64:
    """Fisher's combination of two independent p-values (χ² with 4 degrees of freedom, closed form)."""
    x = -np.log(np.clip(p1, 1e-300, 1)) - np.log(np.clip(p2, 1e-300, 1))
    return np.asarray(np.exp(-x) * (1 + x), dtype=np.float64)


def _groups(keys: I64, n: int) -> tuple[I64, I64, I64]:
    """For keys sorted ascending, the [start, end) slice of each value 0..n-1 and the sort order."""
    starts = np.searchsorted(keys, np.arange(n), side="left")
    ends = np.searchsorted(keys, np.arange(n), side="right")
    return starts.astype(np.int64), ends.astype(np.int64), np.arange(len(keys), dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# statistics (run on the data and on every null copy)


def _monthly_breadth(anchor: I64, cp: I64, month: I64, n: int) -> F64:
    """Per anchor code, the most distinct counterparties it met in one calendar month."""
    d = pd.DataFrame({"a": anchor, "c": cp, "m": month}).drop_duplicates()
    per = d.groupby(["a", "m"]).size().groupby(level=0).max()
    out = np.zeros(n)
    out[per.index.to_numpy(dtype=np.int64)] = per.to_numpy(dtype=np.float64)
    return out


def _time_order(anchor: I64, t: I64) -> I64:
    """Indices sorting events by (anchor, time): one argsort of a composite int64 key (faster than lexsort)."""
    t0 = int(t.min()) if len(t) else 0
    span = int(t.max()) - t0 + 1 if len(t) else 1
    return np.asarray(np.argsort(anchor * span + (t - t0)), dtype=np.int64)


def _breadth(anchor: I64, cp: I64, t: I64, n: int, widths_s: list[int],
             side: I64 | None = None) -> tuple[I64, I64, I64, I64, I64, I64]:
    """window_breadth over events grouped by anchor, for every width at once:
    (stat, lo, hi, d_in, d_out) shaped (widths, anchor codes), and the sort order the indices refer to."""
    order = _time_order(anchor, t)
    a_sorted = anchor[order]
    codes = np.arange(n)
    starts = np.searchsorted(a_sorted, codes, side="left").astype(np.int64)
    ends = np.searchsorted(a_sorted, codes, side="right").astype(np.int64)
    sd = np.zeros(len(order), dtype=np.int64) if side is None else side[order]
    stat, lo, hi, d_in, d_out = window_breadth(starts, ends, t[order], cp[order], sd,
                                               np.asarray(widths_s, dtype=np.int64),
                                               int(max(cp.max(initial=0) + 1, 1)), side is not None)
    return stat, lo, hi, d_in, d_out, order


def _hub_events(fl: Flows) -> tuple[I64, I64, I64, I64]:
    """Every invoice twice: as the buyer's input (side 0, counterparty = seller) and the seller's output (side 1)."""
    anchor = np.concatenate([fl.b, fl.s])
    cp = np.concatenate([fl.s, fl.b])
    side = np.concatenate([np.zeros(len(fl.s), dtype=np.int64), np.ones(len(fl.s), dtype=np.int64)])
    return anchor, cp, np.concatenate([fl.t, fl.t]), side


def _eligible(fl: Flows, cap: int) -> npt.NDArray[np.bool_]:
    """Taxpayers with at most ``cap`` distinct partners (possible intermediaries)."""
    pairs = np.unique(np.concatenate([fl.s * fl.n + fl.b, fl.b * fl.n + fl.s]))
    partners = np.bincount(pairs // fl.n, minlength=fl.n)
    return np.asarray(partners <= cap, dtype=bool)


def continuations(fl: Flows, width_s: int, eligible: npt.NDArray[np.bool_]) -> tuple[I64, I64]:
    """Invoice pairs (e1, e2): e1 invoices an eligible company B, which issues e2 within ``width_s``
    seconds after it (0 < t2 − t1 ≤ width). Sorted by e1's time."""
    into = np.flatnonzero(eligible[fl.b])
    outof = np.flatnonzero(eligible[fl.s])
    if len(into) == 0 or len(outof) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    t0 = int(fl.t.min())
    span = int(fl.t.max()) - t0 + width_s + 2
    out_key = fl.s[outof] * span + (fl.t[outof] - t0)
    o = np.argsort(out_key, kind="stable")
    out_key, outof = out_key[o], outof[o]
    k = fl.b[into] * span + (fl.t[into] - t0)
    lo = np.searchsorted(out_key, k, side="right")
    hi = np.searchsorted(out_key, k + width_s, side="right")
    cnt = hi - lo
    first = np.repeat(into, cnt)
    offs = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(int(cnt.sum()))
    second = outof[offs]
    order = np.argsort(fl.t[first], kind="stable")
    return first[order].astype(np.int64), second[order].astype(np.int64)


def _pair_count(fl: Flows, width_s: int, eligible: npt.NDArray[np.bool_]) -> int:
    into = np.flatnonzero(eligible[fl.b])
    outof = np.flatnonzero(eligible[fl.s])
    if len(into) == 0 or len(outof) == 0:
        return 0
    t0 = int(fl.t.min())
    span = int(fl.t.max()) - t0 + width_s + 2
    out_key = np.sort(fl.s[outof] * span + (fl.t[outof] - t0))
    k = fl.b[into] * span + (fl.t[into] - t0)
    return int((np.searchsorted(out_key, k + width_s, side="right") - np.searchsorted(out_key, k, side="right")).sum())


@dataclass
class _SG:
    """Scatter-gather candidates of one flows copy: per (source, sink) pair the most distinct intermediaries."""

    src: I64
    dst: I64
    k: I64
    lo: I64
    hi: I64
    order: I64
    first: I64
    second: I64
    pid_of_path: I64


def _scatter_gather_stat(fl: Flows, width_s: int, eligible: npt.NDArray[np.bool_], min_k: int) -> _SG:
    first, second = continuations(fl, width_s, eligible)
    src, dst, mid = fl.s[first], fl.b[second], fl.b[first]
    pid, uniq = pd.factorize(src * fl.n + dst)
    pid = pid.astype(np.int64)
    n_p = len(uniq)
    # distinct intermediaries per pair first (cheap prefilter): only pairs with ≥ min_k can matter
    dist = pd.Series(mid).groupby(pid).nunique().to_numpy() if n_p else np.zeros(0, dtype=np.int64)
    keep_p = np.flatnonzero(dist >= min_k)
    sel = np.isin(pid, keep_p)
    first, second, pid, mid = first[sel], second[sel], pid[sel], mid[sel]
    remap = np.full(n_p, -1, dtype=np.int64)
    remap[keep_p] = np.arange(len(keep_p))
    pid = remap[pid]
    if len(keep_p) == 0:
        z = np.zeros(0, dtype=np.int64)
        return _SG(z, z, z, z, z, z, first, second, pid)
    stat2, lo2, hi2, _, _, order = _breadth(pid, mid, fl.t[first], len(keep_p), [width_s])
    stat, lo, hi = stat2[0], lo2[0], hi2[0]
    u = np.asarray(uniq)[keep_p].astype(np.int64)
    return _SG(u // fl.n, u % fl.n, stat, lo, hi, order, first, second, pid)


def _common_neighbours(fl: Flows, eligible: npt.NDArray[np.bool_]) -> sparse.csr_matrix:
    """Sparse (source × sink) count of eligible companies B with invoices source → B and B → sink."""
    n = fl.n
    e_in = sparse.csr_matrix((np.ones(int(eligible[fl.b].sum())), (fl.s[eligible[fl.b]], fl.b[eligible[fl.b]])),
                             shape=(n, n))
    e_out = sparse.csr_matrix((np.ones(int(eligible[fl.s].sum())), (fl.s[eligible[fl.s]], fl.b[eligible[fl.s]])),
                              shape=(n, n))
    e_in.data[:] = 1
    e_in.sum_duplicates()
    e_in.data[:] = 1
    e_out.sum_duplicates()
    e_out.data[:] = 1
    return sparse.csr_matrix(e_in @ e_out)


def _three_paths(fl: Flows, width_s: int, eligible: npt.NDArray[np.bool_], max_rows: int) -> pd.DataFrame | None:
    """Time-respecting 3-hop chains S → B → C → T through eligible companies, each hop passed on within
    ``width_s`` seconds, all four companies distinct and eligible. None when there would be more than
    ``max_rows`` (the caller stays silent rather than run out of memory)."""
    f, s = continuations(fl, width_s, eligible)
    cols = ["e1", "e2", "e3", "src", "mid1", "mid2", "dst"]
    if len(f) == 0:
        return pd.DataFrame({c: np.zeros(0, dtype=np.int64) for c in cols})
    n_inv = len(fl.s)
    if int((np.bincount(s, minlength=n_inv) * np.bincount(f, minlength=n_inv)).sum()) > max_rows:
        return None
    m = pd.DataFrame({"e1": f, "e2": s}).merge(pd.DataFrame({"e2": f, "e3": s}), on="e2")
    e1, e2, e3 = (m[c].to_numpy(dtype=np.int64) for c in ("e1", "e2", "e3"))
    src, mid1, mid2, dst = fl.s[e1], fl.b[e1], fl.b[e2], fl.b[e3]
    keep = eligible[src] & eligible[dst] & (src != mid2) & (mid1 != dst) & (src != dst)
    return pd.DataFrame({"e1": e1[keep], "e2": e2[keep], "e3": e3[keep], "src": src[keep], "mid1": mid1[keep],
                         "mid2": mid2[keep], "dst": dst[keep]})


def _layered_units(paths: pd.DataFrame, min_width: int) -> pd.DataFrame:
    """Per (source, sink): distinct companies in the first and second intermediate layer; kept when
    both layers hold ≥ ``min_width`` (stacked), statistic = intermediate companies in all."""
    if len(paths) == 0:
        return pd.DataFrame({"src": [], "dst": [], "w1": [], "w2": [], "stat": []})
    g = paths.groupby(["src", "dst"]).agg(w1=("mid1", "nunique"), w2=("mid2", "nunique")).reset_index()
    g = g[(g["w1"] >= min_width) & (g["w2"] >= min_width)]
    return g.assign(stat=(g["w1"] + g["w2"]).astype(np.float64))


def _permutation_q(obs: F64, nulls: list[F64]) -> tuple[F64, F64]:
    """False discovery rate by permutation: q(x) = mean over copies of #units ≥ x / #observed units ≥ x
    (made monotone), and the per-copy mean count of null units ≥ x."""
    srt = np.sort(obs)
    n_obs_ge = len(obs) - np.searchsorted(srt, obs, side="left")
    exp_null = np.zeros(len(obs))
    for nl in nulls:
        ns = np.sort(nl)
        exp_null += len(ns) - np.searchsorted(ns, obs, side="left")
    exp_null /= max(len(nulls), 1)
    q = np.minimum(1.0, exp_null / np.maximum(n_obs_ge, 1))
    order = np.argsort(-obs, kind="stable")          # from the most extreme down: q never falls as x falls
    q[order] = np.minimum.accumulate(q[order][::-1])[::-1]
    return q, exp_null


def _value_added(fl: Flows, a: F64) -> F64:
    """Per taxpayer: (output − input) / max(input, output), by value."""
    in_tot = np.bincount(fl.b, weights=a, minlength=fl.n)
    out_tot = np.bincount(fl.s, weights=a, minlength=fl.n)
    return np.asarray((out_tot - in_tot) / np.maximum(np.maximum(in_tot, out_tot), 1e-9), dtype=np.float64)


def _pass_through_stat(fl: Flows, a: F64, only: npt.NDArray[np.bool_] | None = None) -> tuple[F64, F64, F64]:
    """Per taxpayer: time mismatch between input and output (days: the Wasserstein-1 distance of the
    value-weighted issue times of its input and of its output), value added (out − in) / max(in, out),
    and the value-weighted mean lag of output after input (days; negative = output first).
    With ``only`` (mask over taxpayers) the mismatch is computed for those taxpayers alone."""
    n = fl.n
    in_tot = np.bincount(fl.b, weights=a, minlength=n)
    out_tot = np.bincount(fl.s, weights=a, minlength=n)
    anchor = np.concatenate([fl.b, fl.s])
    w = np.concatenate([a / np.maximum(in_tot[fl.b], 1e-9), -a / np.maximum(out_tot[fl.s], 1e-9)])
    t_all = np.concatenate([fl.t, fl.t])
    if only is not None:
        sel = only[anchor]
        anchor, w, t_all = anchor[sel], w[sel], t_all[sel]
    order = _time_order(anchor, t_all)
    anchor, w, tt = anchor[order], w[order], t_all[order].astype(np.float64) / DAY
    cum = np.cumsum(w)
    start = np.searchsorted(anchor, anchor, side="left")
    base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    cum = cum - base
    dt = np.zeros(len(tt))
    same = anchor[1:] == anchor[:-1]
    dt[:-1] = np.where(same, np.diff(tt), 0.0)
    w1 = np.bincount(anchor, weights=np.abs(cum) * dt, minlength=n)
    va = (out_tot - in_tot) / np.maximum(np.maximum(in_tot, out_tot), 1e-9)
    mean_in = np.bincount(fl.b, weights=a * fl.t / DAY, minlength=n) / np.maximum(in_tot, 1e-9)
    mean_out = np.bincount(fl.s, weights=a * fl.t / DAY, minlength=n) / np.maximum(out_tot, 1e-9)
    return (np.asarray(w1, dtype=np.float64), np.asarray(va, dtype=np.float64),
            np.asarray(mean_out - mean_in, dtype=np.float64))


# --------------------------------------------------------------------------------------------------
# the detectors


def _fen(x: float) -> str:
    return f"¥{x / 100:,.0f}"


def _days(x: float) -> str:
    return f"{x:.0f}" if x >= 1 else f"{x:.1f}"


class _Run:
    """State shared by the detectors of one :func:`detect_patterns` call (the data and its null copies)."""

    def __init__(self, fl: Flows, params: PatternParams, seed: int) -> None:
        self.fl = fl
        self.p = params
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.refine_rng = np.random.default_rng([seed, 1])        # own-null draws: the copies' stream untouched
        self._pools: MonthPools | None = None
        self.windows = params.windows_days or rhythm_windows(fl)
        slim = pd.DataFrame({"issued_at": fl.times, "seller_tax_id": fl.s, "buyer_tax_id": fl.b})
        self.copies = max(params.null_copies, min(params.max_null_copies, params.null_invoices // max(len(fl.s), 1)))
        self.null_t = [epoch_seconds(shuffle_times(slim, rng=self.rng)["issued_at"]) for _ in range(self.copies)]
        self._rewired: list[I64] | None = None
        self._slim = slim
        self.stats: dict[str, float] = {}

    def rewired(self) -> list[I64]:
        if self._rewired is None:
            self._rewired = [np.asarray(rewire(self._slim, rng=self.rng)["buyer_tax_id"], dtype=np.int64)
                             for _ in range(self.copies)]
        return self._rewired

    def pools(self) -> MonthPools:
        """Issue times by calendar month, for the own-null draws."""
        if self._pools is None:
            self._pools = MonthPools(self.fl.t, self.fl.month)
        return self._pools

    def when(self, idx: I64) -> tuple[datetime, datetime]:
        ts = self.fl.t[idx]
        return (pd.Timestamp(int(ts.min()), unit="s", tz=TZ).to_pydatetime(),
                pd.Timestamp(int(ts.max()), unit="s", tz=TZ).to_pydatetime())

    def keys(self, idx: I64) -> tuple[str, ...]:
        o = idx[np.argsort(self.fl.t[idx], kind="stable")]
        return tuple(str(k) for k in self.fl.key[o[: self.p.max_invoices]])

    def name(self, code: int) -> str:
        return str(self.fl.names[code])


@dataclass
class _WindowTest:
    """Per unit (anchor code): best p over the windows (Bonferroni), the window index reaching it, the
    unit's own null median there, and the observed window statistics (shaped windows × anchors)."""

    units: I64
    best_p: F64
    best_w: I64
    typical: F64
    obs: tuple[I64, I64, I64, I64, I64, I64]


def _window_test(run: _Run, anchor: I64, cp: I64, t: I64, null_t: list[I64], breadth: F64, min_stat: int,
                 month: I64, side: I64 | None = None) -> _WindowTest:
    """Most distinct counterparties in a window, per anchor and window width, on the data and every
    null copy; p-value of the share of its monthly breadth reached, against the null of its stratum.
    Anchors are codes 0 … len(breadth) − 1 (taxpayers, or seller–buyer pairs); ``month`` is each event's
    calendar month. Units whose pooled p-value is ≤ the FDR get it recomputed against their own null
    (:mod:`algorithms.patterns_refine`), which the pooled null's resolution cannot reach on larger data."""
    p = run.p
    n = len(breadth)
    units = np.flatnonzero(breadth >= min_stat)
    st = strata(breadth[units], p.min_units)
    widths = [int(w * DAY) for w in run.windows]
    keep = np.flatnonzero(breadth[anchor] >= min_stat)          # only events of units can matter
    anchor, cp, sd, month = anchor[keep], cp[keep], None if side is None else side[keep], month[keep]
    st_, lo_, hi_, di_, do_, order = _breadth(anchor, cp, t[keep], n, widths, sd)
    obs = (st_, lo_, hi_, di_, do_, keep[order])                 # indices into the caller's events
    # the share of its monthly breadth a unit reaches, ties broken by the count itself (a full month of 6
    # in a day is rarer than a full month of 3)
    nulls = [_breadth(anchor, cp, tn[keep], n, widths, sd)[0][:, units] for tn in null_t]
    # a window straddling two months can hold more than the busiest month's breadth: the share is capped at 1,
    # so a whole month met in days (the burst) is not outranked by two ordinary months met across their border
    nulls = [np.minimum(nl, breadth[units]) / breadth[units] + 1e-3 * nl for nl in nulls]
    best_p = np.ones(n)
    best_w = np.zeros(n, dtype=np.int64)
    typical = np.zeros(n)
    for wi in range(len(widths)):
        stat = obs[0][wi]
        test = stat[units] >= min_stat
        null = np.concatenate([nl[wi] for nl in nulls]) if nulls else np.zeros(0)
        ratio = np.minimum(stat[units][test], breadth[units][test]) / breadth[units][test] + 1e-3 * stat[units][test]
        pv, _ = stratified_pvalues(ratio, st[test], null, np.tile(st, len(nulls)))
        pv = np.minimum(1.0, pv * len(widths))                 # Bonferroni over the windows tried
        own = (np.median(np.vstack([nl[wi] for nl in nulls]), axis=0) * breadth[units] / (1 + 1e-3 * breadth[units])
               if nulls else np.zeros(len(units)))
        u = units[test]
        better = pv < best_p[u]
        best_p[u[better]] = pv[better]
        best_w[u[better]] = wi
        typical[u[better]] = own[test][better]
    cand = units[best_p[units] <= p.fdr] if p.own_null else units[:0]
    if len(cand):
        a_sorted = anchor[order]
        c_lo = np.searchsorted(a_sorted, cand, side="left")
        c_hi = np.searchsorted(a_sorted, cand, side="right")
        # first MIN_DRAWS each; the units none of whose draws reached them (p at that floor) get as many
        # draws as one discovery among all units needs, within the event budget
        draws = min(MIN_DRAWS, draws_needed(len(units), len(widths), p.fdr, events=int((c_hi - c_lo).sum())))
        for u, lo, hi in zip(cand.tolist(), c_lo.tolist(), c_hi.tolist(), strict=True):
            best_p[u], best_w[u], typical[u] = own_null(order[lo:hi], cp, month, sd, run.pools(), widths,
                                                        obs[0][:, u], float(breadth[u]), min_stat, draws,
                                                        run.refine_rng)
        floor = best_p[cand] <= len(widths) / (1 + draws) * (1 + 1e-9)
        more = draws_needed(len(units), len(widths), p.fdr, events=int((c_hi - c_lo)[floor].sum()))
        if floor.any() and more > draws:
            for u, lo, hi in zip(cand[floor].tolist(), c_lo[floor].tolist(), c_hi[floor].tolist(), strict=True):
                best_p[u], best_w[u], typical[u] = own_null(order[lo:hi], cp, month, sd, run.pools(), widths,
                                                            obs[0][:, u], float(breadth[u]), min_stat, more,
                                                            run.refine_rng)
        run.stats["own_null_units"] = run.stats.get("own_null_units", 0.0) + len(cand)
    return _WindowTest(units, best_p, best_w, typical, obs)


def _fan(run: _Run, kind: Literal["fan_out", "fan_in"]) -> tuple[list[Pattern], int]:
    fl, p = run.fl, run.p
    anchor, cp = (fl.s, fl.b) if kind == "fan_out" else (fl.b, fl.s)
    breadth = _monthly_breadth(anchor, cp, fl.month, fl.n)
    wt = _window_test(run, anchor, cp, fl.t, run.null_t, breadth, p.min_burst, fl.month)
    stat, lo, hi, _, _, order = wt.obs
    # every unit that could burst is a test (p = 1 when it never reached min_burst), so BH sees them all
    reject, q = bh_fdr(wt.best_p[wt.units], p.fdr)
    out = []
    for u, r, qu in zip(wt.units.tolist(), reject.tolist(), q.tolist(), strict=True):
        if not r:
            continue
        wi = int(wt.best_w[u])
        w, ty_u, k, m, pu = run.windows[wi], float(wt.typical[u]), int(stat[wi, u]), int(breadth[u]), float(wt.best_p[u])
        idx = order[lo[wi, u]:hi[wi, u]]
        one_off, regular = burst_counterparties(fl, u, cp[idx])
        start, end = run.when(idx)
        amount = float(np.nansum(fl.a[idx])) if fl.has_amounts else float("nan")
        span = (end - start).total_seconds() / DAY
        subject = f"主体为{'开票方' if kind == 'fan_out' else '受票方'} {run.name(u)}："
        if kind == "fan_out":
            head = f"{_days(max(span, 1))} 天内向 {k} 家不同购方开票 {len(idx)} 张"
        else:
            head = f"{_days(max(span, 1))} 天内从 {k} 家不同销方取得进项发票 {len(idx)} 张"
        ev = [subject + head + (f"，合计 {_fen(amount)}" if fl.has_amounts else ""),
              f"单月最多 {m} 家往来方；打乱开票时间（同月内）后 {w:g} 天内通常只有 {ty_u:.0f} 家",
              f"{len(one_off)} 家往来方只在这次集中开票中与其往来（列为成员）"
              + (f"，{len(regular)} 家为其常规往来方、在此之外也有交易（未列为成员）" if len(regular) else ""),
              pq(pu, qu)]
        out.append(Pattern(kind, run.name(u), (run.name(u), *(run.name(x) for x in one_off)), run.keys(idx),
                           start, end, float(k), ty_u, pu, qu, "", "，".join(ev),
                           {"window_days": w, "counterparties": k, "monthly_breadth": m, "invoices": len(idx),
                            "total_fen": amount, "subject": run.name(u),
                            "regular_counterparties": [run.name(x) for x in regular]}))
    return out, int(len(wt.units))


def burst_counterparties(fl: Flows, anchor: int, burst_cp: I64) -> tuple[I64, I64]:
    """The counterparties of a burst split by their own role: (one-off, regular).

    One-off: every invoice between it and the ``anchor`` (either direction) is in the burst — the relation
    exists only as part of the burst, so the counterparty is a member of the finding. Regular: it also trades
    with the anchor outside the burst (an ordinary customer or supplier of the bursting company); the
    anchor is the subject of the finding and a regular counterparty is only named in its evidence.
    ``burst_cp`` holds the counterparty of each invoice of the burst.

    >>> fl, _ = prepare(pd.DataFrame({"seller_tax_id": ["H", "H", "H", "H"], "buyer_tax_id": ["A", "B", "B", "C"],
    ...     "issued_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01", "2024-01-02"]).tz_localize(TZ),
    ...     "total_fen": [1, 2, 3, 4]}))
    >>> code = {str(n): i for i, n in enumerate(fl.names)}
    >>> one_off, regular = burst_counterparties(fl, code["H"], np.array([code[x] for x in "ABC"]))
    >>> sorted(str(fl.names[x]) for x in one_off), [str(fl.names[x]) for x in regular]
    (['A', 'C'], ['B'])
    """
    partners, in_burst = np.unique(burst_cp, return_counts=True)
    mine = (fl.s == anchor) | (fl.b == anchor)
    other = np.where(fl.s[mine] == anchor, fl.b[mine], fl.s[mine])
    every = pd.Series(other).value_counts().reindex(partners, fill_value=0).to_numpy()
    only = every <= in_burst
    return partners[only], partners[~only]


def _split_burst(run: _Run) -> tuple[list[Pattern], int]:
    """拆分开票: many invoices on one seller–buyer pair within a window (one deal split into several
    invoices, e.g. to stay under the per-invoice limit), against the pair's spread within its months."""
    fl, p = run.fl, run.p
    pid, pairs = pd.factorize(fl.s * fl.n + fl.b)
    pid = np.asarray(pid, dtype=np.int64)
    per = pd.DataFrame({"p": pid, "m": fl.month}).groupby(["p", "m"]).size().groupby(level=0).max()
    breadth = np.zeros(len(pairs))
    breadth[per.index.to_numpy(dtype=np.int64)] = per.to_numpy(dtype=np.float64)
    inv_ids = np.arange(len(pid), dtype=np.int64)            # every invoice is its own "counterparty": counts
    wt = _window_test(run, pid, inv_ids, fl.t, run.null_t, breadth, p.min_split, fl.month)
    stat, lo, hi, _, _, order = wt.obs
    reject, q = bh_fdr(wt.best_p[wt.units], p.fdr)
    out = []
    for u, r, qu in zip(wt.units.tolist(), reject.tolist(), q.tolist(), strict=True):
        if not r:
            continue
        wi = int(wt.best_w[u])
        w, ty_u, k, m, pu = run.windows[wi], float(wt.typical[u]), int(stat[wi, u]), int(breadth[u]), float(wt.best_p[u])
        idx = order[lo[wi, u]:hi[wi, u]]
        seller, buyer = int(pairs[u] // fl.n), int(pairs[u] % fl.n)
        start, end = run.when(idx)
        span = (end - start).total_seconds() / DAY
        amount = float(np.nansum(fl.a[idx])) if fl.has_amounts else float("nan")
        ev = [f"{_days(max(span, 1))} 天内向同一购方 {run.name(buyer)} 开票 {k} 张"
              + (f"，合计 {_fen(amount)}" if fl.has_amounts else ""),
              f"该购销关系单月最多 {m} 张；打乱开票时间（同月内）后 {w:g} 天内通常只有 {ty_u:.0f} 张",
              pq(pu, qu)]
        out.append(Pattern("split_burst", run.name(seller), (run.name(seller), run.name(buyer)), run.keys(idx),
                           start, end, float(k), ty_u, pu, qu, "", "，".join(ev),
                           {"window_days": w, "invoices": k, "monthly_max": m, "total_fen": amount,
                            "buyer": run.name(buyer)}))
    return out, int(len(wt.units))


def _gather_scatter(run: _Run) -> tuple[list[Pattern], int]:
    fl, p = run.fl, run.p
    anchor, cp, tt, side = _hub_events(fl)
    breadth = np.minimum(_monthly_breadth(fl.b, fl.s, fl.month, fl.n), _monthly_breadth(fl.s, fl.b, fl.month, fl.n))
    wt = _window_test(run, anchor, cp, tt, [np.concatenate([tn, tn]) for tn in run.null_t], breadth, p.min_fan,
                      np.concatenate([fl.month, fl.month]), side)
    _, lo, hi, d_in, d_out, order = wt.obs
    # every possible hub is a test (p = 1 when it never reached min_fan)
    reject, q = bh_fdr(wt.best_p[wt.units], p.fdr)
    out = []
    n_inv = len(fl.s)
    for u, r, qu in zip(wt.units.tolist(), reject.tolist(), q.tolist(), strict=True):
        if not r:
            continue
        wi = int(wt.best_w[u])
        w, ty_u, k_in, k_out, pu = run.windows[wi], float(wt.typical[u]), int(d_in[wi, u]), int(d_out[wi, u]), \
            float(wt.best_p[u])
        ev_idx = order[lo[wi, u]:hi[wi, u]]
        inv_idx = ev_idx % n_inv
        is_out = ev_idx >= n_inv
        sellers = np.unique(fl.s[inv_idx[~is_out]])
        buyers = np.unique(fl.b[inv_idx[is_out]])
        t_in = float(fl.t[inv_idx[~is_out]].mean()) if (~is_out).any() else 0.0
        t_out = float(fl.t[inv_idx[is_out]].mean()) if is_out.any() else 0.0
        orient = "along" if t_out >= t_in else "against"
        start, end = run.when(inv_idx)
        span = (end - start).total_seconds() / DAY
        a_in = float(np.nansum(fl.a[inv_idx[~is_out]]))
        a_out = float(np.nansum(fl.a[inv_idx[is_out]]))
        first = "先由 {0} 家销方向其开票、再向 {1} 家购方开出" if orient == "along" else "先向 {1} 家购方开票、再从 {0} 家销方取得进项"
        ev = [f"{_days(max(span, 1))} 天内" + first.format(k_in, k_out)]
        if fl.has_amounts:
            ev.append(f"进项 {_fen(a_in)}、销项 {_fen(a_out)}")
        ev += [f"打乱开票时间后 {w:g} 天内通常两侧只有 {ty_u:.0f} 家", pq(pu, qu)]
        members = (run.name(u), *(run.name(x) for x in sellers), *(run.name(x) for x in buyers if x not in set(sellers)))
        out.append(Pattern("gather_scatter", run.name(u), members, run.keys(inv_idx), start, end,
                           float(min(k_in, k_out)), ty_u, pu, qu, orient, "，".join(ev),
                           {"window_days": w, "sellers": k_in, "buyers": k_out, "in_fen": a_in, "out_fen": a_out,
                            "orientation": orient}))
    return out, int(len(wt.units))


def _intermediary_cap(run: _Run, width_s: int) -> tuple[npt.NDArray[np.bool_], int]:
    fl, p = run.fl, run.p
    pairs = np.unique(np.concatenate([fl.s * fl.n + fl.b, fl.b * fl.n + fl.s]))
    partners = np.bincount(pairs // fl.n, minlength=fl.n)
    cap = p.max_intermediary_partners or max(10, int(np.quantile(partners[partners > 0], 0.95)))
    while True:
        eligible = partners <= cap
        n_pairs = max(_pair_count(fl, width_s, eligible), _pair_count(fl.reversed(), width_s, eligible))
        if n_pairs <= p.max_pairs or cap <= 2:
            break
        cap = cap // 2
    run.stats["intermediary_cap"] = float(cap)
    return np.asarray(eligible, dtype=bool), int(cap)


def _chain_window(run: _Run) -> float:
    """Delay allowed between receiving and passing on: the longest burst window."""
    return float(max(run.windows))


def _scatter_gather(run: _Run, eligible: npt.NDArray[np.bool_], width_s: int) -> tuple[list[Pattern], int]:
    p = run.p
    out: list[Pattern] = []
    tested_total = 0
    for orient in ("along", "against"):
        fl = run.fl if orient == "along" else run.fl.reversed()
        cn = _common_neighbours(fl, eligible)
        cvals = cn.data[cn.data >= p.min_fan].astype(np.int64)
        obs = _scatter_gather_stat(fl, width_s, eligible, p.min_fan)
        test = obs.k >= p.min_fan
        if not test.any():
            continue
        # strata over common-neighbour counts; every (source, sink) pair with that count is a unit in each copy
        uvals, ucounts = np.unique(cvals, return_counts=True)
        labels = strata(uvals, p.min_units, weights=ucounts)
        grp = dict(zip(uvals.tolist(), labels.tolist(), strict=True))
        n_units: dict[int, float] = {}
        for v, c in zip(labels.tolist(), ucounts.tolist(), strict=True):
            n_units[v] = n_units.get(v, 0.0) + c * len(run.null_t)

        def stratum(c: F64, grp: dict[int, int] = grp) -> I64:
            return np.asarray([grp.get(int(x), -1) for x in c], dtype=np.int64)

        def common(src: I64, dst: I64, cn: sparse.csr_matrix = cn) -> F64:
            return np.maximum(np.asarray(cn[src, dst]).ravel(), 1) if len(src) else np.zeros(0)

        o_c = common(obs.src[test], obs.dst[test])
        o_st = stratum(o_c)
        null_vals, null_st, null_cs, own = [], [], [], np.zeros(int(test.sum()))
        o_pair = pd.Index(obs.src[test] * fl.n + obs.dst[test])
        for tn in run.null_t:
            nl = _scatter_gather_stat(fl.with_(t=tn), width_s, eligible, p.min_fan)
            sel = nl.k >= p.min_fan
            c_ = common(nl.src[sel], nl.dst[sel])
            null_vals.append(nl.k[sel] / c_)
            null_cs.append(c_)
            null_st.append(stratum(c_))
            hit = o_pair.get_indexer(nl.src[sel] * fl.n + nl.dst[sel])
            own[hit[hit >= 0]] += nl.k[sel][hit >= 0]
        null = np.concatenate(null_vals) if null_vals else np.zeros(0)
        nst = np.concatenate(null_st) if null_st else np.zeros(0, dtype=np.int64)
        pv, _ = stratified_pvalues(obs.k[test] / o_c, o_st, null, nst, null_units=n_units)
        typical = own / max(len(run.null_t), 1) / o_c     # the pair's own mean in the copies (below min_fan counts 0)
        # FDR by permutation: expected null pairs at least this extreme (share of common neighbours linked
        # in time, then their number) per copy / observed pairs at least this extreme
        rank_obs = obs.k[test] / o_c + 1e-3 * obs.k[test]
        rank_null = [v + 1e-3 * np.round(v * c) for v, c in zip(null_vals, null_cs, strict=True)]
        q, _ = _permutation_q(rank_obs, rank_null)
        reject = q <= p.fdr
        tested_total += int(ucounts.sum())
        rows = np.flatnonzero(test)
        for i, r, pu, qu, ty, c in zip(rows.tolist(), reject.tolist(), pv.tolist(), q.tolist(), typical.tolist(),
                                      o_c.tolist(), strict=True):
            if not r:
                continue
            idx_paths = obs.order[obs.lo[i]:obs.hi[i]]
            e1, e2 = obs.first[idx_paths], obs.second[idx_paths]
            src, dst = int(obs.src[i]), int(obs.dst[i])
            mids = np.unique(fl.b[e1])
            inv_idx = np.unique(np.concatenate([e1, e2]))
            start, end = run.when(inv_idx)
            span = (end - start).total_seconds() / DAY
            # in the original invoice direction: seller side → intermediaries → buyer side
            source, sink = (src, dst) if orient == "along" else (dst, src)
            a1 = float(np.nansum(run.fl.a[np.unique(e1)]))
            a2 = float(np.nansum(run.fl.a[np.unique(e2)]))
            same = "（回到起点）" if source == sink else ""
            ev = [f"{_days(max(span, 1))} 天内 {run.name(source)} 经 {len(mids)} 家中间企业转开发票至 {run.name(sink)}{same}",
                  ORIENTATION_ZH[orient]]
            if run.fl.has_amounts:
                ev.append(f"第一段 {_fen(a1 if orient == 'along' else a2)}、第二段 {_fen(a2 if orient == 'along' else a1)}")
            ev += [f"两者共有 {c:.0f} 家中间往来方；打乱开票时间后平均 {ty * c:.1f} 家在期限内衔接",
                   pq(pu, qu)]
            members = (run.name(source), *(run.name(x) for x in mids if x not in (source, sink)))
            if sink != source:
                members = (*members, run.name(sink))
            out.append(Pattern("scatter_gather", run.name(source), members, run.keys(inv_idx), start, end,
                               float(len(mids)), ty * c, pu, qu, orient, "，".join(ev),
                               {"source": run.name(source), "sink": run.name(sink), "intermediaries": len(mids),
                                "common_neighbours": int(c), "delay_days": width_s / DAY, "orientation": orient,
                                "first_leg_fen": a1, "second_leg_fen": a2}))
    return _merge(out), tested_total


def _layered(run: _Run, eligible: npt.NDArray[np.bool_], width_s: int) -> tuple[list[Pattern], int]:
    p = run.p
    out: list[Pattern] = []
    tested_total = 0
    for orient in ("along", "against"):
        fl = run.fl if orient == "along" else run.fl.reversed()
        paths = _three_paths(fl, width_s, eligible, p.max_pairs)
        if paths is None:
            run.stats[f"layered_{orient}_skipped"] = 1.0
            continue
        units = _layered_units(paths, p.min_layer_width)
        tested_total += len(units)
        if len(units) == 0:
            continue
        nulls = []
        for tn in run.null_t:
            pn = _three_paths(fl.with_(t=tn), width_s, eligible, p.max_pairs)
            nulls.append(_layered_units(pn, p.min_layer_width)["stat"].to_numpy() if pn is not None else np.zeros(0))
        obs = units["stat"].to_numpy()
        q, expected = _permutation_q(obs, nulls)
        p_emp = (1 + expected * len(nulls)) / (1 + len(nulls) * max(len(units), 1))
        for i in np.flatnonzero(q <= p.fdr).tolist():
            src, dst = int(units["src"].iloc[i]), int(units["dst"].iloc[i])
            sub = paths[(paths["src"] == src) & (paths["dst"] == dst)]
            inv_idx = np.unique(sub[["e1", "e2", "e3"]].to_numpy().ravel())
            start, end = run.when(inv_idx)
            span = (end - start).total_seconds() / DAY
            l1, l2 = np.unique(sub["mid1"]), np.unique(sub["mid2"])
            source, sink = (src, dst) if orient == "along" else (dst, src)
            first, second = (l1, l2) if orient == "along" else (l2, l1)
            ev = [f"{_days(max(span, 1))} 天内 {run.name(source)} 经两层中间企业（{len(first)} 家 → {len(second)} 家）"
                  f"逐层转开发票至 {run.name(sink)}，层间间隔 ≤ {width_s / DAY:g} 天", ORIENTATION_ZH[orient],
                  f"打乱开票时间后每份数据平均只出现 {expected[i]:.1f} 个同等或更宽的分层结构",
                  pq(p_emp[i], q[i])]
            members = (run.name(source), *(run.name(x) for x in first), *(run.name(x) for x in second),
                       run.name(sink))
            out.append(Pattern("layered", run.name(source), members, run.keys(inv_idx), start, end, float(obs[i]),
                               float(expected[i]), float(p_emp[i]), float(q[i]), orient, "，".join(ev),
                               {"source": run.name(source), "sink": run.name(sink), "layers": [len(first), len(second)],
                                "orientation": orient, "delay_days": width_s / DAY}))
    return _merge(out), tested_total


def _merge(found: list[Pattern]) -> list[Pattern]:
    """Findings of one kind and orientation that share invoices become one finding (the most significant
    one's evidence, everyone's members and invoices): one structure is reported once."""
    if len(found) < 2:
        return found
    parent = list(range(len(found)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, f in enumerate(found):
        for k in f.invoice_keys:
            j = owner.setdefault((f.orientation, k), i)
            if j != i:
                parent[root(i)] = root(j)
    groups: dict[int, list[Pattern]] = {}
    for i, f in enumerate(found):
        groups.setdefault(root(i), []).append(f)
    out = []
    for g in groups.values():
        if len(g) == 1:
            out.append(g[0])
            continue
        g.sort(key=lambda f: (f.qvalue, f.pvalue, -f.statistic))
        best = g[0]
        members = list(best.members)
        members += sorted({m for f in g[1:] for m in f.members} - set(members))
        keys = list(dict.fromkeys(k for f in g for k in f.invoice_keys))
        out.append(replace(best, members=tuple(members), invoice_keys=tuple(keys),
                           start=min(f.start for f in g), end=max(f.end for f in g),
                           evidence=best.evidence + f"，与另外 {len(g) - 1} 个同类结构共用发票（合计 {len(members)} 家企业）",
                           details=best.details | {"merged": len(g)}))
    return out


def _pass_through(run: _Run) -> tuple[list[Pattern], int]:
    fl, p = run.fl, run.p
    a = fl.a
    w1, va, lag = _pass_through_stat(fl, a)
    in_partners = np.bincount(np.unique(fl.b * fl.n + fl.s) // fl.n, minlength=fl.n)
    out_partners = np.bincount(np.unique(fl.s * fl.n + fl.b) // fl.n, minlength=fl.n)
    units = np.flatnonzero((in_partners >= p.min_hub_partners) & (out_partners >= p.min_hub_partners))
    if len(units) == 0:
        return [], 0
    months = pd.DataFrame({"u": np.concatenate([fl.s, fl.b]), "m": np.concatenate([fl.month, fl.month])})
    active = months.drop_duplicates().groupby("u").size().reindex(range(fl.n), fill_value=0).to_numpy()
    n_in = np.bincount(fl.b, minlength=fl.n)
    st_t = strata(active[units], p.min_units)
    st_v = strata(n_in[units], p.min_units)
    mask = np.zeros(fl.n, dtype=bool)
    mask[units] = True
    null_w = np.concatenate([_pass_through_stat(fl.with_(t=tn), a, mask)[0][units] for tn in run.null_t])
    null_v = np.concatenate([np.abs(_value_added(fl.with_(b=bn), a)[units]) for bn in run.rewired()])
    k = len(run.null_t)
    p_t, _ = stratified_pvalues(w1[units], st_t, null_w, np.tile(st_t, k), alternative="less")
    typ_t = np.median(null_w.reshape(k, len(units)), axis=0) if k else np.full(len(units), np.nan)
    p_v, _ = stratified_pvalues(np.abs(va[units]), st_v, null_v, np.tile(st_v, len(run.rewired())),
                                    alternative="less")
    pv = _fisher(p_t, p_v)
    reject, q = bh_fdr(pv, p.fdr)
    out = []
    for i in np.flatnonzero(reject).tolist():
        u = int(units[i])
        idx = np.flatnonzero((fl.s == u) | (fl.b == u))
        start, end = run.when(idx)
        sellers = np.unique(fl.s[fl.b == u])
        buyers = np.unique(fl.b[fl.s == u])
        orient = "along" if lag[u] >= 0 else "against"
        order_txt = f"销项平均在进项后 {_days(abs(lag[u]))} 天开出" if orient == "along" else \
            f"进项平均在销项后 {_days(abs(lag[u]))} 天才取得"
        ev = [f"进项来自 {len(sellers)} 家、销项开给 {len(buyers)} 家，销项与进项金额相差 {abs(va[u]) * 100:.1f}%",
              order_txt, f"进销时间错配 {_days(w1[u])} 天（打乱开票时间后通常 {_days(typ_t[i])} 天）",
              pq(pv[i], q[i])]
        members = (run.name(u), *(run.name(x) for x in sellers), *(run.name(x) for x in buyers if x not in set(sellers)))
        out.append(Pattern("pass_through", run.name(u), members, run.keys(idx), start, end, float(w1[u]),
                           float(typ_t[i]), float(pv[i]), float(q[i]), orient, "，".join(ev),
                           {"value_added": float(va[u]), "mismatch_days": float(w1[u]), "lag_days": float(lag[u]),
                            "p_timing": float(p_t[i]), "p_value_added": float(p_v[i]), "sellers": len(sellers),
                            "buyers": len(buyers), "orientation": orient}))
    return out, int(len(units))


def detect_patterns(
    invoices: pa.Table | pd.DataFrame,
    params: PatternParams | None = None,
    *,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
) -> PatternSearch:
    """Run the temporal pattern detectors with significance against shuffled copies of the same data.

    Parameters
    ----------
    invoices
        Invoice table (``graph.schema.INVOICES`` columns; ``seller_tax_id``, ``buyer_tax_id`` and
        ``issued_at`` required, ``total_fen``, ``status`` and ``key`` optional).
    params
        :class:`PatternParams` (defaults when None).
    seed
        Seeds the null copies: same data, params and seed → same findings.
    kinds
        Detectors to run (subset of :data:`KINDS`).

    Returns
    -------
    PatternSearch
        Significant patterns (BH q ≤ ``params.fdr`` per detector), counts tested, silent detectors
        with the reason, windows used, seconds per detector.

    Examples
    --------
    >>> import pandas as pd
    >>> inv = pd.DataFrame({"seller_tax_id": ["A"], "buyer_tax_id": ["B"], "total_fen": [100]})
    >>> detect_patterns(inv).silent["fan_out"]
    '缺少开票时间或开票时间全部相同'
    """
    params = params or PatternParams()
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown pattern kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    for f in fields(params):
        v = getattr(params, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ValueError(f"{f.name} must not be negative, got {v}")
    if not 0 < params.fdr <= 1:
        raise ValueError(f"fdr must be in (0, 1], got {params.fdr}")
    fl, silent = prepare(invoices)
    seconds: dict[str, float] = {}
    if fl is None or len(fl.s) == 0:
        return PatternSearch([], {}, silent or {k: "没有可用发票" for k in kinds}, (), seconds)
    started = time.perf_counter()
    run = _Run(fl, params, seed)
    seconds["null_copies"] = round(time.perf_counter() - started, 3)
    found: list[Pattern] = []
    tested: dict[str, int] = {}
    width_s = int(_chain_window(run) * DAY)
    eligible: npt.NDArray[np.bool_] | None = None
    for kind in kinds:
        if kind in silent:
            continue
        started = time.perf_counter()
        if kind in ("fan_out", "fan_in"):
            res, n = _fan(run, kind)  # type: ignore[arg-type]
        elif kind == "split_burst":
            res, n = _split_burst(run)
        elif kind == "repeat_pairs":
            from algorithms.patterns_repeat import repeat_pairs

            res, n = repeat_pairs(run)
        elif kind == "low_amount":
            from algorithms.patterns_low import low_amount

            res, n = low_amount(run)
        elif kind == "gather_scatter":
            res, n = _gather_scatter(run)
        elif kind in ("scatter_gather", "layered"):
            if eligible is None:
                eligible, _ = _intermediary_cap(run, width_s)
            res, n = (_scatter_gather if kind == "scatter_gather" else _layered)(run, eligible, width_s)
        else:
            res, n = _pass_through(run)
        found.extend(res)
        tested[kind] = n
        seconds[kind] = round(time.perf_counter() - started, 3)
    found.sort(key=lambda x: (KINDS.index(x.kind), x.qvalue, x.pvalue, x.anchor))
    return PatternSearch(found, tested, silent, tuple(run.windows), seconds, run.stats | {"null_copies": run.copies})

"""Explainable risk: named points per signal + a scikit-learn model → score 0..1, tier, reasons.

Typology score = (1 − w) · (1 − exp(−points / ``points_scale``)) + w · model, with ``w`` = ``model_weight``
(IsolationForest, unsupervised) or ``supervised_weight`` (gradient boosting trained on dispositions).
It is monotone in the points, so an extra flagged signal never lowers a taxpayer's tier. With
``evidence`` (significant findings and the timing null, :mod:`algorithms.tiers`) the tiers come from the
false discovery rate as well (:func:`algorithms.tiers.assign`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from algorithms.features import Features
from algorithms.rule_tests import TESTS as RULE_TESTS
from algorithms.significance import pq
from algorithms.supervised import PREFIX as SUP_PREFIX
from algorithms.supervised import Neighbours, label_vector
from algorithms.tiers import assign, dynamics_reason

#: signal → (points when flagged, what it means in words)
POINTS: dict[str, tuple[int, str]] = {
    "cycle": (50, "循环开票闭环成员"),
    "shell": (40, "空壳企业特征"),
    "fan_hub": (40, "中转枢纽、增值率接近零"),
    "near_limit": (40, "顶额开票"),
    "item_mismatch": (35, "进销项品目不匹配"),
    "shared_identity": (35, "与其他企业共用身份信息"),
    "void_red": (35, "作废/红冲比例高"),
    "duplicates": (15, "疑似重复开票"),
    "benford": (10, "金额首位数字分布异常"),
    "amount_outliers": (10, "金额异常值"),
    "large_bursts": (10, "短期内集中开出大额发票"),
    "community": (15, "所在团伙资金内部循环"),
}
COMMUNITY_FLAG = 0.6       # community_score at or above which the community points apply
#: rules worth at least this many points are practice rules; fewer points = weak indicators, which never count
#: as a rule of their own for the tiers (two weak indicators are not two lines of evidence)
RULE_POINTS = 35


@dataclass(frozen=True)
class RiskResult:
    """Scores (schema.SCORES) and how they were made."""

    scores: pa.Table
    points: pd.Series
    model: str                   # isolation_forest | gradient_boosting
    cv_auc: float | None         # cross-validated ROC AUC of the supervised model
    labels_used: int
    cv_f1: float | None = None   # cross-validated F1 (out-of-fold probability ≥ 0.5)
    #: out-of-fold confusion counts at probability 0.5: true / false positives, false / true negatives
    cv_confusion: tuple[int, int, int, int] | None = None
    #: the model term of every taxpayer's score (0..1, the rows of ``scores``)
    model_scores: npt.NDArray[np.float64] | None = None
    #: the fitted unsupervised model as it can be applied to other rows later (:class:`FrozenModel`; None when
    #: another engine applied it or the supervised model scored)
    frozen: FrozenModel | None = None


@dataclass(frozen=True)
class FrozenModel:
    """A run's IsolationForest with what its matrix was made of, to score rows later the way that run did
    (the fast update, :mod:`workbench.fast_update`): the matrix's columns (constant ones left out), the medians
    that filled missing values, the fitted model and the run's sorted anomaly scores, against which a new row's
    score becomes a percentile rank (0..1, ties averaged, as :func:`anomaly_ranks`)."""

    columns: tuple[str, ...]
    medians: tuple[float, ...]
    model: IsolationForest
    raw_sorted: npt.NDArray[np.float64]

    def matrix(self, values: pd.DataFrame) -> npt.NDArray[np.float64]:
        """``values`` (features indexed by tax id) as the run's model matrix."""
        x = values.reindex(columns=list(self.columns)).astype(float).replace([np.inf, -np.inf], np.nan)
        x = x.fillna(pd.Series(self.medians, index=list(self.columns))).fillna(0.0)
        return np.asarray(x.to_numpy(), dtype=np.float64).reshape(len(x), len(self.columns))

    def ranks(self, values: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The model term of each row of ``values``: its anomaly score's percentile rank among the run's rows
        (equal to the run's own term for a row the run scored with the same features)."""
        if not len(values):
            return np.zeros(0)
        raw = -self.model.score_samples(self.matrix(values))
        lo = np.searchsorted(self.raw_sorted, raw, side="left")
        hi = np.searchsorted(self.raw_sorted, raw, side="right")
        n = len(self.raw_sorted)
        # pandas' rank(pct=True) of a value among the run's: (less + (ties + 1) / 2) / n; a value the run did not
        # have counts as one more row of the run's
        ties = hi - lo
        return np.asarray(np.where(ties > 0, (lo + (ties + 1) / 2) / n, (lo + 1) / (n + 1)), dtype=np.float64)


@dataclass(frozen=True)
class Evidence:
    """Lines of evidence beyond the typology points (:mod:`algorithms.tiers`), indexed like the features.

    ``findings``: findings_n / findings_kinds / findings_min_q; ``finding_reasons``: their evidence per
    taxpayer; ``dynamics``: excess / p / q / top from :func:`algorithms.tiers.dynamics_null`;
    ``unavailable``: typology signal → the missing input, in Chinese.
    """

    findings: pd.DataFrame
    finding_reasons: list[list[str]]
    dynamics: pd.DataFrame
    unavailable: Mapping[str, str]
    fdr: float
    fdr_medium: float
    #: typology rule → (its permutation FDR, the hits its null tests) (:mod:`algorithms.rule_null`); a rule not
    #: listed has no null
    rule_tests: Mapping[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    #: cut the typology line by the rule FDR instead of the typology score (:func:`algorithms.tiers.assign`)
    rule_gate: bool = False
    #: typology rule → tax id → q-value of the taxpayer's own test (:mod:`algorithms.rule_tests`). With
    #: ``taxpayer_fdr`` set, a hit of a tested rule whose q-value exceeds it (or that the test did not judge) earns
    #: no points and no flag, and a tested rule without a table or with its input unavailable stays silent (:func:`_gate`)
    taxpayer_q: Mapping[str, pd.Series] = field(default_factory=dict)
    taxpayer_fdr: float | None = None


def tier_of(score: float, *, tier_medium: float = 0.4, tier_high: float = 0.7) -> str:
    """low / medium / high for a score."""
    return "high" if score >= tier_high else "medium" if score >= tier_medium else "low"


def combine(points: float, model: float, *, points_scale: float = 40.0, model_weight: float = 0.15) -> float:
    """The score formula: monotone in ``points`` and in ``model`` (both ≥ 0)."""
    return (1 - model_weight) * (1 - math.exp(-points / points_scale)) + model_weight * model


def _matrix(f: Features, *, supervised: bool = False) -> np.ndarray:
    """The model matrix: constant columns (an input the data lacks) are left out, so they neither add nor subtract.
    Columns only the supervised model reads (:data:`algorithms.supervised.PREFIX`) are left out unless
    ``supervised``."""
    return _matrix_spec(f, supervised=supervised)[0]


def _matrix_spec(f: Features, *, supervised: bool = False) -> tuple[np.ndarray, list[str], list[float]]:
    """:func:`_matrix` with its columns and the medians that filled their missing values."""
    x = f.values.astype(float).replace([np.inf, -np.inf], np.nan)
    if not supervised:
        x = x.loc[:, [c for c in x.columns if not str(c).startswith(SUP_PREFIX)]]
    med = x.median()
    x = x.fillna(med).fillna(0.0)
    x = x.loc[:, x.nunique() > 1] if len(x) else x
    cols = [str(c) for c in x.columns]
    return (np.asarray(x.to_numpy(), dtype=np.float64).reshape(len(x), -1), cols,
            [float(v) if v == v else 0.0 for v in med.reindex(x.columns)])


#: the unsupervised model's score of every row of the model matrix (0..1, rarer = higher) from the matrix and the
#: seed; another engine applies the same model in parallel (``workbench.spark_engine.risk``)
Anomaly = Callable[[np.ndarray, int], np.ndarray]


def isolation_model(x: np.ndarray, seed: int) -> IsolationForest:
    """The IsolationForest of the score, fitted on the rows of ``x`` (the whole matrix, or a sample of it)."""
    return IsolationForest(n_estimators=100, random_state=seed, n_jobs=1).fit(x)


def anomaly_ranks(raw: np.ndarray) -> np.ndarray:
    """Percentile ranks (0..1, ties averaged) of the anomaly scores ``raw`` (higher = rarer)."""
    return np.asarray(pd.Series(raw).rank(pct=True).to_numpy(), dtype=np.float64)


def isolation(x: np.ndarray, seed: int) -> np.ndarray:
    """:data:`Anomaly` in process: the model fitted on every row, then scored on every row (0 below 10 rows)."""
    if len(x) < 10:
        return np.zeros(len(x))
    return anomaly_ranks(-isolation_model(x, seed).score_samples(x))


def _supervised(x: np.ndarray, index: pd.Index, labels: Mapping[str, int], seed: int,
                neighbours: Neighbours | None = None,
                ) -> tuple[np.ndarray, float | None, int, float | None, tuple[int, int, int, int]] | None:
    """Histogram gradient boosting on the labelled taxpayers: probabilities for all, k-fold (k ≤ 5) AUC, F1 and
    the out-of-fold confusion counts (tp, fp, fn, tn) at probability 0.5.

    The fits run on one thread (``threadpool_limits(1)``): OpenMP threads spin on a busy machine (measured: a
    200-row fit took 108 s with them, 5 s without).

    Folds are taxpayers (stratified). With ``neighbours``, each taxpayer also gets the share of its
    counterparties that are confirmed (:meth:`algorithms.supervised.Neighbours.label_shares`) — inside each fold
    from the training folds' labels only, so no held-out label reaches any feature; the final model uses every
    label. The F1 is at probability 0.5: choosing the threshold by F1 on inner folds of each training fold was
    measured and changed F1 by ≤ 0.01 on every data set of the quality table, at 4× the fitting time.
    """
    y = label_vector(labels, index)
    known = ~np.isnan(y)
    ki = np.flatnonzero(known)
    yk = y[ki].astype(int)
    if len(ki) < 10 or min(int(yk.sum()), int((1 - yk).sum())) < 3:
        return None
    leaf = max(2, min(20, len(yk) // 10))            # sklearn's 20 per leaf cannot split a few dozen labels

    def model() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(random_state=seed, max_iter=200, min_samples_leaf=leaf)

    def with_labels(visible: np.ndarray) -> np.ndarray:
        if neighbours is None:
            return x
        return np.column_stack([x, neighbours.label_shares(np.where(visible, y, np.nan))])

    folds = min(5, int(yk.sum()), int((1 - yk).sum()))
    oof = np.zeros(len(ki))
    with threadpool_limits(1):
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(ki, yk):
            visible = np.zeros(len(y), dtype=bool)
            visible[ki[tr]] = True
            xf = with_labels(visible)
            oof[te] = model().fit(xf[ki[tr]], yk[tr]).predict_proba(xf[ki[te]])[:, 1]
        xa = with_labels(known)
        clf = model().fit(xa[ki], yk)
        prob = np.asarray(clf.predict_proba(xa)[:, 1], dtype=np.float64)
    auc = float(roc_auc_score(yk, oof))
    hit = oof >= 0.5
    f1 = float(f1_score(yk, hit))
    conf = (int((hit & (yk == 1)).sum()), int((hit & (yk == 0)).sum()), int((~hit & (yk == 1)).sum()),
            int((~hit & (yk == 0)).sum()))
    return prob, auc, int(len(ki)), f1, conf


def _gate(name: str, hit: npt.NDArray[np.bool_], ev: list[str], label: str, index: pd.Index, evidence: Evidence,
          reasons: list[list[tuple[float, str]]]) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """The hits of a typology rule that its per-taxpayer test (:mod:`algorithms.rule_tests`) finds rare at
    ``evidence.taxpayer_fdr``, and their evidence with the q-value.

    A rule whose input is missing or constant (``evidence.unavailable``) or that has no test table stays silent:
    no hit, no reason. A hit whose test is not significant (or that the test could not judge, e.g. too few
    invoices) earns nothing and says so in a zero-point reason."""
    tq = evidence.taxpayer_q.get(name)
    if tq is None or name in evidence.unavailable:
        return np.zeros(len(hit), dtype=bool), ev
    fdr = float(evidence.taxpayer_fdr or 0.0)
    q_i = tq.reindex(index.astype(str)).to_numpy(dtype=np.float64)
    judged = ~np.isnan(q_i)
    q_i = np.where(judged, q_i, 1.0)
    for i in np.flatnonzero(hit & (q_i > fdr)):                        # not rare for this data: no points
        why = f"逐户检验 {pq(q=q_i[i])}，与本数据的常见情况相符" if judged[i] else "发票太少，无法逐户检验"
        reasons[i].append((0.0, f"{ev[i] or label}（{why}，不计分）"))
    ev = [f"{e or label}（逐户检验 {pq(q=qq)}）" if h else e for e, qq, h in zip(ev, q_i, hit, strict=True)]
    return np.asarray(hit & (q_i <= fdr), dtype=bool), ev


def score_taxpayers(
    features: Features,
    *,
    labels: Mapping[str, int] | None = None,
    tier_medium: float = 0.4,
    tier_high: float = 0.7,
    points_scale: float = 40.0,
    model_weight: float = 0.15,
    supervised_weight: float = 0.3,
    points: Mapping[str, tuple[int, str]] = POINTS,
    max_reasons: int = 5,
    seed: int = 0,
    evidence: Evidence | None = None,
    anomaly: Anomaly | None = None,
    edges: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    frozen: FrozenModel | npt.NDArray[np.float64] | None = None,
) -> RiskResult:
    """Score every taxpayer of ``features``.

    Parameters
    ----------
    labels
        tax_id → 1 (confirmed) / 0 (false positive) from dispositions; with ≥ 10 labels and ≥ 3 of each
        class a gradient-boosting model replaces the IsolationForest (its CV AUC is reported).
    tier_medium, tier_high
        Score thresholds of the tiers (settings FAPIAO_TIER_MEDIUM / FAPIAO_TIER_HIGH).
    points
        Signal → (points, reason) table; see :data:`POINTS`.
    evidence
        Significant findings, the timing null and unavailable inputs: tiers then follow
        :func:`algorithms.tiers.assign` (FDR-based) instead of the two score thresholds alone.
    anomaly
        The unsupervised model's scores of the model matrix (:data:`Anomaly`; default :func:`isolation`).
    edges
        seller_tax_id, buyer_tax_id, total_fen (per invoice or per pair): the supervised model then also
        reads the share of each taxpayer's counterparties that are confirmed (:mod:`algorithms.supervised`).
    links
        a, b, weight: companies that share identifiers (:func:`algorithms.identity.identity_links`); with
        ``edges``, the supervised model also reads how many of them are confirmed or cleared.
    frozen
        Score with an earlier run's model instead of fitting one (the fast update, :mod:`workbench.fast_update`):
        its :class:`FrozenModel` (the model term of each row: :meth:`FrozenModel.ranks`), or the model term of
        each row given directly (a supervised run's terms, kept). ``labels`` then train nothing.
    """
    reasons: list[list[tuple[float, str]]] = [[] for _ in range(len(features.values))]
    gated: dict[str, list[str]] = {}
    if evidence is not None and evidence.taxpayer_fdr is not None:    # flags of tested rules: significant hits only
        gv = features.values.copy()
        for name in (n for n in RULE_TESTS if f"{n}_flag" in gv and n in points):
            label = points[name][1]
            ev0 = features.evidence[name].tolist() if name in features.evidence else [label] * len(gv)
            hit0, gated[name] = _gate(name, (gv[f"{name}_flag"] > 0).to_numpy(), ev0, label, gv.index, evidence,
                                      reasons)
            gv[f"{name}_flag"] = np.where(hit0, gv[f"{name}_flag"], 0.0)
        features = Features(gv, features.evidence, features.industry)
    v = features.values
    model, auc, used, weight, f1 = "isolation_forest", None, 0, model_weight, None
    conf: tuple[int, int, int, int] | None = None
    keep: FrozenModel | None = None
    if frozen is not None:
        if isinstance(frozen, FrozenModel):
            m = frozen.ranks(v)
        else:
            m = np.asarray(frozen, dtype=np.float64)
            model, weight = "gradient_boosting", supervised_weight
        return _scored(features, reasons, gated, m, model, weight, None, 0, None, None, None, tier_medium=tier_medium,
                       tier_high=tier_high, points_scale=points_scale, points=points, max_reasons=max_reasons,
                       evidence=evidence)
    x, cols, med = _matrix_spec(features)
    nb = Neighbours(edges, v.index, links) if labels and edges is not None else None
    sup = _supervised(_matrix(features, supervised=True), v.index, labels, seed, nb) if labels else None
    if sup is not None:
        m, auc, used, f1, conf = sup
        model, weight = "gradient_boosting", supervised_weight
    elif anomaly is None and len(x) >= 10:                 # :func:`isolation`, keeping the fitted model
        forest = isolation_model(x, seed)
        raw = -forest.score_samples(x)
        m = anomaly_ranks(raw)
        keep = FrozenModel(tuple(cols), tuple(med), forest, np.sort(raw))
    else:
        m = (anomaly or isolation)(x, seed)
    return _scored(features, reasons, gated, m, model, weight, auc, used, f1, conf, keep, tier_medium=tier_medium,
                   tier_high=tier_high, points_scale=points_scale, points=points, max_reasons=max_reasons,
                   evidence=evidence)


def _scored(features: Features, reasons: list[list[tuple[float, str]]], gated: dict[str, list[str]],
            m: npt.NDArray[np.float64], model: str, weight: float, auc: float | None, used: int, f1: float | None,
            conf: tuple[int, int, int, int] | None, keep: FrozenModel | None, *, tier_medium: float,
            tier_high: float, points_scale: float, points: Mapping[str, tuple[int, str]], max_reasons: int,
            evidence: Evidence | None) -> RiskResult:
    """Points, reasons, score and tier of every row from the model term ``m`` (:func:`score_taxpayers`)."""
    v = features.values
    pts = pd.Series(0.0, index=v.index)
    nflags = np.zeros(len(v))
    nstrong = np.zeros(len(v))
    rule_q = np.ones(len(v))
    rule_tests = evidence.rule_tests if evidence is not None else {}
    names = [str(x) for x in v.index.tolist()]
    for name, (p, label) in points.items():
        if name == "community":
            hit = (v["community_score"] >= COMMUNITY_FLAG).to_numpy() if "community_score" in v else None
            ev = [f"所在团伙评分 {s:.2f}：资金在成员间内部流转" for s in v.get("community_score", [])]
        elif f"{name}_flag" in v:
            hit = (v[f"{name}_flag"] > 0).to_numpy()
            ev = features.evidence[name].tolist() if name in features.evidence else [label] * len(v)
        else:
            continue
        if hit is None:
            continue
        ev = gated.get(name, ev)
        pts[hit] += p
        nflags += hit
        if p >= RULE_POINTS:
            nstrong += hit
        rq, tested = rule_tests.get(name, (None, frozenset()))
        for i in np.flatnonzero(hit):
            judged = rq is not None and names[int(i)] in tested
            note = f"，规则 FDR {rq:.2g}" if judged else ""
            reasons[i].append((float(p), f"{ev[i] or label}（+{p}{note}）"))
            if judged:
                rule_q[i] = min(rule_q[i], float(rq or 1.0))
    for i in np.flatnonzero(m >= 0.97):
        reasons[i].append((float(weight * 100 * m[i] / 3), f"模型：特征组合罕见（异常分位 {m[i]:.2f}）"))
    score = np.array([combine(p, mm, points_scale=points_scale, model_weight=weight)
                      for p, mm in zip(pts, m, strict=True)], dtype=np.float64)
    tiers = [tier_of(s, tier_medium=tier_medium, tier_high=tier_high) for s in score]
    tail: list[str] = []
    if evidence is not None:
        score, tiers = assign(score, evidence.findings, evidence.dynamics, fdr=evidence.fdr,
                              fdr_medium=evidence.fdr_medium, tier_medium=tier_medium, tier_high=tier_high,
                              typology_flags=nflags, rule_q=rule_q,
                              strong_rules=nstrong, rule_gate=evidence.rule_gate)
        for row, rs in enumerate(evidence.finding_reasons):
            for j, text in enumerate(rs):
                reasons[row].append((1000.0 - j, text))
        dq = evidence.dynamics["q"].to_numpy()
        for i in np.flatnonzero(dq <= evidence.fdr_medium):
            reasons[i].append((500.0, dynamics_reason({str(k): val for k, val in evidence.dynamics.iloc[i].items()})))
        if evidence.unavailable:
            missing = sorted(set(evidence.unavailable.values()))
            tail = [f"数据缺少{'、'.join(missing)}，未评估：{'、'.join(POINTS[n][1] for n in evidence.unavailable)}"]
    feats = v.round(4).astype(float).replace([np.inf, -np.inf], np.nan)
    feat_json = feats.to_json(orient="records", lines=True, force_ascii=False).splitlines() if len(feats) else []
    table = pa.table({
        "tax_id": pa.array(v.index.astype(str).tolist(), pa.string()),
        "score": pa.array([round(float(s), 4) for s in score], pa.float64()),
        "tier": pa.array(tiers, pa.string()),
        "reasons": pa.array([json.dumps([t for _, t in sorted(r, key=lambda z: -z[0])[:max_reasons]]
                                        + (tail if r or tier != "low" else []), ensure_ascii=False)
                             for r, tier in zip(reasons, tiers, strict=True)], pa.string()),
        "features": pa.array(feat_json, pa.string()),
    })
    return RiskResult(table, pts, model, auc, used, f1, conf, np.asarray(m, dtype=np.float64), keep)

"""The detection pipeline: store → algorithms → findings (the only place detection touches the store).

Stages: read → cycles → identities → typologies → communities → rings → dynamics → risk → store. The run id is
derived from a fingerprint of the data (sorted invoice keys, amounts, statuses, identifiers,
dispositions) and the parameters, so the same data and parameters give the same run id and the
same findings; re-running replaces that run's findings in the store.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms import amounts, cycle_scoring, dynamics, hubs, identity, rule_null, shell, supervised, tiers
from algorithms.communities import Community, LeidenRunner, communities
from algorithms.cycle_scoring import ScoredCycle
from algorithms.cycles import ORIENTATION_ZH, WIDE_LOOPS_PER_HOP, CycleSearch, TemporalCycle, temporal_cycles
from algorithms.features import build_features, cycle_signal
from algorithms.identity import KIND_ZH, IdentityCluster
from algorithms.params import DetectionParams
from algorithms.patterns import Pattern, PatternParams, PatternSearch, detect_patterns
from algorithms.risk import Anomaly, Evidence, RiskResult, score_taxpayers
from algorithms.rule_tests import TESTS as RULE_TESTS
from algorithms.rule_tests import rule_qvalues
from algorithms.signals import Signal, pct
from algorithms.significance import DEFAULT_FDR, pq
from graph.core import schema, settings, vocab
from graph.core.model import Ring, Run
from graph.core.notes import Note
from graph.embedded import EmbeddedStore
from graph.store import Store
from loaders.safe_csv import write_rows
from workbench import audit, fast_update
from workbench.auth import User, allowed, require
from workbench.incremental import incremental_cache, null_cache

TZ = ZoneInfo(schema.TZ)
#: bumped when a detector or the scoring changes what a run finds on the same data: part of the run's parameters,
#: so findings from an older release get a different run id (and `fapiao demo` re-detects instead of keeping them)
DETECTOR_VERSION = "2026.12.03.28"  # .28 a second family of loops: those only a gate wider than the budget's (up to 125,000 loops) finds, tested apart at a tenth of --cycle-fdr against null loops beyond the main gate, the main family at the other nine tenths; .27 amount gate chosen with an unbiased estimate of the distinct loops (each loop found from m start invoices counts 1 / m; was 1.1-1.6× high); .26 low_amount null copies from their own stream seeded by --seed (the same whichever detectors ran before); .25 loop components compared within their stratum only when it holds >= 10,000 null loops (else all null loops); .24 loop significance: small_parties by the members' geometric mean of partners, continuous components' tails extrapolated beyond the null, components compared within the loop's stratum; .23 pattern detector low_amount (双方异常小额往来: many invoices far below both parties' usual amounts, against amounts permuted within months); .22 p- and q-values in evidence and reasons as "= 0.012" or "< 0.0001" (no e-notation), a reason states a finding's q once; .21 supervised model: confirmed / cleared companies sharing an identifier; .20 loops: finer amount-gate ladder counted in distinct loops, tight hop to hop (closing pair only for two companies), BH per loop-length stratum at fdr / strata; .19 supervised model: confirmed and likely loops (closed walks of 2-4 relations through confirmed companies); .18 Leiden per connected component; .17 near-limit test: rare share and rare count; .16 shell test also by the busiest 30 days' value; .15 per-taxpayer tests of void/red, near-limit, shell (--rule-test-fdr); .14 evidence and reasons with Chinese punctuation (，；：（）); .13 own-null draws for bursts in two stages; .12 supervised model: all loops, amount profile, confirmed counterparties; .11 loop null copies shuffled per month, seeded by the month's content; .10 burst refine
#: a temporal cycle search with :func:`algorithms.cycles.temporal_cycles`'s keywords and result (another engine's)
CycleFinder = Callable[..., CycleSearch]
#: the fixed amount gate of engines without the data-adaptive choice (the in-process search's old default)
FIXED_GATE = 0.25
STAGES = ("read", "cycles", "patterns", "identities", "typologies", "communities", "rings", "dynamics", "risk", "store")


@dataclass(frozen=True)
class DetectionResult:
    """One detection run: the run record, its rings and per-taxpayer scores (schema.SCORES)."""

    run: Run
    rings: list[Ring]
    scores: pa.Table
    risk: RiskResult | None = None
    cycle_stats: dict[str, float] = field(default_factory=dict)
    #: temporal pattern findings (None when the pattern search was off)
    patterns: PatternSearch | None = None

    def tier_counts(self) -> dict[str, int]:
        """How many taxpayers per tier."""
        tiers = self.scores.column("tier").to_pylist() if self.scores.num_rows else []
        return {t: tiers.count(t) for t in vocab.TIERS}


# --------------------------------------------------------------------------------------------------
# fingerprint


def fingerprint(invoices: pa.Table, identifiers: pa.Table, labels: dict[str, int], params: dict[str, Any]) -> str:
    """SHA-256 over the sorted invoice keys with their amounts/status/time, identifiers, labels and params."""
    h = hashlib.sha256()
    cols = ["key", "seller_tax_id", "buyer_tax_id", "issued_at", "total_fen", "status", "item_code"]
    inv = invoices.select(cols).sort_by([("key", "ascending")]).combine_chunks()
    for col in inv.columns:          # Arrow buffers of the sorted columns: fast and exact
        for buf in col.chunks[0].buffers() if col.num_chunks else []:
            if buf is not None:
                h.update(memoryview(buf))
    ids = sorted(zip(*(identifiers.column(c).to_pylist() for c in ("tax_id", "kind", "value")), strict=True)) \
        if identifiers.num_rows else []
    h.update(json.dumps([ids, sorted(labels.items()), params], sort_keys=True, default=str).encode())
    return h.hexdigest()


def run_id_for(fp: str, params: dict[str, Any]) -> str:
    """Run id from the data fingerprint and the parameters."""
    return "run-" + hashlib.sha256((fp + json.dumps(params, sort_keys=True)).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------------
# ring assembly


ORIENTATION_TEXT = {
    "along": "过票链：各企业先取得进项、后开出销项",
    "against": "虚抵进项：各企业先开出销项、后取得进项抵扣",
    "mutual": "对开：两家企业互相开票",
}


def cycle_evidence(sc: ScoredCycle) -> str:
    """e.g. "3 家企业时序闭环(虚抵进项:各企业先开出销项、后取得进项抵扣),11 天内闭合,各环金额差异 4%,…,
    比随机打乱后的同类闭环更罕见(p=0.001,q=0.02);数据缺少商品编码,相应证据未参与评分"."""
    c = sc.cycle
    parts = [f"{c.length} 家企业时序闭环（{ORIENTATION_TEXT.get(c.orientation, ORIENTATION_ZH.get(c.orientation, ''))}）",
             f"{c.span_days:.0f} 天内闭合"]
    if sc.hop_drift is not None and c.length > 2 and sc.closing_drift - sc.hop_drift > 0.005:
        # fees skimmed at every hop: each hop is close to the one before, the last far from the first
        parts.append(f"逐环金额变化不超过 {pct(sc.hop_drift)}（首尾累计差异 {pct(sc.closing_drift)}）")
    else:
        parts.append(f"各环金额差异 {pct(sc.closing_drift)}")
    if sc.pair_use <= 1.2:
        parts.append("各环交易关系几乎只用于此闭环")
    if sc.components.get("same_item", 0) >= 0.5:
        parts.append("同一品目转了一圈")
    if c.repeats > 1:
        parts.append(f"同一闭环出现 {c.repeats} 次")
    if sc.young_members:
        parts.append(f"{sc.young_members} 家成员首次开票时登记不足 6 个月")
    if sc.shared_kinds:
        parts.append("成员共用" + "、".join(KIND_ZH.get(k, k) for k in sc.shared_kinds))
    if sc.wide:
        parts.append("金额累计漂移超出常规搜索门限，作为单独一族检验（错误发现率的十分之一）")
    parts.append(f"比随机打乱后的同类闭环更罕见（{pq(sc.p_value, sc.q_value)}）" if sc.significant
                 else f"与随机打乱后的闭环相比不显著（{pq(sc.p_value)}）")
    text = "，".join(parts)
    missing = cycle_scoring.unavailable_inputs_zh(sc.unavailable)
    if missing:
        text += f"；数据缺少{'、'.join(missing)}，相应证据未参与评分"
    return text


def _ring_id(run_id: str, kind: str, members: Sequence[str]) -> str:
    return f"{run_id}-{kind}-" + hashlib.sha256("|".join(sorted(members)).encode()).hexdigest()[:10]


def assemble_rings(
    run_id: str, cycles: list[ScoredCycle], clusters: list[IdentityCluster], comms: list[Community],
    hub_signal: Signal, invoices: pa.Table, *, window_days: float, min_community_score: float = 0.5,
    patterns: Sequence[Pattern] = (),
) -> list[Ring]:
    """Turn algorithm results into :class:`graph.core.model.Ring` findings with evidence in words."""
    rings: list[Ring] = []
    for sc in cycles:
        c = sc.cycle
        rings.append(Ring(
            _ring_id(run_id, "cycle", c.members), run_id, "cycle", c.members, tuple(h.key for h in c.hops),
            sc.score, cycle_evidence(sc),
            c.details() | {"window_days": window_days} | cycle_scoring.describe(sc),
        ))
    for cl in clusters:
        kinds = sorted({KIND_ZH.get(k, k) for k, _, _ in cl.shared})
        score = round(min(1.0, 0.4 + 0.1 * len(cl.members) + 0.1 * cl.weight / len(cl.members)), 4)
        rings.append(Ring(
            _ring_id(run_id, "shared_identity", cl.members), run_id, "shared_identity", cl.members, (),
            min(score, 0.95), f"{len(cl.members)} 家企业共用{'、'.join(kinds)}",
            {"shared": [{"kind": k, "value": v, "companies": n} for k, v, n in cl.shared],
             "weight": round(cl.weight, 3)},
        ))
    for co in comms:
        if co.score < min_community_score:
            continue
        rings.append(Ring(
            _ring_id(run_id, "community", co.members), run_id, "community", co.members, (), co.score, co.evidence(),
            {"internal_fen": co.internal_fen, "internal_share": round(co.internal_share, 4),
             "density": round(co.density, 4), "cycles_inside": co.cycles_inside,
             "identity_links": co.identity_links, "member_risk": round(co.member_risk, 4)},
        ))
    hubs_flagged = hub_signal.flagged
    if len(hubs_flagged):
        inv = invoices.select(["key", "seller_tax_id", "buyer_tax_id", "issued_at"]).to_pandas()
        for hub, row in hubs_flagged.iterrows():
            sub = inv[(inv["seller_tax_id"] == hub) | (inv["buyer_tax_id"] == hub)].sort_values("issued_at")
            partners = sorted(set(sub["seller_tax_id"]) | set(sub["buyer_tax_id"]) - {hub})
            members = (str(hub), *partners)
            rings.append(Ring(
                _ring_id(run_id, "fan_hub", members), run_id, "fan_hub", members, tuple(sub["key"].head(200)),
                round(min(1.0, 0.5 + 0.4 * float(row["value"])), 4), str(row["evidence"]),
                {"hub": str(hub), "value_added": round(float(row.get("value_added", 0.0)), 4)},
            ))
    rings.extend(pattern_ring(run_id, pt) for pt in patterns)
    rings.sort(key=lambda r: (-r.score, r.kind, r.ring_id))
    return rings


def pattern_ring(run_id: str, pt: Pattern) -> Ring:
    """A temporal pattern as a ring: its kind, members (anchor first), invoices and evidence; the score
    is 1 − q (a finding is kept only when q ≤ the pattern FDR, so it scores ≥ 0.5)."""
    return Ring(
        _ring_id(run_id, pt.kind, pt.members), run_id, pt.kind, pt.members, pt.invoice_keys,
        round(max(0.5, 1.0 - pt.qvalue), 4), pt.evidence,
        {"anchor": pt.anchor, "orientation": pt.orientation, "start": pt.start.isoformat(),
         "end": pt.end.isoformat(), "statistic": round(pt.statistic, 4), "null_typical": round(pt.null_typical, 4),
         "pvalue": float(f"{pt.pvalue:.4g}"), "qvalue": float(f"{pt.qvalue:.4g}")}
        | {k: (None if v != v else round(v, 4)) if isinstance(v, float) else v for k, v in pt.details.items()},
    )


# --------------------------------------------------------------------------------------------------
# the pipeline


class _Stages:
    """Times each stage and drives an optional rich progress display."""

    def __init__(self, progress: bool, on_start: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._on_start = on_start
        self._progress: Any = None
        self._task: Any = None
        if progress:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("[bold]{task.description:<12}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                      transient=False, console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task("detect", total=len(STAGES))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        if self._on_start is not None:
            self._on_start(name)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - t, 3)
            if self._progress is not None:
                self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description="done")
            self._progress.stop()


def disposition_labels(records: list[dict[str, Any]]) -> dict[str, int]:
    """tax_id → 1 (confirmed) / 0 (false_positive); the latest record per taxpayer wins."""
    latest: dict[str, tuple[str, int]] = {}
    for r in records:
        label = r.get("label")
        tid = r.get("tax_id")
        if not tid or label not in ("confirmed", "false_positive"):
            continue
        at = str(r.get("at", ""))
        if tid not in latest or at >= latest[tid][0]:
            latest[str(tid)] = (at, 1 if label == "confirmed" else 0)
    return {k: v for k, (_, v) in latest.items()}


def run_detection(
    store: Store,
    params: DetectionParams | None = None,
    *,
    progress: bool = False,
    on_stage: Callable[[str], None] | None = None,
    user: User | None = None,
    audit_as: str | None = None,
    finder: CycleFinder | None = None,
    engine: dict[str, Any] | None = None,
    invoices: pa.Table | None = None,
    taxpayers: pa.Table | None = None,
    activity: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None,
    edges: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    void_red_counts: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    components: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
    anomaly: Anomaly | None = None,
    leiden: LeidenRunner | None = None,
    incremental: bool = True,
    **changes: Any,
) -> DetectionResult:
    """Run every detector over the store's data and store the findings as one run.

    Parameters
    ----------
    store
        Any :class:`graph.store.Store`.
    params
        The run's options (:class:`algorithms.params.DetectionParams`; its defaults when omitted).
        Same data + params → same run id and findings.
    progress
        Show a rich progress display per stage.
    on_stage
        Called with each stage's name when it starts (benchmarks sample memory per stage).
    user, audit_as
        Who runs it: a workbench ``user`` needs ``run_detection``, and dispositions train the model only
        when the user may ``train_model``; ``audit_as`` names a command-line actor. With either, the
        findings commit in one transaction with their ``detect`` audit event.
    finder, engine
        Another engine's temporal cycle search (same keywords and result as
        :func:`algorithms.cycles.temporal_cycles`), used for the data and its shuffled copies, and what to
        record about that engine in the run's parameters (e.g. ``{"engine": "spark", "spark_master": …}``);
        not part of the run id: an engine that finds the same loops gives the same run. See
        :mod:`workbench.spark_engine`.
    invoices, taxpayers
        Checked rows (``schema.INVOICES`` / ``schema.TAXPAYERS``) to detect on instead of the store's
        (``fapiao detect --engine spark --input``); identifiers and dispositions still come from the store,
        and the findings go to it.
    activity
        Another engine's per-taxpayer activity table (same result as :func:`algorithms.shell.activity`,
        e.g. :class:`workbench.spark_engine.features.SparkActivity`).
    edges
        Another engine's seller→buyer edge table of the blue invoices (same result as :func:`invoice_edges`).
    void_red_counts
        Another engine's per-seller void / red-letter counts (same result as :func:`algorithms.shell.void_red_counts`).
    components
        Another engine's connected components for the shared-identifier clusters
        (:func:`algorithms.identity.identity_clusters`' ``components``).
    anomaly
        Another engine's application of the unsupervised risk model (:data:`algorithms.risk.Anomaly`, e.g.
        :class:`workbench.spark_engine.risk.SparkIsolation`: trained on a sample, applied in parallel).
    leiden
        Another engine's Leiden per connected component for the communities (same result as
        :func:`algorithms.communities.leiden_by_component`, e.g. :class:`workbench.spark_engine.communities.SparkLeiden`).
    incremental
        Reuse the loop search of time windows whose invoices did not change since the previous run, from the
        workspace's cache (:mod:`workbench.incremental`; embedded workspaces, in-process search). Same findings
        either way; False searches everything and leaves the cache alone.
    changes
        Fields of ``params`` to change, e.g. ``run_detection(store, seed=3, window_days=60)``.

    Returns
    -------
    DetectionResult
        Also written to the store with ``w.findings(run, rings, scores)``.
    """
    p = (params or DetectionParams()).replace(**changes)
    if finder is not None and p.max_drift is None:   # another engine (Spark) has no data-adaptive gate: the fixed
        p = p.replace(max_drift=FIXED_GATE)           # one, in the parameters and so in the run id too
    window_days, max_cycle_len, max_drift, seed = p.window_days, p.max_cycle_len, p.max_drift, p.seed
    tm = settings.get_float("FAPIAO_TIER_MEDIUM") if p.tier_medium is None else p.tier_medium
    th = settings.get_float("FAPIAO_TIER_HIGH") if p.tier_high is None else p.tier_high
    params_used: dict[str, Any] = p.as_dict() | {"tier_medium": tm, "tier_high": th, "detector": DETECTOR_VERSION}
    st = _Stages(progress, on_stage)
    try:
        with st.stage("read"):
            given = invoices
            invoices = store.invoice_stream() if invoices is None else invoices
            taxpayers = store.taxpayers() if taxpayers is None else taxpayers
            ids = store.identifiers()
            if user is not None:
                require(user, "run_detection")
            trains = user is None or allowed(user.roles, "train_model")
            labels = disposition_labels(store.records("disposition")) if trains else {}
            # the fast update's calibration (embedded workspaces, in-process runs on the store's data): the
            # taxpayers' invoice digests as the run reads them, so a later fast update finds what changed
            fast_folder = fast_update.folder_of(store) if finder is None and given is None else None
            digests = store.taxpayer_digests() if fast_folder is not None and isinstance(store, EmbeddedStore) \
                else None
            fp = fingerprint(invoices, ids, labels, params_used)
            run_id = run_id_for(fp, params_used)
            inv = invoices.to_pandas()
            tp = taxpayers.to_pandas()
            idf = ids.to_pandas()
        with st.stage("cycles"):
            cache = incremental_cache(store) if incremental and finder is None else None
            if finder is None:
                search = temporal_cycles(inv, window_days=window_days, max_len=max_cycle_len, max_drift=max_drift,
                                         budget=None if p.cycle_budget is None else p.cycle_budget * 1e6,
                                         cache=cache)
                # the null copies are searched with the same gate (the fixed one, or the one chosen for this data)
                gate_kw: dict[str, Any] = ({"max_drift": max_drift} if max_drift is not None
                                           else {"gate_ratio": search.gate})
                # the second family: loops only a wider gate finds (up to the null model's cap), tested apart
                wide: CycleSearch | None = None
                main_gate = search.gate
                if max_drift is None and p.cycle_budget is not None and main_gate is not None and \
                        search.gate_trials and search.gate_trials[-1].stopped_by_loops(p.cycle_budget * 1e6):
                    wide = temporal_cycles(inv, window_days=window_days, max_len=max_cycle_len,
                                           budget=p.cycle_budget * 1e6, loops_per_hop=WIDE_LOOPS_PER_HOP)
                    if wide.gate is not None and wide.gate <= main_gate:
                        wide = None                     # no wider gate fits: one family, as before .28
            else:
                gate_kw = {"max_drift": max_drift}
                search = finder(inv, window_days=window_days, max_len=max_cycle_len, **gate_kw)
                wide = None
        with st.stage("patterns"):
            patterns = None if p.pattern_fdr is None else detect_patterns(
                inv, PatternParams(null_copies=p.pattern_copies, fdr=p.pattern_fdr), seed=seed)
        with st.stage("identities"):
            links = identity.identity_links(idf)
            clusters = identity.identity_clusters(idf, links=links, components=components)
            sig_identity = identity.shared_identity(idf, links=links)
        with st.stage("typologies"):
            act = shell.activity(inv, tp) if activity is None else activity(inv, tp)
            edge_table = invoice_edges(inv) if edges is None else edges(inv)
            share = 0.0 if wide is None else cycle_scoring.WIDE_FDR_SHARE
            scored = score_cycles(search.cycles, inv, tp, idf, act=act, links=links, fdr=p.cycle_fdr * (1 - share),
                                  seed=seed, null_copies=p.cycle_copies, finder=finder, window_days=window_days,
                                  max_len=max_cycle_len, cache=null_cache(cache), **gate_kw)
            if wide is not None:
                scored = merge_families(scored, score_cycles(
                    wide.cycles, inv, tp, idf, act=act, links=links, fdr=p.cycle_fdr * share, seed=seed,
                    null_copies=p.cycle_copies, window_days=window_days, max_len=max_cycle_len,
                    gate_ratio=wide.gate, beyond=search.gate, cache=null_cache(cache)))
            flagged_cycles = [sc for sc in scored if sc.significant]
            sig_items = hubs.item_mismatch(inv, tp)
            sig_hub = hubs.fan_hub(inv, coverage=sig_items.table["coverage"], act=act)
            sig_pass = hubs.pass_through_hub(inv, max_margin=p.pass_hub_margin, max_days=p.pass_hub_days,
                                             fdr=p.fdr, seed=seed)
            signals: list[Signal] = [
                cycle_signal([sc.cycle for sc in flagged_cycles]), shell.shell(inv, tp, act=act),
                shell.void_red(inv, counts=None if void_red_counts is None else void_red_counts(inv)),
                sig_hub, sig_items, amounts.near_limit(inv, tp),
                amounts.benford(inv), amounts.amount_outliers(inv, tp), amounts.large_bursts(inv, tp),
                amounts.duplicates(inv), sig_identity, sig_pass,
            ]
            fired = [sg.name for sg in signals if sg.name in tiers.RULE_NULLS and len(sg.flagged)]
            rule_tests = {r: (round(t.fdr, 4), t.hits) for r, t in
                          rule_null.rule_null_hits(inv, tp, idf, rules=fired, act=act, seed=seed).items()}
            taxpayer_q = {} if p.rule_test_fdr is None else rule_tests_q(inv, tp, act, fired)
        with st.stage("communities"):
            comms = communities(edge_table, links=links, cycles=[sc.cycle.members for sc in flagged_cycles],
                                member_risk=_member_risk(signals), seed=seed, leiden=leiden)
        with st.stage("rings"):
            rings = assemble_rings(run_id, flagged_cycles, clusters, comms, hubs.either(sig_hub, sig_pass), invoices,
                                   window_days=window_days, patterns=patterns.patterns if patterns else ())
        with st.stage("dynamics"):
            b = dynamics.blue_frame(inv)
            burst_w = dynamics.burst_window(b)
            index = act.index.union(pd.Index(tp["tax_id"].astype(str)))
            dyn = dynamics.dynamics(b, index, w=burst_w)
            dnull = tiers.dynamics_null(b, index, dyn, w=burst_w, copies=p.dynamics_copies, seed=seed)
            found, found_reasons = tiers.finding_features(
                [tiers.Finding(r.kind, r.members, finding_q(r), r.evidence) for r in rings]
                + [tiers.Finding("pass_hub", (str(t),), float(q), str(e))      # the hub alone, not its partners
                   for t, q, e in zip(sig_pass.flagged.index, sig_pass.flagged["qvalue"], sig_pass.flagged["evidence"],
                                      strict=True)],
                index, fdr=p.fdr)
            evidence = Evidence(found, found_reasons, dnull.table, tiers.unavailable(inv, tp, idf),
                                p.fdr, p.fdr_medium, rule_tests, taxpayer_q=taxpayer_q, taxpayer_fdr=p.rule_test_fdr)
        with st.stage("risk"):
            feats = build_features(inv, tp, signals, communities=comms, act=act,
                                   extra=[dyn.add_prefix("dyn_"), dnull.table[["excess", "q"]].add_prefix("dyn_null_"),
                                          found, supervised.loop_features([sc for sc in scored if not sc.wide or sc.significant], index),
                                          supervised.amount_profile(b, index)])
            risk = score_taxpayers(feats, labels=labels, tier_medium=tm, tier_high=th, seed=seed, evidence=evidence,
                                   anomaly=anomaly, edges=edge_table, links=links)
        run = Run(run_id, datetime.now(TZ), params_used | (engine or {}) | {"model": risk.model, "cv_auc": risk.cv_auc,
                                                      "cv_f1": risk.cv_f1, "labels_used": risk.labels_used,
                                                      "cv_confusion": None if risk.cv_confusion is None
                                                      else list(risk.cv_confusion),
                                                      "burst_window_days": round(burst_w, 3),
                                                      "cycle_gate": search.gate,
                                                      "cycle_gate_wide": None if wide is None else
                                                      (wide.gate if wide.gate is not None else "none"),
                                                      "cycle_gate_trials": [t.describe() for t in search.gate_trials],
                                                      "unavailable": sorted(evidence.unavailable),
                                                      "rule_fdr": {r: q for r, (q, _) in rule_tests.items()}},
                  fp, st.seconds)
        with st.stage("store"):
            if fast_folder is not None:
                fast_update.save(fast_folder, run_id=run_id, features=feats, evidence=evidence, risk=risk,
                                 digests=digests, meta={
                                     "burst_window_days": burst_w, "end_s": float(act["last_at"].max()) if len(act)
                                     else 0.0, "origin_days": float(b["t"].min() - np.floor(b["t"].min())) if len(b)
                                     else 0.0, "fdr": p.fdr, "fdr_medium": p.fdr_medium, "tier_medium": tm,
                                     "tier_high": th, "rule_test_fdr": p.rule_test_fdr,
                                     "unavailable": dict(evidence.unavailable),
                                     "rule_fdr": {r: q for r, (q, _) in rule_tests.items()},
                                     "detector": DETECTOR_VERSION})
            if user is None and audit_as is None:
                with store.writer() as w:
                    w.findings(run, rings, risk.scores)
            else:
                audit.record(store, user, "detect", f"run:{run.run_id}",
                             Note("detect_counts", {"rings": len(rings), "labels": risk.labels_used}), actor=audit_as,
                             change=lambda w: w.findings(run, rings, risk.scores))
    finally:
        st.close()
    run = Run(run.run_id, run.created_at, run.params, run.fingerprint, dict(st.seconds))
    return DetectionResult(run, rings, risk.scores, risk, search.stats | {"instances": float(search.instances)},
                           patterns)


def rule_tests_q(inv: pd.DataFrame, tp: pd.DataFrame, act: pd.DataFrame, fired: list[str]) -> dict[str, pd.Series]:
    """Per-taxpayer q-values of the rules that fired and have a test (:func:`algorithms.rule_tests.rule_qvalues`).."""
    return rule_qvalues(inv, tp, act, rules=frozenset(fired) & set(RULE_TESTS))


def finding_q(ring: Ring) -> float | None:
    """The q-value a ring was kept at (patterns: ``qvalue``; loops: ``q_value``), None for rule-based rings
    (shared identifiers, communities, fan_hub), which are no significance test."""
    q = ring.details.get("qvalue", ring.details.get("q_value"))
    return None if q is None else float(q)


def _member_risk(signals: list[Signal]) -> dict[str, float]:
    """tax_id → share of the strong typology signals it raises (0..1), for the community score."""
    strong = [s for s in signals if s.name in ("cycle", "shell", "fan_hub", "near_limit", "item_mismatch", "void_red")]
    counts: dict[str, int] = {}
    for s in strong:
        for t in s.flagged.index:
            counts[t] = counts.get(t, 0) + 1
    return {k: min(1.0, v / 2) for k, v in counts.items()}


def score_cycles(
    cycles: list[TemporalCycle], inv: pd.DataFrame, tp: pd.DataFrame | None, idf: pd.DataFrame | None, *,
    act: pd.DataFrame | None = None, links: pd.DataFrame | None = None, fdr: float = DEFAULT_FDR, seed: int = 0,
    null_copies: int = 2, finder: CycleFinder | None = None, cache: Path | None = None, beyond: float | None = None,
    **search: Any,
) -> list[ScoredCycle]:
    """Score every loop against loops found by the same search (``search``: ``temporal_cycles`` keywords) in
    shuffled copies of the data, with its members' shared identifiers and youth; one loop per member set
    (the more significant orientation). ``cache``: where the null copies' searches keep their loops
    (:mod:`algorithms.null_cache`). ``beyond``: score only the loops that need a wider amount gate than this
    ratio, against the null loops that do too (the second family of loops). See :mod:`algorithms.cycle_scoring`."""
    if not cycles:
        return []
    ctx = cycle_scoring.loop_context(inv, act=act, links=links, strong_link=identity.STRONG_LINK)
    if beyond is not None:
        keep = cycle_scoring.beyond_gate(cycle_scoring.loop_statistics(cycles, ctx), beyond)
        cycles = [c for c, k in zip(cycles, keep.tolist(), strict=True) if k]
        if not cycles:
            return []
    null = cycle_scoring.null_statistics(
        inv, ctx, copies=null_copies, seed=seed, finder=finder, cache=cache,
        min_loops=min(cycle_scoring.MAX_NULL_LOOPS, cycle_scoring.NULL_PER_LOOP * len(cycles)), **search)
    if beyond is not None:
        null = null[cycle_scoring.beyond_gate(null, beyond)].reset_index(drop=True)
    available = cycle_scoring.available_components(inv, tp, idf)
    scored = cycle_scoring.score_loops(cycles, ctx, null, available, fdr=fdr, wide=beyond is not None)
    seen: set[frozenset[str]] = set()
    out = []
    for sc in scored:                 # best first: a member set found in both orientations is kept once
        key = frozenset(sc.cycle.members)
        if key not in seen:
            seen.add(key)
            out.append(sc)
    return out


def merge_families(main: list[ScoredCycle], wide: list[ScoredCycle]) -> list[ScoredCycle]:
    """The main search's scored loops followed by the second family's loops whose member set the main search did
    not find, best first as :func:`score_cycles` orders them (significant, then score)."""
    seen = {frozenset(sc.cycle.members) for sc in main}
    out = main + [sc for sc in wide if frozenset(sc.cycle.members) not in seen]
    out.sort(key=lambda s: (not s.significant, -s.score, s.p_value, s.cycle.members))
    return out


def invoice_edges(inv: pd.DataFrame) -> pd.DataFrame:
    """Seller→buyer pairs of the blue invoices with a positive total: ``count`` and ``total_fen``, sorted by pair."""
    blue = inv[inv["status"].isin(amounts.BLUE) & (inv["total_fen"] > 0)]
    return blue.groupby(["seller_tax_id", "buyer_tax_id"], as_index=False).agg(
        count=("key", "size"), total_fen=("total_fen", "sum"))


# --------------------------------------------------------------------------------------------------
# CSV output


def write_outputs(result: DetectionResult, out_dir: Path) -> None:
    """Write ``rings.csv`` and ``taxpayer_scores.csv`` (formula-safe, UTF-8 with BOM) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(out_dir / "rings.csv", ["ring_id", "kind", "members", "invoices", "score", "evidence"],
               ([r.ring_id, r.kind, ";".join(r.members), ";".join(r.invoice_keys), r.score, r.evidence]
                for r in result.rings))
    s = result.scores
    order: Any = np.argsort(-np.asarray(s.column("score").to_numpy(), dtype=float), kind="stable") if s.num_rows else []
    tax, score, tier, reasons = (s.column(c).to_pylist() for c in ("tax_id", "score", "tier", "reasons"))
    write_rows(out_dir / "taxpayer_scores.csv", ["tax_id", "score", "tier", "reasons"],
               ([tax[i], score[i], tier[i], " | ".join(json.loads(reasons[i]))] for i in order))

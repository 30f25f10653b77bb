"""Fast update (快速更新): provisional tiers and alerts within seconds of a batch's arrival, with the last exact
run's calibration frozen; the exact run that follows supersedes it.

An exact run (:func:`workbench.detect.run_detection`) needs the whole data for its nulls, gate, FDR, Leiden and
model (docs/detection.md, *Incremental detection*). So when invoices arrive, this module first answers for the
**affected taxpayers** only (the sellers and buyers of the new, voided or corrected invoices), from **their own
invoices** (one parameterised read, :meth:`graph.embedded.EmbeddedStore.invoices_touching`):

* recomputed from those invoices (taxpayer-local): the activity features (scale, output / input, age, span,
  silence, degrees, counts), the timing dynamics ``dyn_*`` with the run's burst window, and the rules ``shell``,
  ``void_red``, ``near_limit``, ``benford``, ``duplicates`` (:data:`LOCAL_SIGNALS`);
* frozen from the last exact run (its *calibration*, written by that run into ``<workspace>/cache/fast/``): every
  other feature of the taxpayer (loops, patterns and other findings, shared identifiers, community, the timing
  null's excess and q-value, amount outliers, fan hub, item mismatch, pass-through), the per-taxpayer rule
  q-values, the rule FDRs, the unavailable inputs, the burst window and time origin, the tier cut-offs and the
  model: the fitted IsolationForest with its columns, fill values and the run's anomaly scores (a row's model term
  is its percentile among them), or a supervised run's model term per taxpayer.

The rows are scored by the same code as the exact run (:func:`algorithms.risk.score_taxpayers` with
``frozen=``), stored as one record of kind :data:`KIND` (based on the run's id, clearly provisional), and the
``new_high`` alert rule fires on them (episode ``<tax id>|<run id>|fast``). When the exact run then finds the same
taxpayer newly high, :func:`workbench.alerts.engine.new_high` does not alert again (it skips the taxpayers a fast
update based on the run before already alerted).

Locality (tested, ``tests/workbench/test_fast_update.py``): a taxpayer's fast row computed from its own invoices
equals the same frozen-calibration scoring computed over the whole table. Window arithmetic uses times rounded to
2⁻²⁰ days (0.08 s) so it is exact whichever other invoices are in the frame.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from algorithms import amounts, dynamics, shell
from algorithms._tables import DAY, epoch_seconds
from algorithms.features import Features, build_features
from algorithms.risk import Evidence, FrozenModel, RiskResult, score_taxpayers
from graph.core.notes import Note
from graph.store import Store

#: calibration format; part of the code version
VERSION = 1
FOLDER = "fast"
#: Arrow IPC, uncompressed: memory-mapped, a fast update takes its rows without reading the others
TABLE = "taxpayers.arrow"
#: store record kind of a fast update's result
KIND = "fast_update"
KIND_ZH = "快速更新（暂定）"
#: typology signals recomputed per taxpayer from its own invoices
LOCAL_SIGNALS = ("shell", "void_red", "near_limit", "benford", "duplicates")
#: the invoice columns the taxpayer-local part reads (a lean frame: hubs bring hundreds of thousands of rows)
COLUMNS = ("key", "number", "issued_at", "seller_tax_id", "buyer_tax_id", "amount_fen", "total_fen", "status")
#: the time grid of the window arithmetic (days): sums and differences of times stay exact
QUANTUM = 2.0 ** -20
_SOURCES = ("workbench/fast_update.py", "algorithms/risk.py", "algorithms/features.py", "algorithms/dynamics.py",
            "algorithms/shell.py", "algorithms/amounts.py", "algorithms/tiers.py")


def code_version() -> str:
    """Hash of the source that decides a fast row (a calibration of another release is not read)."""
    import sklearn

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"{VERSION}|{sklearn.__version__}".encode())
    for name in _SOURCES:
        h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


def folder_of(store: Store) -> Path | None:
    """Where ``store`` keeps its calibration (beside the loop cache), None when it keeps none (Neo4j)."""
    from workbench.incremental import incremental_cache

    loops = incremental_cache(store)
    return None if loops is None else loops.parent / FOLDER


# ------------------------------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """The last exact run's frozen calibration: ``meta`` (run id, burst window, time origin and end, cut-offs, …),
    its model, and the per-taxpayer table at ``path``."""

    run_id: str
    meta: dict[str, Any]
    model: FrozenModel | None
    path: Path

    def table(self) -> pa.Table:
        """The per-taxpayer table, memory-mapped."""
        with pa.memory_map(str(self.path)) as src:
            return pa.ipc.open_file(src).read_all()

    def rows(self, tax_ids: Sequence[str]) -> pd.DataFrame:
        """The run's rows of ``tax_ids`` (those it had), indexed by tax id."""
        t = self.table()
        pos = pc.index_in(pa.array(list(map(str, tax_ids)), pa.string()), value_set=t.column("tax_id"))
        out: pd.DataFrame = t.take(pc.drop_null(pos)).to_pandas().set_index("tax_id")
        return out

    def digests(self) -> pd.DataFrame:
        """tax_id → n, h: the taxpayers' invoice digests when the run read the data."""
        out: pd.DataFrame = self.table().select(["tax_id", "n", "h"]).to_pandas().set_index("tax_id")
        return out


def save(folder: Path, *, run_id: str, features: Features, evidence: Evidence, risk: RiskResult,
         digests: pa.Table | None, meta: dict[str, Any]) -> None:
    """Write a run's calibration into ``folder`` (replacing the one before): the per-taxpayer table (features before
    the rule gate, signal evidence, finding reasons, timing null, rule q-values and hits, model term, tier) with
    ``meta`` in its metadata, and the fitted model beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    v = features.values
    idx = v.index.astype(str)
    cols: dict[str, Any] = {"tax_id": pa.array(idx.tolist(), pa.string())}
    for c in v.columns:
        cols[f"f:{c}"] = pa.array(v[c].to_numpy(dtype=np.float64), pa.float64())
    for c in features.evidence.columns:
        cols[f"e:{c}"] = pa.array(features.evidence[c].fillna("").astype(str).tolist(), pa.string())
    cols["found"] = pa.array([json.dumps(r, ensure_ascii=False) for r in evidence.finding_reasons], pa.string())
    dyn = evidence.dynamics.reindex(v.index)
    for c in ("excess", "p", "q"):
        cols[f"d:{c}"] = pa.array(dyn[c].to_numpy(dtype=np.float64), pa.float64())
    cols["d:top"] = pa.array(dyn["top"].fillna("").astype(str).tolist(), pa.string())
    for rule, q in evidence.taxpayer_q.items():
        cols[f"q:{rule}"] = pa.array(q.reindex(idx).to_numpy(dtype=np.float64), pa.float64())
    for rule, (_, hits) in evidence.rule_tests.items():
        cols[f"h:{rule}"] = pa.array(idx.isin(list(hits)), pa.bool_())
    cols["m"] = pa.array(np.zeros(len(v)) if risk.model_scores is None else risk.model_scores, pa.float64())
    cols["tier"] = risk.scores.column("tier")
    cols["score"] = risk.scores.column("score")
    d = pd.DataFrame({"n": pd.Series(dtype=np.int64), "h": pd.Series(dtype=np.uint64)}) if digests is None else \
        digests.to_pandas().set_index("tax_id")
    cols["n"] = pa.array(d["n"].reindex(idx, fill_value=0).to_numpy(dtype=np.int64), pa.int64())
    cols["h"] = pa.array(d["h"].reindex(idx, fill_value=0).to_numpy(dtype=np.uint64), pa.uint64())
    table = pa.table(cols).sort_by("tax_id")
    model = None
    if risk.frozen is not None:
        model = f"model-{run_id}.pkl"
        _atomic(folder / model, pickle.dumps(risk.frozen, protocol=pickle.HIGHEST_PROTOCOL))
    full = meta | {"run_id": run_id, "code": code_version(), "model_file": model, "model": risk.model,
                   "signals": [c for c in features.evidence.columns],
                   "m_default": float(np.median(risk.model_scores)) if risk.model_scores is not None and
                   len(risk.model_scores) else 0.0}
    table = table.replace_schema_metadata({b"fapiao_fast": json.dumps(full, default=str).encode()})
    fd, tmp = tempfile.mkstemp(prefix=".taxpayers-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table)
        os.replace(tmp, folder / TABLE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    prune(folder, {TABLE} | ({model} if model else set()))


#: a writer's temporary file older than this (s) was left by a killed writer, not one still writing
_STALE_TMP = 3600.0


def prune(folder: Path, keep: set[str]) -> list[str]:
    """Delete what an earlier calibration left in ``folder`` that the one just written does not use: the models of
    earlier runs, older formats' tables (``taxpayers.parquet`` of format 1 before the Arrow IPC one, any other
    name), and temporary files of killed writers (an hour old). Returns the names deleted."""
    gone = []
    now = time.time()
    for f in folder.iterdir():
        try:
            if f.name in keep or not f.is_file() or \
                    (f.name.startswith(".") and now - f.stat().st_mtime < _STALE_TMP):   # another writer's, maybe
                continue
            f.unlink()
        except OSError:                      # gone meanwhile (another writer pruned it)
            continue
        gone.append(f.name)
    return sorted(gone)


def _atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load(store: Store) -> Calibration | None:
    """The calibration of ``store``'s newest run, or None: no exact run wrote one (Neo4j, another engine, an older
    release), or a newer run did not."""
    folder = folder_of(store)
    if folder is None:
        return None
    return load_folder(folder, newest=_newest_run(store))


def _newest_run(store: Store) -> str | None:
    runs = store.runs()
    return runs[0].run_id if runs else None


def load_folder(folder: Path, *, newest: str | None) -> Calibration | None:
    """The calibration in ``folder`` when it belongs to run ``newest`` and this release."""
    path = folder / TABLE
    try:
        with pa.memory_map(str(path)) as src:
            meta = json.loads((pa.ipc.open_file(src).schema.metadata or {})[b"fapiao_fast"])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None
    if meta.get("run_id") != newest or meta.get("code") != code_version():
        return None
    model = None
    if meta.get("model_file"):
        try:
            model = pickle.loads((folder / str(meta["model_file"])).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None
    return Calibration(str(meta["run_id"]), meta, model, path)


# ------------------------------------------------------------------------------------------ taxpayer-local part


def _coded_dynamics(s: npt.NDArray[np.int64], r: npt.NDArray[np.int64], t: npt.NDArray[np.float64],
                    fen: npt.NDArray[np.float64], nodes: npt.NDArray[np.object_], index: pd.Index, *, w: float,
                    origin: float) -> pd.DataFrame:
    """:func:`algorithms.dynamics.dynamics` of the taxpayers of ``index`` from blue invoices given as seller / buyer
    codes into ``nodes``, days since the epoch and totals, on a fixed time grid: times are days since ``origin``
    rounded to :data:`QUANTUM`, the window too, so every window comparison is exact and a taxpayer's values depend on
    its own invoices only (not on which other invoices the frame holds); ``return_2`` in integer arithmetic (its
    float keys grow with the square of the taxpayers in the frame). The per-node sorts hold only the events of the
    taxpayers of ``index`` (``motifs(keep=)``)."""
    out = pd.DataFrame(0.0, index=index, columns=[*dynamics.STATIC, *dynamics.TEMPORAL])
    if len(s) == 0:
        return out
    tq = np.round((t - origin) / QUANTUM).astype(np.int64)
    wq = int(round(w / QUANTUM))
    keep = pd.Index(nodes).isin(index)
    c = dynamics.Coded(s, r, np.asarray(tq * QUANTUM, dtype=np.float64), fen, nodes)
    feats = dynamics.motifs(c, w=wq * QUANTUM, static=True, return_2=False, keep=keep)
    feats["return_2"] = _return_2(s, r, tq, wq, len(nodes))
    frame_ = pd.DataFrame(feats, index=pd.Index(nodes, dtype=object))
    return frame_.reindex(index).fillna(0.0).astype(np.float64).reindex(columns=out.columns)


def _return_2(s: npt.NDArray[np.int64], r: npt.NDArray[np.int64], tq: npt.NDArray[np.int64], wq: int,
              m: int) -> npt.NDArray[np.float64]:
    """``return_2`` of :func:`algorithms.dynamics.motifs` exactly: per node, its invoices answered by one of the
    counterparty in the opposite direction within (t, t + w]."""
    pair = s * m + r
    pairs, pid = np.unique(pair, return_inverse=True)
    back = pd.Index(pairs).get_indexer(pd.Index(r * m + s))
    lo = int(tq.min())
    span = int(tq.max()) - lo + wq + 2
    key = np.sort(pid.astype(np.int64) * span + (tq - lo))
    has = back >= 0
    bk = np.where(has, back, 0).astype(np.int64) * span + (tq - lo)
    cnt = np.searchsorted(key, bk + wq, side="right") - np.searchsorted(key, bk, side="right")
    answered = ((cnt > 0) & has).astype(np.float64)
    return np.asarray(np.bincount(s, weights=answered, minlength=m) + np.bincount(r, weights=answered, minlength=m),
                      dtype=np.float64)


def local_features(inv: pd.DataFrame, tp: pd.DataFrame, index: pd.Index, *, w: float, origin: float,
                   end: float) -> Features:
    """The taxpayer-local features of ``index`` from ``inv`` (which must hold every invoice of those taxpayers; other
    taxpayers' rows come out partial and are dropped): activity with the data's end at ``end`` (epoch s), the local
    signals (:data:`LOCAL_SIGNALS`) and the timing dynamics. Rows only for taxpayers the exact run would score
    (with a blue invoice, or in the register)."""
    # the frame coded once: sellers and buyers as codes into ``nodes``, issue times in epoch seconds, blue rows
    n = len(inv)
    codes, names = pd.factorize(pd.concat([inv["seller_tax_id"], inv["buyer_tax_id"]], ignore_index=True))
    nodes = np.asarray(names, dtype=object)
    s, r = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    secs = epoch_seconds(inv["issued_at"])
    fen = inv["total_fen"].to_numpy(dtype=np.int64)
    blue = inv["status"].isin(dynamics.BLUE).to_numpy() & (fen > 0)
    act = _activity(s[blue], r[blue], fen[blue], secs[blue], nodes, tp, index)
    act["silent_days"] = (end - act["last_at"]) / DAY
    # the per-seller rules read the sellers' own invoices only, tax ids and status as categoricals (their groupby
    # and map cost 0.3 s on strings at 287,770 rows, 0.04 s on codes); only the categories present, as a groupby
    # on pandas 2.x (observed=False) would give every other taxpayer of the frame a row of zeros
    mine = pd.Index(nodes).isin(index)[s]
    sold = inv[mine].assign(seller_tax_id=pd.Categorical.from_codes(s[mine], categories=names).remove_unused_categories(),
                            buyer_tax_id=pd.Categorical.from_codes(r[mine], categories=names).remove_unused_categories(),
                            status=inv["status"][mine].astype("category"))
    signals = [shell.shell(sold, tp, act=act), shell.void_red(sold), amounts.near_limit(sold, tp),
               amounts.benford(sold), amounts.duplicates(sold)]
    known = act.index.union(pd.Index(tp["tax_id"].astype(str)))
    idx = pd.Index([t for t in index if t in known], dtype=object)
    dyn = _coded_dynamics(s[blue], r[blue], secs[blue] / DAY, fen[blue].astype(np.float64), nodes, idx, w=w,
                          origin=origin)
    f = build_features(inv, tp, signals, act=act, extra=[dyn.add_prefix("dyn_")])
    v = f.values.drop(columns=["community_score"]).reindex(idx)          # communities are the run's (frozen)
    return Features(v, f.evidence.reindex(idx), f.industry.reindex(idx))


def _activity(s: npt.NDArray[np.int64], r: npt.NDArray[np.int64], fen: npt.NDArray[np.int64],
              secs: npt.NDArray[np.int64], nodes: npt.NDArray[np.object_], tp: pd.DataFrame,
              index: pd.Index) -> pd.DataFrame:
    """:func:`algorithms.shell.activity` of the taxpayers of ``index`` only (equal rows) from the blue invoices as
    seller / buyer codes into ``nodes``: the sums of each over its own invoices as seller and as buyer, not over
    every counterparty of the frame (hubs bring ~100,000)."""
    mine = pd.Index(nodes).isin(index)
    f = pd.DataFrame({"seller": s, "buyer": r, "fen": fen, "t": secs})
    parts = []
    for side, other, pre in (("seller", "buyer", "out"), ("buyer", "seller", "in")):
        g = f[mine[f[side].to_numpy()]].groupby(side).agg(
            **{f"{pre}_fen": ("fen", "sum"), f"{pre}_n": ("fen", "size"), f"{pre}_partners": (other, "nunique"),
               f"{pre}_first": ("t", "min"), f"{pre}_last": ("t", "max")})
        parts.append(g.set_axis(pd.Index(nodes[g.index.to_numpy()], dtype=object)))
    return shell.finish_activity(parts[0].join(parts[1], how="outer"), tp, 0)


def score_rows(cal: Calibration, inv: pd.DataFrame, tp: pd.DataFrame, tax_ids: Sequence[str], *,
               end: float | None = None, old: pd.DataFrame | None = None) -> RiskResult:
    """Score ``tax_ids`` with the calibration frozen: their local features from ``inv`` (at least all of their
    invoices), the rest of each row from the run's (new taxpayers: what a taxpayer in no finding has), the run's
    evidence and model. ``end``: the data's end (epoch s; default the run's); ``old``: the run's rows of ``tax_ids``
    when already read (:meth:`Calibration.rows`)."""
    meta = cal.meta
    index = pd.Index(sorted(set(map(str, tax_ids))), dtype=object)
    local = local_features(inv, tp, index, w=float(meta["burst_window_days"]), origin=float(meta["origin_days"]),
                           end=float(meta["end_s"] if end is None else end))
    idx = local.values.index
    old = cal.rows(list(idx)) if old is None else old.reindex([t for t in idx if t in old.index])
    feature_cols = [c[2:] for c in old.columns if c.startswith("f:")] or \
        [str(c) for c in meta.get("feature_columns", [])]
    values = pd.DataFrame({c: _frozen(old, f"f:{c}", idx, _default(c, meta)) for c in feature_cols}, index=idx)
    for c in local.values.columns:
        if c in values.columns:
            values[c] = local.values[c].to_numpy()
    signals = [str(s) for s in meta["signals"]]
    ev = pd.DataFrame({s: _frozen(old, f"e:{s}", idx, "") for s in signals}, index=idx)
    for s in local.evidence.columns:
        if s in ev.columns:
            ev[s] = local.evidence[s].fillna("").to_numpy()
    feats = Features(values, ev, local.industry)
    findings = values[["findings_n", "findings_kinds", "findings_min_q"]] if "findings_n" in values else \
        pd.DataFrame({"findings_n": 0.0, "findings_kinds": 0.0, "findings_min_q": 1.0}, index=idx)
    found = [json.loads(x) for x in _frozen(old, "found", idx, "[]")]
    dyn = pd.DataFrame({"excess": _frozen(old, "d:excess", idx, 0.0), "p": _frozen(old, "d:p", idx, 1.0),
                        "q": _frozen(old, "d:q", idx, 1.0), "top": _frozen(old, "d:top", idx, "")}, index=idx)
    taxpayer_q = {c[2:]: pd.Series(_frozen(old, c, idx, np.nan), index=idx) for c in old.columns if c.startswith("q:")}
    rule_tests: dict[str, tuple[float, frozenset[str]]] = {}
    for rule, fdr in dict(meta.get("rule_fdr") or {}).items():
        if rule in LOCAL_SIGNALS:            # these rules' nulls test every hit: the hits of the new rows
            hit = values.get(f"{rule}_flag", pd.Series(0.0, index=idx)) > 0
        else:
            hit = pd.Series(_frozen(old, f"h:{rule}", idx, False), index=idx).astype(bool)
        rule_tests[str(rule)] = (float(fdr), frozenset(idx[hit.to_numpy()].astype(str)))
    evidence = Evidence(findings, found, dyn, dict(meta.get("unavailable") or {}), float(meta["fdr"]),
                        float(meta["fdr_medium"]), rule_tests, taxpayer_q=taxpayer_q,
                        taxpayer_fdr=None if meta.get("rule_test_fdr") is None else float(meta["rule_test_fdr"]))
    frozen: FrozenModel | npt.NDArray[np.float64]
    if cal.model is not None:
        frozen = cal.model
    else:
        frozen = np.asarray(_frozen(old, "m", idx, float(meta.get("m_default", 0.0))), dtype=np.float64)
    return score_taxpayers(feats, tier_medium=float(meta["tier_medium"]), tier_high=float(meta["tier_high"]),
                           evidence=evidence, frozen=frozen)


def _default(col: str, meta: dict[str, Any]) -> float:
    """A feature of a taxpayer the run did not have: no finding, no timing excess; signal extras unknown."""
    if col in ("findings_min_q", "dyn_null_q"):
        return 1.0
    sig = next((s for s in meta["signals"] if col.startswith(f"{s}_") and col != f"{s}_flag"), None)
    return float("nan") if sig is not None else 0.0


def _frozen(old: pd.DataFrame, col: str, idx: pd.Index, default: Any) -> list[Any]:
    if col not in old.columns:
        return [default] * len(idx)
    s = old[col].reindex(idx)
    if isinstance(default, str):
        return s.fillna(default).astype(str).tolist()
    if isinstance(default, bool):
        return s.fillna(default).astype(bool).tolist()
    missing = ~idx.isin(old.index)
    return s.where(~missing, default).tolist()


# ----------------------------------------------------------------------------------------------- the update


@dataclass(frozen=True)
class FastUpdate:
    """One fast update: its record id, the run it is based on, the affected taxpayers' provisional rows
    (``scores``: schema.SCORES columns), their tiers in that run, the newly high, alerts raised, seconds per step."""

    fast_id: str
    based_on: str
    scores: pa.Table
    previous: dict[str, str]
    newly_high: list[str]
    alerts_raised: int
    seconds: dict[str, float]

    def tiers(self) -> dict[str, str]:
        return dict(zip(self.scores.column("tax_id").to_pylist(), self.scores.column("tier").to_pylist(), strict=True))


def changed_taxpayers(store: Store, cal: Calibration) -> list[str]:
    """Taxpayers whose invoices differ from what the calibrated run read (new, voided, corrected invoices)."""
    from graph.embedded import EmbeddedStore

    if not isinstance(store, EmbeddedStore):
        return []
    now = store.taxpayer_digests().to_pandas().set_index("tax_id")
    then = cal.digests()
    diff = (then["n"].reindex(now.index, fill_value=-1).to_numpy() != now["n"].to_numpy()) | \
        (then["h"].reindex(now.index, fill_value=0).to_numpy(dtype=np.uint64) != now["h"].to_numpy(dtype=np.uint64))
    return [str(t) for t in now.index[diff]]


def batch_taxpayers(batch: pa.Table) -> list[str]:
    """The sellers and buyers of a batch of invoices."""
    return sorted({str(t) for c in ("seller_tax_id", "buyer_tax_id") for t in batch.column(c).to_pylist()})


def run(store: Store, tax_ids: Iterable[str] | None = None, *, actor: str = "system:fast_update",
        alerts: bool = True) -> FastUpdate | None:
    """The fast update after a batch: ``tax_ids`` the batch's sellers and buyers (:func:`batch_taxpayers`), or None
    to find the taxpayers whose invoices changed since the calibrated run (:func:`changed_taxpayers`). Stores a
    record of kind :data:`KIND` and raises ``new_high`` alerts for the affected taxpayers high now and not in the
    run. None when there is no calibration for the newest run (no exact run yet, Neo4j, another engine)."""
    from graph.embedded import EmbeddedStore

    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    cal = load(store)
    if cal is None or not isinstance(store, EmbeddedStore):
        return None
    affected = sorted(set(map(str, tax_ids))) if tax_ids is not None else changed_taxpayers(store, cal)
    seconds["affected"] = round(time.perf_counter() - t0, 3)
    t = time.perf_counter()
    inv = store.invoices_touching(affected, COLUMNS).to_pandas() if affected else None
    tp = store.taxpayers(affected).to_pandas()
    seconds["read"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    old = cal.rows(affected)
    if inv is None or not len(inv):
        empty = pa.table({"tax_id": pa.array([], pa.string()), "score": pa.array([], pa.float64()),
                          "tier": pa.array([], pa.string()), "reasons": pa.array([], pa.string()),
                          "features": pa.array([], pa.string())})
        scores = empty
    else:
        times = inv["issued_at"]
        end = max(float(cal.meta["end_s"]), float(pd.Timestamp(times.max()).timestamp()))
        scores = score_rows(cal, inv, tp, affected, end=end, old=old).scores
    seconds["score"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    ids = scores.column("tax_id").to_pylist()
    old = old.reindex([i for i in ids if i in old.index])
    previous = {str(k): str(v) for k, v in old["tier"].items()} if len(old) else {}
    rows = scores.to_pylist()
    newly = [r["tax_id"] for r in rows if r["tier"] == "high" and previous.get(r["tax_id"]) != "high"]
    from workbench import audit

    at = audit.now()
    fast_id = "fast-" + hashlib.sha256(f"{cal.run_id}|{at.isoformat()}|{len(ids)}".encode()).hexdigest()[:12]
    changed = [{"tax_id": r["tax_id"], "tier": r["tier"], "score": r["score"], "previous_tier": previous.get(r["tax_id"]),
                "reasons": json.loads(r["reasons"])} for r in rows if r["tier"] != previous.get(r["tax_id"])]
    record = {"fast_id": fast_id, "kind_zh": KIND_ZH, "provisional": True, "based_on": cal.run_id,
              "at": at.isoformat(), "affected": len(ids), "tiers": _count(r["tier"] for r in rows),
              "changed": changed, "newly_high": newly}
    audit.record(store, None, "fast_update", f"run:{cal.run_id}",
                 Note("fast_update_counts", {"affected": len(ids), "high": len(newly)}), actor=actor,
                 change=lambda w: w.put_record(KIND, fast_id, record))   # the record and its event: both or neither
    seconds["store"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    raised = _alert(store, cal.run_id, fast_id, [r for r in rows if r["tax_id"] in set(newly)], actor) \
        if alerts and newly else 0
    seconds["alerts"] = round(time.perf_counter() - t, 3)
    seconds["total"] = round(time.perf_counter() - t0, 3)
    return FastUpdate(fast_id, cal.run_id, scores, previous, newly, raised, seconds)


def _count(tiers: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in tiers:
        out[x] = out.get(x, 0) + 1
    return out


def _alert(store: Store, run_id: str, fast_id: str, rows: list[dict[str, Any]], actor: str) -> int:
    """``new_high`` alerts for the newly high rows of a fast update (one per taxpayer and calibrated run)."""
    from workbench.alerts import engine
    from workbench.alerts.inbox import context, raise_candidates

    ctx = context(store)
    if not ctx.rules["new_high"].enabled:
        return 0
    cands = [engine.Candidate(
        "new_high", f"{r['tax_id']}|{run_id}|fast", f"taxpayer:{r['tax_id']}",
        f"{engine._label('new_high')}（{KIND_ZH}）：{engine._name(store, r['tax_id'])}",
        f"风险分 {r['score']:.2f}（快速更新，按运行 {run_id} 的校准暂定，完整检测随后确认）{engine._reasons(r['reasons'])}",
        ctx.watchers((r["tax_id"],)),
        data={"tax_id": r["tax_id"], "run_id": None, "based_on": run_id, "fast_id": fast_id, "provisional": True,
              "score": round(float(r["score"]), 4)}) for r in rows]
    return len(raise_candidates(store, ctx, cands, actor=actor).alerts)


def alerted(store: Store, based_on: str) -> set[str]:
    """Taxpayers a fast update based on run ``based_on`` alerted as newly high (the exact run after it does not
    alert them again)."""
    out: set[str] = set()
    for r in store.records_page(KIND, {"based_on": based_on}):
        out.update(str(t) for t in r.get("newly_high") or ())
    return out

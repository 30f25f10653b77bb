"""Detection quality on several data sets, with peer baselines measured in the same run.

\b
    python benchmarks/quality.py --datasets amlsim,default,sparse      # the issue-13 table
    python benchmarks/quality.py --datasets default --taxpayers 5000 --invoices 50000 --no-peers
    python benchmarks/quality.py --truth DATA --findings FINDINGS       # score one existing run
    python benchmarks/quality.py --datasets amlsim --no-peers --no-supervised --misses   # what the missed fraud has

Per data set: the generator's ``default`` / ``sparse`` profile (generated with --taxpayers /
--invoices / --seed) or the public AMLSim set (``--amlsim-dir``; gunzipped into the work folder
when the loader cannot read .gz). Each is loaded with ``loaders.load.load_files`` into a fresh
embedded workspace, ``workbench.detect.run_detection`` runs (its seconds are the "s" column), and
the findings are scored against the truth (``algorithms.evaluation``):

* ring recall per planted kind (cycle, cycle along / against the invoice direction, fan_in, fan_out,
  scatter_gather) and ring precision over the found rings of those kinds, where rings are known;
* taxpayer precision / recall / F1 for medium+high and for high, the share of non-fraud taxpayers
  in high, and the ROC AUC of the score.

Rows per data set: our pipeline (unsupervised); plain bounded cycles of the static graph (flagged =
members of any cycle); snapml GraphFeaturePreprocessor features → IsolationForest (unsupervised) and
→ gradient boosting 5-fold (supervised); our pipeline supervised 5-fold when available.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# sklearn's OpenMP threads spin on a machine busier than its cores (a 5-fold fit took minutes instead of
# seconds under load 20 on 2 cores); one thread per model keeps the timings meaningful.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import click
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from truth_files import TruthTaxpayers, read_json_truth, read_truth, score_run  # noqa: E402

from algorithms.evaluation import (  # noqa: E402
    BinaryMetrics,
    FoundRing,
    PlantedRing,
    ring_metrics,
    taxpayer_metrics,
)

DATASETS = ("amlsim", "default", "sparse")
RING_KINDS = ("cycle", "fan_in", "fan_out", "scatter_gather", "fan_hub")
TARGETS = "targets: F1(m+h) >= 0.8, clean in high <= 2 %, cycle recall >= 0.9 at ring precision >= 0.5, " \
          "supervised 5-fold F1 >= 0.92"


def amlsim_default() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent, Path("/work")):
        cand = base / "shared" / "data" / "amlsim-20k"
        if (cand / "truth.json").is_file():
            return cand
    return ROOT.parent / "shared" / "data" / "amlsim-20k"


@dataclass
class Dataset:
    name: str
    invoices: Path
    taxpayers: Path
    planted: list[PlantedRing]
    truth: TruthTaxpayers
    notes: list[str] = field(default_factory=list)

    @property
    def fraud(self) -> dict[str, int]:
        return {t: f for t, (f, _) in self.truth.items()}


@dataclass
class Row:
    dataset: str
    method: str
    size: str
    rings: dict[str, float] = field(default_factory=dict)   # column -> value (recall / precision)
    mh: BinaryMetrics | None = None
    high: BinaryMetrics | None = None
    auc: float = float("nan")
    seconds: float = float("nan")
    note: str = ""
    f1: float | None = None      # supervised rows that report only an out-of-fold F1 (no confusion counts)


# -- data sets ---------------------------------------------------------------------------------------
def prepare_generated(work: Path, profile: str, taxpayers: int, invoices: int, seed: int) -> Dataset:
    import inspect

    from loaders.generate import generate

    out = work / profile
    kwargs: dict[str, Any] = {}
    if "profile" in inspect.signature(generate).parameters:
        kwargs["profile"] = profile
    elif profile != "default":
        raise click.ClickException(f"the generator has no profiles yet; cannot make {profile!r}")
    s = generate(out, taxpayers=taxpayers, invoices=invoices, seed=seed, **kwargs)
    planted, truth = read_truth(out / "truth")
    fmt = "parquet" if (out / "invoices.parquet").is_file() else "csv"
    return Dataset(profile, out / f"invoices.{fmt}", out / f"taxpayers.{fmt}", planted, truth,
                   [f"generated in {s.seconds:.1f}s (seed {seed})"])


def _readable(path: Path, work: Path) -> Path:
    """``path`` itself when the loader reads it, else a gunzipped copy in ``work``."""
    from graph.core.errors import ConfigError
    from loaders.read import detect_format

    try:
        detect_format(path)
        return path
    except ConfigError:
        if path.suffix != ".gz":
            raise
    out = work / path.stem
    with gzip.open(path, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def prepare_amlsim(work: Path, src: Path) -> Dataset:
    if not (src / "truth.json").is_file():
        raise click.ClickException(f"{src}: no truth.json (set --amlsim-dir)")
    work.mkdir(parents=True, exist_ok=True)
    inv = _readable(src / "invoices.csv.gz", work)
    tp = _readable(src / "taxpayers.csv.gz", work)
    planted, truth = read_json_truth(src / "truth.json", tp)
    return Dataset("amlsim", inv, tp, planted, truth, [f"from {src}" + (" (gunzipped)" if inv.parent == work else "")])


# -- runs ----------------------------------------------------------------------------------------------
def load(ds: Dataset, work: Path) -> tuple[Any, float]:
    from graph import open_store
    from loaders.load import load_files

    store = open_store(f"embedded:{work / ('ws-' + ds.name)}")
    t0 = time.perf_counter()
    rep = load_files(store, ds.invoices, taxpayers=ds.taxpayers, report_dir=work / f"load-{ds.name}")
    secs = time.perf_counter() - t0
    ds.notes.append(f"loaded {getattr(rep, 'loaded', '?'):,} invoices in {secs:.1f}s "
                    f"(rejected {getattr(rep, 'rejected', '?')})")
    return store, secs


def ring_columns(planted: Sequence[PlantedRing], found: Sequence[FoundRing]) -> dict[str, float]:
    """Recall per planted kind (cycles also per orientation) and precision over found rings of those kinds."""
    if not planted:
        return {}
    cols: dict[str, float] = {}
    kinds = [k for k in RING_KINDS if any(p.typology == k for p in planted)]
    for k in kinds:
        cols[f"{k} R"] = ring_metrics(k, planted, found).recall
        if k == "cycle":
            for o in ("along", "against"):
                sub = [p for p in planted if p.typology == "cycle" and p.orientation == o]
                if sub:
                    cols[f"cycle {o} R"] = ring_metrics("cycle", sub, found).recall
            cols["cycle P"] = ring_metrics("cycle", planted, found).precision
    found_n = correct = 0
    for k in kinds:
        m = ring_metrics(k, planted, found)
        found_n += m.found
        correct += m.found_correct
    cols["ring P"] = correct / found_n if found_n else float("nan")
    return cols


def auc(fraud: dict[str, int], score: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    y = pd.Series(fraud)
    s = score.reindex(y.index).fillna(float(score.min()) if len(score) else 0.0)
    if y.nunique() < 2:
        return float("nan")
    return float(roc_auc_score(y.to_numpy(), s.to_numpy()))


def variant_params(text: str) -> dict[str, Any]:
    """``KEY=VALUE[,KEY=VALUE]`` (field names of ``DetectionParams``, values as on the command line) → changes."""
    from algorithms.params import parse_value, specs

    fields = {f.name: (f, s) for f, s in specs()}
    out: dict[str, Any] = {}
    for pair in (p for p in text.split(",") if p.strip()):
        key, _, value = pair.partition("=")
        if key.strip() not in fields:
            raise click.BadParameter(f"unknown detection parameter {key.strip()!r}", param_hint="--variant")
        out[key.strip()] = parse_value(*fields[key.strip()], value)
    return out


def pipeline_row(ds: Dataset, store: Any, seed: int, size: str, variant: str = "") -> tuple[Row, Any]:
    from algorithms.params import DetectionParams
    from workbench.detect import run_detection

    t0 = time.perf_counter()
    result = run_detection(store, DetectionParams(seed=seed).replace(**variant_params(variant)))
    secs = time.perf_counter() - t0
    s = result.scores.to_pandas()
    tiers = dict(zip(s["tax_id"], s["tier"], strict=True))
    found = [FoundRing(r.ring_id, r.kind, frozenset(r.members), r.members[0] if r.members else "")
             for r in result.rings]
    fraud = ds.fraud
    kinds: dict[str, int] = {}
    for r in result.rings:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    row = Row(ds.name, "fapiao (unsupervised" + (f", {variant})" if variant else ")"), size,
              ring_columns(ds.planted, found),
              taxpayer_metrics(fraud, {t for t, v in tiers.items() if v in ("medium", "high")}),
              taxpayer_metrics(fraud, {t for t, v in tiers.items() if v == "high"}),
              auc(fraud, pd.Series(s["score"].to_numpy(), index=s["tax_id"])), secs,
              "rings found: " + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none")
              + _gated_note(s, fraud))
    return row, result


def _gated_note(scores: pd.DataFrame, fraud: dict[str, int]) -> str:
    """Taxpayers with a typology-rule hit that its per-taxpayer test did not find rare (a zero-point reason
    ending in 不计分, ``algorithms.risk``), and how many of them are fraudulent."""
    gated = [t for t, r in zip(scores["tax_id"], scores["reasons"], strict=True) if "不计分" in str(r)]
    if not gated:
        return ""
    return f"; rule hits without points (per-taxpayer test): {len(gated)} taxpayers, " \
           f"{sum(fraud.get(t, 0) for t in gated)} fraudulent"


def short_cycles(inv: pd.DataFrame) -> list[tuple[str, ...]]:
    """Every simple cycle of 2 or 3 taxpayers on the aggregated seller→buyer graph (no time, no amounts).

    Joins of the edge list (``algorithms.cycles.static_cycles`` walks networkx's generator, which on
    one big strongly connected component overran its time cap several-fold here).
    """
    blue = inv[inv["status"].isin(("normal", "red_offset")) & (inv["total_fen"] > 0)]
    e = blue[["seller_tax_id", "buyer_tax_id"]].drop_duplicates()
    e = e[e["seller_tax_id"] != e["buyer_tax_id"]]
    e.columns = pd.Index(["a", "b"])
    two = e.merge(e.rename(columns={"a": "b", "b": "a"}), on=["a", "b"])
    out: list[tuple[str, ...]] = [(a, b) for a, b in two.itertuples(index=False, name=None) if a < b]
    path = e.merge(e.rename(columns={"a": "b", "b": "c"}), on="b")
    path = path[(path["a"] < path["b"]) & (path["a"] < path["c"])]   # each loop once, from its smallest member
    tri = path.merge(e.rename(columns={"a": "c", "b": "a"}), on=["c", "a"])
    out += list(tri[["a", "b", "c"]].itertuples(index=False, name=None))
    return out


def static_row(ds: Dataset, inv: pd.DataFrame, size: str) -> Row:
    t0 = time.perf_counter()
    cycles = short_cycles(inv)
    secs = time.perf_counter() - t0
    rings = [FoundRing(f"s{i}", "cycle", frozenset(c), c[0]) for i, c in enumerate(cycles)]
    members = {m for c in cycles for m in c}
    cols = ring_columns([p for p in ds.planted if p.typology == "cycle"], rings)
    return Row(ds.name, "static cycles len<=3", size, cols, taxpayer_metrics(ds.fraud, members),
               None, float("nan"), secs, f"{len(rings):,} cycles; flagged = their members")


def _in_child(fn: Callable[..., Any], args: tuple[Any, ...], cap: float) -> tuple[Any, bool]:
    """``fn(*args)`` in a fresh (spawned) child killed after ``cap`` seconds; (result, finished).

    Spawned, not forked: a fork of this process (DuckDB, numba and OpenMP threads running) could inherit a
    lock held by another thread and wait on it forever. The result is read before the child is joined: a
    child exits only once the queue's pipe has taken its whole result (megabytes of features)."""
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    child = ctx.Process(target=_put_result, args=(q, fn, args), daemon=True)
    child.start()
    try:
        ok, result = q.get(timeout=cap)
    except queue.Empty:
        ok, result = False, None
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join()
    return (result if ok else None), bool(ok)


def _put_result(q: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        q.put((True, fn(*args)))
    except BaseException as e:          # the parent reports it as not finished
        q.put((False, repr(e)))
        raise


def peer_rows(ds: Dataset, inv: pd.DataFrame, size: str, seed: int, cap: float) -> list[Row]:
    try:
        import snapml  # noqa: F401
    except ImportError as e:
        return [Row(ds.name, "GFP peers", size, note=f"snapml not installed ({e}); peers skipped")]
    from gfp_baseline import cross_validated, gfp_features, isolation_forest

    got, done = _in_child(gfp_features, (inv, list(ds.truth)), cap)
    if not done:
        return [Row(ds.name, "GFP peers", size, seconds=cap,
                    note=f"GFP features did not finish within --peer-cap {cap:.0f}s on this machine")]
    feats, fsecs = got
    fraud = ds.fraud
    iso = isolation_forest(feats, seed)
    gbm = cross_validated(feats, pd.Series(fraud), seed)
    return [
        Row(ds.name, "GFP→IsolationForest", size, {}, taxpayer_metrics(fraud, iso.flagged), None,
            auc(fraud, iso.score), fsecs + iso.seconds, f"{feats.shape[1]} features in {fsecs:.1f}s"),
        Row(ds.name, "GFP→GBM 5-fold (supervised)", size, {}, taxpayer_metrics(fraud, gbm.flagged), None,
            auc(fraud, gbm.score), fsecs + gbm.seconds, gbm.note),
    ]


def our_supervised_row(ds: Dataset, store: Any, size: str, seed: int) -> Row:
    """Our pipeline with every truth label recorded as a disposition: its gradient-boosting model's
    out-of-fold (k ≤ 5) F1 and AUC as the run reports them (``cv_f1`` / ``cv_auc``)."""
    from workbench.detect import run_detection

    with store.writer() as w:
        for i, (tax_id, label) in enumerate(ds.fraud.items()):
            w.put_record("disposition", f"quality-{i}", {"tax_id": tax_id, "at": "2026-01-01T00:00:00+08:00",
                                                         "label": "confirmed" if label else "false_positive"})
    t0 = time.perf_counter()
    result = run_detection(store, seed=seed)
    secs = time.perf_counter() - t0
    params = result.run.params
    f1, auc_ = params.get("cv_f1"), params.get("cv_auc")
    if f1 is None:
        return Row(ds.name, "fapiao supervised 5-fold", size, seconds=secs,
                   note=f"n/a — the run used no supervised model ({params.get('model')})")
    conf = params.get("cv_confusion")                 # tp, fp, fn, tn out of fold at probability 0.5
    mh = BinaryMetrics(*(int(c) for c in conf)) if conf else None
    return Row(ds.name, "fapiao supervised 5-fold", size, {}, mh, None, float(auc_ or "nan"), secs,
               f"cv_f1 {float(f1):.3f}, cv_auc {float(auc_ or 'nan'):.3f} (out-of-fold, {params.get('labels_used')} labels)",
               f1=float(f1))


# -- table ---------------------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def _prf(m: BinaryMetrics | None, f1: float | None = None) -> str:
    if m is None:
        return "-" if f1 is None else f"- / - / {_f(f1)}"
    return f"{_f(m.precision)} / {_f(m.recall)} / {_f(m.f1)}"


def table(rows: Sequence[Row]) -> str:
    ring_cols: list[str] = []
    for r in rows:
        ring_cols += [c for c in r.rings if c not in ring_cols]
    head = ["data set", "size inv/tp", "method", *ring_cols, "P / R / F1 m+h", "P / R / F1 high",
            "clean in high", "AUC", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.dataset, r.size, r.method, *(_f(r.rings.get(c, float("nan"))) for c in ring_cols),
                 _prf(r.mh, r.f1), _prf(r.high), "-" if r.high is None else f"{100 * r.high.clean_share:.2f} %",
                 _f(r.auc, 3), _f(r.seconds, 1)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.dataset} / {r.method}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + [""] + notes)


def miss_table(ds: Dataset, inv: pd.DataFrame, result: Any) -> str:
    """The fraudulent taxpayers the unsupervised run left in low: which evidence they have, next to how many
    clean taxpayers left in low have it too (``algorithms.misses``)."""
    from algorithms.misses import PROPERTIES, miss_breakdown
    from workbench.detect import finding_q

    s = result.scores.to_pandas()
    flagged = set(s.loc[s["tier"].isin(("medium", "high")), "tax_id"].astype(str))
    members = {m for r in result.rings if (q := finding_q(r)) is not None and q <= result.run.params.get("fdr", 0.05)
               for m in r.members}
    t = miss_breakdown(inv, ds.fraud, flagged, members, typologies={k: v for k, (_, v) in ds.truth.items()})
    lines = [f"   missed fraudulent taxpayers ({ds.name}): property | missed fraud | clean in low"]
    lines += [f"     {name:<24} {int(a):>6} {int(b):>7}   {PROPERTIES.get(name, '')}"
              for name, (a, b) in zip(t.index, t.to_numpy().tolist(), strict=True)]
    return "\n".join(lines)


def run(names: Sequence[str], work: Path, taxpayers: int, invoices: int, seed: int, peers: bool,
        peer_cap: float, supervised: bool, amlsim_dir: Path, echo: Callable[[str], None],
        variants: Sequence[str] = (), misses: bool = False) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        echo(f"== {name}")
        ds = (prepare_amlsim(work / "amlsim", amlsim_dir) if name == "amlsim"
              else prepare_generated(work, name, taxpayers, invoices, seed))
        store, _ = load(ds, work)
        inv = store.invoice_stream()
        size = f"{inv.num_rows:,} / {len(ds.truth):,}"
        row, result = pipeline_row(ds, store, seed, size)
        rows.append(row)
        echo(f"   detection {row.seconds:.1f}s; {row.note}")
        if misses:
            echo(miss_table(ds, inv.to_pandas(), result))
        for v in variants:                    # the same data, other options: a before / after in one run
            rows.append(pipeline_row(ds, store, seed, size, v)[0])
            echo(f"   detection ({v}) {rows[-1].seconds:.1f}s; {rows[-1].note}")
        frame = inv.to_pandas()
        rows.append(static_row(ds, frame, size))
        echo(f"   static cycles {rows[-1].seconds:.1f}s; {rows[-1].note}")
        if peers:
            rows += peer_rows(ds, frame, size, seed, peer_cap)
            echo(f"   GFP peers {rows[-1].seconds:.1f}s")
        if supervised:
            rows.append(our_supervised_row(ds, store, size, seed))
            echo(f"   supervised pipeline {rows[-1].seconds:.1f}s; {rows[-1].note}")
        for n in ds.notes:
            echo(f"   {n}")
        echo(table([r for r in rows if r.dataset == name]))   # each data set's rows as soon as they exist
    return rows


@click.command(help=__doc__)
@click.option("--datasets", default="amlsim,default", show_default=True,
              help=f"Comma-separated, from {', '.join(DATASETS)}.")
@click.option("--taxpayers", default=20_000, show_default=True, help="Generated data sets: taxpayers.")
@click.option("--invoices", default=200_000, show_default=True, help="Generated data sets: invoices.")
@click.option("--seed", default=0, show_default=True)
@click.option("--amlsim-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with invoices.csv.gz, taxpayers.csv.gz and truth.json (default: shared/data/amlsim-20k).")
@click.option("--peers/--no-peers", default=True, show_default=True, help="snapml GFP baselines.")
@click.option("--supervised/--no-supervised", default=True, show_default=True,
              help="Re-run the pipeline with every truth label as a disposition (its 5-fold F1 / AUC).")
@click.option("--peer-cap", default=300.0, show_default=True, help="Seconds allowed for the GFP features per data set.")
@click.option("--variant", "variants", multiple=True, metavar="KEY=VALUE[,KEY=VALUE]",
              help="Also run the unsupervised pipeline with these DetectionParams changed (repeatable), e.g. "
                   "--variant rule_test_fdr=off: a before / after row on the same data in the same run.")
@click.option("--misses", is_flag=True,
              help="Per data set, which evidence the fraudulent taxpayers left in low have (trade with other fraud, "
                   "repeated relations, findings' members), next to the clean taxpayers left in low.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the generated data and workspaces here (default: a temporary folder).")
@click.option("--truth", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Score one existing run: generator output folder (or its truth/).")
@click.option("--findings", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Score one existing run: folder with rings.csv and taxpayer_scores.csv.")
def main(datasets: str, taxpayers: int, invoices: int, seed: int, amlsim_dir: Path | None, peers: bool, supervised: bool,
         peer_cap: float, variants: tuple[str, ...], misses: bool,
         work: Path | None, truth: Path | None, findings: Path | None) -> None:
    if truth or findings:
        if not (truth and findings):
            raise click.UsageError("--truth and --findings go together")
        click.echo(score_run(truth, findings).table())
        return
    names = [n.strip() for n in datasets.split(",") if n.strip()]
    bad = [n for n in names if n not in DATASETS]
    if bad:
        raise click.UsageError(f"unknown data set(s) {', '.join(bad)}; choose from {', '.join(DATASETS)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fapiao-quality-") as tmp:
        folder = work or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for v in variants:
            variant_params(v)                 # a typo fails now, not after the first data set
        rows = run(names, folder, taxpayers, invoices, seed, peers, peer_cap, supervised, amlsim_dir or amlsim_default(),
                   click.echo, variants, misses)
    click.echo("")
    click.echo(table(rows))
    click.echo(f"\n{TARGETS}; clean = every non-fraud taxpayer (decoys included); whole run "
               f"{time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()

"""``fapiao detect``: run every detector over the store and save the findings as one run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from algorithms.params import DetectionParams, Spec, check_value, is_int, parse_value, specs
from graph.core.errors import ConfigError
from workbench.cli.acting import acting_user, as_option
from workbench.cli.options import echo_json, json_option, store_option


class _ParamType(click.ParamType[Any]):
    """One DetectionParams field on the command line: its bounds, and 'off' where None is allowed."""

    def __init__(self, f: dataclasses.Field[Any], spec: Spec) -> None:
        self.field, self.spec = f, spec
        self.name = "INTEGER" if is_int(f) else "NUMBER"
        if spec.off:
            self.name += "|off"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            v = value if value is None or isinstance(value, int | float) else \
                parse_value(self.field, self.spec, str(value))
            check_value(self.field, self.spec, v)
        except ConfigError as e:
            self.fail(str(e), param, ctx)
        return v


def params_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One click option per :class:`algorithms.params.DetectionParams` field (flag, default and help from it)."""
    for f, s in reversed(specs()):
        default = "off" if f.default is None else f.default
        fn = click.option(s.flag, f.name, type=_ParamType(f, s), default=default, show_default=True,
                          help=s.help)(fn)
    return fn


@click.command("detect")
@store_option()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write rings.csv and taxpayer_scores.csv into this folder.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress per stage.")
@click.option("--engine", type=click.Choice(["in-process", "spark"]), default="in-process", show_default=True,
              help="Where the temporal cycle search runs (for the data and its shuffled copies): in this "
                   "process, or on Apache Spark, partitioned by time window x strongly connected component. "
                   "Both give the same rings, scores and tiers (docs/spark.md). "
                   "spark needs: pip install 'fapiao-workbench[spark]' and Java 17+.")
@click.option("--spark-master", default="local[2]", show_default=True, metavar="URL",
              help="Spark master for --engine spark: local[N] (N cores here), spark://HOST:7077, yarn, k8s://...")
@click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE", callback=lambda c, p, v: _conf(v),
              help="Extra Spark setting for --engine spark, repeatable "
                   "(e.g. --spark-conf spark.executor.memory=8g).")
@click.option("--input", "source", default=None, metavar="PATH|TABLE",
              help="With --engine spark: read the invoices from this Parquet dataset (a folder, month-partitioned "
                   "folders such as month=2024-01/ allowed; hdfs:// or s3a:// URLs too) or Spark catalog table "
                   "(db.invoices) instead of the store. Every row is checked with the rules of `fapiao load`; "
                   "rejected rows go to quarantine.parquet with their reasons (see --report-dir). The rows are "
                   "not copied into the store; the findings are.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --input: where quarantine.parquet / quarantine.csv, warnings.csv and report.json go "
                   "(default: loads/<timestamp>/ in the workspace, as for `fapiao load`).")
@click.option("--findings-out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the findings as Parquet into DIR/<run id>/: rings.parquet, ring_members.parquet, "
                   "taxpayer_scores.parquet (tiers and reasons) and run.json. Written into a hidden folder and "
                   "renamed only once the run has finished: a failed run leaves no folder named after a run.")
@as_option("run_detection")
@click.option("--incremental/--full", default=True, show_default=True,
              help="In process on an embedded workspace: search for loops again only in the time windows whose "
                   "invoices changed since the previous run (the workspace's cache/loops/; same findings), or "
                   "search everything.")
@click.option("--fast", is_flag=True,
              help="First a fast update (快速更新): provisional tiers and new-high alerts, within seconds, for the "
                   "taxpayers whose invoices changed since the last run, with that run's calibration frozen "
                   "(embedded workspace, in process); then the exact run, which supersedes it.")
@json_option()
@params_options
def detect(store_uri: str | None, out_dir: Path | None, progress: bool, engine: str, spark_master: str,
           spark_conf: dict[str, str], source: str | None, report_dir: Path | None, findings_out: Path | None,
           as_user: str | None, incremental: bool, fast: bool, as_json: bool, **options: Any) -> None:
    """Find fake-invoicing rings and score every taxpayer into low / medium / high risk.

    \b
    Stages: temporal cycles (time-ordered loops A→B→…→A inside --window days),
    shared identifiers, typology detectors (shell, fan-in/fan-out hub, near-limit 顶额,
    item mismatch, void/red ratios, Benford, outliers, bursts, duplicates), Leiden
    communities, and the risk model (explainable points + IsolationForest, or gradient
    boosting once investigators have recorded confirmed / false-positive dispositions).

    The run id is derived from the data and the options: re-running on unchanged data
    replaces that run's findings. Loops found in time windows whose invoices did
    not change are read back from the workspace (--full searches everything;
    the findings are the same). Afterwards the alert rules are evaluated (new high-risk
    taxpayers, new rings on watched taxpayers or open cases ...; see `fapiao alerts`). See docs/detection.md for every signal, option and threshold.

    \b
    The run is recorded in the audit trail as `detect`, by the OS login
    (cli:<login>) or by the --as user. With --as the run is that user's, as in
    the workbench: recorded dispositions train the model only when the user may
    train_model (a supervisor; an admin's run scores without them).

    \b
    --engine spark runs the temporal cycle search on Apache Spark: invoices are
    copied into overlapping time windows (so no loop crossing a window edge is
    lost), split by strongly connected component, and each part is searched by
    the same kernel as in process; the other stages run here. The findings are
    stored as one run exactly as in process (same run id on the same data); a
    failed Spark job stores nothing. See docs/spark.md.

    \b
    --input PATH|TABLE reads the invoices from a Parquet dataset or a Spark
    catalog table instead of the store (they are not copied into it). Every
    row is checked with the rules of `fapiao load`; rejected rows are counted
    and written to quarantine.parquet with their reasons, never dropped
    silently; a missing required column stops the command, naming it.

    \b
    Examples:
      fapiao detect --out findings
      fapiao detect --as carol          (audited as user carol: supervisor or admin)
      fapiao detect --window 60 --max-len 6 --store embedded:workspace
      fapiao detect --engine spark
      fapiao detect --engine spark --spark-master spark://spark-master:7077 \\
          --spark-conf spark.executor.memory=8g
      fapiao detect --engine spark --input /data/invoices/      (month=2024-01/ … folders)
      fapiao detect --engine spark --input tax_dw.invoices --report-dir checks/ \\
          --findings-out /data/findings/
    """
    from rich.console import Console
    from rich.table import Table

    from graph import open_store
    from workbench import alerts, audit
    from workbench.detect import run_detection, write_outputs
    from workbench.findings_parquet import check_out_dir, write_findings

    if source is not None and engine != "spark":
        raise click.UsageError("--input needs --engine spark (the in-process engine reads the store)")
    params = DetectionParams(**options)
    console = Console(stderr=True)
    input_report: dict[str, Any] = {}
    fast_info: dict[str, Any] | None = None
    if findings_out is not None:
        check_out_dir(findings_out)
    with open_store(store_uri) as store:
        user = acting_user(store, as_user, "run_detection")
        actor = audit.cli_actor() if user is None else user.username
        who: dict[str, Any] = {"audit_as": audit.cli_actor()} if user is None else {"user": user}
        if source is None and store.counts().invoices == 0:
            raise ConfigError(f"the store {store.uri} holds no invoices: load some first (fapiao load FILE)")
        if engine == "spark":
            from workbench.spark_engine.run import spark_detection

            def on_input(rows: Any) -> None:
                r = rows.report
                input_report.update(read=r.read, used=r.loaded, rejected=r.rejected,
                                    skipped_identical=r.skipped_identical, warnings=r.warnings,
                                    quarantine=r.quarantine_path, report=r.report_path,
                                    seconds=round(rows.seconds, 3))
                console.print(f"input {source}: read {r.read:,}, used {r.loaded:,}, rejected {r.rejected:,}, "
                              f"skipped as identical {r.skipped_identical:,}, warnings {r.warnings:,}"
                              + (f"; quarantine: {r.quarantine_path.removesuffix('.csv')}.parquet"
                                 if r.quarantine_path else "") + f"; report: {r.report_path}; {rows.seconds:.1f} s")

            result, busiest = spark_detection(store, params, master=spark_master, conf=spark_conf,
                                              source=source, report_dir=report_dir, on_input=on_input,
                                              progress=progress, **who)
            if busiest and not as_json:
                console.print(busiest)
        else:
            if fast:
                from workbench import fast_update

                up = fast_update.run(store, actor=actor)
                fast_info = None if up is None else {
                    "fast_id": up.fast_id, "based_on": up.based_on, "affected": up.scores.num_rows,
                    "newly_high": up.newly_high, "alerts": up.alerts_raised, "seconds": up.seconds["total"]}
                if not as_json:
                    console.print("快速更新：无上次完整检测的校准，跳过 (no calibration of the last run: skipped)"
                                  if up is None else
                                  f"快速更新（暂定）{up.fast_id}：{up.scores.num_rows:,} 户受影响，新增高风险 "
                                  f"{len(up.newly_high)} 户，提醒 {up.alerts_raised} 条，{up.seconds['total']:.2f} 秒；"
                                  f"基于运行 {up.based_on}，完整检测随后确认")
            from algorithms.kernel_cache import compile_note

            if note := compile_note():   # on stderr, as the stage table: --json output stays one document
                console.print(note)
            result = run_detection(store, params, progress=progress, incremental=incremental, **who)
        raised = alerts.evaluate(store, actor=actor)
    table = Table(title=f"run {result.run.run_id}", show_edge=False)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, secs in result.run.stage_seconds.items():
        table.add_row(stage, f"{secs:.2f}")
    table.add_row("[bold]total", f"[bold]{sum(result.run.stage_seconds.values()):.2f}")
    console.print(table)
    kinds: dict[str, int] = {}
    for r in result.rings:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    tiers = result.tier_counts()
    model = result.run.params.get("model")
    auc = result.run.params.get("cv_auc")
    if out_dir is not None:
        write_outputs(result, out_dir)
    written = write_findings(result, findings_out) if findings_out is not None else None
    if as_json:
        echo_json({"run_id": result.run.run_id, "rings": len(result.rings), "ring_kinds": dict(sorted(kinds.items())),
                   "tiers": tiers, "model": model, "cv_auc": auc, "cv_f1": result.run.params.get("cv_f1"),
                   "cv_confusion": result.run.params.get("cv_confusion"),
                   "stage_seconds": result.run.stage_seconds, "alerts": raised.by_rule(),
                   **({"input": input_report} if input_report else {}),
                   **({"fast_update": fast_info} if fast else {}),
                   **({"findings_out": str(written)} if written else {}),
                   "outputs": [str(out_dir / f) for f in ("rings.csv", "taxpayer_scores.csv")] if out_dir else []})
        return
    click.echo(f"run {result.run.run_id}: {len(result.rings)} rings "
               f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items())) or 'none'}); "
               f"taxpayers high {tiers['high']}, medium {tiers['medium']}, low {tiers['low']}; "
               f"model {model}" + (f" (cross-validated AUC {auc:.3f}, {_cv_prf(result.run.params)})"
                                   if auc is not None else ""))
    if out_dir is not None:
        click.echo(f"wrote {out_dir / 'rings.csv'} and {out_dir / 'taxpayer_scores.csv'}")
    if written is not None:
        click.echo(f"findings as Parquet: {written}")
    if raised.alerts:
        click.echo(f"alerts raised: {len(raised.alerts)} "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(raised.by_rule().items()))}); "
                   "deliver e-mail and webhooks with: fapiao alerts run")


def _conf(pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` options → a dict; a pair without ``=`` is a usage error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--spark-conf")
        out[key.strip()] = value.strip()
    return out


def _cv_prf(params: dict[str, Any]) -> str:
    """Out-of-fold precision, recall and F1 at probability 0.5 of the supervised model, in words."""
    conf = params.get("cv_confusion")
    f1 = f"F1 {float(params.get('cv_f1') or 0):.3f}"
    if not conf:
        return f1
    tp, fp, fn, _ = (int(c) for c in conf)
    return f"precision {tp / max(1, tp + fp):.3f}, recall {tp / max(1, tp + fn):.3f}, {f1} at probability 0.5"

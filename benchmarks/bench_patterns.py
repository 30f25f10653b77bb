"""Temporal pattern detectors (``algorithms.patterns``): per-detector reach and speed on any data set.

\b
    python benchmarks/bench_patterns.py DATA [DATA ...]        # generator output folders or AMLSim-style folders
    python benchmarks/bench_patterns.py --copies 10 --fdr 0.05 /work/shared/data/amlsim-20k /tmp/gen0

For each folder (``invoices.parquet|csv|csv.gz`` in the interchange format, truth in ``truth/taxpayers.csv``
(``fraud`` column) or ``truth.json`` (``fraud_taxpayers``)) it runs :func:`algorithms.patterns.detect_patterns`
and prints per detector: findings, taxpayers flagged, the share of fraudulent taxpayers flagged, clean
taxpayers flagged, and seconds; plus, where the generator planted patterns (``truth/rings.csv``), how
many planted rings of each typology have their anchor or most members flagged. A second run on a copy
with its issue times shuffled within months (no pattern left in time) is the null check: it should flag
≈ nothing at the chosen FDR.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.patterns import KINDS, PatternParams, detect_patterns  # noqa: E402


def read_invoices(folder: Path) -> pd.DataFrame:
    """The interchange-format invoices of ``folder`` as the pipeline's columns (fen, tz-aware times)."""
    for name in ("invoices.parquet", "invoices.csv", "invoices.csv.gz"):
        path = folder / name
        if path.exists():
            raw = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path, dtype=str)
            break
    else:
        raise FileNotFoundError(f"no invoices.parquet / invoices.csv(.gz) in {folder}")
    t = pd.to_datetime(raw["issue_date"], format="ISO8601")
    t = t.dt.tz_localize("Asia/Shanghai") if t.dt.tz is None else t.dt.tz_convert("Asia/Shanghai")
    code = raw["invoice_code"].fillna("") if "invoice_code" in raw else ""
    return pd.DataFrame({
        "key": (code + "-" + raw["invoice_number"].astype(str)).str.lstrip("-"),
        "seller_tax_id": raw["seller_tax_id"].astype(str), "buyer_tax_id": raw["buyer_tax_id"].astype(str),
        "issued_at": t, "total_fen": (pd.to_numeric(raw["total_amount"]) * 100).round().astype(np.int64),
        "status": raw["status"].fillna("normal") if "status" in raw else "normal",
    })


def read_truth(folder: Path) -> tuple[set[str], set[str], pd.DataFrame]:
    """(fraud tax ids, every tax id known, planted rings or an empty frame)."""
    if (folder / "truth.json").exists():
        t = json.loads((folder / "truth.json").read_text())
        tp = pd.read_csv(folder / "taxpayers.csv.gz", dtype=str)
        return set(t["fraud_taxpayers"]), set(tp["tax_id"]), pd.DataFrame(columns=["typology", "members"])
    tp = pd.read_csv(folder / "truth" / "taxpayers.csv", dtype={"tax_id": str})
    rings = pd.read_csv(folder / "truth" / "rings.csv", dtype=str)
    return set(tp.loc[tp["fraud"] == 1, "tax_id"]), set(tp["tax_id"]), rings


def report(name: str, inv: pd.DataFrame, fraud: set[str], everyone: set[str], rings: pd.DataFrame,
           params: PatternParams, seed: int) -> list[str]:
    started = time.perf_counter()
    res = detect_patterns(inv, params, seed=seed)
    total = time.perf_counter() - started
    clean = everyone - fraud
    lines = [f"## {name}: {len(inv):,} invoices, {len(everyone):,} taxpayers ({len(fraud):,} fraudulent); "
             f"windows {res.windows_days} days; {total:.1f} s (null copies {res.seconds.get('null_copies', 0):.1f} s)",
             f"{'kind':16}{'tested':>8}{'found':>7}{'flagged':>9}{'fraud%':>8}{'clean':>7}{'prec':>7}{'s':>7}"]
    union: set[str] = set()
    for kind in KINDS:
        ps = res.of_kind(kind)
        flagged = {m for p in ps for m in p.members}
        union |= flagged
        f = len(flagged & fraud)
        c = len(flagged & clean)
        lines.append(f"{kind:16}{res.tested.get(kind, 0):>8}{len(ps):>7}{len(flagged):>9}"
                     f"{f / max(len(fraud), 1) * 100:>7.1f}%{c:>7}{f / max(f + c, 1):>7.2f}{res.seconds.get(kind, 0):>7.1f}")
        if kind in res.silent:
            lines[-1] += f"  silent: {res.silent[kind]}"
    f = len(union & fraud)
    lines.append(f"{'any':16}{'':>8}{len(res.patterns):>7}{len(union):>9}{f / max(len(fraud), 1) * 100:>7.1f}%"
                 f"{len(union & clean):>7}{f / max(len(union), 1):>7.2f}")
    for typ, g in rings.groupby("typology") if len(rings) else []:
        hit = 0
        for members in g["members"]:
            ms = set(str(members).split(";"))
            found = [p for p in res.patterns if len(ms & set(p.members)) >= max(1, 0.8 * len(ms))]
            hit += bool(found)
        lines.append(f"  planted {typ:22} {hit}/{len(g)} with ≥ 80 % of members in one finding")
    return lines


@click.command()
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--copies", default=PatternParams().null_copies, show_default=True, help="null copies per model")
@click.option("--fdr", default=PatternParams().fdr, show_default=True, help="false discovery rate")
@click.option("--seed", default=0, show_default=True)
@click.option("--null-check/--no-null-check", default=True, show_default=True,
              help="also run on a copy with times shuffled within months (should find ≈ nothing)")
def main(folders: tuple[Path, ...], copies: int, fdr: float, seed: int, null_check: bool) -> None:
    from algorithms.significance import shuffle_times

    params = PatternParams(null_copies=copies, fdr=fdr)
    for folder in folders:
        inv = read_invoices(folder)
        fraud, everyone, rings = read_truth(folder)
        everyone |= set(inv["seller_tax_id"]) | set(inv["buyer_tax_id"])
        click.echo("\n".join(report(folder.name, inv, fraud, everyone, rings, params, seed)))
        if null_check:
            shuffled = shuffle_times(inv, rng=np.random.default_rng(seed + 1000))
            click.echo("\n".join(report(folder.name + " (times shuffled within months)", shuffled, fraud, everyone,
                                        pd.DataFrame(columns=["typology", "members"]), params, seed)))
        click.echo("")


if __name__ == "__main__":
    main()

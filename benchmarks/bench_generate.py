"""Generator speed, output size and peak memory at several sizes (each size in its own process).

\b
    python benchmarks/bench_generate.py                       # 100k and 1M invoices, parquet
    python benchmarks/bench_generate.py --sizes 10000000 --format csv

Taxpayers = invoices / 10. Rows/s is compared with the smallest size measured in the same run
(the machine may be shared: ratios matter, not absolute times).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from loaders.generate import generate
t = time.perf_counter()
s = generate(Path({out!r}), taxpayers={tp}, invoices={inv}, seed=0, noise=0.0, fmt={fmt!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "bytes": s.bytes,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


@click.command(help=__doc__)
@click.option("--sizes", default="100000,1000000", show_default=True, help="Comma-separated invoice counts.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
def main(sizes: str, fmt: str) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="fapiao-bench-gen-") as tmp:
        for n in (int(x) for x in sizes.split(",")):
            out = Path(tmp) / str(n)
            code = _CHILD.format(root=str(ROOT), out=str(out), tp=max(n // 10, 50), inv=n, fmt=fmt)
            res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
            m = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append((n, max(n // 10, 50), m["seconds"], m["bytes"], m["rss_mb"]))
            subprocess.run(["rm", "-rf", str(out)], check=True)
    base = rows[0][0] / rows[0][2]
    click.echo(f"{'invoices':>12}{'taxpayers':>11}{'seconds':>9}{'rows/s':>11}{'vs first':>9}"
               f"{'output MB':>11}{'peak RSS MB':>13}   format={fmt}")
    for n, tp, sec, size, rss in rows:
        click.echo(f"{n:>12,}{tp:>11,}{sec:>9.1f}{n / sec:>11,.0f}{n / sec / base:>9.2f}"
                   f"{size / 1e6:>11.1f}{rss:>13.0f}")


if __name__ == "__main__":
    main()

"""``fapiao report``: the period report (HTML or PDF) for supervisors and analysts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from workbench.cli.cases import _sign_in, _store
from workbench.cli.options import store_option

_DAY = click.DateTime(["%Y-%m-%d"])


@click.command("report")
@click.option("--from", "first", type=_DAY, required=True, help="First day of the period (YYYY-MM-DD, Beijing time).")
@click.option("--to", "last", type=_DAY, required=True, help="Last day of the period, included (YYYY-MM-DD).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write; .html or .pdf picks the format [default: report-FROM-TO.html].")
@click.option("--user", "username", required=True, help="Your workbench user; needs the supervisor or analyst role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@store_option()
def report(first: datetime, last: datetime, out: Path | None, username: str, password_stdin: bool,
           store_uri: str | None) -> None:
    """Write the period report (期间报告) for the days from --from to --to, as HTML or PDF.

    Risk tiers at the end of the period and their change since the previous period of the same length,
    the top rings, cases opened and closed, and alerts raised. Chinese, Beijing time, amounts in 元;
    charts as images. The report is audited.

    A PDF is the HTML printed by headless Chromium (Debian: apt-get install chromium fonts-noto-cjk;
    FAPIAO_CHROMIUM names another executable). Prints the path of the file written.

    \b
    Examples:
      fapiao report --from 2026-11-01 --to 2026-11-30 --user sue
      echo "$PW" | fapiao report --from 2026-11-01 --to 2026-11-30 --out 2026-11.pdf --user sue --password-stdin
    """
    from workbench.report import make
    from workbench.report.figures import Period

    period = Period(first.date(), last.date())
    path = out or Path(f"report-{period.first}-{period.last}.html")
    fmt = {".html": "html", ".htm": "html", ".pdf": "pdf"}.get(path.suffix.lower())
    if fmt is None:
        raise click.BadParameter(f"{path.name}: the file must end in .html or .pdf", param_hint="--out")
    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        _, data = make(store, user, period, fmt)
    path.write_bytes(data)
    click.echo(str(path))

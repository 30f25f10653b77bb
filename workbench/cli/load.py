"""``fapiao load`` and ``fapiao check-invoice``: bring invoice files into the store; self-check one invoice."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from graph.core.errors import ConfigError, InvalidData
from workbench.cli.acting import acting_user, as_option
from workbench.cli.options import echo_json, json_option, store_option

CHECK_FIELDS = (
    ("number", "invoice_number", "发票号码 (8 or 20 digits)"),
    ("code", "invoice_code", "发票代码 (10/12 digits; omit for 数电)"),
    ("date", "issue_date", "开票日期, e.g. 2024-01-05"),
    ("seller", "seller_tax_id", "销方税号"),
    ("seller-name", "seller_name", "销方名称"),
    ("buyer", "buyer_tax_id", "购方税号"),
    ("buyer-name", "buyer_name", "购方名称"),
    ("amount", "amount", "金额 (pre-tax, yuan)"),
    ("tax", "tax_amount", "税额 (yuan, or *** when exempt)"),
    ("total", "total_amount", "价税合计 (yuan)"),
    ("rate", "tax_rate", "税率: 13%, 0.13 or 13"),
    ("status", "status", "发票状态 (normal / void / red ...)"),
    ("type", "invoice_type", "发票类型 (专票 / 普票 / 数电专票 ...)"),
    ("red-ref", "red_ref", "红字发票对应蓝字发票 (CODE-NUMBER or 20-digit number)"),
    ("item-code", "item_code", "商品编码"),
    ("item-name", "item_name", "商品名称"),
)


@click.command("load")
@click.argument("invoices", type=click.Path(path_type=Path))
@click.option("--taxpayers", type=click.Path(path_type=Path, dir_okay=False),
              help="Taxpayers file (tax id, name, limit, identifiers); inferred from invoices when absent.")
@click.option("--mapping", type=click.Path(path_type=Path, dir_okay=False),
              help="Column mapping file: a JSON object or 'source: target' lines.")
@click.option("--map", "map_pairs", multiple=True, metavar="SRC=DST",
              help="Map one source header to a column, e.g. --map 票号=invoice_number (repeatable).")
@click.option("--encoding", help="Text encoding of CSV/JSON files (default: detected; e.g. gbk, gb18030, utf-8).")
@click.option("--sheet", help="Excel sheet name (default: every sheet that holds invoices).")
@store_option()
@click.option("--report-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the quarantine and report go (default: <workspace>/loads/<timestamp>/).")
@click.option("--dry-run", is_flag=True, help="Validate and write the report, but load nothing.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar (on stderr).")
@click.option("--quiet", is_flag=True, hidden=True, help="Same as --no-progress (kept for existing scripts).")
@as_option("import_data")
def load(invoices: Path, taxpayers: Path | None, mapping: Path | None, map_pairs: tuple[str, ...],
         encoding: str | None, sheet: str | None, store_uri: str | None, report_dir: Path | None,
         dry_run: bool, progress: bool, quiet: bool, as_user: str | None) -> None:
    """Load invoices into the store: a table (CSV, Excel, JSON, JSON Lines, Parquet; also .gz), e-invoice
    files (数电 XML, OFD, PDF; scans by OCR with the 'ocr' extra), or a folder or .zip of any of them.

    \b
    Every row is either loaded, rejected into quarantine.csv with its original values and the reasons,
    or skipped because the store already holds the identical invoice (re-loading is safe).
    Rows loaded with a warning (e.g. a credit-code check character) are listed in warnings.csv.
    Chinese headers (发票号码, 开票日期, 销方税号, 金额 ...) are recognised; map others with --map.

    \b
    Examples:
      fapiao load invoices.csv --taxpayers taxpayers.csv
      fapiao load 发票.xlsx --sheet 2024 --map 票号=invoice_number
      fapiao load export.csv --encoding gbk --report-dir loads/today
      fapiao load 收到的发票/            (a folder of XML / OFD / PDF e-invoices)
      fapiao load 全量发票查询.zip
      fapiao load invoices.csv --as alice      (audited as user alice; she needs the admin role)

    The load is recorded in the audit trail (`fapiao audit show`) as `load` (or `import_failed`), by the
    OS login (cli:<login>) or by the --as user.

    Exit status: 0 when the load completed (even with rejected rows), 1 on a fatal error.
    """
    from workbench.cli import in_console_process

    if in_console_process():      # run in-process (tests, Python callers), pandas must stay importable
        from loaders.lean import lean_load_process

        lean_load_process()   # this process only loads: no pandas (~0.5 CPU-s of start-up)
    if encoding is None and invoices.suffix.lower() in (".csv", ".tsv", ".txt"):
        from loaders.utf8scan import scan_early

        scan_early(invoices)   # the CSV pre-scan on the other core while the loader and the store are imported
    from graph import open_store
    from loaders.load import load_files

    if encoding:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError as e:
            raise ConfigError(f"unknown encoding {encoding!r}; try utf-8, gbk or gb18030") from e
    from workbench import audit
    from workbench.imports import load_audited  # not workbench.watch: it imports the alerts (mail, HTTP)

    options: dict[str, Any] = {"taxpayers": taxpayers, "mapping": mapping, "encoding": encoding, "sheet": sheet,
                               "report_dir": report_dir, "map_pairs": map_pairs,
                               "progress": progress and not quiet and sys.stderr.isatty()}
    if dry_run:
        if as_user is not None:
            raise click.UsageError("--as has no effect with --dry-run: nothing is written or audited")
        report = load_files(None, invoices, **options)
    else:
        with open_store(store_uri) as store:
            user = acting_user(store, as_user, "import_data")
            report = load_audited(store, invoices, actor=audit.cli_actor(), user=user, **options)
    click.echo(report.table())
    from workbench.cli import exit_when_done

    exit_when_done()   # store and files closed: `fapiao load` ends without the interpreter's teardown


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option("--mapping", type=click.Path(path_type=Path, dir_okay=False), help="Column mapping file (as for load).")
@click.option("--map", "map_pairs", multiple=True, metavar="SRC=DST", help="Map one header (as for load).")
@click.option("--encoding", help="Text encoding of CSV/JSON files (default: detected).")
@click.option("--sheet", help="Excel sheet name (default: every sheet that holds invoices).")
@click.option("--rows", default=5, show_default=True, help="How many rows to show.")
def inspect(path: Path, mapping: Path | None, map_pairs: tuple[str, ...], encoding: str | None, sheet: str | None,
            rows: int) -> None:
    """Show what `fapiao load PATH` would read, before anything is written.

    \b
    The header row found (and the title / total rows skipped), the column mapping chosen, and the first
    rows as they would load, with the rules each breaks. Works on tables, e-invoice files, folders, zips.

    \b
    Examples:
      fapiao inspect 全量发票查询.xlsx
      fapiao inspect export.csv --map 票号=invoice_number --rows 10
    """
    from loaders.preview import inspect_file

    click.echo(inspect_file(path, mapping=mapping, map_pairs=map_pairs, encoding=encoding, sheet=sheet, rows=rows))


def _read_json_fields(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"cannot read {source}: {e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidData(f"--from {source}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise InvalidData(f"--from {source}: expected one JSON object with interchange column names")
    return data


def _check_options(f: Any) -> Any:
    for flag, _column, help_text in reversed(CHECK_FIELDS):
        f = click.option(f"--{flag}", help=help_text)(f)
    return f


@click.command("check-invoice")
@_check_options
@click.option("--from", "json_source", metavar="FILE|-",
              help="Read the invoice from a JSON object with interchange column names (- for stdin).")
@store_option("Also check for a conflicting duplicate / red original in this store.")
@json_option()
def check_invoice(json_source: str | None, store_uri: str | None, as_json: bool, **flags: str | None) -> None:
    """Self-check (自查) one invoice against every loader rule and print each problem in words.

    \b
    Examples:
      fapiao check-invoice --number 00000001 --code 3100181130 --date 2024-01-05 \\
          --seller 91350200776049653A --buyer 91440101MA5CJQ4N59 --amount 1000 --tax 130 --total 1130 --rate 13%
      echo '{"invoice_number": "24312000000000000001", ...}' | fapiao check-invoice --from - --json

    Exit status: 0 when there is no error (warnings allowed), 1 otherwise.
    """
    from loaders.rules import check_invoice as check

    fields: dict[str, Any] = _read_json_fields(json_source) if json_source else {}
    for flag, column, _ in CHECK_FIELDS:
        value = flags.get(flag.replace("-", "_"))
        if value is not None:
            fields[column] = value
    if not fields:
        raise ConfigError("give the invoice as flags (--number --date --seller ...) or --from FILE; see --help")
    fields.setdefault("seller_name", fields.get("seller_tax_id", ""))
    fields.setdefault("buyer_name", fields.get("buyer_tax_id", ""))
    store = None
    if store_uri:
        from graph import open_store

        store = open_store(store_uri)
    try:
        problems = check(fields, store=store)
    finally:
        if store is not None:
            store.close()
    if as_json:
        echo_json({"ok": not any(p.severity == "error" for p in problems),
                   "problems": [{"severity": p.severity, "rule": p.rule, "message": p.message} for p in problems]})
    elif not problems:
        click.secho("OK: no problems found / 未发现问题", fg="green")
    else:
        for p in problems:
            click.secho(f"{p.severity:7} {p.rule:22} {p.message}", fg="red" if p.severity == "error" else "yellow")
    if any(p.severity == "error" for p in problems):
        sys.exit(1)

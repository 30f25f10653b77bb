"""Column mapping: source headers (English interchange names, common Chinese headers, user maps) → canonical names."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from graph.core.errors import ConfigError
from loaders.headers import norm_header

#: Canonical invoice columns (DESIGN.md "Interchange format"), in order.
INVOICE_COLUMNS = (
    "invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
    "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate", "invoice_type", "status", "red_ref",
    "item_code", "item_name", "quantity", "unit_price",
)
INVOICE_REQUIRED = (
    "invoice_number", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id", "buyer_name",
    "amount", "tax_amount", "total_amount", "tax_rate",
)
TAXPAYER_COLUMNS = (
    "tax_id", "name", "registered_on", "industry", "region", "invoice_limit", "status",
    "legal_rep", "phone", "address", "bank_account",
)
TAXPAYER_REQUIRED = ("tax_id", "name")

INVOICE_ALIASES: dict[str, tuple[str, ...]] = {
    "invoice_number": ("发票号码", "号码", "票号", "数电票号码", "数电发票号码", "全电发票号码", "invoice_no", "number"),
    "invoice_code": ("发票代码", "代码", "code"),
    "issue_date": ("开票日期", "开票时间", "日期", "invoice_date", "issued_at", "date"),
    "seller_tax_id": ("销方识别号", "销售方纳税人识别号", "销方税号", "销售方识别号", "销售方税号",
                      "销方纳税人识别号", "seller_id"),
    "seller_name": ("销方名称", "销售方名称", "销售方", "seller"),
    "buyer_tax_id": ("购方识别号", "购买方纳税人识别号", "购方税号", "购买方识别号", "购买方税号",
                     "购方纳税人识别号", "buyer_id"),
    "buyer_name": ("购方名称", "购买方名称", "购买方", "buyer"),
    "amount": ("金额", "不含税金额", "合计金额", "amount_yuan"),
    "tax_amount": ("税额", "合计税额", "tax"),
    "total_amount": ("价税合计", "价税合计金额", "total"),
    "tax_rate": ("税率", "征收率", "税率/征收率", "rate"),
    "invoice_type": ("发票类型", "发票种类", "发票票种", "票种", "type", "kind"),
    "status": ("发票状态", "状态"),
    "red_ref": ("红字发票对应蓝字发票号码", "对应蓝字发票号码", "蓝字发票号码", "原发票号码", "红冲原发票号码"),
    "item_code": ("商品编码", "税收分类编码", "商品和服务税收分类编码"),
    "item_name": ("货物或应税劳务名称", "货物或应税劳务、服务名称", "商品名称", "项目名称"),
    "quantity": ("数量",),
    "unit_price": ("单价",),
}
#: Columns of an item sheet (明细): the invoice's code + number, then the line's fields (loaders.items).
ITEM_COLUMNS = ("invoice_number", "invoice_code", "item_name", "item_code", "spec", "unit", "quantity", "unit_price",
                "amount", "tax_rate", "tax_amount")
ITEM_REQUIRED = ("invoice_number", "item_name")
ITEM_ALIASES: dict[str, tuple[str, ...]] = {
    **{c: INVOICE_ALIASES[c] for c in ITEM_COLUMNS if c in INVOICE_ALIASES},
    "spec": ("规格型号", "规格", "型号"),
    "unit": ("单位", "计量单位"),
}
TAXPAYER_ALIASES: dict[str, tuple[str, ...]] = {
    "tax_id": ("纳税人识别号", "统一社会信用代码", "税号", "识别号"),
    "name": ("纳税人名称", "企业名称", "名称"),
    "registered_on": ("登记日期", "成立日期", "注册日期"),
    "industry": ("行业",),
    "region": ("地区", "所属地区", "区域"),
    "invoice_limit": ("最高开票限额", "开票限额", "限额"),
    "status": ("纳税人状态", "状态"),
    "legal_rep": ("法定代表人", "法人", "法人代表"),
    "phone": ("电话", "联系电话", "手机"),
    "address": ("地址", "注册地址", "经营地址"),
    "bank_account": ("银行账号", "开户行及账号", "账号"),
}

#: A second invoice-number column (an export with both 发票号码 and 数电票号码) is mapped to this name;
#: the loader takes it where 发票号码 is empty or the row has no code (see :func:`coalesce_number`).
ALT_NUMBER = "invoice_number@alt"
#: An export's 备注 column; a red-letter invoice's remark names its blue original there, which the loader takes
#: as ``red_ref`` when the export has no column for it (see :func:`loaders.load.red_ref_from_remarks`).
REMARKS = "red_ref@remarks"
_REMARK_HEADERS = {"备注", "发票备注", "备注信息", "remarks", "remark"}


def _norm(header: str) -> str:
    """Compare headers ignoring case, width, spaces, line breaks, underscores, dashes, a BOM and unit
    suffixes such as (小写) (元) (see :func:`loaders.headers.norm_header`)."""
    return norm_header(header)



_REMARK_NORMS = {_norm(h) for h in _REMARK_HEADERS}

def known_headers() -> set[str]:
    """Every normalised header any table kind recognises (to find the header row of an export)."""
    return set(_alias_table("invoices")[2]) | set(_alias_table("taxpayers")[2])


def _alias_table(kind: str) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    cols: tuple[str, ...]
    required: tuple[str, ...]
    if kind == "invoices":
        cols, required, aliases = INVOICE_COLUMNS, INVOICE_REQUIRED, INVOICE_ALIASES
    elif kind == "taxpayers":
        cols, required, aliases = TAXPAYER_COLUMNS, TAXPAYER_REQUIRED, TAXPAYER_ALIASES
    elif kind == "items":
        cols, required, aliases = ITEM_COLUMNS, ITEM_REQUIRED, ITEM_ALIASES
    else:
        raise ConfigError(f"unknown table kind {kind!r}: use invoices, taxpayers or items")
    table = {_norm(c): c for c in cols}
    for canonical, names in aliases.items():
        for name in names:
            table.setdefault(_norm(name), canonical)
    return cols, required, table


def load_mapping(source: Path | Mapping[str, str] | None, pairs: Sequence[str] = ()) -> dict[str, str]:
    """Read a user mapping ``{source header: canonical name}``.

    Parameters
    ----------
    source
        A JSON object file, a ``source: target`` / ``source=target`` line file, a dict, or None.
    pairs
        Extra ``SRC=DST`` strings (the CLI's ``--map``); they win over the file.
    """
    out: dict[str, str] = {}
    if isinstance(source, Mapping):
        out.update({str(k): str(v) for k, v in source.items()})
    elif source is not None:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read mapping file {path}: {e}") from e
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"mapping file {path} is not valid JSON: {e}") from e
            if not isinstance(data, dict):
                raise ConfigError(f"mapping file {path} must hold one JSON object {{\"source\": \"target\"}}")
            out.update({str(k): str(v) for k, v in data.items()})
        else:
            for n, line in enumerate(text.splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                sep = ":" if ":" in line else "="
                if sep not in line:
                    raise ConfigError(f"{path}:{n}: expected 'source: target', got {line!r}")
                src, dst = (p.strip().strip("\"'") for p in line.split(sep, 1))
                out[src] = dst
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--map {pair!r}: expected SRC=DST, e.g. --map 票号=invoice_number")
        src, dst = pair.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


def resolve_columns(columns: Sequence[str], kind: str, mapping: Mapping[str, str] | None = None,
                    *, source: str = "") -> dict[str, str]:
    """Map source headers to canonical names for ``kind`` ("invoices", "taxpayers" or "items").

    Returns ``{source header: canonical name}`` for every recognised header (unknown headers are kept
    out). Raises :class:`ConfigError` naming each missing required column, the columns found, and how
    to map one.
    """
    cols, required, table = _alias_table(kind)
    user = dict(mapping or {})
    for target in user.values():
        if target not in cols:
            raise ConfigError(f"mapping target {target!r} is not a {kind} column; use one of: {', '.join(cols)}")
    result: dict[str, str] = {}
    taken: set[str] = set()
    user_norm = {_norm(k): v for k, v in user.items()}
    for col in columns:  # user mapping first (exact header, then as normalised), then built-in names
        wanted = user[col] if col in user else user_norm.get(_norm(col))
        if wanted is not None:
            result[col] = wanted
            taken.add(wanted)
    for col in columns:
        if col in result:
            continue
        canonical = table.get(_norm(col))
        if canonical and canonical not in taken:
            result[col] = canonical
            taken.add(canonical)
        elif canonical == "invoice_number" and kind in ("invoices", "items") and ALT_NUMBER not in taken:
            result[col] = ALT_NUMBER
            taken.add(ALT_NUMBER)
        elif canonical is None and kind == "invoices" and REMARKS not in taken and _norm(col) in _REMARK_NORMS:
            result[col] = REMARKS
            taken.add(REMARKS)
    missing = [c for c in required if c not in taken]
    if missing:
        found = ", ".join(repr(c) for c in columns[:20]) or "(none)"
        if len(columns) > 20:
            found += f" and {len(columns) - 20:,} more"
        where = f" in {Path(source).name}" if source else ""
        example = f"--map 'YOUR HEADER={missing[0]}'"
        raise ConfigError(
            f"missing required {kind} column(s) {', '.join(missing)}{where}; columns found: {found}; "
            f"map one with {example} or a --mapping file"
        )
    return result

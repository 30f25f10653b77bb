"""Column schemas of the tables that cross package boundaries (loaders → store → algorithms).

Every bulk table is a ``pyarrow.Table`` with exactly these columns (extra columns are ignored by
writers). Money is integer fen; times are timezone-aware (``FAPIAO_TIMEZONE`` for naive input).
The invoice key is ``number`` for 数电 invoices (no code) and ``code-number`` otherwise, so a 12-digit
code + 8-digit number can never collide with a 20-digit 数电 number: see :func:`invoice_key`.
"""

from __future__ import annotations

import pyarrow as pa

#: the one time zone of stored and shown times (Cypher statements get it as ``$tz``)
TZ = "Asia/Shanghai"
TIMESTAMP = pa.timestamp("s", tz=TZ)

#: One row per invoice (header level), as loaders produce it and writers accept it.
INVOICES = pa.schema([
    ("key", pa.string()),            # natural key, see invoice_key()
    ("number", pa.string()),         # 8 or 20 digits
    ("code", pa.string()),           # 10/12 digits, "" for 数电
    ("issued_at", TIMESTAMP),
    ("seller_tax_id", pa.string()),
    ("seller_name", pa.string()),
    ("buyer_tax_id", pa.string()),
    ("buyer_name", pa.string()),
    ("amount_fen", pa.int64()),      # pre-tax; negative for red-letter invoices
    ("tax_fen", pa.int64()),
    ("total_fen", pa.int64()),
    ("rate", pa.float64()),          # 0.13, 0.06, 0.015 ...; 0 for exempt
    ("kind", pa.string()),           # special (专票) | ordinary (普票) | digital_special | digital_ordinary
    ("status", pa.string()),         # normal | void | red | red_offset | out_of_control | abnormal
    ("red_ref", pa.string()),        # key of the blue original, for red-letter invoices; null otherwise
    ("item_code", pa.string()),      # nullable
    ("item_name", pa.string()),      # nullable
])

#: One row per item line (明细) of an invoice, keyed by (key, line). Written only for loaded invoices; a re-load
#: of an invoice replaces its lines. ``unit_price`` stays the text printed (元; 数电 prices carry up to 15
#: decimals, which fen would round); the line's money is integer fen like the invoice's.
ITEM_LINES = pa.schema([
    ("key", pa.string()),            # the invoice's key (invoice_key())
    ("line", pa.int32()),            # 1, 2, ... in the order the invoice lists them
    ("item_name", pa.string()),      # 项目名称 / 货物或应税劳务名称
    ("item_code", pa.string()),      # 税收分类编码, nullable
    ("spec", pa.string()),           # 规格型号, nullable
    ("unit", pa.string()),           # 单位, nullable
    ("quantity", pa.float64()),      # 数量, nullable
    ("unit_price", pa.string()),     # 单价 as printed (元), nullable
    ("amount_fen", pa.int64()),      # 金额 (pre-tax), nullable when unreadable
    ("rate", pa.float64()),          # 税率 0.13 ..., nullable
    ("tax_fen", pa.int64()),         # 税额, nullable
])

#: One row per taxpayer. Identifier columns are split into IDENTIFIERS by the writer.
TAXPAYERS = pa.schema([
    ("tax_id", pa.string()),
    ("name", pa.string()),
    ("registered_on", pa.date32()),  # nullable
    ("industry", pa.string()),       # nullable
    ("region", pa.string()),         # nullable (6-digit region code or name)
    ("invoice_limit_fen", pa.int64()),  # 最高开票限额, nullable
    ("status", pa.string()),         # normal | abnormal | deregistered | absconded ... nullable
])

#: (:Taxpayer)-[:HAS]->(:Identifier {kind, value})
IDENTIFIERS = pa.schema([
    ("tax_id", pa.string()),
    ("kind", pa.string()),           # a key of graph.core.vocab.IDENTIFIER_KINDS
    ("value", pa.string()),
])

#: Aggregated issuer→buyer edges for a window (Store.edge_table).
EDGES = pa.schema([
    ("seller_tax_id", pa.string()),
    ("buyer_tax_id", pa.string()),
    ("count", pa.int64()),
    ("total_fen", pa.int64()),       # sum of total_fen
    ("first_at", TIMESTAMP),
    ("last_at", TIMESTAMP),
])

#: Per-taxpayer risk output (Writer.findings / Store.scores). ``reasons`` is a JSON list of strings.
SCORES = pa.schema([
    ("tax_id", pa.string()),
    ("score", pa.float64()),         # 0..1
    ("tier", pa.string()),           # low | medium | high
    ("reasons", pa.string()),        # JSON array of plain-language reasons, most important first
    ("features", pa.string()),       # JSON object of the feature values behind the score
])

#: Store.invoice_months: invoices per calendar month of their local issue time, oldest month first.
INVOICE_MONTHS = pa.schema([
    ("month", pa.string()),          # "YYYY-MM" in TZ
    ("count", pa.int64()),
    ("total_fen", pa.int64()),
])

#: Store.scores_page: a run's scores with the taxpayer's name, industry and region (null when not registered).
SCORED_TAXPAYERS = pa.schema([
    *SCORES,
    ("name", pa.string()),
    ("industry", pa.string()),
    ("region", pa.string()),
])


def invoice_key(code: str | None, number: str) -> str:
    """The natural key of an invoice: ``number`` when there is no code (数电), else ``code-number``."""
    return f"{code}-{number}" if code else number


def empty(schema: pa.Schema) -> pa.Table:
    """An empty table with ``schema``."""
    return schema.empty_table()


#: Columns named with this prefix on a batch of invoice rows carry a store's own per-row codes, computed ahead of
#: its transaction by the store that reads them (the embedded store's key and party hashes,
#: :meth:`graph.embedded.EmbeddedStore.row_codes`); the loader passes them through untouched, :func:`conform`
#: drops them.
STORE_CODE_PREFIX = "__store_"


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema`` (missing nullable columns become nulls)."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)

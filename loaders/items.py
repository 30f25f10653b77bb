"""Item lines (明细) → :data:`graph.core.schema.ITEM_LINES`.

Two inputs carry them: e-invoice files (数电 XML, OFD, PDF, OCR: the reader's item dicts, kept in the
``items`` column of the e-invoice rows) and a bureau export's item sheet (a sheet named …明细…, one row per
line, joined to the file's invoices by invoice code + number). Lines are written only for invoices this load
keeps (loaded, or already stored identically); a sheet line whose invoice is not in the file, or was
rejected, goes to ``item_quarantine.csv`` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema
from loaders import normalize as nz
from loaders.einvoice import ITEM_FIELDS

BoolArray = nz.BoolArray

#: rules of item lines (``item_quarantine.csv``); the fields' own problems use the invoice rules' ids
LINE_RULES: dict[str, tuple[str, str]] = {
    "line_invoice_missing": ("明细行对应的发票不在本文件中", "the line's invoice is not in this file"),
    "line_invoice_rejected": ("明细行对应的发票被拒收（见 quarantine.csv）", "the line's invoice was rejected (see "
                              "quarantine.csv)"),
    "bad_value": ("明细行的数值无法解析", "a number of the line cannot be parsed"),
}
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def reason(rule: str, fld: str = "") -> str:
    """One line problem in words, Chinese first."""
    zh, en = LINE_RULES[rule]
    return f"{fld}: {zh} / {en}" if fld else f"{zh} / {en}"


def parse_lines(keys: pa.Array, lines: pa.Array, text: Mapping[str, pa.Array]) -> tuple[pa.Table, list[tuple[str,
                                                                                                      BoolArray]]]:
    """Text item fields (:data:`loaders.einvoice.ITEM_FIELDS`, missing ones blank) → ITEM_LINES rows, and per
    field the rows whose non-blank value cannot be read (that value is stored as null)."""
    n = len(keys)
    empty = pa.array([""] * n, pa.string())

    def col(name: str) -> pa.Array:
        return nz.clean(text[name]) if name in text else empty

    def opt(name: str) -> pa.Array:
        c = col(name)
        return pc.if_else(pa.array(nz.blank(c)), pa.nulls(n, pa.string()), c)

    problems: list[tuple[str, BoolArray]] = []
    out: dict[str, pa.Array] = {}
    for src, dst in (("amount", "amount_fen"), ("tax_amount", "tax_fen")):
        c = col(src)
        given = ~nz.blank(c)
        fen, ok, _ = nz.parse_fen(c)
        problems.append((src, given & ~ok))
        out[dst] = pa.array(fen, pa.int64(), mask=~(given & ok))
    c = col("tax_rate")
    given = ~nz.blank(c)
    rate, ok, _ = nz.parse_rate(pc.replace_substring(c, "％", "%"))
    problems.append(("tax_rate", given & ~ok))
    out["rate"] = pa.array(rate / 10000.0, pa.float64(), mask=~(given & ok))
    qty_text = pc.replace_substring(col("quantity"), ",", "")
    given = ~nz.blank(qty_text)
    ok = nz.np_bool(pc.match_substring_regex(qty_text, _NUMBER))
    problems.append(("quantity", given & ~ok))
    qty = pc.if_else(pa.array(ok), qty_text, "0").cast(pa.float64())
    out["quantity"] = pc.if_else(pa.array(given & ok), qty, pa.nulls(n, pa.float64()))
    table = pa.table({
        "key": keys, "line": lines.cast(pa.int32()), "item_name": col("item_name"), "item_code": opt("item_code"),
        "spec": opt("spec"), "unit": opt("unit"), "quantity": out["quantity"], "unit_price": opt("unit_price"),
        "amount_fen": out["amount_fen"], "rate": out["rate"], "tax_fen": out["tax_fen"],
    })
    return table.cast(schema.ITEM_LINES), [(f, m) for f, m in problems if m.any()]


def from_documents(keys: pa.Array, items: pa.Array) -> pa.Table:
    """The item lines of e-invoice rows: ``items`` holds each row's JSON list of item dicts (as read from the
    file), ``keys`` the row's invoice key. A value the line cannot carry is stored as null."""
    k: list[str] = []
    n: list[int] = []
    cols: dict[str, list[str]] = {f: [] for f in ITEM_FIELDS}
    for key, text in zip(keys.to_pylist(), items.to_pylist(), strict=True):
        for i, item in enumerate(json.loads(text or "[]"), 1):
            k.append(key)
            n.append(i)
            for f in ITEM_FIELDS:
                cols[f].append(str(item.get(f) or ""))
    table, _ = parse_lines(pa.array(k, pa.string()), pa.array(n, pa.int32()),
                           {f: pa.array(v, pa.string()) for f, v in cols.items()})
    return table


def sheet_keys(code: pa.Array, number: pa.Array) -> pa.Array:
    """Invoice keys of item-sheet rows (as the validator makes them: ``CODE-NUMBER``, or ``NUMBER``)."""
    code, number = nz.clean(code, unicode=False), nz.clean(number, unicode=False)
    return pc.if_else(pa.array(nz.blank(code)), number, pc.binary_join_element_wise(code, number, "-"))


def line_numbers(keys: pa.Array) -> pa.Array:
    """1, 2, ... per key in the order the rows come (a sheet lists an invoice's lines in order)."""
    seen: dict[str, int] = {}
    out = []
    for k in keys.to_pylist():
        seen[k] = seen.get(k, 0) + 1
        out.append(seen[k])
    return pa.array(out, pa.int32())


@dataclass
class Outcomes:
    """Invoice keys this load kept (loaded, or already stored identically) and every key it read, for sheet lines."""

    kept: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)

    def add(self, keys: pa.Array, kept_rows: np.ndarray) -> None:
        self.seen.update(k for k in keys.to_pylist() if k)
        self.kept.update(k for k in keys.take(pa.array(kept_rows, pa.int64())).to_pylist() if k)

    def verdict(self, keys: pa.Array) -> tuple[BoolArray, BoolArray]:
        """(kept, in the file but rejected) per line key."""
        kept = nz.np_bool(pc.is_in(keys, value_set=pa.array(sorted(self.kept), pa.string())))
        seen = nz.np_bool(pc.is_in(keys, value_set=pa.array(sorted(self.seen), pa.string())))
        return kept, seen & ~kept

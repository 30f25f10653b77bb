"""Turn the generator's interchange files into store tables (schema.INVOICES / TAXPAYERS / IDENTIFIERS).

A small stand-in for the loader, used by the detection tests and benchmarks so they measure detection,
not loading. Amounts in yuan → integer fen through decimals (never floats).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.core import schema, vocab
from graph.embedded import EmbeddedStore


def _fen(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.multiply(pc.cast(arr, pa.decimal128(20, 2)), pa.scalar(100, pa.decimal128(5, 0))), pa.int64())


def tables_from_generated(folder: Path) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(invoices, taxpayers, identifiers) from ``folder/invoices.parquet`` and ``taxpayers.parquet``."""
    inv = pq.read_table(folder / "invoices.parquet")
    code = pc.fill_null(inv["invoice_code"], "")
    key = pc.if_else(pc.equal(code, ""), inv["invoice_number"],
                     pc.binary_join_element_wise(code, inv["invoice_number"], "-"))
    issued = pc.cast(pc.strptime(inv["issue_date"], "%Y-%m-%dT%H:%M:%S%z", "s"), schema.TIMESTAMP)
    red_ref = inv["red_ref"]
    invoices = pa.table({
        "key": key, "number": inv["invoice_number"], "code": code, "issued_at": issued,
        "seller_tax_id": inv["seller_tax_id"], "seller_name": inv["seller_name"],
        "buyer_tax_id": inv["buyer_tax_id"], "buyer_name": inv["buyer_name"],
        "amount_fen": _fen(inv["amount"]), "tax_fen": _fen(inv["tax_amount"]), "total_fen": _fen(inv["total_amount"]),
        "rate": pc.cast(inv["tax_rate"], pa.float64()), "kind": inv["invoice_type"], "status": inv["status"],
        "red_ref": red_ref, "item_code": inv["item_code"], "item_name": inv["item_name"],
    })
    tp = pq.read_table(folder / "taxpayers.parquet")
    taxpayers = pa.table({
        "tax_id": tp["tax_id"], "name": tp["name"],
        "registered_on": pc.cast(pc.strptime(tp["registered_on"], "%Y-%m-%d", "s"), pa.date32()),
        "industry": tp["industry"], "region": tp["region"], "invoice_limit_fen": _fen(tp["invoice_limit"]),
        "status": tp["status"],
    })
    parts = []
    for kind in vocab.IDENTIFIER_KINDS:
        if kind in tp.column_names:
            parts.append(pa.table({"tax_id": tp["tax_id"], "kind": pa.array([kind] * tp.num_rows, pa.string()),
                                   "value": tp[kind]}).filter(pc.is_valid(tp[kind])))
    identifiers = pa.concat_tables(parts) if parts else schema.empty(schema.IDENTIFIERS)
    return schema.conform(invoices, schema.INVOICES), schema.conform(taxpayers, schema.TAXPAYERS), identifiers


def small_generated(out: Path) -> Path:
    """400 taxpayers, 6,000 invoices and four planted cycle rings (seed 5) written to ``out``: the detection tests' data."""
    from loaders.generate import generate

    generate(out, taxpayers=400, invoices=6_000, seed=5, rings={"cycle": 4})
    return out


def store_from_generated(folder: Path, ws: Path) -> EmbeddedStore:
    """An embedded store at ``ws`` holding the generated tables of ``folder``."""
    inv, tp, ids = tables_from_generated(folder)
    store = EmbeddedStore(ws)
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
        w.invoices(inv)
    return store

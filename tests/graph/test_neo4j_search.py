"""Search on a real Neo4j takes two paths (search.cypher): a rare fragment from the text index, a fragment found in
2,000 names or more from the name range index read in order. Both must give the contract's order."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from graph.core import schema
from graph.neo4j_store import Neo4jStore

pytestmark = pytest.mark.neo4j


def test_broad_and_rare_fragments_in_name_order(neo4j_uri: str) -> None:
    rng = random.Random(3)
    words = ["贸易", "科技", "建材", "物流", "咨询"]
    rows = [{"tax_id": f"91320000MA{n:08d}", "name": f"{rng.choice(['南京', '苏州', '无锡'])}{n % 97}"
             f"{rng.choice(words)}有限公司"} for n in range(2600)]
    rows.append({"tax_id": "91320000MA00000001X", "name": "独一无二的名字"})
    table = pa.Table.from_pylist([{**r, "registered_on": None, "industry": None, "region": None,
                                   "invoice_limit_fen": None, "status": None} for r in rows], schema=schema.TAXPAYERS)
    store = Neo4jStore(neo4j_uri)
    try:
        store.clear()
        with store.writer() as w:
            w.taxpayers(table)
        for text in ("有限公司", "苏州", "贸易有", "独一无二", "不存在"):  # ≥ 2,000 matches, fewer, one, none
            expected = sorted((r["name"], r["tax_id"]) for r in rows if text in r["name"])[:20]
            assert [(t.name, t.tax_id) for t in store.search(text, limit=20)] == expected, text
        assert sum("有限公司" in r["name"] for r in rows) >= 2000
        exact = store.search("91320000MA00000001")
        assert exact[0].tax_id == "91320000MA00000001" and len(exact) == 2  # the exact id first, then its prefix
    finally:
        store.clear()
        store.close()

"""The bulk import (graph.neo4j_import + neo4j-admin's importer on the local launcher) builds exactly the graph the
Cypher load builds: same nodes, relationships and properties (raw dump), and the same answers through the Store
contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import neo4j
import pyarrow as pa
import pytest

from graph import local_neo4j
from graph.core import schema, vocab
from graph.core.errors import StoreError
from graph.neo4j_import import import_local, write_import_csv
from graph.neo4j_store import Neo4jStore

pytestmark = pytest.mark.neo4j

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 10, tzinfo=TZ)


def tid(n: int) -> str:
    return f"91110000MA0{n:07d}"


def invoice(n: int, seller: int, buyer: int, day: float, total: int, *, code: str = "", red_ref: str | None = None,
            name: str | None = None, item: str | None = "钢材") -> dict[str, Any]:
    number = f"{n:08d}" if code else f"{n:020d}"
    amount = round(total / 1.13)
    return {"key": schema.invoice_key(code, number), "number": number, "code": code,
            "issued_at": T0 + timedelta(days=day, seconds=n), "seller_tax_id": tid(seller),
            "seller_name": name if name is not None else f"卖方{seller}有限公司", "buyer_tax_id": tid(buyer),
            "buyer_name": f"买方{buyer}“引号”, 逗号", "amount_fen": amount, "tax_fen": total - amount,
            "total_fen": total, "rate": 0.13 if n % 3 else 0.06, "kind": "special" if code else "digital_special",
            "status": "red" if red_ref else "normal", "red_ref": red_ref, "item_code": "1080" if item else None,
            "item_name": item}


def data() -> tuple[pa.Table, pa.Table]:
    rows = [invoice(n, n % 7 + 1, (n * 3) % 7 + 2, n / 3, 10_000 + n * 997, code="3100232130" if n % 4 == 0 else "")
            for n in range(1, 120)]
    blue = rows[5]
    rows.append(invoice(500, 6, 7, 50, -blue["total_fen"], red_ref=blue["key"]))           # red → stored blue
    rows.append(invoice(501, 2, 3, 51, -1000, red_ref="99999999999999999999"))            # red → unknown blue
    rows.append(invoice(502, 1, 2, 52, 5000, item=None, name=""))                          # empty name, no item
    rows.append({**rows[10], "total_fen": rows[10]["total_fen"] + 100, "tax_fen": rows[10]["tax_fen"] + 100})  # same key: last wins
    taxpayers = pa.Table.from_pylist([
        {"tax_id": tid(2), "name": "北京乙科技有限公司", "registered_on": date(2020, 1, 2), "industry": "软件业",
         "region": "110108", "invoice_limit_fen": 1_000_000_00, "status": "normal", "legal_rep": "王五",
         "phone": "13900000000", "address": None, "bank_account": "6222"},
        {"tax_id": tid(3), "name": None, "registered_on": None, "industry": None, "region": None,
         "invoice_limit_fen": None, "status": "abnormal", "legal_rep": "王五", "phone": "", "address": "北京",
         "bank_account": None},
        {"tax_id": tid(99), "name": "没有发票的公司", "registered_on": date(2023, 6, 1), "industry": None, "region": None,
         "invoice_limit_fen": None, "status": None, "legal_rep": None, "phone": None, "address": None,
         "bank_account": None},
    ], schema=pa.schema([*schema.TAXPAYERS, *(pa.field(k, pa.string()) for k in vocab.IDENTIFIER_KINDS)]))
    return taxpayers, pa.Table.from_pylist(rows, schema=schema.INVOICES)


def identifier_rows(taxpayers: pa.Table) -> pa.Table:
    parts = [pa.table({"tax_id": taxpayers["tax_id"], "kind": pa.array([k] * taxpayers.num_rows, pa.string()),
                       "value": taxpayers[k]}) for k in vocab.IDENTIFIER_KINDS]
    return pa.concat_tables(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, neo4j.time.DateTime):
        return (value.iso_format(), str(value.tzinfo))
    if isinstance(value, neo4j.time.Date):
        return value.iso_format()
    return value


def dump(uri: str) -> tuple[list[Any], list[Any]]:
    """Every node (labels, properties) and relationship (type, end keys, properties), sorted."""
    key = "coalesce(n.tax_id, n.key, n.kind + '|' + n.value)"
    with neo4j.GraphDatabase.driver(uri) as driver, driver.session() as s:
        nodes = sorted((tuple(sorted(r["labels"])), sorted((k, _plain(v)) for k, v in r["props"].items()))
                       for r in s.run("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"))
        rels = sorted((r["t"], r["a"], r["b"], sorted((k, _plain(v)) for k, v in r["props"].items()))
                      for r in s.run(f"MATCH (n)-[r]->(m) WITH n AS a, r, m AS n RETURN type(r) AS t, "
                                     f"coalesce(a.tax_id, a.key) AS a, {key} AS b, properties(r) AS props"))
    return nodes, rels


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    taxpayers, invoices = data()
    base = tmp_path_factory.mktemp("bulk")
    csv = write_import_csv(base / "csv", invoices=invoices, taxpayers=taxpayers.select(schema.TAXPAYERS.names),
                           identifiers=identifier_rows(taxpayers))
    assert ("neo4j-admin database import full neo4j --id-type=actual --nodes=Taxpayer=taxpayers-header.csv,"
            "taxpayers.csv") in csv.command()
    import_local(base / "neo4j", csv)
    assert (base / "neo4j" / "import.report").is_file()  # the importer's report stays in the data folder
    with pytest.raises(StoreError, match="already holds"):
        import_local(base / "neo4j", csv)
    with local_neo4j.running(base / "neo4j") as server:
        Neo4jStore(server.uri).close()  # constraints and indexes on the imported data
        yield server.uri


@pytest.fixture
def cypher_loaded(neo4j_uri: str) -> Iterator[Neo4jStore]:
    taxpayers, invoices = data()
    store = Neo4jStore(neo4j_uri)
    store.clear()
    store.batch = 50
    with store.writer() as w:
        w.taxpayers(taxpayers)
        w.invoices(invoices)
    try:
        yield store
    finally:
        store.close()


def test_bulk_import_builds_the_same_graph_as_the_cypher_load(imported: str, cypher_loaded: Neo4jStore,
                                                              neo4j_uri: str) -> None:
    nodes, rels = dump(imported)
    assert {t for t, *_ in rels} == {"ISSUED", "BILLED_TO", "HAS", "RED_OF", "TRADES"}
    expected_nodes, expected_rels = dump(neo4j_uri)
    assert nodes == expected_nodes
    assert rels == expected_rels


def test_bulk_import_answers_the_store_contract_like_the_cypher_load(imported: str,
                                                                     cypher_loaded: Neo4jStore) -> None:
    bulk = Neo4jStore(imported)
    try:
        assert bulk.counts() == cypher_loaded.counts()
        assert bulk.taxpayers().equals(cypher_loaded.taxpayers())
        assert bulk.identifiers().equals(cypher_loaded.identifiers())
        assert bulk.invoice_stream().equals(cypher_loaded.invoice_stream())
        for table in (lambda s: s.edge_table(), lambda s: s.edge_table(start=T0)):
            a, b = table(bulk), table(cypher_loaded)
            assert a.sort_by([("seller_tax_id", "ascending"), ("buyer_tax_id", "ascending")]).equals(
                b.sort_by([("seller_tax_id", "ascending"), ("buyer_tax_id", "ascending")]))
        for center in (tid(1), tid(2), tid(6)):
            a, b = bulk.ego_network(center, hops=2, limit=5), cypher_loaded.ego_network(center, hops=2, limit=5)
            assert (a.nodes, a.hops, a.dropped) == (b.nodes, b.hops, b.dropped) and a.edges.equals(b.edges)
        assert bulk.search("乙科技")[0].tax_id == tid(2)
    finally:
        bulk.close()


def test_import_folder_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("x")
    _, invoices = data()
    with pytest.raises(StoreError, match="not empty"):
        write_import_csv(tmp_path, invoices=invoices)


def test_cli_neo4j_import_from_an_embedded_workspace(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from graph.embedded import EmbeddedStore
    from workbench.cli import cli

    taxpayers, invoices = data()
    ws = EmbeddedStore(tmp_path / "ws")
    with ws.writer() as w:
        w.taxpayers(taxpayers)
        w.invoices(invoices)
    expected = ws.counts()
    ws.close()
    runner = CliRunner()
    only = runner.invoke(cli, ["neo4j-import", "--from", f"embedded:{tmp_path / 'ws'}", "--csv-only",
                               "--csv", str(tmp_path / "csv")])
    assert only.exit_code == 0, only.output
    assert "neo4j-admin database import full neo4j --id-type=actual --nodes=Taxpayer=" in only.output
    assert (tmp_path / "csv" / "invoices.csv").is_file()
    done = runner.invoke(cli, ["neo4j-import", "--from", f"embedded:{tmp_path / 'ws'}", "--data",
                               str(tmp_path / "neo")])
    assert done.exit_code == 0, done.output
    assert f"{expected.invoices:,} invoices" in done.output
    assert not (tmp_path / "neo" / "import-csv").exists()  # the scratch CSV copy is removed
    with local_neo4j.running(tmp_path / "neo") as server:
        store = Neo4jStore(server.uri)
        try:
            got = store.counts()
        finally:
            store.close()
    assert (got.taxpayers, got.invoices, got.identifiers) == (expected.taxpayers, expected.invoices,
                                                              expected.identifiers)

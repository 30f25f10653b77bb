"""The same pages on a real Neo4j: the workbench talks to the store contract only, so the overview, a ring,
the explorer, a profile, the rings list and the risk queue must show the same facts as on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, build
from workbench.fmt import money

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def neo4j_demo(neo4j_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    demo = build(tmp_path_factory.mktemp("neo") / "unused", uri=neo4j_uri)
    mp = pytest.MonkeyPatch()
    mp.setenv("FAPIAO_STORE", neo4j_uri)
    yield demo
    mp.undo()


def test_overview_on_neo4j(neo4j_demo: Demo) -> None:
    metrics = {m.label: m.value for m in open_page(neo4j_demo, "analyst", "overview").metric}
    assert metrics["纳税人"] == f"{len(neo4j_demo.names):,}"
    assert metrics["发票"] == f"{len(neo4j_demo.invoices):,}"
    assert metrics["新增高风险纳税人"] == "1"
    assert metrics["价税合计"] == money(sum(int(str(i["total_fen"])) for i in neo4j_demo.invoices))   # invoice_months


def test_ring_detail_on_neo4j(neo4j_demo: Demo) -> None:
    ring = neo4j_demo.ring
    at = open_page(neo4j_demo, "investigator", "rings", ring=ring.ring_id)
    assert sorted(at.dataframe[0].value["税号"]) == sorted(ring.members)
    assert len(at.dataframe[1].value) == len(ring.invoice_keys)
    html = at.get("iframe")[0].proto.srcdoc
    assert all(t in html for t in ring.members)


def test_explorer_and_profile_on_neo4j(neo4j_demo: Demo) -> None:
    hub = neo4j_demo.high_new
    at = open_page(neo4j_demo, "investigator", "explorer", tax_id=hub)
    expected = {hub} | {str(i["buyer_tax_id"]) for i in neo4j_demo.invoices if i["seller_tax_id"] == hub} \
        | {str(i["seller_tax_id"]) for i in neo4j_demo.invoices if i["buyer_tax_id"] == hub}
    html = at.get("iframe")[0].proto.srcdoc
    assert {t for t in neo4j_demo.names if f'"id": "{t}"' in html} == expected
    prof = open_page(neo4j_demo, "investigator", "taxpayer", tax_id=hub)
    assert prof.header[0].value == neo4j_demo.names[hub]
    issued = sorted((i for i in neo4j_demo.invoices if i["seller_tax_id"] == hub),
                    key=lambda i: (str(i["issued_at"]), str(i["key"])), reverse=True)
    assert {m.label: m.value for m in prof.metric}["开出发票"] == f"{len(issued):,}"   # invoices_of_tally
    shown = next(d.value for d in prof.dataframe if "发票号码" in d.value.columns)       # invoices_of_page
    assert shown["发票号码"].tolist() == [i["number"] for i in issued][:50]


def test_rings_list_and_risk_queue_on_neo4j(neo4j_demo: Demo) -> None:
    """The two long lists read a page at a time by Cypher (rings_page, scores_page) show what the demo holds."""
    from graph import open_store

    store = open_store(neo4j_demo.uri)
    try:
        ring_ids = [r.ring_id for r in store.rings()]
        scores = store.scores().to_pylist()
    finally:
        store.close()
    rings = open_page(neo4j_demo, "investigator", "rings")
    assert sorted(rings.dataframe[0].value["编号"]) == sorted(ring_ids)
    queue = open_page(neo4j_demo, "supervisor", "risk_queue", tier="high,medium,low")
    top = sorted(scores, key=lambda r: (-float(r["score"]), str(r["tax_id"])))
    assert queue.dataframe[0].value["税号"].tolist() == [r["tax_id"] for r in top][:50]


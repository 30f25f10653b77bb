"""The same pages on a real Neo4j: the workbench talks to the store contract only, so the overview, a ring,
the explorer and a profile must show the same facts as on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo, build

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


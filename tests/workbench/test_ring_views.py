"""Issue 19 network views: a community ring shows the invoices between its members, a shared-identity ring
draws the shared phone / representative as a node, small views are circles with the centre in the middle."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pyarrow as pa

from graph.core import schema
from graph.core.model import Ring, Run
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench import netgraph
from workbench.ui import views
from workbench.ui.state import get_store


def _add_run(demo: Demo) -> tuple[Ring, Ring]:
    a, b, c = demo.ring.members
    x, y = demo.shared_phone
    community = Ring("run-3-community-1", "run-3", "community", (a, b, c), (), 0.8, "三家企业之间资金闭环")
    shared = Ring("run-3-shared-1", "run-3", "shared_identity", (x, y), (), 0.6, "2 家企业共用电话")
    store = get_store()
    old = store.scores(demo.ring.run_id)
    with store.writer() as w:
        w.findings(Run("run-3", store.runs()[0].created_at + timedelta(days=1), {}, "fp1"), [community, shared],
                   pa.Table.from_pylist(old.to_pylist(), schema=schema.SCORES))
    return community, shared


def test_community_ring_lists_the_invoices_between_its_members(fresh_env: Demo) -> None:
    community, _ = _add_run(fresh_env)
    inside = sorted(str(i["key"]) for i in fresh_env.invoices
                    if {i["seller_tax_id"], i["buyer_tax_id"]} <= set(community.members))
    got = views.ring_invoices(get_store(), community)
    assert sorted(got.column("key").to_pylist()) == inside and inside          # was: 0 invoices
    at = open_page(fresh_env, "investigator", "rings", ring=community.ring_id)
    assert {m.label: m.value for m in at.metric}["发票"] == str(len(inside))


def test_shared_identity_ring_draws_the_shared_phone(fresh_env: Demo) -> None:
    _, shared = _add_run(fresh_env)
    found = views.ring_identifiers(get_store(), shared)
    assert [(s.kind, s.value, s.others) for s in found] == [("phone", "0755-88880000", tuple(sorted(shared.members)))]
    at = open_page(fresh_env, "investigator", "rings", ring=shared.ring_id)
    html = next(e.proto.srcdoc for e in at.get("iframe"))
    label = json.dumps("电话：0755-88880000")[1:-1]            # as pyvis writes it into the page
    assert label in html and '"dashes": true' in html


def test_small_ego_network_is_a_circle_round_its_centre() -> None:
    ids = ["c", "p1", "p2", "p3"]
    pos = netgraph.layout(ids, [netgraph.NetEdge("c", p) for p in ids[1:]], centre="c")
    assert pos["c"] == (0.0, 0.0)
    gaps = [math.dist(pos[p], pos[q]) for p in ids[1:] for q in ids[1:] if p < q]
    assert min(gaps) > 250                                  # was: a thin line with overlapping names
    html = netgraph.network_html([netgraph.NetNode(t, f"名称{t}") for t in ids],
                                [netgraph.NetEdge("c", p, 100) for p in ids[1:]], highlight=["c"])
    assert "fapiaoLegend" in html and "高风险" in html


def test_large_views_label_only_the_important_nodes() -> None:
    nodes = [netgraph.NetNode(f"t{i}", f"名称{i}") for i in range(100)]
    edges = [netgraph.NetEdge("t0", f"t{i}", i * 100) for i in range(1, 100)]
    shown = netgraph.labelled(nodes, edges, {"t0"})
    assert "t0" in shown and "t99" in shown and "t1" not in shown and len(shown) == netgraph.LABEL_TOP


def test_network_html_speaks_the_language_asked_for_without_streamlit() -> None:
    nodes = [netgraph.NetNode("a", "甲", "high"), netgraph.NetNode("b", "乙")]
    edges = [netgraph.NetEdge("a", "b", 123456, 2)]
    zh = netgraph.network_html(nodes, edges, highlight=["a"])
    en = netgraph.network_html(nodes, edges, highlight=["a"], lang="en")
    def tooltip(text: str) -> str:   # pyvis writes the tooltips as JSON with \\u escapes
        return json.dumps(text)[1:-1]

    assert "未评分" in zh and "unscored" not in zh and tooltip("2 张发票, ¥1,234.56") in zh
    assert "unscored" in en and "未评分" not in en and tooltip("2 invoices, ¥1,234.56") in en
    assert [r[2] for r in netgraph.legend_items(lang="en")][:3] == ["high", "medium", "low"]


def test_large_views_are_folded_by_community_and_the_centre_never_is() -> None:
    from workbench import netclusters, netgraph

    ids = [f"t{i}" for i in range(90)]
    edges = [netgraph.NetEdge(f"t{i}", f"t{j}", 100) for i in range(1, 90) for j in range(i + 1, 90)
             if (i - 1) // 30 == (j - 1) // 30]                                  # three cliques of 30 (t1..t89)
    edges += [netgraph.NetEdge("t0", f"t{i}", 100) for i in (1, 31, 61)]        # the centre touches each
    groups = netclusters.communities(ids, [(e.source, e.target) for e in edges], {"t0"})
    assert "t0" not in groups and len(set(groups.values())) == 3 and len(groups) == 89
    html = netgraph.network_html([netgraph.NetNode(t, t) for t in ids], edges, highlight=["t0"])
    assert "fapiaoFold" in html and "按社区折叠" in html and "六边形：折叠的社区（点击展开）" in html
    small = netgraph.network_html([netgraph.NetNode(t, t) for t in ids[:50]], edges, highlight=["t0"])
    assert "fapiaoFold" not in small and "六边形" not in small                   # 60 or fewer: drawn open
    assert netclusters.communities(ids[:60], [(e.source, e.target) for e in edges]) == {}

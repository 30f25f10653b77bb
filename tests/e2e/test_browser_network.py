"""Issue 19 network views in Chromium: a ring member's small ego network is spread out with labels that do
not overlap, the legend is drawn on the canvas, and a 400-node view draws quickly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import go, network_frame, painted_pixels, settle, sign_in
from tests.helpers.wb_data import PASSWORD

pytestmark = pytest.mark.browser

LABEL_BOXES = """() => {
  const ctx = document.querySelector('#mynetwork canvas').getContext('2d');
  ctx.font = '14px Noto Sans CJK SC, Noto Sans SC, sans-serif';
  const pos = network.getPositions();
  return nodes.get().filter(n => n.label && n.label.trim()).map(n => {
    const p = network.canvasToDOM(pos[n.id]); const w = ctx.measureText(n.label).width * network.getScale();
    const r = (n.size || 12) * network.getScale();
    return [p.x - w / 2, p.y + r, p.x + w / 2, p.y + r + 16 * network.getScale()]; });
}"""


def _overlaps(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes)
            if i < j and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def test_ego_network_of_a_ring_member_is_readable(served: Served, page: Any) -> None:
    demo = served.demo
    member = demo.ring.members[0]
    sign_in(page, served.url, "investigator", PASSWORD)
    go(page, "网络探索")
    box = page.get_by_label("搜索纳税人（名称片段或税号）")
    box.fill(member)
    box.press("Enter")
    settle(page)
    # the ring links are drawn after the search answer: wait for them, not only for the page to settle
    page.locator('[data-testid="stPageLink-NavLink"]', has_text="评分").first.wait_for(timeout=45_000)
    clipped = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPageLink-NavLink"]')]
        .filter(a => a.scrollWidth > a.clientWidth + 1 || [...a.querySelectorAll('*')].some(
            e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== 'visible'))
        .map(a => a.innerText)""")
    links = page.locator('[data-testid="stPageLink-NavLink"]').all_inner_texts()
    assert any("评分" in t for t in links) and clipped == []      # ring links were cut off in four narrow columns
    frame = network_frame(page, showing=member)
    ids = frame.evaluate("() => nodes.getIds()")
    assert 3 <= len(ids) <= 5
    boxes = frame.evaluate(LABEL_BOXES)
    assert len(boxes) == len(ids) and _overlaps(boxes) == []       # was: a thin line, names on top of each other
    assert frame.evaluate("() => fapiaoLegend.map(r => r[2])")[:3] == ["高风险", "中风险", "低风险"]
    assert painted_pixels(frame) > 2000
    page.set_viewport_size({"width": 1400, "height": 1300})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explorer-ego-small.png"), full_page=False)


def test_ring_view_is_a_circle_with_the_legend(served: Served, page: Any) -> None:
    ring = served.demo.ring
    sign_in(page, served.url, "investigator", PASSWORD)
    page.goto(f"{served.url}/rings?ring={ring.ring_id}")
    page.get_by_text("构成团伙的发票（按时间顺序）").wait_for(timeout=45_000)
    settle(page)
    frame = network_frame(page, showing=ring.members[-1])
    assert _overlaps(frame.evaluate(LABEL_BOXES)) == []
    page.screenshot(path=str(ARTIFACTS / "ring-view.png"), full_page=True)


def test_a_400_node_view_draws_in_under_two_seconds(page: Any, tmp_path: Path) -> None:
    from workbench import netgraph

    nodes = [netgraph.NetNode(f"t{i}", f"企业{i}", ("high", "medium", "low", None)[i % 4]) for i in range(400)]
    edges = [netgraph.NetEdge("t0", f"t{i}", 1_000_000 * i) for i in range(1, 20)]        # an ego network: hop 1
    edges += [netgraph.NetEdge(f"t{1 + i % 19}", f"t{i}", 10_000 * i) for i in range(20, 400)]   # hop 2
    edges += [netgraph.NetEdge(f"t{i}", f"t{(i * 7) % 380 + 20}", 5_000) for i in range(20, 400, 3)]
    html = tmp_path / "large.html"
    html.write_text(netgraph.network_html(nodes, edges, highlight=["t0"]), encoding="utf-8")
    t0 = time.perf_counter()
    page.goto(html.as_uri())
    page.wait_for_function("() => typeof network !== 'undefined' && nodes.length === 400 "
                           "&& network.body.nodeIndices.length > 0")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    seconds = time.perf_counter() - t0
    labelled = page.evaluate("() => nodes.get().filter(n => n.label.trim()).length")
    centre = page.evaluate("() => network.canvasToDOM(network.getPositions(['t0']).t0)")
    size = page.evaluate("() => [document.querySelector('#mynetwork').clientWidth, "
                         "document.querySelector('#mynetwork').clientHeight]")
    page.screenshot(path=str(ARTIFACTS / "network-400.png"))
    (ARTIFACTS / "network-400.txt").write_text(f"{seconds:.2f} s to draw 400 nodes\n", encoding="utf-8")
    assert seconds < 2.0, seconds
    assert labelled == netgraph.LABEL_TOP + 0 or labelled <= netgraph.LABEL_TOP + 1
    assert abs(centre["x"] - size[0] / 2) < 10 and abs(centre["y"] - size[1] / 2) < size[1] * 0.15


def _large(tmp_path: Path) -> Path:
    """The 400-node ego network of the test above, as a page."""
    from workbench import netgraph

    nodes = [netgraph.NetNode(f"t{i}", f"企业{i}", ("high", "medium", "low", None)[i % 4]) for i in range(400)]
    edges = [netgraph.NetEdge("t0", f"t{i}", 1_000_000 * i) for i in range(1, 20)]
    edges += [netgraph.NetEdge(f"t{1 + i % 19}", f"t{i}", 10_000 * i) for i in range(20, 400)]
    edges += [netgraph.NetEdge(f"t{i}", f"t{(i * 7) % 380 + 20}", 5_000) for i in range(20, 400, 3)]
    html = tmp_path / "large.html"
    html.write_text(netgraph.network_html(nodes, edges, highlight=["t0"]), encoding="utf-8")
    return html


VISIBLE = "() => network.body.nodeIndices.slice()"


def test_a_large_view_is_folded_by_community_and_unfolds(page: Any, tmp_path: Path) -> None:
    page.goto(_large(tmp_path).as_uri())
    page.wait_for_function("() => window.fapiaoFolded === true")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    folded = page.evaluate(VISIBLE)
    clusters = [i for i in folded if i.startswith("cluster:")]
    assert len(clusters) >= 2 and len(folded) < 200 and "t0" in folded       # the centre is never folded
    size = page.evaluate("() => [document.querySelector('#mynetwork').clientWidth, "
                         "document.querySelector('#mynetwork').clientHeight]")
    centre = page.evaluate("() => network.canvasToDOM(network.getPositions(['t0']).t0)")
    assert abs(centre["x"] - size[0] / 2) < 10 and abs(centre["y"] - size[1] / 2) < size[1] * 0.15
    page.screenshot(path=str(ARTIFACTS / "network-400-folded.png"))
    target = clusters[0]
    box = page.evaluate("(id) => { const r = document.querySelector('#mynetwork canvas').getBoundingClientRect();"
                        " const p = network.canvasToDOM(network.getPositions([id])[id]);"
                        " return [r.left + p.x, r.top + p.y]; }", target)
    page.mouse.click(box[0], box[1])                                         # click a hexagon: it unfolds
    page.wait_for_function("(id) => !network.body.nodeIndices.includes(id)", arg=target)
    assert len(page.evaluate(VISIBLE)) > len(folded)
    page.get_by_role("button", name="全部展开").click()
    assert len(page.evaluate(VISIBLE)) == 400
    page.get_by_role("button", name="按社区折叠").click()
    assert sorted(page.evaluate(VISIBLE)) == sorted(folded)
    assert abs(page.evaluate("() => network.canvasToDOM(network.getPositions(['t0']).t0)")["x"] - centre["x"]) < 1

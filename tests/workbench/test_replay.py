"""The ring replay's page parts (issue 19 item 1's time slider): steps travel as escaped JSON, edges get ids
only when replayed, the strip is there only with a replay."""

from __future__ import annotations

import json
import re

from workbench import netgraph
from workbench.netgraph import NetEdge, NetNode, ReplayStep

XSS = "<script>alert(1)</script>"


def _page(replay: list[ReplayStep]) -> str:
    nodes = [NetNode("a", "甲"), NetNode("b", XSS), NetNode("c", "丙")]
    edges = [NetEdge("a", "b", 100), NetEdge("b", "c", 200), NetEdge("c", "a", 300)]
    return netgraph.network_html(nodes, edges, highlight=["a", "b", "c"], replay=replay)


def test_a_replay_carries_its_steps_in_order_and_names_never_become_html() -> None:
    steps = [ReplayStep("a", "b", f"2024-03-01 10:00 甲 → {XSS} ¥1.00"), ReplayStep("b", "c", "2024-03-02 10:00 b → c"),
             ReplayStep("c", "a", "2024-03-03 10:00 c → a")]
    page = _page(steps)
    assert XSS not in page                                   # only the escaped form travels
    found = re.search(r"window\.fapiaoReplay = (\{.*?\});\n", page)
    assert found is not None
    data = json.loads(found.group(1))
    assert [s[0] for s in data["steps"]] == ["a|b", "b|c", "c|a"]
    assert data["steps"][0][1].endswith(f"{XSS} ¥1.00")       # the text itself is kept (shown with textContent)
    assert 'id="fapiaoStep"' in page and 'max="3"' in page
    assert page.count('"id": "a|b"') == 1


def test_without_a_replay_there_is_no_strip_and_edges_have_no_ids() -> None:
    page = _page([])
    assert "fapiaoReplay" not in page and '"id": "a|b"' not in page


def test_a_long_replay_keeps_the_first_invoices_and_says_so() -> None:
    steps = [ReplayStep("a", "b", f"#{i}") for i in range(netgraph.REPLAY_MAX + 5)]
    data = json.loads(re.search(r"window\.fapiaoReplay = (\{.*?\});\n", _page(steps)).group(1))  # type: ignore[union-attr]
    assert len(data["steps"]) == netgraph.REPLAY_MAX and data["steps"][-1][1] == f"#{netgraph.REPLAY_MAX - 1}"
    assert f"仅重放前 {netgraph.REPLAY_MAX} 张" in data["all"]

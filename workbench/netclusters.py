"""Large network views folded by community (issue 19 item 1): the taxpayers of a view over
:data:`CLUSTER_VIEW` nodes are grouped into communities (Louvain, igraph's multilevel), and each community
of at least :data:`CLUSTER_MIN` taxpayers is drawn folded as one hexagon "N 家" at its members' mean
position. Click a hexagon to unfold it; the strip above the drawing unfolds or folds them all. The centre
and the other highlighted taxpayers are never folded, so the centre stays where the layout put it (the
middle). Used by :func:`workbench.netgraph.network_html`."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from algorithms._igraph import ig

CLUSTER_VIEW = 60      # views with more taxpayers than this are folded by community
CLUSTER_MIN = 4        # communities smaller than this stay unfolded
CLUSTER_COLOUR = "#5d6d7e"


def communities(node_ids: Sequence[str], pairs: Sequence[tuple[str, str]], keep: Collection[str] = (),
                *, seed: int = 0) -> dict[str, int]:
    """The community number of each node that is folded (nodes in ``keep`` and in communities smaller than
    :data:`CLUSTER_MIN` are left out), for views over :data:`CLUSTER_VIEW` nodes; ``{}`` for smaller views.

    Examples
    --------
    >>> ids = [f"a{i}" for i in range(40)] + [f"b{i}" for i in range(40)]
    >>> pairs = [(f"a{i}", f"a{j}") for i in range(40) for j in range(i)] + [("a0", "b0")]
    >>> pairs += [(f"b{i}", f"b{j}") for i in range(40) for j in range(i)]
    >>> groups = communities(ids, pairs, keep={"a0"})
    >>> len(set(groups.values())), "a0" in groups, groups["a1"] == groups["a2"] != groups["b1"]
    (2, False, True)
    """
    if len(node_ids) <= CLUSTER_VIEW:
        return {}
    index = {t: i for i, t in enumerate(node_ids)}
    edges = sorted({(min(index[a], index[b]), max(index[a], index[b])) for a, b in pairs
                    if a in index and b in index and a != b})
    g = ig.Graph(n=len(node_ids), edges=edges, directed=False)
    import random

    random.seed(seed)
    membership = g.community_multilevel().membership
    keep = set(keep)
    sizes: dict[int, int] = {}
    for t, c in zip(node_ids, membership, strict=True):
        if t not in keep:
            sizes[c] = sizes.get(c, 0) + 1
    return {t: c for t, c in zip(node_ids, membership, strict=True) if t not in keep and sizes[c] >= CLUSTER_MIN}


_STRIP = """<div id="fapiaoClusterBar" style="display:flex;align-items:center;gap:10px;padding:4px 6px;
 font:13px 'Noto Sans CJK SC','Noto Sans SC',sans-serif;color:#333"><button id="fapiaoUnfold" type="button"
 style="font:inherit;padding:2px 10px;cursor:pointer">%s</button><button id="fapiaoFold" type="button"
 style="font:inherit;padding:2px 10px;cursor:pointer">%s</button><span>%s</span></div>"""

_JS = """
              window.fapiaoClusters = %s;
              (function () {
                var C = window.fapiaoClusters;
                window.fapiaoFold = function () {   // sizes in screen pixels at the current zoom
                  var z = Math.max(network.getScale(), 0.02);
                  C.groups.forEach(function (g) {
                    var id = "cluster:" + g[0], members = {};
                    if (network.body.nodes[id]) { return; }
                    g[1].forEach(function (t) { members[t] = true; });
                    network.cluster({joinCondition: function (o) { return members[o.id] === true; },
                      clusterNodeProperties: {id: id, label: C.label.replace("{n}", g[1].length), shape: "hexagon",
                        size: (12 + 2 * Math.sqrt(g[1].length)) / z, color: C.colour, physics: false,
                        title: C.title.replace("{n}", g[1].length), font: {size: 14 / z}}});
                  });
                  window.fapiaoFolded = true;
                };
                window.fapiaoUnfold = function () {
                  network.body.nodeIndices.slice().forEach(function (id) {
                    if (network.isCluster(id)) { network.openCluster(id); } });
                };
                network.on("click", function (p) {
                  if (p.nodes.length === 1 && network.isCluster(p.nodes[0])) { network.openCluster(p.nodes[0]); }
                });
                document.getElementById("fapiaoUnfold").addEventListener("click", window.fapiaoUnfold);
                document.getElementById("fapiaoFold").addEventListener("click", window.fapiaoFold);
                network.once("afterDrawing", function () { window.fapiaoFold(); });   // once the zoom is known
              })();
              return network;"""


def cluster_parts(groups: dict[str, int], lang: str = "zh") -> tuple[str, str]:
    """The control strip (HTML) and the script that folds ``groups`` (node -> community) in the drawing."""
    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh
    by: dict[int, list[str]] = {}
    for node, c in groups.items():
        by.setdefault(c, []).append(node)
    payload = {"groups": sorted(by.items()), "colour": CLUSTER_COLOUR,
               "label": t("{n} 家", "{n} taxpayers"), "title": t("社区：{n} 家纳税人（点击展开）",
                                                              "community of {n} taxpayers (click to unfold)")}
    strip = _STRIP % (t("全部展开", "Unfold all"), t("按社区折叠", "Fold by community"),
                      t(f"按社区折叠为 {len(by)} 组；点击六边形展开", f"{len(by)} communities folded; click a hexagon to unfold"))
    return strip, _JS % json.dumps(payload, ensure_ascii=False).replace("<", "\\u003c")

"""Network drawings as self-contained HTML with pyvis, fully offline (vis-network inlined, no CDN).

Shared by the workbench's pages (``workbench.ui.netview.show``) and the case file (``workbench.export``);
no Streamlit here: texts come in the ``lang`` asked for.

Names reach the browser safely: labels are drawn on the canvas as text and travel inside the page as
JSON through Jinja's ``tojson`` (which escapes ``<``, ``>`` and ``&``); tooltips are plain text, which
vis-network 9.1.2 (the version pyvis 0.3.2 inlines) sets with ``innerText``, never as HTML. A name such
as ``<script>alert(1)</script>`` therefore shows as those characters and never runs.
Positions are computed in Python (igraph), so the browser does no physics at all for large views.

Layouts by size: up to 12 nodes a circle (a ring in its order; an ego network with the centre in the
middle and its partners around it, so names have room); larger views force-directed with the centre
pinned to the middle. Node size grows with the node's invoiced volume in the view; in views over 40
nodes only the highlighted nodes and the 15 largest by volume carry a label (the rest on hover). A
legend (tiers, identifiers, what width and size mean) is drawn on the canvas itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from pyvis.network import Network

from algorithms._igraph import ig
from graph.core.model import Subgraph, Taxpayer
from graph.core.vocab import TIERS
from workbench import netclusters
from workbench.fmt import money


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _tier(lang: str, tier: str | None) -> str:
    pair = TIERS.get(tier or "")
    return (_t(lang, *pair) if pair else tier or "") or "-"


TIER_COLOURS: dict[str, str] = {"high": "#d62728", "medium": "#ff9f1c", "low": "#2ca02c"}
UNSCORED_COLOUR = "#8c8c8c"
HIGHLIGHT_BORDER = "#1f3a93"

# pyvis 0.3.2's template always links Bootstrap from a CDN; the view does not need it (offline rule).
_CDN_TAGS = re.compile(r"<link[^>]*https?://[^>]*>|<script[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.S)
_EMPTY_HEADING = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>", re.S)
_PHYSICS_OFF = ('network.once("stabilizationIterationsDone", function () '
                '{ network.setOptions({physics: false}); });\n              return network;')


IDENTIFIER_COLOUR = "#6c5ce7"
SMALL = 12          # views up to this size are drawn as a circle
LABEL_ALL = 40      # views up to this size label every node
LABEL_TOP = 15      # larger views label the highlighted nodes and this many of the largest


@dataclass(frozen=True)
class NetNode:
    """A taxpayer (or, with ``identifier``, a shared phone / representative ...) on the canvas. ``title``
    is the plain-text tooltip (newlines allowed)."""

    id: str
    label: str
    tier: str | None = None
    title: str = ""
    x: float | None = None
    y: float | None = None
    identifier: bool = False


@dataclass(frozen=True)
class NetEdge:
    """Aggregated invoices from ``source`` (seller) to ``target`` (buyer)."""

    source: str
    target: str
    total_fen: int = 0
    count: int = 1
    title: str = ""
    link: bool = False          # a taxpayer ↔ identifier link (dashed, no arrow), not invoices


@dataclass(frozen=True)
class ReplayStep:
    """One invoice in a replay: drawn on the edge ``source`` → ``target``; ``text`` says when, who and how much."""

    source: str
    target: str
    text: str


REPLAY_MAX = 500          # a replay shows at most this many invoices (the first ones)
REPLAY_MS = 700           # milliseconds per invoice when playing

_REPLAY_HTML = """<div id="fapiaoReplay" style="display:flex;align-items:center;gap:10px;padding:4px 6px;
 font:13px 'Noto Sans CJK SC','Noto Sans SC',sans-serif;color:#333"><button id="fapiaoPlay" type="button"
 style="font:inherit;padding:2px 10px;cursor:pointer">%s</button><input id="fapiaoStep" type="range" min="0"
 max="%d" value="%d" style="flex:1" aria-label="%s"><span id="fapiaoText" style="flex:2"></span></div>"""

_REPLAY_JS = """
              window.fapiaoReplay = %s;
              (function () {
                var R = window.fapiaoReplay, n = R.steps.length, timer = null, inReplay = {};
                var slider = document.getElementById("fapiaoStep"), text = document.getElementById("fapiaoText"),
                    btn = document.getElementById("fapiaoPlay");
                R.steps.forEach(function (s) { inReplay[s[0]] = true; });
                window.fapiaoShow = function (k) {   // the first k invoices: their edges shown, the k-th in red
                  var seen = {}, cur = k > 0 ? R.steps[k - 1][0] : null;
                  for (var i = 0; i < k; i++) { seen[R.steps[i][0]] = true; }
                  edges.update(edges.getIds().filter(function (id) { return inReplay[id]; }).map(function (id) {
                    return {id: id, hidden: !seen[id], color: id === cur ? "#c0392b" : "#7f8c8d"}; }));
                  slider.value = k;
                  text.textContent = k === 0 ? R.intro : R.prefix.replace("{k}", k).replace("{n}", n) + R.steps[k - 1][1];
                };
                function stop() { if (timer) { clearInterval(timer); timer = null; } btn.textContent = R.play; }
                slider.addEventListener("input", function () { stop(); window.fapiaoShow(+slider.value); });
                btn.addEventListener("click", function () {
                  if (timer) { stop(); return; }
                  var k = +slider.value >= n ? 0 : +slider.value;
                  btn.textContent = R.pause; window.fapiaoShow(k);
                  timer = setInterval(function () { k += 1; window.fapiaoShow(k); if (k >= n) { stop(); } }, R.ms);
                });
                text.textContent = R.all;
              })();
              return network;"""


def _replay_parts(steps: Sequence[ReplayStep], lang: str) -> tuple[str, str]:
    """The control strip (HTML) and its script for a replay of ``steps`` (texts travel as JSON, shown with
    ``textContent``: a name is never HTML)."""
    kept = list(steps)[:REPLAY_MAX]
    n = len(kept)
    more = _t(lang, f"（仅重放前 {REPLAY_MAX} 张）", f" (the first {REPLAY_MAX} only)") if len(steps) > REPLAY_MAX else ""
    data = {"steps": [[f"{s.source}|{s.target}", s.text] for s in kept], "ms": REPLAY_MS,
            "play": _t(lang, "▶ 回放", "▶ Replay"), "pause": _t(lang, "⏸ 暂停", "⏸ Pause"),
            "intro": _t(lang, "拖动滑块或点击回放，按时间顺序重现本团伙的发票", "Drag the slider or press replay to see the invoices in time order"),
            "prefix": _t(lang, "第 {k} / {n} 张：", "Invoice {k} of {n}: "),
            "all": _t(lang, f"全部 {n} 张发票{more}；点击回放，按开票时间顺序逐张重现",
                      f"All {n} invoices{more}; press replay to draw them one by one in time order")}
    script = _REPLAY_JS % json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return _REPLAY_HTML % (data["play"], n, n, _t(lang, "重放进度", "replay position")), script


def layout(node_ids: Sequence[str], edges: Sequence[NetEdge], *, seed: int = 0, span: float = 900.0,
           centre: str | None = None) -> dict[str, tuple[float, float]]:
    """Fixed positions for ``node_ids``, scaled so that names have room.

    Parameters
    ----------
    node_ids : the nodes to place (a ring's members in ring order place it as a circle in that order).
    edges : edges between them (others are ignored).
    seed : the layout is deterministic for a given seed.
    span : width of a force-directed drawing in pixels; grows with the square root of the node count.
    centre : a node to put in the middle (an ego network's centre): with up to :data:`SMALL` nodes the
        others go round it on a circle; larger views are force-directed and shifted to centre it.

    Examples
    --------
    >>> pos = layout(["a", "b", "c", "d"], [NetEdge("a", "b"), NetEdge("a", "c"), NetEdge("a", "d")], centre="a")
    >>> pos["a"]
    (0.0, 0.0)
    >>> sorted(round(math.dist((0, 0), pos[k])) for k in "bcd")
    [160, 160, 160]
    """
    n = len(node_ids)
    if n == 0:
        return {}
    if n <= SMALL:
        around = [t for t in node_ids if t != centre]
        k = len(around)
        radius = max(160.0, 95.0 / math.sin(math.pi / k)) if k > 1 else 160.0
        angles = [2 * math.pi * i / k - math.pi / 2 for i in range(k)]   # round the circle from the top
        if k == 2 and centre is not None:   # two partners below left and right: an edge between them clears the centre
            angles = [3 * math.pi / 4, math.pi / 4]
        out = {t: (round(radius * math.cos(a), 2), round(radius * math.sin(a), 2))
               for t, a in zip(around, angles, strict=True)}
        if centre is not None and centre in node_ids:
            out[centre] = (0.0, 0.0)
        return out
    index = {t: i for i, t in enumerate(node_ids)}
    pairs = [(index[e.source], index[e.target]) for e in edges if e.source in index and e.target in index]
    g = ig.Graph(n=n, edges=pairs, directed=False)
    import random

    random.seed(seed)
    coords = g.layout_fruchterman_reingold(niter=300 if n <= 200 else 120).coords
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    size = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    scale = min(span, 120 + 90 * math.sqrt(n)) * max(1.0, math.sqrt(n / 60)) / size
    cx, cy = (coords[index[centre]][0], coords[index[centre]][1]) if centre in index else \
        ((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2)
    return {t: ((coords[i][0] - cx) * scale, (coords[i][1] - cy) * scale) for t, i in index.items()}


def volumes(edges: Sequence[NetEdge]) -> dict[str, int]:
    """Invoiced amount (fen) per node over ``edges``, both directions (identifier links count nothing)."""
    out: dict[str, int] = {}
    for e in edges:
        if not e.link:
            out[e.source] = out.get(e.source, 0) + e.total_fen
            out[e.target] = out.get(e.target, 0) + e.total_fen
    return out


def labelled(nodes: Sequence[NetNode], edges: Sequence[NetEdge], highlight: Collection[str]) -> set[str]:
    """The nodes that carry a label: all in small views; else the highlighted ones, identifiers and the
    :data:`LABEL_TOP` largest by volume."""
    if len(nodes) <= LABEL_ALL:
        return {n.id for n in nodes}
    vol = volumes(edges)
    top = sorted((n.id for n in nodes if not n.identifier), key=lambda t: -vol.get(t, 0))[:LABEL_TOP]
    return set(highlight) | set(top) | {n.id for n in nodes if n.identifier}


def legend_items(*, highlight: bool = True, identifiers: bool = False, folded: bool = False,
                 lang: str = "zh") -> list[tuple[str, str, str]]:
    """(kind, colour, text) rows of the canvas legend (the border, identifier and folded-community rows only
    when the view has such nodes), in ``lang`` ("zh" or "en")."""
    rows = [("dot", TIER_COLOURS[t], _tier(lang, t)) for t in ("high", "medium", "low")]
    rows.append(("dot", UNSCORED_COLOUR, _t(lang, "未评分", "unscored")))
    if highlight:
        rows.append(("ring", HIGHLIGHT_BORDER, _t(lang, "粗边框：中心 / 团伙成员", "thick border: centre / ring member")))
    if identifiers:
        rows.append(("box", IDENTIFIER_COLOUR, _t(lang, "共用的身份信息", "shared identifier")))
    if folded:
        rows.append(("hexagon", netclusters.CLUSTER_COLOUR, _t(lang, "六边形：折叠的社区（点击展开）",
                                                                "hexagon: a folded community (click to unfold)")))
    rows.append(("line", "#7f8c8d", _t(lang, "箭头：开票方向，线宽：金额；圆点大小：交易额",
                                       "arrow: invoice direction, width: amount; dot size: volume")))
    return rows


_LEGEND_JS = """
              window.fapiaoLegend = %s;
              network.on("afterDrawing", function (ctx) {
                var el = network.body.container, rows = fapiaoLegend.length, h = 18 * rows + 10;
                var top = el.clientHeight - h - 8;   // a strip at the bottom, kept clear of the drawing
                ctx.save(); ctx.setTransform(window.devicePixelRatio || 1, 0, 0, window.devicePixelRatio || 1, 0, 0);
                ctx.font = "12px Noto Sans CJK SC, Noto Sans SC, sans-serif";
                var w = 0; fapiaoLegend.forEach(function (r) { w = Math.max(w, ctx.measureText(r[2]).width); });
                ctx.fillStyle = "rgba(255,255,255,0.88)"; ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1;
                ctx.fillRect(8, top, w + 40, h); ctx.strokeRect(8, top, w + 40, h);
                fapiaoLegend.forEach(function (r, i) {
                  var y = top + 14 + 18 * i; ctx.fillStyle = r[1]; ctx.strokeStyle = r[1];
                  if (r[0] === "dot") { ctx.beginPath(); ctx.arc(22, y, 6, 0, 2 * Math.PI); ctx.fill(); }
                  else if (r[0] === "ring") { ctx.lineWidth = 3; ctx.beginPath(); ctx.arc(22, y, 6, 0, 2 * Math.PI); ctx.stroke(); }
                  else if (r[0] === "box") { ctx.fillRect(16, y - 6, 12, 12); }
                  else if (r[0] === "hexagon") { ctx.beginPath(); for (var a = 0; a < 6; a++) {
                    ctx.lineTo(22 + 7 * Math.cos(Math.PI / 3 * a), y + 7 * Math.sin(Math.PI / 3 * a)); } ctx.fill(); }
                  else { ctx.lineWidth = 3; ctx.beginPath(); ctx.moveTo(14, y); ctx.lineTo(30, y); ctx.stroke(); }
                  ctx.fillStyle = "#333"; ctx.textBaseline = "middle"; ctx.fillText(r[2], 36, y);
                });
                ctx.restore();
                if (!window.fapiaoPlaced) {   // the layout's origin (the centre) in the middle of the space above it
                  window.fapiaoPlaced = true;
                  var pos = network.getPositions(), mx = 1, my = 1;
                  Object.keys(pos).forEach(function (k) {
                    mx = Math.max(mx, Math.abs(pos[k].x)); my = Math.max(my, Math.abs(pos[k].y)); });
                  var s = Math.min((el.clientWidth / 2 - 80) / mx, ((el.clientHeight - h - 16) / 2 - 40) / my, 1.0);
                  network.moveTo({position: {x: 0, y: 0}, scale: Math.max(s, 0.05), offset: {x: 0, y: -(h + 16) / 2}});
                }
              });
              return network;"""


def _edge_width(total_fen: int, biggest: int) -> float:
    if biggest <= 0 or total_fen <= 0:
        return 1.0
    return 1.0 + 7.0 * math.log1p(total_fen) / math.log1p(biggest)


def network_html(nodes: Sequence[NetNode], edges: Sequence[NetEdge], *, height: str = "620px",
                 highlight: Collection[str] = (), replay: Sequence[ReplayStep] = (), lang: str = "zh") -> str:
    """A self-contained HTML page drawing the network (pyvis, vis-network inlined, no CDN).

    Parameters
    ----------
    nodes : taxpayers to draw, coloured by tier; nodes without ``x``/``y`` are placed with :func:`layout`.
    edges : issuer→buyer edges; width grows with the invoiced amount, tooltip shows count and amount.
    height : CSS height of the drawing.
    highlight : tax ids drawn larger with a thick border (the centre, a ring's members ...).
    replay : invoices in time order: adds a slider and a play button above the drawing that show the edges
        of the first k invoices, the k-th in red (a ring's invoices replayed).
    lang : language of the legend, tooltips and replay controls, "zh" (default) or "en".

    Returns
    -------
    str
        HTML for an iframe or a file; physics is off (positions fixed), or switched
        off after stabilisation when no position could be computed.
    """
    hl = set(highlight)
    ids = [n.id for n in nodes]
    known = set(ids)
    kept_edges = [e for e in edges if e.source in known and e.target in known]
    centre = next((t for t in highlight if t in known), None) if len(hl) == 1 or len(ids) > SMALL else None
    positions = layout(ids, kept_edges, centre=centre) if any(n.x is None for n in nodes) else {}
    vol = volumes(kept_edges)
    top = max(vol.values(), default=0)
    shown = labelled(nodes, kept_edges, hl)
    net = Network(height=height, width="100%", directed=True, cdn_resources="in_line", notebook=False)
    for n in nodes:
        x, y = (n.x, n.y) if n.x is not None and n.y is not None else positions.get(n.id, (0.0, 0.0))
        if n.identifier:
            net.add_node(n.id, label=n.label, title=n.title or n.label, x=x, y=y, physics=False, shape="box",
                         color={"background": IDENTIFIER_COLOUR, "border": IDENTIFIER_COLOUR},
                         font={"color": "#ffffff"})
            continue
        colour = TIER_COLOURS.get(n.tier or "", UNSCORED_COLOUR)
        tooltip = n.title or f"{n.label}\n{n.id}\n{_t(lang, '风险', 'risk')}: {_tier(lang, n.tier)}"
        size = 12 + (14 * math.log1p(vol.get(n.id, 0)) / math.log1p(top) if top > 0 else 0)
        net.add_node(n.id, label=n.label if n.id in shown else " ", title=tooltip, x=x, y=y, physics=False,
                     shape="dot", size=round(size + (6 if n.id in hl else 0), 1), borderWidth=5 if n.id in hl else 1,
                     color={"background": colour, "border": HIGHLIGHT_BORDER if n.id in hl else colour})
    biggest = max((e.total_fen for e in kept_edges if not e.link), default=0)
    unit = _t(lang, "张发票", "invoices")
    for e in kept_edges:  # appended directly: pyvis' add_edge scans every edge for duplicates (quadratic)
        if e.link:
            net.edges.append({"from": e.source, "to": e.target, "title": e.title or e.target, "dashes": True,
                              "color": IDENTIFIER_COLOUR, "width": 1.5})
            continue
        tooltip = e.title or f"{e.source} → {e.target}\n{e.count} {unit}, {money(e.total_fen)}"
        edge = {"from": e.source, "to": e.target, "title": tooltip, "arrows": "to", "color": "#7f8c8d",
                "width": round(_edge_width(e.total_fen, biggest), 2)}
        if replay:   # the replay shows and hides edges by id (one edge per seller → buyer pair)
            edge["id"] = f"{e.source}|{e.target}"
        net.edges.append(edge)
    net.toggle_physics(False)
    net.set_options('{"interaction": {"hover": true, "navigationButtons": false, "tooltipDelay": 120},'
                    ' "edges": {"smooth": false}, "nodes": {"font": {"size": 14,'
                    ' "face": "Noto Sans CJK SC, Noto Sans SC, sans-serif"}}, "physics": {"enabled": false}}')
    html = net.generate_html(notebook=False)
    html = _CDN_TAGS.sub("", html)
    html = _EMPTY_HEADING.sub("", html)
    groups = {} if replay else netclusters.communities(
        [n.id for n in nodes if not n.identifier], [(e.source, e.target) for e in kept_edges if not e.link], hl)
    legend = json.dumps(legend_items(highlight=bool(hl & known), identifiers=any(n.identifier for n in nodes),
                                     folded=bool(groups), lang=lang),
                        ensure_ascii=False).replace("<", "\\u003c")
    script = _LEGEND_JS % legend
    if replay:
        strip, replay_js = _replay_parts(replay, lang)
        html = html.replace("<body>", "<body>" + strip, 1)
        script = script.replace("return network;", replay_js)
    if groups:   # a large view: folded by community, the centre and highlighted nodes left out
        strip, cluster_js = netclusters.cluster_parts(groups, lang)
        html = html.replace("<body>", "<body>" + strip, 1)
        script = script.replace("return network;", cluster_js)
    return html.replace("return network;", _PHYSICS_OFF.replace("return network;", script), 1)


def from_subgraph(sub: Subgraph, tiers: Mapping[str, str], *, lang: str = "zh") -> tuple[list[NetNode], list[NetEdge]]:
    """Nodes and edges of an ego network, coloured with ``tiers`` (tax id -> low/medium/high)."""
    nodes = [taxpayer_node(t, tiers.get(t.tax_id), hops=sub.hops.get(t.tax_id), lang=lang) for t in sub.nodes]
    return nodes, edges_from_table(sub.edges.to_pylist())


def taxpayer_node(t: Taxpayer, tier: str | None, *, hops: int | None = None, lang: str = "zh") -> NetNode:
    """A canvas node for taxpayer ``t`` with a plain-text tooltip (name, tax id, tier, industry, hops)."""
    lines = [t.name, t.tax_id, f"{_t(lang, '风险', 'risk')}: {_tier(lang, tier)}"]
    if t.industry:
        lines.append(f"{_t(lang, '行业', 'industry')}: {t.industry}")
    if hops is not None:
        lines.append(f"{_t(lang, '距中心', 'hops from centre')}: {hops}")
    return NetNode(t.tax_id, t.name or t.tax_id, tier, "\n".join(lines))


def edges_from_table(rows: Sequence[Mapping[str, object]]) -> list[NetEdge]:
    """NetEdges from schema.EDGES rows (dicts)."""
    out = []
    for r in rows:
        out.append(NetEdge(str(r["seller_tax_id"]), str(r["buyer_tax_id"]),
                           int(r.get("total_fen") or 0),  # type: ignore[call-overload]
                           int(r.get("count") or 1)))  # type: ignore[call-overload]
    return out

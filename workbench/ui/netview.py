"""Interactive network views with pyvis, fully offline (vis-network inlined, no CDN).

Names reach the browser safely: labels are drawn on the canvas as text and travel inside the page as
JSON through Jinja's ``tojson`` (which escapes ``<``, ``>`` and ``&``); tooltips are plain text, which
vis-network 9.1.2 (the version pyvis 0.3.2 inlines) sets with ``innerText``, never as HTML. A name such
as ``<script>alert(1)</script>`` therefore shows as those characters and never runs.
Positions are computed in Python (igraph), so the browser does no physics at all for large views.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import igraph as ig
import streamlit as st
from pyvis.network import Network

from graph.core.model import Subgraph, Taxpayer
from workbench.ui.fmt import money
from workbench.ui.i18n import TIER_NAMES, term, tr

TIER_COLOURS: dict[str, str] = {"high": "#d62728", "medium": "#ff9f1c", "low": "#2ca02c"}
UNSCORED_COLOUR = "#8c8c8c"
HIGHLIGHT_BORDER = "#1f3a93"

# pyvis 0.3.2's template always links Bootstrap from a CDN; the view does not need it (offline rule).
_CDN_TAGS = re.compile(r"<link[^>]*https?://[^>]*>|<script[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.S)
_EMPTY_HEADING = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>", re.S)
_PHYSICS_OFF = ('network.once("stabilizationIterationsDone", function () '
                '{ network.setOptions({physics: false}); });\n              return network;')


@dataclass(frozen=True)
class NetNode:
    """A taxpayer on the canvas. ``title`` is the plain-text tooltip (newlines allowed)."""

    id: str
    label: str
    tier: str | None = None
    title: str = ""
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class NetEdge:
    """Aggregated invoices from ``source`` (seller) to ``target`` (buyer)."""

    source: str
    target: str
    total_fen: int = 0
    count: int = 1
    title: str = ""


def layout(node_ids: Sequence[str], edges: Sequence[NetEdge], *, seed: int = 0, span: float = 900.0
           ) -> dict[str, tuple[float, float]]:
    """Fixed positions for ``node_ids`` (Fruchterman-Reingold via igraph, scaled to about ``span`` px).

    Parameters
    ----------
    node_ids : the nodes to place.
    edges : edges between them (others are ignored).
    seed : the layout is deterministic for a given seed.
    span : width of the drawing in pixels; grows with the square root of the node count.
    """
    n = len(node_ids)
    if n == 0:
        return {}
    index = {t: i for i, t in enumerate(node_ids)}
    pairs = [(index[e.source], index[e.target]) for e in edges if e.source in index and e.target in index]
    g = ig.Graph(n=n, edges=pairs, directed=False)
    import random

    random.seed(seed)
    coords = g.layout_fruchterman_reingold(niter=300 if n <= 200 else 120).coords if n > 1 else [[0.0, 0.0]]
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    size = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    scale = min(span, 120 + 90 * math.sqrt(n)) * max(1.0, math.sqrt(n / 60)) / size  # small rings stay compact
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return {t: ((coords[i][0] - cx) * scale, (coords[i][1] - cy) * scale) for t, i in index.items()}


def _edge_width(total_fen: int, biggest: int) -> float:
    if biggest <= 0 or total_fen <= 0:
        return 1.0
    return 1.0 + 7.0 * math.log1p(total_fen) / math.log1p(biggest)


def network_html(nodes: Sequence[NetNode], edges: Sequence[NetEdge], *, height: str = "620px",
                 highlight: Collection[str] = ()) -> str:
    """A self-contained HTML page drawing the network (pyvis, vis-network inlined, no CDN).

    Parameters
    ----------
    nodes : taxpayers to draw, coloured by tier; nodes without ``x``/``y`` are placed with :func:`layout`.
    edges : issuer→buyer edges; width grows with the invoiced amount, tooltip shows count and amount.
    height : CSS height of the drawing.
    highlight : tax ids drawn larger with a thick border (the centre, a ring's members ...).

    Returns
    -------
    str
        HTML for ``streamlit.components.v1.html`` or a file; physics is off (positions fixed), or switched
        off after stabilisation when no position could be computed.
    """
    hl = set(highlight)
    ids = [n.id for n in nodes]
    known = set(ids)
    kept_edges = [e for e in edges if e.source in known and e.target in known]
    positions = layout(ids, kept_edges) if any(n.x is None for n in nodes) else {}
    net = Network(height=height, width="100%", directed=True, cdn_resources="in_line", notebook=False)
    for n in nodes:
        x, y = (n.x, n.y) if n.x is not None and n.y is not None else positions.get(n.id, (0.0, 0.0))
        colour = TIER_COLOURS.get(n.tier or "", UNSCORED_COLOUR)
        tooltip = n.title or f"{n.label}\n{n.id}\n{tr('风险', 'risk')}: {term(TIER_NAMES, n.tier) or '-'}"
        net.add_node(n.id, label=n.label, title=tooltip, x=x, y=y, physics=False, shape="dot",
                     size=22 if n.id in hl else 12, borderWidth=5 if n.id in hl else 1,
                     color={"background": colour, "border": HIGHLIGHT_BORDER if n.id in hl else colour})
    biggest = max((e.total_fen for e in kept_edges), default=0)
    unit = tr("张发票", "invoices")
    for e in kept_edges:  # appended directly: pyvis' add_edge scans every edge for duplicates (quadratic)
        tooltip = e.title or f"{e.source} → {e.target}\n{e.count} {unit}, {money(e.total_fen)}"
        net.edges.append({"from": e.source, "to": e.target, "title": tooltip, "arrows": "to", "color": "#7f8c8d",
                          "width": round(_edge_width(e.total_fen, biggest), 2)})
    net.toggle_physics(False)
    net.set_options('{"interaction": {"hover": true, "navigationButtons": false, "tooltipDelay": 120},'
                    ' "edges": {"smooth": false}, "nodes": {"font": {"size": 14,'
                    ' "face": "Noto Sans CJK SC, Noto Sans SC, sans-serif"}}, "physics": {"enabled": false}}')
    html = net.generate_html(notebook=False)
    html = _CDN_TAGS.sub("", html)
    html = _EMPTY_HEADING.sub("", html)
    return html.replace("return network;", _PHYSICS_OFF, 1)


def from_subgraph(sub: Subgraph, tiers: Mapping[str, str]) -> tuple[list[NetNode], list[NetEdge]]:
    """Nodes and edges of an ego network, coloured with ``tiers`` (tax id -> low/medium/high)."""
    nodes = [taxpayer_node(t, tiers.get(t.tax_id), hops=sub.hops.get(t.tax_id)) for t in sub.nodes]
    return nodes, edges_from_table(sub.edges.to_pylist())


def taxpayer_node(t: Taxpayer, tier: str | None, *, hops: int | None = None) -> NetNode:
    """A canvas node for taxpayer ``t`` with a plain-text tooltip (name, tax id, tier, industry, hops)."""
    lines = [t.name, t.tax_id, f"{tr('风险', 'risk')}: {term(TIER_NAMES, tier) or '-'}"]
    if t.industry:
        lines.append(f"{tr('行业', 'industry')}: {t.industry}")
    if hops is not None:
        lines.append(f"{tr('距中心', 'hops from centre')}: {hops}")
    return NetNode(t.tax_id, t.name or t.tax_id, tier, "\n".join(lines))


def edges_from_table(rows: Sequence[Mapping[str, object]]) -> list[NetEdge]:
    """NetEdges from schema.EDGES rows (dicts)."""
    out = []
    for r in rows:
        out.append(NetEdge(str(r["seller_tax_id"]), str(r["buyer_tax_id"]),
                           int(r.get("total_fen") or 0),  # type: ignore[call-overload]
                           int(r.get("count") or 1)))  # type: ignore[call-overload]
    return out


def show(nodes: Sequence[NetNode], edges: Sequence[NetEdge], *, height: int = 620,
         highlight: Collection[str] = ()) -> None:
    """Render the network inside the current Streamlit page."""
    st.iframe(network_html(nodes, edges, height=f"{height}px", highlight=highlight), height=height + 30)

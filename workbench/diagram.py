"""Static pictures for case files: the ring diagram and the invoice timeline as PNG (matplotlib, Agg).

Chinese names need a CJK font: Debian's ``fonts-noto-cjk`` (Noto Sans CJK SC). :func:`cjk_font` finds
it and raises ConfigError when it is missing, because a report with boxes instead of names is useless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
from matplotlib import font_manager

from graph.core.errors import ConfigError

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK SC",
                "WenQuanYi Zen Hei", "Source Han Sans SC")
TIER_COLOURS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#2ca02c"}


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str


def cjk_font() -> CjkFont:
    """The first installed CJK font matplotlib knows (Noto Sans CJK SC preferred).

    Raises
    ------
    ConfigError
        No CJK font is installed (``apt-get install fonts-noto-cjk``).
    """
    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in by_name:
            return CjkFont(fam, by_name[fam])
    raise ConfigError("no CJK font found for Chinese labels in images: install fonts-noto-cjk "
                      "(Debian/Ubuntu: apt-get install fonts-noto-cjk)")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() or c == "\n" else " " for c in text)


def _style() -> CjkFont:
    font = cjk_font()
    plt.rcParams["font.family"] = [font.family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return font


def ring_diagram_png(path: Path, nodes: Sequence[tuple[str, str]], edges: Sequence[tuple[str, str, int]], *,
                     title: str = "", tiers: Mapping[str, str] | None = None,
                     highlight: Sequence[str] = ()) -> CjkFont:
    """Draw a ring (taxpayers and issuer→buyer invoice flows) to a PNG.

    Parameters
    ----------
    path : Path
        Where to write the PNG.
    nodes : sequence of (tax_id, name)
        Taxpayers; labels show the name and the last 6 characters of the tax id.
    edges : sequence of (seller_tax_id, buyer_tax_id, total_fen)
        Arrow width grows with the amount.
    title : str
        Picture title (Chinese is fine).
    tiers : mapping tax_id -> tier, optional
        Node colour (high red, medium orange, low green; grey when unknown).
    highlight : sequence of str
        Tax ids drawn with a thick black border.

    Returns
    -------
    CjkFont
        The font used for the labels.
    """
    font = _style()
    tiers = tiers or {}
    g: nx.DiGraph[str] = nx.DiGraph()
    for tid, _name in nodes:
        g.add_node(tid)
    for a, b, fen in edges:
        if a in g and b in g:
            w = g.edges[a, b]["fen"] + fen if g.has_edge(a, b) else fen
            g.add_edge(a, b, fen=w)
    n = max(g.number_of_nodes(), 1)
    pos = nx.circular_layout(g) if n <= 12 else nx.spring_layout(g, seed=0, k=2 / math.sqrt(n))
    size = min(14.0, 6.0 + 0.25 * n)
    fig, ax = plt.subplots(figsize=(size, size * 0.75), dpi=110)
    try:
        biggest = max((d["fen"] for _, _, d in g.edges(data=True)), default=1) or 1
        widths = [0.8 + 4.0 * d["fen"] / biggest for _, _, d in g.edges(data=True)]
        nx.draw_networkx_edges(g, pos, ax=ax, width=widths, edge_color="#555555", arrows=True,
                               arrowstyle="-|>", arrowsize=14, connectionstyle="arc3,rad=0.08",
                               node_size=900)
        colours = [TIER_COLOURS.get(tiers.get(t, ""), "#9e9e9e") for t in g.nodes]
        borders = ["#000000" if t in highlight else "#ffffff" for t in g.nodes]
        nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, edgecolors=borders,
                               linewidths=[3.0 if t in highlight else 1.0 for t in g.nodes], node_size=900)
        names = dict(nodes)
        labels = {t: f"{_printable(names.get(t, ''))[:14]}\n…{_printable(t)[-6:]}" for t in g.nodes}
        label_pos = {t: (x, y - 0.14) for t, (x, y) in pos.items()}
        nx.draw_networkx_labels(g, label_pos, labels=labels, ax=ax, font_size=8, font_family=font.family,
                                verticalalignment="top")
        if g.number_of_edges() <= 30:
            edge_labels = {(a, b): f"¥{d['fen'] / 100:,.0f}" for a, b, d in g.edges(data=True)}
            nx.draw_networkx_edge_labels(g, pos, edge_labels=edge_labels, ax=ax, font_size=7,
                                         font_family=font.family)
        ax.set_title(_printable(title), fontsize=12, fontfamily=font.family)
        ax.axis("off")
        ax.margins(0.12)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return font


def timeline_png(path: Path, rows: Sequence[tuple[datetime, int, str]], *, title: str = "") -> CjkFont:
    """Plot invoices over time: one dot per invoice (x = issue time, y = total in yuan), coloured by status.

    Parameters
    ----------
    rows : sequence of (issued_at, total_fen, status)
    """
    font = _style()
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    try:
        statuses = sorted({s for _, _, s in rows})
        for st in statuses:
            pts = [(t, fen / 100) for t, fen, s in rows if s == st]
            xs: Any = [p[0] for p in pts]
            ax.scatter(xs, [p[1] for p in pts], s=18, label=st, alpha=0.8)
        if statuses:
            ax.legend(loc="upper left", fontsize=8)
        ax.set_ylabel("价税合计（元） / total (yuan)", fontfamily=font.family)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_title(_printable(title), fontfamily=font.family)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return font

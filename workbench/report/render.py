"""The period report as one self-contained HTML page (Chinese first): figures in tables, two charts as PNG
images drawn with matplotlib in a CJK font and embedded as data URIs, so the file opens anywhere offline and
prints to PDF as it is."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from graph.core import vocab
from graph.core.schema import TZ
from workbench.diagram import TIER_COLOURS, cjk_font
from workbench.report.figures import Activity, PeriodReport

_TZ = ZoneInfo(TZ)

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: 'Noto Sans CJK SC', 'Noto Sans', sans-serif; color: #222; max-width: 1000px; margin: 1.5em auto;
       font-size: 13px; }
h1 { font-size: 22px; margin-bottom: 0; } h2 { font-size: 16px; border-bottom: 2px solid #c00; padding-bottom: 2px;
       margin-top: 1.6em; break-after: avoid; }
.en { color: #777; font-size: 11px; font-weight: normal; }
.meta { color: #555; margin: 0.3em 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0; break-inside: auto; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; } img { width: 560px; max-width: 100%; display: block; break-inside: avoid; }
.up { color: #c00; } .down { color: #080; } .note { color: #a60; }
"""


def yuan(fen: int) -> str:
    """An amount in fen as exact 元: ``'1,234.56 元'``.

    Examples
    --------
    >>> yuan(123456)
    '1,234.56 元'
    >>> yuan(-5)
    '-0.05 元'
    """
    sign = "-" if fen < 0 else ""
    a = abs(int(fen))
    return f"{sign}{a // 100:,}.{a % 100:02d} 元"


def stamp(at: datetime | None) -> str:
    """``'2026-12-02 17:05'`` in Asia/Shanghai time; empty for None."""
    return "" if at is None else at.astimezone(_TZ).strftime("%Y-%m-%d %H:%M")


def signed(n: int) -> str:
    """A change with its sign and a class for its colour: more high-risk taxpayers is bad news."""
    if n == 0:
        return "0"
    return f"+{n:,}" if n > 0 else f"{n:,}"


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _bars(labels: Sequence[str], now: Sequence[int], before: Sequence[int], colours: Sequence[str],
          title: str) -> str:
    """Paired horizontal bars (本期 solid, 上期 pale) as a PNG data URI."""
    font = cjk_font()
    with plt.rc_context({"font.family": [font.family, "DejaVu Sans"], "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(6.0, 0.5 * len(labels) + 1.0))
        ys = range(len(labels))
        ax.barh([y - 0.2 for y in ys], list(now), height=0.4, color=list(colours), label="本期")
        ax.barh([y + 0.2 for y in ys], list(before), height=0.4, color=list(colours), alpha=0.35, label="上期")
        for y, a, b in zip(ys, now, before, strict=True):
            ax.text(a, y - 0.2, f" {a:,}", va="center", fontsize=9)
            ax.text(b, y + 0.2, f" {b:,}", va="center", fontsize=9, color="#666")
        ax.set_yticks(list(ys), list(labels))
        ax.invert_yaxis()
        ax.set_title(title, fontsize=11)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlim(0, max(1, *now, *before) * 1.15)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return _png(fig)


def tier_chart(report: PeriodReport) -> str:
    rows = report.tiers
    return _bars([vocab.zh(vocab.TIERS, r.tier) for r in rows], [r.now for r in rows], [r.before for r in rows],
                 [TIER_COLOURS.get(r.tier, "#888") for r in rows], "各风险等级纳税人数：本期与上期")


def activity_chart(report: PeriodReport) -> str:
    a, b = report.activity, report.previous_activity
    return _bars(["立案", "结案", "提醒"], [a.cases_opened, a.cases_closed, a.alerts],
                 [b.cases_opened, b.cases_closed, b.alerts], ["#1f77b4", "#9467bd", "#ff7f0e"],
                 "案件与提醒：本期与上期")


def _e(text: object) -> str:
    return html.escape(str(text))


def _row(cells: Sequence[object], numeric: Sequence[bool] | None = None) -> str:
    numeric = numeric or [False] * len(cells)
    return "<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if n else f"<td>{_e(c)}</td>"
                            for c, n in zip(cells, numeric, strict=True)) + "</tr>"


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"


def _change_cell(n: int) -> str:
    cls = "up" if n > 0 else "down" if n < 0 else ""
    return f'<td class="n {cls}">{_e(signed(n))}</td>'


def _activity_rows(a: Activity, b: Activity) -> str:
    rows = [("新立案件", a.cases_opened, b.cases_opened), ("结案", a.cases_closed, b.cases_closed)]
    rows += [(f"　其中：{vocab.zh(vocab.CASE_STATUSES, s)}", a.closed_as.get(s, 0), b.closed_as.get(s, 0))
             for s in ("confirmed", "closed_no_action")]
    rows += [("提醒（去重）", a.alerts, b.alerts), ("提醒送达人次", a.alert_recipients, b.alert_recipients)]
    return "".join(f'<tr><td>{_e(name)}</td><td class="n">{now:,}</td><td class="n">{before:,}</td>'
                   f"{_change_cell(now - before)}</tr>" for name, now, before in rows)


def to_html(report: PeriodReport) -> str:
    """The report as a complete HTML document (UTF-8, no external resources)."""
    p, q = report.period, report.previous
    run = report.run
    parts = [
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
        f"<title>期间报告 {_e(p.label())}</title><style>{CSS}</style></head><body>",
        f"<h1>发票虚开团伙调查 · 期间报告</h1><div class=\"en\">Period report {p.first} – {p.last}</div>",
        f"<p class=\"meta\">报告期间：{_e(p.label())}（{p.days} 天）　对比期间：{_e(q.label())}<br>"
        f"生成时间：{stamp(report.made_at)}（北京时间）　生成人：{_e(report.made_by)}<br>"
        f"所依据的检测：{_e(stamp(run.created_at) + '（' + run.run_id + '）') if run else '无'}"
        f"　上期依据：{_e(stamp(report.previous_run.created_at)) if report.previous_run else '无'}</p>",
    ]
    parts += [f'<p class="note">{_e(n)}</p>' for n in report.notes]
    parts.append("<h2>风险等级分布 <span class=\"en\">Risk tiers at the end of the period</span></h2>")
    parts.append("<table>" + _head("风险等级", "本期末", "上期末", "变化") + "".join(
        f'<tr><td>{_e(vocab.zh(vocab.TIERS, r.tier))}</td><td class="n">{r.now:,}</td>'
        f'<td class="n">{r.before:,}</td>{_change_cell(r.change)}</tr>' for r in report.tiers) + "</table>")
    if report.overrides_applied:
        parts.append(f"<p>其中 {report.overrides_applied:,} 户的等级由主管人工调整。</p>")
    parts.append(f'<img alt="风险等级分布图" src="{tier_chart(report)}">')
    parts.append("<h2>重点团伙 <span class=\"en\">Top rings</span></h2>")
    parts.append(f"<p>本期末检测到团伙 {report.rings:,} 个，其中新发现 {report.new_rings:,} 个"
                 f"（上期末的检测中没有相同成员的团伙）。按评分列出前 {len(report.top_rings)} 个：</p>")
    if report.top_rings:
        parts.append("<table>" + _head("序号", "团伙", "成员", "发票", "价税合计", "评分", "首张发票", "末张发票", "新发现")
                     + "".join(_row([i, r.title_zh, r.members, r.invoices, yuan(r.fen), f"{r.score:.3f}",
                                     stamp(r.first), stamp(r.last), "是" if r.new else ""],
                                    [True, False, True, True, True, True, True, True, False])
                               for i, r in enumerate(report.top_rings, start=1)) + "</table>")
    parts.append("<h2>案件与提醒 <span class=\"en\">Cases and alerts</span></h2>")
    parts.append("<table>" + _head("项目", "本期", "上期", "变化")
                 + _activity_rows(report.activity, report.previous_activity) + "</table>")
    if report.activity.alerts_by_rule:
        parts.append("<table>" + _head("提醒规则", "本期提醒") + "".join(
            _row([vocab.zh(vocab.ALERT_RULES, rule), f"{n:,}"], [False, True])
            for rule, n in report.activity.alerts_by_rule.items()) + "</table>")
    parts.append(f'<img alt="案件与提醒图" src="{activity_chart(report)}">')
    parts.append("<p class=\"meta\">时间均为北京时间（Asia/Shanghai）；金额由整数“分”换算为元。</p></body></html>")
    return "".join(parts)

"""Read models of the pages: plain functions from the store to typed results, tested without Streamlit.

Pages call these and keep only widgets and ``st.*`` calls. Missing values come back as ``""`` or ``None``
for the page's formatter, never as NaN/NaT.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from graph.core import notes, vocab
from graph.core.model import Ring, RingQuery, Run, ScoreQuery, Taxpayer
from graph.core.notes import Note
from graph.core.schema import TZ
from graph.store import Store
from workbench.fmt import money_full
from workbench.overrides import ASSIGNMENT_KIND, OVERRIDE_KIND, latest
from workbench.report.rings import RingSummary as RingSummary
from workbench.report.rings import ring_summaries as ring_summaries
from workbench.report.rings import ring_titles as ring_titles
from workbench.report.rings import short_name as short_name
from workbench.report.rings import summary

_TZ = ZoneInfo(TZ)


@dataclass(frozen=True)
class Overview:
    """The overview's totals. ``rings`` counts the newest run's rings only (earlier runs are history)."""

    taxpayers: int
    invoices: int
    rings: int
    latest: Run | None
    tiers: dict[str, int] = field(default_factory=dict)   # newest run: taxpayers per tier, high first


@dataclass(frozen=True)
class News:
    """What the newest run found that the previous one did not."""

    run: Run
    previous: Run
    new_high: list[str]          # tax ids high in the newest run and not high in the previous one, sorted
    new_rings: list[Ring]        # rings whose member set the previous run did not have


def _high(scores: pa.Table) -> set[str]:
    return {t for t, tier in zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(),
                                 strict=True) if tier == "high"}


def overview(store: Store) -> Overview:
    """Totals for the overview page, tiers and rings from the newest detection run."""
    counts = store.counts()
    runs = store.runs()
    if not runs:
        return Overview(counts.taxpayers, counts.invoices, 0, None)
    tiers = store.scores(runs[0].run_id).column("tier").to_pylist()
    return Overview(counts.taxpayers, counts.invoices, len(store.rings(runs[0].run_id)), runs[0],
                    {t: tiers.count(t) for t in reversed(vocab.TIERS)})


def news(store: Store) -> News | None:
    """New high-risk taxpayers and new rings of the newest run against the previous one (None: fewer than two)."""
    runs = store.runs()
    if len(runs) < 2:
        return None
    new, old = runs[0], runs[1]
    old_sets = {frozenset(r.members) for r in store.rings(old.run_id)}
    return News(new, old, sorted(_high(store.scores(new.run_id)) - _high(store.scores(old.run_id))),
                [r for r in store.rings(new.run_id) if frozenset(r.members) not in old_sets])


def rings_of(store: Store, tax_id: str) -> list[Ring]:
    """The newest run's rings that ``tax_id`` is a member of, highest score first (none before a run)."""
    if not store.runs():
        return []
    return [r for r in store.rings() if tax_id in r.members]


@dataclass(frozen=True)
class Counterparty:
    """One trading partner of a taxpayer in one direction (``out``: the taxpayer sold to it)."""

    tax_id: str
    name: str
    direction: str               # "out" | "in"
    invoices: int
    fen: int


def counterparties(invoices: pa.Table, tax_id: str, limit: int = 15) -> list[Counterparty]:
    """The largest partners of ``tax_id`` in ``invoices`` (schema.INVOICES rows it issued or received),
    by total amount per partner and direction, largest first."""
    if invoices.num_rows == 0:
        return []
    is_out = pc.equal(invoices.column("seller_tax_id"), tax_id)
    table = pa.table({
        "tax_id": pc.if_else(is_out, invoices.column("buyer_tax_id"), invoices.column("seller_tax_id")),
        "name": pc.if_else(is_out, invoices.column("buyer_name"), invoices.column("seller_name")),
        "dir": pc.if_else(is_out, "out", "in"), "fen": invoices.column("total_fen")})
    rows = (table.group_by(["tax_id", "name", "dir"]).aggregate([("fen", "sum"), ("fen", "count")])
            .sort_by([("fen_sum", "descending"), ("tax_id", "ascending")]).slice(0, limit).to_pylist())
    return [Counterparty(r["tax_id"], r["name"] or "", r["dir"], int(r["fen_count"]), int(r["fen_sum"] or 0))
            for r in rows]


@dataclass(frozen=True)
class SharedIdentifier:
    """One identifier of a taxpayer and the other taxpayers registered with the same value."""

    kind: str                    # vocab identifier kind: legal_rep, phone, address, bank_account ...
    value: str
    others: tuple[str, ...]      # tax ids, sorted


def shared_identifiers(index: pa.Table, tax_id: str, own: Sequence[tuple[str, str]]) -> list[SharedIdentifier]:
    """For each (kind, value) of ``own``, who else in ``index`` (schema.IDENTIFIERS rows) has it."""
    holders: dict[tuple[str, str], set[str]] = {}
    wanted = set(own)
    for t, k, v in zip(index.column("tax_id").to_pylist(), index.column("kind").to_pylist(),
                       index.column("value").to_pylist(), strict=True):
        if (k, v) in wanted and t != tax_id:
            holders.setdefault((k, v), set()).add(t)
    return [SharedIdentifier(k, v, tuple(sorted(holders.get((k, v), ())))) for k, v in own]


@dataclass
class Exploration:
    """The explorer's view: taxpayers around the centre (and expanded nodes), their hops, the edges."""

    nodes: dict[str, Taxpayer]
    hops: dict[str, int]
    edges: list[dict[str, Any]]  # schema.EDGES rows between kept nodes
    dropped: int                 # reachable taxpayers cut by the cap


def explore(store: Store, focus: Sequence[str], *, hops: int = 1, start: datetime | None = None,
            end: datetime | None = None, min_fen: int = 0, cap: int = 400) -> Exploration:
    """The union of the ego networks of ``focus`` (centre first), at most ``cap`` taxpayers.

    The centre's neighbourhood takes the budget first; each expanded node adds what still fits. Nodes
    found only through an expansion count as ``hops + 1`` from the centre.
    """
    nodes: dict[str, Taxpayer] = {}
    hop_of: dict[str, int] = {}
    edge_rows: dict[tuple[str, str], dict[str, Any]] = {}
    dropped = 0
    for i, tid in enumerate(focus):
        budget = cap - len(nodes) if i else cap
        if budget <= 0:
            break
        sub = store.ego_network(tid, hops=hops, start=start, end=end, min_amount_fen=min_fen,
                                limit=budget + (1 if i else 0))
        dropped += sub.dropped
        for t in sub.nodes:
            if t.tax_id not in nodes and len(nodes) < cap:
                nodes[t.tax_id] = t
                hop_of[t.tax_id] = sub.hops.get(t.tax_id, 0) if i == 0 else hop_of.get(t.tax_id, hops + 1)
        for r in sub.edges.to_pylist():
            edge_rows[(r["seller_tax_id"], r["buyer_tax_id"])] = r
    edges = [r for (s, b), r in edge_rows.items() if s in nodes and b in nodes]
    return Exploration(nodes, hop_of, edges, dropped)


def invoices_in_view(store: Store, focus: Sequence[str], keep: Collection[str], *, start: datetime | None = None,
                     end: datetime | None = None, min_fen: int = 0, cap: int = 20_000) -> tuple[pa.Table, bool]:
    """Invoices of the ``focus`` taxpayers between taxpayers in ``keep``, each once, oldest first.

    Returns the table and whether any focus taxpayer had ``cap`` or more invoices (only the newest
    ``cap`` of each are read).
    """
    parts = [store.invoices_of(t, start=start, end=end, limit=cap) for t in focus if t in keep]
    if not parts:
        return pa.table({}), False
    capped = any(p.num_rows >= cap for p in parts)
    inv = pa.concat_tables(parts)
    ids = pa.array(list(keep), pa.string())
    mask = pc.and_(pc.and_(pc.is_in(inv.column("seller_tax_id"), ids), pc.is_in(inv.column("buyer_tax_id"), ids)),
                   pc.greater_equal(inv.column("total_fen"), min_fen))
    inv = inv.filter(mask)
    seen: set[str] = set()
    idx = []
    for i, k in enumerate(inv.column("key").to_pylist()):  # an invoice between two focus nodes comes twice
        if k not in seen:
            seen.add(k)
            idx.append(i)
    return inv.take(pa.array(idx, pa.int64())).sort_by([("issued_at", "ascending")]), capped


def ring_invoices(store: Store, ring: Ring, cap: int = 5000) -> pa.Table:
    """The invoices of ``ring``: those its finding names, or, for a finding that names none (a community,
    a shared-identity group), the invoices between its members, oldest first (each member's newest
    ``cap`` read)."""
    if ring.invoice_keys:
        return store.invoices(list(ring.invoice_keys)).sort_by([("issued_at", "ascending")])
    members = set(ring.members)
    parts = [store.invoices_of(m, limit=cap) for m in ring.members]
    if not parts:
        return store.invoices([])
    inv = pa.concat_tables(parts)
    ids = pa.array(sorted(members), pa.string())
    inv = inv.filter(pc.and_(pc.is_in(inv.column("seller_tax_id"), ids), pc.is_in(inv.column("buyer_tax_id"), ids)))
    seen: set[str] = set()
    idx = []
    for i, k in enumerate(inv.column("key").to_pylist()):
        if k not in seen:
            seen.add(k)
            idx.append(i)
    return inv.take(pa.array(idx, pa.int64())).sort_by([("issued_at", "ascending")])


def ring_identifiers(store: Store, ring: Ring) -> list[SharedIdentifier]:
    """Identifiers (phone, representative, account ...) that two or more members of ``ring`` share; the
    ``others`` of each are the members holding it."""
    holders: dict[tuple[str, str], set[str]] = {}
    for row in store.identifiers(list(ring.members)).to_pylist():
        holders.setdefault((row["kind"], row["value"]), set()).add(row["tax_id"])
    return [SharedIdentifier(k, v, tuple(sorted(h))) for (k, v), h in sorted(holders.items()) if len(h) >= 2]


def ring_query(*, kinds: Collection[str] | None = None, min_score: float = 0.0, min_fen: int = 0,
               start: date | None = None, end: date | None = None) -> RingQuery:
    """The rings list's filters for the store: kinds (None or empty: all), minimum score, minimum total (fen), and
    invoices inside ``start``..``end`` (local dates, inclusive; a ring without stored invoices passes only when
    no date is set)."""
    return RingQuery(kinds=tuple(sorted(kinds)) if kinds else None, min_score=float(min_score), min_fen=int(min_fen),
                     start=None if start is None else datetime.combine(start, time(), _TZ),
                     end=None if end is None else datetime.combine(end + timedelta(days=1), time(), _TZ))


@dataclass(frozen=True)
class RingList:
    """One page of the rings list: its rows and each ring's (Chinese, English) title."""

    rows: list[RingSummary]
    titles: dict[str, tuple[str, str]]


def ring_list(store: Store, run_id: str, where: RingQuery, *, skip: int = 0, limit: int | None = None) -> RingList:
    """The rings of ``run_id`` that pass ``where``, highest score first, ``skip`` / ``limit`` a page (read by the
    store a page at a time), with their readable titles."""
    rows = store.rings_page(run_id, where, skip=skip, limit=limit)
    return RingList([summary(r) for r in rows], ring_titles(store, [r.ring for r in rows]))


@dataclass(frozen=True)
class QueueRow:
    """One taxpayer of the risk queue: the model's score and tier, the tier in force, who decided what."""

    tax_id: str
    name: str
    score: float
    model_tier: str
    tier: str                     # in force: the newest override, else the model's
    industry: str
    region: str
    reasons: str                  # the score's reasons, joined with " | "
    override_reason: str = ""
    override_by: str = ""
    assignee: str = ""


def queue_query(store: Store, *, tiers: Collection[str] | None = None, min_score: float = 0.0,
                industries: Collection[str] = (), regions: Collection[str] = (), text: str = "",
                tax_ids: Collection[str] | None = None) -> ScoreQuery:
    """The risk queue's filters for the store, with the supervisors' tier overrides in force (``tiers`` filters
    on those); industries / regions: none chosen is all; ``text``: a name fragment or a tax id prefix."""
    overrides = {t: str(rec["tier"]) for t, rec in latest(store, OVERRIDE_KIND).items()}
    return ScoreQuery(tiers=None if tiers is None else tuple(tiers), min_score=float(min_score),
                      industries=tuple(industries) or None, regions=tuple(regions) or None,
                      text=text.strip() or None, tax_ids=None if tax_ids is None else tuple(tax_ids),
                      overrides=overrides)


def _reasons(text: str | None) -> str:
    if isinstance(text, str) and text.startswith("["):
        return " | ".join(str(r) for r in json.loads(text))
    return str(text or "")


def queue_page(store: Store, where: ScoreQuery, *, skip: int = 0, limit: int | None = None) -> list[QueueRow]:
    """The risk queue's rows that pass ``where`` (see :func:`queue_query`), highest score first, ``skip`` /
    ``limit`` a page (read by the store a page at a time), with overrides and assignments."""
    page = store.scores_page(None, where, skip=skip, limit=limit).to_pylist()
    decided = latest(store, OVERRIDE_KIND)
    assigned = latest(store, ASSIGNMENT_KIND)
    out = []
    for r in page:
        ov = decided.get(r["tax_id"], {})
        out.append(QueueRow(r["tax_id"], r["name"] or "", float(r["score"]), str(r["tier"]),
                            where.overrides.get(r["tax_id"], str(r["tier"])), r["industry"] or "", r["region"] or "",
                            _reasons(r["reasons"]), str(ov.get("reason") or ""), str(ov.get("by") or ""),
                            str(assigned.get(r["tax_id"], {}).get("investigator") or "")))
    return out


#: The invoice page's item-line table (明细): its column headers, in order
ITEM_LINE_HEADERS = ("行", "项目名称", "税收分类编码", "规格型号", "单位", "数量", "单价（元）", "金额（元）", "税率",
                     "税额（元）")


def _yuan(fen: int | None) -> str:
    return "" if fen is None else money_full(fen).replace("¥", "")


def item_lines(store: Store, key: str) -> list[dict[str, str]]:
    """Invoice ``key``'s item lines as the invoice page shows them (:data:`ITEM_LINE_HEADERS`): amounts in 元 with
    thousands separators, the rate in percent, the unit price as printed; blanks where a value is missing."""
    rows = []
    for r in store.item_lines(key).to_pylist():
        qty = r["quantity"]
        values = (str(r["line"]), r["item_name"] or "", r["item_code"] or "", r["spec"] or "", r["unit"] or "",
                  "" if qty is None else f"{qty:g}", r["unit_price"] or "", _yuan(r["amount_fen"]),
                  "" if r["rate"] is None else f"{r['rate'] * 100:g}%", _yuan(r["tax_fen"]))
        rows.append(dict(zip(ITEM_LINE_HEADERS, values, strict=True)))
    return rows


PAGE_SIZES = (10, 25, 50, 100, 200)   #: rows per page a long table offers (50 unless the address says otherwise)


@dataclass(frozen=True)
class Paging:
    """One page of a long table: ``page`` (1-based, within the table), ``size`` rows each, ``total`` rows."""

    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        """The 1-based number of the page's first row (0 when the table is empty)."""
        return min(self.skip + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.skip + self.size, self.total)


def paging(total: int, page: int, size: int) -> Paging:
    """The page ``page`` of ``total`` rows, ``size`` a page; a page past the end is the last page, one before
    the start the first (a link made when the table was longer, or a filter that shortened it).

    Examples
    --------
    >>> p = paging(120, 3, 50); (p.pages, p.skip, p.first, p.last)
    (3, 100, 101, 120)
    >>> paging(120, 9, 50).page, paging(0, 2, 50).page, paging(10, 0, 50).page
    (3, 1, 1)
    """
    size = max(1, int(size))
    pages = max(1, -(-int(total) // size))
    return Paging(min(max(1, int(page)), pages), size, int(total))


# --- the audit trail in words ------------------------------------------------------------------------------------
#: the kinds of object an audit event names (``kind:id``), in Chinese
def _vocab(table: dict[str, tuple[str, str]], code: str) -> str:
    pair = table.get(code)
    return pair[0] if pair else code


def audit_target_zh(target: str) -> str:
    """An audit event's object in Chinese words: ``taxpayer:9144…`` → ``纳税人 9144…`` (unknown kinds unchanged)."""
    kind, sep, rest = target.partition(":")
    return f"{vocab.AUDIT_TARGETS[kind][0]} {rest}" if sep and kind in vocab.AUDIT_TARGETS else target


def audit_detail_zh(action: str, detail: str) -> str:
    """An audit event's detail in Chinese: a coded note (graph.core.notes: counts, roles, tiers, statuses) worded
    by its code; free text (reasons, notes) and details stored before they had codes are kept as written. The
    stored detail, which the hash chain covers, is unchanged."""
    if action == "report" and detail in ("html", "pdf"):
        return detail.upper()
    return notes.zh_text(detail)


def audit_actor_zh(actor: str) -> str:
    """An audit event's actor in words: ``anonymous`` (no signed-in user: set-up, failed sign-ins) → 未登录,
    ``cli:<login>`` (the command line, audit.cli_actor) → ``命令行（<login>）``, ``system:alerts`` → 系统（提醒）."""
    if actor == "anonymous":
        return "未登录"
    if actor.startswith("system:"):    # the workbench's own threads (system:alerts: the alert rounds)
        return "系统（" + {"alerts": "提醒"}.get(actor[7:], actor[7:]) + "）"
    return f"命令行（{actor[4:]}）" if actor.startswith("cli:") else actor


def audit_role_zh(role: str) -> str:
    """An audit event's role(s) in words: the workbench roles (``investigator,supervisor`` → 调查员、审核主管),
    ``cli`` (the command line) → 命令行."""
    words = {"cli": "命令行", "system": "系统"}
    return "、".join(words.get(r) or _vocab(vocab.ROLES, r) for r in role.split(",") if r)


def import_note_zh(note: Note | str) -> str:
    """A note of the import report (loaders: skipped title and total rows, evidence folder, per-file and
    per-sheet counts) in Chinese, worded by its code (graph.core.notes); text written before notes had codes
    is kept as written."""
    return notes.zh_text(note)


def default_last_day(store: Store, today: date) -> date:
    """The last day the period report offers first: today, or, when the store holds no invoices after it (a
    demo or an archive: the report of the last 30 days would be empty), the later of the last day of the
    newest month with invoices and the day of the newest detection run. The report reads its tiers and rings
    from the last run before the period ends, so a period that ends before every run is empty (the demo
    offered June 2025 with its run made on the day of the demo: 所依据的检测：无, every count 0)."""
    months = store.invoice_months().column("month").to_pylist()
    if not months:
        return today
    year, month = (int(x) for x in str(months[-1]).split("-"))
    end_of_month = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    runs = [r.created_at.astimezone(ZoneInfo(TZ)).date() for r in store.runs()]
    return min(today, max([end_of_month, *runs]))

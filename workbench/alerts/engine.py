"""The rule engine: from the store's state to candidate alerts (who should hear about what).

Each rule is a function of the store and the time, so evaluating twice finds the same candidates and the
alert ids (:func:`workbench.alerts.model.alert_id`) make the second evaluation raise nothing. Events that
leave no state behind (a 查验 call for a void invoice) come in through :func:`verify_void`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from graph.core import settings, vocab
from graph.core.model import Invoice
from graph.store import Store
from workbench import appeals, cases
from workbench.alerts.model import Rule, Subscription
from workbench.audit import TZ

_CLOSED_CASE = ("confirmed", "closed_no_action")


@dataclass(frozen=True)
class Candidate:
    """Something a rule found: ``people`` are named recipients (watchers, the case's owner and assignee);
    the rule's roles are added when alerts are raised."""

    rule: str
    episode: str
    subject: str
    title: str
    detail: str
    people: frozenset[str] = frozenset()
    case: cases.Case | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: only ``people`` receive it (the rule's roles are not added): a follow-up to the people who got an alert
    only_people: bool = False


@dataclass(frozen=True)
class Context:
    store: Store
    now: datetime
    rules: dict[str, Rule]
    subs: dict[str, Subscription]

    def watchers(self, tax_ids: set[str] | tuple[str, ...]) -> frozenset[str]:
        wanted = set(tax_ids)
        return frozenset(u for u, s in self.subs.items() if wanted.intersection(s.watch))


def _label(rule: str) -> str:
    """The rule's Chinese name, which a title starts with; the English name travels as the rule's code (pages
    word it, a webhook's payload carries rule / rule_zh / rule_en and the values in data)."""
    return vocab.ALERT_RULES[rule][0]


def _name(store: Store, tax_id: str) -> str:
    return _names(store, [tax_id])[tax_id]


def _names(store: Store, tax_ids: Sequence[str]) -> dict[str, str]:
    """tax_id → "name（tax_id）" (the bare tax id when the taxpayer is unknown or nameless), read in one query: a run
    can make many taxpayers newly high (one by one, AMLSim's 1,123 high taxpayers took ~2 ms each)."""
    found = store.taxpayers(list(tax_ids)) if tax_ids else None
    named = {} if found is None else {t: n for t, n in zip(found.column("tax_id").to_pylist(),
                                                           found.column("name").to_pylist(), strict=True) if n}
    return {t: f"{named[t]}（{t}）" if t in named else t for t in tax_ids}


def _high(scores: pa.Table) -> set[str]:
    return {t for t, tier in zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(),
                                 strict=True) if tier == "high"}


def new_high(ctx: Context) -> list[Candidate]:
    """Taxpayers high in the newest run and not high in the one before, except those a fast update based on the run
    before already alerted (:mod:`workbench.fast_update`: the exact run confirms them, no second alert); and for each
    provisional alert of such a fast update that the newest run does not confirm (the taxpayer is not high in it), a
    follow-up to the people who got it (:func:`unconfirmed`).

    On a workspace's first run every high taxpayer would be "new": the rule's roles hear of them once, in the
    summary of :func:`first_run`, and only the people watching a taxpayer get its alert here (``only_people``)."""
    from workbench import fast_update

    runs = ctx.store.runs()
    if not runs:
        return []
    first = len(runs) == 1
    before = set() if first else _high(ctx.store.scores(runs[1].run_id))
    fast = set() if first else fast_update.alerted(ctx.store, runs[1].run_id)
    scores = {r["tax_id"]: r for r in ctx.store.scores(runs[0].run_id).to_pylist()}
    high = {t for t, r in scores.items() if r["tier"] == "high"}
    out = unconfirmed(ctx, runs[1].run_id, runs[0].run_id, sorted(fast - high), scores) if fast - high else []
    new = [(t, ctx.watchers((t,))) for t in sorted(high - before - fast)]
    if first:
        new = [(t, people) for t, people in new if people]
    names = _names(ctx.store, [t for t, _ in new])
    for tax_id, people in new:
        row = scores[tax_id]
        out.append(Candidate("new_high", f"{tax_id}|{runs[0].run_id}", f"taxpayer:{tax_id}",
                             f"{_label('new_high')}：{names[tax_id]}",
                             f"风险分 {row['score']:.2f}{_reasons(row['reasons'])}", people,
                             data={"tax_id": tax_id, "run_id": runs[0].run_id, "score": round(row["score"], 4)},
                             only_people=first))
    return out


#: how many of a first run's high-risk taxpayers the summary names in its detail, and lists in ``data.tax_ids``
#: (highest score first; a webhook's payload stays small however many there are: the risk queue holds them all)
FIRST_RUN_NAMED = 5
FIRST_RUN_LISTED = 20


def first_run(ctx: Context) -> list[Candidate]:
    """The first detection run of a workspace (the store holds one run, so no fast update can wait to be
    reconciled): one summary alert for the rule's roles instead of one ``new_high`` per taxpayer, titled
    ``首次检测：N 家高风险纳税人``, naming the :data:`FIRST_RUN_NAMED` highest scores and pointing at the risk queue.
    Subject ``run:<run id>``, episode the run id (raised once per run), ``data``: ``run_id``, ``count``, ``tax_ids``
    (the :data:`FIRST_RUN_LISTED` highest, score descending, ties by tax id), ``rings`` (how many the run found;
    :func:`new_ring` leaves a first run's rings to this summary too). Nothing when no taxpayer is high."""
    runs = ctx.store.runs()
    if len(runs) != 1:
        return []
    run_id = runs[0].run_id
    rows = sorted(((str(r["tax_id"]), float(r["score"])) for r in ctx.store.scores(run_id).to_pylist()
                   if r["tier"] == "high"), key=lambda r: (-r[1], r[0]))
    if not rows:
        return []
    rings = ctx.store.rings_count(run_id)
    top = rows[:FIRST_RUN_NAMED]
    names = _names(ctx.store, [t for t, _ in top])
    more = f"等 {len(rows):,} 家" if len(rows) > len(top) else f"共 {len(rows):,} 家"
    detail = (f"首次检测（运行 {run_id}）发现 {len(rows):,} 家高风险纳税人、{rings:,} 个团伙。风险分最高的："
              + "；".join(f"{names[t]} {score:.2f}" for t, score in top)
              + f"，{more}。请在「风险队列」「团伙」页面逐一复核；此后的检测只对新增的高风险纳税人和团伙逐一提醒。")
    return [Candidate("first_run", run_id, f"run:{run_id}", f"{_label('first_run')}：{len(rows):,} 家高风险纳税人",
                      detail, data={"run_id": run_id, "count": len(rows),
                                    "tax_ids": [t for t, _ in rows[:FIRST_RUN_LISTED]], "rings": rings})]


def unconfirmed(ctx: Context, based_on: str, run_id: str, tax_ids: list[str],
                scores: dict[str, dict[str, Any]]) -> list[Candidate]:
    """Follow-ups of provisional ``new_high`` alerts (a fast update based on run ``based_on``) that run ``run_id``,
    the exact run after it, does not confirm: one per taxpayer to exactly the people who got the provisional alert
    (episode ``<tax id>|<based on>|fast|unconfirmed``), titled 未确认, with the exact run's tier and score; raising it
    marks the provisional alert unconfirmed too (``data.confirmed`` false, ``data.unconfirmed_by``)."""
    from workbench.alerts.model import KIND

    out = []
    for tax_id in tax_ids:
        episode = f"{tax_id}|{based_on}|fast"
        got = [r for r in ctx.store.records_page(KIND, {"rule": "new_high", "episode": episode})]
        if not got:
            continue
        row = scores.get(tax_id)
        tier = vocab.zh(vocab.TIERS, str(row["tier"])) if row is not None else "无评分"
        now = f"完整检测（运行 {run_id}）未确认：现为{tier}" + (f"，风险分 {row['score']:.2f}" if row is not None else "")
        out.append(Candidate(
            "new_high", f"{episode}|unconfirmed", f"taxpayer:{tax_id}",
            f"{_label('new_high')}（未确认）：{_name(ctx.store, tax_id)}",
            f"快速更新（暂定）提示的新增高风险{now}；原提醒作废。", frozenset(str(r["user"]) for r in got),
            data={"tax_id": tax_id, "run_id": run_id, "based_on": based_on, "unconfirmed": True,
                  "tier": None if row is None else row["tier"],
                  "score": None if row is None else round(float(row["score"]), 4),
                  "retracts": {str(r["user"]): str(r["alert_id"]) for r in got}},
            only_people=True))
    return out


def _reasons(stored: str | None, most: int = 3) -> str:
    """A score's stored reasons (a JSON list) as words after a colon: the first ``most`` joined with ；, and how
    many more ('' when there are none)."""
    items = [str(r) for r in json.loads(stored or "[]")]
    more = f"；另有 {len(items) - most} 条" if len(items) > most else ""
    return "：" + "；".join(items[:most]) + more if items else ""


def _open_cases(store: Store) -> list[cases.Case]:
    return [c for c in map(cases.Case.from_record, store.records(cases.KIND)) if c.status not in _CLOSED_CASE]


def new_ring(ctx: Context) -> list[Candidate]:
    """Rings of the newest run whose member set the previous run lacked and that touch a watched taxpayer
    or a taxpayer of an open case (then the case's owner and assignee hear of it); the rule's roles, when it has
    any, hear of every new ring. On a workspace's first run every ring is new: the roles hear of them in the summary
    of :func:`first_run`, and only the watchers and the cases' people get a ring's alert here (``only_people``)."""
    runs = ctx.store.runs()
    if not runs:
        return []
    rule = ctx.rules["new_ring"]
    first = len(runs) == 1
    old = {frozenset(r.members) for r in ctx.store.rings(runs[1].run_id)} if len(runs) > 1 else set()
    open_cases = _open_cases(ctx.store)
    out = []
    for ring in ctx.store.rings(runs[0].run_id):
        if frozenset(ring.members) in old or ring.score < rule.param("min_score"):
            continue
        members = set(ring.members)
        touched = [c for c in open_cases if members.intersection(c.taxpayers)]
        people = set(ctx.watchers(ring.members))
        for c in touched:
            people.update(p for p in (c.owner, c.assignee) if p)
        if not people and (first or not rule.roles):
            continue
        kind = vocab.zh(vocab.RING_KINDS, ring.kind)
        case_ids = [c.case_id for c in touched]
        out.append(Candidate("new_ring", ring.ring_id, f"ring:{ring.ring_id}",
                             f"{_label('new_ring')}：{kind} {len(ring.members)} 家企业",
                             ring.evidence + (f"; 涉及案件 {', '.join(case_ids)}" if case_ids else ""),
                             frozenset(people), touched[0] if touched else None,
                             {"ring_id": ring.ring_id, "members": list(ring.members), "cases": case_ids},
                             only_people=first))
    return out


def case_overdue(ctx: Context) -> list[Candidate]:
    """Cases still open or under investigation ``days`` (FAPIAO_CASE_DAYS when 0) after they were opened."""
    days = int(ctx.rules["case_overdue"].param("days")) or settings.get_int("FAPIAO_CASE_DAYS")
    out = []
    for c in _open_cases(ctx.store):
        due = datetime.fromisoformat(c.created_at) + timedelta(days=days)
        if ctx.now > due:
            out.append(Candidate("case_overdue", c.case_id, f"case:{c.case_id}",
                                 f"{_label('case_overdue')}：{c.case_id} {c.title}",
                                 f"{days} 天期限 {due:%Y-%m-%d} 已过, 状态 {vocab.zh(vocab.CASE_STATUSES, c.status)}",
                                 frozenset(p for p in (c.owner, c.assignee) if p), c, {"due": due.isoformat()}))
    return out


def _appeals(store: Store) -> list[appeals.Appeal]:
    return [appeals.Appeal.from_record(r) for r in store.records(appeals.KIND)]


def appeal_overdue(ctx: Context) -> list[Candidate]:
    """Open appeals past their due date (FAPIAO_APPEAL_DAYS); the person who recorded it hears too."""
    return [Candidate("appeal_overdue", a.appeal_id, f"appeal:{a.appeal_id}",
                      f"{_label('appeal_overdue')}：{a.appeal_id} · {a.tax_id}",
                      f"答复期限 {a.due_at:%Y-%m-%d} 已过, 状态 {vocab.zh(vocab.APPEAL_STATUSES, a.status)}",
                      frozenset({a.recorded_by}), data={"tax_id": a.tax_id, "due": a.due_at.isoformat()})
            for a in _appeals(ctx.store) if a.overdue(ctx.now)]


def appeal_filed(ctx: Context) -> list[Candidate]:
    """Appeals received and not yet taken under review."""
    return [Candidate("appeal_filed", a.appeal_id, f"appeal:{a.appeal_id}",
                      f"{_label('appeal_filed')}：{a.appeal_id} · {_name(ctx.store, a.tax_id)}",
                      f"针对{vocab.zh(vocab.APPEAL_AGAINST, a.against)}, 期限 {a.due_at:%Y-%m-%d}: {a.text[:200]}",
                      data={"tax_id": a.tax_id, "due": a.due_at.isoformat()})
            for a in _appeals(ctx.store) if a.status == "received"]


def case_assigned(ctx: Context) -> list[Candidate]:
    """The newest assignment of each case, to its assignee (unless they assigned it to themselves)."""
    out = []
    for c in map(cases.Case.from_record, ctx.store.records(cases.KIND)):
        steps = [s for s in c.history if s.get("assignee")]
        if not steps or c.status in _CLOSED_CASE:
            continue
        step = steps[-1]
        if step["assignee"] == step.get("by"):
            continue
        out.append(Candidate("case_assigned", f"{c.case_id}|{step['assignee']}|{step.get('at')}",
                             f"case:{c.case_id}", f"{_label('case_assigned')}：{c.case_id} {c.title}",
                             f"由 {step.get('by')} 指派",
                             frozenset({str(step["assignee"])}), c, {"by": step.get("by")}))
    return out


def burst(ctx: Context) -> list[Candidate]:
    """Days on which a watched taxpayer issued at least ``min_count`` invoices or ``min_fen`` in total, within
    ``lookback_days`` of its newest invoice (issue dates in Asia/Shanghai)."""
    rule = ctx.rules["burst"]
    min_count, min_fen = rule.param("min_count"), rule.param("min_fen")
    lookback = timedelta(days=rule.param("lookback_days"))
    out = []
    for tax_id in sorted({t for s in ctx.subs.values() for t in s.watch}):
        inv = ctx.store.invoices_of(tax_id, limit=20_000)
        if not inv.num_rows:
            continue
        rows = inv.select(["seller_tax_id", "issued_at", "total_fen", "status"]).to_pylist()
        issued = [r for r in rows if r["seller_tax_id"] == tax_id and r["status"] in vocab.BLUE_STATUSES]
        if not issued:
            continue
        newest = max(r["issued_at"] for r in issued)
        days: dict[str, list[int]] = defaultdict(list)
        for r in issued:
            if r["issued_at"] >= newest - lookback:
                days[r["issued_at"].astimezone(TZ).date().isoformat()].append(int(r["total_fen"]))
        for day, fen in sorted(days.items()):
            if (min_count and len(fen) >= min_count) or (min_fen and sum(fen) >= min_fen):
                out.append(Candidate("burst", f"{tax_id}|{day}", f"taxpayer:{tax_id}",
                                     f"{_label('burst')}：{_name(ctx.store, tax_id)} {day}",
                                     f"{day} 开票 {len(fen)} 张, 价税合计 {sum(fen) / 100:,.2f} 元",
                                     ctx.watchers((tax_id,)),
                                     data={"tax_id": tax_id, "day": day, "count": len(fen), "total_fen": sum(fen)}))
    return out


#: the rules evaluated from the store's state (verify_void is an event, see :func:`verify_void`)
EVALUATORS: dict[str, Callable[[Context], list[Candidate]]] = {
    "new_high": new_high, "first_run": first_run, "new_ring": new_ring, "case_overdue": case_overdue,
    "appeal_overdue": appeal_overdue, "burst": burst, "case_assigned": case_assigned, "appeal_filed": appeal_filed,
}


def verify_void(inv: Invoice, caller: str, at: datetime) -> Candidate:
    """A 查验 call for a void or red-letter invoice: one alert per invoice, caller and day."""
    status = vocab.zh(vocab.INVOICE_STATUSES, inv.status)
    return Candidate("verify_void", f"{inv.key}|{caller}|{at.astimezone(TZ).date()}", f"invoice:{inv.key}",
                     f"{_label('verify_void')}：{inv.number} ({status})",
                     f"{caller} 于 {at.astimezone(TZ):%Y-%m-%d %H:%M} 查验{status}发票 {inv.number}, "
                     f"销方 {inv.seller_name}（{inv.seller_tax_id}）, 价税合计 {inv.total_fen / 100:,.2f} 元",
                     data={"invoice": inv.key, "status": inv.status, "caller": caller,
                           "issued_at": inv.issued_at.astimezone(TZ).isoformat()})

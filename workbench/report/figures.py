"""The period report's figures, read from the store: what a supervisor hands on for ``[first, last]``.

A period is a range of whole days in Asia/Shanghai time, ``first`` and ``last`` included; the previous
period has the same number of days and ends the day before ``first``. For each period:

- **risk tiers**: taxpayers per tier in force at the period's end: the scores of the newest detection run
  made before that moment, with the supervisors' tier overrides made before it applied;
- **rings**: the rings of that run, highest score first; a ring is *new* when the run in force at the end of
  the previous period had no ring with the same members;
- **cases**: opened (created in the period) and closed (moved to 已证实 or 结案 in the period);
- **alerts**: raised in the period, counted once per rule and episode (an alert sent to three people
  counts once; ``alert_recipients`` counts the inbox entries).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from graph.core import vocab
from graph.core.errors import InvalidData
from graph.core.model import Run
from graph.core.schema import TZ
from graph.store import Store
from workbench import cases
from workbench.alerts.model import KIND as ALERT_KIND
from workbench.overrides import OVERRIDE_KIND
from workbench.report.rings import ring_summaries, ring_titles

_TZ = ZoneInfo(TZ)
CLOSED = ("confirmed", "closed_no_action")
TOP_RINGS = 10


@dataclass(frozen=True)
class Period:
    """Whole days ``first`` .. ``last`` (included) in Asia/Shanghai time."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidData(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), _TZ)

    @property
    def end(self) -> datetime:
        """The first moment after the period (midnight after ``last``)."""
        return datetime.combine(self.last + timedelta(days=1), time(), _TZ)

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def label(self) -> str:
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"


@dataclass(frozen=True)
class TierRow:
    tier: str
    now: int
    before: int

    @property
    def change(self) -> int:
        return self.now - self.before


@dataclass(frozen=True)
class TopRing:
    ring_id: str
    title_zh: str
    title_en: str
    kind: str
    members: int
    invoices: int
    fen: int
    score: float
    first: datetime | None
    last: datetime | None
    new: bool


@dataclass(frozen=True)
class Activity:
    """Cases and alerts of one period."""

    cases_opened: int
    cases_closed: int
    closed_as: dict[str, int]            # closing status -> cases
    alerts: int                          # distinct (rule, episode)
    alert_recipients: int                # inbox entries
    alerts_by_rule: dict[str, int]       # rule -> distinct alerts


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    previous: Period
    run: Run | None                      # the run in force at the end of the period
    previous_run: Run | None             # ... at the end of the previous period
    tiers: list[TierRow]                 # high, medium, low
    overrides_applied: int               # tier overrides in force at the end of the period
    rings: int
    new_rings: int
    top_rings: list[TopRing]
    activity: Activity
    previous_activity: Activity
    made_at: datetime
    made_by: str
    notes: list[str] = field(default_factory=list)


def _parse(value: Any) -> datetime | None:
    """A stored ISO timestamp as an aware datetime (naive ones are Shanghai time); None when unreadable."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.replace(tzinfo=_TZ) if at.tzinfo is None else at


def run_at(runs: list[Run], moment: datetime) -> Run | None:
    """The newest run made before ``moment`` (None when there is none)."""
    before = [r for r in runs if r.created_at < moment]
    return max(before, key=lambda r: r.created_at) if before else None


def tiers_at(store: Store, run: Run | None, moment: datetime) -> tuple[dict[str, str], int]:
    """tax id -> tier in force at ``moment``: ``run``'s scores with the overrides made before ``moment``
    (the newest per taxpayer); and how many overrides that applied."""
    if run is None:
        return {}, 0
    scores = store.scores(run.run_id).select(["tax_id", "tier"])
    tiers = dict(zip(scores.column("tax_id").to_pylist(), scores.column("tier").to_pylist(), strict=True))
    newest: dict[str, tuple[datetime, str]] = {}
    for rec in store.records(OVERRIDE_KIND):
        at, tid = _parse(rec.get("at")), str(rec.get("tax_id", ""))
        if at is None or at >= moment or tid not in tiers:
            continue
        if tid not in newest or at >= newest[tid][0]:
            newest[tid] = (at, str(rec.get("tier", "")))
    for tid, (_, tier) in newest.items():
        tiers[tid] = tier
    return tiers, len(newest)


def activity(store: Store, period: Period) -> Activity:
    """Cases opened and closed and alerts raised in ``period``."""
    opened = closed = 0
    closed_as: Counter[str] = Counter()
    for case in map(cases.Case.from_record, store.records(cases.KIND)):
        created = _parse(case.created_at)
        if created is not None and period.holds(created):
            opened += 1
        for step in case.history:
            at = _parse(step.get("at"))
            if step.get("to") in CLOSED and at is not None and period.holds(at):
                closed += 1
                closed_as[str(step["to"])] += 1
    episodes: set[tuple[str, str]] = set()
    recipients = 0
    for rec in store.records(ALERT_KIND):
        at = _parse(rec.get("created_at"))
        if at is None or not period.holds(at):
            continue
        recipients += 1
        episodes.add((str(rec.get("rule", "")), str(rec.get("episode", "")) or str(rec.get("alert_id", ""))))
    by_rule = Counter(rule for rule, _ in episodes)
    return Activity(opened, closed, dict(closed_as), len(episodes), recipients,
                    {r: by_rule[r] for r in sorted(by_rule, key=lambda r: (-by_rule[r], r))})


def build(store: Store, period: Period, *, made_by: str, now: datetime | None = None,
          top: int = TOP_RINGS) -> PeriodReport:
    """The figures of ``period`` and the change since the previous period of the same length.

    No permission check here: :func:`workbench.report.make` checks and audits before it calls this.
    """
    previous = period.previous()
    runs = store.runs()
    run, prev_run = run_at(runs, period.end), run_at(runs, previous.end)
    now_tiers, applied = tiers_at(store, run, period.end)
    old_tiers, _ = tiers_at(store, prev_run, previous.end)
    now_count, old_count = Counter(now_tiers.values()), Counter(old_tiers.values())
    tiers = [TierRow(t, now_count[t], old_count[t]) for t in reversed(vocab.TIERS)]
    notes: list[str] = []
    top_rings: list[TopRing] = []
    n_rings = n_new = 0
    if run is None:
        notes.append("本期结束前没有检测运行：风险等级与团伙无数据。")
    else:
        rings = store.rings(run.run_id)
        old_sets = {frozenset(r.members) for r in store.rings(prev_run.run_id)} if prev_run else set()
        new_ids = {r.ring_id for r in rings if frozenset(r.members) not in old_sets}
        n_rings, n_new = len(rings), len(new_ids)
        summaries = sorted(ring_summaries(store, run.run_id), key=lambda s: (-s.score, -s.fen, s.ring_id))[:top]
        by_id = {r.ring_id: r for r in rings}
        titles = ring_titles(store, [by_id[s.ring_id] for s in summaries])
        top_rings = [TopRing(s.ring_id, *titles[s.ring_id], s.kind, s.members, s.invoices, s.fen, s.score,
                             s.first, s.last, s.ring_id in new_ids) for s in summaries]
    if prev_run is None:
        notes.append("上一期结束前没有检测运行：风险等级的变化按上一期为零计算。")
    return PeriodReport(period, previous, run, prev_run, tiers, applied, n_rings, n_new, top_rings,
                        activity(store, period), activity(store, previous),
                        (now or datetime.now(_TZ)).astimezone(_TZ), made_by, notes)

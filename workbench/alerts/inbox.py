"""Raising alerts (deduplicated, audited, one transaction) and each user's inbox: list, unread count, mark read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from graph.core.errors import InvalidData
from graph.core.notes import Note
from graph.store import Store, Writer
from workbench import audit
from workbench import users as accounts
from workbench.alerts import config
from workbench.alerts.engine import EVALUATORS, Candidate, Context
from workbench.alerts.model import ACTOR, DELIVERY_KIND, KIND, Alert, Delivery, alert_id
from workbench.auth import User, require


@dataclass(frozen=True)
class Raised:
    """What one evaluation did: the alerts it raised (already-raised ones are skipped) and deliveries queued."""

    alerts: list[Alert]
    deliveries: list[Delivery]
    candidates: int

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.alerts:
            out[a.rule] = out.get(a.rule, 0) + 1
        return out


def _recipients(store: Store, ctx: Context, cand: Candidate, users: dict[str, User]) -> list[str]:
    rule = ctx.rules[cand.rule]
    wanted = set(cand.people) | (set() if cand.only_people else
                                 {u.username for u in users.values() if set(rule.roles).intersection(u.roles)})
    out = []
    for name in sorted(wanted):
        user = users.get(name)
        if user is None or user.disabled:
            continue
        sub = ctx.subs.get(name)
        if sub is not None and cand.rule in sub.muted:
            continue
        out.append(name)
    return out


def raise_candidates(store: Store, ctx: Context, candidates: Sequence[Candidate], *, actor: str = ACTOR) -> Raised:
    """Turn candidates into alerts for their recipients, skip those already raised, queue e-mail and webhook
    deliveries, and write alerts, deliveries and one ``alert_raise`` audit event per alert in one transaction.
    A follow-up that retracts a recipient's earlier alert (``data.retracts``: user → alert id, the unconfirmed
    provisional ``new_high``) marks that alert too, in the same transaction (``data.confirmed`` false,
    ``data.unconfirmed_by`` the follow-up's id)."""
    if not candidates:
        return Raised([], [], 0)
    users = {u.username: u for u in accounts.list_users(store)}
    existing = {str(r["alert_id"]) for r in store.records(KIND)}
    fresh: dict[str, Alert] = {}
    for cand in candidates:
        for name in _recipients(store, ctx, cand, users):
            aid = alert_id(cand.rule, name, cand.episode)
            if aid in existing or aid in fresh:
                continue
            assigned = cand.case is not None and cand.case.assignee == name
            fresh[aid] = Alert(aid, cand.rule, name, cand.subject, cand.title[:300], cand.detail[:2000], ctx.now,
                               cand.episode, cand.case.case_id if cand.case else None, assigned, None, cand.data)
    if not fresh:
        return Raised([], [], len(candidates))
    deliveries = [Delivery(f"{a.alert_id}:{channel}", a.alert_id, a.user, channel, target, next_at=ctx.now)
                  for a in fresh.values() if (sub := ctx.subs.get(a.user)) is not None
                  for channel, target in sub.channels()]

    retracted = []
    for a in fresh.values():
        earlier = (a.data.get("retracts") or {}).get(a.user)
        old = store.record(KIND, str(earlier)) if earlier else None
        if old is not None:
            old["data"] = dict(old.get("data") or {}) | {"confirmed": False, "unconfirmed_by": a.alert_id}
            retracted.append(old)

    def write(w: Writer) -> None:
        for a in fresh.values():
            w.put_record(KIND, a.alert_id, a.to_record())
        for r in retracted:
            w.put_record(KIND, str(r["alert_id"]), r)
        for d in deliveries:
            w.put_record(DELIVERY_KIND, d.delivery_id, d.to_record())

    entries = [(actor, "system", "alert_raise", f"alert:{a.alert_id}",
                Note("alert_raised", {"rule": a.rule, "user": a.user, "subject": a.subject}).to_json())
               for a in fresh.values()]
    audit.record_many(store, entries, change=write)
    return Raised(list(fresh.values()), deliveries, len(candidates))


def context(store: Store, now: datetime | None = None) -> Context:
    return Context(store, now or audit.now(), config.rules(store), config.subscriptions(store))


def evaluate(store: Store, now: datetime | None = None, *, only: Iterable[str] | None = None,
             actor: str = ACTOR) -> Raised:
    """Evaluate every enabled rule (or ``only`` these) against the store and raise what is new.

    Safe to call as often as wanted (after each detection, from ``fapiao alerts run --every``, by several
    processes): an alert already raised for the same rule, recipient and episode is never raised again.
    """
    ctx = context(store, now)
    names = [n for n in (only or EVALUATORS) if n in EVALUATORS and ctx.rules[n].enabled]
    candidates = [c for n in names for c in EVALUATORS[n](ctx)]
    return raise_candidates(store, ctx, candidates, actor=actor)


def notify(store: Store, candidate: Candidate, now: datetime | None = None, *, actor: str = ACTOR) -> Raised:
    """Raise an event's alert (e.g. :func:`workbench.alerts.engine.verify_void`) when its rule is enabled."""
    ctx = context(store, now)
    if not ctx.rules[candidate.rule].enabled:
        return Raised([], [], 0)
    return raise_candidates(store, ctx, [candidate], actor=actor)


# ------------------------------------------------------------------------------------------------ the inbox
_NEWEST = ("created_at", "alert_id")


def _mine(store: Store, user: User, *, unread: bool = False, assigned: bool = False,
          limit: int | None = None) -> list[Alert]:
    """The user's alerts, newest first, read with one query for just that page (Store.records_page)."""
    equal = {"user": user.username, **({"assigned": "true"} if assigned else {})}
    rows = store.records_page(KIND, equal, unset=("read_at",) if unread else (), newest=_NEWEST, limit=limit)
    return [Alert.from_record(r) for r in rows]


def inbox(store: Store, user: User, *, unread: bool = False, assigned: bool = False,
          limit: int | None = None) -> list[Alert]:
    """The user's alerts, newest first; ``unread`` keeps unread ones, ``assigned`` those about cases
    assigned to the user."""
    require(user, "view_alerts")
    return _mine(store, user, unread=unread, assigned=assigned, limit=limit)


def unread_count(store: Store, user: User) -> int:
    """How many of the user's alerts are unread (the sidebar badge): counted by the store."""
    require(user, "view_alerts")
    return store.records_count(KIND, {"user": user.username}, unset=("read_at",))


def mark_read(store: Store, user: User, alert_ids: Sequence[str] | None = None) -> int:
    """Mark the user's alerts read (all unread when ``alert_ids`` is None); audited as ``alert_read``.
    Ids of other users' alerts are refused. Returns how many changed."""
    require(user, "view_alerts")
    if alert_ids is None:
        mine = {a.alert_id: a for a in _mine(store, user, unread=True)}
    else:
        found = {i: store.record(KIND, i) for i in dict.fromkeys(alert_ids)}
        unknown = [i for i, r in found.items() if r is None or r.get("user") != user.username]
        if unknown:
            raise InvalidData(f"no alert {', '.join(unknown[:5])} in your inbox")
        mine = {i: Alert.from_record(r) for i, r in found.items() if r is not None}
    at = audit.now()
    changed = [replace(a, read_at=at) for i, a in mine.items()
               if (alert_ids is None or i in alert_ids) and a.read_at is None]
    if not changed:
        return 0

    def write(w: Writer) -> None:
        for a in changed:
            w.put_record(KIND, a.alert_id, a.to_record())

    audit.record(store, user, "alert_read", f"user:{user.username}",
                 " ".join(a.alert_id for a in changed)[:2000], change=write)
    return len(changed)

"""What an alert is, how it is stored, and the per-rule settings with their defaults.

Stored as workflow records (the Store contract's ``put_record``), so the embedded store and Neo4j hold
them the same way and no backend needs a new table (the inbox reads its page with Store.records_page):

- ``alert``: one alert for one recipient; its id is derived from ``rule | recipient | episode``, so the
  same finding never alerts the same person twice (deduplication across runs, processes and retries);
- ``alert_delivery``: one e-mail or webhook delivery of an alert, with its attempts and next retry;
- ``alert_rules`` (one record, id ``rules``): the supervisors' changes to :data:`DEFAULT_RULES`;
- ``alert_subscription`` (id = user name): a user's watch list, muted rules, e-mail and webhook.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.core import vocab

KIND = "alert"
DELIVERY_KIND = "alert_delivery"
RULES_KIND = "alert_rules"
RULES_ID = "rules"
SUBSCRIPTION_KIND = "alert_subscription"
RULES = tuple(vocab.ALERT_RULES)
CHANNELS = tuple(vocab.ALERT_CHANNELS)
ACTOR = "system:alerts"


def alert_id(rule: str, user: str, episode: str) -> str:
    """The deduplication key: one alert per rule, recipient and episode (a run's new high taxpayer, a case ...).

    Examples
    --------
    >>> alert_id("new_high", "sue", "91440300X|run-2") == alert_id("new_high", "sue", "91440300X|run-2")
    True
    >>> alert_id("new_high", "sue", "a") != alert_id("new_high", "ivan", "a")
    True
    """
    return "AL-" + hashlib.sha256(f"{rule}|{user}|{episode}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Alert:
    """One alert for one user. ``title`` and ``detail`` are Chinese; ``rule`` (a code of vocab.ALERT_RULES) and
    ``data`` (the values) are what a program reads, and a page words the rule in its language."""

    alert_id: str
    rule: str
    user: str
    subject: str                 # what it is about, as kind:id (taxpayer:…, ring:…, case:…, appeal:…, invoice:…)
    title: str
    detail: str
    created_at: datetime
    episode: str
    case_id: str | None = None
    assigned: bool = False       # the recipient is the assignee of the case it concerns
    read_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "rule": self.rule, "user": self.user, "subject": self.subject,
                "title": self.title, "detail": self.detail, "created_at": self.created_at.isoformat(),
                "episode": self.episode, "case_id": self.case_id, "assigned": self.assigned,
                "read_at": self.read_at.isoformat() if self.read_at else None, "data": self.data}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Alert:
        read = r.get("read_at")
        return cls(alert_id=str(r["alert_id"]), rule=str(r["rule"]), user=str(r["user"]), subject=str(r["subject"]),
                   title=str(r.get("title", "")), detail=str(r.get("detail", "")),
                   created_at=datetime.fromisoformat(str(r["created_at"])), episode=str(r.get("episode", "")),
                   case_id=r.get("case_id") or None, assigned=bool(r.get("assigned")),
                   read_at=datetime.fromisoformat(str(read)) if read else None, data=dict(r.get("data") or {}))

    @property
    def standing(self) -> str:
        """Where a ``new_high`` alert stands against the exact run (a code of vocab.ALERT_STANDING): ``fast`` raised
        by a fast update, ``unconfirmed`` such an alert the exact run after it did not confirm, ``retraction`` the
        follow-up that says so; '' for every other alert."""
        if self.data.get("confirmed") is False:
            return "unconfirmed"
        if self.data.get("unconfirmed"):
            return "retraction"
        return "fast" if self.data.get("provisional") else ""

    def payload(self) -> dict[str, Any]:
        """What a webhook receives (JSON): the alert without its read state."""
        doc = self.to_record()
        doc.pop("read_at")
        doc["rule_zh"], doc["rule_en"] = vocab.ALERT_RULES.get(self.rule, (self.rule, self.rule))
        return doc


@dataclass(frozen=True)
class Delivery:
    """One alert on one channel (``email`` or ``webhook``): ``pending`` until sent, retried with back-off,
    ``failed`` after the last attempt."""

    delivery_id: str
    alert_id: str
    user: str
    channel: str
    target: str                  # the address or URL at the time the alert was raised
    state: str = "pending"
    attempts: int = 0
    next_at: datetime | None = None
    last_error: str = ""
    sent_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "alert_id": self.alert_id, "user": self.user,
                "channel": self.channel, "target": self.target, "state": self.state, "attempts": self.attempts,
                "next_at": self.next_at.isoformat() if self.next_at else None, "last_error": self.last_error,
                "sent_at": self.sent_at.isoformat() if self.sent_at else None}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Delivery:
        def when(v: object) -> datetime | None:
            return datetime.fromisoformat(str(v)) if v else None

        return cls(delivery_id=str(r["delivery_id"]), alert_id=str(r["alert_id"]), user=str(r["user"]),
                   channel=str(r["channel"]), target=str(r.get("target", "")), state=str(r.get("state", "pending")),
                   attempts=int(r.get("attempts", 0)), next_at=when(r.get("next_at")),
                   last_error=str(r.get("last_error", "")), sent_at=when(r.get("sent_at")))


@dataclass(frozen=True)
class Rule:
    """One rule's settings: on/off, the roles that receive every alert of it (on top of the watchers and the
    people of the case concerned), and its thresholds."""

    name: str
    enabled: bool = True
    roles: tuple[str, ...] = ()
    params: dict[str, int | float] = field(default_factory=dict)

    def param(self, key: str) -> float:
        return float(self.params[key])


#: the defaults; supervisors change them with ``fapiao alerts rules set`` (stored as the ``alert_rules`` record)
DEFAULT_RULES: dict[str, Rule] = {
    "new_high": Rule("new_high", roles=("supervisor",)),
    "first_run": Rule("first_run", roles=("supervisor",)),      # the first run: one summary, not one per taxpayer
    "new_ring": Rule("new_ring", params={"min_score": 0.0}),
    "case_overdue": Rule("case_overdue", roles=("supervisor",), params={"days": 0}),   # 0: FAPIAO_CASE_DAYS
    "appeal_overdue": Rule("appeal_overdue", roles=("supervisor",)),
    "burst": Rule("burst", params={"min_count": 20, "min_fen": 100_000_000, "lookback_days": 30}),
    "case_assigned": Rule("case_assigned"),
    "appeal_filed": Rule("appeal_filed", roles=("supervisor",)),
    "verify_void": Rule("verify_void", roles=("supervisor",)),
}


@dataclass(frozen=True)
class Subscription:
    """A user's alert settings: taxpayers watched, rules muted, and the optional e-mail / webhook channels
    (the in-app inbox always receives). ``webhook_secret`` keys the HMAC of every webhook payload."""

    username: str
    watch: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"username": self.username, "watch": list(self.watch), "muted": list(self.muted),
                "email": self.email, "webhook_url": self.webhook_url, "webhook_secret": self.webhook_secret}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Subscription:
        return cls(username=str(r["username"]), watch=tuple(r.get("watch") or ()), muted=tuple(r.get("muted") or ()),
                   email=r.get("email") or None, webhook_url=r.get("webhook_url") or None,
                   webhook_secret=r.get("webhook_secret") or None)

    def channels(self) -> list[tuple[str, str]]:
        """(channel, target) pairs beyond the inbox."""
        out = []
        if self.email:
            out.append(("email", self.email))
        if self.webhook_url:
            out.append(("webhook", self.webhook_url))
        return out

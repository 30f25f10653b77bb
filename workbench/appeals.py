"""Appeals and feedback (反馈处理): a taxpayer contests a flag, a tier or a case outcome.

An appeal is a store record of kind ``appeal`` that moves ``received → under_review → answered → closed``;
every step is appended to ``steps`` with its time and author, so the whole exchange stays visible.
An appeal is due ``FAPIAO_APPEAL_DAYS`` days after it was received; open appeals past that date are
*overdue* and shown to supervisors. Investigators and supervisors record appeals; supervisors review,
answer and close them. Every step is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from graph.core import settings, vocab
from graph.core.errors import InvalidData, NotFound
from graph.core.notes import Note
from graph.store import Store
from workbench import audit
from workbench.auth import User, require

KIND = "appeal"
STATUSES = tuple(vocab.APPEAL_STATUSES)
AGAINST = tuple(vocab.APPEAL_AGAINST)
OUTCOMES = tuple(vocab.APPEAL_OUTCOMES)
_NEXT = {"received": ("under_review", "answered", "closed"), "under_review": ("answered", "closed"),
         "answered": ("closed",), "closed": ()}


@dataclass(frozen=True)
class Appeal:
    appeal_id: str
    tax_id: str
    against: str
    text: str
    status: str
    received_at: datetime
    due_at: datetime
    recorded_by: str
    case_id: str | None = None
    outcome: str | None = None
    answer: str | None = None
    steps: tuple[dict[str, Any], ...] = ()

    def overdue(self, now: datetime | None = None) -> bool:
        """Not yet answered or closed, and past its due date."""
        return self.status in ("received", "under_review") and (now or audit.now()) > self.due_at

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Appeal:
        return cls(appeal_id=r["appeal_id"], tax_id=r["tax_id"], against=r["against"], text=r["text"],
                   status=r["status"], received_at=datetime.fromisoformat(r["received_at"]),
                   due_at=datetime.fromisoformat(r["due_at"]), recorded_by=r["recorded_by"],
                   case_id=r.get("case_id"), outcome=r.get("outcome"), answer=r.get("answer"),
                   steps=tuple(r.get("steps") or ()))

    def to_record(self) -> dict[str, Any]:
        return {"appeal_id": self.appeal_id, "tax_id": self.tax_id, "against": self.against, "text": self.text,
                "status": self.status, "received_at": self.received_at.isoformat(),
                "due_at": self.due_at.isoformat(), "recorded_by": self.recorded_by, "case_id": self.case_id,
                "outcome": self.outcome, "answer": self.answer, "steps": list(self.steps)}


def _get(store: Store, appeal_id: str) -> Appeal:
    rec = store.record(KIND, appeal_id)
    if rec is None:
        raise NotFound(f"no appeal {appeal_id!r}")
    return Appeal.from_record(rec)


def _save(store: Store, a: Appeal) -> None:
    with store.writer() as w:
        w.put_record(KIND, a.appeal_id, a.to_record())


def record_appeal(store: Store, user: User, tax_id: str, text: str, *, against: str = "tier",
                  case_id: str | None = None, received_at: datetime | None = None) -> Appeal:
    """Record a taxpayer's appeal as received (investigators, supervisors).

    Parameters
    ----------
    tax_id : str
        The appealing taxpayer.
    text : str
        What the taxpayer says (required).
    against : str
        ``flag``, ``tier`` or ``case``.
    case_id : str or None
        The case it concerns, if any.
    received_at : datetime or None
        When it reached the bureau (timezone-aware; default now). The due date counts from here.
    """
    require(user, "record_appeal")
    if against not in AGAINST:
        raise InvalidData(f"an appeal is against one of {', '.join(AGAINST)}, not {against!r}")
    text = text.strip()
    if not text or not tax_id.strip():
        raise InvalidData("an appeal needs the taxpayer's tax id and what they say")
    if store.taxpayer(tax_id.strip()) is None:
        raise NotFound(f"no taxpayer {tax_id.strip()!r}")
    if received_at is not None and received_at.tzinfo is None:
        raise InvalidData("received_at must be timezone-aware")
    received = (received_at or audit.now()).astimezone(audit.TZ).replace(microsecond=0)
    due = received + timedelta(days=settings.get_int("FAPIAO_APPEAL_DAYS"))
    appeal_id = f"A-{received:%Y%m%d}-{secrets.token_hex(3).upper()}"
    step = {"at": audit.now().isoformat(), "by": user.username, "action": "received", "text": text}
    a = Appeal(appeal_id=appeal_id, tax_id=tax_id.strip(), against=against, text=text, status="received",
               received_at=received, due_at=due, recorded_by=user.username, case_id=case_id, steps=(step,))
    _save(store, a)
    audit.record(store, user, "appeal_record", f"appeal:{appeal_id}",
                 Note("appeal_against", {"tax_id": tax_id, "against": against}))
    return a


def _step(store: Store, user: User, appeal_id: str, to: str, text: str, **changes: Any) -> Appeal:
    a = _get(store, appeal_id)
    if to not in _NEXT[a.status]:
        raise InvalidData(f"appeal {appeal_id} is {a.status}; it cannot move to {to}")
    step = {"at": audit.now().isoformat(), "by": user.username, "action": to, "text": text.strip()}
    new = replace(a, **changes, status=to, steps=(*a.steps, step))
    _save(store, new)
    audit.record(store, user, f"appeal_{to}", f"appeal:{appeal_id}", text.strip()[:200])
    return new


def start_review(store: Store, user: User, appeal_id: str, note: str = "") -> Appeal:
    """A supervisor takes the appeal under review."""
    require(user, "review_appeal")
    return _step(store, user, appeal_id, "under_review", note)


def answer_appeal(store: Store, user: User, appeal_id: str, answer: str, *, outcome: str) -> Appeal:
    """Answer the taxpayer: ``outcome`` is upheld / partially_upheld / rejected, ``answer`` the reply text.
    An upheld appeal usually goes with a tier override (:func:`workbench.overrides.override_tier`)."""
    require(user, "review_appeal")
    if outcome not in OUTCOMES:
        raise InvalidData(f"outcome must be one of {', '.join(OUTCOMES)}")
    if not answer.strip():
        raise InvalidData("the answer to the taxpayer is empty")
    return _step(store, user, appeal_id, "answered", answer, outcome=outcome, answer=answer.strip())


def close_appeal(store: Store, user: User, appeal_id: str, note: str = "") -> Appeal:
    """Close the appeal (after answering, or withdrawn / out of scope with a note)."""
    require(user, "review_appeal")
    return _step(store, user, appeal_id, "closed", note)


def get_appeal(store: Store, user: User, appeal_id: str) -> Appeal:
    require(user, "record_appeal")
    return _get(store, appeal_id)


def list_appeals(store: Store, user: User, *, status: str | None = None, tax_id: str | None = None) -> list[Appeal]:
    """Appeals, oldest due date first, optionally filtered by status or taxpayer."""
    require(user, "record_appeal")
    out = [Appeal.from_record(r) for r in store.records(KIND)]
    out = [a for a in out if (status is None or a.status == status) and (tax_id is None or a.tax_id == tax_id)]
    return sorted(out, key=lambda a: a.due_at)


def overdue_appeals(store: Store, user: User, now: datetime | None = None) -> list[Appeal]:
    """Open appeals past their due date (supervisors), most overdue first."""
    require(user, "review_appeal")
    return [a for a in list_appeals(store, user) if a.overdue(now)]

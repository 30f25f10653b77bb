"""Cases (案件): a question under investigation with its taxpayers, rings, invoices, notes and dispositions.

A case is a store record of kind ``case`` whose ``taxpayers`` / ``rings`` / ``invoices`` lists let the
Neo4j backend link ``(:Case)-[:CONCERNS]->(...)``. Status moves ``open → investigating → confirmed`` or
``→ closed_no_action``. Each flagged taxpayer gets a disposition (``confirmed`` / ``false_positive``),
stored as a record of kind ``disposition`` that the supervised risk model learns from.

Restricted cases (the default): an investigator sees and works only the cases they opened (owner) or
are assigned to; supervisors and analysts see every case. Every verb takes the acting user, checks the
role (``auth.PERMISSIONS``) itself and writes the audit trail (reading a case included).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from graph.core import vocab
from graph.core.errors import InvalidData, NotFound, PermissionDenied
from graph.core.notes import Note
from graph.store import Store
from workbench import audit
from workbench.auth import User, require
from workbench.users import get_user

KIND = "case"
DISPOSITION_KIND = "disposition"
STATUSES = tuple(vocab.CASE_STATUSES)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("investigating", "closed_no_action"),
    "investigating": ("confirmed", "closed_no_action"),
    "confirmed": (),
    "closed_no_action": (),
}
LABELS = tuple(vocab.DISPOSITIONS)
_SEE_ALL = frozenset({"supervisor", "analyst"})


@dataclass(frozen=True)
class Case:
    """One case as stored; ``notes`` and ``history`` are lists of ``{"at", "by", ...}`` dicts, oldest first."""

    case_id: str
    title: str
    status: str
    owner: str
    created_at: str
    updated_at: str
    assignee: str | None = None
    restricted: bool = True
    taxpayers: tuple[str, ...] = ()
    rings: tuple[str, ...] = ()
    invoices: tuple[str, ...] = ()
    notes: tuple[dict[str, Any], ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "title": self.title, "status": self.status, "owner": self.owner,
                "created_at": self.created_at, "updated_at": self.updated_at, "assignee": self.assignee,
                "restricted": self.restricted, "taxpayers": list(self.taxpayers), "rings": list(self.rings),
                "invoices": list(self.invoices), "notes": list(self.notes), "history": list(self.history),
                "source": self.source}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Case:
        return cls(case_id=str(rec["case_id"]), title=str(rec.get("title", "")), status=str(rec.get("status", "open")),
                   owner=str(rec.get("owner", "")), created_at=str(rec.get("created_at", "")),
                   updated_at=str(rec.get("updated_at", "")), assignee=rec.get("assignee") or None,
                   restricted=bool(rec.get("restricted", True)),
                   taxpayers=tuple(rec.get("taxpayers") or ()), rings=tuple(rec.get("rings") or ()),
                   invoices=tuple(rec.get("invoices") or ()), notes=tuple(rec.get("notes") or ()),
                   history=tuple(rec.get("history") or ()), source=str(rec.get("source", "")))


def can_see(user: User, case: Case) -> bool:
    """Whether ``user`` may see ``case`` (restricted cases: owner, assignee, supervisors and analysts)."""
    if not case.restricted or _SEE_ALL.intersection(user.roles):
        return True
    return user.username in (case.owner, case.assignee)


def _target(case_id: str) -> str:
    return f"case:{case_id}"


def _load(store: Store, user: User, case_id: str) -> Case:
    rec = store.record(KIND, case_id)
    if rec is None:
        raise NotFound(f"no case {case_id!r}")
    case = Case.from_record(rec)
    if not can_see(user, case):
        audit.record(store, user, "case_denied", _target(case_id))
        raise PermissionDenied(f"case {case_id} is restricted to its owner and assignee")
    return case


def _save(store: Store, case: Case) -> None:
    with store.writer() as w:
        w.put_record(KIND, case.case_id, case.to_record())


def printable(text: str) -> str:
    """``text`` with control characters replaced by spaces and whitespace runs collapsed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _clean(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def open_case(store: Store, user: User, title: str, *, taxpayers: Sequence[str] = (), rings: Sequence[str] = (),
              invoices: Sequence[str] = (), note: str = "", restricted: bool = True, source: str = "") -> Case:
    """Open a new case owned by ``user``.

    Parameters
    ----------
    store, user : the store and the acting user (needs ``open_case``).
    title : str
        A short, human title (required).
    taxpayers, rings, invoices : sequences of str
        Tax ids, ring ids and invoice keys the case concerns.
    note : str
        An optional first note.
    restricted : bool
        True (default): investigators other than the owner and assignee cannot see it.
    source : str
        Where it came from (``ring:R1``, ``alert:9131...``, ``taxpayer:...``).

    Returns
    -------
    Case
    """
    require(user, "open_case")
    title = printable(title)
    if not title:
        raise InvalidData("a case needs a title")
    at = audit.now().isoformat()
    case_id = f"C-{audit.now():%Y%m%d}-{secrets.token_hex(3).upper()}"
    notes = ({"at": at, "by": user.username, "text": note.strip()},) if note.strip() else ()
    case = Case(case_id=case_id, title=title[:200], status="open", owner=user.username, created_at=at,
                updated_at=at, restricted=restricted, taxpayers=_clean(taxpayers), rings=_clean(rings),
                invoices=_clean(invoices), notes=notes,
                history=({"at": at, "by": user.username, "from": None, "to": "open"},), source=source)
    _save(store, case)
    audit.record(store, user, "case_open", _target(case_id), f"{title[:80]} {source}".strip())
    return case


def open_case_from_ring(store: Store, user: User, ring_id: str, *, title: str = "") -> Case:
    """Open a case on a detected ring: its members and invoices are attached, the evidence is the first note."""
    require(user, "open_case")
    ring = store.ring(ring_id)
    if ring is None:
        raise NotFound(f"no ring {ring_id!r}")
    return open_case(store, user, title or f"{ring.kind} {ring_id}", taxpayers=ring.members, rings=(ring_id,),
                     invoices=ring.invoice_keys, note=ring.evidence, source=f"ring:{ring_id}")


def open_case_from_taxpayer(store: Store, user: User, tax_id: str, *, title: str = "", alert: bool = False) -> Case:
    """Open a case on one taxpayer (from its profile, or from a risk-queue alert when ``alert``)."""
    require(user, "open_case")
    tp = store.taxpayer(tax_id)
    if tp is None:
        raise NotFound(f"no taxpayer {tax_id!r}")
    note = ""
    if alert:
        scores = store.scores().to_pylist()
        row = next((r for r in scores if r["tax_id"] == tax_id), None)
        if row is not None:
            note = f"alert: tier {row['tier']}, score {row['score']:.2f}; {row['reasons']}"
    kind = "alert" if alert else "taxpayer"
    return open_case(store, user, title or f"{tp.name} ({tax_id})", taxpayers=(tax_id,), note=note,
                     source=f"{kind}:{tax_id}")


def get_case(store: Store, user: User, case_id: str) -> Case:
    """Read one case (audited as ``case_read``). Raises NotFound / PermissionDenied."""
    require(user, "view_cases")
    case = _load(store, user, case_id)
    audit.record(store, user, "case_read", _target(case_id))
    return case


def list_cases(store: Store, user: User, *, status: str | None = None) -> list[Case]:
    """The cases ``user`` may see, newest first, optionally only those in ``status``."""
    require(user, "view_cases")
    cases = [Case.from_record(r) for r in store.records(KIND)]
    out = [c for c in cases if can_see(user, c) and (status is None or c.status == status)]
    return sorted(out, key=lambda c: c.created_at, reverse=True)


def attach(store: Store, user: User, case_id: str, *, taxpayers: Sequence[str] = (), rings: Sequence[str] = (),
           invoices: Sequence[str] = ()) -> Case:
    """Attach more taxpayers / rings / invoices to a case (duplicates are ignored)."""
    require(user, "work_case")
    case = _load(store, user, case_id)
    new = replace(case, taxpayers=_clean((*case.taxpayers, *taxpayers)),
                  rings=_clean((*case.rings, *rings)), invoices=_clean((*case.invoices, *invoices)),
                  updated_at=audit.now().isoformat())
    _save(store, new)
    added = [f"{k}+{len(v)}" for k, v in (("taxpayers", taxpayers), ("rings", rings), ("invoices", invoices)) if v]
    audit.record(store, user, "case_attach", _target(case_id), " ".join(added))
    return new


def add_note(store: Store, user: User, case_id: str, text: str) -> Case:
    """Add a timestamped note to a case."""
    require(user, "work_case")
    text = text.strip()
    if not text:
        raise InvalidData("the note is empty")
    case = _load(store, user, case_id)
    at = audit.now().isoformat()
    new = replace(case, notes=(*case.notes, {"at": at, "by": user.username, "text": text}), updated_at=at)
    _save(store, new)
    audit.record(store, user, "case_note", _target(case_id), text[:200])
    return new


def set_status(store: Store, user: User, case_id: str, status: str, *, note: str = "") -> Case:
    """Move a case to ``status`` along the allowed transitions (open → investigating → confirmed /
    closed_no_action; open → closed_no_action). Raises InvalidData for any other move."""
    require(user, "work_case")
    if status not in STATUSES:
        raise InvalidData(f"unknown case status {status!r}; use one of {', '.join(STATUSES)}")
    case = _load(store, user, case_id)
    if status not in TRANSITIONS[case.status]:
        allowed = ", ".join(TRANSITIONS[case.status]) or "none (the case is closed)"
        raise InvalidData(f"case {case_id} cannot go from {case.status} to {status}; allowed: {allowed}")
    at = audit.now().isoformat()
    step = {"at": at, "by": user.username, "from": case.status, "to": status}
    if note.strip():
        step["note"] = note.strip()
    new = replace(case, status=status, history=(*case.history, step), updated_at=at)
    _save(store, new)
    audit.record(store, user, "case_status", _target(case_id),
                 Note("case_status_changed", {"before": case.status, "after": status, "note": note.strip()}))
    return new


def assign_case(store: Store, user: User, case_id: str, assignee: str) -> Case:
    """Assign a case to an investigator (supervisors only); the assignee must be an enabled investigator
    or supervisor account."""
    require(user, "assign_case")
    target = get_user(store, assignee)
    if target is None or target.disabled or not {"investigator", "supervisor"}.intersection(target.roles):
        raise InvalidData(f"{assignee!r} is not an enabled investigator or supervisor account")
    case = _load(store, user, case_id)
    at = audit.now().isoformat()
    step = {"at": at, "by": user.username, "assignee": assignee}
    new = replace(case, assignee=assignee, history=(*case.history, step), updated_at=at)
    _save(store, new)
    audit.record(store, user, "case_assign", _target(case_id),
                 Note("case_assigned", {"before": case.assignee or "", "after": assignee}))
    return new


def record_disposition(store: Store, user: User, case_id: str, tax_id: str, label: str, *, note: str = "") -> dict[str, Any]:
    """Record the outcome for one taxpayer of a case: ``confirmed`` fraud or ``false_positive``.

    Stored as a ``disposition`` record ``{tax_id, label, case_id, by, at, note}`` (id ``CASE:TAXID``, so a
    later decision replaces an earlier one); the supervised risk model trains on these.
    """
    require(user, "record_disposition")
    if label not in LABELS:
        raise InvalidData(f"disposition must be one of {', '.join(LABELS)}, not {label!r}")
    case = _load(store, user, case_id)
    if tax_id not in case.taxpayers:
        raise InvalidData(f"taxpayer {tax_id} is not part of case {case_id}; attach it first")
    rec = {"tax_id": tax_id, "label": label, "case_id": case_id, "by": user.username,
           "at": audit.now().isoformat(), "note": note.strip()}
    with store.writer() as w:
        w.put_record(DISPOSITION_KIND, f"{case_id}:{tax_id}", rec)
    audit.record(store, user, "disposition", _target(case_id),
                 Note("disposition_recorded", {"tax_id": tax_id, "label": label, "note": note.strip()}))
    return rec


def dispositions(store: Store, case_id: str | None = None) -> list[dict[str, Any]]:
    """Disposition records (all, or one case's), in the order they were first written."""
    recs = store.records(DISPOSITION_KIND)
    return [r for r in recs if case_id is None or r.get("case_id") == case_id]

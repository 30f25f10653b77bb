"""The tamper-evident audit trail: append-only events, each SHA-256 hash-chained to the one before.

Every event hashes the canonical JSON of ``seq, at, actor, role, action, target, detail, prev_hash``;
``prev_hash`` is the previous event's hash ("" for event 1). Editing, removing or reordering any event
breaks the chain and :func:`verify` names the event. A small ``audit_head`` record remembers the newest
seq and hash so that deleting the *last* events is caught too, and is signed with the installation key
(:mod:`workbench.signing`): someone who can write the store can recompute every hash, but not the
signature, so a recomputed chain, a deleted head or events appended behind the workbench's back are
all reported. A state change and its event commit in one transaction (``record(..., change=...)``).
Only the Store contract is used, so both backends behave the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from graph.core import schema
from graph.core.errors import IntegrityError, StoreError
from graph.core.model import AuditEvent
from graph.core.notes import Note
from graph.store import Store, Writer
from workbench import signing
from workbench.auth import User, require

TZ = ZoneInfo(schema.TZ)
HEAD_KIND = "audit_head"
HEAD_ID = "head"
_RETRIES = 25
_HEAD_RETRIES = 6   # consecutive head/tail mismatches before the trail counts as changed

# store uri -> (seq, hash) of the newest event this process has seen
_tail_cache: dict[str, tuple[int, str]] = {}


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of :func:`verify`: ``ok`` when the chain is intact; ``problems`` name each broken event."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    key: str = ""   # fingerprint of the key the head was checked against

    def summary(self) -> str:
        if self.ok:
            signed = f", head signed by key {self.key}" if self.key else ""
            return f"audit trail intact: {self.checked} events verified{signed}"
        return f"audit trail BROKEN ({len(self.problems)} problems in {self.checked} events)"


def cli_actor() -> str:
    """Who runs the command line, as the audit trail names them: ``cli:<OS login>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def now() -> datetime:
    """The current time in Asia/Shanghai, to the second (every backend stores seconds exactly)."""
    return datetime.now(TZ).replace(microsecond=0)


def _canonical_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise StoreError("audit event time is not timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_hash(seq: int, at: datetime, actor: str, role: str, action: str, target: str, detail: str,
               prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical JSON of one event's fields.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> len(event_hash(1, datetime(2025, 1, 1, tzinfo=timezone.utc), "a", "admin", "x", "t", "", ""))
    64
    """
    doc = {"seq": seq, "at": _canonical_time(at), "actor": actor, "role": role, "action": action,
           "target": target, "detail": detail, "prev_hash": prev_hash}
    raw = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def recompute(ev: AuditEvent) -> str:
    """The hash ``ev`` should carry given its fields."""
    return event_hash(ev.seq, ev.at, ev.actor, ev.role, ev.action, ev.target, ev.detail, ev.prev_hash)


def _tail(store: Store) -> tuple[int, str]:
    """(seq, hash) of the newest event; uses a per-process cache, validated against the store."""
    cached = _tail_cache.get(store.uri)
    if cached is not None and cached[0] > 0:
        events = store.audit_events(after_seq=cached[0] - 1)
        if events and events[0].seq == cached[0] and events[0].hash == cached[1]:
            return events[-1].seq, events[-1].hash
    newest = _newest(store)
    return (newest.seq, newest.hash) if newest is not None else (0, "")


def _newest(store: Store) -> AuditEvent | None:
    last: AuditEvent | None = None
    for last in store.iter_audit():   # noqa: B007 - paged: bounded memory however long the trail
        pass
    return last


def head_doc(seq: int, hash_: str, at: datetime) -> dict[str, object]:
    """What the head signature covers: the newest event's seq and hash, and when it was written."""
    return {"seq": seq, "hash": hash_, "at": _canonical_time(at)}


def _check_head(store: Store, seq: int, prev: str) -> None:
    """Refuse to chain onto a trail whose signed head does not name its newest event: appending would
    sign (and so launder) whatever was changed behind the workbench's back."""
    if seq == 0:
        return
    head = store.record(HEAD_KIND, HEAD_ID)
    if head is None:
        raise IntegrityError("the audit trail has events but no head record; run `fapiao audit verify`")
    if (int(head.get("seq", -1)), head.get("hash")) != (seq, prev):
        raise IntegrityError(f"the audit head names event {head.get('seq')}, the trail ends at event {seq}; "
                             "run `fapiao audit verify`")
    why = signing.check(head_doc(seq, prev, _parse_time(head.get("at"))), head.get("signature"),
                        signing.public_key())
    if why is not None:
        raise IntegrityError(f"the audit head is {why}; run `fapiao audit verify` "
                             "(a trail from before signing: `fapiao audit adopt`)")


def _parse_time(value: object) -> datetime:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def record(store: Store, user: User | None, action: str, target: str, detail: str | Note = "", *,
           change: Callable[[Writer], None] | None = None, actor: str | None = None) -> AuditEvent:
    """Append one event to the audit trail and return it.

    Parameters
    ----------
    store : Store
        Where the trail lives.
    user : User or None
        The acting user; None records ``anonymous`` (e.g. a failed sign-in for an unknown name).
    action : str
        What happened (``sign_in``, ``case_read``, ``tier_override`` ...).
    target : str
        What it happened to, as ``kind:id`` (``case:C-...``, ``taxpayer:9131...``, ``user:alice``).
    detail : str or Note
        Free text, or a coded note (graph.core.notes: counts, old -> new values), stored as its JSON and worded
        where it is shown.
    change : callable or None
        The state change the event records, given the writer: it commits in the same transaction as the
        event and the signed head (both or neither), and is re-run if the append is retried.
    actor : str or None
        Overrides the actor name (the command line records ``cli:<login>``).

    Returns
    -------
    AuditEvent
        The stored event. On a sequence conflict with a concurrent writer the tail is re-read and
        the append retried; StoreError is raised only when that keeps failing. IntegrityError when
        the stored trail no longer matches its signed head (nothing is written then).
    """
    name = actor or (user.username if user is not None else "anonymous")
    role = ",".join(user.roles) if user is not None else ("cli" if actor else "")
    text = detail.to_json() if isinstance(detail, Note) else detail
    return _append(store, [(name, role, action, target, text)], change)[0]


def record_many(store: Store, entries: Sequence[tuple[str, str, str, str, str]], *,
                change: Callable[[Writer], None] | None = None) -> list[AuditEvent]:
    """Append several events (``(actor, role, action, target, detail)`` each) in one transaction with one signed
    head — for high-rate callers such as the HTTP API, which would otherwise commit once per request. Same
    retries and head check as :func:`record`; ``change`` commits in the same transaction (alerts and their
    events: both or neither)."""
    return _append(store, entries, change) if entries else []


def _append(store: Store, entries: Sequence[tuple[str, str, str, str, str]],
            change: Callable[[Writer], None] | None) -> list[AuditEvent]:
    """Chain ``entries`` onto the trail and write them with ``change`` and the new signed head in one transaction;
    on a sequence conflict re-read the tail and retry, on a head that does not name the tail refuse."""
    last_error: StoreError | None = None
    mismatches = 0
    for attempt in range(_RETRIES):
        seq, prev = _tail(store)
        try:
            _check_head(store, seq, prev)
        except IntegrityError:
            mismatches += 1   # a concurrent append between the two reads looks the same, once
            if mismatches > _HEAD_RETRIES:
                raise
            _tail_cache.pop(store.uri, None)
            time.sleep(random.uniform(0.005, 0.03))
            continue
        mismatches = 0
        at = now()
        events = []
        for actor, role, action, target, detail in entries:
            seq += 1
            h = event_hash(seq, at, actor, role, action, target, detail, prev)
            events.append(AuditEvent(seq, at, actor, role, action, target, detail, prev, h))
            prev = h
        doc = head_doc(seq, prev, at)
        try:
            # one transaction: the change, its events and the head that names the newest
            with store.writer() as w:
                if change is not None:
                    change(w)
                for ev in events:
                    w.audit(ev)
                w.put_record(HEAD_KIND, HEAD_ID, {**doc, "signature": signing.sign(doc)})
        except StoreError as e:  # someone else took this seq: re-read the tail and retry
            last_error = e
            _tail_cache.pop(store.uri, None)
            time.sleep(random.uniform(0.001, 0.02) * (attempt + 1))
            continue
        _tail_cache[store.uri] = (seq, prev)
        return events
    raise StoreError(f"could not append to the audit trail after {_RETRIES} attempts: {last_error}")


def _describe(ev: AuditEvent) -> str:
    return f"event {ev.seq} ({ev.at.astimezone(TZ):%Y-%m-%d %H:%M:%S} {ev.actor} {ev.action} {ev.target})"


def verify(store: Store, public_key: Path | None = None) -> AuditVerification:
    """Check the whole chain and its signed head.

    Every hash recomputes, every prev_hash links, seqs run 1, 2, 3 ... without gaps; the head record
    exists, is signed by the trusted key (the installation's, or the PEM file ``public_key`` of an
    outside party) and names the newest event.

    Returns
    -------
    AuditVerification
        ``ok`` False with one line per problem naming the event (edited, removed, reordered, appended
        after the signed head, head deleted or forged, trail wiped while users or cases exist).
    """
    head = store.record(HEAD_KIND, HEAD_ID)
    head_seq = int(head.get("seq", 0)) if head is not None else None
    problems: list[str] = []
    expected_seq = 1
    prev_hash = ""
    checked = last_seq = 0
    first_after: int | None = None      # the first and the newest event after the signed head
    newest_after = 0
    match: AuditEvent | None = None     # the event the head names
    for ev in store.iter_audit():       # paged: bounded memory however long the trail
        if ev.seq != expected_seq:
            if ev.seq > expected_seq:
                missing = (f"event {expected_seq}" if ev.seq == expected_seq + 1
                           else f"events {expected_seq}-{ev.seq - 1}")
                problems.append(f"{missing} removed (sequence jumps from {expected_seq - 1} to {ev.seq})")
            else:
                problems.append(f"{_describe(ev)} out of order (expected seq {expected_seq})")
        if recompute(ev) != ev.hash:
            problems.append(f"{_describe(ev)} edited: its content no longer matches its hash")
        elif ev.prev_hash != prev_hash:
            problems.append(f"{_describe(ev)} does not link to the event before it (an event was removed, "
                            "inserted or reordered before it)")
        prev_hash = ev.hash
        expected_seq = ev.seq + 1
        checked, last_seq = checked + 1, ev.seq
        if head_seq is not None and ev.seq > head_seq:
            first_after = ev.seq if first_after is None else first_after
            newest_after = ev.seq
        elif ev.seq == head_seq and match is None:
            match = ev
    trusted = signing.trusted_key(public_key)
    key = signing.fingerprint(trusted) if trusted is not None else ""
    if head is None or head_seq is None:
        if checked:
            problems.append(f"the signed head record is missing ({checked} events, newest {last_seq}): "
                            "deleted, or the events were written outside the workbench")
        else:
            live = [k for k in ("user", "case") if store.records(k)]
            if live:
                problems.append(f"the audit trail is empty while {' and '.join(k + 's' for k in live)} exist: "
                                "the trail was wiped")
        return AuditVerification(ok=not problems, problems=problems, checked=checked, key=key)
    why = signing.check(head_doc(head_seq, str(head.get("hash")), _parse_time(head.get("at"))),
                        head.get("signature"), trusted) if trusted is not None else \
        "not checked: no trusted public key here (pass --public-key FILE from `fapiao keys export`)"
    if why is not None:
        problems.append(f"the audit head (event {head_seq}) is {why}: the trail was rewritten or its head "
                        "replaced outside the workbench")
    if head_seq > last_seq:
        gone = f"event {head_seq}" if head_seq == last_seq + 1 else f"events {last_seq + 1}-{head_seq}"
        problems.append(f"{gone} removed from the end of the trail (the trail once reached event {head_seq})")
    else:
        if first_after is not None:
            span = f"event {first_after}" if first_after == newest_after else f"events {first_after}-{newest_after}"
            problems.append(f"{span} appended after the signed head (event {head_seq}): not written by the "
                            "workbench")
        if match is not None and match.hash != head.get("hash"):
            problems.append(f"{_describe(match)} replaced: its hash differs from the one recorded "
                            "when it was written")
    return AuditVerification(ok=not problems, problems=problems, checked=checked, key=key)


def adopt(store: Store, actor: str) -> AuditVerification:
    """Sign the head of a trail written before signing existed, after checking its chain by hash.

    Refused when the chain does not verify; audited as ``audit_adopt``.
    """
    res = verify(store)
    unsigned = [p for p in res.problems if "is not signed" in p or "head record is missing" in p]
    others = [p for p in res.problems if p not in unsigned]
    if others:
        raise IntegrityError("the trail does not verify by hash, not adopting: " + "; ".join(others[:5]))
    last = _newest(store)
    if last is not None and unsigned:
        doc = head_doc(last.seq, last.hash, last.at)
        with store.writer() as w:
            w.put_record(HEAD_KIND, HEAD_ID, {**doc, "signature": signing.sign(doc)})
        _tail_cache.pop(store.uri, None)
    record(store, None, "audit_adopt", "audit", Note("audit_head_signed", {"seq": last.seq if last is not None else 0}),
           actor=actor)
    return verify(store)


def events(store: Store, *, actor: str | None = None, action: str | None = None, target: str | None = None,
           limit: int | None = None) -> list[AuditEvent]:
    """Audit events newest first, filtered by actor / action (exact) and target (substring).

    Parameters
    ----------
    limit : int or None
        Keep at most this many (the newest); None keeps all.
    """
    out: list[AuditEvent] = []
    for ev in reversed(store.audit_events(0)):
        if actor and ev.actor != actor:
            continue
        if action and ev.action != action:
            continue
        if target and target not in ev.target:
            continue
        out.append(ev)
        if limit is not None and len(out) >= limit:
            break
    return out


def browse(store: Store, user: User | None, *, actor: str | None = None, action: str | None = None,
           target: str | None = None, limit: int | None = 200) -> list[AuditEvent]:
    """:func:`events` for a workbench user: needs ``view_audit`` (supervisors, admins)."""
    require(user, "view_audit")
    return events(store, actor=actor, action=action, target=target, limit=limit)


def browse_page(store: Store, user: User | None, *, actor: str | None = None, action: str | None = None,
                target: str | None = None, skip: int = 0, limit: int = 50) -> list[AuditEvent]:
    """One page of :func:`events` for a workbench user (needs ``view_audit``), newest first, read by the store
    (:meth:`Store.audit_page`) rather than from the whole trail."""
    require(user, "view_audit")
    return store.audit_page(actor=actor, action=action, target=target, skip=skip, limit=limit)


def browse_count(store: Store, user: User | None, *, actor: str | None = None, action: str | None = None,
                 target: str | None = None) -> int:
    """How many events :func:`browse_page` pages through (needs ``view_audit``)."""
    require(user, "view_audit")
    return store.audit_count(actor=actor, action=action, target=target)


def verify_as(store: Store, user: User | None) -> AuditVerification:
    """:func:`verify` for a workbench user: needs ``view_audit``; the check itself is audited."""
    require(user, "view_audit")
    res = verify(store)
    record(store, user, "audit_verify", "audit", res.summary())
    return res


def event_row(ev: AuditEvent) -> dict[str, object]:
    """One event as a flat, display-ready dict (time in Asia/Shanghai)."""
    return {"seq": ev.seq, "at": ev.at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"), "actor": ev.actor,
            "role": ev.role, "action": ev.action, "target": ev.target, "detail": ev.detail,
            "hash": ev.hash[:12]}

"""Browser sessions that survive a page refresh: a random secret the browser keeps in a cookie, checked on
the server against a stored record with its expiry.

The cookie holds ``<id>.<secret>`` (12 hex + 43 url-safe characters, 256 random bits). The store keeps
only the secret's SHA-256 under record kind ``web_session``, with the user, the password epoch at sign-in,
the sign-in time and the last time the session was seen. A session resumes only while the record is not
revoked, younger than ``FAPIAO_SESSION_MINUTES`` and seen within ``FAPIAO_SESSION_IDLE_MINUTES``, and
while the account is enabled with an unchanged password epoch. Signing out revokes the record, so a
copied cookie is worthless afterwards. The cookie never appears in a URL: a link sent to a colleague
carries the page, ring or taxpayer, never the sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graph.core import settings
from graph.store import Store
from workbench import audit
from workbench import users as accounts
from workbench.auth import User

KIND = "web_session"
COOKIE = "fapiao_session"
_TOKEN_RE = re.compile(r"^([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
TOUCH_SECONDS = 60     # the record's last-seen time is written at most once a minute per session


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def start(store: Store, user: User, epoch: int | None, now: datetime | None = None) -> str:
    """A new session for ``user`` (just signed in, password ``epoch``): the cookie text."""
    at = now or audit.now()
    sid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with store.writer() as w:
        w.put_record(KIND, sid, {"sid": sid, "username": user.username, "epoch": int(epoch or 0),
                                 "sha256": _digest(secret), "signed_in_at": at.isoformat(),
                                 "last_seen": at.isoformat(), "revoked": False})
    return f"{sid}.{secret}"


@dataclass(frozen=True)
class Resumed:
    """A valid session: its user as stored now, password epoch and sign-in time."""

    user: User
    epoch: int
    signed_in_at: datetime
    sid: str


def valid_text(text: str) -> bool:
    """True when ``text`` has the shape of a session cookie (nothing else is ever written into a page)."""
    return _TOKEN_RE.match(text or "") is not None


def _record(store: Store, text: str) -> dict[str, Any] | None:
    m = _TOKEN_RE.match(text or "")
    if m is None:
        return None
    sid, secret = m.groups()
    rec = store.record(KIND, sid)
    if rec is None or not hmac.compare_digest(str(rec.get("sha256", "")), _digest(secret)):
        return None
    return rec


def resume(store: Store, text: str, now: datetime | None = None) -> Resumed | None:
    """The session named by cookie ``text`` when it may still be used, else None (unknown, forged,
    revoked, expired, idle, account disabled or removed, password changed)."""
    rec = _record(store, text)
    if rec is None or rec.get("revoked"):
        return None
    at = now or audit.now()
    signed_in = datetime.fromisoformat(str(rec["signed_in_at"]))
    seen = datetime.fromisoformat(str(rec.get("last_seen") or rec["signed_in_at"]))
    if at - signed_in > timedelta(minutes=settings.get_int("FAPIAO_SESSION_MINUTES")):
        return None
    if at - seen > timedelta(minutes=settings.get_int("FAPIAO_SESSION_IDLE_MINUTES")):
        return None
    user = accounts.get_user(store, str(rec["username"]))
    if user is None or user.disabled or int(accounts.epoch(store, user.username) or 0) != int(rec.get("epoch") or 0):
        return None
    return Resumed(user, int(rec.get("epoch") or 0), signed_in, str(rec["sid"]))


def touch(store: Store, text: str, now: datetime | None = None) -> None:
    """Note that the session was used now (written when the last note is older than a minute)."""
    rec = _record(store, text)
    at = now or audit.now()
    if rec is None or rec.get("revoked"):
        return
    seen = datetime.fromisoformat(str(rec.get("last_seen") or rec["signed_in_at"]))
    if (at - seen).total_seconds() >= TOUCH_SECONDS:
        with store.writer() as w:
            w.put_record(KIND, str(rec["sid"]), {**rec, "last_seen": at.isoformat()})


def end(store: Store, text: str) -> bool:
    """Revoke the session of cookie ``text`` (sign-out); True when there was one to revoke."""
    rec = _record(store, text)
    if rec is None or rec.get("revoked"):
        return False
    with store.writer() as w:
        w.put_record(KIND, str(rec["sid"]), {**rec, "revoked": True})
    return True

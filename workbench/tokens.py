"""API tokens: bound to one workbench user and one of its roles, SHA-256-hashed at rest, shown once, revocable.

A token reads ``fpk_<id>_<secret>``: ``id`` (12 hex) names the store record of kind ``api_token``;
``secret`` (43 url-safe characters, 256 bits) is checked against the stored SHA-256 in constant time.
A 256-bit random secret needs no slow password hash: nobody can guess it, and the digest is useless to
someone who reads the store. Creating and revoking tokens is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from graph.core.errors import InvalidData, NotFound
from graph.core.notes import Note
from graph.store import Store
from workbench import audit
from workbench import users as accounts
from workbench.auth import User, require

KIND = "api_token"
PREFIX = "fpk_"
_TOKEN_RE = re.compile(r"^fpk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$")


@dataclass(frozen=True)
class Token:
    """A stored token (never the secret)."""

    token_id: str
    username: str
    role: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool

    def active(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _from_record(rec: dict[str, object]) -> Token:
    exp = rec.get("expires_at")
    return Token(token_id=str(rec["token_id"]), username=str(rec["username"]), role=str(rec["role"]),
                 name=str(rec.get("name") or ""), created_at=datetime.fromisoformat(str(rec["created_at"])),
                 expires_at=datetime.fromisoformat(str(exp)) if exp else None, revoked=bool(rec.get("revoked")))


def create_token(store: Store, username: str, *, role: str | None = None, name: str = "",
                 days: int | None = None, actor: User | None = None) -> tuple[str, Token]:
    """Create a token for ``username`` acting as ``role`` (default: the user's first role).

    Returns
    -------
    (secret token text, Token)
        The text is shown once; only its SHA-256 is stored.

    Raises
    ------
    NotFound
        No such user.
    InvalidData
        The user is disabled, does not hold ``role``, or ``days`` is not positive.
    """
    if actor is not None:
        require(actor, "manage_users")
    user = accounts.get_user(store, username)
    if user is None:
        raise NotFound(f"no user named {username!r}; create it first: fapiao users add NAME --role ROLE")
    if user.disabled:
        raise InvalidData(f"user {user.username!r} is disabled")
    chosen = role or user.roles[0]
    if chosen not in user.roles:
        raise InvalidData(f"user {user.username!r} does not hold role {chosen!r} (roles: {', '.join(user.roles)})")
    if days is not None and days <= 0:
        raise InvalidData("a token must live at least one day (--days 1 or more)")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = audit.now()
    rec: dict[str, object] = {
        "token_id": token_id, "username": user.username, "role": chosen, "name": name[:80],
        "created_at": now.isoformat(), "expires_at": (now + timedelta(days=days)).isoformat() if days else None,
        "revoked": False, "sha256": _digest(secret)}
    with store.writer() as w:
        w.put_record(KIND, token_id, rec)
    audit.record(store, actor, "token_create", f"token:{token_id}",
                 Note("token_issued", {"user": user.username, "role": chosen}))
    return f"{PREFIX}{token_id}_{secret}", _from_record(rec)


def list_tokens(store: Store, username: str | None = None) -> list[Token]:
    """Tokens (of ``username`` when given), oldest first."""
    out = [_from_record(r) for r in store.records(KIND)]
    if username is not None:
        out = [t for t in out if t.username == accounts.normalise(username)]
    return sorted(out, key=lambda t: t.created_at)


def revoke_token(store: Store, token_id: str, *, actor: User | None = None) -> Token:
    """Revoke a token by id; it stops working on the next request."""
    if actor is not None:
        require(actor, "manage_users")
    rec = store.record(KIND, token_id)
    if rec is None:
        raise NotFound(f"no API token {token_id!r}; list them with: fapiao users token list")
    rec = {**rec, "revoked": True}
    with store.writer() as w:
        w.put_record(KIND, token_id, rec)
    audit.record(store, actor, "token_revoke", f"token:{token_id}")
    return _from_record(rec)


@dataclass(frozen=True)
class Check:
    """Outcome of :func:`authenticate`: the user acting with the token's one role, or why not."""

    user: User | None
    token_id: str = ""
    reason: str = ""


def authenticate(store: Store, text: str, now: datetime | None = None) -> Check:
    """Check a presented token. The user comes back with only the token's role, and only while the
    token is active and the user enabled and still holding that role."""
    m = _TOKEN_RE.match(text or "")
    if m is None:
        return Check(None, reason="malformed token")
    token_id, secret = m.groups()
    rec = store.record(KIND, token_id)
    if rec is None or not hmac.compare_digest(str(rec.get("sha256", "")), _digest(secret)):
        return Check(None, token_id, "unknown token")
    tok = _from_record(rec)
    if tok.revoked:
        return Check(None, token_id, "token revoked")
    if not tok.active(now or audit.now()):
        return Check(None, token_id, "token expired")
    user = accounts.get_user(store, tok.username)
    if user is None or user.disabled:
        return Check(None, token_id, "user disabled or removed")
    if tok.role not in user.roles:
        return Check(None, token_id, f"user no longer holds role {tok.role}")
    return Check(User(user.username, (tok.role,), user.display_name), token_id)

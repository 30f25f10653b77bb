"""Workbench users: argon2-hashed passwords stored as store records of kind ``user``.

A user record is ``{"username", "roles", "display_name", "disabled", "password_hash", "demo",
"created_at"}`` keyed by the username. Sign-ins (success and failure) go to the audit trail.
Demo users (one per role) exist only in demo mode (``FAPIAO_DEMO=1``); outside demo mode they cannot
sign in even when a demo workspace still holds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from graph.core import settings
from graph.core.errors import ConfigError, InvalidData, NotFound
from graph.store import Store
from workbench import audit, auth
from workbench.auth import User, require

KIND = "user"
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
MIN_PASSWORD = 8

#: username -> (password, roles) of the demo users created by :func:`ensure_demo_users`
DEMO_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "investigator": ("demo-investigator", ("investigator",)),
    "supervisor": ("demo-supervisor", ("supervisor",)),
    "analyst": ("demo-analyst", ("analyst",)),
    "admin": ("demo-admin", ("admin",)),
}

_hasher = PasswordHasher()
# verified against when the user is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _from_record(rec: dict[str, object]) -> User:
    roles = rec.get("roles") or []
    return User(username=str(rec["username"]), roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
                display_name=str(rec.get("display_name") or ""), disabled=bool(rec.get("disabled")))


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(roles))
    if not out:
        raise InvalidData("give at least one role: " + ", ".join(auth.ROLES))
    unknown = [r for r in out if r not in auth.ROLES]
    if unknown:
        raise InvalidData(f"unknown role {unknown[0]!r}; roles are: {', '.join(auth.ROLES)}")
    return out


def normalise(username: str) -> str:
    """User names are case-insensitive: ``" Alice "`` and ``"alice"`` are the same account."""
    return username.strip().lower()


def get_user(store: Store, username: str) -> User | None:
    """The user named ``username``, or None."""
    rec = store.record(KIND, normalise(username))
    return _from_record(rec) if rec else None


def list_users(store: Store) -> list[User]:
    """Every user, sorted by username."""
    return sorted((_from_record(r) for r in store.records(KIND)), key=lambda u: u.username)


def create_user(store: Store, username: str, password: str, roles: Sequence[str], display_name: str = "",
                *, actor: User | None = None, demo: bool = False) -> User:
    """Create a user with an argon2-hashed password.

    Parameters
    ----------
    store : Store
    username : str
        2-32 characters: letters, digits, ``_ . -``; must not exist yet.
    password : str
        At least 8 characters.
    roles : sequence of str
        One or more of ``investigator``, ``supervisor``, ``analyst``, ``admin``.
    display_name : str
        Shown in the workbench instead of the username.
    actor : User or None
        The administrator doing it (checked for ``manage_users``); None for the command line, where
        access to the workspace already implies administration.
    demo : bool
        Marks a demo user (only signs in while ``FAPIAO_DEMO=1``).

    Returns
    -------
    User

    Raises
    ------
    InvalidData
        Bad name, short password, unknown role, or the user exists.
    PermissionDenied
        ``actor`` may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
    username = normalise(username)
    if not USERNAME_RE.match(username):
        raise InvalidData(f"user name {username!r} is not allowed: use 2-32 letters, digits, '_', '.' or '-'")
    if len(password) < MIN_PASSWORD:
        raise InvalidData(f"password too short: use at least {MIN_PASSWORD} characters")
    role_tuple = _check_roles(roles)
    if store.record(KIND, username) is not None:
        raise InvalidData(f"user {username!r} already exists")
    rec = {"username": username, "roles": list(role_tuple), "display_name": display_name, "disabled": False,
           "password_hash": _hasher.hash(password), "demo": demo, "created_at": audit.now().isoformat()}
    with store.writer() as w:
        w.put_record(KIND, username, rec)
    audit.record(store, actor, "user_add", f"user:{username}", f"roles={','.join(role_tuple)}")
    return _from_record(rec)


def _update(store: Store, username: str, **changes: object) -> User:
    username = normalise(username)
    rec = store.record(KIND, username)
    if rec is None:
        raise NotFound(f"no user named {username!r}")
    rec = {**rec, **changes}
    with store.writer() as w:
        w.put_record(KIND, username, rec)
    return _from_record(rec)


def disable_user(store: Store, username: str, *, actor: User | None = None) -> User:
    """Disable a user: they can no longer sign in and open sessions end at their next page load."""
    if actor is not None:
        require(actor, "manage_users")
    user = _update(store, username, disabled=True)
    audit.record(store, actor, "user_disable", f"user:{username}")
    return user


def enable_user(store: Store, username: str, *, actor: User | None = None) -> User:
    """Re-enable a disabled user."""
    if actor is not None:
        require(actor, "manage_users")
    user = _update(store, username, disabled=False)
    audit.record(store, actor, "user_enable", f"user:{username}")
    return user


def set_roles(store: Store, username: str, roles: Sequence[str], *, actor: User | None = None) -> User:
    """Replace a user's roles."""
    if actor is not None:
        require(actor, "manage_users")
    role_tuple = _check_roles(roles)
    user = _update(store, username, roles=list(role_tuple))
    audit.record(store, actor, "user_roles", f"user:{username}", f"roles={','.join(role_tuple)}")
    return user


def set_password(store: Store, username: str, password: str, *, actor: User | None = None) -> None:
    """Set a new password (at least 8 characters)."""
    if actor is not None:
        require(actor, "manage_users")
    if len(password) < MIN_PASSWORD:
        raise InvalidData(f"password too short: use at least {MIN_PASSWORD} characters")
    _update(store, username, password_hash=_hasher.hash(password))
    audit.record(store, actor, "user_password", f"user:{username}")


def authenticate(store: Store, username: str, password: str) -> User | None:
    """Check a sign-in; the User when name and password match an enabled account, else None.

    Both outcomes are written to the audit trail (``sign_in`` / ``sign_in_failed`` with the reason).
    Unknown names cost the same time as wrong passwords. Demo users only sign in while ``FAPIAO_DEMO=1``.
    """
    username = normalise(username or "")
    rec = store.record(KIND, username) if USERNAME_RE.match(username) else None
    stored = str(rec.get("password_hash", "")) if rec else _DUMMY_HASH
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    reason = ""
    if rec is None:
        reason, ok = "unknown user", False
    elif not ok:
        reason = "wrong password"
    elif rec.get("disabled"):
        reason, ok = "user disabled", False
    elif rec.get("demo") and not settings.get_bool("FAPIAO_DEMO"):
        reason, ok = "demo user outside demo mode", False
    if not ok or rec is None:
        audit.record(store, None, "sign_in_failed", f"user:{username[:64]}", reason)
        return None
    user = _from_record(rec)
    if _hasher.check_needs_rehash(stored):
        _update(store, username, password_hash=_hasher.hash(password))
    audit.record(store, user, "sign_in", f"user:{username}")
    return user


def ensure_demo_users(store: Store) -> list[tuple[str, str, tuple[str, ...]]]:
    """Create the demo users (one per role) that are missing; demo mode only.

    Returns
    -------
    list of (username, password, roles)
        All demo users, so the sign-in page and ``fapiao demo`` can print them.

    Raises
    ------
    ConfigError
        When ``FAPIAO_DEMO`` is not 1: real deployments never get well-known passwords.
    """
    if not settings.get_bool("FAPIAO_DEMO"):
        raise ConfigError("demo users are only created in demo mode: set FAPIAO_DEMO=1")
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for name, (password, roles) in DEMO_USERS.items():
        if store.record(KIND, name) is None:
            create_user(store, name, password, roles, display_name=f"演示{name}", demo=True)
        out.append((name, password, roles))
    return out

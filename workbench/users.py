"""Workbench users: argon2-hashed passwords stored as store records of kind ``user``.

A user record is ``{"username", "roles", "display_name", "disabled", "password_hash", "demo",
"created_at", "epoch"}`` keyed by the username; ``epoch`` grows with every password change, and a
session signed in under an older epoch ends at its next request. Sign-ins (success and failure) go to
the audit trail; repeated failures are throttled per user and per client with a growing back-off.
Every change commits in one transaction with its audit event. Passwords follow :func:`check_password`.
Demo users (one per role) exist only in demo mode (``FAPIAO_DEMO=1``); outside demo mode they cannot
sign in even when a demo workspace still holds them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from graph.core import settings
from graph.core.errors import ConfigError, InvalidData, NotFound
from graph.core.notes import Note
from graph.store import Store
from workbench import audit, auth
from workbench.auth import User, require

KIND = "user"
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
#: Failed sign-ins (per user, and per client) allowed before the back-off starts; it doubles from
#: THROTTLE_BASE_SECONDS with each further failure, up to THROTTLE_MAX_SECONDS.
THROTTLE_FREE = 5
THROTTLE_BASE_SECONDS = 2.0
THROTTLE_MAX_SECONDS = 900.0
COMMON_PASSWORDS_ZH = Path(__file__).with_name("data") / "common_passwords_zh.txt"

#: username -> (password, roles) of the demo users created by :func:`ensure_demo_users`
DEMO_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "investigator": ("demo-investigator", ("investigator",)),
    "supervisor": ("demo-supervisor", ("supervisor",)),
    "analyst": ("demo-analyst", ("analyst",)),
    "admin": ("demo-admin", ("admin",)),
}

#: argon2id at OWASP's first recommended setting (46 MiB, 1 pass, 1 lane). The library's default (64 MiB,
#: 3 passes, 4 lanes) took 0.75 s per sign-in on the 2-core server under load, most of the sign-in wait; this one
#: 0.2 s. Hashes made with other settings still verify, and are re-made with these at the next sign-in.
_hasher = PasswordHasher(time_cost=1, memory_cost=47_104, parallelism=1)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so a wrong name costs as long as a wrong password.
    Made on first sign-in, not at import: every command that imports this module (``fapiao load`` through
    the audit trail) paid one argon2 hash, 0.7 CPU-s at load 11."""
    return _hasher.hash("not-a-real-password")


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


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    extra = [line.strip().lower() for line in COMMON_PASSWORDS_ZH.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return frozenset([*FREQUENCY_LISTS["passwords"], *extra])


def check_password(password: str, username: str = "") -> None:
    """The password policy: at least :data:`MIN_PASSWORD` characters, not one of the common passwords
    (zxcvbn's 30,000 plus ``data/common_passwords_zh.txt``), not built on the user name, not one
    repeated character. Raises InvalidData saying which rule failed."""
    if len(password) < MIN_PASSWORD:
        raise InvalidData(f"password too short: use at least {MIN_PASSWORD} characters")
    low = password.lower()
    if low in _common_passwords() or low.rstrip("0123456789!@#.") in _common_passwords():
        raise InvalidData("password is on the list of common passwords: choose another")
    name = normalise(username)
    if len(name) >= 3 and name in low:
        raise InvalidData("password must not contain the user name")
    if len(set(password)) <= 2:
        raise InvalidData("password is one or two characters repeated: choose another")


class Throttle:
    """Failed sign-ins per key (``user:NAME``, ``client:ADDRESS``) in this process, with back-off.

    After :data:`THROTTLE_FREE` failures each further one locks the key for twice as long as the last
    (from :data:`THROTTLE_BASE_SECONDS` up to :data:`THROTTLE_MAX_SECONDS`); a success clears the user key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fails: dict[str, tuple[int, float]] = {}   # key -> (failures, locked until)

    def wait(self, *keys: str, now: float | None = None) -> float:
        """Seconds until every key may try again (0 when none is locked)."""
        t = time.monotonic() if now is None else now
        with self._lock:
            return max(0.0, *(self._fails.get(k, (0, 0.0))[1] - t for k in keys))

    def fail(self, *keys: str, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        with self._lock:
            for k in keys:
                n = self._fails.get(k, (0, 0.0))[0] + 1
                delay = 0.0 if n < THROTTLE_FREE else min(THROTTLE_BASE_SECONDS * 2 ** (n - THROTTLE_FREE),
                                                          THROTTLE_MAX_SECONDS)
                self._fails[k] = (n, t + delay)

    def clear(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


throttle = Throttle()


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
                *, actor: User | None = None, demo: bool = False, cli_actor: str | None = None) -> User:
    """Create a user with an argon2-hashed password.

    Parameters
    ----------
    store : Store
    username : str
        2-32 characters: letters, digits, ``_ . -``; must not exist yet.
    password : str
        Follows :func:`check_password` (demo users excepted).
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
        Bad name, a password against the policy, unknown role, or the user exists.
    PermissionDenied
        ``actor`` may not manage users.
    """
    if actor is not None:
        require(actor, "manage_users")
    username = normalise(username)
    if not USERNAME_RE.match(username):
        raise InvalidData(f"user name {username!r} is not allowed: use 2-32 letters, digits, '_', '.' or '-'")
    if not demo:   # demo passwords are well known by design and only work in demo mode
        check_password(password, username)
    role_tuple = _check_roles(roles)
    if store.record(KIND, username) is not None:
        raise InvalidData(f"user {username!r} already exists")
    rec = {"username": username, "roles": list(role_tuple), "display_name": display_name, "disabled": False,
           "password_hash": _hasher.hash(password), "demo": demo, "created_at": audit.now().isoformat(),
           "epoch": 0}
    audit.record(store, actor, "user_add", f"user:{username}", Note("roles_granted", {"roles": list(role_tuple)}),
                 actor=cli_actor, change=lambda w: w.put_record(KIND, username, rec))
    return _from_record(rec)


def _update(store: Store, username: str, event: tuple[User | None, str, str] | None = None,
            cli_actor: str | None = None, **changes: object) -> User:
    """Apply ``changes`` to a user record; with ``event`` (actor, action, detail) in one transaction
    with that audit event."""
    username = normalise(username)
    rec = store.record(KIND, username)
    if rec is None:
        raise NotFound(f"no user named {username!r}")
    rec = {**rec, **changes}
    if event is None:
        with store.writer() as w:
            w.put_record(KIND, username, rec)
    else:
        audit.record(store, event[0], event[1], f"user:{username}", event[2], actor=cli_actor,
                     change=lambda w: w.put_record(KIND, username, rec))
    return _from_record(rec)


def epoch(store: Store, username: str) -> int | None:
    """The user's password epoch (None for an unknown user)."""
    rec = store.record(KIND, normalise(username))
    return int(rec.get("epoch") or 0) if rec else None


def disable_user(store: Store, username: str, *, actor: User | None = None, cli_actor: str | None = None) -> User:
    """Disable a user: they can no longer sign in and open sessions end at their next request."""
    if actor is not None:
        require(actor, "manage_users")
    return _update(store, username, (actor, "user_disable", ""), cli_actor, disabled=True)


def enable_user(store: Store, username: str, *, actor: User | None = None, cli_actor: str | None = None) -> User:
    """Re-enable a disabled user."""
    if actor is not None:
        require(actor, "manage_users")
    return _update(store, username, (actor, "user_enable", ""), cli_actor, disabled=False)


def set_roles(store: Store, username: str, roles: Sequence[str], *, actor: User | None = None,
              cli_actor: str | None = None) -> User:
    """Replace a user's roles (open sessions use the new roles from their next request)."""
    if actor is not None:
        require(actor, "manage_users")
    role_tuple = _check_roles(roles)
    return _update(store, username, (actor, "user_roles", f"roles={','.join(role_tuple)}"), cli_actor,
                   roles=list(role_tuple))


def set_password(store: Store, username: str, password: str, *, actor: User | None = None,
                 cli_actor: str | None = None) -> None:
    """Set a new password (see :func:`check_password`); open sessions of the user end."""
    if actor is not None:
        require(actor, "manage_users")
    check_password(password, username)
    _update(store, username, (actor, "user_password", "open sessions ended"), cli_actor,
            password_hash=_hasher.hash(password), epoch=(epoch(store, username) or 0) + 1)


def authenticate(store: Store, username: str, password: str, *, client: str = "") -> User | None:
    """Check a sign-in; the User when name and password match an enabled account, else None.

    Both outcomes are written to the audit trail (``sign_in`` / ``sign_in_failed`` with the reason).
    Unknown names cost the same time as wrong passwords. Demo users only sign in while ``FAPIAO_DEMO=1``.
    While the user name or the ``client`` (address) is throttled after repeated failures, the attempt is
    refused without checking the password (``sign_in_throttled``); see :class:`Throttle`.
    """
    username = normalise(username or "")
    keys = (f"user:{username[:64]}", *((f"client:{client}",) if client else ()))
    wait = throttle.wait(*keys)
    if wait > 0:
        audit.record(store, None, "sign_in_throttled", f"user:{username[:64]}",
                     Note("sign_in_wait", {"seconds": round(wait), "client": client or ""}))
        return None
    rec = store.record(KIND, username) if USERNAME_RE.match(username) else None
    stored = str(rec.get("password_hash", "")) if rec else _dummy_hash()
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    reason = ""
    if rec is None:
        reason, ok = "unknown_user", False
    elif not ok:
        reason = "wrong_password"
    elif rec.get("disabled"):
        reason, ok = "user_disabled", False
    elif rec.get("demo") and not settings.get_bool("FAPIAO_DEMO"):
        reason, ok = "demo_outside_demo", False
    if not ok or rec is None:
        throttle.fail(*keys)
        audit.record(store, None, "sign_in_failed", f"user:{username[:64]}",
                     Note("sign_in_refused", {"reason": reason}))
        return None
    throttle.clear(keys[0])
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

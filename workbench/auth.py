"""Roles and permissions: the one table every page, action and export checks on the server side.

A :class:`User` holds one or more roles. ``require(user, action)`` raises PermissionDenied unless the
user is signed in, enabled and one of its roles allows ``action``. Pages call it before rendering
anything; every service verb calls it again before touching the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graph.core.errors import PermissionDenied

ROLES: tuple[str, ...] = ("investigator", "supervisor", "analyst", "admin")

_ALL = frozenset(ROLES)
_INV = frozenset({"investigator"})
_SUP = frozenset({"supervisor"})
_ANA = frozenset({"analyst"})
_ADM = frozenset({"admin"})

#: action -> roles allowed. Keep in sync with docs/operations.md (a test checks every action is listed).
PERMISSIONS: dict[str, frozenset[str]] = {
    # reading
    "view_overview": _ALL,
    "view_network": _INV | _SUP | _ANA,
    "view_rings": _INV | _SUP | _ANA,
    "view_taxpayer": _INV | _SUP | _ANA,
    "view_risk_queue": _SUP | _INV,
    "view_cases": _INV | _SUP | _ANA,
    "check_invoice": _ALL,
    "view_alerts": _ALL,                  # one's own alert inbox and subscriptions
    # investigators' work
    "open_case": _INV | _SUP,
    "work_case": _INV | _SUP,             # notes, attachments, status
    "record_disposition": _INV | _SUP,    # confirmed fraud / false positive
    "record_appeal": _INV | _SUP,
    # supervisors' work
    "override_tier": _SUP,
    "assign_case": _SUP,
    "review_appeal": _SUP,
    "view_audit": _SUP | _ADM,
    "train_model": _SUP,
    "edit_alert_rules": _SUP,
    # analysts' work
    "export_case": _ANA,
    "export_data": _ANA,
    # supervisors' and analysts' reporting
    "make_report": _SUP | _ANA,           # the period report (HTML / PDF)
    # administration
    "import_data": _ADM,
    "review_scans": _INV | _SUP | _ADM,   # the OCR review queue: correct a held scan's fields and load it
    "run_detection": _ADM | _SUP,
    "manage_users": _ADM,
}


def allowed(roles: Iterable[str], action: str) -> bool:
    """True when any of ``roles`` may perform ``action`` (unknown actions are never allowed)."""
    permitted = PERMISSIONS.get(action, frozenset())
    return any(r in permitted for r in roles)


@dataclass(frozen=True)
class User:
    """A signed-in (or listed) workbench user. ``roles`` are keys of :data:`ROLES`."""

    username: str
    roles: tuple[str, ...]
    display_name: str = ""
    disabled: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.username


def require(user: User | None, action: str) -> User:
    """Raise PermissionDenied unless ``user`` is signed in, enabled and one of its roles allows ``action``.

    Every verb in the workflow layer calls this before touching the store.
    """
    if user is None:
        raise PermissionDenied(f"sign in first: action {action!r} needs a signed-in user")
    if user.disabled:
        raise PermissionDenied(f"user {user.username!r} is disabled")
    if not allowed(user.roles, action):
        raise PermissionDenied(
            f"action {action!r} needs one of the roles {sorted(PERMISSIONS.get(action, ()))}; "
            f"you have {sorted(user.roles) or 'none'}"
        )
    return user

"""``--as USER``: run a command-line action as a workbench user, checked against the users table and audited
under that user's name and roles (without it the trail names the OS login, ``cli:<login>``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from graph.core.errors import PermissionDenied
from graph.store import Store
from workbench.auth import PERMISSIONS, User, allowed

F = TypeVar("F", bound=Callable[..., Any])


def as_option(action: str) -> Callable[[F], F]:
    """``--as USER`` into the ``as_user`` parameter; the help names the permission ``action`` needs."""
    roles = "/".join(sorted(PERMISSIONS[action]))
    return click.option(
        "--as", "as_user", default=None, metavar="USER",
        help=f"Act as this workbench user (needs the {action!r} permission: role {roles}); the audit trail "
             "names USER and its roles instead of the OS login. An unknown, disabled or unpermitted user is "
             "refused before anything is written. Not a sign-in: it names who is responsible.")


def acting_user(store: Store, username: str | None, action: str) -> User | None:
    """The user ``--as`` names, once checked: None without ``--as``; PermissionDenied (one clear line, exit 1)
    for a user the store does not know, a disabled one, or one whose roles do not allow ``action``."""
    if username is None:
        return None
    from workbench.users import get_user

    user = get_user(store, username)
    if user is None:
        raise PermissionDenied(f"--as {username}: 没有这个用户 / no such user in {store.uri} "
                               "(see `fapiao users list`)")
    if user.disabled:
        raise PermissionDenied(f"--as {username}: 用户已停用 / user {user.username!r} is disabled")
    if not allowed(user.roles, action):
        raise PermissionDenied(
            f"--as {username}: 无权执行 {action} / {action!r} needs one of the roles "
            f"{sorted(PERMISSIONS[action])}; {user.username!r} has {sorted(user.roles) or 'none'}")
    return user

"""``fapiao users``, ``fapiao case`` and ``fapiao audit``: accounts, case files and the audit trail."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from graph.core import vocab
from graph.core.errors import IntegrityError, PermissionDenied
from workbench import auth
from workbench.cli.api import token_group
from workbench.cli.options import echo_json, json_option, store_option

if TYPE_CHECKING:  # imported inside the commands, so `fapiao --help` stays fast
    from rich.console import Console

    from graph.store import Store


def _console() -> Console:
    """A console on the current stdout; wide when piped so ids and names are never wrapped."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


def _store(uri: str | None) -> Store:
    from graph import open_store

    return open_store(uri)


def _operator() -> auth.User:
    """Whoever runs the command line: workspace access is administration, so they act as admin."""
    return auth.User(f"cli:{getpass.getuser()}", ("admin",), "command line")


def _sign_in(store: Store, username: str, password_stdin: bool) -> auth.User:
    """Sign in as an existing workbench user (password from stdin or a hidden prompt); audited."""
    from workbench import users as accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(f"password for {username}", hide_input=True)
    user = accounts.authenticate(store, username, password)
    if user is None:
        raise PermissionDenied(f"sign-in as {username!r} failed (wrong password, unknown or disabled user)")
    return user


# ---------------------------------------------------------------------------------------------- users
@click.group("users")
def users_group() -> None:
    """Manage workbench accounts (roles: investigator, supervisor, analyst, admin).

    Passwords are stored as argon2 hashes in the store; every change is audited as done by
    ``cli:<your login>``.
    """


@users_group.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(auth.ROLES),
              help="A role for the user; repeat for several roles.")
@click.option("--display-name", default="", help="Name shown in the workbench (e.g. 张三).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@store_option()
def users_add(name: str, roles: tuple[str, ...], display_name: str, password_stdin: bool, store_uri: str | None) -> None:
    """Create user NAME with one or more roles.

    \b
    Examples:
      fapiao users add zhangsan --role investigator --display-name 张三
      echo 's3cret-pass' | fapiao users add lisi --role supervisor --role analyst --password-stdin
    """
    from workbench import users as accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _store(store_uri) as store:
        user = accounts.create_user(store, name, password, roles, display_name, actor=_operator())
    click.echo(f"created user {user.username} ({', '.join(user.roles)})")


users_group.add_command(token_group)


@users_group.command("list")
@store_option()
@json_option()
def users_list(store_uri: str | None, as_json: bool) -> None:
    """List every user with roles and status."""
    from rich.table import Table
    from rich.text import Text

    from workbench import users as accounts

    with _store(store_uri) as store:
        all_users = accounts.list_users(store)
    if as_json:
        echo_json([{"username": u.username, "display_name": u.display_name, "roles": list(u.roles),
                    "disabled": u.disabled} for u in all_users])
        return
    table = Table("user", "display name", "roles", "status")
    for u in all_users:
        table.add_row(*map(Text, (u.username, u.display_name, ", ".join(u.roles),
                                  "disabled" if u.disabled else "active")))
    _console().print(table)
    if not all_users:
        click.echo("no users yet: fapiao users add NAME --role ROLE")


@users_group.command("disable")
@click.argument("name")
@store_option()
def users_disable(name: str, store_uri: str | None) -> None:
    """Disable user NAME: no more sign-ins; open sessions end at the next page load."""
    from workbench import users as accounts

    with _store(store_uri) as store:
        accounts.disable_user(store, name, actor=_operator())
    click.echo(f"disabled user {name}")


@users_group.command("enable")
@click.argument("name")
@store_option()
def users_enable(name: str, store_uri: str | None) -> None:
    """Re-enable a disabled user NAME."""
    from workbench import users as accounts

    with _store(store_uri) as store:
        accounts.enable_user(store, name, actor=_operator())
    click.echo(f"enabled user {name}")


@users_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
@store_option()
def users_passwd(name: str, password_stdin: bool, store_uri: str | None) -> None:
    """Set a new password for user NAME (asks twice unless --password-stdin)."""
    from workbench import users as accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    with _store(store_uri) as store:
        accounts.set_password(store, name, password, actor=_operator())
    click.echo(f"password changed for {name}")


users = users_group  # the names cli.py looks up: users, case, audit


# ----------------------------------------------------------------------------------------------- case
@click.group("case")
def case() -> None:
    """List and export cases, and verify exported case files."""


@case.command("list")
@click.option("--user", "username", required=True, help="Your workbench user (investigators see only their cases).")
@click.option("--status", type=click.Choice(tuple(vocab.CASE_STATUSES)), default=None, help="Only cases in this status.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_option()
@json_option()
def case_list(username: str, status: str | None, password_stdin: bool, store_uri: str | None, as_json: bool) -> None:
    """List the cases USER may see, newest first."""
    from rich.table import Table
    from rich.text import Text

    from workbench import cases

    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        found = cases.list_cases(store, user, status=status)
    if as_json:
        echo_json([{"case_id": c.case_id, "title": c.title, "status": c.status, "owner": c.owner,
                    "assignee": c.assignee, "taxpayers": list(c.taxpayers), "created_at": c.created_at}
                   for c in found])
        return
    table = Table("case", "title", "status", "owner", "assignee", "taxpayers", "opened")
    for c in found:
        table.add_row(*map(Text, (c.case_id, c.title, c.status, c.owner, c.assignee or "-", str(len(c.taxpayers)),
                                  c.created_at[:16])))
    _console().print(table)


@case.command("export")
@click.argument("case_id")
@click.option("--user", "username", required=True, help="Your workbench user; needs the analyst role.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("exports"),
              show_default=True, help="Folder for the ZIP.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_option()
def case_export(case_id: str, username: str, out_dir: Path, password_stdin: bool, store_uri: str | None) -> None:
    """Export CASE_ID as a ZIP case file (report, diagrams, invoices CSV, GraphML, manifest); analysts only.

    \b
    Example:
      fapiao case export C-20250301-1A2B3C --user ana --out exports
    """
    from workbench import export

    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        with _console().status(f"exporting {case_id} ..."):
            path = export.export_case(store, user, case_id, out_dir)
    click.echo(str(path))


PUBLIC_KEY_HELP = ("The signer's public key (PEM, from `fapiao keys export`): verify without this installation's "
                   "key, e.g. as an outside party.")


@case.command("verify")
@click.argument("zip_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=PUBLIC_KEY_HELP)
def case_verify(zip_file: Path, public_key: Path | None) -> None:
    """Check an exported case file against its signed manifest; names every changed, added, removed or
    duplicated file and whether the trusted key signed the manifest.

    Exit status 0 when it verifies, 1 when it does not.
    """
    from workbench import export

    res = export.verify_export(zip_file, public_key)
    if not res.ok:
        for p in res.problems:
            click.secho(f"  {p}", fg="red", err=True)
        raise IntegrityError(f"{zip_file.name} does NOT verify ({len(res.problems)} problems)")
    click.echo(f"{zip_file.name}: OK, {res.files} files match the manifest signed by the trusted key")


# ---------------------------------------------------------------------------------------------- audit
@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail (hash-chained events)."""


@audit_group.command("verify")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=PUBLIC_KEY_HELP)
@store_option()
def audit_verify(public_key: Path | None, store_uri: str | None) -> None:
    """Recompute the hash chain and check the signed head; names every edited, removed, reordered or
    appended event, a deleted or forged head and a wiped trail. Exit 1 when broken."""
    from graph.core import settings
    from workbench import audit as audit_log

    uri = store_uri or settings.get("FAPIAO_STORE")
    with _store(store_uri) as store:
        res = audit_log.verify(store, public_key)
    if not res.ok:
        for p in res.problems:
            click.secho(f"  {p}", fg="red", err=True)
        raise IntegrityError(res.summary())
    click.echo(f"{res.summary()} (store {uri})")
    if res.checked == 0:
        click.echo(f"  {uri} holds no audit events: is it the store you meant? After `make demo` the store is "
                   "embedded:demo-data/workspace; pass --store URI or set FAPIAO_STORE.", err=True)


@audit_group.command("adopt")
@store_option()
def audit_adopt(store_uri: str | None) -> None:
    """Sign the head of a trail written before signing existed (only when its chain verifies by hash)."""
    from workbench import audit as audit_log

    with _store(store_uri) as store:
        res = audit_log.adopt(store, _operator().username)
    click.echo(res.summary())


@audit_group.command("show")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Newest events to show.")
@click.option("--actor", default=None, help="Only events by this user.")
@click.option("--action", default=None, help="Only this action (sign_in, case_read, tier_override ...).")
@click.option("--target", default=None, help="Only targets containing this text (e.g. case:C-2025).")
@store_option()
@json_option()
def audit_show(limit: int, actor: str | None, action: str | None, target: str | None, store_uri: str | None,
               as_json: bool) -> None:
    """Show the newest audit events, newest first."""
    from rich.table import Table
    from rich.text import Text

    from graph.core.notes import en_text
    from workbench import audit as audit_log

    with _store(store_uri) as store:
        evs = audit_log.events(store, actor=actor, action=action, target=target, limit=limit)
    if as_json:
        echo_json([audit_log.event_row(ev) for ev in evs])
        return
    table = Table("#", "time", "actor", "role", "action", "target", "detail")
    for ev in evs:
        r = audit_log.event_row(ev) | {"detail": en_text(ev.detail)}   # coded details in words (--json: as stored)
        table.add_row(*(Text(str(r[k])) for k in ("seq", "at", "actor", "role", "action", "target", "detail")))
    _console().print(table)


audit = audit_group
__all__ = ["audit", "case", "users"]

"""``fapiao api`` (the HTTP API) and ``fapiao users token ...`` (its API tokens)."""

from __future__ import annotations

import getpass
import sys

import click

from workbench.auth import User
from workbench.cli.options import store_option


@click.command("api")
@click.option("--host", default=None, help="Address to listen on [default: FAPIAO_API_HOST, 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on [default: FAPIAO_API_PORT, 8700].")
@store_option()
def api(host: str | None, port: int | None, store_uri: str | None) -> None:
    """Serve the HTTP API for other systems (needs the 'api' extra: pip install 'fapiao-workbench[api]').

    \b
    OpenAPI document at /openapi.json, browsable docs at /docs. Every call needs an API token
    (fapiao users token create USER) and is audited. See docs/api.md.

    \b
    Examples:
      fapiao api                                  # http://127.0.0.1:8700/docs
      fapiao api --port 9000 --store embedded:/data/ws
    """
    from graph.core import settings
    from workbench.api import serve

    serve(store_uri, host=host or settings.get("FAPIAO_API_HOST"),
          port=settings.get_int("FAPIAO_API_PORT") if port is None else port)


def _operator() -> User:
    return User(f"cli:{getpass.getuser()}", ("admin",), "command line")


@click.group("token")
def token_group() -> None:
    """API tokens for `fapiao api`: each bound to one user and one of its roles, shown once, revocable."""


@token_group.command("create")
@click.argument("username")
@click.option("--role", default=None, help="Which of the user's roles the token acts as [default: its first].")
@click.option("--name", default="", help="What the token is for (e.g. ERP push).")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days [default: never].")
@store_option()
def token_create(username: str, role: str | None, name: str, days: int | None, store_uri: str | None) -> None:
    """Create an API token for USERNAME and print it once (only its hash is stored).

    \b
    Example:
      fapiao users token create erp --role admin --name "ERP push" --days 365
    """
    from graph import open_store
    from workbench import tokens

    with open_store(store_uri) as store:
        text, tok = tokens.create_token(store, username, role=role, name=name, days=days,
                                        actor=_operator())
    click.echo(text)
    click.echo(f"token {tok.token_id} for {tok.username} as {tok.role}"
               + (f", expires {tok.expires_at:%Y-%m-%d}" if tok.expires_at else "")
               + ": copy it now, it is not shown again", err=True)


@token_group.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@store_option()
def token_list(username: str | None, store_uri: str | None) -> None:
    """List API tokens (ids, users, roles, state; never the secrets)."""
    from rich.console import Console
    from rich.table import Table

    from graph import open_store
    from workbench import audit, tokens

    with open_store(store_uri) as store:
        all_tokens = tokens.list_tokens(store, username)
    now = audit.now()
    table = Table("id", "user", "role", "name", "created", "expires", "state")
    for t in all_tokens:
        state = "revoked" if t.revoked else ("active" if t.active(now) else "expired")
        table.add_row(t.token_id, t.username, t.role, t.name, f"{t.created_at:%Y-%m-%d %H:%M}",
                      f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never", state)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@token_group.command("revoke")
@click.argument("token_id")
@store_option()
def token_revoke(token_id: str, store_uri: str | None) -> None:
    """Revoke token TOKEN_ID (the 12 hex characters after fpk_); it stops working within a second."""
    from graph import open_store
    from workbench import tokens

    with open_store(store_uri) as store:
        tokens.revoke_token(store, token_id, actor=_operator())
    click.echo(f"revoked token {token_id}")

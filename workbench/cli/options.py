"""Options shared by several ``fapiao`` commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = "embedded:PATH or a Neo4j URI [default: the FAPIAO_STORE setting, else embedded:workspace]."


def json_option() -> Callable[[F], F]:
    """``--json``: print the result as one JSON document on stdout (progress and tables stay off stdout)."""
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def echo_json(value: Any) -> None:
    """``value`` as JSON on stdout (Chinese kept readable)."""
    import json

    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def store_option(help: str = STORE_HELP) -> Callable[[F], F]:
    """``--store URI`` into the ``store_uri`` parameter (None: the FAPIAO_STORE setting)."""
    return click.option("--store", "store_uri", default=None, metavar="URI", help=help)

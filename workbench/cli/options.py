"""Options shared by several ``fapiao`` commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = "embedded:PATH or a Neo4j URI [default: the FAPIAO_STORE setting, else embedded:workspace]."


def store_option(help: str = STORE_HELP) -> Callable[[F], F]:
    """``--store URI`` into the ``store_uri`` parameter (None: the FAPIAO_STORE setting)."""
    return click.option("--store", "store_uri", default=None, metavar="URI", help=help)

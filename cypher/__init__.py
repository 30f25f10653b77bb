"""Every Cypher statement the Neo4j backend runs, one ``NAME.cypher`` file each, loaded by name.

Statements are always parameterised (``$rows``, ``$tax_id`` ...); nothing is ever formatted into them.
"""

from __future__ import annotations

__fapiao__ = True  # marks our package: graph.core.install.check tells it from a same-named one

from functools import cache
from importlib import resources

__all__ = ["load", "names"]


@cache
def load(name: str) -> str:
    """The text of ``cypher/NAME.cypher``; KeyError names the known statements when it does not exist."""
    path = resources.files(__name__).joinpath(f"{name}.cypher")
    if not path.is_file():
        raise KeyError(f"no cypher statement {name!r}; known: {', '.join(names())}")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """Names of every shipped statement, sorted."""
    return sorted(
        p.name.removesuffix(".cypher") for p in resources.files(__name__).iterdir() if p.name.endswith(".cypher")
    )

"""The numpy-style examples in the algorithms' docstrings (and the core vocabulary's) run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.helpers.paths import SOURCES

ROOT = SOURCES
MODULES = sorted(
    [f"algorithms.{p.stem}" for p in (ROOT / "algorithms").glob("*.py") if p.stem != "__init__"]
    + ["graph.core.vocab", "graph.core.collector"])


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (see the output above)"


def test_the_algorithms_have_examples() -> None:
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for n in MODULES if n.startswith("algorithms.")
                   for t in finder.find(importlib.import_module(n)))
    assert examples >= 20

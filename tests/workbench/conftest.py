"""Fixtures of the workbench page tests: the small demo workspace of :mod:`wb_data`, shared or private."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Streamlit must not unload modules that change on disk while the tests run.
os.environ.setdefault("STREAMLIT_SERVER_FILE_WATCHER_TYPE", "none")

from graph import open_store
from graph.store import Store
from tests.helpers.wb_data import Demo, build


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The small workspace, built once per test session."""
    return build(tmp_path_factory.mktemp("wb") / "workspace")


@pytest.fixture()
def app_env(demo_store: Demo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """FAPIAO_STORE points at the demo workspace while a test runs."""
    monkeypatch.setenv("FAPIAO_STORE", demo_store.uri)
    yield demo_store


@pytest.fixture()
def fresh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """A private copy of the demo workspace for tests that write (overrides, cases, imports)."""
    demo = build(tmp_path / "workspace")
    monkeypatch.setenv("FAPIAO_STORE", demo.uri)
    yield demo


@pytest.fixture()
def fresh_store(fresh_env: Demo) -> Iterator[tuple[Demo, Store]]:
    """A private demo workspace and the store open on it (closed after the test)."""
    store = open_store(fresh_env.uri)
    try:
        yield fresh_env, store
    finally:
        store.close()

"""A real API server on 127.0.0.1 over a private copy of the demo workspace, with one token per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from graph import open_store
from graph.store import Store
from tests.helpers.wb_data import ROLE_USERS, Demo, build
from workbench import tokens
from workbench.api import create_app
from workbench.api.server import Background


@dataclass
class Api:
    url: str
    store: Store
    demo: Demo
    app: Any
    token: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def flush_audit(self) -> None:
        self.app.state.audit_queue.flush()


@contextmanager
def running_api(path: Path, **options: Any) -> Iterator[Api]:
    demo = build(path)
    store = open_store(demo.uri)
    try:
        app = create_app(store, **options)
        api = Api("", store, demo, app)
        for username in ROLE_USERS:
            api.token[username], _ = tokens.create_token(store, username)
        with Background(app) as url:
            api.url = url
            yield api
    finally:
        store.close()

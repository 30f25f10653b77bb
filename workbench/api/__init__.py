"""The HTTP API for other systems (FastAPI + uvicorn; the ``api`` extra): ``fapiao api``.

Public names: :func:`create_app` (an ASGI app over a store) and :func:`serve` (run it with uvicorn).
Both raise :class:`graph.core.errors.ConfigError` naming the extra when FastAPI / uvicorn are not installed.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from graph.core.errors import ConfigError

if TYPE_CHECKING:
    from graph.store import Store

__all__ = ["create_app", "require_extra", "serve"]


def require_extra() -> None:
    """Raise ConfigError naming the ``api`` extra when FastAPI or uvicorn is missing."""
    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"the HTTP API needs the 'api' extra ({', '.join(missing)} missing): "
                          "pip install 'fapiao-workbench[api]'")


def create_app(store: Store, **options: Any) -> Any:
    """The FastAPI application serving ``store`` (see :func:`workbench.api.app.create_app`)."""
    require_extra()
    from workbench.api.app import create_app as make

    return make(store, **options)


def serve(store_uri: str | None, *, host: str, port: int, **options: Any) -> None:
    """Run the API with uvicorn until interrupted (see :func:`workbench.api.server.serve`)."""
    require_extra()
    from workbench.api.server import serve as run

    run(store_uri, host=host, port=port, **options)

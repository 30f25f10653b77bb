"""Run the API with uvicorn (``fapiao api``)."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

import uvicorn

from graph import open_store
from workbench.api.app import create_app


def serve(store_uri: str | None, *, host: str, port: int, **options: object) -> None:
    """Serve the store at ``store_uri`` on ``host:port`` until interrupted; the store is closed on exit.

    The embedded store runs DuckDB on one thread here unless ``FAPIAO_EMBEDDED_THREADS`` says otherwise: the
    API's statements (a group's writes, lookups) are small, and DuckDB's worker threads spent ≈ 0.4 CPU-s per
    100,000 imported invoices - 15 % of the server's CPU - without making them faster (docs/api.md, Speed)."""
    os.environ.setdefault("FAPIAO_EMBEDDED_THREADS", "1")
    tune_interpreter()
    with open_store(store_uri) as store:
        app = create_app(store, **options)  # type: ignore[arg-type]
        config = uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=True,
                                forwarded_allow_ips="127.0.0.1", server_header=False)
        _settle()       # before it listens: a batch that arrives first must not pay for the start-up's work
        uvicorn.Server(config).run()


SWITCH_INTERVAL_S = 0.001   # Python's default is 0.005


def tune_interpreter() -> None:
    """The API process's interpreter, tuned for short answers beside background threads (docs/api.md, Speed).

    A thread that runs Python code (the group-commit writer, the audit flush once a second, the token re-check)
    keeps the GIL until the switch interval has passed while the event loop waits to answer a 查验 of ≈ 1 ms:
    1 ms instead of Python's 5 lets the loop in sooner (a few more GIL hand-overs per second)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def _settle() -> None:
    """Collect, then move every object alive (≈ 200,000 from the imports: modules, FastAPI, pydantic, pyarrow) out of
    the garbage collector's reach. A full collection walked them all - 100-290 ms with every thread stopped,
    measured during an import at load 5 - and full collections ran during imports; afterwards they walk only what
    was made since. Done before the server listens: on a thread beside the serving, the start-up's full collection
    (≈ 1 s, every thread stopped) fell inside the first import's batches (py-spy of `fapiao api` during
    bench_api.py)."""
    gc.collect()
    gc.freeze()


class Background:
    """Serve an ASGI app on 127.0.0.1 (a free port) on a thread: ``with Background(app) as url: ...``.

    For tests and benchmarks; loopback only.
    """

    def __init__(self, app: object, *, host: str = "127.0.0.1") -> None:
        import socket

        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening
        # socket says TCP; with proto 0 every response (headers, then body) waited ~40 ms for a delayed ACK
        # (measured: 44 ms → 0.3 ms per request on loopback; `fapiao api` binds by host/port and was not affected)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False))  # type: ignore[arg-type]
        self.thread: threading.Thread | None = None

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start within 20 s")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.sock.close()

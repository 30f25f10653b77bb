"""The loopback server of the tests and benchmarks answers without the ~40 ms delayed-ACK stall.

`Background` listened on a socket made with proto 0, so asyncio never set TCP_NODELAY on accepted connections:
every response (headers, then body) waited for the client's delayed ACK — 44 ms per request measured, whatever
the endpoint, which capped bench_api's verify figures. A raw ASGI app isolates the server from the API's work.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import time
from typing import Any

from workbench.api.server import Background


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_background_server_answers_without_delayed_ack_stall() -> None:
    bg = Background(_ok)
    assert bg.sock.proto == socket.IPPROTO_TCP
    with bg as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        times = []
        for _ in range(30):
            t = time.perf_counter()
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
            times.append(time.perf_counter() - t)
        conn.close()
    assert statistics.median(times) < 0.025, f"median {statistics.median(times) * 1000:.1f} ms (40+ ms: Nagle/ACK stall)"


def test_the_api_process_freezes_its_startup_objects_and_switches_threads_sooner() -> None:
    """`fapiao api` moves the objects alive after startup out of the collector's reach (full collections walked
    ≈ 200,000 of them, 100-290 ms with every thread stopped) and lowers the GIL switch interval to 1 ms."""
    import gc
    import sys

    from workbench.api import server

    before = sys.getswitchinterval()
    try:
        server.tune_interpreter()
        assert sys.getswitchinterval() == server.SWITCH_INTERVAL_S < 0.005
        gc.unfreeze()
        server._settle()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)


def test_the_api_process_is_settled_before_it_listens(monkeypatch: Any, tmp_path: Any) -> None:
    """`fapiao api` imports the loader's kernels and freezes its start-up objects before uvicorn listens, so the
    first batches of an import do not pay for them (they did, on a thread beside the serving)."""
    import gc
    import sys

    import uvicorn

    from workbench.api import server

    seen: dict[str, bool] = {}
    frozen: list[int] = []

    def run(self: uvicorn.Server, *args: object, **kwargs: object) -> None:
        seen.update(kernels="loaders.kernels" in sys.modules)
        frozen.append(gc.get_freeze_count())

    before = sys.getswitchinterval()
    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setenv("FAPIAO_EMBEDDED_THREADS", "1")     # serve() sets it when unset: undone after the test
    try:
        gc.unfreeze()
        server.serve(f"embedded:{tmp_path / 'ws'}", host="127.0.0.1", port=0)
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)
    assert seen == {"kernels": True} and frozen[0] > 1000

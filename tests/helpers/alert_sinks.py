"""Local receivers for alert delivery tests: an SMTP sink (aiosmtpd) and an HTTP webhook receiver, both on
127.0.0.1 with a free port; nothing leaves the machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.box.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 OK"


@contextmanager
def smtp_sink() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 that keeps every message it receives."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox("127.0.0.1", port)
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hook:
    url: str
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    #: status codes to answer, in order (the last repeats); "hang" sleeps ``hang_s`` before answering 200
    script: list[int | str] = field(default_factory=lambda: [200])
    hang_s: float = 3.0


@contextmanager
def webhook_receiver(script: list[int | str] | None = None, hang_s: float = 3.0) -> Iterator[Hook]:
    """An HTTP server on 127.0.0.1 recording each POST body and headers, answering per ``script``."""
    hook = Hook("", script=list(script or [200]), hang_s=hang_s)
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            i = calls["n"]
            calls["n"] += 1
            action = hook.script[min(i, len(hook.script) - 1)]
            if action == "hang":
                time.sleep(hook.hang_s)
                action = 200
            hook.received.append((body, dict(self.headers.items())))
            self.send_response(int(action))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()

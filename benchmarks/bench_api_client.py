"""A cheap open-loop HTTP load client for `bench_api.py`'s 查验 figures, run as a process of its own.

    python benchmarks/bench_api_client.py REQUESTS.json      # {"host", "port", "token", "requests", "rate", "seconds"}
    python benchmarks/bench_api_client.py REQUESTS.json      # {..., "sequential": 200}: one at a time, one connection

The earlier client (32 threads of httpx in the benchmark's own process) spent 1.4-2.4 CPU-ms per request, more
than the server it measured (1.0-1.5), on the same two cores, and its threads waited for its own GIL before they
could take a response's time: part of the tail it reported was its own. This one is one thread with ``selectors``
and raw keep-alive sockets: each request is pre-encoded bytes, sent at its scheduled time on an idle connection
(a new one when all are busy, up to ``max_connections``), and its response is complete when the headers'
Content-Length is in. Latency is counted from the request's **scheduled** time (so a client that falls behind
shows it as latency instead of hiding it: no coordinated omission) and, separately, from the moment it was sent.

Prints one JSON line: the latencies (ms, sorted, both kinds), the answers by status and 查验 result, the requests
achieved per second, this process's CPU seconds and the most connections open at once.
"""

from __future__ import annotations

import json
import resource
import selectors
import socket
import sys
import time
from typing import Any


class _Conn:
    __slots__ = ("sock", "buf", "index", "scheduled", "sent")

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.index = -1
        self.scheduled = self.sent = 0.0


def _complete(buf: bytes) -> tuple[int, bytes] | None:
    """(status, body) when ``buf`` holds a whole response with a Content-Length, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].split(b"\r\n")
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if len(buf) < end + 4 + length:
        return None
    return int(head[0].split()[1]), buf[end + 4:end + 4 + length]


def run(host: str, port: int, requests: list[bytes], rate: float, seconds: float,
        max_connections: int = 64) -> dict[str, Any]:
    n = int(rate * seconds)
    sel = selectors.DefaultSelector()
    idle: list[_Conn] = []
    opened = 0
    busy = 0
    most = 0
    reopened = 0
    from_scheduled: list[float] = []
    from_sent: list[float] = []
    answers: dict[str, int] = {}
    due: list[int] = []          # scheduled, not yet sent (every connection busy)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter() + 0.2
    nxt = 0
    done = 0
    while done < n:
        now = time.perf_counter()
        while nxt < n and start + nxt / rate <= now:
            due.append(nxt)
            nxt += 1
        while due and (idle or opened < max_connections):
            if idle:
                c = idle.pop()
            else:
                c = _Conn(host, port)
                opened += 1
                sel.register(c.sock, selectors.EVENT_READ, c)
            i = due.pop(0)
            c.index, c.scheduled, c.sent, c.buf = i, start + i / rate, time.perf_counter(), b""
            c.sock.sendall(requests[i % len(requests)])
            busy += 1
            most = max(most, busy)
        wait = max(0.0, start + nxt / rate - time.perf_counter()) if nxt < n else 0.5
        for key, _ in sel.select(min(wait, 0.5)):
            c = key.data
            chunk = c.sock.recv(65536)
            if not chunk:       # the server closed it (keep-alive timeout): drop it; a request on it goes again
                sel.unregister(c.sock)
                c.sock.close()
                opened -= 1
                if c in idle:
                    idle.remove(c)
                else:
                    busy -= 1
                    due.insert(0, c.index)
                    reopened += 1
                continue
            c.buf += chunk
            got = _complete(c.buf)
            if got is None:
                continue
            t = time.perf_counter()
            from_scheduled.append((t - c.scheduled) * 1000)
            from_sent.append((t - c.sent) * 1000)
            status, body = got
            result = ""
            if status == 200:
                result = ":" + str(json.loads(body).get("result", ""))
            answers[f"{status}{result}"] = answers.get(f"{status}{result}", 0) + 1
            busy -= 1
            done += 1
            idle.append(c)
    elapsed = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    return {"requests": n, "achieved_rps": n / elapsed, "from_scheduled_ms": sorted(from_scheduled),
            "from_sent_ms": sorted(from_sent), "answers": answers, "connections": opened, "most_in_flight": most,
            "resent": reopened,
            "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)}


def sequential(host: str, port: int, requests: list[bytes], n: int) -> dict[str, Any]:
    """``n`` requests one after another on one keep-alive connection: the time one request takes, nothing queued
    (``from_sent_ms``, sorted)."""
    c = _Conn(host, port)
    times: list[float] = []
    answers: dict[str, int] = {}
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        for i in range(n):
            buf = b""
            t = time.perf_counter()
            c.sock.sendall(requests[i % len(requests)])
            while (got := _complete(buf)) is None:
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                buf += chunk
            times.append((time.perf_counter() - t) * 1000)
            status, body = got
            key = f"{status}:{json.loads(body).get('result', '')}" if status == 200 else str(status)
            answers[key] = answers.get(key, 0) + 1
    finally:
        c.sock.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"requests": n, "from_sent_ms": sorted(times), "answers": answers,
            "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)}


def request_bytes(host: str, port: int, token: str, body: dict[str, str]) -> bytes:
    raw = json.dumps(body).encode()
    return (f"POST /invoices/verify HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(raw)}\r\n\r\n").encode() + raw


def main() -> None:
    spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
    host, port = spec["host"], int(spec["port"])
    requests = [request_bytes(host, port, spec["token"], b) for b in spec["requests"]]
    if "sequential" in spec:
        print(json.dumps(sequential(host, port, requests, int(spec["sequential"]))))
    else:
        print(json.dumps(run(host, port, requests, float(spec["rate"]), float(spec["seconds"]))))


if __name__ == "__main__":
    main()

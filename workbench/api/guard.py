"""Who is calling and may they: bearer tokens, per-token rate limits, the body-size cap, and the audit of
every call (batched: one store transaction per flush, at most ``AUDIT_FLUSH_S`` after the call)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from graph.store import Store
from workbench import audit, auth, tokens
from workbench.api.problems import Problem, body
from workbench.auth import User

log = logging.getLogger("fapiao.api")
AUDIT_FLUSH_S = 1.0     # each flush is one store transaction: 15-30 CPU-ms under load (measured), whatever its size
DRAIN_BYTES = 64 * 1024 * 1024   # an oversized body is read and dropped up to this, then the connection closes
AUTH_CACHE_S = 1.0     # a revoked token stops working at most this long after `fapiao users token revoke`
AUTH_REFRESH_S = 0.5   # a token used when its check is older than this is checked again on a thread meanwhile
bearer = HTTPBearer(auto_error=False, description="An API token: `fapiao users token create USER`")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RateLimiter:
    """A token bucket per API token: ``rate`` per second, bursts up to ``2 * rate``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, 2 * rate)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds until the next request would be."""
        now = time.monotonic()
        with self.lock:
            level, at = self.buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.rate)
            if level >= 1:
                self.buckets[key] = (level - 1, now)
                return 0.0
            self.buckets[key] = (level, now)
            return (1 - level) / self.rate


class AuditQueue:
    """API calls for the audit trail, appended by a background thread every ``AUDIT_FLUSH_S``: one event per caller
    (actor and role) and flush, action ``api_calls``, whose detail lists each call on its own line
    (``time method route status token path``). One event per call would cost one store insert per request
    (≈7 ms each, measured), serialising the API behind its own audit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.writing = threading.Lock()   # one flush at a time: a flush returns only once earlier calls are written
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="fapiao-api-audit", daemon=True)
        self.thread.start()

    def add(self, actor: str, role: str, line: str) -> None:
        with self.lock:
            self.pending.append((actor, role, f"{audit.now():%H:%M:%S} {line}"))

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(AUDIT_FLUSH_S)
            try:
                self.flush()
            except Exception:   # keep auditing later calls; the events stay queued
                log.exception("could not write API audit events; retrying")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.flush()

    def flush(self) -> int:
        """Write the queued calls: one transaction with one signed head (audit.record_many); the number of calls."""
        with self.writing:
            return self._flush()

    def _flush(self) -> int:
        with self.lock:
            batch, self.pending = self.pending, []
        if not batch:
            return 0
        grouped: dict[tuple[str, str], list[str]] = {}
        for actor, role, line in batch:
            grouped.setdefault((actor, role), []).append(line)
        entries = [(actor, role, "api_calls", "api", "\n".join(lines)) for (actor, role), lines in grouped.items()]
        try:
            audit.record_many(self.store, entries)
        except BaseException:
            with self.lock:   # keep them for the next flush rather than lose them
                self.pending[:0] = batch
            raise
        return len(batch)


@dataclass(frozen=True)
class Caller:
    user: User
    token_id: str


class Guard:
    """Authentication + authorisation + rate limiting, shared by every endpoint."""

    def __init__(self, store: Store, rate: float) -> None:
        self.store = store
        self.limiter = RateLimiter(rate)
        self.cache: dict[str, tuple[float, tokens.Check]] = {}
        self.refreshing: set[str] = set()
        self.lock = threading.Lock()

    def cached(self, text: str) -> tokens.Check | None:
        """The answer for this token checked less than ``AUTH_CACHE_S`` ago, else None (no store access). One
        older than ``AUTH_REFRESH_S`` is checked again on a thread of its own (one at a time per token), so a
        token in steady use is read from the store about twice a second and its callers never wait for it."""
        key = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        with self.lock:
            hit = self.cache.get(key)
            if hit is None:
                return None
            age = time.monotonic() - hit[0]
            if age >= AUTH_CACHE_S:
                return None
            if age < AUTH_REFRESH_S or key in self.refreshing:
                return hit[1]
            self.refreshing.add(key)
        threading.Thread(target=self._refresh, args=(key, text), name="fapiao-api-auth", daemon=True).start()
        return hit[1]

    def _refresh(self, key: str, text: str) -> None:
        try:
            self._check(key, text)
        except Exception:       # the next request after AUTH_CACHE_S checks again (and reports the error)
            log.exception("could not check an API token again")
        finally:
            with self.lock:
                self.refreshing.discard(key)

    def check(self, text: str) -> tokens.Check:
        hit = self.cached(text)
        if hit is not None:
            return hit
        return self._check(hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(), text)

    def _check(self, key: str, text: str) -> tokens.Check:
        now = time.monotonic()      # before the read: the answer is as old as the state it reads
        got = tokens.authenticate(self.store, text)
        with self.lock:
            if len(self.cache) > 10_000:
                self.cache.clear()
            if key not in self.cache or self.cache[key][0] <= now:     # never over a newer answer
                self.cache[key] = (now, got)
        return got

    def needs(self, *actions: str) -> Any:
        """A FastAPI dependency: the caller, when its token is valid, within its rate and its role allows one
        of ``actions`` (workbench.auth.PERMISSIONS)."""

        async def dependency(request: Request,
                             cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
            challenge = {"WWW-Authenticate": 'Bearer realm="fapiao"'}
            if cred is None:
                raise Problem(401, "send an API token: Authorization: Bearer fpk_...", headers=challenge)
            # on the event loop when the token was checked within AUTH_CACHE_S (no thread hand-over per call);
            # the store is read on a worker thread
            got = self.cached(cred.credentials)
            if got is None:
                got = await run_in_threadpool(self.check, cred.credentials)
            if got.user is None:
                raise Problem(401, f"API token rejected: {got.reason}", headers=challenge)
            request.state.caller = Caller(got.user, got.token_id)
            wait = self.limiter.take(got.token_id)
            if wait > 0:
                raise Problem(429, f"rate limit of {self.limiter.rate:g} requests/s for this token exceeded",
                              headers={"Retry-After": str(max(1, round(wait + 0.5)))})
            if not any(auth.allowed(got.user.roles, a) for a in actions):
                roles = sorted(set().union(*(auth.PERMISSIONS.get(a, frozenset()) for a in actions)))
                raise Problem(403, f"{' or '.join(repr(a) for a in actions)} needs one of the roles {roles}; "
                                   f"this token acts as {got.user.roles[0]}")
            return request.state.caller  # type: ignore[no-any-return]

        return Depends(dependency)


class Gate:
    """ASGI middleware: caps request bodies at ``max_bytes`` (413, before anything is stored) and audits
    every call with its caller, method, route and status."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, audit_queue: AuditQueue) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.audit = audit_queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500, "audited": 0}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body") and not status["audited"]:
                status["audited"] = 1   # queued before the client has the whole answer (then it may ask for a flush)
                self._audit(scope, status["code"])
            await send(message)

        try:
            length = int(dict(scope.get("headers") or []).get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        chunks: list[bytes] = []
        size = 0
        pending = scope.get("method") not in ("GET", "HEAD")      # more of the body to come
        while pending and size <= self.max_bytes and length <= self.max_bytes:
            message = await receive()     # the whole (capped) body first: an oversized one is refused before any work
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            pending = bool(message.get("more_body"))
        if length > self.max_bytes or size > self.max_bytes:
            while pending and size <= DRAIN_BYTES:   # drain (bounded) so the client reads the 413, not a reset
                message = await receive()
                size += len(message.get("body", b""))
                pending = message["type"] == "http.request" and bool(message.get("more_body"))
            await self._too_large(scope, send_status)
        else:
            replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replayed() -> Message:
                return replay.pop() if replay else await receive()

            await self.app(scope, replayed, send_status)
        if not status["audited"]:      # no answer was completed (the app failed, the client went away)
            self._audit(scope, status["code"])

    async def _too_large(self, scope: Scope, send: Send) -> None:
        import json

        doc = body(413, f"request body larger than {self.max_bytes:,} bytes (FAPIAO_API_MAX_MB); nothing was stored",
                   scope.get("path", ""))
        raw = json.dumps(doc).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(raw)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": raw})

    def _audit(self, scope: Scope, status: int) -> None:
        state = scope.get("state") or {}
        caller = state.get("caller") if isinstance(state, dict) else None
        route = scope.get("route")
        path = getattr(route, "path", None) or scope.get("path", "")
        method = scope.get("method", "")
        if method == "GET" and path in ("/openapi.json", "/docs", "/redoc", "/health", "/docs/oauth2-redirect"):
            return
        actor, role = (caller.user.username, caller.user.roles[0]) if caller is not None else ("anonymous", "")
        token = caller.token_id if caller is not None else "-"
        raw = str(scope.get("path", ""))[:200].replace("\n", " ").replace(" ", "%20")
        self.audit.add(actor, role, f"{method} {path} {status} token={token} path={raw}")

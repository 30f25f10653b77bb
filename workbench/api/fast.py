"""``POST /invoices/verify`` (查验) answered in a few lines of ASGI when the request is plainly valid.

Through FastAPI a 查验 costs ≈ 0.5-0.9 server CPU-ms before the lookup (routing, dependency injection, body
validation, a worker-thread hand-over, the response model; measured at load 8 with the lookup cached), which
alone would take most of a core at 200 查验 per second on this 2-core machine. This middleware answers the plain case itself:
JSON body of the documented fields with valid values (ASCII digits only), a bearer token checked within
``AUTH_CACHE_S`` whose role may ``check_invoice``, within its rate, and the in-memory 查验 index current. The
answer is the same bytes the route gives (the same :class:`VerifyOut`); the call is audited by the
:class:`~workbench.api.guard.Gate` around it, as every call. Anything else - a missing, unknown or revoked token,
another role, a rate exceeded, a body that does not plainly pass, the index not current - goes to the FastAPI
route unchanged, which answers it (and words every problem) as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool

from graph.core import schema
from graph.core.model import Invoice
from workbench import auth
from workbench.api.guard import ASGIApp, Caller, Guard, Message, Receive, Scope, Send
from workbench.api.models import AMOUNT_RE, CODE_RE, NUMBER_RE, VerifyOut
from workbench.api.verify_index import VerifyIndex

PATH = "/invoices/verify"
_NUMBER = re.compile(NUMBER_RE, re.ASCII)
_CODE = re.compile(CODE_RE, re.ASCII)
_AMOUNT = re.compile(AMOUNT_RE, re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_FIELDS = frozenset({"number", "code", "issue_date", "amount"})
_JSON = (b"application/json", b"application/json; charset=utf-8")


@dataclass(frozen=True)
class Question:
    """A 查验 request's fields (what :class:`~workbench.api.models.VerifyIn` holds)."""

    number: str
    code: str | None
    issue_date: date
    amount: str

    def amount_fen(self) -> int:
        return int((Decimal(self.amount) * 100).to_integral_value())


def question(body: bytes) -> Question | None:
    """The fields of a plainly valid JSON 查验 body, else None (the route decides and words the problem)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if type(doc) is not dict or not doc.keys() <= _FIELDS:
        return None
    number, code, day, amount = doc.get("number"), doc.get("code"), doc.get("issue_date"), doc.get("amount")
    if type(number) is not str or type(day) is not str or type(amount) is not str or \
            not (code is None or type(code) is str):
        return None
    if not _NUMBER.fullmatch(number) or not _AMOUNT.fullmatch(amount) or not _DATE.fullmatch(day) or \
            (code is not None and not _CODE.fullmatch(code)) or (code is None and len(number) == 8):
        return None
    try:
        issued = date.fromisoformat(day)
    except ValueError:
        return None
    return Question(number, code, issued, amount)


class VerifyFastPath:
    """ASGI middleware (inside :class:`~workbench.api.guard.Gate`, which has read the whole body): the plain 查验."""

    def __init__(self, app: ASGIApp, *, guard: Guard, index: VerifyIndex,
                 answer: Callable[[Question, Invoice | None], VerifyOut],
                 on_void: Callable[[Caller, Question], None]) -> None:
        self.app = app
        self.guard = guard
        self.index = index
        self.answer = answer
        self.on_void = on_void

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or not self.index.enabled:
            await self.app(scope, receive, send)
            return
        message = await receive()
        replay: list[Message] = [message]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        done = None if message.get("more_body") else self._answer(scope, message.get("body", b""))
        if done is None:
            await self.app(scope, replayed, send)
            return
        raw, caller, q, out = done
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})
        if out.status in ("void", "red_letter", "red_offset"):    # the verify_void alert, after the answer
            await run_in_threadpool(self.on_void, caller, q)

    def _answer(self, scope: Scope, body: bytes) -> tuple[bytes, Caller, Question, VerifyOut] | None:
        token = ctype = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value
            elif name == b"content-type":
                ctype = value
        if token is None or ctype is None or ctype.lower() not in _JSON:
            return None
        scheme, _, cred = token.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer":
            return None
        got = self.guard.cached(cred.strip())
        if got is None or got.user is None or not auth.allowed(got.user.roles, "check_invoice"):
            return None
        q = question(body)
        if q is None:
            return None
        snap = self.index.current(check_version=False)
        if snap is None:
            return None
        inv: Any = None
        for key in ([schema.invoice_key(q.code, q.number), q.number] if q.code else [q.number]):
            found = snap.find(key)
            if found is not None and found.number == q.number:
                inv = found
                break
        if self.guard.limiter.take(got.token_id) > 0:
            return None     # the route answers 429 (the bucket is still empty)
        caller = Caller(got.user, got.token_id)
        state = scope.setdefault("state", {})
        state["caller"] = caller
        out = self.answer(q, inv)
        self.index.fast_answers += 1
        return out.model_dump_json().encode("utf-8"), caller, q, out

"""The FastAPI application: routes over one store; see docs/api.md for every endpoint with curl examples.

No ``from __future__ import annotations`` here: FastAPI reads the per-app ``Annotated`` dependency aliases
at route definition time.
"""

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import BackgroundTasks, FastAPI, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from graph.core import schema, settings
from graph.core.errors import InvalidData
from graph.core.model import Invoice, Ring
from graph.store import Store
from workbench import alerts, audit, overrides
from workbench.alerts import engine
from workbench.api import ingest
from workbench.api.fast import Question, VerifyFastPath
from workbench.api.group_commit import Batch, GroupCommit
from workbench.api.guard import AuditQueue, Caller, Gate, Guard
from workbench.api.jobs import Job, Jobs
from workbench.api.models import (
    AMOUNT_RE,
    CODE_RE,
    NUMBER_RE,
    AlertList,
    AlertOut,
    AlertsRead,
    JobOut,
    LoadResult,
    Marked,
    RingOut,
    RingPage,
    RunIn,
    RunList,
    RunOut,
    TaxpayerOut,
    VerifyIn,
    VerifyMatches,
    VerifyOut,
    invoice_table,
)
from workbench.api.problems import Problem, install, problem_openapi, responses
from workbench.api.verify_index import MISS, VerifyIndex, find

TZ = ZoneInfo(schema.TZ)
_STATUS = {"red": "red_letter"}
_KNOWN_STATUS = {"normal", "void", "red_letter", "out_of_control", "abnormal", "red_offset"}


class Findings:
    """The newest run's scores and rings, indexed by tax id; reloaded when a newer run appears."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.run_id: str | None = None
        self.scores: dict[str, dict[str, Any]] = {}
        self.rings: list[Ring] = []
        self.by_member: dict[str, list[Ring]] = {}

    def current(self) -> "Findings":
        runs = self.store.runs()
        newest = runs[0].run_id if runs else None
        with self.lock:
            if newest != self.run_id:
                rows = self.store.scores(newest).to_pylist() if newest else []
                rings = self.store.rings(newest) if newest else []
                self.scores = {r["tax_id"]: r for r in rows}
                self.rings = rings
                self.by_member = {}
                for r in rings:
                    for m in r.members:
                        self.by_member.setdefault(m, []).append(r)
                self.run_id = newest
        return self


def _find(store: Store, number: str, code: str | None, index: VerifyIndex | None = None) -> Invoice | None:
    """The invoice 查验 asks about: from the in-memory index while it is current, else from the store."""
    inv = MISS if index is None else find(index.invoice, number, code)
    if inv is MISS:
        inv = find(store.invoice, number, code)
    return inv  # type: ignore[return-value]


def verify(store: Store, req: VerifyIn, index: VerifyIndex | None = None) -> VerifyOut:
    """Answer like the national 查验 platform: found or not, its status, and which given fields match."""
    return answer(req, _find(store, req.number, req.code, index))


def answer(req: VerifyIn | Question, inv: Invoice | None) -> VerifyOut:
    """The 查验 answer about ``inv`` (None: not found) to the question ``req`` (number, code, issue_date and
    amount_fen())."""
    if inv is None:
        return VerifyOut(result="not_found", exists=False)
    fen = req.amount_fen()
    matches = VerifyMatches(code=None if req.code is None else inv.code == req.code,
                            issue_date=inv.issued_at.astimezone(TZ).date() == req.issue_date,
                            amount=fen in (inv.amount_fen, inv.total_fen))
    ok = matches.issue_date and matches.amount and matches.code is not False
    status = _STATUS.get(inv.status, inv.status)
    return VerifyOut(result="consistent" if ok else "inconsistent", exists=True,
                     status=status if status in _KNOWN_STATUS else "abnormal",  # type: ignore[arg-type]
                     matches=matches, invoice=inv if ok else None)


_VOID_ALERT = ("void", "red_letter", "red_offset")


def _alert_void(store: Store, req: VerifyIn | Question, caller: str, index: VerifyIndex | None = None) -> None:
    """Raise the ``verify_void`` alert for a 查验 call that found a void or red-letter invoice."""
    inv = _find(store, req.number, req.code, index)
    if inv is not None:
        alerts.notify(store, engine.verify_void(inv, caller, audit.now()))


def _job_out(j: Job) -> JobOut:
    return JobOut(job_id=j.job_id, state=j.state, started_at=j.started_at,  # type: ignore[arg-type]
                  finished_at=j.finished_at, run_id=j.run_id, error=j.error, rings=j.rings, tiers=j.tiers)


def create_app(store: Store, *, max_mb: float | None = None, max_rows: int | None = None,
               rate: float | None = None, detect_on_load: bool | None = None) -> FastAPI:
    """The API over ``store`` (the caller owns and closes the store). Limits default to the FAPIAO_API_* settings;
    ``detect_on_load`` (FAPIAO_API_DETECT_ON_LOAD) runs detection and the alert rules after batches that store
    invoices (one run at a time; batches arriving meanwhile cause one more run when it ends)."""
    max_bytes = int((settings.get_float("FAPIAO_API_MAX_MB") if max_mb is None else max_mb) * 1024 * 1024)
    rows_cap = settings.get_int("FAPIAO_API_MAX_ROWS") if max_rows is None else max_rows
    guard = Guard(store, settings.get_float("FAPIAO_API_RATE") if rate is None else rate)
    audit_queue = AuditQueue(store)
    writer = GroupCommit(store, rows_cap)
    jobs = Jobs(store)
    on_load = settings.get_bool("FAPIAO_API_DETECT_ON_LOAD") if detect_on_load is None else detect_on_load
    findings = Findings(store)
    index = VerifyIndex(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()
        jobs.wait(timeout=60)
        audit_queue.close()
        index.close()

    app = FastAPI(
        title="Fapiao workbench API", version="1",
        description="Push invoices, check them (查验) and read detection findings. Every call needs an API token "
                    "(`fapiao users token create USER`) and is audited. Errors are RFC 9457 problem details.",
        lifespan=lifespan)
    install(app)
    problem_openapi(app)
    app.state.audit_queue = audit_queue
    app.state.jobs = jobs
    app.state.writer = writer
    app.state.verify_index = index
    Importer = Annotated[Caller, guard.needs("import_data")]
    Checker = Annotated[Caller, guard.needs("check_invoice")]
    TaxpayerViewer = Annotated[Caller, guard.needs("view_taxpayer")]
    RingViewer = Annotated[Caller, guard.needs("view_rings")]
    RunViewer = Annotated[Caller, guard.needs("view_rings", "run_detection")]
    Detector = Annotated[Caller, guard.needs("run_detection")]
    AlertReader = Annotated[Caller, guard.needs("view_alerts")]
    common = (400, 401, 403, 413, 422, 429, 500, 503)

    @app.get("/health", tags=["meta"], summary="Liveness (no token)", responses=responses(500, 503))
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # ------------------------------------------------------------------------------------- invoices
    binary = {"schema": {"type": "string", "format": "binary"}}

    @app.post(
        "/invoices", response_model=LoadResult, tags=["invoices"], responses=responses(*common, 415),
        summary="Load a batch of invoices (JSON, Arrow, Parquet, CSV or an uploaded file)",
        description="Same rules, quarantine and report as `fapiao load`. Send JSON `{\"invoices\": [...]}`, the "
                    "same rows as an Arrow IPC stream (`application/vnd.apache.arrow.stream`) or a Parquet file "
                    "(`application/vnd.apache.parquet`) with the JSON field names as columns (the fast path for "
                    "systems that have the rows as columns), a CSV body (`text/csv`), or multipart/form-data with "
                    "a `file` (CSV, Excel, JSON, JSON Lines, Parquet). Re-sending a batch stores nothing new "
                    "(`skipped_identical`). Needs the admin role (`import_data`).",
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InvoiceBatch"}},
            ingest.ARROW: binary, ingest.PARQUET: binary, "text/csv": binary,
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}}}}})
    async def post_invoices(caller: Importer, request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=5)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Problem(422, "multipart body needs one file in the field 'file'")
            data = await upload.read()
            name = upload.filename
            return _detect_after(caller, await run_in_threadpool(ingest.ingest_file, store, data, name, rows_cap))
        if ctype == "text/csv":
            data = await request.body()
            return _detect_after(caller, await run_in_threadpool(ingest.ingest_file, store, data, "body.csv",
                                                                 rows_cap))
        if ctype in (ingest.ARROW, ingest.PARQUET):
            raw = await request.body()
            return _detect_after(caller, await run_in_threadpool(_columnar_batch, raw, ctype))
        if ctype not in ("application/json", ""):
            raise Problem(415, f"send application/json, {ingest.ARROW}, {ingest.PARQUET}, text/csv or "
                               f"multipart/form-data, not {ctype!r}")
        raw = await request.body()
        return _detect_after(caller, await run_in_threadpool(_json_batch, raw))

    def _columnar_batch(raw: bytes, ctype: str) -> dict[str, Any]:
        """An Arrow IPC stream or Parquet body read and loaded with whatever else is waiting (one thread hop)."""
        table = ingest.columnar_body(raw, ctype)
        return writer.submit(Batch(table, raw, "arrows" if ctype == ingest.ARROW else "parquet"))

    def _json_batch(raw: bytes) -> dict[str, Any]:
        """A JSON body checked (the schema of the OpenAPI document) and loaded with whatever else is waiting."""
        try:
            table = invoice_table(raw)
        except ValidationError as e:
            bad_json = next((err for err in e.errors() if err["type"] == "json_invalid"), None)
            if bad_json is not None:
                raise Problem(400, f"the body is not valid JSON: {bad_json['msg']}; nothing was stored") from e
            errors = [{"field": ".".join(str(p) for p in err["loc"]), "type": err["type"], "message": err["msg"]}
                      for err in e.errors()[:200]]
            raise Problem(422, "the batch does not match the API schema; nothing was stored", errors=errors) from e
        return writer.submit(Batch(table, raw, "json"))

    def _detect_after(caller: Caller, result: dict[str, Any]) -> dict[str, Any]:
        """With detect_on_load, a batch that stored invoices starts (or queues) detection; its job id is returned."""
        if on_load and result.get("loaded"):
            result["detection_job"] = jobs.request(caller.user).job_id
        return result

    def _verify(caller: Caller, req: VerifyIn, tasks: BackgroundTasks) -> Response:
        """The 查验 answer as JSON bytes made once (VerifyOut, as the OpenAPI document says; no second
        validation of the response model on this hot path)."""
        if req.code is None and len(req.number) == 8:
            raise Problem(422, "an 8-digit invoice number needs its 10/12-digit code")
        out = verify(store, req, index)
        if out.status in _VOID_ALERT:   # the verify_void alert, after the answer has gone out
            tasks.add_task(_alert_void, store, req, f"api:{caller.user.username}", index)
        return Response(out.model_dump_json(), media_type="application/json")

    @app.post("/invoices/verify", response_model=VerifyOut, tags=["invoices"], responses=responses(*common),
              summary="查验: does this invoice exist, what is its status, which given fields match")
    def post_verify(caller: Checker, req: VerifyIn, tasks: BackgroundTasks) -> Response:
        return _verify(caller, req, tasks)

    @app.get("/invoices/verify", response_model=VerifyOut, tags=["invoices"], responses=responses(*common),
             summary="查验 as a query: the same question and answer as POST /invoices/verify")
    def get_verify(caller: Checker, tasks: BackgroundTasks,
                   number: Annotated[str, Query(pattern=NUMBER_RE, description="发票号码: 8 digits (with code) or 20")],
                   issue_date: Annotated[date, Query(description="开票日期")],
                   amount: Annotated[str, Query(pattern=AMOUNT_RE, description="金额 or 价税合计, yuan, ≤ 2 decimals")],
                   code: Annotated[str | None, Query(pattern=CODE_RE, description="发票代码 (paper invoices)")] = None,
                   ) -> Response:
        return _verify(caller, VerifyIn(number=number, code=code, issue_date=issue_date, amount=amount), tasks)

    @app.get("/invoices/{number}", response_model=Invoice, tags=["invoices"],
             responses=responses(*common, 404), summary="One invoice by number (+ code for paper invoices)")
    def get_invoice(caller: Checker, number: str = Path(pattern=NUMBER_RE, description="8 or 20 digits"),
                    code: str | None = Query(default=None, pattern=CODE_RE, description="发票代码 (paper invoices)"),
                    ) -> Invoice:
        inv = _find(store, number, code, index)
        if inv is None:
            hint = "" if code or len(number) == 20 else " (8-digit numbers need their code: ?code=...)"
            raise Problem(404, f"no invoice {number}{' code ' + code if code else ''}{hint}")
        return inv

    # ------------------------------------------------------------------------------------- findings
    @app.get("/taxpayers/{tax_id}", response_model=TaxpayerOut, tags=["findings"],
             responses=responses(*common, 404), summary="A taxpayer's tier, score, reasons and rings (newest run)")
    def get_taxpayer(caller: TaxpayerViewer, tax_id: str = Path(pattern=r"^[0-9A-Z]{15,20}$")) -> TaxpayerOut:
        tp = store.taxpayer(tax_id)
        if tp is None:
            raise Problem(404, f"no taxpayer {tax_id}")
        f = findings.current()
        row = f.scores.get(tax_id)
        latest = [h for h in overrides.history(store, tax_id) if h["kind"] == overrides.OVERRIDE_KIND]
        model_tier = row["tier"] if row else None
        return TaxpayerOut(
            tax_id=tp.tax_id, name=tp.name, registered_on=tp.registered_on, industry=tp.industry, region=tp.region,
            invoice_limit_fen=tp.invoice_limit_fen, status=tp.status, run_id=f.run_id,
            tier=latest[-1]["tier"] if latest else model_tier, model_tier=model_tier, overridden=bool(latest),
            score=row["score"] if row else None, reasons=json.loads(row["reasons"] or "[]") if row else [],
            rings=[RingOut.of(r, with_invoices=False) for r in f.by_member.get(tax_id, [])])

    @app.get("/rings", response_model=RingPage, tags=["findings"], responses=responses(*common),
             summary="Rings of the newest run, highest score first")
    def get_rings(caller: RingViewer, kind: str | None = Query(default=None, max_length=40),
                  min_score: float = Query(default=0.0, ge=0, le=1),
                  limit: int = Query(default=100, ge=1, le=1000), offset: int = Query(default=0, ge=0)) -> RingPage:
        f = findings.current()
        rings = [r for r in f.rings if (kind is None or r.kind == kind) and r.score >= min_score]
        return RingPage(run_id=f.run_id, total=len(rings),
                        rings=[RingOut.of(r, with_invoices=False) for r in rings[offset:offset + limit]])

    @app.get("/rings/{ring_id}", response_model=RingOut, tags=["findings"], responses=responses(*common, 404),
             summary="One ring with its members and invoices")
    def get_ring(caller: RingViewer, ring_id: str = Path(max_length=200)) -> RingOut:
        ring = store.ring(ring_id)
        if ring is None:
            raise Problem(404, f"no ring {ring_id}")
        return RingOut.of(ring)

    @app.get("/runs", response_model=RunList, tags=["runs"], responses=responses(*common),
             summary="Detection runs (stored, newest first) and the API's detection jobs")
    def get_runs(caller: RunViewer) -> RunList:
        return RunList(jobs=[_job_out(j) for j in jobs.all()], runs=[RunOut.of(r) for r in store.runs()])

    @app.post("/runs", response_model=JobOut, status_code=202, tags=["runs"], responses=responses(*common),
              summary="Start detection; poll GET /runs/{job_id}")
    def post_runs(caller: Detector, response: Response, params: RunIn | None = None) -> JobOut:
        p = params or RunIn()
        job, _started = jobs.start(caller.user, p.model_dump())
        response.headers["Location"] = f"/runs/{job.job_id}"
        return _job_out(job)

    @app.get("/runs/{job_id}", response_model=JobOut, tags=["runs"], responses=responses(*common, 404),
             summary="A detection job's state (and its run id once done)")
    def get_job(caller: RunViewer, job_id: str = Path(max_length=40)) -> JobOut:
        job = jobs.get(job_id)
        if job is None:
            raise Problem(404, f"no detection job {job_id} in this API process")
        return _job_out(job)

    # ------------------------------------------------------------------------------------- alerts
    @app.get("/alerts", response_model=AlertList, tags=["alerts"], responses=responses(*common),
             summary="The caller's alert inbox, newest first (docs/alerts.md)")
    def get_alerts(caller: AlertReader, unread: bool = Query(default=False, description="only unread alerts"),
                   assigned: bool = Query(default=False, description="only alerts about cases assigned to the caller"),
                   limit: int = Query(default=100, ge=1, le=1000)) -> AlertList:
        found = alerts.inbox(store, caller.user, unread=unread, assigned=assigned, limit=limit)
        return AlertList(unread=alerts.unread_count(store, caller.user),
                         alerts=[AlertOut.model_validate(a.to_record()) for a in found])

    @app.post("/alerts/read", response_model=Marked, tags=["alerts"], responses=responses(*common),
              summary="Mark alerts of the caller's inbox read (audited)")
    def post_alerts_read(caller: AlertReader, req: AlertsRead) -> Marked:
        if not req.all and not req.alert_ids:
            raise Problem(422, "name the alerts to mark read in alert_ids, or send {\"all\": true}")
        try:
            return Marked(marked=alerts.mark_read(store, caller.user, None if req.all else req.alert_ids))
        except InvalidData as e:
            raise Problem(422, str(e)) from e

    app.add_middleware(VerifyFastPath, guard=guard, index=index, answer=answer,
                       on_void=lambda caller, q: _alert_void(store, q, f"api:{caller.user.username}", index))
    app.add_middleware(Gate, max_bytes=max_bytes, audit_queue=audit_queue)
    return app

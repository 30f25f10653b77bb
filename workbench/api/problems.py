"""Errors as RFC 9457 problem details (``application/problem+json``): one shape for every failure."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from graph.core.errors import ConfigError, FapiaoError, InvalidData, NotFound, PermissionDenied, StoreError

MEDIA_TYPE = "application/problem+json"


class ProblemBody(BaseModel):
    """RFC 9457 problem details; ``errors`` lists each invalid field of a rejected request."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    """Raise to answer with a problem body."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors


def body(status: int, detail: str, instance: str = "", errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                           "detail": detail, "instance": instance}
    if errors is not None:
        out["errors"] = errors
    return out


def response(status: int, detail: str, instance: str = "", *, headers: dict[str, str] | None = None,
             errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(body(status, detail, instance, errors), status_code=status, media_type=MEDIA_TYPE,
                        headers=headers)


#: documented on every operation, so the OpenAPI document says what each failure looks like
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ProblemBody, "content": {MEDIA_TYPE: {}}, "description": HTTPStatus(s).phrase}
            for s in statuses}


STATUS_OF: tuple[tuple[type[FapiaoError], int], ...] = (
    (NotFound, 404), (PermissionDenied, 403), (InvalidData, 422), (ConfigError, 400), (StoreError, 503))


def _validation_errors(exc: RequestValidationError) -> tuple[int, list[dict[str, Any]]]:
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
               "type": str(e.get("type", "")), "message": str(e.get("msg", ""))} for e in exc.errors()]
    malformed = any(e["type"] == "json_invalid" for e in errors)
    return (400 if malformed else 422), errors


def install(app: FastAPI) -> None:
    """Answer every error, expected or not, with a problem body."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return response(exc.status, exc.detail, request.url.path, headers=exc.headers, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, errors = _validation_errors(exc)
        detail = "the body is not valid JSON" if status == 400 else "the request does not match the API schema"
        return response(status, detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return response(exc.status_code, str(exc.detail), request.url.path, headers=dict(exc.headers or {}))

    @app.exception_handler(FapiaoError)
    async def _fapiao(request: Request, exc: FapiaoError) -> JSONResponse:
        status = next((s for cls, s in STATUS_OF if isinstance(exc, cls)), 500)
        errors = [{"row": e.row, "field": e.field, "type": e.rule, "message": e.message}
                  for e in exc.errors] if isinstance(exc, InvalidData) and exc.errors else None
        return response(status, str(exc), request.url.path, errors=errors)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return response(500, f"internal error ({type(exc).__name__}); see the server log", request.url.path)


def problem_openapi(app: FastAPI) -> None:
    """Document error responses as ``application/problem+json`` only (FastAPI would add application/json)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                for resp in op.get("responses", {}).values():
                    content = resp.get("content", {})
                    if MEDIA_TYPE in content and "application/json" in content:
                        content[MEDIA_TYPE] = content.pop("application/json")
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]

"""RFC 9457 problem details: every error leaves the API as ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.auth import Forbidden, NotAuthenticated
from app.lti.errors import STATUSES as LTI_STATUSES
from graders.errors import (
    AnswerTooLong,
    BadBatchFile,
    BatchFinished,
    BatchNotFound,
    LLMRequired,
    NotReady,
    RubricateError,
    UnknownLesson,
    UnknownQuestion,
    UploadTooLarge,
)

log = logging.getLogger(__name__)

STATUS: dict[type[RubricateError], int] = {
    UnknownLesson: 404,
    UnknownQuestion: 404,
    AnswerTooLong: 413,
    LLMRequired: 503,
    NotReady: 503,
    BatchNotFound: 404,
    BadBatchFile: 400,
    UploadTooLarge: 413,
    BatchFinished: 409,
}
STATUS.update(LTI_STATUSES)
STATUS.update({NotAuthenticated: 401, Forbidden: 403})


def problem(
    status: int, title: str, detail: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON (or not UTF-8).", errors
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors]
    return 422, "; ".join(parts), errors


def install(app: FastAPI) -> None:
    """Map domain errors and framework errors to problem responses, in one place."""

    @app.exception_handler(RubricateError)
    async def _domain(request: Request, exc: RubricateError) -> JSONResponse:
        status = STATUS.get(type(exc), 400)
        extra: dict[str, Any] = {}
        if isinstance(exc, AnswerTooLong):
            extra = {"limit": exc.limit, "length": exc.length}
        elif isinstance(exc, BadBatchFile):
            extra = {"line": exc.line}
        elif isinstance(exc, UploadTooLarge):
            extra = {"limit": exc.limit}
        return problem(status, exc.title, str(exc), request, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_detail(exc)
        title = "Malformed request" if status == 400 else "Invalid request"
        return problem(status, title, detail, request, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 400: "Bad request"}.get(
            exc.status_code, "HTTP error"
        )
        return problem(exc.status_code, title, str(exc.detail), request)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "The server failed to handle this request.", request)

"""RFC 9457 problem details: every error leaves the API as ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.auth import Forbidden, NotAuthenticated
from app.lti.errors import STATUSES as LTI_STATUSES
from graders.core.errors import (
    AnswerTooLong,
    BadBatchFile,
    BadReview,
    BatchFinished,
    BatchNotFound,
    IdempotencyKeyReused,
    LLMRequired,
    NotReady,
    RubricateError,
    UnknownGrade,
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
    IdempotencyKeyReused: 409,
    UnknownGrade: 404,
    BadReview: 409,
}
STATUS.update(LTI_STATUSES)
STATUS.update({NotAuthenticated: 401, Forbidden: 403})


class Problem(BaseModel):
    """An RFC 9457 problem detail; some carry more members (``limit``, ``line``, ``errors``)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


_MEANINGS = {
    400: "Malformed request: bad JSON, not UTF-8, or an unreadable upload",
    401: "No valid API key or LTI session",
    403: "Not allowed",
    404: "No such lesson, question, grade, batch or platform",
    409: "Conflict with the resource's state",
    413: "Answer or body over its limit",
    422: "A field missing or of the wrong type",
    429: "Rate limited; see Retry-After",
    503: "Not ready, or the LLM is required and cannot grade",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": meaning,
        "content": {"application/problem+json": {"schema": Problem.model_json_schema()}},
    }
    for status, meaning in _MEANINGS.items()
}


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


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


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
        response = problem(exc.status_code, title, str(exc.detail), request)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # every method the path has, not one route's (RFC 9110)
            response.headers["Allow"] = ", ".join(_allowed(request))
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "The server failed to handle this request.", request)

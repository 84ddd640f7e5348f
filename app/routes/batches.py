"""Batch grading over HTTP: upload a class's answers, follow progress, fetch results."""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from app.auth import require_teacher
from app.deps import SettingsDep
from graders.batch.intake import save_upload
from graders.batch.manager import BatchManager
from graders.batch.report_html import render_html
from graders.batch.report_models import ClassReport
from graders.core.errors import BadBatchFile, NotReady, UploadTooLarge
from graders.store.batch_records import BatchInfo

router = APIRouter(prefix="/v1", tags=["batches"], dependencies=[Depends(require_teacher)])


def get_batches(request: Request) -> BatchManager:
    manager: BatchManager | None = getattr(request.app.state, "batches", None)
    if manager is None:
        raise NotReady("Batch grading is starting; try again shortly.")
    return manager


BatchesDep = Annotated[BatchManager, Depends(get_batches)]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _accepted(info: BatchInfo, *, replayed: bool) -> JSONResponse:
    headers = {"Location": f"/v1/batches/{info.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(info.model_dump(mode="json"), status_code=202, headers=headers)


# The body is the raw file, streamed to disk. Documented as CSV (JSON Lines is accepted too):
# a header naming the four columns, then one answer a row; text, so no NUL byte.
UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "pattern": "^(row_id,)?student_id,lesson_id,question_id,answer"
                    "\\r?\\n[^\\r\\n\\u0000]+(\\r?\\n[^\\u0000]*)?$",
                }
            }
        },
    }
}


@router.post("/batches", status_code=202, response_model=BatchInfo, openapi_extra=UPLOAD)
async def create_batch(
    request: Request,
    batches: BatchesDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> JSONResponse:
    """Upload a CSV or JSONL file as the raw body; grading runs in the background."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.batch_max_bytes:
        raise UploadTooLarge(settings.batch_max_bytes)
    path = await save_upload(request.stream(), batches.upload_dir, settings.batch_max_bytes)
    try:
        if not path.stat().st_size:  # no file, whatever the Idempotency-Key says
            raise BadBatchFile(1, "the file is empty")
        token = None
        if idempotency_key:
            earlier, token = await batches.by_key(idempotency_key, path)
            if earlier is not None:
                return _accepted(earlier, replayed=True)
        info, created = await batches.submit(path, filename=filename, key=token)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    return _accepted(info, replayed=not created)


@router.get("/batches/{batch_id}", response_model=BatchInfo)
async def batch_status(batch_id: str, batches: BatchesDep) -> BatchInfo:
    return await batches.info(batch_id)


@router.delete("/batches/{batch_id}", response_model=BatchInfo)
async def cancel_batch(batch_id: str, batches: BatchesDep) -> BatchInfo:
    return await batches.cancel(batch_id)


@router.get(
    "/batches/{batch_id}/results",
    responses={
        200: {
            "description": "JSON Lines or CSV, one row a line",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
async def batch_results(
    batch_id: str, batches: BatchesDep, format: Literal["csv", "jsonl"] = "jsonl"
) -> StreamingResponse:
    """One result per row, in input order, with the row's line number."""
    await batches.info(batch_id)
    return StreamingResponse(batches.results(batch_id, format), media_type=MEDIA[format])


@router.get(
    "/batches/{batch_id}/report",
    response_model=ClassReport,
    responses={200: {"content": {"text/html": {}}}},
)
async def batch_report(
    batch_id: str,
    batches: BatchesDep,
    request: Request,
    format: Literal["json", "html"] | None = None,
) -> ClassReport | HTMLResponse:
    """The class report as JSON, or as a self-contained HTML page (?format=html)."""
    report = await batches.report(batch_id)
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    if wants_html:
        return HTMLResponse(render_html(report))
    return report

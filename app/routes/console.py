"""The teacher console at ``/teacher``: one page (plain HTML, CSS and JS) over the HTTP API.

The page itself holds nothing secret; every teacher request it makes goes through the API's
own checks (loopback without keys, else ``Authorization: Bearer <key>``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["console"])

# Only this service's own scripts, styles and API; never framed by another site.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _asset(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media_type, headers=HEADERS)


@router.get("/teacher", include_in_schema=False)
async def teacher_page() -> FileResponse:
    response = _asset("teacher.html", "text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


@router.get("/teacher.js", include_in_schema=False)
async def teacher_js() -> FileResponse:
    return _asset("teacher.js", "text/javascript; charset=utf-8")


@router.get("/teacher.css", include_in_schema=False)
async def teacher_css() -> FileResponse:
    return _asset("teacher.css", "text/css; charset=utf-8")

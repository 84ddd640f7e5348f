"""The teacher console at ``/teacher``: one page (plain HTML, CSS and ES modules) over the HTTP
API, and ``/static/``: the console's and the widget's modules (app/static/, no build step).

The page itself holds nothing secret; every teacher request it makes goes through the API's
own checks (loopback without keys, else ``Authorization: Bearer <key>``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["console"])

# Only this service's own scripts (the console's ES modules), styles and API; never framed by
# another site. No inline script: teacher.html loads static/console/main.js as a module.
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


@router.get("/teacher.css", include_in_schema=False)
async def teacher_css() -> FileResponse:
    return _asset("teacher.css", "text/css; charset=utf-8")


# What /static/ serves, by file extension: scripts as text/javascript (browsers refuse a module
# of any other type) and styles. Pages are not among them: each has its own route and CSP.
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Module scripts are fetched with CORS: the widget, embedded in pages of other origins, imports
# rubricate-question.js and shared.js from here. They are public code, fetched without cookies or
# keys, so any origin may read them (the API itself keeps RUBRICATE_CORS_ORIGINS).
STATIC_HEADERS = {**HEADERS, "Access-Control-Allow-Origin": "*"}


@router.get("/static/{name:path}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    """A script or style under app/static/, e.g. /static/console/main.js."""
    path = (STATIC / name).resolve()
    if not (path.is_relative_to(STATIC) and path.suffix in STATIC_TYPES and path.is_file()):
        raise HTTPException(404, f"No static file {name}.")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers=STATIC_HEADERS)

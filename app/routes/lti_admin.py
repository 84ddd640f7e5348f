"""Teacher-only LTI administration: registered platforms and the score passback queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth import require_teacher
from app.lti.errors import PlatformNotFound
from app.lti.models import Platform
from app.routes.lti import LtiDep
from app.schemas import PassbackOut

admin = APIRouter(prefix="/v1/lti", tags=["lti admin"], dependencies=[Depends(require_teacher)])


class PlatformOut(Platform):
    source: str


@admin.get("/platforms", response_model=list[PlatformOut])
async def list_platforms(lti: LtiDep) -> list[PlatformOut]:
    return [PlatformOut(**p.model_dump(), source=s) for p, s in lti.store.platforms()]


@admin.post("/platforms", response_model=PlatformOut, status_code=201)
async def register_platform(body: Platform, lti: LtiDep) -> PlatformOut:
    """Register (or replace) a platform; identified by issuer and client_id."""
    lti.store.put_platform(body, source="api")
    return PlatformOut(**body.model_dump(), source="api")


@admin.delete("/platforms", status_code=204)
async def delete_platform(
    lti: LtiDep, issuer: Annotated[str, Query()], client_id: Annotated[str, Query()]
) -> Response:
    if not lti.store.delete_platform(issuer, client_id):
        raise PlatformNotFound(f"No platform {issuer!r} with client_id {client_id!r}.")
    return Response(status_code=204)


@admin.get("/passbacks", response_model=list[PassbackOut])
async def list_passbacks(lti: LtiDep, status: str | None = None) -> list[PassbackOut]:
    """The score queue, newest first: pending ones show their attempts and last error."""
    return [
        PassbackOut(
            id=p.id,
            status=p.status,
            attempts=p.attempts,
            lineitem=p.lineitem,
            last_error=p.last_error,
            score=p.score,
        )
        for p in lti.store.passbacks(status)
    ]

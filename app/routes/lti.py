"""LTI 1.3 endpoints: OIDC login, launch, deep linking, graded answers with passback, the
tool's JWKS. The teacher-only platform admin API is in app/routes/lti_admin.py."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from app.deps import BookDep, LessonsDep, MetricsDep, SlotDep
from app.lti import pages
from app.lti.errors import InvalidSession, LtiError, UnknownPlatform
from app.lti.holds import Holds
from app.lti.launch import (
    AGS_CLAIM,
    CLAIM,
    DEEP_LINKING,
    DL_CLAIM,
    SCORE_SCOPE,
    validate_id_token,
)
from app.lti.models import DeepLinkSession, Hold, ResourceSession
from app.lti.state import LtiState, ensure, lifespan
from app.schemas import PassbackOut
from graders.core.errors import NotReady, UnknownLesson, UnknownQuestion
from graders.core.result import GradeResult

router = APIRouter(tags=["lti"], lifespan=lifespan)


def get_lti(request: Request) -> LtiState:
    return ensure(request.app)


LtiDep = Annotated[LtiState, Depends(get_lti)]


def holds(request: Request) -> Holds:
    found: Holds | None = request.app.state.holds
    if found is None:
        raise NotReady("The service is still starting; try again shortly.")
    return found


def base_url(request: Request, lti: LtiState) -> str:
    return (lti.settings.public_url or str(request.base_url)).rstrip("/")


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidSession("Send the launch token as 'Authorization: Bearer <token>'.")
    return token.strip()


@router.get("/.well-known/jwks.json", include_in_schema=False)
@router.get("/lti/jwks")
async def jwks(lti: LtiDep) -> dict[str, list[dict[str, Any]]]:
    """The tool's public keys (deep-linking responses and client assertions are signed)."""
    return lti.key.jwks()


@router.get("/lti/config")
async def tool_config(request: Request, lti: LtiDep) -> dict[str, str]:
    """The URLs to enter when registering rubricate in an LMS."""
    base = base_url(request, lti)
    return {
        "oidc_login_url": f"{base}/lti/login",
        "target_link_uri": f"{base}/lti/launch",
        "redirect_uri": f"{base}/lti/launch",
        "deep_linking_url": f"{base}/lti/launch",
        "jwks_url": f"{base}/lti/jwks",
    }


@router.api_route("/lti/login", methods=["GET", "POST"], include_in_schema=False)
async def login(request: Request, lti: LtiDep) -> RedirectResponse:
    """OIDC third-party login initiation: remember state and nonce, send the browser back."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    missing = [k for k in ("iss", "login_hint", "target_link_uri") if not params.get(k)]
    if missing:
        raise LtiError(f"OIDC login initiation lacks: {', '.join(missing)}.")
    platform = lti.store.platform(params["iss"], params.get("client_id"))
    if platform is None:
        raise UnknownPlatform(
            f"No LTI platform is registered with issuer {params['iss']!r}"
            + (f" and client_id {params['client_id']!r}." if params.get("client_id") else ".")
        )
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lti.store.put_state(state, nonce, platform.issuer)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": f"{base_url(request, lti)}/lti/launch",
        "login_hint": params["login_hint"],
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if urlsplit(platform.auth_login_url).query else "?"
    return RedirectResponse(platform.auth_login_url + sep + urlencode(query), status_code=302)


@router.post("/lti/launch", response_class=HTMLResponse, include_in_schema=False)
async def launch(
    request: Request,
    lti: LtiDep,
    lessons: LessonsDep,
    id_token: Annotated[str, Form()],
    state: Annotated[str, Form()],
) -> HTMLResponse:
    """The platform's form post: validate the id_token, then show the question or picker."""
    platform, claims = await validate_id_token(id_token, state, lti.store, lti.jwks)
    base = base_url(request, lti)
    token = secrets.token_urlsafe(32)
    common = {
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_id": str(claims[CLAIM + "deployment_id"]),
        "user_id": claims.get("sub"),
    }
    ttl = lti.settings.lti_session_ttl_s
    if claims[CLAIM + "message_type"] == DEEP_LINKING:
        dl = claims.get(DL_CLAIM + "deep_linking_settings") or {}
        if not dl.get("deep_link_return_url"):
            raise LtiError("The deep linking request has no deep_link_return_url.")
        if "ltiResourceLink" not in dl.get("accept_types", ["ltiResourceLink"]):
            raise LtiError("The platform does not accept ltiResourceLink content items here.")
        link = DeepLinkSession(
            deep_link_return_url=dl["deep_link_return_url"],
            deep_link_data=dl.get("data"),
            **common,
        )
        lti.store.put_session(token, link, ttl)
        return HTMLResponse(pages.picker_page(base=base, lessons=lessons, token=token))
    custom = claims.get(CLAIM + "custom") or {}
    lesson_id = custom.get("lesson") or custom.get("lesson_id")
    question_id = custom.get("question") or custom.get("question_id")
    if not lesson_id or not question_id:
        raise LtiError(
            "This link names no question: add it with Deep Linking, or set the custom "
            "parameters lesson=<lesson id> and question=<question id>."
        )
    lesson = lessons.get(str(lesson_id))
    if lesson is None:
        raise UnknownLesson(str(lesson_id))
    question = lesson.question(str(question_id))
    if question is None:
        raise UnknownQuestion(lesson.id, str(question_id))
    ags = claims.get(AGS_CLAIM) or {}
    lineitem = ags.get("lineitem") if SCORE_SCOPE in (ags.get("scope") or []) else None
    session = ResourceSession(
        lesson_id=lesson.id, question_id=question.id, lineitem=lineitem, **common
    )
    lti.store.put_session(token, session, ttl)
    page = pages.launch_page(
        base=base,
        lesson=lesson,
        question_id=question.id,
        prompt=question.prompt,
        token=token,
        graded=bool(lineitem and session.user_id),
    )
    return HTMLResponse(page)


@router.post("/lti/deep-link", response_class=HTMLResponse, include_in_schema=False)
async def deep_link(
    request: Request,
    lti: LtiDep,
    lessons: LessonsDep,
    session_token: Annotated[str, Form(alias="session")],
    item: Annotated[str, Form()],
) -> HTMLResponse:
    """The teacher's choice, signed as an LtiDeepLinkingResponse and posted to the LMS."""
    session = lti.store.session(session_token, DeepLinkSession, consume=True)
    if session is None:
        raise InvalidSession("This deep linking session is unknown, used or expired.")
    lesson_id, _, question_id = item.partition("/")
    lesson = lessons.get(lesson_id)
    if lesson is None:
        raise UnknownLesson(lesson_id)
    question = lesson.question(question_id)
    if question is None:
        raise UnknownQuestion(lesson_id, question_id)
    platform = lti.store.platform(session.issuer, session.client_id)
    if platform is None:
        raise UnknownPlatform(f"The platform {session.issuer!r} is no longer registered.")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": uuid.uuid4().hex,
        CLAIM + "deployment_id": session.deployment_id,
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        DL_CLAIM + "content_items": [
            {
                "type": "ltiResourceLink",
                "title": f"{lesson.title}: {question.id}",
                "text": question.prompt,
                "url": f"{base_url(request, lti)}/lti/launch",
                "custom": {"lesson": lesson.id, "question": question.id},
                "lineItem": {
                    "scoreMaximum": question.max_score,
                    "label": f"{lesson.title}: {question.id}",
                    "resourceId": f"{lesson.id}/{question.id}",
                },
            }
        ],
    }
    if session.deep_link_data is not None:
        claims[DL_CLAIM + "data"] = session.deep_link_data
    jwt = lti.key.sign(claims)
    return HTMLResponse(
        pages.autopost_page(action=session.deep_link_return_url, fields={"JWT": jwt})
    )


class LtiAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str


class LtiGradeOut(BaseModel):
    result: GradeResult
    passback: PassbackOut | None = Field(
        description="The queued score for the LMS gradebook; null when the link is ungraded."
    )


@router.post("/lti/grade", response_model=LtiGradeOut)
async def grade_launch(
    request: Request,
    body: LtiAnswer,
    lti: LtiDep,
    book: BookDep,
    metrics: MetricsDep,
    slot: SlotDep,
) -> LtiGradeOut:
    """Grade an answer within a launch (its token scopes it to one question and user)."""
    session = lti.store.session(_bearer(request), ResourceSession)
    if session is None:
        raise InvalidSession("The launch session is unknown or expired; relaunch from the LMS.")
    result = await book.grade(
        session.lesson_id,
        session.question_id,
        body.answer,
        student_id=session.user_id,
        source="lti",
        progress=slot,
    )
    metrics.record(result)
    passback = None
    if session.lineitem and session.user_id and result.grade_id:
        hold = Hold(
            result.grade_id,
            session.issuer,
            session.client_id,
            session.lineitem,
            session.user_id,
            0.0,
        )
        item_id, status = await holds(request).passback(hold, result)
        passback = PassbackOut(id=item_id, status=status)
    return LtiGradeOut(result=result, passback=passback)

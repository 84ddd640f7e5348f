"""The teacher console at /teacher in headless Chromium, over a real rubricate (embeddings only):
a class file uploaded and followed to its report, a group of answers reviewed with keyboard
shortcuts, agreement, and a regrade's dry-run diff applied; and the console with API keys."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth import hash_key
from app.runtime import Backends
from models.embedder import Embedder
from tests.conftest import LiveServer, make_settings

pytestmark = pytest.mark.integration

DEMO = "demo-photosynthesis"
DOCS = Path(__file__).resolve().parents[1] / "docs"
STATIC = Path(__file__).resolve().parents[1] / "app" / "static"
# The AI gives the formula answer partial credit (glucose and oxygen "missing"); once the
# teacher says it is correct, its paraphrase regrades from incorrect to correct.
FORMULA = "photons, h2o, co2 in; c6h12o6 and o2 out"
PARAPHRASE = "photons, H2O and CO2 go in; C6H12O6 and O2 come out"
OTHERS = [
    "Plants need sunlight, carbon dioxide and water. They make glucose and release oxygen.",
    "Plants take in oxygen and give off carbon dioxide.",
]
CLASS = [
    ("s1", "q1", "Plants need sunlight, carbon dioxide and water. They make glucose and oxygen."),
    ("s1", "q2", "In the chloroplasts, which contain chlorophyll that absorbs light."),
    ("s2", "q1", "The plant absorbs oxygen to make food."),
    ("s2", "q2", "In the mitochondria."),
    ("s3", "q1", "Light and water. It makes sugar."),
    ("s3", "q2", "It happens in the chloroplasts."),
]


@pytest.fixture(scope="module")
def server(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("console"))
    with LiveServer(settings, Backends(embedder=embedder)) as live:
        yield live


def class_file() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row_id", "student_id", "lesson_id", "question_id", "answer"])
    for i, (student, question, answer) in enumerate(CLASS):
        writer.writerow([f"r{i}", student, DEMO, question, answer])
    return out.getvalue().encode()


def grade(http: httpx.Client, answer: str, student: str) -> str:
    body = {"lesson_id": DEMO, "question_id": "q1", "answer": answer, "student_id": student}
    response = http.post("/v1/grade", json=body)
    assert response.status_code == 200, response.text
    grade_id: str = response.json()["grade_id"]
    return grade_id


def current(http: httpx.Client, grade_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/grades/{grade_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_teacher_console_end_to_end(browser: object, server: LiveServer) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/teacher#upload")
    page.get_by_label("Lesson").select_option(DEMO)
    page.get_by_label("Question").select_option("q1")

    # A class file: uploaded, followed to the end, its report one link away.
    page.get_by_label("Class file (CSV)").set_input_files(
        files=[{"name": "class-7b.csv", "mimeType": "text/csv", "buffer": class_file()}]
    )
    page.get_by_role("button", name="Upload and grade").click()
    report = page.get_by_role("link", name="Open the class report")
    report.wait_for(timeout=120_000)
    assert page.get_by_role("heading", name="Batch class-7b.csv: done").is_visible()
    assert page.locator("#batch-count").inner_text() == f"{len(CLASS)} of {len(CLASS)} graded"
    assert page.get_by_role("progressbar").get_attribute("value") == str(len(CLASS))
    status = page.get_by_role("status")
    assert status.get_attribute("aria-live") == "polite"
    assert status.inner_text().startswith(f"Batch done: {len(CLASS)} of {len(CLASS)} graded.")
    with server.client() as http:
        html = http.get(report.get_attribute("href") or "")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "Photosynthesis" in html.text

        # Answers graded one by one (the widget, the API) wait in the review queue.
        formula = grade(http, FORMULA, "t1")
        paraphrase = grade(http, PARAPHRASE, "t2")
        for i, answer in enumerate(OTHERS):
            grade(http, answer, f"t{i + 3}")
        queue = http.get("/v1/review", params={"lesson_id": DEMO, "question_id": "q1"}).json()
    at = next(i for i, g in enumerate(queue["groups"]) if formula in g["grade_ids"])
    group = queue["groups"][at]

    # The queue, with the keyboard: j/k move between groups.
    page.get_by_role("tab", name="Review queue").click()
    groups = page.get_by_role("navigation", name="Queue").get_by_role("list").get_by_role("button")
    groups.first.wait_for()
    assert groups.count() == len(queue["groups"])
    detail = page.locator("#detail")
    expect_grade(detail, queue["groups"][0]["answers"][0]["grade_id"])
    page.keyboard.press("j")
    page.keyboard.press("k")
    for _ in range(at):
        page.keyboard.press("j")
    expect_grade(detail, group["answers"][0]["grade_id"])
    heading = page.get_by_role("heading", name=f"Group {at + 1} of {len(queue['groups'])}")
    assert heading.evaluate("h => h.matches(':focus')")
    assert "photons, h2o, co2 in" in page.locator("blockquote.answer mark").first.inner_text()
    assert page.get_by_text("AI grade: partially correct").is_visible()
    help_line = page.locator("#review-keys").inner_text()
    assert all(k in help_line for k in ("j/k", "1 correct", "a accept the AI's grade"))

    # One click changes a key point's verdict; "1" says the whole group is correct.
    outputs = page.get_by_role("group", name="It produces glucose and releases oxygen.")
    outputs.get_by_label("Met", exact=True).click()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "teacher-review.png"), full_page=True)
    page.keyboard.press("1")
    page.get_by_text(re.compile(r"Saved: \d+ answers? graded correct by you")).wait_for()
    with server.client() as http:
        for grade_id in group["grade_ids"]:
            reviewed = current(http, grade_id)
            assert (reviewed["graded_by"], reviewed["label"]) == ("teacher", "correct")
        kps = {k["id"]: k["status"] for k in current(http, formula)["key_points"]}
        assert kps["makes-glucose-oxygen"] == "met"
    assert groups.count() == len(queue["groups"]) - 1

    # Agreement: the reviewed answers, and where the AI and the teacher differ.
    page.get_by_role("tab", name="Agreement").click()
    reviewed_count = len(group["grade_ids"])
    plural = "answer" if reviewed_count == 1 else "answers"
    page.get_by_role("heading", name=f"Agreement on {reviewed_count} reviewed {plural}").wait_for()
    figure = page.locator(".figure", has_text="Reviewed answers").locator("dd")
    assert figure.inner_text() == str(reviewed_count)
    differ = page.get_by_role("table", name="Answers where the AI's label differs from yours")
    differ.get_by_text(FORMULA).wait_for()
    page.screenshot(path=str(DOCS / "teacher-agreement.png"), full_page=True)

    # Regrade: the dry run's diff, then applied.
    page.get_by_role("tab", name="Regrade").click()
    page.get_by_role("button", name="Dry run").click()
    diff = page.get_by_role("table", name="What would change")
    diff.wait_for(timeout=60_000)
    row = diff.get_by_role("row").filter(has_text=PARAPHRASE)
    assert row.get_by_role("cell").nth(2).inner_text().startswith("incorrect")
    assert row.get_by_role("cell").nth(3).inner_text().startswith("correct")
    with server.client() as http:
        assert current(http, paraphrase)["revision"] == 1  # a dry run changes nothing
    page.get_by_role("button", name=re.compile(r"^Apply \d+ changes?$")).click()
    page.get_by_role("table", name="What changed").wait_for(timeout=60_000)
    assert page.locator("#regrade-summary").inner_text().startswith("Applied.")
    with server.client() as http:
        after = current(http, paraphrase)
    assert (after["label"], after["revision"]) == ("correct", 2)
    assert page.get_by_role("alert").inner_text() == ""
    assert errors == []
    page.close()


def expect_grade(detail: Any, grade_id: str) -> None:
    from playwright.sync_api import expect

    expect(detail).to_have_attribute("data-grade-id", grade_id)


def test_console_with_api_keys_sends_the_key(
    browser: object, embedder: Embedder, tmp_path: Path
) -> None:
    """With API keys, teacher requests carry the key typed in; "a" accepts the AI's grade
    (its label and score) for one answer of a group once "w" turns the whole group off."""
    key = "rk_console-test-key"
    settings = make_settings(tmp_path, api_keys=hash_key(key))
    with LiveServer(settings, Backends(embedder=embedder)) as live, live.client() as http:
        response = http.get("/teacher")
        assert response.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        main = http.get("/static/console/main.js")
        assert main.headers["content-type"].startswith("text/javascript")
        assert http.get("/teacher.css").headers["content-type"].startswith("text/css")
        same = ["In the chloroplasts.", "in the chloroplasts"]
        ids = []
        for i, answer in enumerate(same):
            body = {"lesson_id": DEMO, "question_id": "q2", "answer": answer, "student_id": f"k{i}"}
            ids.append(http.post("/v1/grade", json=body).json()["grade_id"])
        auth = {"Authorization": f"Bearer {key}"}
        queue = http.get("/v1/review", params={"lesson_id": DEMO}, headers=auth).json()
        (group,) = queue["groups"]
        first, second = (a["grade_id"] for a in group["answers"])
        assert {first, second} == set(ids)
        ai = current(http, second)

        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(live.url + "/teacher")
        page.keyboard.press("Tab")
        assert page.get_by_role("link", name="Skip to the console").evaluate(
            "a => a.matches(':focus')"
        )
        alert = page.get_by_role("alert")
        alert.get_by_text("needs a teacher API key").wait_for()
        assert "Enter a teacher API key" in alert.inner_text()

        page.get_by_label("API key").fill(key)
        page.keyboard.press("Enter")
        page.get_by_text("Nothing waiting for review.").wait_for()
        assert alert.inner_text() == ""
        assert page.evaluate("sessionStorage.getItem('rubricate.apiKey')") == key
        assert page.evaluate("localStorage.length") == 0

        page.get_by_label("Lesson").select_option(DEMO)
        page.get_by_text("2 answers waiting, in 1 group.").wait_for()
        assert page.get_by_label("Apply to the whole group (2 answers)").is_checked()
        detail = page.locator("#detail")
        expect_grade(detail, first)
        queue_list = page.get_by_role("navigation", name="Queue").get_by_role("list")
        queue_list.get_by_role("button").first.click()  # out of the lesson menu
        page.keyboard.press("n")
        expect_grade(detail, second)
        page.keyboard.press("w")
        assert not page.get_by_label("Apply to the whole group (2 answers)").is_checked()
        page.keyboard.press("a")
        page.get_by_text("1 answer waiting, in 1 group.").wait_for()
        accepted = current(http, second)
        assert (accepted["graded_by"], accepted["label"]) == ("teacher", ai["label"])
        assert accepted["score"] == pytest.approx(ai["score"], abs=1e-3)
        assert current(http, first)["graded_by"] == "embedding"
        expect_grade(detail, first)
        page.close()


def test_console_modules_all_load_without_errors(browser: object, server: LiveServer) -> None:
    """The console is native ES modules with no build step: the page names one entry module
    (no inline script, under the same CSP), every module under app/static/console/ and the
    shared one come back as JavaScript, and the browser loads the whole graph with no error.
    One module that fails to load or link stops the entry, so the lessons never appear."""
    from playwright.sync_api import expect

    from app.routes.console import CSP

    modules = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.glob("console/*.js"))
    modules.append("shared.js")
    with server.client() as http:
        response = http.get("/teacher")
        assert response.headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
        scripts = re.findall(r"<script\b[^>]*>", response.text)
        assert scripts == ['<script type="module" src="static/console/main.js">']
        for name in [*modules, "rubricate-question.js", "teacher.css"]:
            asset = http.get(f"/static/{name}")
            assert asset.status_code == 200, name
            kind = "text/css" if name.endswith(".css") else "text/javascript"
            assert asset.headers["content-type"].startswith(kind), name
            assert asset.headers["x-content-type-options"] == "nosniff"
        for hidden in ("teacher.html", "console", "nope.js", "%2e%2e/routes/console.py"):
            assert http.get(f"/static/{hidden}").status_code == 404, hidden

    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
    served: dict[str, Any] = {}
    page.on("response", lambda r: served.update({r.url: r}))
    page.goto(server.url + "/teacher")
    expect(page.locator("#lesson option")).not_to_have_count(0, timeout=15_000)
    page.wait_for_load_state("networkidle")
    assert problems == []
    for name in modules:
        response = served.get(f"{server.url}/static/{name}")
        assert response is not None, f"{name} is not in the page's module graph"
        assert response.status == 200, name
        assert response.header_value("content-type").startswith("text/javascript"), name
    page.close()

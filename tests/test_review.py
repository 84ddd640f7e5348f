"""Teacher in the loop over real HTTP with the real embedding model: the teacher's grade
wins and teaches the grader, the review queue groups similar answers, agreement,
regrading, erasure, and reviews surviving a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.runtime import Backends
from app.settings import Settings
from models.embedder import Embedder
from tests.conftest import LiveServer, make_settings

pytestmark = pytest.mark.integration
DEMO = "demo-photosynthesis"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def server(settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    with LiveServer(settings, Backends(embedder=embedder)) as live:
        yield live


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def grade(
    http: httpx.Client, answer: str, question: str = "q1", student: str = "s", lesson: str = DEMO
) -> dict[str, Any]:
    body = {"lesson_id": lesson, "question_id": question, "answer": answer, "student_id": student}
    response = http.post("/v1/grade", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def all_met(result: dict[str, Any]) -> dict[str, str]:
    return {k["id"]: "met" for k in result["key_points"]}


def test_teacher_grade_wins_and_teaches_the_grader(http: httpx.Client) -> None:
    paraphrase = "photons, H2O and CO2 go in; C6H12O6 and O2 come out"
    before = grade(http, paraphrase, student="t-before")
    first = grade(http, "photons, h2o, co2 in; c6h12o6 and o2 out", student="t1")
    assert first["label"] != "correct" and before["label"] != "correct"
    review = {
        "label": "correct",
        "key_points": all_met(first),
        "misconceptions": [],
        "comment": "Formulas are fine.",
    }
    response = http.put(f"/v1/grades/{first['grade_id']}/review", json=review)
    assert response.status_code == 200, response.text
    reviewed = response.json()
    assert (reviewed["label"], reviewed["percent"], reviewed["revision"]) == ("correct", 1.0, 2)
    assert reviewed["graded_by"] == "teacher" and not reviewed["needs_review"]
    assert reviewed["feedback"]["summary"].startswith("Your teacher: Formulas are fine.")
    assert http.get(f"/v1/grades/{first['grade_id']}").json()["label"] == "correct"
    history = http.get(f"/v1/grades/{first['grade_id']}/history").json()
    assert [r["graded_by"] for r in history["revisions"]] == ["embedding", "teacher"]
    (entry,) = history["audit"]
    assert entry["who"] == "loopback" and entry["action"] == "review"
    assert '"partially correct"' in entry["before"] or '"incorrect"' in entry["before"]
    # The grader learned: a paraphrase of the reviewed answer now follows the teacher.
    after = grade(http, paraphrase, student="t-after")
    assert after["versions"]["exemplar_set"] != before["versions"]["exemplar_set"]
    assert after["label"] == "correct" and after["percent"] > before["percent"]


def test_bad_reviews_are_problems(http: httpx.Client) -> None:
    result = grade(http, "Plants need light.", student="bad")
    url = f"/v1/grades/{result['grade_id']}/review"
    cases = [  # (body, status: 409 does not fit this question's rubric, 422 malformed)
        ({"key_points": {"no-such-point": "met"}}, 409, "no key point no-such-point"),
        ({"label": "correct", "misconceptions": ["nope"]}, 409, "no misconception nope"),
        ({"score": 99}, 409, "above"),
        ({}, 422, "a label, a score, or key point verdicts"),
        ({"label": "excellent"}, 422, None),
        ({"score": "4"}, 422, None),
    ]
    for body, status, detail in cases:
        response = http.put(url, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if detail:
            assert detail in response.text
    assert http.get(f"/v1/grades/{result['grade_id']}").json()["revision"] == 1  # nothing lost
    missing = http.put("/v1/grades/0123456789abcdef0123456789abcdef/review", json={"score": 1})
    assert missing.status_code == 404


def test_queue_groups_similar_answers_for_one_decision(http: httpx.Client) -> None:
    same = ["In the chloroplasts.", "in the chloroplasts", "In the chloroplasts!"]
    others = ["In the mitochondria.", "In the roots of the plant.", "Chlorophyll absorbs light."]
    graded = {a: grade(http, a, "q2", f"g{i}") for i, a in enumerate(same + others)}
    queue = http.get("/v1/review", params={"lesson_id": DEMO, "question_id": "q2"}).json()
    assert queue["waiting"] == len(graded)
    ids = {a: r["grade_id"] for a, r in graded.items()}
    group = next(g for g in queue["groups"] if ids[same[0]] in g["grade_ids"])
    assert {ids[a] for a in same} <= set(group["grade_ids"])
    assert ids["In the mitochondria."] not in group["grade_ids"]
    assert sum(g["size"] for g in queue["groups"]) == len(graded)
    priorities = [g["priority"] for g in queue["groups"]]
    assert priorities == sorted(priorities, reverse=True)
    flagged = [g for g in queue["groups"] if any(a["needs_review"] for a in g["answers"])]
    assert queue["groups"][: len(flagged)] == flagged  # flagged answers come first

    decision = {"label": "partially correct", "comment": "Say what chlorophyll does."}
    body = {"grade_ids": group["grade_ids"], "review": decision}
    done = http.post("/v1/reviews", json=body).json()
    assert [r["graded_by"] for r in done] == ["teacher"] * group["size"]
    left = http.get("/v1/review", params={"lesson_id": DEMO, "question_id": "q2"}).json()
    assert left["waiting"] == len(graded) - group["size"]

    # One more reviewed answer, where the AI and the teacher disagree on purpose.
    wrong = graded["In the mitochondria."]
    http.put(f"/v1/grades/{wrong['grade_id']}/review", json={"label": "correct"})
    agreement = http.get("/v1/agreement", params={"lesson_id": DEMO, "question_id": "q2"}).json()
    reviewed = [
        *group["answers"],
        *[a for g in queue["groups"] for a in g["answers"] if a["grade_id"] == wrong["grade_id"]],
    ]
    teacher = {a["grade_id"]: "partially correct" for a in group["answers"]}
    teacher[wrong["grade_id"]] = "correct"
    agree = [a["label"] == teacher[a["grade_id"]] for a in reviewed]
    assert agreement["reviewed"] == len(reviewed)
    assert agreement["accuracy"]["value"] == pytest.approx(sum(agree) / len(agree), abs=1e-4)
    low, high = agreement["accuracy"]["low"], agreement["accuracy"]["high"]
    assert low <= agreement["accuracy"]["value"] <= high
    disagreeing = {d["grade_id"] for d in agreement["disagreements"]}
    assert disagreeing == {a["grade_id"] for a, ok in zip(reviewed, agree, strict=True) if not ok}
    assert wrong["grade_id"] in disagreeing
    link = next(d["url"] for d in agreement["disagreements"] if d["grade_id"] == wrong["grade_id"])
    assert http.get(link).json()["answer"] == "In the mitochondria."


def test_regrade_dry_run_then_apply(http: httpx.Client) -> None:
    question = "sc-1"
    lesson = "instruction-tuning"
    answers = [
        "a base model just predicts the next token, an instruct model answers the question",
        "the base model continues text; the tuned one follows instructions",
        "Base models are bigger.",
        "instruction tuned models was trained on chat data so they reply like an assistant",
    ]
    graded = [grade(http, a, question, f"r{i}", lesson) for i, a in enumerate(answers)]
    teach = {"label": "incorrect", "misconceptions": [], "comment": "Not what the lesson says."}
    http.put(f"/v1/grades/{graded[0]['grade_id']}/review", json=teach).raise_for_status()
    scope = {"lesson_id": lesson, "question_id": question}
    queue = http.get("/v1/review", params=scope).json()
    outdated = {a["grade_id"]: a["outdated"] for g in queue["groups"] for a in g["answers"]}
    assert all(outdated[r["grade_id"]] for r in graded[1:])  # made before the new example
    plan = http.post(f"/v1/questions/{lesson}/{question}/regrade").json()
    assert plan["applied"] is False and plan["considered"] >= 3
    revisions = {r["grade_id"]: http.get(f"/v1/grades/{r['grade_id']}").json() for r in graded}
    assert all(g["revision"] == 1 for i, g in enumerate(revisions.values()) if i)  # dry run
    applied = http.post(f"/v1/questions/{lesson}/{question}/regrade", params={"apply": True})
    assert applied.json()["changes"] == plan["changes"]
    for change in plan["changes"]:
        now = http.get(f"/v1/grades/{change['grade_id']}").json()
        assert (now["label"], now["score"], now["revision"]) == (
            change["after_label"],
            change["after_score"],
            2,
        )
    queue = http.get("/v1/review", params=scope).json()
    assert not any(a["outdated"] for g in queue["groups"] for a in g["answers"])
    again = http.post(f"/v1/questions/{lesson}/{question}/regrade").json()
    assert again["changes"] == []


def test_erasing_a_student_removes_their_answers_and_examples(http: httpx.Client) -> None:
    lesson, question = "instruction-tuning", "sc-3"
    probe = "LoRA is cheap."
    before = grade(http, probe, question, "probe-1", lesson)["versions"]["exemplar_set"]
    mine = [grade(http, a, question, "erase-me", lesson) for a in ["It is cheap.", "No idea."]]
    review = {"label": "correct", "misconceptions": []}
    http.put(f"/v1/grades/{mine[0]['grade_id']}/review", json=review).raise_for_status()
    taught = grade(http, probe, question, "probe-2", lesson)["versions"]["exemplar_set"]
    assert taught != before
    response = http.delete("/v1/students/erase-me")
    assert response.json() == {"student_id": "erase-me", "erased": 2, "batch_rows": 0}
    assert all(http.get(f"/v1/grades/{r['grade_id']}").status_code == 404 for r in mine)
    assert grade(http, probe, question, "probe-3", lesson)["versions"]["exemplar_set"] == before


def test_reviews_teach_after_a_restart(embedder: Embedder, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with LiveServer(settings, Backends(embedder=embedder)) as first, first.client() as http:
        result = grade(http, "Sunlight, water and CO2; it makes glucose and oxygen.")
        http.put(f"/v1/grades/{result['grade_id']}/review", json={"score": 4}).raise_for_status()
        taught = grade(http, "light")["versions"]["exemplar_set"]
    with LiveServer(settings, Backends(embedder=embedder)) as second, second.client() as http:
        assert grade(http, "light")["versions"]["exemplar_set"] == taught
        assert http.get(f"/v1/grades/{result['grade_id']}").json()["graded_by"] == "teacher"

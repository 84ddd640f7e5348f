"""Batch grading end to end over HTTP, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.runtime import Backends
from models.embedder import Embedder
from tests.batch_fixtures import LESSON, class_rows, database_urls, to_csv, wait_done
from tests.conftest import LiveServer
from tests.conftest import make_settings as make_settings

pytestmark = pytest.mark.integration
CSV_HEADERS = {"content-type": "text/csv"}
LIMIT = 2_000_000


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from database_urls(request, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def server(
    db_url: str, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("batch"), database_url=db_url, batch_max_bytes=LIMIT
    )
    with LiveServer(settings, Backends(embedder=embedder)) as live:
        yield live


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def upload(client: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return client.post("/v1/batches", content=body, headers={**CSV_HEADERS, **headers})


def results(client: httpx.Client, batch_id: str, fmt: str) -> httpx.Response:
    return client.get(f"/v1/batches/{batch_id}/results", params={"format": fmt})


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_class_of_2000_rows_end_to_end(client: httpx.Client) -> None:
    rows = class_rows(2000)
    response = upload(client, to_csv(rows), **{"Idempotency-Key": "class-7b"})
    assert response.status_code == 202, response.text
    batch = response.json()
    assert batch["progress"]["total"] == 2000
    assert response.headers["location"] == f"/v1/batches/{batch['id']}"
    again = upload(client, to_csv(rows), **{"Idempotency-Key": "class-7b"})
    assert again.status_code == 202 and again.json()["id"] == batch["id"]

    info = wait_done(client, batch["id"])
    assert info["status"] == "done"
    progress = info["progress"]
    assert isinstance(progress, dict)
    assert progress["done"] == 2000 and progress["failed"] == 0 and progress["pending"] == 0
    assert info["rate_per_s"] and info["first_result_s"] is not None
    assert isinstance(info["unique_answers"], int) and info["unique_answers"] <= 14 * 5

    lines = results(client, batch["id"], "jsonl").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["line"] for r in records] == list(range(2, 2002))
    assert [r["row_id"] for r in records] == [r["row_id"] for r in rows]
    assert all(r["status"] == "done" and r["result"]["score"] >= 0 for r in records)
    assert records[4]["result"]["student_id"] == rows[4]["student_id"]
    assert records[0]["result"]["question_id"] == "q1"

    table = list(csv.DictReader(io.StringIO(results(client, batch["id"], "csv").text)))
    assert len(table) == 2000 and table[0]["line"] == "2" and table[-1]["line"] == "2001"
    assert {t["label"] for t in table} >= {"correct", "incorrect"}

    report = client.get(f"/v1/batches/{batch['id']}/report").json()
    assert {q["question_id"] for q in report["questions"]} == {"q1", "q2"}
    q1 = next(q for q in report["questions"] if q["question_id"] == "q1")
    assert sum(q1["distribution"]) == 1000 and q1["key_points"][0]["met"] > 0
    assert {k["id"] for k in report["lesson_key_points"]} == {"inputs-outputs", "chloroplasts"}
    assert len(report["students"]) == 1000
    assert all(0 <= s["mastery"] <= 1 for s in report["students"])
    top = report["misconceptions"][0]
    assert top["id"] == "plants-breathe-in-oxygen" and top["examples"]
    page = client.get(f"/v1/batches/{batch['id']}/report", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") > 5 and "plants-breathe-in-oxygen" not in page.text
    assert "Photosynthesis takes in oxygen" in page.text
    assert "<script" not in page.text and "src=" not in page.text and "href=" not in page.text


def test_an_idempotency_key_reused_for_another_file_is_refused(client: httpx.Client) -> None:
    first = to_csv(class_rows(4))
    created = upload(client, first, **{"Idempotency-Key": "reuse-1"})
    assert created.status_code == 202, created.text
    replay = upload(client, first, **{"Idempotency-Key": "reuse-1"})
    assert replay.status_code == 202 and replay.json()["id"] == created.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    other = upload(client, to_csv(class_rows(5)), **{"Idempotency-Key": "reuse-1"})
    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert "different upload" in other.json()["detail"]
    empty = upload(client, b"", **{"Idempotency-Key": "reuse-1"})
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]


def test_bad_rows_are_reported_and_the_rest_graded(client: httpx.Client) -> None:
    good = f"s1,{LESSON},q1,Plants need light water and carbon dioxide"
    body = "\n".join(
        [
            "student_id,lesson_id,question_id,answer",
            good,  # line 2
            f"s2,{LESSON},q9,An answer to no question",  # 3: unknown question
            f"s3,{LESSON},q1,   ",  # 4: empty
            f"s4,{LESSON},q1," + "a" * 5001,  # 5: oversized
            f's5,{LESSON},q1,"bad "quote" here"',  # 6: broken quoting
            f"s6,{LESSON},q1,too,many,fields",  # 7: field count
            f"s7,{LESSON},q2,In the chloroplasts",  # 8
            f's8,{LESSON},q2,"In the',  # 9: multi-line quoted answer (valid)
            'chloroplasts"',  # 10
            f's9,{LESSON},q2,"never closed',  # 11: unterminated quote
            f"s10,{LESSON},q2,In the chloroplasts of leaf cells",  # 12: still graded
            "",
        ]
    ).encode()
    response = upload(client, body)
    assert response.status_code == 202, response.text
    info = wait_done(client, response.json()["id"])
    records = {
        r["line"]: r
        for r in map(json.loads, results(client, info["id"], "jsonl").text.split("\n")[:-1])
    }
    assert sorted(records) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert records[2]["status"] == "done" and records[8]["status"] == "done"
    assert records[9]["status"] == "done" and records[12]["status"] == "done"
    empty = records[4]  # an empty answer is graded 0, as in the API, not failed
    assert empty["status"] == "done" and empty["result"]["score"] == 0
    assert "No answer was given" in empty["result"]["feedback"]["summary"]
    reasons = {line: r["error"] for line, r in records.items() if r["status"] == "failed"}
    assert "q9" in reasons[3]
    assert 4 not in reasons
    assert "5000" in reasons[5]
    assert "quoting" in reasons[6] and "quoting" in reasons[11]
    assert "fields" in reasons[7]
    report = client.get(f"/v1/batches/{info['id']}/report").json()
    assert report["failed"] == 5 and report["graded"] == 5


def test_jsonl_upload_with_a_broken_line(client: httpx.Client) -> None:
    rows = [json.dumps(r) for r in class_rows(6)]
    rows.insert(3, "{not json")
    rows.insert(5, json.dumps({"student_id": "x", "lesson_id": LESSON}))
    response = client.post("/v1/batches", content="\n".join(rows).encode())
    assert response.status_code == 202, response.text
    assert response.json()["format"] == "jsonl"
    info = wait_done(client, response.json()["id"])
    records = [json.loads(x) for x in results(client, info["id"], "jsonl").text.splitlines()]
    assert [r["line"] for r in records] == list(range(1, 9))
    assert "invalid JSON" in records[3]["error"] and "answer" in records[5]["error"]
    assert sum(r["status"] == "done" for r in records) == 6


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8"),
        (b"student_id,lesson_id,question_id,answer\x00\n", 1, "binary"),
        (b"name,score\nann,3\n", 1, "missing required column"),
        (b"student_id,lesson_id,question_id\ns1,l,q\n", 1, "answer"),
        (b'{"student_id": "s1", "lesson_id": "l"}\n', 1, "missing required field"),
        (b"{oops\n", 1, "not JSON"),
        (b"student_id,lesson_id,question_id,answer\ns1,l,q,\xff\xfe bad\n", 2, "UTF-8"),
        (b"", 1, "empty"),
        (b"student_id,lesson_id,question_id,answer\n", 2, "no rows"),
    ],
)
def test_unreadable_files_are_refused(
    client: httpx.Client, body: bytes, line: int, words: str
) -> None:
    problem = assert_problem(upload(client, body), 400)
    assert problem["line"] == line
    assert f"line {line}" in str(problem["detail"]) and words in str(problem["detail"])


def test_upload_over_the_limit_is_refused(client: httpx.Client, server: LiveServer) -> None:
    head = b"student_id,lesson_id,question_id,answer\n"
    assert_problem(upload(client, head + b"s,l,q,a\n" * (LIMIT // 8 + 10)), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield head
        for _ in range(LIMIT // 65536 + 2):
            yield b"s,l,q," + b"a" * 65530 + b"\n"

    streamed = client.post("/v1/batches", content=chunks(), headers=CSV_HEADERS)
    problem = assert_problem(streamed, 413)
    assert problem["limit"] == LIMIT
    leftovers = list((server.app.state.settings.cache_dir / "uploads").glob("*"))
    assert leftovers == []


def test_cancel_and_not_found(client: httpx.Client) -> None:
    response = upload(client, to_csv(class_rows(600, unique=True)))
    batch_id = response.json()["id"]
    cancelled = client.delete(f"/v1/batches/{batch_id}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_problem(client.delete(f"/v1/batches/{batch_id}"), 409)
    info = wait_done(client, batch_id)
    assert info["status"] == "cancelled"
    records = results(client, batch_id, "jsonl").text.splitlines()
    assert len(records) == 600  # one per row, graded or still pending
    assert_problem(client.get("/v1/batches/nope"), 404)
    assert_problem(client.get("/v1/batches/nope/results"), 404)
    assert_problem(client.get("/v1/batches/nope/report"), 404)
    assert_problem(client.get(f"/v1/batches/{batch_id}/results?format=xml"), 422)


def test_identical_answers_graded_once(client: httpx.Client, tmp_path: Path) -> None:
    rows = [
        {"student_id": f"s{i}", "lesson_id": LESSON, "question_id": "q2", "answer": answer}
        for i, answer in enumerate(
            [
                "In the chloroplasts.",
                "  In the   chloroplasts.  ",
                "In the chloroplasts.",
                "In the mitochondria.",
            ]
        )
    ]
    info = wait_done(client, upload(client, to_csv(rows)).json()["id"])
    assert info["unique_answers"] == 2
    records = [json.loads(x) for x in results(client, info["id"], "jsonl").text.splitlines()]
    assert [r["result"]["student_id"] for r in records] == ["s0", "s1", "s2", "s3"]
    assert records[0]["result"]["score"] == records[1]["result"]["score"]

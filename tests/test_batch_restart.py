"""A server killed with SIGKILL mid-batch resumes on restart: exactly one result per row."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.batch_fixtures import class_rows, database_urls, to_csv, wait_done
from tests.conftest import free_port
from tests.llm_stub import stop
from tests.worker_fixtures import RUBRICATE, rubricate_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_urls(request, tmp_path)


def start_server(tmp: Path, db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = rubricate_env(
        tmp, db_url, RUBRICATE_BATCH_CONCURRENCY="4", RUBRICATE_BATCH_CHUNK_SIZE="16"
    )
    command = [*RUBRICATE, "serve"]
    return subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited:\n" + log.read_text()[-3000:])
        try:
            if httpx.get(url + "/v1/batches/none", timeout=2).status_code == 404:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("server did not start:\n" + log.read_text()[-3000:])


def test_sigkill_mid_batch_then_resume(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    rows = class_rows(500, unique=True)
    proc = start_server(tmp_path, db_url, port, log)
    try:
        wait_ready(url, proc, log)
        with httpx.Client(base_url=url, timeout=60) as client:
            batch_id = client.post("/v1/batches", content=to_csv(rows)).json()["id"]
            deadline = time.monotonic() + 120
            while True:
                progress = client.get(f"/v1/batches/{batch_id}").json()["progress"]
                if progress["done"] >= 40 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert 0 < progress["done"] < 500, progress  # really killed mid-batch

        proc = start_server(tmp_path, db_url, port, log)
        wait_ready(url, proc, log)
        with httpx.Client(base_url=url, timeout=60) as client:
            info = wait_done(client, batch_id, timeout=400)
            assert info["status"] == "done"
            assert info["progress"] == {
                "total": 500,
                "done": 500,
                "failed": 0,
                "pending": 0,
                "fraction": 1.0,
            }
            assert info["unique_answers"] == 500  # every answer graded exactly once
            lines = client.get(f"/v1/batches/{batch_id}/results?format=jsonl").text
        records = [json.loads(x) for x in lines.splitlines()]
        assert [r["line"] for r in records] == list(range(2, 502))
        assert [r["row_id"] for r in records] == [r["row_id"] for r in rows]
        assert all(r["status"] == "done" and r["result"] is not None for r in records)
    finally:
        stop(proc, timeout=30)

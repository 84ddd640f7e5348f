"""The API contract: schemathesis, all its checks, against the served OpenAPI over real HTTP.

Bounded (examples per operation, a fixed seed) so it runs in `make test`. Allowed by design
(schemathesis.toml): a 503 from POST /v1/grade when require_llm is true and no LLM grades.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def test_schemathesis_finds_nothing(live: LiveServer) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency (make install)"
    run = subprocess.run(
        [
            st,
            "run",
            f"{live.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--request-timeout",
            "30",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout

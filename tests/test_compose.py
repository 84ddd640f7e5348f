"""compose.yaml stays true to the code: every setting it sets exists, every command it runs
is one the CLI (or vllm-router) knows, and the scaled profile holds the whole tier."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import cli
from app.settings import Settings

COMPOSE = Path(__file__).parent.parent / "compose.yaml"


def services() -> dict[str, dict[str, Any]]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, dict[str, Any]] = document["services"]
    return found


def test_every_rubricate_variable_is_a_setting() -> None:
    fields = {f"RUBRICATE_{name.upper()}" for name in Settings.model_fields}
    used = {
        (name, variable)
        for name, service in services().items()
        for variable in (service.get("environment") or {})
        if variable.startswith("RUBRICATE_")
    }
    assert used, "no RUBRICATE_ variable found: the test reads the wrong thing"
    unknown = sorted(f"{name}: {variable}" for name, variable in used if variable not in fields)
    assert not unknown, unknown


def test_scaled_profile_has_the_whole_tier() -> None:
    scaled = {name for name, s in services().items() if "scaled" in s.get("profiles", [])}
    assert {"postgres", "redis", "vllm-2", "router", "api-scaled", "worker"} <= scaled
    plain = {name for name, s in services().items() if not s.get("profiles")}
    assert plain == {"vllm", "api"}  # `docker compose up` is unchanged
    env = services()["worker"]["environment"]
    assert env["RUBRICATE_BATCH_ENGINE"] == "procrastinate"
    assert env["RUBRICATE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env == services()["api-scaled"]["environment"]


def test_the_worker_command_is_a_cli_command() -> None:
    command = [str(part) for part in services()["worker"]["command"]]
    assert command[0] == "rubricate"
    args = [a if "${" not in a else "2" for a in command[1:]] + ["--help"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_the_router_command_is_one_vllm_router_accepts() -> None:
    router = shutil.which("vllm-router") or str(Path(sys.executable).parent / "vllm-router")
    if not Path(router).exists():
        pytest.fail("vllm-router is a dev dependency (`make install`)")
    script = services()["router"]["command"][-1]
    flags = [w for w in script.split("exec vllm-router", 1)[1].split() if w.startswith("--")]
    assert "--policy" in flags and "--worker-urls" in flags
    helptext = subprocess.run(
        [router, "--help"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    missing = [f for f in flags if f not in helptext]
    assert not missing, missing
    assert "consistent_hash" in helptext

"""``rubricate batch``: against a running server and in-process."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.batch_fixtures import class_rows, to_csv
from tests.conftest import DATA, LiveServer

pytestmark = pytest.mark.integration


def test_batch_against_a_server(live: LiveServer, tmp_path: Path) -> None:
    source = tmp_path / "class.csv"
    source.write_bytes(to_csv(class_rows(40)))
    out, report = tmp_path / "results.csv", tmp_path / "report.html"
    result = CliRunner().invoke(
        cli, ["batch", str(source), "-o", str(out), "--server", live.url, "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "done: 40 graded, 0 failed of 40" in result.output
    rows = list(csv.DictReader(out.open()))
    assert [int(r["line"]) for r in rows] == list(range(2, 42))
    assert "<svg" in report.read_text()


def test_batch_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_LLM_ENABLED", "false")
    monkeypatch.setenv("RUBRICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RUBRICATE_LESSON_DIRS", json.dumps([str(DATA / "lessons")]))
    source = tmp_path / "class.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in class_rows(10)) + "\n{broken\n")
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(cli, ["batch", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(records) == 11 and records[-1]["status"] == "failed"
    bad = CliRunner().invoke(cli, ["batch", str(DATA / "lessons" / "demo-lesson.yaml"), "-o", "x"])
    assert bad.exit_code == 2 and "line 1" in bad.output

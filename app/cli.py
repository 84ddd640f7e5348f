"""The ``rubricate`` command: serve, work batches, list lessons, grade an answer, check rubrics."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.auth import keys_cli
from app.calibrate_cli import calibrate_command
from app.db_cli import db_cli
from app.eval_cli import eval_command
from app.reader_cli import reader_cli
from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.core.errors import RubricateError
from graders.core.result import GradeResult, Status
from rubrics import RubricFileError
from rubrics.loader import lesson_files, load_lesson_file

cli = typer.Typer(help="Grade free-text answers against lesson rubrics.", no_args_is_help=True)
rubrics_cli = typer.Typer(help="Work with rubric files.", no_args_is_help=True)
cli.add_typer(rubrics_cli, name="rubrics")
cli.command("eval")(eval_command)
cli.command("calibrate")(calibrate_command)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(reader_cli, name="reader")
cli.add_typer(db_cli, name="db")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
) -> None:
    """Run the HTTP API (and the local vLLM when one is prepared and no URL is set)."""
    import uvicorn

    from app.factory import create_app

    settings = Settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Chunks graded at once.")] = 2,
    heartbeat: Annotated[float, typer.Option(min=0.1, help="Seconds between heartbeats.")] = 5.0,
    stalled_after: Annotated[
        float, typer.Option(min=1, help="A worker silent this long is stalled: its jobs rerun.")
    ] = 30.0,
    name: Annotated[str, typer.Option(help="Worker name in logs.")] = "rubricate-worker",
) -> None:
    """Grade batch chunks from the job queue (batch_engine=procrastinate, PostgreSQL)."""
    import logging

    from app.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(
            run_worker(
                Settings(),
                concurrency=concurrency,
                heartbeat_s=heartbeat,
                stalled_after_s=stalled_after,
                name=name,
            )
        )
    except RubricateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@cli.command()
def lessons(as_json: JsonFlag = False) -> None:
    """List the lessons and their questions."""
    loaded = load_all_lessons(Settings())
    if as_json:
        data = [
            {"id": lesson.id, "title": lesson.title, "questions": [q.id for q in lesson.questions]}
            for lesson in loaded.values()
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    for lesson in loaded.values():
        typer.echo(f"{lesson.id}: {lesson.title} ({len(lesson.questions)} questions)")
        for q in lesson.questions:
            typer.echo(f"  {q.id:8} [{q.kind.value}] {q.prompt[:90]}")


def _readable(result: GradeResult) -> str:
    marks = {Status.MET: "[x]", Status.PARTIAL: "[~]", Status.MISSING: "[ ]"}
    lines = [
        f"{result.lesson_id}/{result.question_id}: {result.score:g} of {result.max_score:g} "
        f"({result.percent:.0%}, {result.label.value})"
        + ("  -- needs review" if result.needs_review else "")
    ]
    for item in result.key_points:
        lines.append(f"  {marks[item.status]} {item.text}")
        lines.append(f"      {item.feedback}")
        if item.evidence:
            lines.append(f'      evidence: "{item.evidence.text}"')
    for m in result.misconceptions:
        lines.append(f"  [!] misconception: {m.text}")
        lines.append(f"      {m.feedback}")
    lines.append(f"Feedback: {result.feedback.summary}")
    graders = ", ".join(f"{name}: {g.state}" for name, g in result.graders.items())
    lines.append(f"Graders: {graders}")
    return "\n".join(lines)


@cli.command()
def grade(
    answer: Annotated[str, typer.Argument(help="The answer; '-' reads standard input.")],
    lesson: Annotated[str, typer.Option("--lesson", help="Lesson id.")],
    question: Annotated[str, typer.Option("--question", help="Question id.")],
    as_json: JsonFlag = False,
) -> None:
    """Grade one answer in-process, exactly as the API would."""
    text = sys.stdin.read() if answer == "-" else answer
    settings = Settings()

    async def run() -> GradeResult:
        async with runtime(settings, load_all_lessons(settings)) as state:
            if state.llm is not None:
                await _wait_for_llm(state.llm, settings.llm_health_interval_s * 3)
            return await state.service.grade(lesson, question, text, wait_for_llm=True)

    try:
        result = asyncio.run(run())
    except RubricateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(result.model_dump_json(indent=2) if as_json else _readable(result))


async def _wait_for_llm(llm: object, seconds: float) -> None:
    for _ in range(int(seconds / 0.2)):
        if getattr(llm, "ready", False):
            return
        await asyncio.sleep(0.2)


@cli.command("batch")
def batch(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL: student_id, lesson_id, ...")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Results (.csv or .jsonl).")],
    server: Annotated[str | None, typer.Option(help="A running rubricate server.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML class report.")] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="RUBRICATE_API_KEY", help="Teacher API key for --server.")
    ] = None,
) -> None:
    """Grade a whole class's answers, in-process or through a server, with a progress bar."""
    from app.batch_client import run_local, run_remote

    try:
        if server:
            info = run_remote(server, file, output, report, api_key=api_key)
        else:
            info = run_local(Settings(), file, output, report)
    except (RubricateError, RuntimeError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    p = info.progress
    typer.echo(f"{info.status}: {p.done} graded, {p.failed} failed of {p.total} -> {output}")


@rubrics_cli.command("check")
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
) -> None:
    """Validate rubric files; each problem names the file, the field and the reason."""
    from app.runtime import lesson_dirs

    targets = paths or lesson_dirs(Settings())
    files = [p for p in targets if p.is_file()] + lesson_files(p for p in targets if p.is_dir())
    failed = 0
    for path in files:
        try:
            lesson = load_lesson_file(path)
        except RubricFileError as exc:
            failed += 1
            for field, reason in exc.problems:
                typer.echo(f"{path}: {field}: {reason}", err=True)
            continue
        typer.echo(f"ok  {path} ({lesson.id}, {len(lesson.questions)} questions)")
    if failed or not files:
        typer.echo(f"{failed} of {len(files)} files invalid" if files else "no rubric files found")
        raise typer.Exit(1)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

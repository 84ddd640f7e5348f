"""``rubricate batch``: grade a class file in-process, or through a running server.

Both ways go through the batch manager (locally: a private SQLite file in a temp folder,
so an in-process run never picks up a server's batches), show a progress bar, and write
the results (CSV, or JSON Lines when ``-o`` ends in ``.jsonl``) and optionally the HTML
class report.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import httpx
import typer

from app.batches import open_batches
from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.batch.report_html import render_html
from graders.store.batch_records import FINISHED, BatchInfo
from graders.store.database import sqlite_url


def result_format(out: Path) -> Literal["csv", "jsonl"]:
    return "jsonl" if out.suffix.lower() in (".jsonl", ".ndjson") else "csv"


class _Bar:
    """A typer progress bar fed with absolute positions."""

    def __init__(self, total: int) -> None:
        self.bar: Any = typer.progressbar(length=max(total, 1), label="grading", show_pos=True)
        self.bar.__enter__()
        self.position = 0

    def update(self, info: BatchInfo) -> None:
        now = info.progress.done + info.progress.failed
        if now > self.position:
            self.bar.update(now - self.position)
            self.position = now

    def close(self) -> None:
        self.bar.__exit__(None, None, None)


def run_local(settings: Settings, file: Path, out: Path, report: Path | None) -> BatchInfo:
    async def main() -> BatchInfo:
        with tempfile.TemporaryDirectory(prefix="rubricate-batch-") as tmp:
            url = sqlite_url(Path(tmp) / "batch.db")
            async with (
                runtime(settings, load_all_lessons(settings)) as state,
                open_batches(settings, state.service, url=url) as manager,
            ):
                info, _ = await manager.submit(file, filename=file.name)
                bar = _Bar(info.progress.total)
                try:
                    while info.status not in FINISHED:
                        await asyncio.sleep(0.25)
                        info = await manager.info(info.id)
                        bar.update(info)
                finally:
                    bar.close()
                with out.open("wb") as fh:
                    async for chunk in manager.results(info.id, result_format(out)):
                        fh.write(chunk)
                if report is not None:
                    page = render_html(await manager.report(info.id))
                    await asyncio.to_thread(report.write_text, page, "utf-8")
                return info

    return asyncio.run(main())


def run_remote(
    server: str, file: Path, out: Path, report: Path | None, *, api_key: str | None = None
) -> BatchInfo:
    headers = {"X-API-Key": api_key} if api_key else {}
    with httpx.Client(base_url=server.rstrip("/"), timeout=120, headers=headers) as client:
        with file.open("rb") as fh:
            response = client.post(
                "/v1/batches",
                content=_chunks(fh),
                params={"filename": file.name},
                headers={"content-type": "application/octet-stream"},
            )
        _check(response)
        info = BatchInfo.model_validate(response.json())
        bar = _Bar(info.progress.total)
        try:
            while info.status not in FINISHED:
                time.sleep(0.5)
                response = client.get(f"/v1/batches/{info.id}")
                _check(response)
                info = BatchInfo.model_validate(response.json())
                bar.update(info)
        finally:
            bar.close()
        params = {"format": result_format(out)}
        with client.stream("GET", f"/v1/batches/{info.id}/results", params=params) as stream:
            _check(stream)
            with out.open("wb") as fh:
                for chunk in stream.iter_bytes():
                    fh.write(chunk)
        if report is not None:
            page = client.get(f"/v1/batches/{info.id}/report", params={"format": "html"})
            _check(page)
            report.write_text(page.text, "utf-8")
        return info


def _chunks(fh: Any) -> Any:
    while chunk := fh.read(1 << 16):
        yield chunk


def _check(response: httpx.Response) -> None:
    if response.is_error:
        response.read()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise RuntimeError(f"server answered {response.status_code}: {detail}")

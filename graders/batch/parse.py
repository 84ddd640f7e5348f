"""Streaming parsers for batch uploads: CSV (with a header) or JSON Lines.

The file is read line by line from disk, never whole. Each row comes out as a
:class:`ParsedRow` carrying its 1-based line number (where the record starts); a row that
cannot be read (broken quoting, wrong field count, bad JSON) comes out with ``error`` set
and the rest of the file is still read. A file that is not CSV/JSONL at all, or lacks the
required columns, raises :class:`graders.core.errors.BadBatchFile` naming the line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from graders.core.errors import BadBatchFile

REQUIRED = ("student_id", "lesson_id", "question_id", "answer")
ROW_ID = ("row_id", "id")
MAX_RECORD_LINES = 200
Format = Literal["csv", "jsonl"]


@dataclass
class ParsedRow:
    line: int
    row_id: str | None = None
    student_id: str | None = None
    lesson_id: str | None = None
    question_id: str | None = None
    answer: str | None = None
    error: str | None = None


class _RunawayError(Exception):
    """A CSV record runs on for too many lines: an unterminated quote."""


class _Lines:
    """Decoded lines of a binary file with their line numbers, able to rewind to a line."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.line = 0  # lines handed out so far
        self.offsets: dict[int, int] = {}  # line number -> byte offset, since record start
        self.record_start = 1
        self.guard = False

    def start_record(self) -> None:
        self.record_start = self.line + 1
        self.offsets = {}

    def rewind_to(self, line: int) -> None:
        self.fh.seek(self.offsets[line])
        self.line = line - 1

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        offset = self.fh.tell()
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        self.line += 1
        self.offsets[self.line] = offset
        if self.guard and self.line - self.record_start >= MAX_RECORD_LINES:
            raise _RunawayError
        if b"\x00" in raw:
            raise BadBatchFile(
                self.line, "binary data (NUL bytes); expected CSV or JSON Lines text"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadBatchFile(self.line, f"not UTF-8 text ({exc.reason})") from exc
        if self.line == 1:
            text = text.removeprefix("\ufeff")
        return text


def _clean(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        raise ValueError("must be a string")
    return str(value)


def detect(path: Path) -> Format:
    """JSON Lines when the first non-blank character is ``{``, otherwise CSV."""
    with path.open("rb") as fh:
        lines = _Lines(fh)
        for text in lines:
            stripped = text.strip()
            if stripped:
                return "jsonl" if stripped.startswith("{") else "csv"
    raise BadBatchFile(1, "the file is empty")


def parse(path: Path) -> tuple[Format, Iterator[ParsedRow]]:
    """Detect the format (raising on a file that is neither) and return a row iterator.

    The header (CSV) or first record (JSONL) is checked before this returns, so a refused
    file is refused before anything is stored.
    """
    fmt = detect(path)
    rows = _csv_rows(path) if fmt == "csv" else _jsonl_rows(path)
    first = next(rows, None)
    if first is None:
        raise BadBatchFile(2, "the file has a header but no rows")

    def chain() -> Iterator[ParsedRow]:
        yield first
        yield from rows

    return fmt, chain()


def _csv_rows(path: Path) -> Iterator[ParsedRow]:
    with path.open("rb") as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise BadBatchFile(1, f"unreadable CSV header: {exc}") from exc
        except StopIteration:
            raise BadBatchFile(1, "the file is empty") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise BadBatchFile(
                1,
                f"not a batch CSV: missing required column(s) {', '.join(missing)} "
                f"(need {', '.join(REQUIRED)}; optional row_id)",
            )
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        id_col = next((index[c] for c in ROW_ID if c in index), None)
        lines.guard = True
        while True:
            lines.start_record()
            start = lines.record_start
            try:
                record = next(reader)
            except StopIteration:
                return
            except (csv.Error, _RunawayError) as exc:
                reason = (
                    f"unterminated quoted field (runs past {MAX_RECORD_LINES} lines)"
                    if isinstance(exc, _RunawayError)
                    else str(exc)
                )
                if lines.line > start and start + 1 in lines.offsets:
                    lines.rewind_to(start + 1)  # a runaway quote: read on after its first line
                yield ParsedRow(line=start, error=f"broken CSV quoting: {reason}")
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != len(names):
                yield ParsedRow(
                    line=start, error=f"expected {len(names)} fields, found {len(record)}"
                )
                continue
            yield ParsedRow(
                line=start,
                row_id=record[id_col] if id_col is not None else None,
                student_id=record[index["student_id"]],
                lesson_id=record[index["lesson_id"]].strip(),
                question_id=record[index["question_id"]].strip(),
                answer=record[index["answer"]],
            )


def _jsonl_rows(path: Path) -> Iterator[ParsedRow]:
    with path.open("rb") as fh:
        first = True
        for text in _numbered(fh):
            number, line = text
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                if first:
                    raise BadBatchFile(number, f"not JSON Lines: {exc.msg}") from exc
                yield ParsedRow(line=number, error=f"invalid JSON: {exc.msg}")
                continue
            if not isinstance(obj, dict):
                if first:
                    raise BadBatchFile(number, "not JSON Lines: each line must be an object")
                yield ParsedRow(line=number, error="each line must be a JSON object")
                continue
            missing = [c for c in REQUIRED if c not in obj]
            if missing:
                if first:
                    raise BadBatchFile(
                        number,
                        f"not a batch file: missing required field(s) {', '.join(missing)}",
                    )
                yield ParsedRow(line=number, error=f"missing field(s) {', '.join(missing)}")
                continue
            first = False
            try:
                row_id = next((_clean(obj[c]) for c in ROW_ID if c in obj), None)
                yield ParsedRow(
                    line=number,
                    row_id=row_id,
                    student_id=_clean(obj["student_id"]),
                    lesson_id=(_clean(obj["lesson_id"]) or "").strip(),
                    question_id=(_clean(obj["question_id"]) or "").strip(),
                    answer=_clean(obj["answer"]),
                )
            except ValueError as exc:
                yield ParsedRow(line=number, error=f"fields must be strings: {exc}")


def _numbered(fh: BinaryIO) -> Iterator[tuple[int, str]]:
    lines = _Lines(fh)
    for text in lines:
        yield lines.line, text

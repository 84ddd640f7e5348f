"""Taking a class file in: streaming it to disk within a size limit, the Idempotency-Key
token, and the normal form and hash that identical answers share."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

from graders.core.errors import UploadTooLarge

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_answer(answer: str) -> str:
    """NFC, one space for runs of spaces, lines trimmed, ends stripped; newlines kept
    (they separate list items). This is the text graded, so evidence spans index into it."""
    text = unicodedata.normalize("NFC", answer).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def answer_hash(lesson_id: str, question_id: str, normalised: str) -> str:
    key = "\x1f".join((lesson_id, question_id, normalised))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def save_upload(chunks: AsyncIterator[bytes], folder: Path, limit: int) -> Path:
    """Stream an upload to a temp file, refusing it as soon as it passes ``limit`` bytes."""
    fd, name = await asyncio.to_thread(_temp_file, folder)
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(limit)
            os.write(fd, chunk)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def _temp_file(folder: Path) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix="upload-", suffix=".part", dir=folder)


def idempotency_token(key: str, path: Path) -> str:
    """What is stored for an Idempotency-Key: its hash, then the upload's, so the same key
    sent with another file is told apart from a retry (IETF httpapi idempotency draft)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ":" + digest.hexdigest()[:32]

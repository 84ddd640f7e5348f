"""What a batch looks like from outside: its status and progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

BatchStatus = Literal["queued", "running", "done", "cancelled", "failed"]
FINISHED = ("done", "cancelled", "failed")


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


class Progress(BaseModel):
    total: int
    done: int = Field(description="Rows graded.")
    failed: int = Field(description="Rows that could not be graded (each with a reason).")
    pending: int
    fraction: float


class Refinement(BaseModel):
    """The second phase: the LLM pass over rows graded without it."""

    waiting: int = Field(default=0, description="Rows waiting for (or in) their LLM pass.")
    refined: int = Field(default=0, description="Rows with an LLM-refined revision.")
    failed: int = Field(default=0, description="Rows the LLM could not refine (first grade kept).")
    final: int = Field(default=0, description="Rows needing no LLM pass, or graded by a teacher.")

    @classmethod
    def of(cls, counts: dict[str, int]) -> Refinement:
        return cls(
            waiting=counts.get("pending", 0) + counts.get("running", 0),
            refined=counts.get("done", 0),
            failed=counts.get("failed", 0),
            final=counts.get("none", 0) + counts.get("superseded", 0),
        )


class Redelivery(BaseModel):
    """Work repeated under at-least-once delivery (worker engine; zero in-process)."""

    chunks: int = Field(default=0, description="Chunk jobs of the batch.")
    runs: int = Field(default=0, description="Chunk runs begun (a chunk run twice counts 2).")
    rerun_chunks: int = Field(default=0, description="Chunks run more than once.")
    regraded_rows: int = Field(
        default=0,
        description="Rows graded again by a re-run of their chunk (its earlier run died or "
        "stalled before storing them).",
    )
    duplicate_rows: int = Field(
        default=0,
        description="Rows a run graded whose result another run had already stored; the "
        "later result is discarded, each row keeps exactly one.",
    )


class BatchInfo(BaseModel):
    id: str
    status: BatchStatus
    format: str
    filename: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    rate_per_s: float | None = Field(description="Rows finished per second since (re)start.")
    eta_s: float | None = Field(description="Estimated seconds until the batch finishes.")
    first_result_s: float | None = Field(description="Seconds from upload to first result.")
    unique_answers: int = Field(description="Distinct (lesson, question, answer) graded so far.")
    refinement: Refinement = Field(
        default_factory=Refinement,
        description="Phase two: every row has its grade once ``progress`` is done; rows "
        "graded without the LLM are refined in the background.",
    )
    redelivery: Redelivery = Field(
        default_factory=Redelivery, description="Repeated work, counted (worker engine)."
    )


class BatchRecord(BaseModel):
    """A row of the batches table."""

    id: str
    idempotency_key: str | None
    status: BatchStatus
    format: str
    filename: str | None
    total: int
    done: int
    failed: int
    graded: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    resumed_at: float | None
    resumed_from: int
    first_result_at: float | None

    def info(self, now: float) -> BatchInfo:
        finished = self.done + self.failed
        pending = max(self.total - finished, 0)
        rate: float | None = None
        eta: float | None = None
        if self.status in FINISHED:
            end = self.finished_at or now
            if self.started_at is not None and end > self.started_at:
                rate = finished / (end - self.started_at)
            eta = 0.0
        elif self.resumed_at is not None and now > self.resumed_at:
            rate = (finished - self.resumed_from) / (now - self.resumed_at)
            eta = pending / rate if rate > 0 else None
        return BatchInfo(
            id=self.id,
            status=self.status,
            format=self.format,
            filename=self.filename,
            created_at=_when(self.created_at) or datetime.now(UTC),
            started_at=_when(self.started_at),
            finished_at=_when(self.finished_at),
            progress=Progress(
                total=self.total,
                done=self.done,
                failed=self.failed,
                pending=pending,
                fraction=round(finished / self.total, 4) if self.total else 1.0,
            ),
            rate_per_s=round(rate, 2) if rate is not None else None,
            eta_s=round(eta, 1) if eta is not None else None,
            first_result_s=(
                round(self.first_result_at - self.created_at, 3)
                if self.first_result_at is not None
                else None
            ),
            unique_answers=self.graded,
        )

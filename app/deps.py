"""Typed dependency accessors: routes ask for what they need, the app state stays private."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from app.metrics import Metrics
from app.saturation import GradingSlot, grading_slot
from app.settings import Settings
from graders.core.errors import NotReady
from graders.workflow.grade_book import GradeBook
from graders.workflow.release import Releases
from graders.workflow.teaching import Teaching
from rubrics import Lesson


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _opened(request: Request, name: str) -> Any:
    """A part of the grade store on ``app.state``; NotReady (503) while the store opens."""
    part = getattr(request.app.state, name)
    if part is None:
        raise NotReady("The grade store is still opening; try again shortly.")
    return part


def get_book(request: Request) -> GradeBook:
    book: GradeBook = _opened(request, "grades")
    return book


def get_teaching(request: Request) -> Teaching:
    teaching: Teaching = _opened(request, "teaching")
    return teaching


def get_releases(request: Request) -> Releases:
    releases: Releases = _opened(request, "releases")
    return releases


def get_lessons(request: Request) -> dict[str, Lesson]:
    lessons: dict[str, Lesson] = request.app.state.lessons
    return lessons


def get_slot(request: Request) -> GradingSlot | None:
    """The request's place under load shedding, handed to the engine as its ``Progress``."""
    return grading_slot(request.scope)


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
LessonsDep = Annotated[dict[str, Lesson], Depends(get_lessons)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
BookDep = Annotated[GradeBook, Depends(get_book)]
TeachingDep = Annotated[Teaching, Depends(get_teaching)]
ReleasesDep = Annotated[Releases, Depends(get_releases)]
SlotDep = Annotated[GradingSlot | None, Depends(get_slot)]

"""Typed dependency accessors: routes ask for what they need, the app state stays private."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.metrics import Metrics
from app.runtime import Runtime
from app.saturation import GradingSlot, grading_slot
from app.settings import Settings
from graders.core.errors import NotReady
from graders.service.grading_service import GradingService
from graders.workflow.grade_book import GradeBook
from graders.workflow.release import Releases
from graders.workflow.teaching import Teaching
from rubrics import Lesson


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_runtime(request: Request) -> Runtime:
    state: Runtime | None = request.app.state.runtime
    if state is None:
        raise NotReady("The models are still loading; try again shortly.")
    return state


def get_service(state: Annotated[Runtime, Depends(get_runtime)]) -> GradingService:
    return state.service


def get_book(request: Request) -> GradeBook:
    book: GradeBook | None = request.app.state.grades
    if book is None:
        raise NotReady("The grade store is still opening; try again shortly.")
    return book


def get_teaching(request: Request) -> Teaching:
    teaching: Teaching | None = request.app.state.teaching
    if teaching is None:
        raise NotReady("The grade store is still opening; try again shortly.")
    return teaching


def get_releases(request: Request) -> Releases:
    releases: Releases | None = request.app.state.releases
    if releases is None:
        raise NotReady("The grade store is still opening; try again shortly.")
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
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServiceDep = Annotated[GradingService, Depends(get_service)]
LessonsDep = Annotated[dict[str, Lesson], Depends(get_lessons)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
BookDep = Annotated[GradeBook, Depends(get_book)]
TeachingDep = Annotated[Teaching, Depends(get_teaching)]
ReleasesDep = Annotated[Releases, Depends(get_releases)]
SlotDep = Annotated[GradingSlot | None, Depends(get_slot)]

"""The application factory: ``create_app(settings, backends)`` builds a ready-to-serve app.

Rubrics are loaded and validated here (a broken file stops start-up with its name,
field and reason); models load once in the lifespan and close with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import problems
from app.batches import open_batches
from app.grades import open_grades
from app.limits import BodyLimit
from app.lti.holds import release_holds
from app.metrics import Metrics, MetricsMiddleware
from app.ratelimit import RateLimit
from app.routes import batches as batch_routes
from app.routes import (
    console,
    grade,
    grades,
    health,
    lessons,
    lti,
    lti_admin,
    review,
    teacher,
    widget,
)
from app.runtime import Backends, load_all_lessons, runtime
from app.saturation import Saturation
from app.settings import Settings

log = logging.getLogger(__name__)


# What the lifespan opens, on app.state while it is open (None before and after).
LIVE = ("runtime", "batches", "grades", "refiner", "teaching", "releases", "holds")


def _serve(app: FastAPI, **live: object) -> None:
    """Put the lifespan's open parts on ``app.state``; every one left out is None."""
    assert set(live) <= set(LIVE), f"not a part the lifespan opens: {set(live) - set(LIVE)}"
    for name in LIVE:
        setattr(app.state, name, live.get(name))


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    settings = settings or Settings()
    loaded = load_all_lessons(settings)
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            runtime(settings, loaded, backends) as state,
            open_grades(settings, state.service) as grades_state,
            open_batches(settings, state.service, book=grades_state.book) as batches,
            release_holds(
                app, grades_state.book, grades_state.releases, grades_state.teaching.on_reviewed
            ) as holds,
        ):
            _serve(
                app,
                runtime=state,
                batches=batches,
                grades=grades_state.book,
                refiner=grades_state.refiner,
                teaching=grades_state.teaching,
                releases=grades_state.releases,
                holds=holds,
            )
            log.info("rubricate ready: %d lessons, embedder %s", len(loaded), state.embedder.name)
            yield
        _serve(app)

    app = FastAPI(
        title="rubricate",
        summary="Grades free-text answers against lesson rubrics.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.lessons = loaded
    app.state.metrics = metrics
    _serve(app)
    problems.install(app)
    routers = (grade, grades, review, lessons, health, lti, teacher, widget, console, batch_routes)
    for router in [r.router for r in routers] + [lti_admin.admin]:
        app.include_router(router, responses=problems.PROBLEM_RESPONSES)
    app.add_middleware(
        Saturation,
        limit=settings.max_grading_in_flight,
        metrics=metrics,
        deadline_s=settings.grading_deadline_s,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, exempt=("/v1/batches",))
    app.add_middleware(
        RateLimit,
        per_minute=settings.rate_limit_per_minute,
        key_per_minute=settings.rate_limit_key_per_minute,
        burst=settings.rate_limit_burst,
        redis_url=settings.redis_url,
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # outermost, so refusals (413, 429) carry CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    return app

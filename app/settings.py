"""Service settings from the environment (prefix ``RUBRICATE_``), validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from graders.core.config import GradingConfig
from models.llm_settings import URLList
from models.precision import Precision


class Settings(BaseSettings):
    """Everything configurable; nested grading values use ``RUBRICATE_GRADING__NAME``."""

    model_config = SettingsConfigDict(
        env_prefix="RUBRICATE_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    lesson_dirs: list[Path] = Field(
        default_factory=list, description="Extra folders of lesson YAML files."
    )
    builtin_lessons: bool = True
    cache_dir: Path = Path(".cache/rubricate")
    embedder: str = "minilm"
    embed_threads: int | None = Field(default=None, ge=1, le=64)
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    embed_cache_size: int = Field(
        default=20_000, ge=0, description="Recently embedded answer segments kept in memory."
    )
    reader_enabled: bool = Field(
        default=True,
        description="Read key points and misconceptions with the trained reader (on 2 CPU "
        "cores it costs about 4x the latency of the embedding grade; README, The reader).",
    )
    reader_dir: Path | None = Field(
        default=None,
        description="A reader folder (rubricate reader train); unset: the shipped one.",
    )
    reader_precision: Precision = Field(
        default="auto",
        description="The reader's number format: fp32, bf16, or auto (bf16 where the CPU has "
        "it in hardware: AVX512-BF16 or AMX, about half the time for the same labels; "
        "docs/benchmarks.md). A grade's reader version ends in +bf16 when so.",
    )
    grading: GradingConfig = Field(default_factory=GradingConfig)
    calibration_file: Path | None = Field(
        default=None,
        description="A calibration JSON (rubricate calibrate); applies to every question. "
        "Unset: the shipped one, for inline (reference-answer) questions only.",
    )
    max_body_bytes: int = Field(default=262_144, ge=1024)

    llm_enabled: bool = True
    llm_backend: str = "vllm"
    llm_url: AnyHttpUrl | None = Field(
        default=None, description="A running vLLM server; unset starts the local one if prepared."
    )
    llm_urls: URLList = Field(
        default_factory=list,
        description="Several vLLM replicas (comma-separated or a JSON list; overrides llm_url): "
        "each question goes to a few of them by rendezvous hashing, failing over when one is down.",
    )
    llm_shards_per_question: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Replicas (or vllm-router hash keys) one question's calls are spread over.",
    )
    llm_route_header: str | None = Field(
        default=None,
        description="Send the question's routing key in this header, e.g. X-Session-ID when "
        "llm_url is a vllm-router with --policy consistent_hash.",
    )
    llm_model: str | None = None
    small_llm_weight: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Ensemble weight of the bundled SmolLM2-135M, unless grading.llm_weight is "
        "set: it is there to run the pipeline for real, not for grading quality.",
    )
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(
        default=45.0, gt=0, le=600, description="Longest wait for the LLM per answer."
    )
    llm_max_concurrency: int = Field(default=16, ge=1, le=1024)
    max_grading_in_flight: int = Field(
        default=128,
        ge=0,
        le=100_000,
        description="Grading requests served at once; one more gets 503 with Retry-After at "
        "once (0: no limit).",
    )
    grading_deadline_s: float = Field(
        default=0.5,
        ge=0,
        le=600,
        description="Load shedding below the hard cap: a grading request is admitted only "
        "while (in flight + 1) / measured answers per second fits in this many seconds, with "
        "at least 4 admitted at once; one more gets 503 with Retry-After (0: hard cap only). "
        "A request counts until its embedding grade is done; the LLM wait after it has its "
        "own bounds (llm_budget_s). It bounds the mean; 0.5 keeps p95 under 1 s (bench.load).",
    )
    llm_budget_s: float = Field(
        default=1.0,
        gt=0,
        le=600,
        description="Interactive budget: how long POST /v1/grade, LTI and batch rows let the "
        "LLM take. Admission control skips the LLM (llm: skipped) when it cannot answer in "
        "time; require_llm waits up to llm_timeout_s.",
    )
    refine_in_background: bool = Field(
        default=True,
        description="Grades made without the LLM (skipped for time, or LLM down) get a refined "
        "revision from a background LLM pass when it has capacity.",
    )
    refine_concurrency: int = Field(
        default=2, ge=1, le=1024, description="LLM refinement calls at once (background)."
    )
    refine_pause_above: int = Field(
        default=4,
        ge=0,
        description="The background LLM pass starts nothing new while more than this many "
        "answers are being graded for students (CPU machines share cores; 0: never pause).",
    )
    grade_retention_days: float = Field(
        default=365,
        ge=0,
        description="Stored answers and grades older than this are erased; 0 keeps them.",
    )
    teaching_sync_s: float = Field(
        default=10.0,
        ge=0,
        description="How often a process learns the teachers' reviews (and erasures) stored "
        "by other processes on the same database (0: only its own, and at start-up).",
    )
    llm_retries: int = Field(default=2, ge=0, le=10)
    llm_health_interval_s: float = Field(default=2.0, gt=0, le=300)
    local_vllm: bool = Field(
        default=True,
        description="With no llm_url: start the vLLM prepared by `make vllm` as a child process.",
    )
    vllm_home: Path | None = Field(default=None, description="Default: <repo>/.vllm.")

    # Batch grading (graders/batch/, app/routes/batches.py).
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset is SQLite at cache_dir/rubricate.db."
    )
    db_upgrade: bool = Field(
        default=False,
        description="RUBRICATE_DB_UPGRADE=true: at start-up, upgrade a database made by an "
        "older rubricate to this one's schema. Unset, start-up refuses such a database and "
        "names the command that upgrades it (`rubricate db upgrade`, after a backup). An "
        "empty database is always made at start-up.",
    )
    batch_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    batch_concurrency: int = Field(default=16, ge=1, le=512)
    batch_chunk_size: int = Field(default=256, ge=1, le=10_000)
    batch_engine: Literal["inprocess", "procrastinate"] = Field(
        default="inprocess",
        description="Who grades batches: 'inprocess', a background task in the API process "
        "(SQLite or PostgreSQL, nothing else to run); 'procrastinate', `rubricate worker` "
        "processes fed procrastinate jobs deferred in the upload's transaction (needs a "
        "PostgreSQL database_url; the API only enqueues). With 'procrastinate' the "
        "background LLM pass (refine_in_background) runs on the workers too: a grade stored "
        "pending gets a refinement job in the same transaction.",
    )

    # Access control, rate limits, CORS, LTI (app/auth.py, app/ratelimit.py, app/lti/).
    api_keys: str = Field(
        default="", description="Comma-separated API key hashes from `rubricate keys create`."
    )
    rate_limit_per_minute: int = Field(default=1200, ge=0, description="Per client; 0 is off.")
    rate_limit_key_per_minute: int = Field(default=6000, ge=0, description="Per API key.")
    rate_limit_burst: int = Field(default=300, ge=1)
    redis_url: str | None = Field(
        default=None,
        pattern=r"^(rediss?|unix)://",
        description="Redis shared by several API processes (redis://host:6379/0): rate limits "
        "hold across all of them. Unset: each process limits on its own. Redis down at "
        "request time: requests pass, with a logged warning.",
    )
    cors_origins: str = Field(default="", description="Comma-separated origins for the widget.")
    public_url: str | None = Field(default=None, description="Base URL LMSs reach us at.")
    lti_db_path: Path | None = Field(default=None, description="Default: database_url's SQLite.")
    lti_platforms_file: Path | None = Field(default=None, description="JSON list of platforms.")
    lti_key_path: Path | None = Field(default=None, description="Default: cache_dir/lti-key.pem")
    lti_session_ttl_s: int = Field(default=7200, ge=60)
    lti_retry_base_s: float = Field(default=5.0, gt=0)
    lti_retry_max_s: float = Field(default=3600.0, gt=0)
    lti_worker_interval_s: float = Field(default=2.0, gt=0)
    lti_passback_wait_s: float = Field(
        default=120.0,
        ge=0,
        description="A launch's grade waiting for its LLM pass reaches the LMS once refined, "
        "or after this many seconds as it stands (0: at once).",
    )

"""Service settings from the environment (prefix ``RUBRICATE_``), validated at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from graders.config import GradingConfig


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
    grading: GradingConfig = Field(default_factory=GradingConfig)
    max_body_bytes: int = Field(default=262_144, ge=1024)

    llm_enabled: bool = True
    llm_backend: str = "vllm"
    llm_url: AnyHttpUrl | None = Field(
        default=None, description="A running vLLM server; unset starts the local one if prepared."
    )
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0, le=600)
    llm_max_concurrency: int = Field(default=16, ge=1, le=1024)
    llm_retries: int = Field(default=2, ge=0, le=10)
    llm_health_interval_s: float = Field(default=2.0, gt=0, le=300)
    vllm_home: Path = Path(".vllm")
    vllm_start_timeout_s: float = Field(default=300.0, gt=0)

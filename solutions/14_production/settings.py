# Kata 14 · Production — the configuration, read from PROD_* environment variables.

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service and its server read from the environment, prefixed PROD_."""

    model_config = SettingsConfigDict(env_prefix="PROD_")

    catalog_file: Path  # required: without it the app refuses to start
    warmup_seconds: float = Field(default=0, ge=0)
    stats_file: Path | None = None
    rate_limit: int = Field(default=60, ge=1)
    rate_window_seconds: float = Field(default=60, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)


@lru_cache
def get_settings() -> Settings:
    """The settings, read from the environment once per process (a ValidationError if wrong)."""
    return Settings()  # type: ignore[call-arg]  # pydantic-settings fills the fields

# Kata 12 · Databases — configuration, read from LIBRARY_* environment variables (given).

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIBRARY_")

    # Any SQLAlchemy URL; the tests use a file of their own: sqlite:////tmp/.../library.db
    database_url: str = "sqlite:///library.db"


@lru_cache
def get_settings() -> Settings:
    """The settings, read from the environment the first time they are asked for."""
    return Settings()

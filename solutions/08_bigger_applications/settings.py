"""Configuration from BOOKSHELF_* environment variables (reference solution)."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKSHELF_")

    app_name: str = "Bookshelf"
    api_key: str  # no default: the service refuses to start with a guessable key


@lru_cache
def get_settings() -> Settings:
    # Read the environment once; tests replace this dependency with app.dependency_overrides.
    return Settings()

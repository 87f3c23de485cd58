"""Configuration from BOOKSHELF_* environment variables and a .env file (reference solution)."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # Environment variables win over the .env file in the working directory (if there is one).
    model_config = SettingsConfigDict(env_prefix="BOOKSHELF_", env_file=".env")

    app_name: str = "Bookshelf"
    api_key: str  # no default: the service refuses to start with a guessable key


@lru_cache
def get_settings() -> Settings:
    # Read the environment and .env once; tests replace this with app.dependency_overrides.
    return Settings()

# Kata 14 · Production — the configuration, read from PROD_* environment variables.
# The README's "Settings" table lists every variable, its type and its default.

from functools import lru_cache

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    """TODO (task 1): every PROD_* setting of the README, with its type, bounds and default.

    `catalog_file` has no default: without PROD_CATALOG_FILE the app must refuse to start.
    """


@lru_cache
def get_settings() -> Settings:
    """The settings, read from the environment once per process (a ValidationError if wrong)."""
    return Settings()

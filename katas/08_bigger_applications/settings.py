# Kata 08 — task 4 lives here: configuration from the environment.
# Run `nox -s bigger_applications` to grade.

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    """TODO (task 4): read BOOKSHELF_APP_NAME and BOOKSHELF_API_KEY (an env prefix), from the
    environment and from a .env file, and give api_key no default."""

    app_name: str = "Bookshelf"
    api_key: str = "change-me"


def get_settings() -> Settings:
    """TODO (task 4): build Settings once and return that same object on every call."""
    return Settings()

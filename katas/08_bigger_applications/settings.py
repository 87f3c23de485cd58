# Kata 08 — task 4 lives here: configuration from the environment.
# Run `nox -s bigger_applications` to grade.

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    """TODO (task 4): read BOOKSHELF_APP_NAME and BOOKSHELF_API_KEY (an env prefix),
    and give api_key no default, so a missing key fails at startup."""

    app_name: str = "Bookshelf"
    api_key: str = "change-me"


def get_settings() -> Settings:
    """TODO (task 4): build Settings once and return that same object on every call."""
    return Settings()

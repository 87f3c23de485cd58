# Kata 11 · Capstone — configuration, read from NOTES_* environment variables (given).

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTES_")

    database: str = "notes.db"
    audit_log: str = "audit.log"
    secret_key: str = "dev-only-secret-set-NOTES_SECRET_KEY-in-production"
    access_token_minutes: int = 30
    bcrypt_rounds: int = 12  # the tests set NOTES_BCRYPT_ROUNDS=4: same algorithm, cheaper


@lru_cache
def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]

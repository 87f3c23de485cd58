"""get_db commits in `finally`, so the writes of a request that failed are kept too."""

# Kata 11 · Capstone — SQLite: the schema, and one connection per request.

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Annotated

from fastapi import Depends

from config import SettingsDep

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id       INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    title    TEXT NOT NULL,
    body     TEXT NOT NULL
);
"""


def init_db(path: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)


def get_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    # FastAPI runs a sync dependency and a sync route in worker threads, not always the same one.
    conn = sqlite3.connect(settings.database, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.commit()
        conn.close()


# scope="function": the commit runs as soon as the route returns, before the response is sent.
DbDep = Annotated[sqlite3.Connection, Depends(get_db, scope="function")]

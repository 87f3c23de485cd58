# Kata 11 · Capstone — SQLite: the schema (given), and one connection per request (task 1).

import sqlite3
from collections.abc import Iterator
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
    """TODO (task 1): create the tables of SCHEMA in the SQLite file at `path`."""
    raise NotImplementedError("init_db: TODO (task 1)")


def get_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    """TODO (task 1): a yield dependency: one connection to `settings.database` per request.

    Use the `settings` given (not get_settings()) and sqlite3's default timeout. Rows are
    readable by column name, the connection may be used from another thread, and it is
    committed if the request succeeds, rolled back if it fails, and closed either way.
    """
    raise NotImplementedError("get_db: TODO (task 1)")


# scope="function": the code after `yield` runs as soon as the route returns, before the response.
DbDep = Annotated[sqlite3.Connection, Depends(get_db, scope="function")]

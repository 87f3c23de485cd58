# Kata 03 · Dependency injection — the database file and the data shapes (given, nothing to do).

import sqlite3
from contextlib import closing
from dataclasses import dataclass

from pydantic import BaseModel, Field

SEED_NOTES = [
    ("Buy milk", "home"),
    ("Call the plumber", "home"),
    ("Water the plants", "home"),
    ("Prepare the sprint demo", "work"),
    ("Review pull requests", "work"),
    ("Book the team offsite", "work"),
    ("Read about dependency injection", "learning"),
    ("Practice SQL joins", "learning"),
    ("Renew passport", "errands"),
    ("Return library books", "errands"),
    ("Plan the weekend hike", "ideas"),
    ("Sketch a logo for the blog", "ideas"),
]


def init_db(path: str) -> None:
    """Create the notes table in the SQLite file at `path`, and seed it if it is empty."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS notes"
            " (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, tag TEXT NOT NULL)"
        )
        if conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0:
            conn.executemany("INSERT INTO notes (title, tag) VALUES (?, ?)", SEED_NOTES)


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    tag: str = Field(min_length=1, max_length=30)


class Note(NoteIn):
    id: int


class TagCount(BaseModel):
    tag: str
    count: int


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return: skip `offset` rows, then take at most `limit`."""

    offset: int
    limit: int

# Kata 03 · Dependency injection: a notes API whose settings, SQLite connection, paging,
# request ids and admin guard reach the routes through Depends (notes_db.py is given).
# Fill in each TODO (task N), then grade with `nox -s dependency_injection`. README: the contract.

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from notes_db import Note, NoteIn, Page, TagCount, init_db
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from NOTES_* environment variables; the defaults suit a local run."""

    model_config = SettingsConfigDict(env_prefix="NOTES_")

    app_name: str = "Notes"
    database_path: str = "notes.db"
    api_key: SecretStr = SecretStr("change-me")


def get_settings() -> Settings:
    """TODO (task 1): return the Settings, built once: the same object on every call."""
    raise NotImplementedError("TODO (task 1): get_settings")


SettingsDep = Annotated[Settings, Depends(get_settings)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Resolve the settings the way a route would, so an override also moves the database.
    settings = app.dependency_overrides.get(get_settings, get_settings)()
    init_db(settings.database_path)
    yield


def get_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    """TODO (task 2): open a connection to settings.database_path and yield it. Requests
    overlap, and FastAPI may run this function and the route in different worker threads.

    TODO (task 3): a new connection per request; commit when the request succeeds,
    roll back when it raises (and let the error go on), close it in every case.
    """
    raise NotImplementedError("TODO (task 2): get_db")


# TODO (task 3): the commit must happen before the response is sent, not after.
DbDep = Annotated[sqlite3.Connection, Depends(get_db)]


class NoteRepository:
    """The SQL the routes need, run on this request's connection."""

    def __init__(self, conn) -> None:
        """TODO (task 2): declare `conn` so that FastAPI passes the connection from get_db."""
        self.conn = conn

    def get(self, note_id: int) -> Note | None:
        row = self.conn.execute("SELECT id, title, tag FROM notes WHERE id = ?", (note_id,))
        return next((Note(id=i, title=t, tag=g) for i, t, g in row), None)

    def list_notes(self, page: Page) -> list[Note]:
        sql = "SELECT id, title, tag FROM notes ORDER BY id LIMIT ? OFFSET ?"
        rows = self.conn.execute(sql, (page.limit, page.offset))
        return [Note(id=i, title=t, tag=g) for i, t, g in rows]

    def list_tags(self, page: Page) -> list[TagCount]:
        sql = "SELECT tag, count(*) FROM notes GROUP BY tag ORDER BY tag LIMIT ? OFFSET ?"
        rows = self.conn.execute(sql, (page.limit, page.offset))
        return [TagCount(tag=tag, count=count) for tag, count in rows]

    def add(self, note: NoteIn) -> Note:
        """Insert one note; raises sqlite3.IntegrityError when the title is taken."""
        sql = "INSERT INTO notes (title, tag) VALUES (?, ?)"
        cursor = self.conn.execute(sql, (note.title, note.tag))
        return Note(id=cursor.lastrowid, title=note.title, tag=note.tag)

    def delete(self, note_id: int) -> bool:
        return self.conn.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0

    def stats(self) -> dict[str, int]:
        sql = "SELECT count(*), count(DISTINCT tag) FROM notes"
        notes, tags = self.conn.execute(sql).fetchone()
        return {"notes": notes, "tags": tags}


Notes = Annotated[NoteRepository, Depends()]  # Depends() with no argument: the annotated class


def pagination() -> Page:
    """TODO (task 4): read `offset` (≥ 0, default 0) and `limit` (1–50, default 10)
    from the query string; out of range is a 422 on every route that uses it."""
    return Page(offset=0, limit=10)  # a placeholder that ignores the query string


PageDep = Annotated[Page, Depends(pagination)]


def new_id() -> str:
    """TODO (task 5): return a fresh random id, 32 hex characters (uuid4().hex)."""
    return "not-an-id"  # a placeholder


RequestId = Annotated[str, Depends(new_id)]


def audit_context(request_id: RequestId) -> dict[str, str]:
    """What an audit log line would carry: the id of the request it belongs to."""
    return {"request_id": request_id}


def require_api_key() -> None:
    """TODO (task 6): unless the X-API-Key header equals settings.api_key, answer
    401 {"detail": "Invalid or missing API key"} with the header WWW-Authenticate: APIKey."""


# TODO (task 6): every route of this router must pass require_api_key first.
admin = APIRouter(prefix="/admin", tags=["admin"])

app = FastAPI(title="Notes", lifespan=lifespan)


@app.get("/info")
def info() -> dict[str, str]:
    """TODO (task 1): answer {"app_name": ...} from the injected settings."""
    raise NotImplementedError("TODO (task 1): /info")


@app.get("/notes")
def list_notes(notes: Notes, page: PageDep) -> list[Note]:
    return notes.list_notes(page)


@app.get("/tags")
def list_tags(notes: Notes, page: PageDep) -> list[TagCount]:
    return notes.list_tags(page)


@app.get("/notes/{note_id}")
def read_note(note_id: int, notes: Notes) -> Note:
    note = notes.get(note_id)
    if note is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Note {note_id} not found")
    return note


def add_note(notes: NoteRepository, note: NoteIn) -> Note:
    try:
        return notes.add(note)
    except sqlite3.IntegrityError:
        # Raising is enough when get_db rolls back on errors (task 3).
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"A note titled {note.title!r} already exists"
        ) from None


@app.post("/notes", status_code=status.HTTP_201_CREATED)
def create_note(note: NoteIn, notes: Notes) -> Note:
    return add_note(notes, note)


@app.post("/notes/batch", status_code=status.HTTP_201_CREATED)
def create_notes(batch: list[NoteIn], notes: Notes) -> list[Note]:
    return [add_note(notes, note) for note in batch]


@app.get("/trace")
def trace(
    request_id: RequestId, audit: Annotated[dict[str, str], Depends(audit_context)]
) -> dict[str, str]:
    return {"request_id": request_id, "audit_request_id": audit["request_id"]}


@app.get("/ids")
def two_ids(first: RequestId, second: RequestId) -> dict[str, str]:
    """TODO (task 5): `first` and `second` must be two different ids."""
    return {"first": first, "second": second}


@admin.get("/stats")
def stats(notes: Notes) -> dict[str, int]:
    return notes.stats()


@admin.delete("/notes/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_note(note_id: int, notes: Notes) -> None:
    if not notes.delete(note_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Note {note_id} not found")


app.include_router(admin)

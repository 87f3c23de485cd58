"""/tags declares its own offset and limit instead of the shared dependency: no bounds."""

import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Security, status
from fastapi.security import APIKeyHeader
from notes_db import Note, NoteIn, Page, TagCount, init_db
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# --- configuration (task 1) ----------------------------------------------------------------------


class Settings(BaseSettings):
    """Read from NOTES_* environment variables; the defaults suit a local run."""

    model_config = SettingsConfigDict(env_prefix="NOTES_")

    app_name: str = "Notes"
    database_path: str = "notes.db"
    api_key: SecretStr = SecretStr("change-me")


@lru_cache
def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Resolve the settings the way a route would, so an override also moves the database.
    settings = app.dependency_overrides.get(get_settings, get_settings)()
    init_db(settings.database_path)
    yield


# --- connection, repository (tasks 2, 3) ---------------------------------------------------------


def get_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    # The generator and the route may run in different worker threads: allow that.
    conn = sqlite3.connect(settings.database_path, check_same_thread=False)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


# scope="function": the code after `yield` (the commit) runs before the response is sent.
DbDep = Annotated[sqlite3.Connection, Depends(get_db, scope="function")]


class NoteRepository:
    """The SQL the routes need, run on this request's connection."""

    def __init__(self, conn: DbDep) -> None:
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

# --- pagination (task 4) -------------------------------------------------------------------------


def pagination(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Page:
    return Page(offset=offset, limit=limit)


PageDep = Annotated[Page, Depends(pagination)]

# --- one value per request (task 5) --------------------------------------------------------------


def new_id() -> str:
    return uuid4().hex


RequestId = Annotated[str, Depends(new_id)]  # cached: every use in one request gets one value
FreshId = Annotated[str, Depends(new_id, use_cache=False)]  # called again for each use


def audit_context(request_id: RequestId) -> dict[str, str]:
    """What an audit log line would carry: the id of the request it belongs to."""
    return {"request_id": request_id}


# --- the admin guard (task 6) --------------------------------------------------------------------

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def require_api_key(
    settings: SettingsDep, api_key: Annotated[str | None, Security(api_key_header)]
) -> None:
    expected = settings.api_key.get_secret_value()
    if api_key is None or not secrets.compare_digest(api_key, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid or missing API key",
            headers={"WWW-Authenticate": "APIKey"},
        )


admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_api_key)])

# --- routes --------------------------------------------------------------------------------------

app = FastAPI(title="Notes", lifespan=lifespan)


@app.get("/info")
def info(settings: SettingsDep) -> dict[str, str]:
    return {"app_name": settings.app_name}


@app.get("/notes")
def list_notes(notes: Notes, page: PageDep) -> list[Note]:
    return notes.list_notes(page)


@app.get("/tags")
def list_tags(notes: Notes, offset: int = 0, limit: int = 10) -> list[TagCount]:
    return notes.list_tags(Page(offset=offset, limit=limit))


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
        # Raising is enough: get_db sees the exception and rolls back this request's writes.
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
def two_ids(first: FreshId, second: FreshId) -> dict[str, str]:
    return {"first": first, "second": second}


@admin.get("/stats")
def stats(notes: Notes) -> dict[str, int]:
    return notes.stats()


@admin.delete("/notes/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_note(note_id: int, notes: Notes) -> None:
    if not notes.delete(note_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Note {note_id} not found")


app.include_router(admin)

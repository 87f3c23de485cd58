# Kata 11 · Capstone — notes: each user sees, pages through and deletes only their own.

import json
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, status
from pydantic import BaseModel, Field

from config import SettingsDep
from db import DbDep
from errors import NoteNotFound
from security import CurrentUser

router = APIRouter(prefix="/notes", tags=["notes"])


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(default="", max_length=10_000)


class Note(NoteIn):
    id: int


class NotePage(BaseModel):
    items: list[Note]
    total: int
    limit: int
    offset: int


def write_audit(path: str, user: str, action: str, note_id: int) -> None:
    entry = {"user": user, "action": action, "note_id": note_id}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


@router.post("", status_code=status.HTTP_201_CREATED)
def create_note(
    note: NoteIn,
    user: CurrentUser,
    conn: DbDep,
    settings: SettingsDep,
    background_tasks: BackgroundTasks,
) -> Note:
    cursor = conn.execute(
        "INSERT INTO notes (owner_id, title, body) VALUES (?, ?, ?)",
        (user.id, note.title, note.body),
    )
    note_id = cursor.lastrowid
    background_tasks.add_task(write_audit, settings.audit_log, user.username, "create", note_id)
    return Note(id=note_id, **note.model_dump())


@router.get("")
def list_notes(
    user: CurrentUser,
    conn: DbDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotePage:
    total = conn.execute("SELECT count(*) FROM notes WHERE owner_id = ?", (user.id,)).fetchone()[0]
    rows = conn.execute(
        "SELECT id, title, body FROM notes WHERE owner_id = ? ORDER BY id LIMIT ? OFFSET ?",
        (user.id, limit, offset),
    )
    items = [Note(id=row["id"], title=row["title"], body=row["body"]) for row in rows]
    return NotePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{note_id}")
def read_note(note_id: int, user: CurrentUser, conn: DbDep) -> Note:
    # The owner is part of the query: someone else's note is simply not found.
    row = conn.execute(
        "SELECT id, title, body FROM notes WHERE id = ? AND owner_id = ?", (note_id, user.id)
    ).fetchone()
    if row is None:
        raise NoteNotFound()
    return Note(id=row["id"], title=row["title"], body=row["body"])


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_note(
    note_id: int,
    user: CurrentUser,
    conn: DbDep,
    settings: SettingsDep,
    background_tasks: BackgroundTasks,
) -> None:
    cursor = conn.execute("DELETE FROM notes WHERE id = ? AND owner_id = ?", (note_id, user.id))
    if cursor.rowcount == 0:
        raise NoteNotFound()
    background_tasks.add_task(write_audit, settings.audit_log, user.username, "delete", note_id)

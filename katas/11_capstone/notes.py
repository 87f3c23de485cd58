# Kata 11 · Capstone — notes: yours only (task 4), in pages (task 5), audited (task 6).

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, status
from pydantic import BaseModel

from config import SettingsDep
from db import DbDep
from security import CurrentUser

router = APIRouter(prefix="/notes")  # TODO (task 7): tag these routes "notes"

# TODO (task 8): the routes below are `async def`, and they will call sqlite3, which blocks.
# Decide for each one what it should be declared with.


class NoteIn(BaseModel):
    """TODO (task 4): title 1–100 characters; body at most 10 000 characters, default ""."""

    title: str
    body: str = ""


class Note(NoteIn):
    id: int


class NotePage(BaseModel):
    items: list[Note]
    total: int
    limit: int
    offset: int


def write_audit(path: str, user: str, action: str, note_id: int) -> None:
    """TODO (task 6): append {"user", "action", "note_id"} to the file at `path` as a JSON line."""
    raise NotImplementedError("write_audit: TODO (task 6)")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_note(
    note: NoteIn,
    user: CurrentUser,
    conn: DbDep,
    settings: SettingsDep,
    background_tasks: BackgroundTasks,
) -> Note:
    """TODO (tasks 4, 6): store a note owned by `user`; audit "create" in the background."""
    raise NotImplementedError("create_note: TODO (tasks 4, 6)")


@router.get("")
async def list_notes(
    user: CurrentUser,
    conn: DbDep,
    limit: Annotated[int, Query()] = 10,
    offset: Annotated[int, Query()] = 0,
) -> NotePage:
    """TODO (task 5): a page of the user's own notes by id; limit 1–100, offset ≥ 0."""
    raise NotImplementedError("list_notes: TODO (task 5)")


@router.get("/{note_id}")
async def read_note(note_id: int, user: CurrentUser, conn: DbDep) -> Note:
    """TODO (task 4): the note if `user` owns it, else NoteNotFound (missing or not, alike)."""
    raise NotImplementedError("read_note: TODO (task 4)")


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_note(
    note_id: int,
    user: CurrentUser,
    conn: DbDep,
    settings: SettingsDep,
    background_tasks: BackgroundTasks,
) -> None:
    """TODO (tasks 4, 6): delete the user's note, else NoteNotFound; audit "delete"."""
    raise NotImplementedError("delete_note: TODO (tasks 4, 6)")

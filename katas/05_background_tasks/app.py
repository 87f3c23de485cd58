# Kata 05 · Background tasks: answer the client first, then write the notifications.
# Fill in each TODO (task N), then grade with `nox -s background_tasks`; the README has the contract.
# The plumbing (Settings, connect, init_db, the lifespan, get_db, DELETE /users/{id}) is done for you.

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Request, status
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

WELCOME = "Welcome aboard!"
ADMIN = "admin@example.com"
OPS = "ops@example.com"

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """SIGNUPS_DB and SIGNUPS_LOG_FILE, read from the environment whenever they are needed."""

    model_config = SettingsConfigDict(env_prefix="SIGNUPS_")

    db: Path = Path("signups.db")
    log_file: Path | None = None  # unset: log records go to stderr, Python's default


SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


def connect() -> sqlite3.Connection:
    """A new connection to the store at $SIGNUPS_DB; whoever opens it closes it."""
    # FastAPI may run a sync dependency's setup, the endpoint and the teardown on different
    # worker threads, so the connection must not be pinned to the thread that opened it.
    return sqlite3.connect(Settings().db, check_same_thread=False)


def init_db() -> None:
    with closing(connect()) as conn:
        conn.executescript(SCHEMA)


@contextmanager
def log_records_to(path: Path | None) -> Iterator[None]:
    """While the app runs, send every log record to `path` (the tests read it), if one is set."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db()
    with log_records_to(Settings().log_file):
        yield


def get_db() -> Iterator[sqlite3.Connection]:
    """The request's connection: closed when the dependency's scope ends."""
    conn = connect()
    try:
        yield conn
    finally:
        conn.close()


# TODO (task 6): close the request's connection as soon as the endpoint returns,
# not after the response and its background tasks.
Db = Annotated[sqlite3.Connection, Depends(get_db)]

app = FastAPI(title="Signups", lifespan=lifespan)


class UserIn(BaseModel):
    email: str


class UserOut(BaseModel):
    id: int
    email: str


# TODO (task 1): insert the row on a connection of its own (`connect()`), commit, close.
# TODO (task 5): if the store raises any `sqlite3.Error`, log it at ERROR, naming the recipient.
# TODO (task 6): never take the request's connection as an argument.
def write_notification(recipient: str, message: str) -> None:
    """Store (recipient, message) in the `notifications` table; a failure is logged, not raised."""


# TODO (task 4)
async def audit(request: Request, tasks: BackgroundTasks) -> None:
    """Dependency: add a task that sends OPS the line "<METHOD> <path>", e.g. "POST /users"."""


# TODO (task 4): guard this route with the `audit` dependency.
@app.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(user: UserIn, db: Db, tasks: BackgroundTasks) -> UserOut:
    """Store the user and answer 201 with it; the notifications follow the response.

    TODO (task 1): add a task that sends WELCOME to the new user.
    TODO (task 2): write no notification here yourself: the client gets its answer first.
    TODO (task 3): then add a second task that sends ADMIN "New user: <email>".
    """
    with db:
        cursor = db.execute("INSERT INTO users (email) VALUES (?)", (user.email,))
    return UserOut(id=cursor.lastrowid, email=user.email)


# TODO (task 4): guard this route with the `audit` dependency too.
@app.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: int, db: Db) -> None:
    """Remove the user, if there is one; 204 either way."""
    with db:
        db.execute("DELETE FROM users WHERE id = ?", (user_id,))

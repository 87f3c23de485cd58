# Kata 05 · Background tasks: answer the client first, then write the notifications.
# Reference solution. Grade it with `nox -s grade -- background_tasks --solution`.

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


# scope="function": the connection is closed as soon as the endpoint returns, before the
# response is sent and before any background task runs. (The default, "request", would hold
# it until after the tasks.)
Db = Annotated[sqlite3.Connection, Depends(get_db, scope="function")]

app = FastAPI(title="Signups", lifespan=lifespan)


class UserIn(BaseModel):
    email: str


class UserOut(BaseModel):
    id: int
    email: str


def write_notification(recipient: str, message: str) -> None:
    """Store one notification, on a connection of its own; log a failure instead of raising."""
    try:
        # closing() closes the connection; `conn` as a context manager commits (or rolls back).
        with closing(connect()) as conn, conn:
            conn.execute(
                "INSERT INTO notifications (recipient, message) VALUES (?, ?)",
                (recipient, message),
            )
    except sqlite3.Error:
        # Nobody awaits a background task's result: if we do not log it, nobody hears of it.
        logger.exception("Could not store the notification for %s", recipient)


async def audit(request: Request, tasks: BackgroundTasks) -> None:
    """Tell ops about every call of the routes it guards, once the response is out."""
    tasks.add_task(write_notification, OPS, f"{request.method} {request.url.path}")


@app.post("/users", status_code=status.HTTP_201_CREATED, dependencies=[Depends(audit)])
def create_user(user: UserIn, db: Db, tasks: BackgroundTasks) -> UserOut:
    with db:
        cursor = db.execute("INSERT INTO users (email) VALUES (?)", (user.email,))
    # The same BackgroundTasks object that `audit` received: its task is already queued first.
    tasks.add_task(write_notification, user.email, WELCOME)
    tasks.add_task(write_notification, ADMIN, f"New user: {user.email}")
    return UserOut(id=cursor.lastrowid, email=user.email)


@app.delete(
    "/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(audit)]
)
def delete_user(user_id: int, db: Db) -> None:
    """Remove the user, if there is one; 204 either way."""
    with db:
        db.execute("DELETE FROM users WHERE id = ?", (user_id,))

"""The task lets the store's error escape: the app never logs it and later tasks never run."""

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Request, status
from pydantic import BaseModel

DB_PATH = Path("notifications.db")  # the tests point this at a temporary file
WELCOME = "Welcome aboard!"
ADMIN = "admin@example.com"
OPS = "ops@example.com"

logger = logging.getLogger(__name__)

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
    """A new connection to the store; whoever opens it closes it."""
    # FastAPI may run a sync dependency's setup, the endpoint and the teardown on different
    # worker threads, so the connection must not be pinned to the thread that opened it.
    return sqlite3.connect(DB_PATH, check_same_thread=False)


def init_db() -> None:
    with closing(connect()) as conn:
        conn.executescript(SCHEMA)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db()
    yield


def get_db() -> Iterator[sqlite3.Connection]:
    """The request's connection: FastAPI closes it when the dependency's scope ends."""
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
    with closing(connect()) as conn, conn:
        conn.execute(
            "INSERT INTO notifications (recipient, message) VALUES (?, ?)",
            (recipient, message),
        )


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

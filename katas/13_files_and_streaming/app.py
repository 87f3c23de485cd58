# Kata 13 · Files and streaming: uploads with a size limit, downloads with ranges, a streamed
# CSV export and a feed of server-sent events. Fill in each TODO (task N), then grade with
# `nox -s files_and_streaming`. The README has the contract.

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Receive, Scope, Send


class Settings(BaseSettings):
    """FILES_DIR and FILES_MAX_BYTES, read from the environment on the first request."""

    files_dir: Path = Path("uploads")
    files_max_bytes: int = 10 * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()


SettingsDep = Annotated[Settings, Depends(get_settings)]


class FileInfo(BaseModel):
    """What the app knows about a stored file: the upload's answer, and FILES_DIR/<id>.json."""

    id: str
    filename: str
    title: str
    tags: list[str]
    content_type: str
    size: int
    sha256: str


# The file types we store, and the bytes each one's content starts with.
SIGNATURES = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "application/pdf": b"%PDF-",
}


@dataclass(frozen=True)
class FeedEvent:
    id: int
    name: str
    data: dict[str, Any]


class Feed:
    """Every event since start-up, numbered from 1, and the streams waiting for the next one.

    Given, nothing to do. `publish` may be called from any thread: a plain `def` route runs in
    the thread pool.
    """

    def __init__(self) -> None:
        self.events: list[FeedEvent] = []
        self.listeners = 0  # the event streams open right now
        self._lock = threading.Lock()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def publish(self, name: str, data: dict[str, Any]) -> FeedEvent:
        with self._lock:
            event = FeedEvent(len(self.events) + 1, name, data)
            self.events.append(event)
            waiting, self._waiting = self._waiting, []
        for loop, woken in waiting:
            with contextlib.suppress(RuntimeError):  # that stream's loop has closed
                loop.call_soon_threadsafe(woken.set)
        return event

    def after(self, last_id: int) -> list[FeedEvent]:
        """The events whose id is greater than `last_id`, oldest first."""
        with self._lock:
            return self.events[last_id:]

    async def wait(self, last_id: int) -> None:
        """Return once there is an event whose id is greater than `last_id`."""
        woken = asyncio.Event()
        with self._lock:
            if len(self.events) > last_id:
                return
            self._waiting.append((asyncio.get_running_loop(), woken))
        await woken.wait()


feed = Feed()


class LimitRequestBody:
    """TODO (task 2): refuse a request body over FILES_MAX_BYTES with 413 while it arrives:
    at once when the declared Content-Length is over the limit, and, for a body without one,
    on the chunk that takes the count past it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


app = FastAPI(title="Files and streams")
app.add_middleware(LimitRequestBody)


def check_file_type(file):
    """TODO (task 3): return the declared media type (lower case, no parameters; none counts as
    application/octet-stream) if it is in SIGNATURES and the content starts with its signature;
    answer 415 otherwise. Call it from upload_file before anything is stored."""
    raise NotImplementedError


# TODO (task 1): serve this as POST /files (201): `file` an UploadFile, `title` a form field of
# 1-100 characters, `tags` a repeated form field ([] when absent). Store the bytes as
# FILES_DIR/<id> and the FileInfo as FILES_DIR/<id>.json, the id a fresh uuid4().hex.
# TODO (task 6): once the file is stored, publish a "file-stored" event with the FileInfo.
def upload_file(file, title, tags, settings):
    raise NotImplementedError


# TODO (task 1): serve this as GET /files/{file_id}: the FileInfo from FILES_DIR, or
# 404 {"detail": "File not found"} for any id that is not one the app stored.
def read_file_info(file_id, settings):
    raise NotImplementedError


# TODO (task 4): serve this as GET /files/{file_id}/download: the stored bytes with the stored
# type, the client's filename without its folders in Content-Disposition, byte ranges,
# X-Content-Type-Options: nosniff.
def download_file(file_id, settings):
    raise NotImplementedError


# TODO (task 5): serve this as GET /exports/readings.csv?rows=N (1 to 10 000 000, default
# 1000): a CSV streamed from a generator, at most 1000 rows a chunk, never built whole first.
def export_readings(rows):
    raise NotImplementedError


# TODO (task 6): serve this as GET /events, a text/event-stream: every event after Last-Event-ID
# (all without one), then each new one as it is published; count it in feed.listeners while open.
async def stream_events(last_event_id):
    raise NotImplementedError
    yield


@app.get("/events/status")
def events_status() -> dict[str, int]:
    """Given: the id of the latest event and the number of streams open right now."""
    return {"last_event_id": len(feed.events), "listeners": feed.listeners}
